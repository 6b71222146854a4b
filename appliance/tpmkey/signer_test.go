package tpmkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecisionSigner(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	k, err := Open(ctx, "sim", dir, "edge-9", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if id, err := ReadID(dir); err != nil || id != "" {
		t.Fatalf("id before enrolment: %q %v", id, err)
	}
	s, err := k.DecisionSigner(ctx, dir, "edge-9", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !s.SelfIssued || len(s.Chain) != 1 {
		t.Fatalf("before enrolment: %+v", s)
	}
	d := sha256.Sum256([]byte("decision"))
	sig, err := s.Key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(s.Chain[0].PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("RS256 with the certified key: %v", err)
	}
	again, err := k.DecisionSigner(ctx, dir, "edge-9", time.Now())
	if err != nil || !again.Chain[0].Equal(s.Chain[0]) {
		t.Fatalf("the self-issued certificate changed across calls: %v", err)
	}

	// After enrolment: central's certificate of the same key, with its CA.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "appliance CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(pub crypto.PublicKey) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "EDGE-9 signing"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	os.WriteFile(filepath.Join(dir, CentralCAFile), PEM(ca), 0o644)
	os.WriteFile(filepath.Join(dir, SigningCertFile), PEM(issue(s.Key.Public())), 0o644)
	os.WriteFile(filepath.Join(dir, IDFile), []byte("EDGE-9\n"), 0o644)
	e, err := k.DecisionSigner(ctx, dir, "edge-9", time.Now())
	if err != nil || e.SelfIssued || len(e.Chain) != 2 || !e.Chain[1].Equal(ca) || e.Chain[0].Subject.CommonName != "EDGE-9 signing" {
		t.Fatalf("after enrolment: %+v %v", e, err)
	}
	if id, _ := ReadID(dir); id != "EDGE-9" {
		t.Fatalf("id %q", id)
	}
	// A certificate for another key is refused, not used.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	os.WriteFile(filepath.Join(dir, SigningCertFile), PEM(issue(&other.PublicKey)), 0o644)
	if _, err := k.DecisionSigner(ctx, dir, "edge-9", time.Now()); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("certificate of another key: %v", err)
	}
}
