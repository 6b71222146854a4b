// Command edgetrust-central is the device trust registry. See `edgetrust-central help`.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/central/store/pgstore"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/enrol"
)

const usage = `edgetrust-central — the device trust registry: vendors and their provider CAs,
TPM-attested enrolment of devices and appliances, revocation, an audit log,
and the signed "trust" feed appliances follow.

Server:
  edgetrust-central serve [flags]          run the API (serve --help for flags)
  edgetrust-central admin init --state DIR mint an admin token into DIR/admin-token (0600)
  edgetrust-central feed-key --state DIR   print the feed's public key (PEM) for appliances

Admin (over the API, authenticated by an admin token):
  edgetrust-central vendor add --id ID --name NAME
  edgetrust-central vendor list
  edgetrust-central vendor revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central device list [--vendor ID] [--status S]
  edgetrust-central device show --serial SN
  edgetrust-central device revoke|suspend|reinstate --serial SN [--serial SN ...] [--reason TEXT]
  edgetrust-central token create --vendor ID [--ttl 15m]       a one-use device enrolment token
  edgetrust-central token create --appliance ID [--ttl 15m]    a one-use appliance enrolment token
  edgetrust-central appliance list
  edgetrust-central appliance show --id ID
  edgetrust-central appliance revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central appliance group --id ID --group G        move an appliance to a records group
  edgetrust-central rp add --id ID --name NAME --auth-type demo|bio-Finger|... [--attr NAME ...]
  edgetrust-central rp list
  edgetrust-central rp revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central rp key add --id ID                     an API key (etr_...), shown once
  edgetrust-central rp key revoke --id ID --key KEYID

People and VIDs (records reach the appliances of the person's group, sealed to each):
  edgetrust-central person enrol --demographics FILE.json --capture RCAPTURE.json [--capture ...]
                                 [--group G] [--vid-kind perpetual|temporary|one-time]
  edgetrust-central person show --uin UIN
  edgetrust-central person lock|unlock --uin UIN --auth-type bio-Finger [--auth-type demo]
  edgetrust-central vid issue --uin UIN [--kind perpetual|temporary|one-time] [--ttl 30m]
  edgetrust-central vid list --uin UIN [--show-numbers]
  edgetrust-central vid revoke --vid VID --reason TEXT
  edgetrust-central audit list [--subject device:SN] [--after N]
  edgetrust-central audit verify            check the audit log's hash chain

Claim 169 identity QR codes (run where the state directory is):
  edgetrust-central issuer init --state DIR [--alg EdDSA|ES256] [--issuer URI]
  edgetrust-central credential issue --state DIR --in people.csv --out qr/ --png
  edgetrust-central credential revoke --state DIR --id ID
  edgetrust-central trust export --state DIR --out lists/   # for offline verifiers

Admin commands find central with --central URL (EDGETRUST_CENTRAL_URL, default
http://127.0.0.1:8443) and the token with --admin-token-file FILE
(EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE) or EDGETRUST_CENTRAL_ADMIN_TOKEN; --json
prints the API's answer.

Start on one machine:

  export EDGETRUST_CENTRAL_PASSPHRASE='a long passphrase'   # unlocks central's keys
  edgetrust-central serve --state /var/lib/edgetrust-central \
      --ek-allow /etc/edgetrust/ek-allow.txt --ek-ca /etc/edgetrust/tpm-vendor-cas.pem

The first start creates the keys and writes the first admin token to
STATE/admin-token (mode 0600). Then:

  export EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE=/var/lib/edgetrust-central/admin-token
  edgetrust-central vendor add --id ACME --name "Acme Biometrics"
  edgetrust-central token create --vendor ACME
  # on the device: edgetrust-agent enrol --central URL --token ete_...
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	cmd := args[0]
	switch cmd {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "admin":
		if len(args) < 2 || args[1] != "init" {
			err = usageError{errors.New("want: admin init --state DIR")}
		} else {
			cmd = "admin init"
			err = adminInit(args[2:], stdout, stderr)
		}
	case "feed-key":
		err = feedKey(args[1:], stdout, stderr)
	case "issuer", "credential", "trust":
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			err = usageError{fmt.Errorf("%s needs a subcommand\n\n%s", cmd, issuerUsage)}
		} else {
			cmd += " " + args[1]
			err = issuerCommand(args[0], args[1], args[2:], stdout, stderr)
		}
	case "vendor", "device", "token", "appliance", "rp", "audit", "person", "vid":
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			err = usageError{fmt.Errorf("%s needs a subcommand; see edgetrust-central help", cmd)}
		} else if args[0] == "rp" && args[1] == "key" {
			if len(args) < 3 || strings.HasPrefix(args[2], "-") {
				err = usageError{errors.New("rp key needs add or revoke")}
			} else {
				cmd += " key " + args[2]
				err = adminCommand("rp", "key "+args[2], args[3:], stdout, stderr)
			}
		} else {
			cmd += " " + args[1]
			err = adminCommand(args[0], args[1], args[2:], stdout, stderr)
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "edgetrust-central: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgetrust-central %s: %v\n", cmd, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// envDefault fills unset flags from EDGETRUST_CENTRAL_<NAME>.
func envDefault(fs *flag.FlagSet, set map[string]bool) error {
	return cli.EnvDefaults(fs, "EDGETRUST_CENTRAL_", set)
}

// Config is the server's configuration file (JSON); flags and the
// environment override it.
type Config struct {
	State          string  `json:"state"`
	Addr           string  `json:"addr"`
	Store          string  `json:"store"`
	PGDSN          string  `json:"pgDsn"`
	PassphraseFile string  `json:"passphraseFile"`
	EKAllow        string  `json:"ekAllow"`
	EKCA           string  `json:"ekCa"`
	TLSCert        string  `json:"tlsCert"`
	TLSKey         string  `json:"tlsKey"`
	EnrolRate      float64 `json:"enrolRate"`
	AdminRate      float64 `json:"adminRate"`
	TrustProxy     bool    `json:"trustProxy"`
	LogLevel       string  `json:"logLevel"`
	CaptureMaxAge  string  `json:"captureMaxAge"`
}

// storeFlags are the flags that open the store (serve and admin init).
type storeFlags struct {
	cfg Config
	fs  *flag.FlagSet
}

func newServerFlags(name string, stderr io.Writer) (*storeFlags, *string) {
	s := &storeFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.SetOutput(stderr)
	c := &s.cfg
	config := s.fs.String("config", "", "JSON config file (keys as in the flags: state, addr, store, pgDsn, ekAllow, ekCa, ...)")
	s.fs.StringVar(&c.State, "state", "", "state directory: keyring, feed key, badger data, admin token (required)")
	s.fs.StringVar(&c.Store, "store", "badger", "badger (embedded, one node) or postgres (several replicas; needs --pg-dsn)")
	s.fs.StringVar(&c.PGDSN, "pg-dsn", "", "PostgreSQL DSN, e.g. postgres://central@db/edgetrust (prefer EDGETRUST_CENTRAL_PG_DSN: it may hold a password)")
	return s, config
}

// parse parses args, then fills flags not given on the command line from
// the environment (EDGETRUST_CENTRAL_*), then from the --config file:
// flags win over the environment, which wins over the file.
func (s *storeFlags) parse(args []string, config *string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if s.fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", s.fs.Arg(0))}
	}
	cli := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { cli[f.Name] = true })
	if err := envDefault(s.fs, cli); err != nil {
		return usageError{err}
	}
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return err
		}
		var file map[string]any
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var typed Config
		if err := dec.Decode(&typed); err != nil {
			return usageError{fmt.Errorf("config %s: %w", *config, err)}
		}
		json.Unmarshal(b, &file)
		for k, v := range file {
			name := kebab(k)
			if cli[name] || s.fs.Lookup(name) == nil {
				continue
			}
			if v == nil || v == "" || v == false || v == 0.0 {
				continue
			}
			if err := s.fs.Set(name, fmt.Sprint(v)); err != nil {
				return usageError{fmt.Errorf("config %s: %s: %w", *config, k, err)}
			}
			cli[name] = true
		}
	}
	if s.cfg.State == "" {
		return usageError{errors.New("--state DIR is required (central's keys and data live there)")}
	}
	return nil
}

// kebab turns a config key (pgDsn) into its flag name (pg-dsn).
func kebab(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func openStore(ctx context.Context, c Config, log *slog.Logger) (store.Store, error) {
	switch c.Store {
	case "", "badger":
		return badgerstore.Open(filepath.Join(c.State, "badger"), badgerstore.Options{})
	case "postgres":
		if c.PGDSN == "" {
			return nil, usageError{errors.New("--store postgres needs --pg-dsn or EDGETRUST_CENTRAL_PG_DSN")}
		}
		return pgstore.Open(ctx, c.PGDSN, log)
	}
	return nil, usageError{fmt.Errorf("--store %q: want badger or postgres", c.Store)}
}

// passphrase reads the keyring passphrase from --passphrase-file or
// EDGETRUST_CENTRAL_PASSPHRASE.
func passphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if p := os.Getenv("EDGETRUST_CENTRAL_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, usageError{errors.New("central's keys are encrypted: set EDGETRUST_CENTRAL_PASSPHRASE or pass --passphrase-file FILE")}
}

// loadEKPolicy reads the EK allow-list (one fingerprint per line, # comments)
// and the TPM manufacturer CA bundle (PEM).
func loadEKPolicy(allowFile, caFile string) (enrol.EKPolicy, error) {
	p := enrol.EKPolicy{Allow: map[string]bool{}}
	if allowFile != "" {
		b, err := os.ReadFile(allowFile)
		if err != nil {
			return p, err
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if j := strings.IndexByte(line, '#'); j >= 0 {
				line = strings.TrimSpace(line[:j])
			}
			if line == "" {
				continue
			}
			line = strings.ToLower(line)
			if len(line) != 64 || strings.Trim(line, "0123456789abcdef") != "" {
				return p, fmt.Errorf("%s:%d: want an EK fingerprint (64 hex digits, as edgetrust-agent enrol --show-ek prints)", allowFile, i+1)
			}
			p.Allow[line] = true
		}
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return p, err
		}
		p.Roots = x509.NewCertPool()
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return p, fmt.Errorf("%s: %w", caFile, err)
			}
			p.Roots.AddCert(c)
			n++
		}
		if n == 0 {
			return p, fmt.Errorf("%s holds no PEM certificates", caFile)
		}
	}
	return p, nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	sf, config := newServerFlags("serve", stderr)
	fs, c := sf.fs, &sf.cfg
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8443", "listen address; use a public address only with --tls-cert/--tls-key or behind a TLS proxy")
	fs.StringVar(&c.PassphraseFile, "passphrase-file", "", "file holding the keyring passphrase (else EDGETRUST_CENTRAL_PASSPHRASE)")
	fs.StringVar(&c.EKAllow, "ek-allow", "", "file of trusted EK fingerprints, one per line (swtpm, simulators, TPMs without EK certificates); re-read on SIGHUP")
	fs.StringVar(&c.EKCA, "ek-ca", "", "PEM bundle of TPM manufacturer CAs that EK certificates must chain to")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "… and this key (PEM)")
	fs.Float64Var(&c.EnrolRate, "enrol-rate", 5, "enrolment requests per second per client address (burst 4×)")
	fs.Float64Var(&c.AdminRate, "admin-rate", 20, "admin requests per second per client address (burst 4×)")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", false, "take client addresses from X-Forwarded-For (only behind a proxy that sets it)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.CaptureMaxAge, "capture-max-age", central.EnrolCaptureMaxAge.String(),
		"how old an RCAPTURE answer may be when a person is enrolled from it (registration captured offline and uploaded later), at most "+central.MaxCaptureMaxAge.String())
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-central serve [flags]

Runs central's API: enrolment (/v1/enrol/...), the signed trust feed
(/v1/feeds/trust), the admin API (/v1/admin/..., admin token required),
/healthz and /metrics. Logs are JSON on stderr. Stop with SIGINT or SIGTERM.

The keyring (feed key, appliance CA, the key that seals vendor CA keys) is
created on first start in STATE/central-keys.age, encrypted with the
passphrase (EDGETRUST_CENTRAL_PASSPHRASE or --passphrase-file). If no admin
token exists yet, one is written to STATE/admin-token (mode 0600).

Every flag can also come from EDGETRUST_CENTRAL_<FLAG> (e.g.
EDGETRUST_CENTRAL_PG_DSN) or a JSON --config file; flags win over the
environment, which wins over the file.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Several replicas: --store postgres with the same --pg-dsn, and a copy of the
state directory's central-keys.age on each (same passphrase).
`)
	}
	if err := sf.parse(args, config); err != nil {
		return err
	}
	lvl := new(slog.LevelVar)
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)}
	}
	maxAge, err := time.ParseDuration(c.CaptureMaxAge)
	if err != nil || maxAge < time.Minute || maxAge > central.MaxCaptureMaxAge {
		return usageError{fmt.Errorf("--capture-max-age %q: want a duration from 1m to %s, e.g. 24h", c.CaptureMaxAge, central.MaxCaptureMaxAge)}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	pass, err := passphrase(c.PassphraseFile)
	if err != nil {
		return err
	}
	ek, err := loadEKPolicy(c.EKAllow, c.EKCA)
	if err != nil {
		return usageError{err}
	}
	if len(ek.Allow) == 0 && ek.Roots == nil {
		log.Warn("no TPM can enrol: give --ek-allow (EK fingerprints) and/or --ek-ca (TPM manufacturer CAs)")
	}
	if err := os.MkdirAll(c.State, 0o700); err != nil {
		return err
	}
	keys, err := central.LoadKeyring(c.State, pass)
	if errors.Is(err, central.ErrNoKeyring) {
		if keys, err = central.InitKeyring(c.State, pass, time.Now()); err == nil {
			log.Info("created central's keyring", "file", filepath.Join(c.State, central.KeysFile))
		}
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := openStore(ctx, *c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ce, err := central.New(central.Config{Store: st, Keys: keys, EK: ek, Log: log, CaptureMaxAge: maxAge})
	if err != nil {
		return err
	}
	defer ce.Close()
	// SIGHUP re-reads the EK allow-list and manufacturer CAs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			p, err := loadEKPolicy(c.EKAllow, c.EKCA)
			if err != nil {
				log.Error("SIGHUP: EK policy not reloaded", "err", err)
				continue
			}
			ce.SetEKPolicy(p)
			log.Info("SIGHUP: EK policy reloaded", "allowed", len(p.Allow), "manufacturerCAs", p.Roots != nil)
		}
	}()
	info := map[string]any{"state": c.State, "store": c.Store, "feedKey": filepath.Join(c.State, central.FeedKeyFile),
		"ekAllowed": len(ek.Allow), "ekCAs": ek.Roots != nil}
	has, err := ce.HasAdmin(ctx)
	if err != nil {
		return err
	}
	if !has {
		path := filepath.Join(c.State, central.AdminTokenFile)
		if err := writeAdminToken(ctx, ce, path); err != nil {
			return err
		}
		info["adminToken"] = path
		log.Info("first admin token written; use it with --admin-token-file", "file", path)
	} else {
		info["adminToken"] = "exists; mint another with: edgetrust-central admin init --state " + c.State + " (while serve is stopped, for badger)"
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return ce.Serve(ctx, central.ServeOptions{
		HTTPOptions: central.HTTPOptions{EnrolRate: c.EnrolRate, AdminRate: c.AdminRate, TrustProxy: c.TrustProxy},
		Addr:        c.Addr, TLSCert: c.TLSCert, TLSKey: c.TLSKey, Log: log,
		OnListen: func(addr string) {
			info["url"] = scheme + "://" + addr
			b, _ := json.Marshal(info)
			fmt.Fprintln(stdout, string(b))
			os.WriteFile(filepath.Join(c.State, "central.url"), []byte(scheme+"://"+addr+"\n"), 0o644)
			log.Info("central listening", "addr", addr, "store", c.Store)
		},
	})
}

// writeAdminToken mints an admin token into path (0600), refusing to
// overwrite a file.
func writeAdminToken(ctx context.Context, ce *central.Central, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the admin token: %w (move the old file away first)", err)
	}
	tok, _, err := ce.CreateAdminToken(ctx, "system", "bootstrap")
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := fmt.Fprintln(f, tok); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func adminInit(args []string, stdout, stderr io.Writer) error {
	sf, config := newServerFlags("admin init", stderr)
	out := sf.fs.String("out", "", "file to write the token to (default STATE/admin-token; never overwritten)")
	if err := sf.parse(args, config); err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(sf.cfg.State, central.AdminTokenFile)
	}
	ctx := context.Background()
	st, err := openStore(ctx, sf.cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	// Minting a token needs no keys: a Central without a keyring would not
	// issue anything, so build the minimum.
	ce, err := central.New(central.Config{Store: st, Keys: &central.Keyring{}})
	if err != nil {
		return err
	}
	defer ce.Close()
	if err := writeAdminToken(ctx, ce, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "admin token written to %s (mode 0600)\n", path)
	return nil
}

func feedKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feed-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_CENTRAL_STATE"), "central's state directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return usageError{errors.New("--state DIR is required")}
	}
	b, err := os.ReadFile(filepath.Join(*state, central.FeedKeyFile))
	if err != nil {
		return fmt.Errorf("%w (has serve run once on this state directory?)", err)
	}
	if _, err := central.ParseFeedKeyPEM(b); err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
