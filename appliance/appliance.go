// Package appliance is the edge appliance, edgetrust-appliance serve: it
// follows central's signed trust feed into a badger store and verifies SBI
// captures against it over HTTP.
//
// Layout (each part grows on its own):
//
//	appliance/store     badger, key layout
//	appliance/feedsync  following one signed feed from central (long poll, verify, apply)
//	appliance/trust     the trust feed's state: vendors, devices, trust anchors
//	appliance/capture   verifying SBI captures against the trust state
//	appliance/tpmkey    the SBI decryption key in the TPM and its certificate
//	appliance/api       the HTTP interface
//
// Claim 169 QR verification, cached-record authentication and audit will
// join as further packages and feeds under the same wiring.
package appliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/capture"
	"github.com/edgetrust/edgetrust/appliance/feedsync"
	"github.com/edgetrust/edgetrust/appliance/qr"
	"github.com/edgetrust/edgetrust/appliance/store"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/appliance/trust"
	c169trust "github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/sbi"
)

// Version is the appliance's version.
const Version = "0.1.0"

// Files in the state directory.
const (
	DBDir   = "db"       // badger
	APIFile = "api.json" // {"url": ...} of the running API, for the CLI
)

// Options tune an Appliance beyond its Config (tests, embedding).
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Sync overrides the follower's timing (MinBackoff, MaxBackoff,
	// MinInterval, ...); Central, Feed, Keys and Logger are set from Config.
	Sync feedsync.Config
}

// Appliance is a running appliance.
type Appliance struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	trust    *trust.Registry
	keys     *tpmkey.Keys
	syncer   *feedsync.Syncer
	verifier *capture.Verifier
	api      *api.API
	qrLists  *qr.Lists
	reg      *prometheus.Registry
	ln       net.Listener
	srv      *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
}

