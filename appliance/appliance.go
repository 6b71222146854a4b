package appliance

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/qrverify"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/recordsink"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/appliance/verifypage"
	c169trust "github.com/edgetrust/edgetrust/claim169/trust"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/tpm"
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
	// Sync overrides the followers' timing (MinBackoff, MaxBackoff,
	// MinInterval, ...); Central, Feed, Keys and Logger are set from Config.
	Sync follow.Config
	// NewAuditor makes the auditor every authentication decision goes to
	// (see auth.Auditor); when what it returns is an io.Closer, it is
	// closed with the appliance. Without it POST /v1/auth answers 503:
	// no decision is made unaudited.
	NewAuditor func(AuditEnv) (auth.Auditor, error)
	// TLS, when set, serves the API over TLS with it (cmd/edgetrust-appliance
	// sets it; it refuses plain HTTP but on loopback).
	TLS *tls.Config
	// Keys, when set, are the TPM keys to use instead of opening cfg.TPM;
	// the caller closes them after Close (the command holds its TLS keys
	// in the same TPM connection: a swtpm serves one client at a time).
	Keys *tpmkey.Keys
	// Collectors are more metrics for GET /metrics (the command's TLS
	// certificate expiry).
	Collectors []prometheus.Collector
	// AttestPoll, when positive, is how often the appliance asks central
	// for an attestation challenge (attest.go); zero: no loop.
	AttestPoll time.Duration
	// BootLog is the platform's TCG boot log sent with each quote that
	// covers PCRs 0–7 (serve --boot-log): "" means
	// attestation.BootLogPath, attestation.NoBootLog sends none; a missing
	// file sends none and central's policy decides (requireBootLog).
	BootLog string
}

