// Command edgetrust-ctk runs MOSIP's own SBI compliance test cases against
// an SBI 0.9.5 device service, offline. See `edgetrust-ctk help`.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
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

Run "edgetrust-ctk run --help" or "edgetrust-ctk list --help" for the flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		var rep *report.Report
		rep, err = cmdRun(args[1:], stdin, stdout, stderr)
		if err == nil && !rep.OK() {
			return 1
		}
	case "list":
		err = cmdList(args[1:], stdout, stderr)
	case "cert":
		err = cmdCert(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "edgetrust-ctk", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "edgetrust-ctk: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "edgetrust-ctk %s: %v\n", args[0], err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// common flags of run and list.
type selection struct {
	target, cases, schemas, caseFilter, purpose, devices string
}

func (s *selection) register(fs *flag.FlagSet, targetHelp string) {
	fs.StringVar(&s.target, "target", os.Getenv("EDGETRUST_CTK_TARGET"), targetHelp)
	fs.StringVar(&s.cases, "cases", "", "test definition `FILE` to use instead of the shipped MOSIP 1.4.0 set (MOSIP's compliance_test_definitions_sbi.json format)")
	fs.StringVar(&s.schemas, "schemas", "", "`DIR` of JSON schemas to use instead of the shipped ones (DIR/<specVersion>/<Name>.json or DIR/<Name>.json)")
	fs.StringVar(&s.caseFilter, "case", "", "only these cases: comma-separated ids or patterns, e.g. SBI1000,SBI104*")
	fs.StringVar(&s.purpose, "purpose", "", "only devices of this purpose: Auth or Registration")
	fs.StringVar(&s.devices, "device", "", "only these devices: comma-separated deviceId or serial numbers")
}

func (s *selection) suite() (*suite.Suite, error) {
	if s.cases == "" {
		if s.schemas != "" {
			sch, err := suite.LoadSchemas(s.schemas)
			if err != nil {
				return nil, err
			}
			st, err := suite.Embedded()
			if err != nil {
				return nil, err
			}
			st.Schemas = sch
			return st, nil
		}
		return suite.Embedded()
	}
	return suite.Load(s.cases, s.schemas)
}

func (s *selection) filter() (ctk.Filter, error) {
	f := ctk.Filter{Cases: ctk.ParseList(s.caseFilter), Purpose: s.purpose, Devices: ctk.ParseList(s.devices)}
	if err := f.Validate(); err != nil {
		return f, usageError{err}
	}
	return f, nil
}

func newFlagSet(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: edgetrust-ctk %s\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExample:\n%s\n", example)
	}
	return fs
}

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) (*report.Report, error) {
	fs := newFlagSet("run --target URL --device-ca FILE --ftm-ca FILE [flags]",
		`Discovers the devices at URL, selects the MOSIP SBI cases that apply to each
(type, sub-type and purpose from discovery, narrowed by --case, --purpose and
--device), runs them and writes report.json, report.xml and report.html into
--report-dir. One progress line per case goes to stderr. Exit status 0 only when
no applicable case failed.`,
		`  edgetrust-ctk run --target http://127.0.0.1:4501 --device-ca device-ca.pem \
      --ftm-ca ftm-ca.pem --report-dir ctk-report --case 'SBI10[0-2]*'`, stderr)
	var sel selection
	sel.register(fs, "device service base `URL`, e.g. http://127.0.0.1:4501 (env EDGETRUST_CTK_TARGET)")
	deviceCA := fs.String("device-ca", "", "PEM `FILE` of the DEVICE-domain CA certificate(s): deviceInfo, data and L0 digital IDs must chain to them")
	ftmCA := fs.String("ftm-ca", "", "PEM `FILE` of the FTM-domain CA certificate(s): L1 digital IDs must chain to them")
	reportDir := fs.String("report-dir", "ctk-report", "`DIR` for report.json, report.xml, report.html and ctk.log")
	control := fs.String("control", "", "device control hook `unix:PATH` (JSON lines, e.g. edgetrust-agent's STATE/control.sock): sets states, rotates keys, lifts the finger")
	nonInteractive := fs.Bool("non-interactive", false, "never ask the person at the keyboard; cases needing a person are skipped with the reason (the default when stdin is not a terminal)")
	parallel := fs.Bool("parallel", false, "run different devices' cases at the same time (non-interactive runs only)")
	env := fs.String("env", sbi.EnvDeveloper, "env sent in capture requests (MOSIP's CTK sends Developer)")
	domainURI := fs.String("domain-uri", "https://ctk.edgetrust.invalid", "domainUri sent in auth capture requests")
	keyDir := fs.String("key-dir", "", "`DIR` of the ctk's encryption key pair (default $EDGETRUST_CTK_HOME, else the user config dir)")
	skew := fs.Duration("clock-skew", 2*time.Second, "allowed difference between this machine's clock and the device's data.timestamp")
	slack := fs.Duration("timeout-slack", 5*time.Second, "how late after its timeout a capture may still answer")
	logLevel := fs.String("log-level", "info", "ctk.log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if sel.target == "" {
		return nil, usagef("--target URL is required (e.g. http://127.0.0.1:4501)")
	}
	target, err := ctk.ParseTarget(sel.target)
	if err != nil {
		return nil, usageError{err}
	}
	if *deviceCA == "" {
		return nil, usagef("--device-ca FILE is required: the CA the device's deviceInfo and data signatures must chain to")
	}
	if !sbi.ValidEnv(*env) {
		return nil, usagef("--env %q: want Staging, Developer, Pre-Production or Production", *env)
	}
	filter, err := sel.filter()
	if err != nil {
		return nil, err
	}
	var ctl ctk.Controller
	if *control != "" {
		if ctl, err = ctk.ParseControl(*control); err != nil {
			return nil, usageError{err}
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	st, err := sel.suite()
	if err != nil {
		return nil, err
	}
	devPool, err := ctk.LoadPool(*deviceCA)
	if err != nil {
		return nil, fmt.Errorf("--device-ca: %w", err)
	}
	var ftmPool *x509.CertPool
	if *ftmCA != "" {
		if ftmPool, err = ctk.LoadPool(*ftmCA); err != nil {
			return nil, fmt.Errorf("--ftm-ca: %w", err)
		}
	} else {
		fmt.Fprintln(stderr, "edgetrust-ctk: no --ftm-ca: L1 digital IDs cannot chain and will fail SignatureValidator")
	}
	key, dir, err := loadKey(*keyDir)
	if err != nil {
		return nil, err
	}
	interactive := !*nonInteractive && isTerminal(stdin)
	if !*nonInteractive && !interactive {
		fmt.Fprintln(stderr, "edgetrust-ctk: stdin is not a terminal; running non-interactively")
	}
	if *parallel && interactive {
		return nil, usagef("--parallel needs --non-interactive (prompts for two devices at once would interleave)")
	}
	if err := os.MkdirAll(*reportDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(*reportDir, "ctk.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: lvl}))
	log.Info("encryption key", "dir", dir, "thumbprint", sbi.Thumbprint(key.Cert))
	o := ctk.Options{Target: target, Suite: st, DeviceRoots: devPool, FTMRoots: ftmPool, Key: key, Control: ctl,
		Filter: filter, Env: *env, DomainURI: *domainURI, Parallel: *parallel, ClockSkew: *skew, Slack: *slack,
		Progress: stderr, Log: log, Version: version}
	if interactive {
		o.Prompter = &ctk.LinePrompter{In: stdin, Out: stderr}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := ctk.Run(ctx, o)
	if rep != nil {
		if werr := rep.WriteAll(*reportDir); werr != nil {
			return nil, werr
		}
		s := rep.Summary
		verdict := "PASS"
		if !rep.OK() {
			verdict = "FAIL"
		}
		fmt.Fprintf(stderr, "edgetrust-ctk: %s — %d passed, %d failed, %d skipped of %d in %.1fs; reports in %s\n",
			verdict, s.Passed, s.Failed, s.Skipped, s.Total, float64(rep.DurationMS)/1000, *reportDir)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func loadKey(dir string) (*ctk.EncryptionKey, string, error) {
	if dir == "" {
		d, err := ctk.DefaultKeyDir()
		if err != nil {
			return nil, "", err
		}
		dir = d
	}
	k, err := ctk.LoadOrCreateKey(dir, time.Now())
	if err != nil {
		return nil, "", fmt.Errorf("encryption key in %s: %w", dir, err)
	}
	return k, dir, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdCert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cert [--key-dir DIR]",
		`Prints the ctk's encryption certificate (PEM) on stdout, creating the key pair
(RSA 2048, self-signed, two years) on first use. Give it to the device as the
certificate auth captures are encrypted to; the ctk then decrypts and checks
every bioValue. The thumbprint the device must send goes to stderr.`,
		"  edgetrust-ctk cert > ctk.pem\n  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert ctk.pem", stderr)
	keyDir := fs.String("key-dir", "", "`DIR` of the key pair (default $EDGETRUST_CTK_HOME, else the user config dir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	key, dir, err := loadKey(*keyDir)
	if err != nil {
		return err
	}
	stdout.Write(key.CertPEM())
	fmt.Fprintf(stderr, "edgetrust-ctk: certificate of %s, thumbprint %s\n", filepath.Join(dir, ctk.EncryptionCertFile), sbi.Thumbprint(key.Cert))
	return nil
}

func cmdList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list [--target URL] [flags]",
		`Lists the test cases: id, SBI method, purposes, types, validators and name.
With --target it asks the device service for its devices and shows which cases
apply to which device, as run would select them.`,
		"  edgetrust-ctk list --case 'SBI104*'\n  edgetrust-ctk list --target http://127.0.0.1:4501 --purpose Auth", stderr)
	var sel selection
	sel.register(fs, "device service base `URL`; when given, show which cases apply to each device")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	filter, err := sel.filter()
	if err != nil {
		return err
	}
	st, err := sel.suite()
	if err != nil {
		return err
	}
	var devices []*ctk.Device
	if sel.target != "" {
		target, err := ctk.ParseTarget(sel.target)
		if err != nil {
			return usageError{err}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if devices, err = ctk.Discover(ctx, target); err != nil {
			return err
		}
	}
	applies := map[string][]string{}
	perDevice := map[string]int{}
	for _, p := range ctk.Plan(st, devices, filter) {
		applies[p.Case.ID] = append(applies[p.Case.ID], p.Device.ID())
		perDevice[p.Device.ID()]++
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := "ID\tMETHOD\tPURPOSE\tTYPE / SUB-TYPE\tVALIDATORS\tNAME"
	if devices != nil {
		header = "ID\tMETHOD\tAPPLIES TO\tVALIDATORS\tNAME"
	}
	fmt.Fprintln(tw, header)
	shown := 0
	for i := range st.Cases {
		c := &st.Cases[i]
		if !ctkFilterCase(filter, c.ID) {
			continue
		}
		var vals []string
		for _, v := range c.Validators() {
			vals = append(vals, strings.TrimSuffix(v, "Validator"))
		}
		if devices != nil {
			on := strings.Join(applies[c.ID], ",")
			if on == "" {
				on = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Method(), on, strings.Join(vals, ","), c.Name)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s / %s\t%s\t%s\n", c.ID, c.Method(), strings.Join(c.Attrs.Purpose, ","),
				strings.Join(c.Attrs.BiometricTypes, ","), strings.Join(c.Attrs.DeviceSubTypes, ","), strings.Join(vals, ","), c.Name)
		}
		shown++
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d of %d cases (%s)\n", shown, len(st.Cases), st.Source)
	for _, d := range devices {
		fmt.Fprintf(stdout, "device %s (%s %s, %s, %s): %d applicable\n", d.ID(), d.Type(), d.SubType(), d.Purpose(),
			d.Discovery.DeviceStatus, perDevice[d.ID()])
	}
	return nil
}

func ctkFilterCase(f ctk.Filter, id string) bool {
	if len(f.Cases) == 0 {
		return true
	}
	for _, p := range f.Cases {
		if ok, _ := filepath.Match(p, id); ok {
			return true
		}
	}
	return false
}
