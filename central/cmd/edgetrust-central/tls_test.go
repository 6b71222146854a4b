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
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// syncBuf is a bytes.Buffer safe to read while serve writes to it.
type syncBuf struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newBuf() *syncBuf { return &syncBuf{mu: make(chan struct{}, 1)} }
func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}
func (s *syncBuf) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// startServe runs serve in-process until the test ends; it returns
// central's URL.
func startServe(t *testing.T, state string, extra ...string) string {
	url, _ := startServeStop(t, state, extra...)
	return url
}

func startServeStop(t *testing.T, state string, extra ...string) (string, func()) {
	t.Helper()
	t.Setenv("EDGETRUST_CENTRAL_PASSPHRASE", "a long enough passphrase")
	os.Remove(filepath.Join(state, "central.url"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out, errb := newBuf(), newBuf()
	go func() {
		done <- serve(ctx, append([]string{"--state", state, "--addr", "127.0.0.1:0", "--log-level", "error"}, extra...), out, errb)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(state, "central.url")); err == nil {
			return strings.TrimSpace(string(b)), stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("central did not start:\n%s", errb.String())
	return "", nil
}

func selfSignedClient(t *testing.T) *tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "mallory"}, Validity: 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := ca.Issue(lk.Public(), pki.Profile{Subject: pkix.Name{CommonName: "EDGE-1"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{tlsx.IdentityURI(tlsx.KindAppliance, "EDGE-1")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{c.Raw, ca.Cert.Raw}, PrivateKey: lk}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	t.Setenv("EDGETRUST_CENTRAL_PASSPHRASE", "a long enough passphrase")
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:8443"} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--state", t.TempDir(), "--addr", addr, "--insecure-http-loopback"}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "--insecure-http-loopback allows only a loopback address") ||
			!strings.Contains(errb.String(), "serve TLS on other addresses") {
			t.Errorf("%s: exit %d, stderr %q", addr, code, errb.String())
		}
	}
}

func TestServeTLSByDefault(t *testing.T) {
	state := t.TempDir()
	url := startServe(t, state)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("central.url %q, want https", url)
	}
	addr := strings.TrimPrefix(url, "https://")
	roots, err := tlsx.ReadRoots(filepath.Join(state, tlsca.RootFile))
	if err != nil {
		t.Fatal(err)
	}
	pin := tlsx.Fingerprint(roots[0])

	// The keys are sealed at rest, 0600; the certificates public.
	for _, f := range []string{tlsca.RootKeyFile, tlsca.IntermediateKeyFile} {
		b, err := os.ReadFile(filepath.Join(state, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("PRIVATE KEY")) || !bytes.HasPrefix(b, []byte("age-encryption.org/v1")) {
			t.Errorf("%s is not an age file", f)
		}
		if fi, _ := os.Stat(filepath.Join(state, f)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", f, fi.Mode().Perm())
		}
	}

	// A pinned client completes a TLS 1.3 handshake and a request.
	cfg, err := tlsx.ClientConfig(tlsx.ClientOptions{Pin: pin})
	if err != nil {
		t.Fatal(err)
	}
	hc := tlsx.HTTPClient(cfg, 10*time.Second, 0)
	rsp, err := hc.Get(url + tlsca.PathRoot)
	if err != nil {
		t.Fatal(err)
	}
	var rr tlsca.RootResponse
	json.NewDecoder(rsp.Body).Decode(&rr)
	rsp.Body.Close()
	if rr.SHA256 != pin || rsp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("GET /v1/tls/root: sha256 %q (want %s), TLS version %x", rr.SHA256, pin, rsp.TLS.Version)
	}
	leaf := rsp.TLS.PeerCertificates[0]
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > tlsca.ServerValidity+time.Hour {
		t.Errorf("server certificate lives %v", life)
	}
	for _, want := range []string{"localhost"} {
		if leaf.VerifyHostname(want) != nil {
			t.Errorf("server certificate does not name %s: %v %v", want, leaf.DNSNames, leaf.IPAddresses)
		}
	}
	if leaf.VerifyHostname("127.0.0.1") != nil {
		t.Errorf("server certificate does not name 127.0.0.1")
	}

	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	dial := func(c *tls.Config) error {
		c.RootCAs, c.ServerName = pool, "localhost"
		conn, err := tls.Dial("tcp", addr, c)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(&tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		t.Fatalf("TLS 1.3: %v", err)
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Error("a TLS 1.2 handshake succeeded without --tls12")
	}
	if err := dial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}

	// A wrong pin fails with an error that says what to check.
	bad, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: strings.Repeat("ab", 32)})
	_, err = tlsx.HTTPClient(bad, 10*time.Second, 0).Get(url + "/healthz")
	var pe *tlsx.PinError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "--central-root-sha256") {
		t.Fatalf("wrong pin: %v", err)
	}

	// A client certificate not from central's CA fails the handshake.
	self := selfSignedClient(t)
	cc, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: pin, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return self, nil }})
	if _, err := tlsx.HTTPClient(cc, 10*time.Second, 0).Get(url + "/healthz"); err == nil {
		t.Error("a self-made client certificate was accepted")
	}
	// An appliance-only route needs the appliance's certificate.
	rsp, err = hc.Get(url + "/v1/feeds/records.EDGE-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "client_certificate_required") {
		t.Errorf("records feed without a client certificate: %d %s", rsp.StatusCode, body)
	}

	// The expiry metric: about 30 days for the server certificate.
	rsp, err = hc.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	if !strings.Contains(string(metrics), `edgetrust_central_tls_cert_expiry_seconds{cert="server"} 2.59`) ||
		!strings.Contains(string(metrics), `edgetrust_central_tls_cert_expiry_seconds{cert="root"}`) {
		t.Errorf("no expiry metric:\n%s", grepLines(string(metrics), "tls_cert_expiry"))
	}

	// tls root prints the same root and fingerprint.
	var out, errb bytes.Buffer
	if code := run([]string{"tls", "root", "--state", state}, &out, &errb); code != 0 {
		t.Fatalf("tls root: %d %s", code, errb.String())
	}
	if c, err := tlsx.ParseCerts(out.Bytes()); err != nil || tlsx.Fingerprint(c[0]) != pin || !strings.Contains(errb.String(), "SHA-256 "+pin) {
		t.Fatalf("tls root printed %q / %q", out.String(), errb.String())
	}
}

