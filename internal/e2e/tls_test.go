package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// tool finds an independent client; missing, it skips the test, or fails
// it when EDGETRUST_REQUIRE_TOOLS is set (CI).
func tool(t *testing.T, name string) string {
	t.Helper()
	return testtool.Need(t, "scripts/install-deps.sh", name)
}

// TestTLSKeysAndRPCertificates, real processes: an appliance enrolled
// with central holds its TLS key in the (simulated) TPM — no PEM private
// key anywhere under its state — and serves the certificate for it; a
// relying party with a certificate from `rp cert issue` and its API key
// authenticates with curl and openssl s_client against the appliance
// (--rp-auth cert+key); without a certificate, with a self-made one, and
// once the relying party is revoked it is refused, and no decision is
// logged for the refusals.
func TestTLSKeysAndRPCertificates(t *testing.T) {
	curl, openssl := tool(t, "curl"), tool(t, "openssl")
	root := t.TempDir()
	w := &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), pState: filepath.Join(root, "appliance")}
	applEK := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--show-ek"))
	os.MkdirAll(w.cState, 0o700)
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(applEK+"\n"), 0o644)
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ek-allow", allow}
	w.startCentral()
	centralRoot := filepath.Join(w.cState, "tls", "root.pem")
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"), "EDGETRUST_CENTRAL_ROOT="+centralRoot)
	pin := rootPin(t, w.cState)
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--central", w.centralURL, "--token", atok, "--id", "EDGE-1", "--central-root-sha256", pin)
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	w.run("edgetrust-central", "rp", "add", "--id", "bank", "--name", "Bank", "--auth-type", "demo")
	apiKey := strings.TrimSpace(w.run("edgetrust-central", "rp", "key", "add", "--id", "bank"))

	aport := freePort(t)
	w.applianceURL = fmt.Sprintf("https://127.0.0.1:%d", aport)
	w.applianceArgs = []string{"serve", "--state", w.pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", w.centralURL, "--feed-key", feedKey, "--poll-wait", "2s", "--rp-auth", "cert+key"}
	w.startAppliance()

	// The TLS key is in the TPM: only its blob is on disk, and the served
	// certificate is central's, for that key.
	if _, err := os.Stat(filepath.Join(w.pState, "tpm", "appliance-tls.key")); err != nil {
		t.Fatalf("no TPM blob of the TLS key: %v", err)
	}
	filepath.WalkDir(w.pState, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("PRIVATE KEY-----")) {
				t.Errorf("%s holds a PEM private key", p)
			}
		}
		return nil
	})

	// The relying party: its own key, a CSR, central's certificate.
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := pki.KeyPEM(k)
	keyFile, certFile, csrFile := filepath.Join(dir, "bank.key"), filepath.Join(dir, "bank.pem"), filepath.Join(dir, "bank.csr")
	os.WriteFile(keyFile, kb, 0o600)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank"}}, k)
	os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	w.run("edgetrust-central", "rp", "cert", "issue", "--rp", "bank", "--csr", csrFile, "--out", certFile)
	self, _ := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "bank"}, Validity: 24 * time.Hour}, time.Now())
	selfFile := filepath.Join(dir, "self.pem")
	os.WriteFile(selfFile, pki.CertPEM(self.Cert), 0o644)

	body, _ := json.Marshal(map[string]any{"transactionId": "e2e-tls-1", "individualId": "2345678901234567", "individualIdType": "VID",
		"consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": map[string]string{"fullName": "Nobody"}})
	auth := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "--cacert", centralRoot, "-H", "Content-Type: application/json",
			"-H", "Authorization: Bearer " + apiKey, "--data-binary", string(body), w.applianceURL + "/v1/auth"}, args...)...).CombinedOutput()
		return string(out), err
	}
	// The relying party reaches the appliance on the trust feed.
	var out string
	var err error
	waitFor(t, "the relying party on the appliance's trust feed", 30*time.Second, w.appliance, func() bool {
		out, err = auth("--cert", certFile, "--key", keyFile)
		return err == nil
	})
	if !strings.Contains(out, `"authStatus":false`) || !strings.Contains(out, `"rp":"bank"`) {
		t.Fatalf("curl --cert --key: a signed decision for bank expected:\n%s", out)
	}
	sc := exec.Command(openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", aport), "-CAfile", centralRoot, "-verify_return_error",
		"-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-tls1_3", "-brief", "-ign_eof")
	sc.Stdin = strings.NewReader(fmt.Sprintf("POST /v1/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		apiKey, len(body), body))
	if o, err := sc.CombinedOutput(); err != nil || !strings.Contains(string(o), "TLSv1.3") || !strings.Contains(string(o), `"rp":"bank"`) {
		t.Fatalf("openssl s_client -cert: %v\n%s", err, o)
	}
	if o, err := auth(); err == nil || !strings.Contains(o, "client certificate from central is required") {
		t.Fatalf("without a client certificate: %v\n%s", err, o)
	}
	if o, err := auth("--cert", selfFile, "--key", keyFile); err == nil || strings.Contains(o, "authStatus") {
		t.Fatalf("with a self-made certificate: %v\n%s", err, o)
	}
	w.run("edgetrust-central", "rp", "revoke", "--id", "bank", "--reason", "certificate leaked")
	waitFor(t, "the revocation on the appliance", 30*time.Second, w.appliance, func() bool {
		o, _ := auth("--cert", certFile, "--key", keyFile)
		return strings.Contains(o, "revoked")
	})
	// Two decisions (curl and s_client with the certificate); the refusals made none.
	rsp, err := http.Get(w.applianceURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	var decisions float64
	for _, line := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(line, "edgetrust_appliance_auth_decisions_total{") && strings.Contains(line, `rp="bank"`) {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			decisions += v
		}
	}
	if decisions != 2 {
		t.Fatalf("%v decisions for bank, want 2 (refused requests make none):\n%s", decisions, m)
	}
	if !strings.Contains(string(m), "edgetrust_appliance_tls_cert_expiry_seconds 2.59") {
		t.Errorf("the TLS expiry gauge does not show about 30 days")
	}
}
