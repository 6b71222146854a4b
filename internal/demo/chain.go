package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// chain is the whole system on one machine: central, an enrolled agent, an
// appliance following central, and the CTK's key pair.
type chain struct {
	bin, state          string
	env                 []string
	central, appliance  *exec.Cmd
	centralURL, applURL string
	agent               *agentProc
	ctkKeys, ctkCert    string
	centralArgs         []string
}

const applianceDomain = "https://appliance.example.org"

func (c *chain) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(os.Environ(), c.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (c *chain) background(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(os.Environ(), c.env...)
	log, err := os.Create(filepath.Join(c.state, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, cmd.Start()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// trustCentral waits for central's TLS root and makes every request of
// the demo verify against it (the appliance's certificate is central's
// too); it returns the root's SHA-256 pin.
func trustCentral(cState string, d time.Duration) (string, error) {
	path := filepath.Join(cState, "tls", "root.pem")
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		roots, err := tlsx.ReadRoots(path)
		if err != nil {
			continue
		}
		cfg, err := tlsx.ClientConfig(tlsx.ClientOptions{Roots: roots})
		if err != nil {
			return "", err
		}
		http.DefaultTransport = tlsx.Transport(cfg, 60*time.Second)
		return tlsx.Fingerprint(roots[0]), nil
	}
	return "", fmt.Errorf("central wrote no TLS root (%s) within %v", path, d)
}

func waitHTTP(url string, d time.Duration) error {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer within %v", url, d)
}

func stopCmd(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
	}
}

func (c *chain) stop() {
	if c.agent != nil {
		c.agent.stop()
	}
	stopCmd(c.appliance)
	stopCmd(c.central)
}

func startChain(ctx context.Context, bin, state string) (*chain, error) {
	c := &chain{bin: bin, state: state, env: []string{"EDGETRUST_CENTRAL_PASSPHRASE=demo passphrase, not for production"}}
	cState, aState, pState := filepath.Join(state, "central"), filepath.Join(state, "agent"), filepath.Join(state, "appliance")
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()

	fmt.Println("\nThe trust registry: edgetrust-central, TPM-attested enrolment")
	ek, err := c.run(ctx, "edgetrust-agent", "enrol", "--dev", "--state", aState, "--show-ek")
	if err != nil {
		return nil, err
	}
	applEK, err := c.run(ctx, "edgetrust-appliance", "enrol", "--state", pState, "--tpm", "sim", "--show-ek")
	if err != nil {
		return nil, err
	}
	os.MkdirAll(cState, 0o700)
	allow := filepath.Join(state, "ek-allow.txt")
	if err := os.WriteFile(allow, []byte(strings.Fields(ek)[0]+"\n"+strings.TrimSpace(applEK)+"\n"), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c.centralURL = "https://" + addr
	c.centralArgs = []string{"serve", "--state", cState, "--addr", addr, "--ek-allow", allow, "--attest-interval", "2s"}
	if c.central, err = c.background(ctx, "edgetrust-central", c.centralArgs...); err != nil {
		return nil, err
	}
	pin, err := trustCentral(cState, 60*time.Second)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(c.centralURL+"/healthz", 60*time.Second); err != nil {
		return nil, err
	}
	c.env = append(c.env, "EDGETRUST_CENTRAL_URL="+c.centralURL, "EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(cState, "tls", "root.pem"))
	step("central started over TLS 1.3 (badger store); the agent's and the appliance's simulated TPMs are on the EK allow-list")
	step("central made its TLS root on first start: SHA-256 %s…; every client below pins it", pin[:16])
	if _, err := c.run(ctx, "edgetrust-central", "vendor", "add", "--id", "EDGETRUST.SBI", "--name", "edgetrust"); err != nil {
		return nil, err
	}
	tok, err := c.run(ctx, "edgetrust-central", "token", "create", "--vendor", "EDGETRUST.SBI")
	if err != nil {
		return nil, err
	}
	step("vendor EDGETRUST.SBI registered with a provider CA issued by central; one-use enrolment token minted")
	if _, err := c.run(ctx, "edgetrust-agent", "enrol", "--dev", "--state", aState, "--central", c.centralURL, "--token", strings.TrimSpace(tok),
		"--central-root-sha256", strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "pinned root") {
		return nil, fmt.Errorf("enrolment with a wrong TLS pin was not refused: %v", err)
	}
	step("an enrolment with a wrong --central-root-sha256 is refused at the TLS handshake")
	if _, err := c.run(ctx, "edgetrust-agent", "enrol", "--dev", "--state", aState, "--central", c.centralURL, "--token", strings.TrimSpace(tok),
		"--central-root-sha256", pin); err != nil {
		return nil, err
	}
	step("agent enrolled: EK checked, AK bound by MakeCredential/ActivateCredential, TPM2_Certify proofs for 12 keys, certificates issued")
	if _, err := c.run(ctx, "edgetrust-agent", "enrol", "--dev", "--state", aState, "--central", c.centralURL, "--token", strings.TrimSpace(tok),
		"--central-root-sha256", pin); err == nil {
		return nil, errors.New("a used enrolment token was accepted again")
	}
	step("the same token used again is refused")

	feedKey := filepath.Join(state, "feed-key.pem")
	fk, err := c.run(ctx, "edgetrust-central", "feed-key", "--state", cState)
	if err != nil {
		return nil, err
	}
	os.WriteFile(feedKey, []byte(fk), 0o644)
	atok, err := c.run(ctx, "edgetrust-central", "token", "create", "--appliance", "EDGE-1")
	if err != nil {
		return nil, err
	}
	if _, err := c.run(ctx, "edgetrust-appliance", "enrol", "--state", pState, "--tpm", "sim", "--central", c.centralURL,
		"--token", strings.TrimSpace(atok), "--id", "EDGE-1", "--central-root-sha256", pin); err != nil {
		return nil, err
	}
	step("appliance EDGE-1 enrolled the same way: central certified its decryption key (a software key its TPM seals and its TPM signing key vouches for: decision 0017), and its TLS CA the appliance's certificate (mutual TLS)")
	applCert := filepath.Join(state, "appliance.pem")
	ac, err := c.run(ctx, "edgetrust-appliance", "cert", "--state", pState, "--tpm", "sim")
	if err != nil {
		return nil, err
	}
	os.WriteFile(applCert, []byte(ac), 0o644)
	paddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c.applURL = "https://" + paddr
	if c.appliance, err = c.background(ctx, "edgetrust-appliance", "serve", "--state", pState, "--tpm", "sim", "--listen", paddr,
		"--central", c.centralURL, "--feed-key", feedKey, "--poll-wait", "5s"); err != nil {
		return nil, err
	}
	if err := waitHTTP(c.applURL+"/healthz", 60*time.Second); err != nil {
		return nil, err
	}
	step("appliance started: follows central's signed trust feed; its certificate goes to the agent for encryption")

	// The compliance tool kit plays the auth server for every other
	// domainUri, so both it and this demo can decrypt those captures.
	c.ctkKeys = filepath.Join(state, "ctk")
	certOut, err := exec.CommandContext(ctx, filepath.Join(bin, "edgetrust-ctk"), "cert", "--key-dir", c.ctkKeys).Output()
	if err != nil {
		return nil, fmt.Errorf("edgetrust-ctk cert: %w", err)
	}
	c.ctkCert = filepath.Join(state, "auth-server.pem")
	if err := os.WriteFile(c.ctkCert, certOut, 0o644); err != nil {
		return nil, err
	}
	fmt.Println("\nThe device side: edgetrust-agent serve")
	if c.agent, err = startAgent(ctx, bin, aState, "--encryption-cert", applianceDomain+"="+applCert, "--encryption-cert", c.ctkCert, "--attest-poll", "2s"); err != nil {
		return nil, err
	}
	step("agent serving its 6 enrolled devices on central's certificates; keys in the TPM")
	ok = true
	return c, nil
}

// verifyAtAppliance captures from the agent for the appliance's domainUri
// and asks the appliance to verify it.
func (c *chain) verifyAtAppliance(ctx context.Context, dev string) (valid bool, reasons []string, err error) {
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", DomainURI: applianceDomain, TransactionID: fmt.Sprintf("demo-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: dev, DeviceSubID: "0"}}}
	_, raw, err := (&client.Client{App: "edgetrust-demo"}).Capture(ctx, c.agent.Port, req)
	if err != nil {
		return false, nil, err
	}
	rb, _ := json.Marshal(req)
	body, _ := json.Marshal(map[string]any{"transactionId": req.TransactionID, "request": json.RawMessage(rb), "response": json.RawMessage(raw)})
	r, err := http.Post(c.applURL+"/v1/captures/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, nil, err
	}
	defer r.Body.Close()
	var v struct {
		Valid   bool
		Reasons []string
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		return false, nil, fmt.Errorf("appliance answered %d: %s", r.StatusCode, b)
	}
	return v.Valid, v.Reasons, nil
}

func (c *chain) registryDemo(ctx context.Context) error {
	fmt.Println("\nTrust at the edge: the appliance verifies captures against central's feed")
	const dev = "ETFA000000001"
	valid, reasons, err := c.verifyAtAppliance(ctx, dev)
	if err != nil {
		return err
	}
	if !valid {
		return fmt.Errorf("a fresh capture from an enrolled device was refused: %v", reasons)
	}
	step("capture from %s (encrypted to the appliance's certified key) verifies: chain to the vendor CA, device active, hash chain", dev)
	start := time.Now()
	if _, err := c.run(ctx, "edgetrust-central", "device", "revoke", "--serial", dev, "--reason", "demo: device reported stolen"); err != nil {
		return err
	}
	for {
		valid, reasons, err = c.verifyAtAppliance(ctx, dev)
		if err != nil {
			return err
		}
		if !valid || time.Since(start) > 10*time.Second {
			break
		}
	}
	if valid {
		return errors.New("the appliance still accepts the revoked device after 10 s")
	}
	step("admin revoked %s; %v later the appliance rejects its new capture: %s", dev, time.Since(start).Round(time.Millisecond), strings.Join(reasons, "; "))
	if _, err := c.run(ctx, "edgetrust-central", "device", "reinstate", "--serial", dev, "--undo-revocation", "--reason", "demo: device found"); err != nil {
		return err
	}
	for start = time.Now(); time.Since(start) < 10*time.Second; {
		if valid, _, err = c.verifyAtAppliance(ctx, dev); err != nil || valid {
			break
		}
	}
	if !valid {
		return fmt.Errorf("reinstated device still refused: %v", err)
	}
	step("revocation undone explicitly (--undo-revocation, audited): its captures verify again")
	return nil
}

func (c *chain) claim169Demo(ctx context.Context) error {
	fmt.Println("\nIdentity QR (MOSIP Claim 169): issued by central, verified offline")
	cState := filepath.Join(c.state, "central")
	if _, err := c.run(ctx, "edgetrust-central", "issuer", "init", "--state", cState, "--issuer", "https://id.example.org"); err != nil {
		return err
	}
	person := filepath.Join(c.state, "person.json")
	os.WriteFile(person, []byte(`{"claim169":{"id":"3918592438","fullName":"Janardhan BS","dateOfBirth":"19840401","gender":1,"email":"janardhan@example.org","nationality":"IN"}}`), 0o644)
	out, err := filepath.Abs(filepath.Join("demo-out", "qr"))
	if err != nil {
		return err
	}
	os.RemoveAll(out)
	if _, err := c.run(ctx, "edgetrust-central", "credential", "issue", "--state", cState, "--in", person, "--out", out, "--png"); err != nil {
		return err
	}
	png := filepath.Join(out, "000001-3918592438.png")
	text, _ := os.ReadFile(strings.TrimSuffix(png, ".png") + ".txt")
	step("credential signed (Ed25519, COSE_Sign1, CWT, zlib, Base45: %d characters); QR written to %s", len(strings.TrimSpace(string(text))), png)
	lists := filepath.Join(c.state, "lists")
	if _, err := c.run(ctx, "edgetrust-central", "trust", "export", "--state", cState, "--out", lists); err != nil {
		return err
	}
	step("trust list and revocation list exported, signed with central's feed key")
	res, err := c.run(ctx, "edgetrust-appliance", "verify-qr", "--image", png, "--trust", filepath.Join(lists, "trust-list.json"),
		"--revocations", filepath.Join(lists, "revocation-list.json"), "--list-key", filepath.Join(c.state, "feed-key.pem"), "--json")
	if err != nil {
		return err
	}
	var a struct {
		Valid      bool
		Credential struct {
			Claim169 struct{ FullName, ID string }
		}
	}
	json.Unmarshal([]byte(res), &a)
	if !a.Valid {
		return fmt.Errorf("verify-qr did not accept the issued QR: %s", res)
	}
	step("the PNG decoded from pixels and verified offline: %s (id %s), signature, times and revocation checked",
		a.Credential.Claim169.FullName, a.Credential.Claim169.ID)
	return nil
}
