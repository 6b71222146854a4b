package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"
)

func TestIssueChain(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, err := SelfSigned(rk, Profile{Subject: pkix.Name{CommonName: "root"}, Validity: 10 * 365 * 24 * time.Hour, PathLen: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !root.Cert.IsCA || root.Cert.MaxPathLen != 1 || !root.Cert.NotBefore.Equal(now.Add(-Backdate)) {
		t.Fatalf("root: CA %v pathlen %d notBefore %v", root.Cert.IsCA, root.Cert.MaxPathLen, root.Cert.NotBefore)
	}
	ik, _ := rsa.GenerateKey(rand.Reader, 2048)
	icert, err := root.Issue(&ik.PublicKey, Profile{Subject: pkix.Name{CommonName: "inter"}, Validity: 20 * 365 * 24 * time.Hour,
		IsCA: true, KeyUsage: x509.KeyUsageCertSign}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !icert.NotAfter.Equal(root.Cert.NotAfter) {
		t.Errorf("intermediate outlives the root: %v > %v", icert.NotAfter, root.Cert.NotAfter)
	}
	if !icert.MaxPathLenZero || !bytes.Equal(icert.AuthorityKeyId, root.Cert.SubjectKeyId) {
		t.Error("intermediate: path length or AKI wrong")
	}
	inter := &CA{Cert: icert, Key: ik}
	_, lk, _ := ed25519.GenerateKey(rand.Reader)
	start := now.Add(time.Hour)
	leaf, err := inter.Issue(lk.Public(), Profile{Subject: pkix.Name{CommonName: "leaf"}, Validity: 24 * time.Hour, NotBefore: start,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"central.example"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotBefore.Equal(start) || leaf.SignatureAlgorithm != x509.SHA256WithRSA || leaf.IsCA {
		t.Errorf("leaf: notBefore %v alg %v CA %v", leaf.NotBefore, leaf.SignatureAlgorithm, leaf.IsCA)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(icert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "central.example",
		CurrentTime: now.Add(2 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	if _, err := (&CA{Cert: leaf, Key: ik}).Issue(&ik.PublicKey, Profile{Validity: time.Hour}, now.Add(48*time.Hour)); err == nil {
		t.Error("issuing after the CA ended must fail")
	}
	if _, err := inter.Issue(&ik.PublicKey, Profile{}, now); err == nil {
		t.Error("zero validity accepted")
	}
}

func TestKeyIDAndPEM(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, err := KeyID(k.Public())
	if err != nil || len(a) != 20 {
		t.Fatalf("KeyID: %x %v", a, err)
	}
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if b, _ := KeyID(k2.Public()); bytes.Equal(a, b) {
		t.Error("two keys, one id")
	}
	if _, err := KeyID(struct{}{}); err == nil {
		t.Error("unsupported key accepted")
	}
	ca, err := SelfSigned(k, Profile{Subject: pkix.Name{CommonName: "x"}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertPEM(CertPEM(ca.Cert))
	if err != nil || !c.Equal(ca.Cert) {
		t.Fatalf("PEM round trip: %v", err)
	}
	kp, _ := KeyPEM(k)
	s, err := ParseKeyPEM(kp)
	if err != nil || !SameKey(s.Public(), k.Public()) {
		t.Fatalf("key PEM round trip: %v", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if _, err := ParseCA(ca.Cert.Raw, der); err != nil {
		t.Fatal(err)
	}
	der2, _ := x509.MarshalPKCS8PrivateKey(k2)
	if _, err := ParseCA(ca.Cert.Raw, der2); err == nil {
		t.Error("a CA with someone else's key accepted")
	}
	if _, err := ParseCertPEM([]byte("junk")); err == nil {
		t.Error("junk PEM accepted")
	}
	if Serial().Sign() <= 0 || Serial().BitLen() > 127 {
		t.Error("serial out of range")
	}
}
