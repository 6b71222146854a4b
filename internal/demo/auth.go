package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// authDemo enrols a synthetic person at central from the agent's
// registration slap and authenticates them at the appliance with a fresh
// capture, by iris and by face (irisface.go), then again with central stopped.
func (c *chain) authDemo(ctx context.Context) error {
	fmt.Println("\nOffline authentication: enrol at central, authenticate at the appliance")
	aState := filepath.Join(c.state, "agent")
	if _, err := c.run(ctx, "edgetrust-central", "rp", "add", "--id", "kiosk", "--name", "Demo kiosk",
		"--auth-type", "bio-Finger", "--auth-type", "bio-Iris", "--auth-type", "bio-Face", "--auth-type", "demo", "--attr", "fullName"); err != nil {
		return err
	}
	key, err := c.run(ctx, "edgetrust-central", "rp", "key", "add", "--id", "kiosk")
	if err != nil {
		return err
	}
	key = strings.TrimSpace(key)
	step("relying party \"kiosk\" registered (fingerprint, iris, face and demographic auth, may receive fullName); API key %s…", key[:12])
	rpHTTP, serial, err := c.rpCertificate(ctx, "kiosk")
	if err != nil {
		return err
	}
	step("the kiosk made its own P-256 key and a CSR; central certified it (rp cert issue, serial %s…): the appliance's default --rp-auth cert+key wants the certificate and the API key", serial[:min(12, len(serial))])

	present := func(person, finger string) error {
		for _, dev := range []string{"ETFR000000001", "ETFA000000001"} {
			if _, err := c.run(ctx, "edgetrust-agent", "present", "--state", aState, "--device", dev, "--present=true",
				"--person", person, "--finger", finger); err != nil {
				return err
			}
		}
		return nil
	}
	if err := present("42", "Left IndexFinger"); err != nil {
		return err
	}
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "4", RequestedScore: "40", DeviceID: "ETFR000000001", DeviceSubID: "1"}}}
	_, raw, err := (&client.Client{App: "edgetrust-demo"}).RCapture(ctx, c.agent.Port, req)
	if err != nil {
		return err
	}
	capFile, demoFile := filepath.Join(c.state, "rcapture.json"), filepath.Join(c.state, "demographics.json")
	os.WriteFile(capFile, raw, 0o600)
	os.WriteFile(demoFile, []byte(`{"fullName":"Asha Rao","dateOfBirth":"1990-04-01","gender":"F"}`), 0o600)
	eyesFace, err := c.irisFaceCaptures(ctx, aState, "42") // issue #18 (irisface.go)
	if err != nil {
		return err
	}
	out, err := c.run(ctx, "edgetrust-central", append([]string{"person", "enrol", "--demographics", demoFile, "--capture", capFile, "--json"}, eyesFace...)...)
	if err != nil {
		return err
	}
	var p struct {
		UIN, VID  string
		Templates []string
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return fmt.Errorf("person enrol: %s", out)
	}
	step("synthetic person 42's left slap, both eyes and face captured (RCAPTURE, signed in the TPM) and enrolled: %d templates (%s), VID %s",
		len(p.Templates), strings.Join(p.Templates, ", "), p.VID)

	auth := func(body map[string]any) (map[string]any, time.Duration, error) {
		b, _ := json.Marshal(body)
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.applURL+"/v1/auth", bytes.NewReader(b))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := rpHTTP.Do(r)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		var a struct {
			Decision map[string]any `json:"decision"`
		}
		if err := json.Unmarshal(rb, &a); err != nil || a.Decision == nil {
			return nil, 0, fmt.Errorf("appliance answered %d: %s", resp.StatusCode, rb)
		}
		return a.Decision, time.Since(t0), nil
	}
	start := time.Now()
	for {
		d, _, err := auth(map[string]any{"transactionId": fmt.Sprintf("demo-%d", time.Now().UnixNano()), "individualId": p.VID,
			"individualIdType": "VID", "consent": true, "requestedAuth": map[string]bool{"demo": true},
			"demographics": map[string]string{"fullName": "asha  RAO"}, "matchMode": "exact"})
		if err != nil {
			return err
		}
		if d["authStatus"] == true {
			break
		}
		if time.Since(start) > 20*time.Second {
			return fmt.Errorf("the record did not reach the appliance in 20 s: %v", d["errors"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	step("the record reached the appliance in %v, sealed to it (and at rest under its TPM); demographic auth (\"asha  RAO\" normalised) succeeds",
		time.Since(start).Round(time.Millisecond))

	bio := func(label string) (map[string]any, time.Duration, error) {
		txn := fmt.Sprintf("demo-%d", time.Now().UnixNano())
		creq := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
			Timeout: "10000", DomainURI: applianceDomain, TransactionID: txn,
			Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: "ETFA000000001", DeviceSubID: "0"}}}
		_, raw, err := (&client.Client{App: "edgetrust-demo"}).Capture(ctx, c.agent.Port, creq)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", label, err)
		}
		return auth(map[string]any{"transactionId": txn, "individualId": p.VID, "individualIdType": "VID", "consent": true,
			"requestedAuth": map[string]bool{"bio": true}, "biometrics": json.RawMessage(raw)})
	}
	d, took, err := bio("fresh capture")
	if err != nil {
		return err
	}
	if d["authStatus"] != true {
		return fmt.Errorf("a fresh capture of the enrolled finger was refused: %v", d["errors"])
	}
	step("fresh CAPTURE of the same finger: authStatus true in %v (capture verified, session key unwrapped by the TPM-sealed key, 1:1 MCC match, decision signed by the TPM-vouched delegate); token ID %v, kyc %v",
		took.Round(time.Millisecond), d["authToken"], d["kyc"])
	if err := c.irisFaceAuth(ctx, p.VID, auth); err != nil { // issue #18 (irisface.go)
		return err
	}
	if err := present("43", "Left IndexFinger"); err != nil {
		return err
	}
	d, _, err = bio("another person")
	if err != nil {
		return err
	}
	if d["authStatus"] == true {
		return errors.New("another person's finger was accepted")
	}
	step("another person's finger for the same VID: refused with %v", d["errors"])

	stopCmd(c.central)
	c.central = nil
	if err := present("42", "Left IndexFinger"); err != nil {
		return err
	}
	d, took, err = bio("offline")
	if err != nil {
		return err
	}
	if d["authStatus"] != true {
		return fmt.Errorf("offline authentication failed: %v", d["errors"])
	}
	step("central stopped: the appliance still authenticates offline (%v); the decision is in its TPM-checkpointed audit log", took.Round(time.Millisecond))
	if c.central, err = c.background(ctx, "edgetrust-central", c.centralArgs...); err != nil {
		return err
	}
	return waitHTTP(c.centralURL+"/healthz", 60*time.Second)
}

