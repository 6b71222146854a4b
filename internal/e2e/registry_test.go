package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store/storetest"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// verdict is the appliance's answer to POST /v1/captures/verify.
type verdict struct {
	Valid   bool     `json:"valid"`
	Stale   bool     `json:"stale"`
	Reasons []string `json:"reasons"`
	Device  struct {
		Serial, Vendor, Status string
	} `json:"device"`
}

func (v verdict) has(code string) bool {
	for _, r := range v.Reasons {
		if strings.HasPrefix(r, code) {
			return true
		}
	}
	return false
}

type world struct {
	*env
	central, appliance, agent *proc
	centralURL, applianceURL  string
	agentPort                 int
	cState, aState, pState    string
	centralArgs               []string
	applianceArgs             []string
}

// TestTrustRegistryEndToEnd is the trust registry's acceptance test, with
// real processes on loopback: central (badger, then PostgreSQL), an agent on
// swtpm enrolled with a token, an appliance following central's feed.
func TestTrustRegistryEndToEnd(t *testing.T) {
	for _, st := range []string{"badger", "postgres"} {
		t.Run(st, func(t *testing.T) { registryFlow(t, st) })
	}
}

func registryFlow(t *testing.T, storeKind string) {
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &world{env: &env{t: t, vars: []string{
		"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789",
	}}, cState: filepath.Join(root, "central"), aState: filepath.Join(root, "agent"), pState: filepath.Join(root, "appliance")}

	// The agent's TPM must be known to central: its EK fingerprint goes on
	// the allow-list (swtpm has no manufacturer EK certificate).
	ek := strings.TrimSpace(w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState, "--show-ek"))
	applEK := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--show-ek"))
	os.MkdirAll(w.cState, 0o700)
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(strings.Fields(ek)[0]+"\n"+applEK+"\n"), 0o644)

	pin := w.serveCentral(t, storeKind, allow)

	w.run("edgetrust-central", "vendor", "add", "--id", "EDGETRUST.SBI", "--name", "edgetrust")
	tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--vendor", "EDGETRUST.SBI"))
	// A wrong pin is refused before anything is sent.
	if out, err := w.cmd(context.Background(), "edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState,
		"--central", w.centralURL, "--token", tok, "--central-root-sha256", strings.Repeat("0", 64)).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "does not chain to the pinned root") {
		t.Fatalf("enrolment with a wrong pin: %v\n%s", err, out)
	}
	w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState, "--central", w.centralURL, "--token", tok, "--central-root-sha256", pin)
	// A token is single-use.
	if out, err := w.cmd(context.Background(), "edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState,
		"--central", w.centralURL, "--token", tok, "--central-root-sha256", pin).CombinedOutput(); err == nil {
		t.Fatalf("a used enrolment token was accepted again:\n%s", out)
	}

	// The appliance enrols its TPM the same way (simulated here): central
	// certifies its SBI decryption key, and agents encrypt to that key.
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--central", w.centralURL, "--token", atok, "--id", "EDGE-1", "--central-root-sha256", pin)
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	encCert := filepath.Join(root, "appliance.pem")
	encPEM := w.run("edgetrust-appliance", "cert", "--state", w.pState, "--tpm", "sim")
	os.WriteFile(encCert, []byte(encPEM), 0o644)
	caResp, err := http.Get(w.centralURL + "/v1/appliance-ca")
	if err != nil {
		t.Fatal(err)
	}
	caBody, _ := io.ReadAll(caResp.Body)
	caResp.Body.Close()
	applCA, err1 := pemCert(caBody)
	leaf, err2 := pemCert([]byte(encPEM))
	if err1 != nil || err2 != nil || leaf.CheckSignatureFrom(applCA) != nil {
		t.Fatalf("the appliance's encryption certificate does not chain to central's appliance CA: %v %v", err1, err2)
	}
	aport := freePort(t)
	w.applianceURL = fmt.Sprintf("https://127.0.0.1:%d", aport)
	w.applianceArgs = []string{"serve", "--state", w.pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", w.centralURL, "--feed-key", feedKey, "--poll-wait", "2s", "--max-staleness", "8s"}
	w.startAppliance()

	w.agent = w.start("edgetrust-agent", "serve", "--dev", "--tpm", sw.URL, "--state", w.aState, "--encryption-cert", encCert)
	var info struct {
		Port     int
		DeviceCA string `json:"deviceCA"`
	}
	firstJSONLine(t, w.agent, &info)
	w.agentPort = info.Port
	if !strings.Contains(info.DeviceCA, "provider-ca.pem") || strings.Contains(info.DeviceCA, "dev-pki") {
		t.Fatalf("enrolled agent reports dev CAs: %+v", info)
	}
	caPEM, _ := os.ReadFile(info.DeviceCA)
	if blk, _ := pemCert(caPEM); blk == nil || blk.Subject.Organization[0] != "edgetrust" {
		t.Fatalf("the provider CA is not central's for vendor edgetrust")
	}

	const finger, iris = "ETFA000000001", "ETIA000000001"
	// A fresh capture verifies.
	if v := w.captureAndVerify(finger, sbi.TypeFinger); !v.Valid {
		t.Fatalf("fresh capture from an enrolled device: %+v", v)
	}

	// Revoke the device: within 5 s the appliance rejects its captures.
	start := time.Now()
	w.run("edgetrust-central", "device", "revoke", "--serial", finger, "--reason", "e2e")
	w.waitStatus(finger, "revoked", 5*time.Second)
	t.Logf("revoke-to-reject (%s): %v", storeKind, time.Since(start).Round(time.Millisecond))
	if v := w.captureAndVerify(finger, sbi.TypeFinger); v.Valid || !v.has("device-revoked") {
		t.Fatalf("capture from a revoked device: %+v", v)
	}
	if v := w.captureAndVerify(iris, sbi.TypeIris); !v.Valid {
		t.Fatalf("another device of the vendor must stay valid: %+v", v)
	}
	// Revoke the vendor: all its devices are rejected.
	w.run("edgetrust-central", "vendor", "revoke", "--id", "EDGETRUST.SBI", "--reason", "e2e")
	waitFor(t, "vendor revocation reaches the appliance", 5*time.Second, w.appliance, func() bool {
		return !w.captureAndVerify(iris, sbi.TypeIris).Valid
	})
	if v := w.captureAndVerify(iris, sbi.TypeIris); !v.has("vendor-revoked") {
		t.Fatalf("capture under a revoked vendor: %+v", v)
	}
	// Reinstating restores acceptance. Revocation is final by default, so
	// undoing one is explicit and needs a reason.
	if out, err := w.cmd(context.Background(), "edgetrust-central", "vendor", "reinstate", "--id", "EDGETRUST.SBI").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "--undo-revocation") {
		t.Fatalf("a revoked vendor was reinstated without --undo-revocation:\n%s", out)
	}
	w.run("edgetrust-central", "vendor", "reinstate", "--id", "EDGETRUST.SBI", "--undo-revocation", "--reason", "e2e: revoked on purpose")
	w.run("edgetrust-central", "device", "reinstate", "--serial", finger, "--undo-revocation", "--reason", "e2e: revoked on purpose")
	waitFor(t, "reinstatement reaches the appliance", 5*time.Second, w.appliance, func() bool {
		return w.captureAndVerify(finger, sbi.TypeFinger).Valid && w.captureAndVerify(iris, sbi.TypeIris).Valid
	})

	// Revoke-to-reject latency, measured: suspend and reinstate repeatedly,
	// timing from the admin command to the appliance's store.
	var lat []time.Duration
	for i := 0; i < 10; i++ {
		for _, st := range []string{"suspended", "active"} {
			verb := map[string]string{"suspended": "suspend", "active": "reinstate"}[st]
			t0 := time.Now()
			w.run("edgetrust-central", "device", verb, "--serial", iris)
			w.waitStatus(iris, st, 5*time.Second)
			lat = append(lat, time.Since(t0))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("status change to appliance (%s, %d changes, admin CLI process included): p50 %v, p95 %v, max %v", storeKind,
		len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))

	// kill -9 the appliance and restart it: it resumes where it was.
	before := w.status()
	w.appliance.stop(syscall.SIGKILL)
	w.run("edgetrust-central", "device", "suspend", "--serial", finger) // published while it is down
	w.startAppliance()
	w.waitStatus(finger, "suspended", 10*time.Second)
	after := w.status()
	if after.Feed.Size != before.Feed.Size+1 {
		t.Fatalf("after a kill -9 and restart the feed size is %d, want %d (nothing lost or applied twice)", after.Feed.Size, before.Feed.Size+1)
	}
	w.run("edgetrust-central", "device", "reinstate", "--serial", finger)
	w.waitStatus(finger, "active", 5*time.Second)

	// Central down: the appliance answers from its store until the
	// staleness bound, then says stale and rejects.
	w.central.stop(syscall.SIGTERM)
	if v := w.captureAndVerify(finger, sbi.TypeFinger); !v.Valid || v.Stale {
		t.Fatalf("right after central went down: %+v", v)
	}
	waitFor(t, "answers turn stale without central", 20*time.Second, w.appliance, func() bool {
		v := w.captureAndVerify(finger, sbi.TypeFinger)
		return v.Stale && !v.Valid && v.has("trust-stale")
	})
	// Central back: fresh again.
	w.startCentral()
	waitFor(t, "fresh again with central back", 15*time.Second, w.appliance, func() bool {
		v := w.captureAndVerify(finger, sbi.TypeFinger)
		return v.Valid && !v.Stale
	})
}