// Start opens the store and the TPM key, starts following central and
// serves the API.
func Start(ctx context.Context, cfg Config, o Options) (*Appliance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Appliance{cfg: cfg, log: o.Logger, reg: prometheus.NewRegistry()}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, err
	}
	var err error
	if a.store, err = store.Open(filepath.Join(cfg.State, DBDir), a.log); err != nil {
		return nil, err
	}
	if a.trust, err = trust.Open(a.store, a.log); err != nil {
		return nil, err
	}
	var keys []sbi.DecryptionKey
	thumb := ""
	if cfg.TPM != "" {
		if a.keys, err = tpmkey.Open(ctx, cfg.TPM, cfg.State, cfg.Name, o.Now()); err != nil {
			return nil, fmt.Errorf("TPM: %w", err)
		}
		keys, thumb = []sbi.DecryptionKey{a.keys.DecryptionKey()}, a.keys.Thumbprint()
		a.log.Info("SBI decryption key ready", "tpm", cfg.TPM, "thumbprint", thumb,
			"cert", filepath.Join(cfg.State, tpmkey.CertFile))
	} else {
		a.log.Warn("no TPM configured (--tpm): auth captures cannot be decrypted, so their hash chain cannot be verified and they are answered invalid")
	}
	a.verifier = &capture.Verifier{Trust: a.trust, Keys: keys, Now: o.Now,
		MaxAge: time.Duration(cfg.CaptureMaxAge), MaxFuture: time.Duration(cfg.CaptureMaxFuture),
		MaxStaleness: time.Duration(cfg.MaxStaleness), StalePolicy: capture.StalePolicy(cfg.StalePolicy)}

	if cfg.Central != "" {
		fk, err := LoadFeedKeys(cfg.FeedKeys)
		if err != nil {
			return nil, err
		}
		sc := o.Sync
		sc.Central, sc.Feed, sc.Keys, sc.Logger, sc.Registerer = cfg.Central, trust.FeedName, fk, a.log, a.reg
		sc.Wait, sc.Now, sc.UserAgent = time.Duration(cfg.PollWait), o.Now, "edgetrust-appliance/"+Version
		if cfg.CentralCA != "" {
			pool, err := loadPool(cfg.CentralCA)
			if err != nil {
				return nil, err
			}
			sc.Client = &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment,
				TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: time.Duration(cfg.PollWait) + 30*time.Second}}
		}
		if a.syncer, err = feedsync.New(sc, a.trust); err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(fk))
		for id := range fk {
			ids = append(ids, id)
		}
		a.log.Info("trusting feed keys", "keyIds", ids)
	} else {
		a.log.Warn("no central configured (--central): the trust data will not be refreshed and goes stale", "maxStaleness", time.Duration(cfg.MaxStaleness).String())
	}

	a.api = api.New(api.Config{Verifier: a.verifier, Trust: a.trust, Syncer: a.syncer, Thumbprint: thumb,
		Version: Version, Logger: a.log, Gatherer: a.reg, Registerer: a.reg,
		RateLimit: cfg.RateLimit, MaxInFlight: cfg.MaxInFlight})
	qrv := &c169trust.Verifier{RejectStale: cfg.StalePolicy != string(capture.StaleWarn), Now: o.Now}
	if cfg.QRTrustList != "" {
		fk, err := LoadFeedKeys(cfg.FeedKeys)
		if err != nil {
			return nil, fmt.Errorf("the Claim 169 lists are verified with the feed keys: %w", err)
		}
		a.qrLists = &qr.Lists{TrustFile: cfg.QRTrustList, RevocationsFile: cfg.QRRevocations, Keys: fk, Verifier: qrv, Logger: a.log}
		if err := a.qrLists.Load(); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/qr/verify", &qr.Handler{Verifier: qrv, Logger: a.log})
	mux.Handle("/", a.api)
	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	if host, _, _ := net.SplitHostPort(cfg.Listen); !isLoopback(host) {
		a.log.Warn("the API is plain HTTP on a non-loopback address; TLS and mTLS for relying parties come with the auth API", "addr", cfg.Listen)
	}
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Go(func() { a.srv.Serve(a.ln) })
	if a.syncer != nil {
		a.wg.Go(func() { a.syncer.Run(runCtx) })
	}
	if a.qrLists != nil {
		a.wg.Go(func() { a.qrLists.Watch(runCtx, 2*time.Second) })
	}
	b, _ := json.Marshal(map[string]any{"url": a.URL(), "pid": os.Getpid()})
	if err := os.WriteFile(filepath.Join(cfg.State, APIFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	snap := a.trust.Snapshot()
	a.log.Info("appliance API listening", "url", a.URL(), "feedSize", snap.Size, "vendors", len(snap.Vendors),
		"maxStaleness", time.Duration(cfg.MaxStaleness).String(), "stalePolicy", cfg.StalePolicy)
	ok = true
	return a, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("central CA: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("central CA %s: no PEM certificates", path)
	}
	return p, nil
}

// URL is the API's base URL.
func (a *Appliance) URL() string { return "http://" + a.ln.Addr().String() }

// Handler is the API handler.
func (a *Appliance) Handler() http.Handler { return a.api }

// Status is what GET /v1/status answers.
func (a *Appliance) Status() api.Status { return a.api.CurrentStatus() }

// Trust is the trust registry.
func (a *Appliance) Trust() *trust.Registry { return a.trust }

// Close stops syncing and serving and closes the store and the TPM.
func (a *Appliance) Close() error {
	var errs []error
	a.once.Do(func() {
		if a.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, a.srv.Shutdown(ctx))
			cancel()
		} else if a.ln != nil {
			a.ln.Close()
		}
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
		if a.ln != nil {
			os.Remove(filepath.Join(a.cfg.State, APIFile))
		}
		if a.store != nil {
			errs = append(errs, a.store.Close())
		}
		if a.keys != nil {
			errs = append(errs, a.keys.Close())
		}
	})
	return errors.Join(errs...)
}
