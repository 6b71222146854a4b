package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgetrust/edgetrust/internal/cli"
)

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
	s := &storeFlags{fs: cli.NewFlagSet(name)}
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
	if err := cli.Parse(s.fs, args); err != nil {
		return err
	}
	if s.fs.NArg() > 0 {
		return cli.Usage(fmt.Errorf("unexpected argument %q", s.fs.Arg(0)))
	}
	set := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefault(s.fs, set); err != nil {
		return cli.Usage(err)
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
			return cli.Usage(fmt.Errorf("config %s: %w", *config, err))
		}
		json.Unmarshal(b, &file)
		for k, v := range file {
			name := cli.Kebab(k)
			if set[name] || s.fs.Lookup(name) == nil {
				continue
			}
			if v == nil || v == "" || v == false || v == 0.0 {
				continue
			}
			if err := s.fs.Set(name, fmt.Sprint(v)); err != nil {
				return cli.Usage(fmt.Errorf("config %s: %s: %w", *config, k, err))
			}
			set[name] = true
		}
	}
	if s.cfg.State == "" {
		return cli.Usage(errors.New("--state DIR is required (central's keys and data live there)"))
	}
	return nil
}
