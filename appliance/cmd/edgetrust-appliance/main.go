// Command edgetrust-appliance is the edge appliance. See `edgetrust-appliance help`.
package main

import (
	"bytes"
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
	"strings"
	"syscall"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
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

Run "edgetrust-appliance serve --help" for the serve flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type usageError struct{ error }

// invalidError is a verify answer of valid:false (exit code 1, nothing else wrong).
var errInvalid = errors.New("capture is not valid")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "cert":
		err = cert(args[1:], stdout, stderr)
	case "status":
		err = status(args[1:], stdout, stderr)
	case "verify":
		err = verify(args[1:], stdout, stderr)
	case "verify-qr":
		err = verifyQR(args[1:], stdout, stderr)
	case "enrol":
		err = enrolCmd(args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "edgetrust-appliance", appliance.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "edgetrust-appliance: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errInvalid):
		return 1
	}
	fmt.Fprintf(stderr, "edgetrust-appliance %s: %v\n", args[0], err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

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

// envDefault fills unset flags from EDGETRUST_APPLIANCE_<NAME>.
func envDefault(fs *flag.FlagSet, set map[string]bool) error {
	return cli.EnvDefaults(fs, "EDGETRUST_APPLIANCE_", set)
}

func parse(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefault(fs, set); err != nil {
		return nil, usageError{err}
	}
	return set, nil
}

// tpmURL maps "sim" to the simulator seeded from the state directory, so
// the key blobs saved there load again after a restart (development only).
func tpmURL(u, state string) (string, error) {
	if u != "sim" {
		return u, nil
	}
	return tpmkey.DevSimURL(state)
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON config file with the fields below in camelCase (state, listen, central, feedKeys, ...)")
	state := fs.String("state", "", "state directory: the trust store (badger), TPM key blobs, certificates (required)")
	listen := fs.String("listen", appliance.DefaultListen, "API address, plain HTTP (TLS/mTLS for relying parties comes with the auth API)")
	central := fs.String("central", "", "central's base URL, e.g. https://central.example.org; without it the trust data is never refreshed")
	var feedKeys stringList
	fs.Var(&feedKeys, "feed-key", "`FILE` with central's Ed25519 feed-signing public key (PEM \"PUBLIC KEY\"); repeatable, for key rotation")
	centralCA := fs.String("central-ca", "", "PEM `FILE` of CA certificates for central's TLS certificate (default: system roots)")
	tpmFlag := fs.String("tpm", "", "TPM for the SBI decryption key: sim (development; seeded from the state directory), swtpm://127.0.0.1:2321 or /dev/tpmrm0; without it auth captures cannot be fully verified")
	name := fs.String("name", "", "name in the appliance's certificates (default: the host name)")
	maxStale := fs.Duration("max-staleness", appliance.DefaultMaxStaleness, "declared maximum staleness: trust data older than this (no fresh checkpoint from central) is stale")
	policy := fs.String("stale-policy", string(captureverify.StaleReject), "what stale means for answers: reject (invalid, fail closed) or warn (judged on the data at hand, flagged stale)")
	wait := fs.Duration("poll-wait", appliance.DefaultPollWait, "long-poll wait asked of central; new entries (revocations) arrive as soon as central has them")
	maxAge := fs.Duration("capture-max-age", captureverify.DefaultMaxAge, "how old a capture's timestamps may be")
	maxFuture := fs.Duration("capture-max-future", captureverify.DefaultMaxFuture, "how far in the future a capture's timestamps may be (clock skew)")
	rate := fs.Float64("rate-limit", api.DefaultRateLimit, "verifications per second the API accepts (burst: one second's worth); negative: unlimited")
	inflight := fs.Int("max-in-flight", 0, "verifications running at once (default 4 × cores); more wait up to 2s, then 503")
	qrTrust := fs.String("qr-trust", "", "`FILE`: signed Claim 169 trust list (edgetrust-central trust export) for POST /v1/qr/verify; reloaded when it changes")
	qrRev := fs.String("qr-revocations", "", "`FILE`: signed Claim 169 revocation list; reloaded when it changes")
	id := fs.String("id", "", "the appliance's `ID` at central, naming its records feed records.<ID> (default: the id it was enrolled as)")
	fmr := fs.Float64("target-fmr", auth.DefaultTargetFMR, "fingerprint false-match rate POST /v1/auth decides at (3e-5 to 0.01; lower is stricter)")
	lockN := fs.Int("lockout-failures", auth.DefaultLockoutFailures, "consecutive failed matches (demographic or fingerprint) that lock a VID out; negative: never")
	lockFor := fs.Duration("lockout-duration", auth.DefaultLockoutDuration, "how long a VID stays locked out")
	rpRate := fs.Float64("rp-rate-limit", auth.DefaultRPRate, "authentications per second each relying party may ask for; negative: unlimited")
	rpBurst := fs.Int("rp-burst", auth.DefaultRPBurst, "how many authentications a relying party may ask for at once (token bucket size)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	auditEvery := fs.Int("audit-checkpoint-every", 100, "sign a decision-log checkpoint with the TPM after this many decisions")
	auditInterval := fs.Duration("audit-checkpoint-interval", time.Minute, "... or after this long with unsigned decisions (also paces uploads to central)")
	logFormat := fs.String("log-format", "json", "json or text")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: edgetrust-appliance serve [flags]\n\nFollows central's trust feed and serves the verification API until Ctrl-C (SIGINT) or SIGTERM.\n\nFlags (each also as EDGETRUST_APPLIANCE_<FLAG>, e.g. EDGETRUST_APPLIANCE_MAX_STALENESS=5m):\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Example:
  edgetrust-appliance serve --state /var/lib/edgetrust-appliance --tpm /dev/tpmrm0 \
      --central https://central.example.org --feed-key /etc/edgetrust/central-feed.pem

Authentication (POST /v1/auth) needs a TPM, the appliance's id and central:
records for this appliance arrive on central's feed records.<id>, sealed to the
TPM key; relying parties present the API key central issued them
(Authorization: Bearer etr_...). Every decision is signed by the TPM key and
audited. Enrol first (edgetrust-appliance enrol --id ID ...) so the id and the
signing certificate central issues are in the state directory.

Endpoints: POST /v1/auth, POST /v1/captures/verify, POST /v1/qr/verify,
GET /v1/devices/{serial}, GET /v1/status, GET /healthz, GET /metrics.
See docs/api/appliance.md.
`)
	}
	set, err := parse(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var cfg appliance.Config
	if *configPath != "" {
		c, err := appliance.LoadConfig(*configPath)
		if err != nil {
			return usageError{err}
		}
		cfg = *c
	}
	str := func(flag string, dst *string, v string) {
		if set[flag] || (*dst == "" && v != "") {
			*dst = v
		}
	}
	dur := func(flag string, dst *appliance.Duration, v time.Duration) {
		if set[flag] || *dst == 0 {
			*dst = appliance.Duration(v)
		}
	}
	str("state", &cfg.State, *state)
	str("listen", &cfg.Listen, *listen)
	str("central", &cfg.Central, *central)
	str("central-ca", &cfg.CentralCA, *centralCA)
	str("tpm", &cfg.TPM, *tpmFlag)
	str("name", &cfg.Name, *name)
	str("stale-policy", &cfg.StalePolicy, *policy)
	str("qr-trust", &cfg.QRTrustList, *qrTrust)
	str("qr-revocations", &cfg.QRRevocations, *qrRev)
	str("id", &cfg.ID, *id)
	dur("lockout-duration", &cfg.LockoutDuration, *lockFor)
	if set["target-fmr"] || cfg.TargetFMR == 0 {
		cfg.TargetFMR = *fmr
	}
	if set["lockout-failures"] || cfg.LockoutFailures == 0 {
		cfg.LockoutFailures = *lockN
	}
	if set["rp-rate-limit"] || cfg.RPRateLimit == 0 {
		cfg.RPRateLimit = *rpRate
	}
	if set["rp-burst"] || cfg.RPBurst == 0 {
		cfg.RPBurst = *rpBurst
	}
	if set["feed-key"] {
		cfg.FeedKeys = feedKeys
	}
	dur("max-staleness", &cfg.MaxStaleness, *maxStale)
	dur("poll-wait", &cfg.PollWait, *wait)
	dur("capture-max-age", &cfg.CaptureMaxAge, *maxAge)
	dur("capture-max-future", &cfg.CaptureMaxFuture, *maxFuture)
	if set["rate-limit"] || cfg.RateLimit == 0 {
		cfg.RateLimit = *rate
	}
	if set["max-in-flight"] || cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = *inflight
	}
	if cfg.State == "" {
		return usageError{errors.New("--state DIR is required (where the trust store and TPM key blobs live)")}
	}
	if cfg.TPM, err = tpmURL(cfg.TPM, cfg.State); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	log, err := logger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := appliance.Start(ctx, cfg, appliance.Options{Logger: log, NewAuditor: auditor(cfg, *auditEvery, *auditInterval)})
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.Status()
	info := map[string]any{"url": a.URL(), "state": cfg.State, "feedSize": st.Trust.Size, "stale": st.Stale}
	if st.Decryption.Configured {
		info["encryptionCert"] = filepath.Join(cfg.State, tpmkey.CertFile)
		info["thumbprint"] = st.Decryption.Thumbprint
	}
	b, _ := json.Marshal(info)
	fmt.Fprintln(stdout, string(b))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

func logger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl := new(slog.LevelVar)
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want json or text", format)}
}

func cert(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "the appliance's state directory (required)")
	tpmFlag := fs.String("tpm", "", "TPM holding the key (as for serve; default: sim if the state directory has a simulator seed)")
	name := fs.String("name", "", "name in the certificates when they are first made (default: the host name)")
	chain := fs.Bool("chain", false, "also print the self-issued certificate that signed it")
	asJSON := fs.Bool("json", false, "print {thumbprint, certificate, file} as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance cert --state DIR [--tpm URL] [--chain] [--json]

Prints (as PEM) the certificate of the appliance's SBI decryption key, making the
key in the TPM and the certificate on first use. Agents encrypt auth captures to
it:  edgetrust-agent serve ... --encryption-cert appliance.pem
Until central issues appliance certificates (with enrolment), it is issued by a
second TPM key of the appliance (self-issued). The file stays the same across
restarts, so its thumbprint does too. Safe to run while serve runs.

Flags (each also as EDGETRUST_APPLIANCE_<FLAG>):
`)
		fs.PrintDefaults()
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *state == "" {
		return usageError{errors.New("--state DIR is required")}
	}
	u, err := *tpmFlag, error(nil)
	if u == "" {
		if _, err := os.Stat(filepath.Join(*state, tpmkey.SimSeedFile)); err != nil {
			return usageError{errors.New("--tpm is required: sim, swtpm://HOST:PORT or /dev/tpmrm0 (the one serve uses)")}
		}
		u = "sim"
	}
	if u, err = tpmURL(u, *state); err != nil {
		return err
	}
	n := *name
	if n == "" {
		n, _ = os.Hostname()
	}
	k, err := tpmkey.Open(context.Background(), u, *state, n, time.Now())
	if err != nil {
		return err
	}
	defer k.Close()
	if *asJSON {
		b, _ := json.Marshal(map[string]string{"thumbprint": k.Thumbprint(), "certificate": string(tpmkey.PEM(k.Cert)),
			"file": filepath.Join(*state, tpmkey.CertFile), "subject": k.Cert.Subject.String(), "notAfter": k.Cert.NotAfter.UTC().Format(time.RFC3339)})
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	stdout.Write(tpmkey.PEM(k.Cert))
	if *chain {
		stdout.Write(tpmkey.PEM(k.Issuer))
	}
	return nil
}

// apiURL finds a running appliance: --api, or state/api.json.
func apiURL(api, state string) (string, error) {
	if api != "" {
		return strings.TrimSuffix(api, "/"), nil
	}
	if state == "" {
		return "", usageError{errors.New("pass --state DIR (of a running appliance) or --api URL")}
	}
	b, err := os.ReadFile(filepath.Join(state, appliance.APIFile))
	if err != nil {
		return "", fmt.Errorf("no appliance is running with state %s (no %s)", state, appliance.APIFile)
	}
	var f struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(b, &f) != nil || f.URL == "" {
		return "", fmt.Errorf("%s is unreadable", filepath.Join(state, appliance.APIFile))
	}
	return f.URL, nil
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func status(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of the running appliance")
	apiFlag := fs.String("api", "", "the appliance's API URL instead, e.g. http://127.0.0.1:8443")
	asJSON := fs.Bool("json", false, "print the raw JSON of GET /v1/status")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	u, err := apiURL(*apiFlag, *state)
	if err != nil {
		return err
	}
	resp, err := httpClient.Get(u + "/v1/status")
	if err != nil {
		return fmt.Errorf("appliance at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("appliance at %s answered %s", u, resp.Status)
	}
	if *asJSON {
		stdout.Write(b)
		return nil
	}
	var st api.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "appliance %s on %s\n", st.Version, u)
	age := "never synced"
	if st.Trust.CheckpointTime != nil {
		age = fmt.Sprintf("checkpoint %s, %ds old", st.Trust.CheckpointTime.UTC().Format(time.RFC3339), st.Trust.AgeSeconds)
	}
	stale := "fresh"
	if st.Stale {
		stale = "STALE (policy " + st.StalePolicy + ")"
	}
	fmt.Fprintf(stdout, "trust feed: %d entries (%d applied), %d vendors, %s, max staleness %ds: %s\n", st.Trust.Size, st.Applied, st.Vendors, age, st.Trust.MaxStalenessSeconds, stale)
	if s := st.Sync; s != nil {
		fmt.Fprintf(stdout, "central: %s, %d consecutive failures, %d batches refused", s.Central, s.Failures, s.RefusedTotal)
		if s.LastRefusal != "" {
			fmt.Fprintf(stdout, " (last: %s)", s.LastRefusal)
		}
		fmt.Fprintln(stdout)
		if s.LastError != "" {
			fmt.Fprintf(stdout, "last error: %s\n", s.LastError)
		}
	} else {
		fmt.Fprintln(stdout, "central: not configured")
	}
	if st.Decryption.Configured {
		fmt.Fprintf(stdout, "decryption key: TPM, certificate thumbprint %s\n", st.Decryption.Thumbprint)
	} else {
		fmt.Fprintln(stdout, "decryption key: none (auth captures cannot be fully verified)")
	}
	if st.Auth.Enabled {
		fmt.Fprintf(stdout, "authentication: on, appliance %s, %d record batches applied", st.ApplianceID, st.Auth.RecordsApplied)
		if s := st.Auth.RecordsSync; s != nil {
			fmt.Fprintf(stdout, " (feed %s: %d consecutive failures, %d batches refused)", s.Feed, s.Failures, s.RefusedTotal)
		}
		fmt.Fprintln(stdout)
	} else {
		fmt.Fprintf(stdout, "authentication: off (%s)\n", st.Auth.Disabled)
	}
	return nil
}

func verify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of the running appliance")
	apiFlag := fs.String("api", "", "the appliance's API URL instead")
	txn := fs.String("transaction-id", "", "the transactionId the capture was requested with (required)")
	reqFile := fs.String("request", "", "`FILE` with the CAPTURE request that was sent (optional)")
	prev := fs.String("previous-hash", "", "previousHash the capture continued (without --request; default: a first capture)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance verify --transaction-id ID [--request FILE] [--state DIR | --api URL] CAPTURE.json

Sends an SBI capture answer (the JSON a device returned to CAPTURE or RCAPTURE;
"-" reads stdin) to a running appliance and prints its answer. Exit code 0 when
valid, 1 when not.

Flags:
`)
		fs.PrintDefaults()
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("give exactly one capture file (or - for stdin)")}
	}
	if *txn == "" {
		return usageError{errors.New("--transaction-id is required: the capture is only valid for the transaction it was requested in")}
	}
	u, err := apiURL(*apiFlag, *state)
	if err != nil {
		return err
	}
	var raw []byte
	if fs.Arg(0) == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, captureverify.MaxRequestSize+1))
	} else {
		raw, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	body := map[string]any{"transactionId": *txn, "response": json.RawMessage(raw)}
	if *reqFile != "" {
		r, err := os.ReadFile(*reqFile)
		if err != nil {
			return err
		}
		body["request"] = json.RawMessage(r)
	}
	if *prev != "" {
		body["previousHash"] = *prev
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("the capture or request file is not JSON: %w", err)
	}
	resp, err := httpClient.Post(u+"/v1/captures/verify", "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("appliance at %s: %w", u, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("appliance answered %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	stdout.Write(out)
	var r captureverify.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return err
	}
	if !r.Valid {
		return errInvalid
	}
	return nil
}
