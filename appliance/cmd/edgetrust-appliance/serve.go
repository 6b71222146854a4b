package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/qrverify"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/clockskew"
	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("serve")
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON config file with the fields below in camelCase (state, listen, central, feedKeys, ...)")
	state := fs.String("state", "", "state directory: the trust store (badger), TPM key blobs, certificates (required)")
	listen := fs.String("listen", appliance.DefaultListen, "API address (HTTPS; plain HTTP only with "+insecureFlag+")")
	insecureHTTP := fs.Bool("insecure-http-loopback", false, "serve the API over plain HTTP, on a loopback --listen only (development)")
	tls12 := fs.Bool("tls12", false, "also accept TLS 1.2 clients (AEAD suites only); default TLS 1.3 only")
	var sans stringList
	fs.Var(&sans, "tls-san", "`NAME` or IP address in the appliance's TLS certificate; repeatable (default: the host name, localhost, 127.0.0.1, ::1 and the --listen host)")
	rootPin := fs.String("central-root-sha256", "", "SHA-256 of central's TLS root (edgetrust-central tls root), when it was not saved at enrolment (STATE/tls/central-root.pem)")
	central := fs.String("central", "", "central's base URL, e.g. https://central.example.org; without it the trust data is never refreshed")
	var feedKeys, replicas stringList
	fs.Var(&replicas, "central-replica", "`URL` of another replica of central (same PostgreSQL, same feed key); repeatable: the feeds fail over to them in turn")
	fs.Var(&feedKeys, "feed-key", "`FILE` with central's Ed25519 feed-signing public key (PEM \"PUBLIC KEY\"); repeatable, for key rotation")
	centralCA := fs.String("central-ca", "", "PEM `FILE` of central's TLS root (default: the root pinned at enrolment, STATE/tls/central-root.pem)")
	tpmFlag := fs.String("tpm", "", "TPM for the SBI decryption key: sim (development; seeded from the state directory), swtpm://127.0.0.1:2321 or /dev/tpmrm0; without it auth captures cannot be fully verified")
	name := fs.String("name", "", "name in the appliance's certificates (default: the host name)")
	maxStale := fs.Duration("max-staleness", appliance.DefaultMaxStaleness, "declared maximum staleness: trust data older than this (no fresh checkpoint from central) is stale")
	policy := fs.String("stale-policy", string(captureverify.StaleReject), "what stale means for answers: reject (invalid, fail closed) or warn (judged on the data at hand, flagged stale)")
	wait := fs.Duration("poll-wait", appliance.DefaultPollWait, "long-poll wait asked of central; new entries (revocations) arrive as soon as central has them")
	maxAge := fs.Duration("capture-max-age", captureverify.DefaultMaxAge, "how old a capture's timestamps may be")
	maxFuture := fs.Duration("capture-max-future", captureverify.DefaultMaxFuture, "how far in the future a capture's timestamps may be (clock skew)")
	rate := fs.Float64("rate-limit", api.DefaultRateLimit, "verifications per second the API accepts (burst: one second's worth); negative: unlimited")
	inflight := fs.Int("max-in-flight", 0, "verifications running at once (default 4 × cores); more wait up to 2s, then 503")
	qrRate := fs.Float64("qr-rate-limit", qrverify.DefaultRate, "QR verifications per second POST /v1/qr/verify accepts from all clients together (burst 50), then 429 with Retry-After")
	qrTrust := fs.String("qr-trust", "", "`FILE`: signed Claim 169 trust list (edgetrust-central trust export) for POST /v1/qr/verify; reloaded when it changes")
	qrRev := fs.String("qr-revocations", "", "`FILE`: signed Claim 169 revocation list; reloaded when it changes")
	id := fs.String("id", "", "the appliance's `ID` at central, naming its records feed records.<ID> (default: the id it was enrolled as)")
	fmr := fs.Float64("target-fmr", auth.DefaultTargetFMR, "fingerprint false-match rate POST /v1/auth decides at (3e-5 to 0.01; lower is stricter)")
	// Issue #18: per-modality thresholds (iris, face).
	irisThr := fs.Float64("iris-threshold", auth.DefaultIrisThreshold, "iris distance POST /v1/auth accepts at or under (0 to 0.5; lower is stricter)")
	faceThr := fs.Float64("face-threshold", auth.DefaultFaceThreshold, "face descriptor distance POST /v1/auth accepts under (0 to 1.5; lower is stricter)")
	lockN := fs.Int("lockout-failures", auth.DefaultLockoutFailures, "consecutive failed matches (demographic or fingerprint) that lock a VID out; negative: never")
	lockFor := fs.Duration("lockout-duration", auth.DefaultLockoutDuration, "how long a VID stays locked out")
	rpRate := fs.Float64("rp-rate-limit", auth.DefaultRPRate, "authentications per second each relying party may ask for; negative: unlimited")
	rpAuth := fs.String("rp-auth", auth.RPAuthCertKey, "how relying parties authenticate on POST /v1/auth: cert+key (a client certificate from central, edgetrust-central rp cert issue, and the API key), cert (the certificate alone) or key (the API key alone: an explicit fallback that logs a warning at start, and the only choice with --insecure-http-loopback)")
	rpBurst := fs.Int("rp-burst", auth.DefaultRPBurst, "how many authentications a relying party may ask for at once (token bucket size)")
	attestPoll := fs.Duration("attest-poll", 0, "ask central for an attestation challenge this often and answer with a TPM quote, e.g. 1m (0: off; decision 0018)")
	bootLog := fs.String("boot-log", attest.BootLogPath, "the platform's TCG boot log, sent with each quote of PCRs 0-7 so central can replay it (a missing file sends none; \""+attest.NoBootLog+"\" never sends one)")
	unwrap := fs.String("unwrap", unwrapDefault(), "where session keys are unwrapped: software (a TPM-sealed key in memory, fast; decision 0017) or tpm (every unwrap in the chip); fixed when the state directory gets its encryption key")
	signing := fs.String("decision-signing", appliance.SignDelegated, "delegated: decisions signed ES256 by an in-memory key the TPM key vouches for (fast); tpm: every decision signed RS256 in the TPM (a chip's signing time each)")
	dlife := fs.Duration("delegate-lifetime", delegate.DefaultLifetime, "how long a decision delegate's credential is valid (2m to 24h); renewed at half of it")
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
TPM key; relying parties present the TLS client certificate central issued
them (edgetrust-central rp cert issue, from their own CSR) and the API key
(Authorization: Bearer etr_...): --rp-auth cert+key, the default. --rp-auth
cert drops the key; --rp-auth key drops the certificate (a fallback that
logs a warning).
Every decision is signed by the TPM key and audited.

