package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/edgetrust/edgetrust/internal/cli"
)

const topHelp = `edgetrust-bridge links an edgetrust capture device to its fingerprint module
(the R30x / ZFM / AS608 / R50x serial protocol), and can stand in for one.

Usage:
  edgetrust-bridge <command> [flags]

Commands:
  probe      check that a module answers and show what it reports
  capture    capture one finger into an ISO/IEC 19794-4 record file
  emulate    run a software fingerprint module on a pseudo-terminal
  ports      list serial ports with their USB vendor and product IDs
  inspect    show an ISO/IEC 19794-4 finger record and check it against MOSIP rules
  firmware   verify, sign or pin fingerprint module firmware
  synth      generate synthetic fingerprints (PNG) with known identity

A first session without hardware:
  edgetrust-bridge emulate --link /tmp/sensor &
  edgetrust-bridge probe --port /tmp/sensor
  edgetrust-bridge capture --port /tmp/sensor --out finger.iso
  edgetrust-bridge inspect --purpose auth finger.iso

Run "edgetrust-bridge <command> --help" (or "edgetrust-bridge help <command>") for
what a command does, an example and its flags.

Exit status: 0 ok, 1 failure (or a check that said no), 2 usage error.
`

// exit codes (internal/cli's, by their old names here).
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFailure
	exitUsage = cli.ExitUsage
)

// leaf adapts a command that returns its exit code.
func leaf(name, summary string, run func(context.Context, *env, []string) int) *cli.Command {
	return &cli.Command{Name: name, Summary: summary, Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return cli.Code(run(ctx, &env{stdout: e.Stdout, stderr: e.Stderr}, args))
	}}
}

var program = &cli.Program{Name: "edgetrust-bridge", Help: topHelp, Commands: []*cli.Command{
	leaf("probe", "check that a module answers and show what it reports", runProbe),
	leaf("capture", "capture one finger into an ISO/IEC 19794-4 record file", runCapture),
	leaf("emulate", "run a software fingerprint module on a pseudo-terminal", runEmulate),
	leaf("ports", "list serial ports with their USB vendor and product IDs", runPorts),
	leaf("inspect", "show an ISO/IEC 19794-4 finger record and check it against MOSIP rules", runInspect),
	{Name: "firmware", Summary: "verify, sign or pin fingerprint module firmware", Help: firmwareHelp, Commands: []*cli.Command{
		leaf("verify", "check a manifest and image against the vendor key and the pinned minimum version", runFirmwareVerify),
		leaf("sign", "make a signed manifest (vendor and test tooling)", func(_ context.Context, e *env, args []string) int { return runFirmwareSign(e, args) }),
		leaf("pin", "raise the pinned minimum firmware version; it never goes down", runFirmwarePin),
	}},
	leaf("synth", "generate synthetic fingerprints (PNG) with known identity", runSynth),
}}

func main() { os.Exit(mainCode()) }

// mainCode runs the command line with Ctrl-C and SIGTERM cancelling the
// context, so emulate and capture stop cleanly.
func mainCode() int {
	return program.Run(os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// env carries the output streams so tests and scripts can capture them.
type env struct {
	stdout, stderr io.Writer
}

// flagSet builds a flag set whose --help prints help (what, example, flags)
// to stdout and whose errors point at --help.
type flagSet struct {
	*flag.FlagSet
	help     string
	logLevel string
	e        *env
}

func newFlags(e *env, name, help string) *flagSet {
	fs := &flagSet{FlagSet: cli.NewFlagSet(name), help: help, e: e}
	fs.SetOutput(io.Discard)
	fs.StringVar(&fs.logLevel, "log-level", "info", "log detail on stderr: debug, info, warn or error")
	return fs
}

// parse returns false and an exit code when the command should stop.
func (fs *flagSet) parse(args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.printHelp(fs.e.stdout)
		return exitOK, false
	}
	if err != nil {
		return fs.usageError("%v", err), false
	}
	return 0, true
}

func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprint(w, fs.help)
	fmt.Fprintln(w, "\nFlags:")
	cli.PrintFlags(w, fs.FlagSet, "")
}

func (fs *flagSet) usageError(format string, args ...any) int {
	// One line: what was wrong and where to look next.
	fmt.Fprintf(fs.e.stderr, "edgetrust-bridge %s: %s (run \"edgetrust-bridge %s --help\")\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitUsage
}

// logger writes text logs to stderr. It is never given biometric data.
func (fs *flagSet) logger() (*slog.Logger, error) {
	return cli.NewLogger(fs.e.stderr, fs.logLevel, "text")
}

func fail(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "edgetrust-bridge %s: %v\n", cmd, err)
	return exitFail
}

// parseHex32 reads a 32-bit value given as hex with or without 0x.
func parseHex32(s string) (uint32, error) {
	s = strings.TrimPrefix(strings.ToLower(s), "0x")
	var v uint32
	if s == "" || len(s) > 8 {
		return 0, fmt.Errorf("%q is not a 32-bit hex value", s)
	}
	for _, c := range s {
		d := strings.IndexRune("0123456789abcdef", c)
		if d < 0 {
			return 0, fmt.Errorf("%q is not a 32-bit hex value", s)
		}
		v = v<<4 | uint32(d)
	}
	return v, nil
}
