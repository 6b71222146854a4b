package main

import (
	"context"
	"io"

	"github.com/edgetrust/edgetrust/internal/cli"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

const usage = `edgetrust-ctk — check, on your own machine or in CI, whether an SBI 0.9.5
biometric device service would pass MOSIP compliance, without MOSIP's portal.

It runs MOSIP's own 200 SBI test cases (SBI1000–SBI1199, shipped inside, MPL-2.0)
with every validator they name (schema, signature and trust, response match, hash
chain, time, timeout, ISO 19794, key rotation, quality) against any endpoint, and
writes report.json, report.xml (JUnit) and report.html.

Usage:
  edgetrust-ctk run  --target URL --device-ca FILE --ftm-ca FILE [flags]
                                   run the cases that apply to the devices found
  edgetrust-ctk list [--target URL] [flags]
                                   show the cases, and which apply to each device
  edgetrust-ctk cert [--key-dir DIR]
                                   print the ctk's encryption certificate (PEM);
                                   configure the device to encrypt auth captures to it
  edgetrust-ctk version

Example (our own device service, driven through its control socket):

  edgetrust-ctk cert > ctk.pem
  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert ctk.pem &
  edgetrust-ctk run --target http://127.0.0.1:4501 \
      --device-ca /tmp/agent/dev-pki/provider-ca.pem --ftm-ca /tmp/agent/dev-pki/ftm-ca.pem \
      --control unix:/tmp/agent/control.sock --non-interactive --report-dir out

Cases that need the device in a state (Busy, Not Ready, Not Registered, key
rotated, nothing on the sensor) use --control when the device offers a hook,
else ask you at the keyboard; with --non-interactive they are skipped, never
passed. Exit status: 0 when no applicable case failed, 1 when one did or the
run could not start, 2 for a usage error.

Run "edgetrust-ctk help CMD" (or CMD --help) for a command's flags and an example.
`

var program = &cli.Program{Name: "edgetrust-ctk", Help: usage, Commands: []*cli.Command{
	{Name: "run", Summary: "run the cases that apply to the devices found", Run: func(ctx context.Context, e *cli.Env, args []string) error {
		rep, err := cmdRun(ctx, args, e.Stdin, e.Stdout, e.Stderr)
		if err == nil && !rep.OK() {
			return cli.Code(cli.ExitFailure)
		}
		return err
	}},
	{Name: "list", Summary: "show the cases, and which apply to each device", Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return cmdList(ctx, args, e.Stdout, e.Stderr)
	}},
	{Name: "cert", Summary: "print the ctk's encryption certificate (PEM)", Run: func(_ context.Context, e *cli.Env, args []string) error {
		return cmdCert(args, e.Stdout, e.Stderr)
	}},
	{Name: "version", Summary: "print the ctk's version", Run: func(_ context.Context, e *cli.Env, args []string) error {
		return cmdVersion(args, e.Stdout, e.Stderr)
	}},
}}

func main() { program.Main() }
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(args, &cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func usagef(format string, a ...any) error { return cli.Usagef(format, a...) }