// serveCentral starts central on a free port with the EK allow-list, on
// badger or (storeKind "postgres") PostgreSQL, points the admin CLI at it
// and returns its TLS root's pin.
func (w *world) serveCentral(t *testing.T, storeKind, allow string) string {
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ek-allow", allow}
	if storeKind == "postgres" {
		w.vars = append(w.vars, "EDGETRUST_CENTRAL_PG_DSN="+storetest.PostgresDSN(t))
		w.centralArgs = append(w.centralArgs, "--store", "postgres")
	}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))
	pin := rootPin(t, w.cState)
	return pin
}

func (w *world) startCentral() {
	w.central = w.start("edgetrust-central", w.centralArgs...)
	trustFile(w.t, filepath.Join(w.cState, "tls", "root.pem"), w.central)
	waitFor(w.t, "central up", 60*time.Second, w.central, func() bool { return httpOK(w.centralURL + "/healthz") })
}

func (w *world) startAppliance() {
	w.appliance = w.start("edgetrust-appliance", w.applianceArgs...)
	trustFile(w.t, filepath.Join(w.pState, "tls", "api-root.pem"), w.appliance)
	waitFor(w.t, "appliance up", 60*time.Second, w.appliance, func() bool { return httpOK(w.applianceURL + "/healthz") })
}

