package devpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreateIsStable(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	p1, err := LoadOrCreate(dir, "Example Devices", now)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := LoadOrCreate(dir, "Example Devices", now)
	if err != nil {
		t.Fatal(err)
	}
	if !p1.Provider.Cert.Equal(p2.Provider.Cert) || !p1.FTM.Cert.Equal(p2.FTM.Cert) {
		t.Fatal("second load made new CAs")
	}
	if p1.Provider.Cert.Equal(p1.FTM.Cert) {
		t.Fatal("provider and FTM CA are the same")
	}
	fi, err := os.Stat(filepath.Join(dir, ProviderCAKey))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key file mode: %v %v", fi.Mode(), err)
	}
	if k, ok := p1.Provider.Key.Public().(*rsa.PublicKey); !ok || k.N.BitLen() < 2048 {
		t.Fatal("CA key is not RSA-2048")
	}
}

func TestIssueChainsOnlyToItsCA(t *testing.T) {
	now := time.Now()
	p, err := LoadOrCreate(t.TempDir(), "Example Devices", now)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := p.Provider.Issue(k.Public(), Leaf{CommonName: "SN0001", Organization: "Example Devices", Validity: 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.Organization[0] != "Example Devices" || leaf.Version != 3 {
		t.Fatalf("subject %v version %d", leaf.Subject, leaf.Version)
	}
	ok := x509.NewCertPool()
	ok.AddCert(p.Provider.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ok, CurrentTime: now.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("leaf does not chain to provider CA: %v", err)
	}
	ftm := x509.NewCertPool()
	ftm.AddCert(p.FTM.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ftm, CurrentTime: now.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("device leaf chains to the FTM CA")
	}
	if _, err := p.Provider.Issue(k.Public(), Leaf{CommonName: "x"}, now); err == nil {
		t.Fatal("zero validity accepted")
	}
}

func TestEncryptionIsSelfSignedLeaf(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	e, err := LoadOrCreateEncryption(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Cert
	if c.IsCA || c.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Fatalf("IsCA %v, key usage %v", c.IsCA, c.KeyUsage)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if !c.NotBefore.Before(now) || c.NotAfter.Before(now.AddDate(9, 0, 0)) {
		t.Fatalf("validity %v..%v", c.NotBefore, c.NotAfter)
	}
	again, err := LoadOrCreateEncryption(dir, now)
	if err != nil || !again.Cert.Equal(c) {
		t.Fatalf("second load made a new certificate: %v", err)
	}
}
