package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func init() { WorkFactor = 10 }

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.age")
	pass := []byte("correct horse battery")
	if err := Create(p, []byte("secret"), []byte("short")); err == nil {
		t.Fatal("a short passphrase accepted")
	}
	if err := Create(p, []byte("secret"), pass); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	raw, _ := os.ReadFile(p)
	if bytes.Contains(raw, []byte("secret")) {
		t.Fatal("plaintext on disk")
	}
	if err := Create(p, []byte("other"), pass); err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("replaced an existing keyring: %v", err)
	}
	got, err := Open(p, pass)
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open: %q %v", got, err)
	}
	if _, err := Open(p, []byte("wrong passphrase!!")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), pass); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestBox(t *testing.T) {
	b, err := NewBox()
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Seal([]byte("ca key"))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := ParseBox(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Open(s, 100); err != nil || string(got) != "ca key" {
		t.Fatalf("Open: %q %v", got, err)
	}
	if _, err := b2.Open(s, 3); err == nil {
		t.Error("limit not enforced")
	}
	other, _ := NewBox()
	if _, err := other.Open(s, 100); err == nil {
		t.Error("opened with another identity")
	}
	if _, err := ParseBox("AGE-SECRET-KEY-junk"); err == nil {
		t.Error("junk identity parsed")
	}
}
