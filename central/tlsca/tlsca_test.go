package tlsca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

type boxSealer struct{ b *keyring.Box }

func (s boxSealer) Seal(p []byte) ([]byte, error) { return s.b.Seal(p) }
func (s boxSealer) Open(p []byte) ([]byte, error) { return s.b.Open(p, 1<<16) }

func sealer(t *testing.T) boxSealer {
	b, err := keyring.NewBox()
	if err != nil {
		t.Fatal(err)
	}
	return boxSealer{b}
}

func TestHierarchy(t *testing.T) {
	dir, s, now := t.TempDir(), sealer(t), time.Now()
	ca, created, err := Open(dir, s, now)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	root, inter := ca.Root(), ca.inter.Cert
	if !root.IsCA || root.MaxPathLen != 1 || root.NotAfter.Sub(root.NotBefore) != RootValidity {
		t.Errorf("root: CA %v pathlen %d life %v", root.IsCA, root.MaxPathLen, root.NotAfter.Sub(root.NotBefore))
	}
	if !inter.IsCA || !inter.MaxPathLenZero || inter.NotAfter.Sub(inter.NotBefore) != IntermediateValidity || inter.CheckSignatureFrom(root) != nil {
		t.Errorf("intermediate: CA %v pathlen0 %v life %v", inter.IsCA, inter.MaxPathLenZero, inter.NotAfter.Sub(inter.NotBefore))
	}
	sans, _ := ParseSANs([]string{"central.example.org", "127.0.0.1"})
	c, err := ca.ServerCert(sans, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificate) != 3 || c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) != ServerValidity {
		t.Errorf("server chain %d, life %v", len(c.Certificate), c.Leaf.NotAfter.Sub(c.Leaf.NotBefore))
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	ip := x509.NewCertPool()
	ip.AddCert(inter)
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "central.example.org", Roots: pool, Intermediates: ip}); err != nil {
		t.Fatal(err)
	}
	if id, err := tlsx.IdentityOf(c.Leaf); err != nil || id != (tlsx.Identity{Kind: tlsx.KindCentral, ID: "c1"}) {
		t.Errorf("identity %v %v", id, err)
	}

	// Reopened with the same keyring: the same root. Another keyring
	// cannot open the keys.
	again, created, err := Open(dir, s, now)
	if err != nil || created || !again.Root().Equal(root) {
		t.Fatalf("reopen: %v created=%v", err, created)
	}
	if _, _, err := Open(dir, sealer(t), now); err == nil {
		t.Fatal("the TLS keys opened with another keyring")
	}
	// A partial hierarchy is refused, not replaced.
	os.Remove(filepath.Join(dir, IntermediateKeyFile))
	if _, _, err := Open(dir, s, now); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("partial hierarchy: %v", err)
	}
}

