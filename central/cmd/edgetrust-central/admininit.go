package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// writeAdminToken mints an admin token into path (0600), refusing to
// overwrite a file.
func writeAdminToken(ctx context.Context, ce *central.Central, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the admin token: %w (move the old file away first)", err)
	}
	tok, _, err := ce.CreateAdminToken(ctx, "system", "bootstrap")
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := fmt.Fprintln(f, tok); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func adminInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sf, config := newServerFlags("admin init", stderr)
	cli.SetHelp(sf.fs, stderr, cli.Help{
		Usage: "edgetrust-central admin init --state DIR [--out FILE]",
		About: `Mints an admin token straight into the store (no running server needed) and
writes it to DIR/admin-token (mode 0600), never overwriting a file. For a
state directory whose first token was lost; serve writes the first one.
With --console it prints a one-time code for the admin console instead.`,
		Example:   "  edgetrust-central admin init --state /var/lib/edgetrust-central --out /root/admin-token",
		EnvPrefix: envPrefix,
	})
	out := sf.fs.String("out", "", "file to write the token to (default STATE/admin-token; never overwritten)")
	con := sf.fs.Bool("console", false, "instead, print a one-time code (valid 1 h, single use) to register the first admin console passkey at /console/register")
	if err := sf.parse(args, config); err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(sf.cfg.State, central.AdminTokenFile)
	}
	st, err := openStore(ctx, sf.cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	// Minting a token needs no keys: a Central without a keyring would not
	// issue anything, so build the minimum.
	ce, err := central.New(central.Config{Store: st, Keys: &central.Keyring{}})
	if err != nil {
		return err
	}
	defer ce.Close()
	if *con {
		return printConsoleCode(ctx, st, stdout)
	}
	if err := writeAdminToken(ctx, ce, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "admin token written to %s (mode 0600)\n", path)
	return nil
}

func feedKey(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("feed-key")
	cli.SetHelp(fs, stderr, cli.Help{
		Usage:   "edgetrust-central feed-key --state DIR",
		About:   "Prints the trust feed's public key (PEM) that appliances pin with --feed-key.",
		Example: "  edgetrust-central feed-key --state /var/lib/edgetrust-central > central-feed.pem",
	})
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_CENTRAL_STATE"), "central's state directory")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *state == "" {
		return cli.Usage(errors.New("--state DIR is required"))
	}
	b, err := os.ReadFile(filepath.Join(*state, central.FeedKeyFile))
	if err != nil {
		return fmt.Errorf("%w (has serve run once on this state directory?)", err)
	}
	if _, err := central.ParseFeedKeyPEM(b); err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
