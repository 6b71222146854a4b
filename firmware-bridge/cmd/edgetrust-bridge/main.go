// Command edgetrust-bridge talks to the fingerprint module of an edgetrust
// capture device: diagnostics, a one-off capture, firmware manifest checks,
// and a software module on a pseudo-terminal for tests and demos.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() { os.Exit(mainCode()) }

// mainCode runs the command line with Ctrl-C and SIGTERM cancelling the
// context, so emulate and capture stop cleanly.
func mainCode() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

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

Run "edgetrust-bridge <command> --help" for what a command does, an example and its flags.
`

// exit codes
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type command struct {
	name string
	run  func(ctx context.Context, env *env, args []string) int
}

var commands = []command{
	{"probe", runProbe},
	{"capture", runCapture},
	{"emulate", runEmulate},
	{"ports", runPorts},
	{"inspect", runInspect},
	{"firmware", runFirmware},
	{"synth", runSynth},
}

// env carries the output streams so tests and scripts can capture them.
type env struct {
	stdout, stderr io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, topHelp)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topHelp)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "edgetrust-bridge: unknown command %q\n\n%s", args[0], topHelp)
	return exitUsage
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
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), help: help, e: e}
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
		fmt.Fprintf(fs.e.stderr, "edgetrust-bridge %s: %v\nRun \"edgetrust-bridge %s --help\" for usage.\n", fs.Name(), err, fs.Name())
		return exitUsage, false
	}
	return 0, true
}

func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprint(w, fs.help)
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		switch f.DefValue {
		case "", "0", "false":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, usage)
	})
}

func (fs *flagSet) usageError(format string, args ...any) int {
	fmt.Fprintf(fs.e.stderr, "edgetrust-bridge %s: %s\nRun \"edgetrust-bridge %s --help\" for usage.\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitUsage
}

// logger writes text logs to stderr. It is never given biometric data.
func (fs *flagSet) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(fs.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", fs.logLevel)
	}
	return slog.New(slog.NewTextHandler(fs.e.stderr, &slog.HandlerOptions{Level: lvl})), nil
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
