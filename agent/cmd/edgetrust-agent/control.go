package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// controlCmd runs a control-socket command.
func controlCmd(cmd string) func(context.Context, *cli.Env, []string) error {
	return func(ctx context.Context, e *cli.Env, args []string) error {
		return control(ctx, cmd, args, e.Stdout, e.Stderr)
	}
}

// controlHelp says what each control command does.
var controlHelp = map[string]cli.Help{
	"status": {Usage: "edgetrust-agent status [--state DIR] [--json]",
		About:   "Lists the running agent's devices: id, type, sub-type, purpose, status and firmware.",
		Example: "  edgetrust-agent status --state /tmp/agent"},
	"set-status": {Usage: `edgetrust-agent set-status --device ID --status "Ready"|"Not Ready"|"Not Registered"`,
		About:   "Sets a device's status as the SBI reports it (for tests and demos).",
		Example: `  edgetrust-agent set-status --state /tmp/agent --device EDT-F-0001 --status "Not Ready"`},
	"rotate-key": {Usage: "edgetrust-agent rotate-key --device ID",
		About:   "Makes a new device key in the TPM and has it certified: by central once enrolled, else by the --dev PKI.",
		Example: "  edgetrust-agent rotate-key --state /tmp/agent --device EDT-F-0001"},
	"present": {Usage: "edgetrust-agent present --device ID --present=true|false [--person N [--finger F]]",
		About: `Puts the finger, eye or face in front of an emulated sensor, or takes it
away ("finger" is an alias). --person N puts synthetic person N there:
N's ten fingers on a finger sensor, N's eyes before an iris camera
(irissynth identities), N's face before a face camera (one of 12 sample
portraits: N mod 12).`,
		Example: "  edgetrust-agent present --state /tmp/agent --device EDT-F-0001 --present=true --person 7"},
}

func control(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet(cmd)
	h := controlHelp[cmd]
	h.EnvPrefix = ""
	cli.SetHelp(fs, stderr, h)
	state := fs.String("state", os.Getenv("EDGETRUST_AGENT_STATE"), "state directory of the running agent")
	device := fs.String("device", "", "device id (serial number)")
	status := fs.String("status", "", `"Ready", "Not Ready" or "Not Registered"`)
	present := fs.String("present", "", "true or false")
	person := fs.String("person", "", "present: put synthetic person N's fingers, eyes or face before an emulated sensor\n(a fresh impression or image of the same person on every capture; N is any number)")
	finger := fs.String("finger", "", `present --person: the finger a bioSubType "UNKNOWN" capture gets (default "Right IndexFinger")`)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *state == "" {
		return cli.Usage(errors.New("--state DIR is required (the running agent's state directory)"))
	}
	req := agent.ControlRequest{Device: *device}
	switch cmd {
	case "status":
		req.Op = "list"
	case "set-status":
		req.Op, req.Status = "set-status", *status
	case "rotate-key":
		req.Op = "rotate-key"
	case "present":
		p, err := strconv.ParseBool(*present)
		if err != nil {
			return cli.Usage(errors.New("--present must be true or false"))
		}
		req.Op, req.Present = "present", &p
		if *person != "" {
			n, err := strconv.ParseUint(*person, 10, 64)
			if err != nil {
				return cli.Usage(errors.New("--person must be a number (the synthetic person's seed)"))
			}
			req.Person, req.Finger = &n, *finger
		} else if *finger != "" {
			return cli.Usage(errors.New("--finger goes with --person"))
		}
	}
	if req.Op != "list" && *device == "" {
		return cli.Usage(errors.New("--device ID is required (edgetrust-agent status lists them)"))
	}
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	resp, err := agent.Control(ctx, *state, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(resp)
	}
	fmt.Fprintf(stdout, "agent on http://127.0.0.1:%d/\n", resp.Port)
	for _, d := range resp.Devices {
		fmt.Fprintf(stdout, "  %-14s %-6s %-10s %-12s %-15s firmware %s\n", d.ID, d.Type, d.SubType, d.Purpose, d.Status, d.Firmware)
	}
	return nil
}