// AuditEnv is what an auditor is made from.
type AuditEnv struct {
	ApplianceID string
	State       string     // the state directory
	DB          *badger.DB // the appliance's database (the auditor's keys under their own prefix)
	TPM         *tpm.TPM
	// Signer is the TPM key decisions are signed with, and its chain.
	Signer     *tpmkey.DecisionSigner
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Appliance is a running appliance.
type Appliance struct {
	cfg      Config
	log      *slog.Logger
	store    *db.Store
	trust    *truststate.Registry
	keys     *tpmkey.Keys
	ownKeys  bool // opened by Start (not Options.Keys): closed by Close
	syncer   *follow.Syncer
	recSync  *follow.Syncer
	recSink  *recordsink.Sink
	records  *records.Store
	auth     *auth.Handler
	auditor  auth.Auditor
	delegate *delegate.Holder // signs decisions; nil in "tpm" mode
	// centralClient is Options.Sync.Client: how the command reaches
	// central (pinned TLS); nil: built from CentralCA or the defaults.
	centralClient *http.Client
	bootLog       func() ([]byte, error) // Options.BootLog
	verifier      *captureverify.Verifier
	api           *api.API
	qrLists       *qrverify.Lists
	reg           *prometheus.Registry
	ln            net.Listener
	tls           bool
	srv           *http.Server
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	once          sync.Once
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
	a := &Appliance{cfg: cfg, log: o.Logger, reg: prometheus.NewRegistry(), centralClient: o.Sync.Client,
		bootLog: attest.BootLogFile(o.BootLog)}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg.MustRegister(o.Collectors...)
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, err
	}
	var err error
	if a.store, err = db.Open(filepath.Join(cfg.State, DBDir), a.log); err != nil {
		return nil, err
	}
	if a.trust, err = truststate.Open(a.store, a.log); err != nil {
		return nil, err
	}
	var keys []sbi.DecryptionKey
	thumb := ""
	if cfg.TPM != "" || o.Keys != nil {
		if a.keys = o.Keys; a.keys == nil {
			if a.keys, err = tpmkey.Open(ctx, cfg.TPM, cfg.State, cfg.Name, o.Now(), cfg.SessionKeyUnwrap == UnwrapSoftware); err != nil {
				return nil, fmt.Errorf("TPM: %w", err)
			}
			a.ownKeys = true
		}
		keys, thumb = []sbi.DecryptionKey{a.keys.DecryptionKey()}, a.keys.Thumbprint()
		a.log.Info("SBI decryption key ready", "tpm", cfg.TPM, "thumbprint", thumb, "unwrap", map[bool]string{true: UnwrapSoftware, false: UnwrapTPM}[a.keys.Soft != nil],
			"cert", filepath.Join(cfg.State, tpmkey.CertFile))
	} else {
		a.log.Warn("no TPM configured (--tpm): auth captures cannot be decrypted, so their hash chain cannot be verified and they are answered invalid")
	}
	a.verifier = &captureverify.Verifier{Trust: a.trust, Keys: keys, Now: o.Now,
		MaxAge: time.Duration(cfg.CaptureMaxAge), MaxFuture: time.Duration(cfg.CaptureMaxFuture),
		MaxStaleness: time.Duration(cfg.MaxStaleness), StalePolicy: captureverify.StalePolicy(cfg.StalePolicy)}

	if cfg.Central != "" {
		fk, err := LoadFeedKeys(cfg.FeedKeys)
		if err != nil {
			return nil, err
		}
		sc := o.Sync
		sc.Central, sc.Feed, sc.Keys, sc.Logger, sc.Registerer = cfg.Central, truststate.FeedName, fk, a.log, a.reg
		sc.Wait, sc.Now, sc.UserAgent = time.Duration(cfg.PollWait), o.Now, "edgetrust-appliance/"+Version
		sc.Replicas = cfg.CentralReplicas
		if cfg.CentralCA != "" {
			pool, err := loadPool(cfg.CentralCA)
			if err != nil {
				return nil, err
			}
			sc.Client = &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment,
				TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: time.Duration(cfg.PollWait) + 30*time.Second}}
		}
		if a.syncer, err = follow.New(sc, a.trust); err != nil {
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

	authWhy, err := a.startAuth(ctx, &cfg, o)
	if err != nil {
		return nil, err
	}
	var recs interface{ Applied() (uint64, error) }
	if a.recSink != nil {
		recs = a.recSink
	}
	a.api = api.New(api.Config{Verifier: a.verifier, Trust: a.trust, Syncer: a.syncer, Thumbprint: thumb,
		Version: Version, Logger: a.log, Gatherer: a.reg, Registerer: a.reg,
		RateLimit: cfg.RateLimit, MaxInFlight: cfg.MaxInFlight,
		ApplianceID: cfg.ID, RecordsSyncer: a.recSync, Records: recs, AuthEnabled: a.auth != nil, AuthDisabled: authWhy})
	qrv := &c169trust.Verifier{RejectStale: cfg.StalePolicy != string(captureverify.StaleWarn), Now: o.Now}
	if cfg.QRTrustList != "" {
		fk, err := LoadFeedKeys(cfg.FeedKeys)
		if err != nil {
			return nil, fmt.Errorf("the Claim 169 lists are verified with the feed keys: %w", err)
		}
		a.qrLists = &qrverify.Lists{TrustFile: cfg.QRTrustList, RevocationsFile: cfg.QRRevocations, Keys: fk, Verifier: qrv, Logger: a.log}
		if err := a.qrLists.Load(); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/qr/verify", &qrverify.Handler{Verifier: qrv, Logger: a.log, Rate: cfg.QRRateLimit})
	mux.Handle(verifypage.Prefix, verifypage.Handler()) // the page people verify QRs with, over the same listener
	if a.auth != nil {
		mux.Handle("/v1/auth", a.auth)
	} else {
		mux.Handle("/v1/auth", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "authentication is not available on this appliance: " + authWhy})
		}))
	}
	mux.Handle("/", a.api)
	root := httpx.Fallback(mux, api.Unrouted)
	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	if o.TLS != nil {
		a.ln, a.tls = tls.NewListener(a.ln, o.TLS), true
	} else if host, _, _ := net.SplitHostPort(cfg.Listen); !isLoopback(host) {
		a.log.Warn("the API is plain HTTP on a non-loopback address: relying parties' API keys cross the network in the clear; put a TLS terminator in front", "addr", cfg.Listen)
	}
	a.srv = &http.Server{Handler: root, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Go(func() { a.srv.Serve(a.ln) })
	if a.syncer != nil {
		a.wg.Go(func() { a.syncer.Run(runCtx) })
	}
	if a.recSync != nil {
		a.wg.Go(func() { a.recSync.Run(runCtx) })
	}
	if a.qrLists != nil {
		a.wg.Go(func() { a.qrLists.Watch(runCtx, 2*time.Second) })
	}
	if a.delegate != nil {
		a.wg.Go(func() {
			a.delegate.Run(runCtx, func(err error) {
				a.log.Error("renewing the decision delegate failed; retrying before it expires", "expires", a.delegate.Expires(), "err", err.Error())
			})
		})
	}
	if o.AttestPoll > 0 && a.keys != nil && cfg.Central != "" {
		a.wg.Go(func() { a.attestLoop(runCtx, o.AttestPoll) })
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
func (a *Appliance) URL() string {
	if a.tls {
		return "https://" + a.ln.Addr().String()
	}
	return "http://" + a.ln.Addr().String()
}

// Handler is the API handler.
func (a *Appliance) Handler() http.Handler { return a.api }

// Status is what GET /v1/status answers.
func (a *Appliance) Status() api.Status { return a.api.CurrentStatus() }

// Trust is the trust registry.
func (a *Appliance) Trust() *truststate.Registry { return a.trust }

// Records is the identity record store (nil when authentication is not
// configured).
func (a *Appliance) Records() *records.Store { return a.records }

// startAuth opens the record store, starts following the records feed and
// makes the POST /v1/auth handler. It needs a TPM (keys, sealing, signing),
// the appliance's id and central's feed keys (records are signed with
// them); without them it returns why authentication is off.
func (a *Appliance) startAuth(ctx context.Context, cfg *Config, o Options) (string, error) {
	id, err := tpmkey.ReadID(cfg.State)
	if err != nil {
		return "", err
	}
	switch {
	case cfg.ID == "":
		cfg.ID = id
	case id != "" && id != cfg.ID:
		return "", fmt.Errorf("--id %s differs from the id this appliance was enrolled as (%s, in %s)", cfg.ID, id, filepath.Join(cfg.State, tpmkey.IDFile))
	}
	var why string
	switch {
	case a.keys == nil:
		why = "no TPM (--tpm): records are sealed to it and decisions signed with it"
	case cfg.ID == "":
		why = "no appliance id (--id, or enrol with central)"
	case len(cfg.FeedKeys) == 0:
		why = "no feed keys (--feed-key): records are signed with central's feed key"
	}
	if why != "" {
		a.log.Warn("POST /v1/auth is off", "why", why)
		return why, nil
	}
	fk, err := LoadFeedKeys(cfg.FeedKeys)
	if err != nil {
		return "", err
	}
	pubs := make([]ed25519.PublicKey, 0, len(fk))
	for _, k := range fk {
		pubs = append(pubs, k)
	}
	sealer := records.TPMSealer{TPM: a.keys.TPM}
	if a.records, err = records.Open(ctx, a.store.DB, sealer, recordfeed.Verifier{Keys: pubs}); err != nil {
		return "", fmt.Errorf("record store: %w", err)
	}
	signer, err := a.keys.DecisionSigner(ctx, cfg.State, cfg.Name, o.Now())
	if err != nil {
		return "", err
	}
	if signer.SelfIssued {
		a.log.Warn("decisions are signed with a self-issued certificate until the appliance is enrolled with central (edgetrust-appliance enrol)",
			"cert", filepath.Join(cfg.State, tpmkey.SelfSigningCertFile))
	}
	if cfg.DecisionSigning == SignDelegated {
		if a.delegate, err = delegate.NewHolder(signer.Key, auth.DelegateUse, cfg.ID, time.Duration(cfg.DelegateLifetime), o.Now); err != nil {
			return "", fmt.Errorf("decision delegate: %w", err)
		}
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgetrust_appliance_decision_delegate_expiry_seconds",
			Help: "Unix time at which the decision delegate's credential expires (renewed at half its lifetime)."},
			func() float64 { return float64(a.delegate.Expires().Unix()) }))
	}
	if a.recSink, err = recordsink.New(recordsink.Config{ApplianceID: cfg.ID, Cert: a.keys.Cert, Key: a.keys.Decrypter(),
		Store: a.store, Records: a.records, Logger: a.log}); err != nil {
		return "", err
	}
	if cfg.Central != "" {
		sc := o.Sync
		sc.Central, sc.Feed, sc.Keys, sc.Logger, sc.Registerer = cfg.Central, a.recSink.Feed(), fk, a.log, a.reg
		sc.Wait, sc.Now, sc.UserAgent = time.Duration(cfg.PollWait), o.Now, "edgetrust-appliance/"+Version
		sc.Replicas = cfg.CentralReplicas
		sc.ChunkEntries = 1 // one sealed batch per transaction: applied atomically with its position
		if cfg.CentralCA != "" {
			pool, err := loadPool(cfg.CentralCA)
			if err != nil {
				return "", err
			}
			sc.Client = &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment,
				TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: time.Duration(cfg.PollWait) + 30*time.Second}}
		}
		if a.recSync, err = follow.New(sc, a.recSink); err != nil {
			return "", err
		}
	} else {
		a.log.Warn("no central configured: identity records are not refreshed and authentications answer records-stale")
	}
	if o.NewAuditor == nil {
		why = "no audit log is configured, and no decision is made unaudited"
		a.log.Warn("POST /v1/auth is off", "why", why)
		return why, nil
	}
	if a.auditor, err = o.NewAuditor(AuditEnv{ApplianceID: cfg.ID, State: cfg.State, DB: a.store.DB, TPM: a.keys.TPM,
		Signer: signer, Logger: a.log, Registerer: a.reg, Now: o.Now}); err != nil {
		return "", fmt.Errorf("audit log: %w", err)
	}
	recCheckpoint := func() time.Time {
		if a.recSync != nil {
			return a.recSync.Status().CheckpointAt
		}
		st, err := a.recSink.State()
		if err != nil {
			return time.Time{}
		}
		return st.Time
	}
	a.auth, err = auth.New(auth.Config{Trust: a.trust, Records: a.records, Captures: a.verifier,
		SigningKey: signer.Key, Chain: signer.Chain, Delegate: a.delegate, ApplianceID: cfg.ID, Auditor: a.auditor,
		Logger: a.log, Registerer: a.reg, Now: o.Now, RecordsCheckpoint: recCheckpoint,
		TargetFMR: cfg.TargetFMR, IrisThreshold: cfg.IrisThreshold, FaceThreshold: cfg.FaceThreshold, LockoutFailures: cfg.LockoutFailures, LockoutDuration: time.Duration(cfg.LockoutDuration),
		RPRate: cfg.RPRateLimit, RPBurst: cfg.RPBurst, RPAuth: cfg.RPAuth})
	if err != nil {
		return "", err
	}
	a.log.Info("POST /v1/auth ready", "applianceId", cfg.ID, "recordsFeed", a.recSink.Feed(), "selfIssuedSigner", signer.SelfIssued,
		"decisionSigning", cfg.DecisionSigning)
	return "", nil
}

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
		if c, ok := a.auditor.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		if a.store != nil {
			errs = append(errs, a.store.Close())
		}
		if a.keys != nil && a.ownKeys {
			errs = append(errs, a.keys.Close())
		}
	})
	return errors.Join(errs...)
}
