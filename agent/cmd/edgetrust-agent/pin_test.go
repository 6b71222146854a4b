package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// TestEnrolPinsCentral: enrolment talks to central only over TLS with
// central's root pinned (--central-root-sha256 from token create, or
// --central-ca): a server whose certificate chains to another root is
// refused at the handshake — no request reaches it, no token is sent and
// nothing is saved — while the same server with its own root pinned is
// reached (the control that shows the refusal is the pin's doing).
func TestEnrolPinsCentral(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, `{"error":{"code":"not_found","message":"no such route"}}`, http.StatusNotFound)
	}))
	defer srv.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, err := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "another central's TLS root"}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other-root.pem")
	os.WriteFile(otherFile, pki.CertPEM(other.Cert), 0o644)

	enrol := func(state string, trust ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"enrol", "--dev", "--state", state, "--central", srv.URL, "--token", "ete_not-a-real-token"}, trust...), &out, &errb)
		return code, errb.String()
	}
	for _, c := range []struct {
		name  string
		trust []string
	}{
		{"another root's pin", []string{"--central-root-sha256", tlsx.Fingerprint(other.Cert)}},
		{"another root's file", []string{"--central-ca", otherFile}},
	} {
		state := t.TempDir()
		code, stderr := enrol(state, c.trust...)
		if code == 0 || !strings.Contains(stderr, "pinned root") && !strings.Contains(stderr, "does not verify against central's TLS root") {
			t.Errorf("%s: exit %d, stderr %s", c.name, code, stderr)
		}
		for _, f := range []string{filepath.Join("tls", "central-root.pem"), "central.json"} {
			if _, err := os.Stat(filepath.Join(state, f)); !os.IsNotExist(err) {
				t.Errorf("%s: %s was written", c.name, f)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached a server whose certificate is not central's", n)
	}
	// Control: the server's own certificate pinned is reached (and its 404
	// fails the enrolment).
	if code, stderr := enrol(t.TempDir(), "--central-root-sha256", tlsx.Fingerprint(srv.Certificate())); code == 0 || hits.Load() == 0 {
		t.Fatalf("with the server's own root pinned: exit %d, %d requests, %s", code, hits.Load(), stderr)
	}
}