// TestIntermediateRenews: past 2/3 of its year the intermediate is
// re-issued under the same root, and persisted.
func TestIntermediateRenews(t *testing.T) {
	dir, s, now := t.TempDir(), sealer(t), time.Now()
	ca, _, err := Open(dir, s, now)
	if err != nil {
		t.Fatal(err)
	}
	first := ca.inter.Cert
	if i, _ := ca.Intermediate(now.Add(200 * 24 * time.Hour)); !i.Cert.Equal(first) {
		t.Fatal("renewed before 2/3 of its life")
	}
	later := now.Add(250 * 24 * time.Hour)
	i, err := ca.Intermediate(later)
	if err != nil || i.Cert.Equal(first) || i.Cert.CheckSignatureFrom(ca.Root()) != nil {
		t.Fatalf("not renewed at 250 days: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, IntermediateFile))
	if !bytes.Equal(b, pki.CertPEM(i.Cert)) {
		t.Fatal("the renewed intermediate was not saved")
	}
	sans, _ := ParseSANs([]string{"localhost"})
	c, err := ca.ServerCert(sans, "c1", later)
	if err != nil || c.Leaf.CheckSignatureFrom(i.Cert) != nil {
		t.Fatalf("server certificate not from the new intermediate: %v", err)
	}
}

func TestParseSANs(t *testing.T) {
	if _, err := ParseSANs([]string{"bad name"}); err == nil {
		t.Error("a name with a space was accepted")
	}
	if _, err := ParseSANs(make([]string, MaxSANs+1)); err == nil {
		t.Error("too many names accepted")
	}
	s, err := ParseSANs([]string{"a.example", "10.0.0.1", "::1"})
	if err != nil || len(s.DNS) != 1 || len(s.IPs) != 2 {
		t.Errorf("%+v %v", s, err)
	}
}

func csrFor(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}, DNSNames: []string{"edge-1.local"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestApplianceCert: a CSR is certified for an active appliance that signs
// with its enrolled key, or renews over mutual TLS; refused otherwise.
func TestApplianceCert(t *testing.T) {
	now := time.Now()
	ca, _, err := Open(t.TempDir(), sealer(t), now)
	if err != nil {
		t.Fatal(err)
	}
	// The enrolled signing key (RSA, as the TPM's) and its certificate.
	sk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ac, _ := pki.SelfSigned(sk, pki.Profile{Subject: pkix.Name{CommonName: "appliance CA"}, Validity: 24 * time.Hour}, now)
	status := "active"
	srv := &Server{CA: ca, Appliance: func(_ context.Context, id string) (*ApplianceInfo, error) {
		if id != "EDGE-1" {
			return nil, ErrUnknownAppliance
		}
		return &ApplianceInfo{Status: status, SigningCert: ac.Cert.Raw}, nil
	}, Limit: nil}
	var audited []string
	auditFail := false
	srv.Audit = func(_ context.Context, actor, action, subject string, detail any) error {
		if auditFail {
			return errors.New("store down")
		}
		d := detail.(Issued)
		audited = append(audited, actor+" "+action+" "+subject+" "+d.Proof+" "+d.Serial)
		return nil
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{ca.Root()}})
	sans, _ := ParseSANs([]string{"127.0.0.1"})
	sc, _ := ca.ServerCert(sans, "c1", now)
	ts.TLS.Certificates = []tls.Certificate{*sc}
	ts.StartTLS()
	defer ts.Close()

	post := func(q CertRequest, client *tls.Certificate) (int, CertResponse, string) {
		cfg, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: ca.Fingerprint(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if client == nil {
				return &tls.Certificate{}, nil
			}
			return client, nil
		}})
		b, _ := json.Marshal(q)
		rsp, err := tlsx.HTTPClient(cfg, 10*time.Second, 0).Post(ts.URL+PathApplianceCert, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		var out CertResponse
		var raw json.RawMessage
		json.NewDecoder(rsp.Body).Decode(&raw)
		json.Unmarshal(raw, &out)
		return rsp.StatusCode, out, string(raw)
	}
	tk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := csrFor(t, tk)
	sign := func(k crypto.Signer, id string, csr []byte) []byte {
		h := sha256.Sum256(SignedMessage(id, csr))
		sig, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	// No proof; a wrong key's signature; a signature over another id.
	if code, _, body := post(CertRequest{ApplianceID: "EDGE-1", CSR: csr}, nil); code != http.StatusUnauthorized {
		t.Errorf("no proof: %d %s", code, body)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if code, _, body := post(CertRequest{ApplianceID: "EDGE-1", CSR: csr, Signature: sign(other, "EDGE-1", csr)}, nil); code != http.StatusForbidden || !strings.Contains(body, "bad_signature") {
		t.Errorf("wrong key: %d %s", code, body)
	}
	if code, _, body := post(CertRequest{ApplianceID: "EDGE-2", CSR: csr, Signature: sign(sk, "EDGE-1", csr)}, nil); code != http.StatusForbidden || !strings.Contains(body, "not_enrolled") {
		t.Errorf("unknown appliance: %d %s", code, body)
	}
	// Signed by the enrolled key: issued, for the CSR's key, naming the appliance.
	code, r, body := post(CertRequest{ApplianceID: "EDGE-1", CSR: csr, Signature: sign(sk, "EDGE-1", csr)}, nil)
	if code != http.StatusOK {
		t.Fatalf("signed request: %d %s", code, body)
	}
	chain, err := tlsx.ParseCerts([]byte(r.Chain))
	if err != nil || len(chain) != 3 || !pki.SameKey(chain[0].PublicKey, tk.Public()) || r.RootSHA != ca.Fingerprint() {
		t.Fatalf("chain %d certificates: %v", len(chain), err)
	}
	if id, err := tlsx.IdentityOf(chain[0]); err != nil || id != (tlsx.Identity{Kind: tlsx.KindAppliance, ID: "EDGE-1"}) {
		t.Fatalf("identity %v %v", id, err)
	}
	if want := "appliance:EDGE-1 tls.appliance-cert appliance:EDGE-1 TPM signing key " + chain[0].SerialNumber.Text(16); len(audited) != 1 || audited[0] != want {
		t.Fatalf("audit %q, want [%q] (refusals audit nothing)", audited, want)
	}
	// An issuance that cannot be audited is not handed out.
	auditFail = true
	if code, r, _ := post(CertRequest{ApplianceID: "EDGE-1", CSR: csr, Signature: sign(sk, "EDGE-1", csr)}, nil); code != http.StatusInternalServerError || r.Chain != "" {
		t.Fatalf("unaudited issuance: %d %q", code, r.Chain)
	}
	auditFail = false
	cur := &tls.Certificate{Certificate: [][]byte{chain[0].Raw, chain[1].Raw}, PrivateKey: tk}
	// Renewal over mutual TLS, without a signature.
	nk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if code, _, body := post(CertRequest{ApplianceID: "EDGE-1", CSR: csrFor(t, nk)}, cur); code != http.StatusOK {
		t.Fatalf("mTLS renewal: %d %s", code, body)
	}
	// The certificate of EDGE-1 does not renew another appliance's.
	if code, _, _ := post(CertRequest{ApplianceID: "EDGE-2", CSR: csrFor(t, nk)}, cur); code == http.StatusOK {
		t.Fatal("EDGE-1's certificate got one for EDGE-2")
	}
	// A suspended appliance gets nothing.
	status = "suspended"
	if code, _, body := post(CertRequest{ApplianceID: "EDGE-1", CSR: csrFor(t, nk)}, cur); code != http.StatusForbidden || !strings.Contains(body, "appliance_suspended") {
		t.Fatalf("suspended: %d %s", code, body)
	}
	// Oversize and malformed bodies are refused before any crypto.
	if code, _, _ := post(CertRequest{ApplianceID: "EDGE-1", CSR: make([]byte, MaxCSR+1)}, nil); code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize CSR: %d", code)
	}
	if code, _, _ := post(CertRequest{ApplianceID: "EDGE-1", CSR: []byte("junk")}, nil); code != http.StatusBadRequest {
		t.Errorf("junk CSR: %d", code)
	}
	if len(audited) != 2 || !strings.Contains(audited[1], "client certificate") {
		t.Fatalf("audit after the mTLS renewal: %q", audited)
	}
}
