package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/sbi"
)

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (*report.Report, error) {
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
	if err := cli.Parse(fs, args); err != nil {
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
		return nil, cli.Usage(err)
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
			return nil, cli.Usage(err)
		}
	}
	lvl, err := cli.ParseLevel(*logLevel)
	if err != nil {
		return nil, err
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
