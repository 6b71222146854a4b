package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// TestConsoleIssuer: serve unlocks STATE/issuer for the console with
// EDGETRUST_ISSUER_PASSPHRASE, else central's passphrase; no key or a
// passphrase that does not open it leaves issuance off (nil), not central.
func TestConsoleIssuer(t *testing.T) {
	state := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	t.Setenv("EDGETRUST_ISSUER_PASSPHRASE", "")
	t.Setenv("EDGETRUST_CENTRAL_PASSPHRASE", "central passphrase 123")
	if is := consoleIssuer(Config{State: state}, log); is != nil {
		t.Fatal("an issuer without STATE/issuer")
	}
	m, err := issuer.Init(issuerDir(state), "EdDSA", "https://id.example", []byte("issuer passphrase 456"), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if is := consoleIssuer(Config{State: state}, log); is != nil {
		t.Fatal("the issuer key opened with central's (different) passphrase")
	}
	t.Setenv("EDGETRUST_ISSUER_PASSPHRASE", "issuer passphrase 456")
	is := consoleIssuer(Config{State: state}, log)
	if is == nil || is.KID != m.KID || is.URI != "https://id.example" || is.Validity != consoleIssueValidity {
		t.Fatalf("console issuer %+v", is)
	}
	if _, err := is.Issuer.Issue(&claim169.Claims{Issuer: is.URI, IssuedAt: time.Now(), Identity: claim169.Identity{ID: "1"}}); err != nil {
		t.Fatalf("issuing with the unlocked key: %v", err)
	}
}
