package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// The admin console's flags and its first one-time code (central/console).

func consoleFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.ConsoleOrigin, "console-origin", "", "serve the admin console on /console/ for browsers reaching central at this origin, e.g. https://central.example:8443 (a host name in --tls-san; passkeys are bound to it); empty: no console. With an issuer key in STATE/issuer (issuer init) the console also issues Claim 169 QR codes, unlocking the key with EDGETRUST_ISSUER_PASSPHRASE or else central's passphrase")
}

func enableConsole(ce *central.Central, c Config, log *slog.Logger) error {
	if c.ConsoleOrigin == "" {
		return nil
	}
	cfg := console.Config{Origin: c.ConsoleOrigin}
	cfg.Issuer = consoleIssuer(c, log)
	if err := ce.EnableConsole(cfg); err != nil {
		return cli.Usage(fmt.Errorf("--console-origin: %w", err))
	}
	log.Info("admin console on", "url", c.ConsoleOrigin+"/console/", "firstAdmin", "edgetrust-central admin init --console --state "+c.State)
	return nil
}

// consoleIssuer unlocks the Claim 169 issuer key (STATE/issuer) for the
// console's issuance page with EDGETRUST_ISSUER_PASSPHRASE, else central's
// own passphrase. Without a key, or if it does not open, the console runs
// and its issuance page says why it cannot issue.
func consoleIssuer(c Config, log *slog.Logger) *console.Issuer {
	dir := issuerDir(c.State)
	if _, err := os.Stat(filepath.Join(dir, issuer.MetaFile)); err != nil {
		return nil
	}
	pass := []byte(os.Getenv("EDGETRUST_ISSUER_PASSPHRASE"))
	if len(pass) == 0 {
		var err error
		if pass, err = passphrase(c.PassphraseFile); err != nil {
			log.Warn("console: Claim 169 issuance off: no passphrase for the issuer key", "dir", dir)
			return nil
		}
	}
	k, err := issuer.Load(dir, pass)
	if err != nil {
		log.Warn("console: Claim 169 issuance off: the issuer key does not open (set EDGETRUST_ISSUER_PASSPHRASE)", "dir", dir, "err", err)
		return nil
	}
	is, err := claim169.NewIssuer(k.Signer, &claim169.IssuerOptions{KeyID: k.KIDBytes()})
	if err != nil {
		log.Warn("console: Claim 169 issuance off", "err", err)
		return nil
	}
	log.Info("console: Claim 169 issuance on", "kid", k.KID)
	return &console.Issuer{Issuer: is, KID: k.KID, URI: k.Issuer, Validity: consoleIssueValidity}
}

// consoleIssueValidity is the validity of credentials the console issues
// without an expiresAt: credential issue's default.
const consoleIssueValidity = 5 * 365 * 24 * time.Hour

// printConsoleCode mints a one-time code for the console and prints it.
func printConsoleCode(ctx context.Context, st store.Store, stdout io.Writer) error {
	code, rec, err := console.NewCode(ctx, st, time.Now(), "system", "", console.InitCodeTTL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n\nOne-time console code: open /console/register on central's console origin,\nenter it with your name and create a passkey. It works once, until %s.\n",
		code, rec.Expires.Format(time.RFC3339))
	return nil
}
