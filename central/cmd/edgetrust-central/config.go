package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Config is the server's configuration file (JSON); flags and the
// environment override it.
type Config struct {
	State          string `json:"state"`
	Addr           string `json:"addr"`
	Store          string `json:"store"`
	PGDSN          string `json:"pgDsn"`
	StoreRead      string `json:"storeRead"`
	PassphraseFile string `json:"passphraseFile"`
	EKAllow        string `json:"ekAllow"`
	EKCA           string `json:"ekCa"`
	TLSCert        string `json:"tlsCert"`
	TLSKey         string `json:"tlsKey"`
	// TLSSAN are the names in central's own server certificate (default:
	// the host name, localhost, 127.0.0.1, ::1 and the listen host).
	TLSSAN []string `json:"tlsSan"`
	// TLS12 admits TLS 1.2 clients (AEAD suites only); default TLS 1.3.
	TLS12 bool `json:"tls12"`
	// InsecureHTTPLoopback serves plain HTTP, on a loopback address only.
	InsecureHTTPLoopback bool    `json:"insecureHttpLoopback"`
	EnrolRate            float64 `json:"enrolRate"`
	AdminRate            float64 `json:"adminRate"`
	TrustProxy           bool    `json:"trustProxy"`
	FeedPerDeviceStatus  bool    `json:"feedPerDeviceStatus"`
	// MaxFeedWaiters and MaxFeedWaitersPerClient bound the feed long polls
	// waiting at once (httpapi.Options).
	MaxFeedWaiters          int    `json:"maxFeedWaiters"`
	MaxFeedWaitersPerClient int    `json:"maxFeedWaitersPerClient"`
	LogLevel                string `json:"logLevel"`
	LogFormat               string `json:"logFormat"`
	CaptureMaxAge           string `json:"captureMaxAge"`
	AttestInterval          string `json:"attestInterval"`
	// ConsoleOrigin turns on the admin console (/console/) for browsers
	// reaching central at this https origin (consoleflags.go).
	ConsoleOrigin string `json:"consoleOrigin"`
}

// storeFlags are the flags that open the store (serve and admin init).
type storeFlags struct {
	cfg Config
	fs  *flag.FlagSet
}

func newServerFlags(name string, stderr io.Writer) (*storeFlags, *string) {
	s := &storeFlags{fs: cli.NewFlagSet(name)}
	s.fs.SetOutput(stderr)
	c := &s.cfg
	config := s.fs.String("config", "", "JSON config file (keys as in the flags: state, addr, store, pgDsn, ekAllow, ekCa, ...)")
	s.fs.StringVar(&c.State, "state", "", "state directory: keyring, feed key, badger data, admin token (required)")
	s.fs.StringVar(&c.Store, "store", "badger", "badger (embedded, one node) or postgres (several replicas; needs --pg-dsn)")
	s.fs.StringVar(&c.PGDSN, "pg-dsn", "", "PostgreSQL DSN, e.g. postgres://central@db/edgetrust (prefer EDGETRUST_CENTRAL_PG_DSN: it may hold a password)")
	s.fs.StringVar(&c.StoreRead, "store-read", "", "DSN of a PostgreSQL streaming replica (hot standby) of --pg-dsn to serve feed reads from, at most 5s behind (else the primary answers); prefer EDGETRUST_CENTRAL_STORE_READ")
	return s, config
}

// parse parses args, then fills flags not given on the command line from
// the environment (EDGETRUST_CENTRAL_*), then from the --config file:
// flags win over the environment, which wins over the file.
func (s *storeFlags) parse(args []string, config *string) error {
	set, err := cli.ParseEnv(s.fs, args, envPrefix)
	if err != nil {
		return err
	}
	if err := cli.NoArgs(s.fs); err != nil {
		return err
	}
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return err
		}
		// The file is serve's whole Config, checked strictly; admin init
		// shares it and takes the keys it has flags for.
		// Strict (jsonx): a key given twice or with invalid UTF-8 is an
		// error, never "the last one wins".
		var typed Config
		if err := jsonx.Unmarshal(b, &typed, jsonx.Limits{MaxBytes: 1 << 20}); err != nil {
			return cli.Usage(fmt.Errorf("config %s: %w", *config, err))
		}
		var file map[string]json.RawMessage
		json.Unmarshal(b, &file)
		for k := range file {
			if s.fs.Lookup(cli.Kebab(k)) == nil {
				delete(file, k)
			}
		}
		b, _ = json.Marshal(file)
		if err := cli.ConfigFile(s.fs, b, set); err != nil {
			return cli.Usage(fmt.Errorf("config %s: %w", *config, err))
		}
	}
	if s.cfg.State == "" {
		return cli.Usage(errors.New("--state DIR is required (central's keys and data live there)"))
	}
	return nil
}