With --tpm the TLS key (server, and client towards central) is made in the
TPM and saved only as a TPM blob (STATE/tpm/appliance-tls.key); a software
key left by an older version moves into the TPM at the next renewal. Enrol first (edgetrust-appliance enrol --id ID ...) so the id and the
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
		return cli.Usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	var cfg appliance.Config
	if *configPath != "" {
		c, err := appliance.LoadConfig(*configPath)
		if err != nil {
			return cli.Usage(err)
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
	str("decision-signing", &cfg.DecisionSigning, *signing)
	str("unwrap", &cfg.SessionKeyUnwrap, *unwrap)
	rpAuthChosen := set["rp-auth"] || cfg.RPAuth != "" // the flag, or rpAuth in the config file
	str("rp-auth", &cfg.RPAuth, *rpAuth)
	dur("delegate-lifetime", &cfg.DelegateLifetime, *dlife)
	dur("lockout-duration", &cfg.LockoutDuration, *lockFor)
	if set["target-fmr"] || cfg.TargetFMR == 0 {
		cfg.TargetFMR = *fmr
	}
	if set["iris-threshold"] || cfg.IrisThreshold == 0 {
		cfg.IrisThreshold = *irisThr
	}
	if set["face-threshold"] || cfg.FaceThreshold == 0 {
		cfg.FaceThreshold = *faceThr
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
	if set["central-replica"] {
		cfg.CentralReplicas = replicas
	}
	dur("max-staleness", &cfg.MaxStaleness, *maxStale)
	dur("poll-wait", &cfg.PollWait, *wait)
	dur("capture-max-age", &cfg.CaptureMaxAge, *maxAge)
	dur("capture-max-future", &cfg.CaptureMaxFuture, *maxFuture)
	if set["rate-limit"] || cfg.RateLimit == 0 {
		cfg.RateLimit = *rate
	}
	if set["qr-rate-limit"] || cfg.QRRateLimit == 0 {
		cfg.QRRateLimit = *qrRate
	}
	if set["max-in-flight"] || cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = *inflight
	}
	if cfg.State == "" {
		return cli.Usage(errors.New("--state DIR is required (where the trust store and TPM key blobs live)"))
	}
	if cfg.TPM, err = tpmURL(cfg.TPM, cfg.State); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return cli.Usage(err)
	}
	if err := tlsx.CheckListen(cfg.Listen, *insecureHTTP, *insecureHTTP, insecureFlag); err != nil {
		return cli.Usage(err)
	}
	if *insecureHTTP && cfg.RPAuth != auth.RPAuthKey {
		why := "the default"
		if rpAuthChosen {
			why = "chosen"
		}
		return cli.Usage(fmt.Errorf("--rp-auth %s (%s) needs TLS for relying parties' client certificates: drop %s, or pass --rp-auth key to accept API keys alone (development only)", cfg.RPAuth, why, insecureFlag))
	}
	log, err := cli.NewLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	names := []string(sans)
	if len(names) == 0 {
		names = tlsx.DefaultSANs(cfg.Listen)
	}
	enrolledID, _ := tpmkey.ReadID(cfg.State)
	if cfg.ID != "" && enrolledID != "" && cfg.ID != enrolledID {
		enrolledID = ""
	}
	// The command opens the TPM keys and hands them to the appliance: its
	// TLS keys live in the same TPM connection (a swtpm serves one client
	// at a time).
	var keys *tpmkey.Keys
	if cfg.TPM != "" {
		if keys, err = tpmkey.Open(ctx, cfg.TPM, cfg.State, cfg.Name, time.Now(), cfg.SessionKeyUnwrap == appliance.UnwrapSoftware); err != nil {
			return fmt.Errorf("TPM: %w", err)
		}
		defer keys.Close()
	}
	ts := tlsSetup{state: cfg.State, central: cfg.Central, id: enrolledID, caFile: cfg.CentralCA, pin: *rootPin, names: names,
		name: cfg.Name, allowTLS12: *tls12, pollWait: time.Duration(cfg.PollWait), log: log, keys: keys}
	at, err := setupTLS(ctx, ts)
	if err != nil {
		return err
	}
	if cfg.RPAuth == auth.RPAuthKey {
		log.Warn("--rp-auth key: relying parties authenticate with an API key alone, no client certificate; use it only as a fallback while they obtain certificates (edgetrust-central rp cert issue)", "rpAuth", cfg.RPAuth)
	}
	if cfg.RPAuth != auth.RPAuthKey && at.server.ClientCAs == nil {
		log.Warn("--rp-auth "+cfg.RPAuth+" without central's TLS root (enrol first, or --central-ca): every relying party is refused", "rpAuth", cfg.RPAuth)
	}
	// The command builds central's client (pinned root, client certificate):
	// appliance.Start would otherwise make its own from CentralCA.
	cfg.CentralCA = ""
	opts := appliance.Options{Logger: log, NewAuditor: auditor(cfg, *auditEvery, *auditInterval, at.upload), Keys: keys}
	// A deliberately wrong clock, for fault injection only (internal/clockskew):
	// the clock captures, QR codes and the trust data are judged by.
	now, skew, err := clockskew.FromEnv()
	if err != nil {
		return cli.Usage(err)
	}
	if skew != 0 {
		log.Warn("the clock is skewed on purpose (a test setting): verdicts are judged on it", "env", clockskew.Env, "skew", skew.String())
	}
	opts.Now = now
	opts.Sync.Client = at.central
	opts.Collectors = append(opts.Collectors, at.expiryGauge(time.Now))
	opts.AttestPoll = *attestPoll
	opts.BootLog = *bootLog
	if !*insecureHTTP {
		opts.TLS = at.server
	}
	a, err := appliance.Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.Status()
	info := map[string]any{"url": a.URL(), "state": cfg.State, "feedSize": st.Trust.Size, "stale": st.Stale}
	switch {
	case *insecureHTTP:
		log.Warn("serving plain HTTP on loopback (" + insecureFlag + "): development only")
	case at.renewer != nil:
		info["tlsCert"] = at.fromCert
	default:
		info["tlsCertSha256"] = at.selfSHA
		log.Warn("serving a self-signed TLS certificate until the appliance is enrolled with central; relying parties pin it", "sha256", at.selfSHA)
	}
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
