package tpmkey

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
)

func TestKeyAndCertificateSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	u, err := DevSimURL(dir)
	if err != nil || !strings.HasPrefix(u, "sim?seed=") {
		t.Fatalf("%q %v", u, err)
	}
	if u2, _ := DevSimURL(dir); u2 != u {
		t.Fatal("seed not kept")
	}
	k, err := Open(context.Background(), u, dir, "edge-7", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	cert, thumb := k.Cert, k.Thumbprint()
	if err := cert.CheckSignatureFrom(k.Issuer); err != nil || k.Issuer.Subject.CommonName != "edge-7 self-issued CA" {
		t.Fatalf("issuer: %v %s", err, k.Issuer.Subject)
	}
	if cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Fatal("encryption certificate without keyEncipherment")
	}
	// What an agent does with the certificate, and what the verifier does with the key.
	iso := bytes.Repeat([]byte{7}, 100)
	bv, sk, err := sbi.EncryptBioValue(cert, iso, "2026-01-02T03:04:05Z", "txn-12345678")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sbi.DecryptBioValue(k.DecryptionKey().Key, bv, sk, "2026-01-02T03:04:05Z", "txn-12345678"); err != nil || !bytes.Equal(got, iso) {
		t.Fatalf("TPM decryption: %v", err)
	}
	k.Close()

	k, err = Open(context.Background(), u, dir, "other-name", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Thumbprint() != thumb {
		t.Fatal("the certificate changed across a restart")
	}
	if got, err := sbi.DecryptBioValue(k.Decrypt, bv, sk, "2026-01-02T03:04:05Z", "txn-12345678"); err != nil || !bytes.Equal(got, iso) {
		t.Fatalf("decryption after restart: %v", err)
	}
}

func TestForeignCertificateIsRefused(t *testing.T) {
	dir := t.TempDir()
	u, _ := DevSimURL(dir)
	k, err := Open(context.Background(), u, dir, "a", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	// Someone replaces the certificate with one for another key.
	other := t.TempDir()
	k2, err := Open(context.Background(), u, other, "b", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	b, _ := os.ReadFile(filepath.Join(other, CertFile))
	os.WriteFile(filepath.Join(dir, CertFile), b, 0o644)
	if _, err := Open(context.Background(), u, dir, "a", time.Now(), false); err == nil || !strings.Contains(err.Error(), "certifies another key") {
		t.Fatalf("want a refusal, got %v", err)
	}
}
