package api

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/httpx"
)

// Config configures the API. Verifier and Trust are required.
type Config struct {
	Verifier *captureverify.Verifier
	Trust    *truststate.Registry
	Syncer   *follow.Syncer // nil when no central is configured
	// Thumbprint of the SBI encryption certificate ("" without a TPM key).
	Thumbprint string
	Version    string
	Logger     *slog.Logger
	// Gatherer is served on /metrics; Registerer receives the API's own
	// metrics. Either may be nil.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// RateLimit is verifications per second (burst: one second's worth);
	// 0 means the default 5000, negative means unlimited.
	RateLimit float64
	// MaxInFlight verifications at once (default 4 × GOMAXPROCS).
	MaxInFlight int
	// QueueWait is how long a request waits for a free slot (default 2s).
	QueueWait time.Duration

	// ApplianceID, the records feed's follower and sink, and whether
	// POST /v1/auth is on (AuthDisabled says why not), for the status.
	ApplianceID   string
	RecordsSyncer *follow.Syncer
	Records       interface{ Applied() (uint64, error) }
	AuthEnabled   bool
	AuthDisabled  string
}

// Default limits.
const (
	DefaultRateLimit = 5000
	DefaultQueueWait = 2 * time.Second
)

// API is the HTTP handler.
type API struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	root http.Handler // mux behind httpx.Fallback
	lim  *httpx.Limiter
	sem  chan struct{}
	mRes *prometheus.CounterVec
	mWhy *prometheus.CounterVec
	mDur prometheus.Histogram
}

// New makes the API handler.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	a := &API{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), sem: make(chan struct{}, cfg.MaxInFlight)}
	if cfg.RateLimit > 0 {
		a.lim = httpx.NewLimiter(cfg.RateLimit, max(cfg.RateLimit, 1))
	}
	a.mRes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_verifications_total",
		Help: "Capture verifications by result: valid, invalid, bad-request, too-large, rate-limited, busy, error."}, []string{"result"})
	a.mWhy = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_verification_reasons_total",
		Help: "Reasons captures were found invalid, by reason code."}, []string{"reason"})
	a.mDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgetrust_appliance_verification_seconds",
		Help: "Time to verify a capture (parsing and checks, TPM decryption included).", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(a.mRes, a.mWhy, a.mDur)
	}
	a.mux.HandleFunc("POST /v1/captures/verify", a.verify)
	a.mux.HandleFunc("GET /v1/devices/{serial}", a.device)
	a.mux.HandleFunc("GET /v1/status", a.status)
	a.mux.HandleFunc("GET /healthz", a.healthz)
	if cfg.Gatherer != nil {
		a.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	a.root = httpx.Fallback(a.mux, Unrouted)
	return a
}

// ServeHTTP implements http.Handler. Every answer, /metrics included,
// carries nosniff and no-store; unrouted requests get the JSON error shape.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	a.root.ServeHTTP(w, r)
}

// writeJSON answers JSON with nosniff and no-store.
var writeJSON = httpx.WriteJSON

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// Unrouted answers 404 or 405 in the API's error shape ({"error": ...}),
// for any mux of the appliance (httpx.Fallback).
func Unrouted(w http.ResponseWriter, _ *http.Request, code int) {
	if code == http.StatusMethodNotAllowed {
		writeError(w, code, "method not allowed here (see Allow)")
		return
	}
	writeError(w, http.StatusNotFound, "no such endpoint")
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	if a.lim != nil && !a.lim.Allow("") {
		a.mRes.WithLabelValues("rate-limited").Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate limit exceeded; retry shortly")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			a.mRes.WithLabelValues("bad-request").Inc()
			writeError(w, http.StatusUnsupportedMediaType, "send the request as application/json")
			return
		}
	}
	t := time.NewTimer(a.cfg.QueueWait)
	select {
	case a.sem <- struct{}{}:
		t.Stop()
	case <-t.C:
		a.mRes.WithLabelValues("busy").Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many verifications in progress; retry shortly")
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	defer func() { <-a.sem }()

	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, captureverify.MaxRequestSize))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		a.mRes.WithLabelValues("too-large").Inc()
		writeError(w, http.StatusRequestEntityTooLarge, "request body over "+strconv.Itoa(captureverify.MaxRequestSize)+" bytes")
		return
	case err != nil:
		a.mRes.WithLabelValues("bad-request").Inc()
		writeError(w, http.StatusBadRequest, "could not read the request body")
		return
	}
	p, err := captureverify.ParseRequest(body)
	if err != nil {
		a.mRes.WithLabelValues("bad-request").Inc()
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.cfg.Verifier.Verify(p)
	if err != nil {
		a.mRes.WithLabelValues("error").Inc()
		a.log.Error("verification failed", "err", err.Error())
		writeError(w, http.StatusInternalServerError, "internal error; see the appliance log")
		return
	}
	dur := time.Since(start)
	a.mDur.Observe(dur.Seconds())
	result := "invalid"
	if res.Valid {
		result = "valid"
	}
	a.mRes.WithLabelValues(result).Inc()
	for _, c := range res.Codes {
		a.mWhy.WithLabelValues(c).Inc()
	}
	attrs := []any{"valid", res.Valid, "stale", res.Stale, "reasons", res.Codes, "ms", float64(dur.Microseconds()) / 1000}
	if d := res.Device; d != nil {
		attrs = append(attrs, "device", d.Serial, "vendor", d.Vendor, "deviceStatus", d.Status)
	}
	a.log.Info("capture verified", attrs...)
	writeJSON(w, http.StatusOK, res)
}

