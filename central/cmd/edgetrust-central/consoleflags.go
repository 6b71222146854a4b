package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// The admin console's flags and its first one-time code (central/console).

func consoleFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.ConsoleOrigin, "console-origin", "", "serve the admin console on /console/ for browsers reaching central at this origin, e.g. https://central.example:8443 (a host name in --tls-san; passkeys are bound to it); empty: no console")
}

func enableConsole(ce *central.Central, c Config, log *slog.Logger) error {
	if c.ConsoleOrigin == "" {
		return nil
	}
	if err := ce.EnableConsole(console.Config{Origin: c.ConsoleOrigin}); err != nil {
		return cli.Usage(fmt.Errorf("--console-origin: %w", err))
	}
	log.Info("admin console on", "url", c.ConsoleOrigin+"/console/", "firstAdmin", "edgetrust-central admin init --console --state "+c.State)
	return nil
}

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
