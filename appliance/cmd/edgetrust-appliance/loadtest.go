package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance/loadgen"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

const loadtestAbout = `Sizes an appliance: sends prepared POST /v1/auth and POST /v1/captures/verify
requests from --clients concurrent clients (each sends its next request when
the last is answered, over one kept-alive connection) and prints throughput,
latency p50/p95/p99/max, the decisions (accepted, refused and by which code)
and failures (no answer or a non-2xx status), per kind of request: auth-demo,
auth-bio (an auth request with biometrics), verify. The load is vegeta's.

The requests come from JSON Lines files, one request body per line, exactly as
docs/api/appliance.md defines them:
  --auth FILE     POST /v1/auth bodies (demographic, or with "biometrics": the
                  SBI CAPTURE answer an agent returned for that transactionId)
  --verify FILE   POST /v1/captures/verify bodies ({"transactionId", "response"})
Both can be given; their lines are interleaved. Blank lines and lines starting
with # are skipped.

A biometric capture is single-use: the appliance refuses a second use as a
replay and a capture older than its --capture-max-age (default 2m) as stale.
So capture them shortly before the run, one per request (docs/operations.md,
"Sizing an appliance", shows how with edgetrust-agent), or run the appliance
under test with a longer --capture-max-age. Demographic bodies may be repeated
(--repeat).

It stops by itself after --count requests (default: every line once) or after
--duration, whichever comes first; Ctrl-C stops it early and still reports.
Exit status 0 when every request got a 2xx answer, 1 when any did not (refused
decisions are answers, not failures), 2 for usage errors.`

const loadtestExample = `  # relying party kiosk-a's API key, TLS root from the local appliance's state:
  edgetrust-appliance loadtest --state /var/lib/edgetrust-appliance \
      --api-key-file kiosk-a.key --auth demo.jsonl --repeat --count 2000 --clients 16
  # fingerprint authentications over mutual TLS (--rp-auth cert+key):
  edgetrust-appliance loadtest --api https://10.0.0.5:8443 --ca central-tls-root.pem \
      --cert kiosk-a.pem --key kiosk-a-key.pem --api-key-file kiosk-a.key \
      --auth finger.jsonl --clients 8 --duration 30s --json`

func loadtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("loadtest")
	state := fs.String("state", "", "the state `DIR`ectory of a local running appliance (its URL and TLS root)")
	apiFlag := fs.String("api", "", "the appliance's API `URL` instead (https://host:port)")
	caFile := fs.String("ca", "", "PEM `FILE` of the root(s) the appliance's TLS certificate chains to (with --api; default with --state: the state's)")
	certFile := fs.String("cert", "", "PEM `FILE` of the relying party's TLS client certificate, for an appliance with --rp-auth cert or cert+key")
	keyFile := fs.String("key", "", "PEM `FILE` of that certificate's private key")
	apiKeyFile := fs.String("api-key-file", "", "`FILE` holding the relying party's API key (etr_…), sent as Authorization: Bearer; not needed for verify")
	authFile := fs.String("auth", "", "JSON Lines `FILE` of POST /v1/auth request bodies")
	verifyFile := fs.String("verify", "", "JSON Lines `FILE` of POST /v1/captures/verify request bodies")
	clients := fs.Int("clients", 8, fmt.Sprintf("concurrent clients (1–%d)", loadgen.MaxClients))
	count := fs.Int("count", 0, "requests to send (default: every line once)")
	duration := fs.Duration("duration", time.Minute, fmt.Sprintf("stop after this long even if --count is not reached (at most %s)", loadgen.MaxDuration))
	repeat := fs.Bool("repeat", false, "cycle through the lines when --count exceeds them (demographic requests; captures are refused as replays)")
	asJSON := fs.Bool("json", false, "print the report as JSON (latencies in nanoseconds)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cli.SetHelp(fs, stderr, cli.Help{Usage: "edgetrust-appliance loadtest (--state DIR | --api URL --ca FILE) (--auth FILE | --verify FILE) [flags]",
		About: loadtestAbout, Example: loadtestExample, EnvPrefix: "EDGETRUST_APPLIANCE_"})
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *authFile == "" && *verifyFile == "" {
		return cli.Usage(errors.New("give --auth FILE and/or --verify FILE: the request bodies to send"))
	}
	if (*certFile == "") != (*keyFile == "") {
		return cli.Usage(errors.New("--cert and --key go together"))
	}
	if *clients < 1 || *clients > loadgen.MaxClients {
		return cli.Usage(fmt.Errorf("--clients %d: want 1 to %d", *clients, loadgen.MaxClients))
	}
	if *count < 0 || *count > loadgen.MaxCount {
		return cli.Usage(fmt.Errorf("--count %d: want 1 to %d", *count, loadgen.MaxCount))
	}
	if *duration <= 0 || *duration > loadgen.MaxDuration {
		return cli.Usage(fmt.Errorf("--duration %s: want more than 0 and at most %s", *duration, loadgen.MaxDuration))
	}
	base, err := apiURL(*apiFlag, *state)
	if err != nil {
		return err
	}
	var lists [][]loadgen.Request
	for _, f := range []struct{ name, path string }{{*authFile, loadgen.AuthPath}, {*verifyFile, loadgen.VerifyPath}} {
		if f.name == "" {
			continue
		}
		rs, err := loadgen.ReadRequestsFile(f.name, f.path)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("%s holds no requests", f.name)
		}
		lists = append(lists, rs)
	}
	reqs := loadgen.Interleave(lists...)
	if *count > len(reqs) && !*repeat {
		return cli.Usage(fmt.Errorf("--count %d is more than the %d requests in the files: give more lines, or --repeat (demographic requests only: a capture is refused as a replay the second time)", *count, len(reqs)))
	}

	hc, err := loadtestClient(base, *state, *caFile, *certFile, *keyFile)
	if err != nil {
		return err
	}
	h := http.Header{}
	if *apiKeyFile != "" {
		b, err := os.ReadFile(*apiKeyFile)
		if err != nil {
			return err
		}
		k := strings.TrimSpace(string(b))
		if !strings.HasPrefix(k, "etr_") || strings.ContainsAny(k, " \t\r\n") {
			return fmt.Errorf("%s: not an API key (want one line, etr_<id>_<secret>, as edgetrust-central rp key add printed it)", *apiKeyFile)
		}
		h.Set("Authorization", "Bearer "+k)
	}
	cfg := loadgen.Config{Base: base, Client: hc, Header: h, Requests: reqs, Clients: *clients, Count: *count,
		Duration: *duration, Repeat: *repeat}
	if !*quiet {
		cfg.Progress = stderr
		if f, ok := stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				cfg.Terminal = true
			}
		}
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	if rep.Failed() > 0 {
		return cli.Code(cli.ExitFailure)
	}
	return nil
}

// loadtestClient trusts --ca (or the state's TLS root) and presents the
// client certificate, if any.
func loadtestClient(base, state, caFile, certFile, keyFile string) (*http.Client, error) {
	if strings.HasPrefix(base, "http://") {
		if certFile != "" || caFile != "" {
			return nil, cli.Usage(errors.New("--ca and --cert need an https:// appliance"))
		}
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	rootFile := caFile
	if rootFile == "" {
		if state == "" {
			return nil, cli.Usage(errors.New("--api https://… needs --ca FILE: the root the appliance's certificate chains to (central's TLS root, or the self-signed certificate)"))
		}
		rootFile = filepath.Join(state, apiRootFile)
	}
	roots, err := tlsx.ReadRoots(rootFile)
	if err != nil {
		return nil, fmt.Errorf("the appliance's TLS root: %w", err)
	}
	opts := tlsx.ClientOptions{Roots: roots, AllowTLS12: true}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert %s --key %s: %w", certFile, keyFile, err)
		}
		opts.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	cfg, err := tlsx.ClientConfig(opts)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(base); err == nil {
		cfg.ServerName = u.Hostname()
	}
	return tlsx.HTTPClient(cfg, 30*time.Second, 0), nil
}
