// Command edgetrust-agent is the SBI 0.9.5 device service. See `edgetrust-agent help`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/agent/devpki"
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
                                       --person N puts synthetic person N's ten fingers there
  edgetrust-agent version

Try it with no hardware at all (simulated TPM, emulated sensors, development PKI):

  edgetrust-agent serve --dev --state /tmp/agent

Then point any SBI client (MOSIP registration client, eSignet, edgetrust-ctk) at
http://127.0.0.1:4501/. Verifiers need the CA certificates it prints
(dev-pki/provider-ca.pem for the DEVICE domain, dev-pki/ftm-ca.pem for FTM).

Every flag of serve can also come from the environment (EDGETRUST_AGENT_STATE,
EDGETRUST_AGENT_TPM, EDGETRUST_AGENT_PORT, ...) or a JSON config file (--config);
flags win over the environment, which wins over the file.

Run "edgetrust-agent serve --help" for the serve flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "enrol":
		err = enrolCmd(args[1:], stdout, stderr)
	case "status", "set-status", "rotate-key", "present", "finger":
		err = control(args[0], args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "edgetrust-agent", agent.ServiceVersion)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "edgetrust-agent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "edgetrust-agent %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "edgetrust-agent %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// stringList is a repeatable flag.
type stringList = cli.StringList

// envDefault fills unset flags from EDGETRUST_AGENT_<NAME>.
func envDefault(fs *flag.FlagSet, set map[string]bool) error {
	return cli.EnvDefaults(fs, "EDGETRUST_AGENT_", set)
}

// baseConfig is the configuration serve and enrol share: the file, then
// --state, --tpm and --dev from flags or the environment.
func baseConfig(path string, set map[string]bool, state, tpmURL string, dev bool) (agent.Config, error) {
	var cfg agent.Config
	if path != "" {
		c, err := agent.LoadConfig(path)
		if err != nil {
			return cfg, err
		}
		cfg = *c
	}
	if set["state"] {
		cfg.State = state
	}
	if set["tpm"] {
		cfg.TPM = tpmURL
	}
	if dev {
		cfg.Dev = true
	}
	return cfg, nil
}

