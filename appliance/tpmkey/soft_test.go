package tpmkey

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm/swtpmtest"
	"github.com/edgetrust/edgetrust/sbi"
)

// TestSoftUnwrap: with softUnwrap a fresh state gets a software key whose
// file only opens on this TPM; the encryption certificate is for it, an
// agent's session keys unwrap with it without the TPM, the choice survives
// a restart whatever the flag says, and a tampered file is refused.
func TestSoftUnwrap(t *testing.T) {
	dir := t.TempDir()
	u, err := DevSimURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Open(context.Background(), u, dir, "edge-s", time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if k.Soft == nil || k.Decrypter() != k.Soft {
		t.Fatal("softUnwrap on a fresh state made no software key")
	}
	if !pki.SameKey(k.Cert.PublicKey, &k.Soft.PublicKey) {
		t.Fatal("the encryption certificate is not for the software key")
	}
	iso := bytes.Repeat([]byte{9}, 64)
	bv, sk, err := sbi.EncryptBioValue(k.Cert, iso, "2026-01-02T03:04:05Z", "txn-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sbi.DecryptBioValue(k.DecryptionKey().Key, bv, sk, "2026-01-02T03:04:05Z", "txn-1"); err != nil || !bytes.Equal(got, iso) {
		t.Fatalf("software unwrap: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, SoftDecryptKeyFile))
	if bytes.Contains(raw, k.Soft.D.Bytes()[:16]) {
		t.Fatal("the private key is in the file in clear")
	}
	thumb := k.Thumbprint()
	k.Close()
	// The state decides after the first start, not the flag.
	k, err = Open(context.Background(), u, dir, "edge-s", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if k.Soft == nil || k.Thumbprint() != thumb {
		t.Fatal("the software key or its certificate changed across a restart")
	}
	k.Close()
	// A flipped ciphertext byte is refused, not used.
	p := filepath.Join(dir, SoftDecryptKeyFile)
	tampered := bytes.Clone(raw)
	i := bytes.Index(tampered, []byte(`"ciphertext":"`)) + len(`"ciphertext":"`) + 10
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	os.WriteFile(p, tampered, 0o600)
	if _, err := Open(context.Background(), u, dir, "edge-s", time.Now(), true); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Fatalf("a tampered software key file: %v", err)
	}
	os.WriteFile(p, raw, 0o600)
	// The file does not open on another TPM (a fresh swtpm).
	s := swtpmtest.Start(t) // skips without swtpm unless EDGETRUST_REQUIRE_SWTPM=1
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "tpm"), 0o700)
	os.WriteFile(filepath.Join(other, SoftDecryptKeyFile), raw, 0o600)
	if _, err := Open(context.Background(), s.URL, other, "edge-s", time.Now(), true); err == nil || !strings.Contains(err.Error(), "does not unseal") {
		t.Fatalf("the software key file opened on another TPM: %v", err)
	}
}