// DeviceInfo is the answer of GET /v1/devices/{serial}.
type DeviceInfo struct {
	Serial           string    `json:"serial"`
	Vendor           string    `json:"vendor"`
	Status           string    `json:"status"`
	VendorStatus     string    `json:"vendorStatus,omitempty"`
	Type             string    `json:"type,omitempty"`
	SubType          string    `json:"subType,omitempty"`
	DeviceCertSHA256 string    `json:"deviceCertSha256,omitempty"`
	FTMCertSHA256    string    `json:"ftmCertSha256,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	Seq              uint64    `json:"seq"`
	Time             time.Time `json:"time"`
	// AttestedAt/AttestedUntil: the attestation horizon central last
	// published for the device (decision 0018); absent when none.
	AttestedAt    time.Time `json:"attestedAt,omitzero"`
	AttestedUntil time.Time `json:"attestedUntil,omitzero"`
}

func (a *API) device(w http.ResponseWriter, r *http.Request) {
	serial := r.PathValue("serial")
	if serial == "" || len(serial) > 128 {
		writeError(w, http.StatusBadRequest, "serial must be 1-128 characters")
		return
	}
	d, err := a.cfg.Trust.Device(serial)
	if err != nil {
		a.log.Error("reading device", "device", serial, "err", err.Error())
		writeError(w, http.StatusInternalServerError, "internal error; see the appliance log")
		return
	}
	if d == nil {
		writeError(w, http.StatusNotFound, "device not enrolled")
		return
	}
	info := DeviceInfo{Serial: d.Serial, Vendor: d.VendorID, Status: d.Status, Type: d.Type, SubType: d.SubType,
		DeviceCertSHA256: d.DeviceCertSHA256, FTMCertSHA256: d.FTMCertSHA256, Reason: d.Reason, Seq: d.Seq, Time: d.Time,
		AttestedAt: d.AttestedAt, AttestedUntil: d.AttestedUntil}
	if v := a.cfg.Trust.Snapshot().Vendors[d.VendorID]; v != nil {
		info.VendorStatus = v.Status
	}
	writeJSON(w, http.StatusOK, info)
}

// Status is the answer of GET /v1/status.
type Status struct {
	Version     string                  `json:"version,omitempty"`
	Trust       captureverify.TrustInfo `json:"trust"`
	Applied     uint64                  `json:"applied"` // entries applied to the store, each exactly once
	Stale       bool                    `json:"stale"`
	StalePolicy string                  `json:"stalePolicy"`
	Vendors     int                     `json:"vendors"`
	Anchors     int                     `json:"trustAnchors"` // CA certificates of active vendors
	Sync        *follow.Status          `json:"sync"`         // null without central
	Decryption  Decryption              `json:"decryption"`
	ApplianceID string                  `json:"applianceId,omitempty"`
	Auth        AuthStatus              `json:"auth"`
}

// AuthStatus says whether POST /v1/auth is on and how the records feed is.
type AuthStatus struct {
	Enabled        bool           `json:"enabled"`
	Disabled       string         `json:"disabled,omitempty"` // why not
	RecordsApplied uint64         `json:"recordsBatchesApplied"`
	RecordsSync    *follow.Status `json:"recordsSync,omitempty"`
}

// Decryption says whether auth captures can be decrypted here.
type Decryption struct {
	Configured bool   `json:"configured"`
	Thumbprint string `json:"thumbprint,omitempty"`
}

// CurrentStatus computes the status.
func (a *API) CurrentStatus() Status {
	v := a.cfg.Verifier
	snap := a.cfg.Trust.Snapshot()
	ti, stale := v.Staleness(snap, nowOf(v))
	st := Status{Version: a.cfg.Version, Trust: ti, Stale: stale, StalePolicy: string(policy(v)), Vendors: len(snap.Vendors), Anchors: snap.Anchors,
		Decryption: Decryption{Configured: a.cfg.Thumbprint != "", Thumbprint: a.cfg.Thumbprint}}
	if n, err := a.cfg.Trust.Applied(); err == nil {
		st.Applied = n
	}
	if a.cfg.Syncer != nil {
		s := a.cfg.Syncer.Status()
		st.Sync = &s
	}
	st.ApplianceID = a.cfg.ApplianceID
	st.Auth = AuthStatus{Enabled: a.cfg.AuthEnabled, Disabled: a.cfg.AuthDisabled}
	if a.cfg.Records != nil {
		st.Auth.RecordsApplied, _ = a.cfg.Records.Applied()
	}
	if a.cfg.RecordsSyncer != nil {
		s := a.cfg.RecordsSyncer.Status()
		st.Auth.RecordsSync = &s
	}
	return st
}

func nowOf(v *captureverify.Verifier) time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func policy(v *captureverify.Verifier) captureverify.StalePolicy {
	if v.StalePolicy == "" {
		return captureverify.StaleReject
	}
	return v.StalePolicy
}

func (a *API) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.CurrentStatus())
}

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	snap := a.cfg.Trust.Snapshot()
	_, stale := a.cfg.Verifier.Staleness(snap, nowOf(a.cfg.Verifier))
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "stale": stale, "size": snap.Size})
}
