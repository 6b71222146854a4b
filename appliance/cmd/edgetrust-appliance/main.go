package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/cli"
)

const usage = `edgetrust-appliance — the edge appliance: it follows central's signed trust
feed (vendors, devices, revocations) into a local store and verifies biometric
captures from SBI devices against it, even while central is unreachable. With
a TPM and an enrolment it also authenticates people for relying parties
(POST /v1/auth) against identity records central seals to it.

Usage:
  edgetrust-appliance serve [flags]     follow central and serve the API (default 127.0.0.1:8443)
  edgetrust-appliance enrol [flags]     enrol the appliance's TPM with central (token from an admin);
                                        saves its id and certificates for serve
  edgetrust-appliance cert [flags]      print the certificate agents encrypt captures to
  edgetrust-appliance status [flags]    feed position, staleness and sync health of a running appliance
  edgetrust-appliance verify [flags] CAPTURE.json
                                        ask a running appliance to verify an SBI capture answer
  edgetrust-appliance verify-qr (--text T | --image FILE) (--trust FILE --list-key FILE | --issuer-key FILE)
                                        verify a Claim 169 identity QR offline
  edgetrust-appliance loadtest (--state DIR | --api URL --ca FILE) (--auth FILE | --verify FILE)
                                        size an appliance: N concurrent clients, throughput, p50/p95/p99
  edgetrust-appliance audit verify|show --state DIR
                                        check the decision log's Merkle tree and TPM-signed checkpoints
  edgetrust-appliance version

Try it with no hardware (simulated TPM):

  edgetrust-appliance serve --state /tmp/appliance --tpm sim \
      --central https://central.example.org --feed-key central-feed.pem
  edgetrust-appliance cert --state /tmp/appliance > appliance.pem
  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert appliance.pem

Verification answers {valid, stale, device: {serial, vendor, status}, reasons[]}.
Trust anchors come only from central's feed; a batch with a bad signature, a fork
or a rollback is refused and logged. Past --max-staleness without a fresh
checkpoint from central, answers say stale and (with --stale-policy reject, the
default) are invalid.

Every flag of serve can also come from the environment (EDGETRUST_APPLIANCE_STATE,
EDGETRUST_APPLIANCE_CENTRAL, EDGETRUST_APPLIANCE_FEED_KEY, ...) or a JSON config
file (--config); flags win over the environment, which wins over the file.

Exit status: 0 ok, 1 failure (or, for verify, an invalid capture), 2 usage error.

Run "edgetrust-appliance help CMD" (or CMD --help) for a command's flags and an example.
`

// cmd adapts the commands' (args, stdout, stderr) form.
func cmd(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) *cli.Command {
	return &cli.Command{Name: name, Summary: summary, Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return run(ctx, args, e.Stdout, e.Stderr)
	}}
}

// auditSub runs "audit SUB".
func auditSub(sub, summary string) *cli.Command {
	return cmd(sub, summary, func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return auditCmd(ctx, append([]string{sub}, args...), stdout, stderr)
	})
}

var program = &cli.Program{Name: "edgetrust-appliance", Help: usage, Commands: []*cli.Command{
	{Name: "serve", Summary: "follow central's trust feed and serve the verification API", Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return serve(ctx, args, e.Stdout, e.Stderr)
	}},
	cmd("cert", "print the appliance's certificate", cert),
	cmd("status", "show the running appliance's status", status),
	cmd("verify", "verify a capture with the running appliance", verify),
	cmd("verify-qr", "verify a Claim 169 QR code offline", verifyQR),
	cmd("loadtest", "drive a running appliance with concurrent auth and verify requests", loadtestCmd),
	cmd("enrol", "enrol the appliance with central (TPM-attested)", enrolCmd),
	{Name: "audit", Summary: "verify or show the decision log", Help: auditUsage, Default: func(ctx context.Context, e *cli.Env, args []string) error {
		return auditCmd(ctx, args, e.Stdout, e.Stderr)
	}, Commands: []*cli.Command{
		auditSub("verify", "check the decision log's hash chain and signed checkpoints"),
		auditSub("show", "print the last decisions"),
	}},
	cmd("version", "print the appliance's version", func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		fs := cli.NewFlagSet("version")
		cli.SetHelp(fs, stderr, cli.Help{Usage: "edgetrust-appliance version", About: "Prints the appliance's version.", Example: "  edgetrust-appliance version"})
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if err := cli.NoArgs(fs); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "edgetrust-appliance", appliance.Version)
		return nil
	}),
}}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return program.Run(args, &cli.Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
}

// errInvalid is a verify answer of valid:false (exit code 1, nothing else wrong).
var errInvalid = cli.Code(cli.ExitFailure)

// stringList is a repeatable flag; a comma-separated value (as from the
// environment) adds several.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func parse(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	return cli.ParseEnv(fs, args, "EDGETRUST_APPLIANCE_")
}

// tpmURL maps "sim" to the simulator seeded from the state directory, so
// the key blobs saved there load again after a restart (development only).
func tpmURL(u, state string) (string, error) {
	if u != "sim" {
		return u, nil
	}
	return tpmkey.DevSimURL(state)
}
