package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
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
	attest "github.com/edgetrust/edgetrust/central/attestation"
	"github.com/edgetrust/edgetrust/central/httpapi"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/central/store/pgstore"
	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

func openStore(ctx context.Context, c Config, log *slog.Logger) (store.Store, error) {
	switch c.Store {
	case "", "badger":
		if c.StoreRead != "" {
			return nil, cli.Usage(errors.New("--store-read needs --store postgres"))
		}
		return badgerstore.Open(filepath.Join(c.State, "badger"), badgerstore.Options{})
	case "postgres":
		if c.PGDSN == "" {
			return nil, cli.Usage(errors.New("--store postgres needs --pg-dsn or EDGETRUST_CENTRAL_PG_DSN"))
		}
		host, _ := os.Hostname()
		return pgstore.OpenWith(ctx, c.PGDSN, pgstore.Options{ReadDSN: c.StoreRead, Name: "edgetrust-central@" + host, Log: log})
	}
	return nil, cli.Usage(fmt.Errorf("--store %q: want badger or postgres", c.Store))
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
	return nil, cli.Usage(errors.New("central's keys are encrypted: set EDGETRUST_CENTRAL_PASSPHRASE or pass --passphrase-file FILE"))
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

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sf, config := newServerFlags("serve", stderr)
	fs, c := sf.fs, &sf.cfg
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8443", "listen address (HTTPS; plain HTTP only with "+insecureFlag+")")
	fs.StringVar(&c.PassphraseFile, "passphrase-file", "", "file holding the keyring passphrase (else EDGETRUST_CENTRAL_PASSPHRASE)")
	fs.StringVar(&c.EKAllow, "ek-allow", "", "file of trusted EK fingerprints, one per line (swtpm, simulators, TPMs without EK certificates); re-read on SIGHUP")
	fs.StringVar(&c.EKCA, "ek-ca", "", "PEM bundle of TPM manufacturer CAs that EK certificates must chain to")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve this certificate chain (PEM) instead of one from central's own TLS CA; re-read at 2/3 of its life")
	fs.StringVar(&c.TLSKey, "tls-key", "", "… and this key (PEM)")
	fs.Var((*cli.StringList)(&c.TLSSAN), "tls-san", "`NAME` or IP address in central's server certificate; repeatable (default: the host name, localhost, 127.0.0.1, ::1 and the --addr host)")
	fs.BoolVar(&c.TLS12, "tls12", false, "also accept TLS 1.2 clients (AEAD suites only); default TLS 1.3 only")
	fs.BoolVar(&c.InsecureHTTPLoopback, "insecure-http-loopback", false, "serve plain HTTP instead of TLS, on a loopback --addr only (development)")
	fs.Float64Var(&c.EnrolRate, "enrol-rate", 5, "enrolment requests per second per client address (burst 4×)")
	fs.Float64Var(&c.AdminRate, "admin-rate", 20, "admin requests per second per client address (burst 4×)")
	fs.IntVar(&c.MaxFeedWaiters, "max-feed-waiters", httpapi.DefaultMaxFeedWaiters, "feed long polls (GET /v1/feeds/NAME?wait=...) waiting at once, in all; one more is answered 429 with Retry-After")
	fs.IntVar(&c.MaxFeedWaitersPerClient, "max-feed-waiters-per-client", httpapi.DefaultMaxFeedWaitersPerClient, "feed long polls waiting at once per client address (an appliance follows 2 feeds); one more is answered 429")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", false, "take client addresses from X-Forwarded-For (only behind a proxy that sets it)")
	fs.BoolVar(&c.FeedPerDeviceStatus, "feed-per-device-status", false, "publish a bulk device status change as one whole device entry per device, not device-status entries of 500 serials; only while appliances older than the device-status entry still follow the feed")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json, or text for people")
	fs.StringVar(&c.CaptureMaxAge, "capture-max-age", central.EnrolCaptureMaxAge.String(),
		"how old an RCAPTURE answer may be when a person is enrolled from it (registration captured offline and uploaded later), at most "+central.MaxCaptureMaxAge.String())
	fs.StringVar(&c.AttestInterval, "attest-interval", attest.DefaultInterval.String(),
		"time between attestation rounds: each asks every enrolled device and appliance for a fresh TPM quote (decision 0018), 1s to 24h")
	consoleFlags(fs, c)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-central serve [flags]

Runs central's API: enrolment (/v1/enrol/...), the signed trust feed
(/v1/feeds/trust), the admin API (/v1/admin/..., admin token required),
/healthz and /metrics. Logs are JSON on stderr. Stop with SIGINT or SIGTERM.

The keyring (feed key, appliance CA, the key that seals vendor CA keys) is
created on first start in STATE/central-keys.age, encrypted with the
passphrase (EDGETRUST_CENTRAL_PASSPHRASE or --passphrase-file). If no admin
token exists yet, one is written to STATE/admin-token (mode 0600).

Central serves HTTPS (TLS 1.3) with a certificate from its own TLS CA,
created on first start in STATE/tls/ (root 10 years, intermediate 1 year,
server certificate 30 days, renewed at 2/3 of its life without a restart);
its keys are sealed to the keyring. Clients pin the root: print it and its
SHA-256 with "edgetrust-central tls root --state DIR". Plain HTTP only with
--insecure-http-loopback, on a loopback address.

Every flag can also come from EDGETRUST_CENTRAL_<FLAG> (e.g.
EDGETRUST_CENTRAL_PG_DSN) or a JSON --config file; flags win over the
environment, which wins over the file.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Example:
  edgetrust-central serve --state /var/lib/edgetrust-central \
      --ek-allow /etc/edgetrust/ek-allow.txt --ek-ca /etc/edgetrust/tpm-vendor-cas.pem
`)
		fmt.Fprint(stderr, `
Several replicas: --store postgres with the same --pg-dsn, and a copy of the
state directory's central-keys.age on each (same passphrase); optionally
--store-read with a streaming replica of the database for feed reads
(docs/operations.md, "Running several central replicas").
`)
	}
	if err := sf.parse(args, config); err != nil {
		return err
	}
	log, err := cli.NewLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	maxAge, err := time.ParseDuration(c.CaptureMaxAge)
	if err != nil || maxAge < time.Minute || maxAge > central.MaxCaptureMaxAge {
		return cli.Usage(fmt.Errorf("--capture-max-age %q: want a duration from 1m to %s, e.g. 24h", c.CaptureMaxAge, central.MaxCaptureMaxAge))
	}
	attestEvery, err := time.ParseDuration(c.AttestInterval)
	if err != nil || attestEvery < time.Second || attestEvery > 24*time.Hour {
		return cli.Usage(fmt.Errorf("--attest-interval %q: want a duration from 1s to 24h, e.g. 10m", c.AttestInterval))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return cli.Usage(errors.New("--tls-cert and --tls-key go together"))
	}
	// Before the keyring is unlocked: a refused listener costs nothing.
	if err := tlsx.CheckListen(c.Addr, c.InsecureHTTPLoopback, c.InsecureHTTPLoopback, insecureFlag); err != nil {
		return cli.Usage(err)
	}
	pass, err := passphrase(c.PassphraseFile)
	if err != nil {
		return err
	}
	ek, err := loadEKPolicy(c.EKAllow, c.EKCA)
	if err != nil {
		return cli.Usage(err)
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
	st, err := openStore(ctx, *c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ce, err := central.New(central.Config{Store: st, Keys: keys, EK: ek, Log: log, CaptureMaxAge: maxAge,
		PerDeviceStatusEntries: c.FeedPerDeviceStatus, Attest: attest.Config{Interval: attestEvery}})
	if err != nil {
		return err
	}
	defer ce.Close()
	if err := enableConsole(ce, *c, log); err != nil {
		return err
	}
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
	ca, created, err := tlsca.Open(c.State, keys, time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Info("created central's TLS root and intermediate", "root", filepath.Join(c.State, tlsca.RootFile), "sha256", ca.Fingerprint())
	}
	names := c.TLSSAN
	if len(names) == 0 {
		names = tlsx.DefaultSANs(c.Addr)
	}
	sans, err := tlsca.ParseSANs(names)
	if err != nil {
		return cli.Usage(fmt.Errorf("--tls-san: %w", err))
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "central"
	}
	audit := tlsAudit(st, time.Now)
	renewer := &tlsx.Renewer{Name: "central server", Issue: auditedServerIssuer(serverIssuer(*c, ca, sans, host, time.Now), c.TLSCert == "", host, audit), Log: log}
	if err := renewer.Start(ctx); err != nil {
		return err
	}
	go watchExpiry(ctx, ca, renewer)
	tcfg := tlsx.ServerConfig(tlsx.ServerOptions{AllowTLS12: c.TLS12, GetCertificate: renewer.GetCertificate, ClientCAs: []*x509.Certificate{ca.Root()}})
	ln, scheme, err := listen(*c, tcfg)
	if err != nil {
		return err
	}
	defer ln.Close()
	lookup := applianceLookup(st)
	h := routes(ce.Handler(central.HTTPOptions{EnrolRate: c.EnrolRate, AdminRate: c.AdminRate, TrustProxy: c.TrustProxy,
		MaxFeedWaiters: c.MaxFeedWaiters, MaxFeedWaitersPerClient: c.MaxFeedWaitersPerClient, RPCert: rpCertIssuer(st, ca, time.Now)}),
		&tlsca.Server{CA: ca, Appliance: lookup, Log: log, Audit: audit}, lookup, log)
	addr := ln.Addr().String()
	info["url"] = scheme + "://" + addr
	info["tlsRoot"] = filepath.Join(c.State, tlsca.RootFile)
	info["tlsRootSha256"] = ca.Fingerprint()
	b, _ := json.Marshal(info)
	fmt.Fprintln(stdout, string(b))
	// Written whole (temp file, then rename) so that a reader never
	// sees an empty or half-written address.
	if err := writeAtomic(filepath.Join(c.State, "central.url"), []byte(scheme+"://"+addr+"\n")); err != nil {
		log.Warn("could not write central.url", "err", err)
	}
	log.Info("central listening", "addr", addr, "scheme", scheme, "store", c.Store, "tlsRootSha256", ca.Fingerprint())
	if scheme == "http" {
		log.Warn("serving plain HTTP on loopback (" + insecureFlag + "): development only")
	}
	return serveHTTP(ctx, ln, h, log)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