func TestServeTLS12Flag(t *testing.T) {
	state := t.TempDir()
	url := startServe(t, state, "--tls12", "--tls-san", "central.test", "--tls-san", "127.0.0.1")
	roots, _ := tlsx.ReadRoots(filepath.Join(state, tlsca.RootFile))
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	dial := func(c *tls.Config) (*tls.Conn, error) {
		c.RootCAs, c.ServerName = pool, "central.test"
		return tls.Dial("tcp", strings.TrimPrefix(url, "https://"), c)
	}
	conn, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 with --tls12: %v", err)
	}
	if st := conn.ConnectionState(); st.Version != tls.VersionTLS12 || !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "GCM") && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "CHACHA20") {
		t.Errorf("TLS 1.2 negotiated %s", tls.CipherSuiteName(st.CipherSuite))
	}
	if leaf := conn.ConnectionState().PeerCertificates[0]; leaf.VerifyHostname("localhost") == nil {
		t.Error("--tls-san did not replace the default names")
	}
	conn.Close()
	if _, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Error("a TLS 1.2 CBC suite was accepted")
	}
}

// TestServeKeepsRoot: a restart loads the same root (clients pinned it).
func TestServeKeepsRoot(t *testing.T) {
	state := t.TempDir()
	_, stop := startServeStop(t, state)
	a, _ := os.ReadFile(filepath.Join(state, tlsca.RootFile))
	stop()
	startServe(t, state)
	b, _ := os.ReadFile(filepath.Join(state, tlsca.RootFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the TLS root changed across a restart")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