type applianceStatus struct {
	Feed struct {
		Size uint64 `json:"size"`
	} `json:"feed"`
}

func (w *world) status() applianceStatus {
	var s map[string]json.RawMessage
	r, err := http.Get(w.applianceURL + "/v1/status")
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Body.Close()
	json.NewDecoder(r.Body).Decode(&s)
	var out applianceStatus
	for _, k := range []string{"feed", "trust"} {
		if raw, ok := s[k]; ok {
			json.Unmarshal(raw, &out.Feed)
		}
	}
	return out
}

func (w *world) waitStatus(serial, status string, timeout time.Duration) {
	w.t.Helper()
	waitFor(w.t, serial+" "+status+" at the appliance", timeout, w.appliance, func() bool {
		r, err := http.Get(w.applianceURL + "/v1/devices/" + serial)
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var d struct{ Status string }
		json.NewDecoder(r.Body).Decode(&d)
		return d.Status == status
	})
}

func (w *world) captureAndVerify(dev, typ string) verdict {
	w.t.Helper()
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "5000", DomainURI: "https://ida.example.org", TransactionID: fmt.Sprintf("e2e-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: typ, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: dev, DeviceSubID: "0"}}}
	_, raw, err := (&client.Client{}).Capture(context.Background(), w.agentPort, req)
	if err != nil {
		w.t.Fatal(err)
	}
	rb, _ := json.Marshal(req)
	var v verdict
	if code := postJSON(w.t, w.applianceURL+"/v1/captures/verify",
		map[string]any{"transactionId": req.TransactionID, "request": json.RawMessage(rb), "response": json.RawMessage(raw)}, &v); code != 200 {
		w.t.Fatalf("verify: HTTP %d %+v", code, v)
	}
	sort.Strings(v.Reasons)
	return v
}

func pemCert(b []byte) (*x509.Certificate, error) {
	i := strings.Index(string(b), "-----BEGIN CERTIFICATE-----")
	if i < 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return parsePEM(b[i:])
}
