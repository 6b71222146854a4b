package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/pki"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// tool finds an independent client (openssl, curl; scripts/install-deps.sh
// installs them). Missing, it skips the test, or fails it when
// EDGETRUST_REQUIRE_TOOLS is set (CI).
func tool(t *testing.T, name string) string {
	t.Helper()
	return testtool.Need(t, "scripts/install-deps.sh", name)
}

// writeKeyPair writes an ECDSA key (PKCS#8 PEM) and returns it.
func writeKeyPair(t *testing.T, path string) *ecdsa.PrivateKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, err := pki.KeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o600)
	return k
}

// TestIndependentClientsMTLS, against a real central: curl --cacert
// --cert --key and openssl s_client -cert -key with a relying party's
// certificate from `rp cert issue` complete the handshake and a request;
// a self-made client certificate is refused at the handshake; an
// appliance-only (mutual TLS) route is refused without the appliance's
// certificate, and with a relying party's.
func TestIndependentClientsMTLS(t *testing.T) {
	curl, openssl := tool(t, "curl"), tool(t, "openssl")
	state := t.TempDir()
	url := startServe(t, state)
	root := filepath.Join(state, tlsca.RootFile)
	admin := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append(args, "--central", url, "--central-root", root, "--admin-token-file", filepath.Join(state, central.AdminTokenFile)), &out, &errb); code != 0 {
			t.Fatalf("%v: %s", args, errb.String())
		}
	}
	admin("rp", "add", "--id", "bank", "--name", "Bank", "--auth-type", "demo")
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "bank.key"), filepath.Join(dir, "bank.pem")
	k := writeKeyPair(t, keyFile)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank"}}, k)
	csr := filepath.Join(dir, "bank.csr")
	os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	admin("rp", "cert", "issue", "--rp", "bank", "--csr", csr, "--out", certFile)

	// A self-made certificate for the same key.
	selfFile := filepath.Join(dir, "self.pem")
	self, _ := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "bank"}, Validity: 24 * time.Hour}, time.Now())
	os.WriteFile(selfFile, pki.CertPEM(self.Cert), 0o644)

	c := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "--cacert", root}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := c("--cert", certFile, "--key", keyFile, url+"/healthz"); err != nil {
		t.Fatalf("curl --cert (central's RP certificate): %v\n%s", err, out)
	}
	if out, err := c("--cert", selfFile, "--key", keyFile, url+"/healthz"); err == nil {
		t.Fatalf("curl with a self-made client certificate got an answer:\n%s", out)
	}
	if out, err := c(url + "/v1/feeds/records.EDGE-1"); err == nil || !strings.Contains(out, "client_certificate_required") {
		t.Fatalf("the records feed without a client certificate: %v\n%s", err, out)
	}
	if out, err := c("--cert", certFile, "--key", keyFile, url+"/v1/feeds/records.EDGE-1"); err == nil || !strings.Contains(out, "wrong_identity") {
		t.Fatalf("the records feed with a relying party's certificate: %v\n%s", err, out)
	}
	addr := strings.TrimPrefix(url, "https://")
	sc := exec.Command(openssl, "s_client", "-connect", addr, "-servername", "localhost", "-CAfile", root, "-verify_return_error",
		"-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-tls1_3", "-brief", "-ign_eof")
	sc.Stdin = strings.NewReader("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	out, err := sc.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TLSv1.3") || !strings.Contains(string(out), "HTTP/1.1 200") {
		t.Fatalf("openssl s_client -cert: %v\n%s", err, out)
	}
}