// finishConfig requires a state directory, fills the --dev defaults (device
// set, seeded simulator) and validates.
func finishConfig(cfg *agent.Config, stateWhy string) error {
	if cfg.State == "" {
		return usageError{fmt.Errorf("--state DIR is required (%s)", stateWhy)}
	}
	if cfg.Dev {
		if len(cfg.Devices) == 0 {
			cfg.Devices = agent.DevDevices(cfg.SerialPrefix)
		}
		if cfg.TPM == "" {
			u, err := agent.DevTPMURL(cfg.State)
			if err != nil {
				return err
			}
			cfg.TPM = u
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON config file (devices, encryption certificates, ...)")
	state := fs.String("state", "", "state directory: TPM key blobs, certificates, control socket (required)")
	tpmURL := fs.String("tpm", "", "TPM: sim, swtpm://127.0.0.1:2321 or /dev/tpmrm0 (default with --dev: a simulator seeded from the state directory)")
	port := fs.Int("port", 0, "port on 127.0.0.1; 0 takes the first free one in 4501-4600")
	dev := fs.Bool("dev", false, "development mode: simulated TPM, emulated sensors for every CTK device kind, development PKI")
	env := fs.String("env", "", "environment the device is registered for: Staging, Developer, Pre-Production, Production (default Developer)")
	metrics := fs.String("metrics", "", "serve /metrics and /healthz on this address, e.g. 127.0.0.1:9464 (off by default)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "json", "json or text")
	var encCerts stringList
	fs.Var(&encCerts, "encryption-cert", "`[domainUri=]FILE`: PEM certificate auth captures are encrypted to; repeatable; without domainUri it serves any domainUri")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: edgetrust-agent serve [flags]\n\nRuns the SBI service. Stop it with Ctrl-C (SIGINT) or SIGTERM.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nExample:\n  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert https://ida.example.org=ida.pem\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefault(fs, set); err != nil {
		return usageError{err}
	}

	cfg, err := baseConfig(*configPath, set, *state, *tpmURL, *dev)
	if err != nil {
		return err
	}
	if set["port"] {
		cfg.Port = *port
	}
	if set["env"] {
		cfg.Env = *env
	}
	if set["metrics"] {
		cfg.MetricsAddr = *metrics
	}
	for _, e := range encCerts {
		if cfg.EncryptionCerts == nil {
			cfg.EncryptionCerts = map[string]string{}
		}
		domain, file, ok := strings.Cut(e, "=")
		if !ok || strings.HasPrefix(e, "/") || strings.HasPrefix(e, ".") {
			domain, file = "*", e
		}
		cfg.EncryptionCerts[domain] = file
	}
	if err := finishConfig(&cfg, "where TPM key blobs and certificates live"); err != nil {
		return err
	}
	lvl := new(slog.LevelVar)
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)}
	}
	var h slog.Handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})
	if *logFormat == "text" {
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})
	}
	log := slog.New(h)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := agent.Start(ctx, cfg, agent.Options{Logger: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(agent.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
		ms := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "err", err)
			}
		}()
		defer ms.Close()
	}
	info := map[string]any{"url": svc.URL(), "port": svc.Port(), "state": cfg.State}
	if ce, _ := agent.LoadCentralEnrolment(cfg.State); ce != nil && len(ce.Devices) > 0 {
		// Enrolled: central's provider CA issued both device and FTM certificates.
		ca := filepath.Join(cfg.State, "devices", ce.Devices[0], agent.ProviderCAFile)
		info["deviceCA"], info["ftmCA"], info["central"] = ca, ca, ce.URL
	} else if cfg.Dev {
		info["deviceCA"] = filepath.Join(cfg.State, "dev-pki", devpki.ProviderCACert)
		info["ftmCA"] = filepath.Join(cfg.State, "dev-pki", devpki.FTMCACert)
	}
	var devs []string
	for _, d := range svc.Devices() {
		devs = append(devs, d.ID()+" ("+d.Config().Type+" "+d.Config().SubType+", "+d.Config().Purpose+", "+d.Status()+")")
	}
	info["devices"] = devs
	b, _ := json.Marshal(info)
	fmt.Fprintln(stdout, string(b))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

func control(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_AGENT_STATE"), "state directory of the running agent")
	device := fs.String("device", "", "device id (serial number)")
	status := fs.String("status", "", `"Ready", "Not Ready" or "Not Registered"`)
	present := fs.String("present", "", "true or false")
	person := fs.String("person", "", "present: put synthetic person N's fingers on an emulated finger sensor\n(fresh impressions of the same fingers on every capture; N is any number)")
	finger := fs.String("finger", "", `present --person: the finger a bioSubType "UNKNOWN" capture gets (default "Right IndexFinger")`)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return usageError{errors.New("--state DIR is required (the running agent's state directory)")}
	}
	req := agent.ControlRequest{Device: *device}
	switch cmd {
	case "status":
		req.Op = "list"
	case "set-status":
		req.Op, req.Status = "set-status", *status
	case "rotate-key":
		req.Op = "rotate-key"
	case "present", "finger":
		p, err := strconv.ParseBool(*present)
		if err != nil {
			return usageError{errors.New("--present must be true or false")}
		}
		req.Op, req.Present = "present", &p
		if *person != "" {
			n, err := strconv.ParseUint(*person, 10, 64)
			if err != nil {
				return usageError{errors.New("--person must be a number (the synthetic person's seed)")}
			}
			req.Person, req.Finger = &n, *finger
		} else if *finger != "" {
			return usageError{errors.New("--finger goes with --person")}
		}
	}
	if req.Op != "list" && *device == "" {
		return usageError{errors.New("--device ID is required (edgetrust-agent status lists them)")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
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