// rpCertificate has central certify a CSR for relying party rp, whose key
// never leaves this process (edgetrust-central rp cert issue), and returns
// an HTTP client presenting the certificate (trusting central's root, as
// every request of the demo does) and the certificate's serial.
func (c *chain) rpCertificate(ctx context.Context, rp string) (*http.Client, string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: rp}}, k)
	if err != nil {
		return nil, "", err
	}
	csr, crt := filepath.Join(c.state, rp+".csr"), filepath.Join(c.state, rp+"-cert.pem")
	if err := os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		return nil, "", err
	}
	if _, err := c.run(ctx, "edgetrust-central", "rp", "cert", "issue", "--rp", rp, "--csr", csr, "--out", crt); err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(crt)
	if err != nil {
		return nil, "", err
	}
	var chain [][]byte
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		chain = append(chain, blk.Bytes)
	}
	if len(chain) == 0 {
		return nil, "", fmt.Errorf("rp cert issue wrote no certificate to %s", crt)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, "", err
	}
	roots, err := tlsx.ReadRoots(filepath.Join(c.state, "central", "tls", "root.pem"))
	if err != nil {
		return nil, "", err
	}
	cert := &tls.Certificate{Certificate: chain, PrivateKey: k, Leaf: leaf}
	cfg, err := tlsx.ClientConfig(tlsx.ClientOptions{Roots: roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }})
	if err != nil {
		return nil, "", err
	}
	return &http.Client{Transport: tlsx.Transport(cfg, 60*time.Second)}, fmt.Sprintf("%X", leaf.SerialNumber), nil
}
