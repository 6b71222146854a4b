package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// fakeCentral issues appliance certificates the way central's TLS CA
// does, and records how each request was proven.
type fakeCentral struct {
	ca       *pki.CA
	mu       sync.Mutex
	proofs   []string
	identity string // when set, certify this id instead (a misbehaving central)
}

func (f *fakeCentral) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var q struct {
		ApplianceID string `json:"applianceId"`
		CSR         []byte `json:"csr"`
		Signature   []byte `json:"signature"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || r.URL.Path != certPath {
		http.Error(w, "bad", 400)
		return
	}
	proof := "none"
	if id, _, err := tlsx.PeerIdentity(r.TLS); err == nil {
		proof = "mtls:" + id.String()
	} else if len(q.Signature) > 0 {
		proof = "signature"
	}
	f.mu.Lock()
	f.proofs = append(f.proofs, proof)
	id := q.ApplianceID
	if f.identity != "" {
		id = f.identity
	}
	f.mu.Unlock()
	csr, err := x509.ParseCertificateRequest(q.CSR)
	if err != nil || csr.CheckSignature() != nil {
		http.Error(w, "bad csr", 400)
		return
	}
	c, err := f.ca.Issue(csr.PublicKey, pki.Profile{Subject: pkix.Name{CommonName: id}, Validity: 30 * 24 * time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames: csr.DNSNames, IPs: csr.IPAddresses, URIs: []*url.URL{tlsx.IdentityURI(tlsx.KindAppliance, id)}}, time.Now())
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"chain": string(pki.CertPEM(c)) + string(pki.CertPEM(f.ca.Cert))})
}

// startFakeCentral is central's TLS CA behind an mTLS listener (the
// network boundary to central; central/tlsca has its own tests).
func startFakeCentral(t *testing.T) (*fakeCentral, *httptest.Server, *pki.CA) {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, err := pki.SelfSigned(rk, pki.Profile{Subject: pkix.Name{CommonName: "test TLS root"}, Validity: 365 * 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sc, _ := root.Issue(sk.Public(), pki.Profile{Subject: pkix.Name{CommonName: "central"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, time.Now())
	fc := &fakeCentral{ca: root}
	srv := httptest.NewUnstartedServer(fc)
	srv.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{root.Cert}})
	srv.TLS.Certificates = []tls.Certificate{{Certificate: [][]byte{sc.Raw, root.Cert.Raw}, PrivateKey: sk}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return fc, srv, root
}

// TestApplianceCertificate: the appliance asks with its TPM signing key
// first, saves key (0600) and chain, renews over mutual TLS with the
// certificate it holds, and refuses a certificate for another identity.
func TestApplianceCertificate(t *testing.T) {
	fc, srv, root := startFakeCentral(t)

	state := t.TempDir()
	// Pinned: the first handshake saves central's root for serve.
	trust, err := centralTrust(state, srv.URL, "", tlsx.Fingerprint(root.Cert))
	if err != nil {
		t.Fatal(err)
	}
	trust.OnRoot = saveRootOnce(state)
	hc, err := centralClient(trust, nil, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	tpmKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // stands in for the TPM signing key
	first, err := requestCert(t.Context(), hc, srv.URL, state, "EDGE-1", []string{"edge-1.local", "127.0.0.1"}, tpmKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := tlsx.ReadRoots(filepath.Join(state, centralRootFile)); err != nil || !saved[0].Equal(root.Cert) {
		t.Fatalf("central's root not saved after the pinned handshake: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(state, keyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, fi)
	}
	if first.Leaf.VerifyHostname("edge-1.local") != nil || first.Leaf.VerifyHostname("127.0.0.1") != nil {
		t.Errorf("the CSR's names are missing: %v %v", first.Leaf.DNSNames, first.Leaf.IPAddresses)
	}
	loaded, err := loadCert(state, certFile, keyFile)
	if err != nil || !loaded.Leaf.Equal(first.Leaf) {
		t.Fatalf("saved certificate: %v", err)
	}

	// Renewal: over mutual TLS with the certificate held, no TPM.
	r := &tlsx.Renewer{Name: "appliance", Log: slog.New(slog.DiscardHandler)}
	if err := r.Set(first); err != nil {
		t.Fatal(err)
	}
	saved, _ := tlsx.ReadRoots(filepath.Join(state, centralRootFile))
	mtls, err := centralClient(tlsx.ClientOptions{Roots: saved}, r, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := requestCert(t.Context(), mtls, srv.URL, state, "EDGE-1", []string{"127.0.0.1"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pki.SameKey(first.Leaf.PublicKey, second.Leaf.PublicKey) {
		t.Error("the renewed certificate reuses the old key")
	}
	fc.mu.Lock()
	proofs := strings.Join(fc.proofs, ",")
	fc.mu.Unlock()
	if proofs != "signature,mtls:appliance:EDGE-1" {
		t.Fatalf("proofs %s, want the TPM signature first, then mutual TLS", proofs)
	}

	// A certificate for another appliance is refused, and nothing saved over the good one.
	fc.mu.Lock()
	fc.identity = "EDGE-2"
	fc.mu.Unlock()
	if _, err := requestCert(t.Context(), mtls, srv.URL, state, "EDGE-1", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "not appliance EDGE-1") {
		t.Fatalf("a certificate for EDGE-2 was accepted: %v", err)
	}
	if c, _ := loadCert(state, certFile, keyFile); c == nil || !c.Leaf.Equal(second.Leaf) {
		t.Fatal("the refused certificate replaced the saved one")
	}
	// A wrong pin: refused at the handshake, nothing sent.
	bad, _ := centralTrust(t.TempDir(), srv.URL, "", strings.Repeat("ab", 32))
	bc, _ := centralClient(bad, nil, 10*time.Second, 0)
	fc.mu.Lock()
	n := len(fc.proofs)
	fc.mu.Unlock()
	if _, err := requestCert(t.Context(), bc, srv.URL, t.TempDir(), "EDGE-1", nil, tpmKey, nil); err == nil || !strings.Contains(err.Error(), "pinned root") {
		t.Fatalf("wrong pin: %v", err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.proofs) != n {
		t.Fatal("a request reached central over a connection with a wrong pin")
	}
}

// TestSelfSignedBeforeEnrolment: the self-signed certificate is kept
// across restarts and verifies as its own root for the listen names.
func TestSelfSignedBeforeEnrolment(t *testing.T) {
	state := t.TempDir()
	a, err := selfSigned(t.Context(), state, []string{"localhost", "127.0.0.1"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := selfSigned(t.Context(), state, []string{"localhost", "127.0.0.1"}, time.Now(), nil)
	if err != nil || !a.Leaf.Equal(b.Leaf) {
		t.Fatal("the self-signed certificate changed across restarts")
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.Leaf)
	if _, err := a.Leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: pool}); err != nil {
		t.Fatal(err)
	}
	c, err := selfSigned(t.Context(), state, []string{"localhost"}, time.Now().Add(70*24*time.Hour), nil)
	if err != nil || c.Leaf.Equal(a.Leaf) {
		t.Fatal("a self-signed certificate past 2/3 of its life was kept")
	}
}
