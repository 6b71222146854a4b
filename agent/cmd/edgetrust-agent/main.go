package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/internal/cli"
)

const usage = `edgetrust-agent — a MOSIP SBI 0.9.5 biometric device service whose every
answer is signed by keys inside a TPM 2.0.

Usage:
  edgetrust-agent serve [flags]        run the SBI service on 127.0.0.1:4501-4600
  edgetrust-agent status [--state DIR] list the running agent's devices and status
  edgetrust-agent set-status --device ID --status "Ready"|"Not Ready"|"Not Registered"
  edgetrust-agent enrol --central URL --token T [--config F | --dev] --state DIR
                                       enrol the devices with central (TPM-attested);
                                       run it while serve is stopped (enrol --help)
  edgetrust-agent rotate-key --device ID
                                       make a new device key in the TPM and have it
                                       certified (by central once enrolled, else --dev PKI)
  edgetrust-agent present --device ID --present=true|false [--person N [--finger F]]
                                       put the finger, eye or face in front of an emulated
                                       sensor or take it away ("finger" is an alias);
                                       --person N puts synthetic person N there (fingers, eyes, face)
  edgetrust-agent version

Try it with no hardware at all (simulated TPM, emulated sensors, development PKI):

  edgetrust-agent serve --dev --state /tmp/agent

Then point any SBI client (MOSIP registration client, eSignet, edgetrust-ctk) at
http://127.0.0.1:4501/. Verifiers need the CA certificates it prints
(dev-pki/provider-ca.pem for the DEVICE domain, dev-pki/ftm-ca.pem for FTM).

Every flag of serve can also come from the environment (EDGETRUST_AGENT_STATE,
EDGETRUST_AGENT_TPM, EDGETRUST_AGENT_PORT, ...) or a JSON config file (--config);
flags win over the environment, which wins over the file.

Exit status: 0 ok, 1 failure, 2 usage error.

Run "edgetrust-agent help CMD" (or CMD --help) for a command's flags and an example.
`

var program = &cli.Program{Name: "edgetrust-agent", Help: usage, Commands: []*cli.Command{
	{Name: "serve", Summary: "run the SBI service", Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return serve(ctx, args, e.Stdout, e.Stderr)
	}},
	{Name: "status", Summary: "list the running agent's devices and status", Run: controlCmd("status")},
	{Name: "set-status", Summary: "set a device's status", Run: controlCmd("set-status")},
	{Name: "enrol", Summary: "enrol the devices with central (TPM-attested)", Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return enrolCmd(ctx, args, e.Stdout, e.Stderr)
	}},
	{Name: "rotate-key", Summary: "make a new device key in the TPM and have it certified", Run: controlCmd("rotate-key")},
	{Name: "present", Aliases: []string{"finger"}, Summary: "put a finger, eye or face in front of an emulated sensor, or take it away", Run: controlCmd("present")},
	{Name: "version", Summary: "print the SBI service version", Run: func(_ context.Context, e *cli.Env, args []string) error {
		fs := cli.NewFlagSet("version")
		cli.SetHelp(fs, e.Stderr, cli.Help{Usage: "edgetrust-agent version", About: "Prints the agent's SBI service version.", Example: "  edgetrust-agent version"})
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if err := cli.NoArgs(fs); err != nil {
			return err
		}
		fmt.Fprintln(e.Stdout, "edgetrust-agent", agent.ServiceVersion)
		return nil
	}},
}}

func main() { program.Main() }

func run(args []string, stdout, stderr io.Writer) int {
	return program.Run(args, &cli.Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
}

// stringList is a repeatable flag.
type stringList = cli.StringList

// envPrefix names the variables that fill unset flags.
const envPrefix = "EDGETRUST_AGENT_"
