package auth

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/records/normalize"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// Auditor records every decision before it is answered. The VID is given
// raw: the auditor keys it (HMAC) before storing anything. An error fails
// the request closed.
type Auditor interface {
	Decision(ctx context.Context, d AuditDecision) error
}

// LockoutAuditor is an Auditor that also records credential lock-outs
// (decisionlog.Log is one). A lock-out names the address or the API key id
// (the public half) that failed FailBurst times, never a presented secret.
type LockoutAuditor interface {
	Lockout(ctx context.Context, l AuditLockout) error
}

// AuditLockout is one lock-out as the LockoutAuditor gets it.
type AuditLockout struct {
	Time    time.Time
	Subject string // "addr:<IP>" or "key:<key id>"
	// Failures is the burst that was spent, RetryAfter the wait for the
	// next try in seconds.
	Failures, RetryAfter int
}

// AuditDecision is one decision as the Auditor gets it.
type AuditDecision struct {
	Time          time.Time
	RP            string
	TransactionID string
	VID           string   // raw; HMAC it before storing
	AuthTypes     []string // recordfeed.Auth* asked for
	Status        bool
	Reasons       []string // reason codes (Error.Code)
	Device        string   // serial of the capturing device, "" without a verified device
}

// Reason codes (docs/api/appliance.md). Capture problems are
// "capture-invalid:<check>" (the sbi check names) except the registry's
// verdicts on the device and its vendor, which keep their own codes
// (device-revoked, device-suspended, device-not-enrolled, vendor-revoked, ...).
const (
	CodeConsent        = "consent-missing"
	CodeTrustStale     = "trust-stale"
	CodeNoTrustData    = "no-trust-data"
	CodeRecordsStale   = "records-stale"
	CodeAuthType       = "rp-auth-type-not-allowed"
	CodeVIDInvalid     = "vid-invalid"
	CodeVIDUnknown     = "vid-unknown"
	CodeVIDExpired     = "vid-expired"
	CodeVIDNotYetValid = "vid-not-yet-valid"
	CodeVIDUsed        = "vid-used"
	CodeTampered       = "record-tampered"
	CodeLocked         = "auth-type-locked"
	CodeLockedOut      = "vid-locked-out"
	CodeDemoMismatch   = "demo-mismatch"
	CodeDemoAttribute  = "demo-attribute-unknown"
	CodeBioMismatch    = "bio-mismatch"
	CodeBioQuality     = "bio-quality"
	CodeModality       = "modality-not-supported"
	CodeNoTemplate     = "bio-no-template"
	CodeCapturePrefix  = "capture-invalid:"
	CodeReplayed       = "capture-replayed"
)

// Error is one reason in a decision.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Decision is the signed payload of an answer.
type Decision struct {
	TransactionID string            `json:"transactionId"`
	AuthStatus    bool              `json:"authStatus"`
	AuthToken     string            `json:"authToken,omitempty"`
	KYC           map[string]string `json:"kyc,omitempty"`
	Errors        []Error           `json:"errors"`
	ResponseTime  string            `json:"responseTime"`
	ApplianceID   string            `json:"applianceId"`
	RP            string            `json:"rp"`
}

// Response is the body of a 200 answer: the JWS and, for convenience, its
// decoded payload (trust only the JWS).
type Response struct {
	JWS      string   `json:"jws"`
	Decision Decision `json:"decision"`
}

// Defaults.
const (
	DefaultTargetFMR       = 1e-4
	DefaultLockoutFailures = 5
	DefaultLockoutDuration = 15 * time.Minute
	DefaultRPRate          = 20 // decisions per second per relying party
	DefaultRPBurst         = 40
	DefaultQueueWait       = 2 * time.Second
	// FailBurst failed API-key checks are allowed per source address and
	// per key id, refilled at FailRate a second (one every 5 s); past
	// that the address is answered 429 without a check.
	FailBurst = 10
	FailRate  = 0.2
	// DefaultIrisThreshold and DefaultFaceThreshold are the matchers' own
	// defaults; set them from a deployment's impostor scores
	// (docs/performance.md).
	DefaultIrisThreshold = iris.DefaultThreshold
	DefaultFaceThreshold = face.DefaultThreshold
	// MinTargetFMR is the lowest false-match rate the built-in calibration
	// measured (match.DefaultCalibration).
	MinTargetFMR = 3e-5
)

// How relying parties authenticate (Config.RPAuth).
const (
	RPAuthKey     = "key"      // the API key (Authorization: Bearer etr_...)
	RPAuthCertKey = "cert+key" // a client certificate from central and the API key, both of one relying party
	RPAuthCert    = "cert"     // the client certificate alone
)

// Config configures the handler. Trust, Records, Captures,
// SigningKey, Chain, ApplianceID and Auditor are required.
type Config struct {
	Trust    *truststate.Registry
	Records  *records.Store
	Captures *captureverify.Verifier // with the TPM decryption key
	// SigningKey signs decisions (RS256); Chain is its certificate first.
	SigningKey crypto.Signer
	Chain      []*x509.Certificate
	// Delegate, if set, signs decisions instead (ES256) with an in-memory
	// key SigningKey vouched for (decision 0017): one TPM signature an hour
	// instead of one a decision. Its use must be DelegateUse and its
	// subject ApplianceID.
	Delegate    *delegate.Holder
	ApplianceID string
	Auditor     Auditor
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	Now         func() time.Time

	// RecordsCheckpoint is the signing time of the records feed's last
	// accepted checkpoint; records older than the captures' MaxStaleness
	// are stale (nil: not checked).
	RecordsCheckpoint func() time.Time

	TargetFMR float64 // fingerprint false-match rate (default 1e-4; at least 3e-5)
	// IrisThreshold is the normalised masked Hamming distance at or under
	// which an iris matches (default iris.DefaultThreshold, 0.36; in (0, 0.5)).
	IrisThreshold float64
	// FaceThreshold is the descriptor distance under which a face
	// matches (default face.DefaultThreshold, 0.6; in (0, 1.5)).
	FaceThreshold   float64
	LockoutFailures int           // consecutive failed matches that lock a VID out (default 5; negative: never)
	LockoutDuration time.Duration // how long (default 15m)
	PartialScore    int           // partial matchMode threshold 1-100 (default normalize.DefaultThreshold)
	RPRate          float64       // decisions per second per relying party (default 20; negative: unlimited)
	RPBurst         int           // bucket size (default 40)
	MaxBody         int64         // request body bound (default MaxBody)
	MaxInFlight     int           // decisions at once (default 2 × GOMAXPROCS)
	QueueWait       time.Duration // wait for a free slot before 503 (default 2s)
	// RPAuth is how a relying party proves who it is (RPAuthKey,
	// RPAuthCertKey, RPAuthCert; default RPAuthCertKey). The client
	// certificate is the one the TLS listener verified against central's
	// TLS root; its identity urn:edgetrust:rp:<id> must be an active
	// relying party on the trust feed.
	RPAuth string
	// ReplayWindow is how long a presented capture is remembered so it
	// cannot be presented again (default: the captures' MaxAge +
	// MaxFuture, after which its timestamp refuses it anyway; negative:
	// no replay check — benchmarks only).
	ReplayWindow time.Duration
}

// Handler serves POST /v1/auth.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	jws    *jwsSigner
	fp     *match.Fingerprint
	sem    chan struct{}
	lim    *httpx.Limiter // per relying party; nil: unlimited
	fails  *httpx.Failures
	m      *metrics
	policy captureverify.StalePolicy
}

// New checks cfg and makes the handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Trust == nil, cfg.Records == nil, cfg.Captures == nil:
		return nil, errors.New("auth: trust registry, record store, capture verifier and token deriver are required")
	case cfg.ApplianceID == "":
		return nil, errors.New("auth: the appliance id is required")
	case cfg.Auditor == nil:
		return nil, errors.New("auth: an Auditor is required: every decision is audited")
	}
	js, err := newJWSSigner(cfg.SigningKey, cfg.Chain, cfg.Delegate)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Delegate != nil {
		// A delegate for another appliance or use, or not vouched for by
		// this key, would sign decisions no relying party accepts. It is
		// checked on the handler's clock, the one the holder made it on.
		_, cred, err := cfg.Delegate.Current()
		if err == nil {
			_, err = delegate.Verify(cred, cfg.SigningKey.Public(), DelegateUse, cfg.ApplianceID, cfg.Now(), DelegateSkew)
		}
		if err != nil {
			return nil, fmt.Errorf("auth: the decision delegate: %w", err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TargetFMR == 0 {
		cfg.TargetFMR = DefaultTargetFMR
	}
	if !(cfg.TargetFMR >= MinTargetFMR && cfg.TargetFMR <= 0.01) {
		return nil, fmt.Errorf("auth: target FMR %g outside [%g, 0.01]: the matcher is calibrated down to %g", cfg.TargetFMR, MinTargetFMR, MinTargetFMR)
	}
	if cfg.IrisThreshold == 0 {
		cfg.IrisThreshold = DefaultIrisThreshold
	}
	if !(cfg.IrisThreshold > 0 && cfg.IrisThreshold < 0.5) {
		return nil, fmt.Errorf("auth: iris threshold %g outside (0, 0.5): 0.5 is what unrelated irises score", cfg.IrisThreshold)
	}
	if cfg.FaceThreshold == 0 {
		cfg.FaceThreshold = DefaultFaceThreshold
	}
	if !(cfg.FaceThreshold > 0 && cfg.FaceThreshold < 1.5) {
		return nil, fmt.Errorf("auth: face threshold %g outside (0, 1.5)", cfg.FaceThreshold)
	}
	if cfg.LockoutFailures == 0 {
		cfg.LockoutFailures = DefaultLockoutFailures
	}
	if cfg.LockoutDuration == 0 {
		cfg.LockoutDuration = DefaultLockoutDuration
	}
	if cfg.LockoutDuration < 0 {
		return nil, errors.New("auth: lockout duration must be positive")
	}
	if cfg.PartialScore == 0 {
		cfg.PartialScore = normalize.DefaultThreshold
	}
	if cfg.PartialScore < 1 || cfg.PartialScore > 100 {
		return nil, errors.New("auth: partial match score must be 1-100")
	}
	switch cfg.RPAuth {
	case "":
		cfg.RPAuth = RPAuthCertKey
	case RPAuthKey, RPAuthCertKey, RPAuthCert:
	default:
		return nil, fmt.Errorf("auth: relying-party authentication %q: want %s, %s or %s", cfg.RPAuth, RPAuthCertKey, RPAuthCert, RPAuthKey)
	}
	if cfg.RPRate == 0 {
		cfg.RPRate = DefaultRPRate
	}
	if cfg.RPBurst <= 0 {
		cfg.RPBurst = max(DefaultRPBurst, int(cfg.RPRate))
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = MaxBody
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, jws: js, fp: match.NewFingerprint(),
		sem: make(chan struct{}, cfg.MaxInFlight), m: newMetrics(cfg.Registerer), fails: httpx.NewFailures(FailRate, FailBurst),
		policy: cfg.Captures.StalePolicy}
	if h.policy == "" {
		h.policy = captureverify.StaleReject
	}
	if cfg.RPRate >= 0 {
		h.lim = httpx.NewLimiter(cfg.RPRate, float64(cfg.RPBurst))
	}
	return h, nil
}

// ServeHTTP implements http.Handler for POST /v1/auth.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.Header(w) // nosniff and no-store on every answer, refusals too
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, "", http.StatusMethodNotAllowed, "method-not-allowed", "use POST")
		return
	}
	rp, status, msg := h.authenticate(r)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(h.fails.RetryAfter()))
		h.refuse(w, "", status, "throttled", msg)
		return
	}
	if rp == nil {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgetrust-appliance"`)
		}
		h.refuse(w, "", status, map[int]string{http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden"}[status], msg)
		return
	}
	if !h.allow(rp.ID) {
		w.Header().Set("Retry-After", "1")
		h.refuse(w, rp.ID, http.StatusTooManyRequests, "rate-limited", "rate limit for this relying party exceeded; retry shortly")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			h.refuse(w, rp.ID, http.StatusUnsupportedMediaType, "bad-request", "send the request as application/json")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		h.refuse(w, rp.ID, http.StatusRequestEntityTooLarge, "too-large", "request body over "+strconv.FormatInt(h.cfg.MaxBody, 10)+" bytes")
		return
	case err != nil:
		h.refuse(w, rp.ID, http.StatusBadRequest, "bad-request", "could not read the request body")
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		h.refuse(w, rp.ID, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	t := time.NewTimer(h.cfg.QueueWait)
	select {
	case h.sem <- struct{}{}:
		t.Stop()
	case <-t.C:
		w.Header().Set("Retry-After", "1")
		h.refuse(w, rp.ID, http.StatusServiceUnavailable, "busy", "too many authentications in progress; retry shortly")
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	defer func() { <-h.sem }()

	start := time.Now()
	resp, status, err := h.Decide(r.Context(), rp, req)
	if err != nil {
		h.refuse(w, rp.ID, status, map[int]string{http.StatusServiceUnavailable: "audit-unavailable"}[status], err.Error())
		return
	}
	h.m.seconds.Observe(time.Since(start).Seconds())
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// refuse answers a request that got no decision.
func (h *Handler) refuse(w http.ResponseWriter, rp string, status int, result, msg string) {
	if result == "" {
		result = "error"
	}
	h.m.refused.WithLabelValues(result).Inc()
	if status >= 500 {
		h.log.Error("authentication request failed", "rp", rp, "status", status, "result", result, "err", msg)
		if status == http.StatusInternalServerError {
			msg = "internal error; see the appliance log"
		}
	} else {
		h.log.Info("authentication request refused", "rp", rp, "status", status, "result", result)
	}
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// authenticate finds the relying party of the request's API key. On
// failure it returns the HTTP status and a message that names no secret.
//
// Failed checks are throttled (issue #19): each spends a token of the
// source address and of the claimed key id (the public half of the key,
// never the secret). An address out of tokens is answered 429 before its
// key is looked at. A key id out of tokens still lets the right secret
// in — a key id is no secret, and locking it would let anyone who saw
// one deny its relying party service — but every wrong secret for it is
// a 429 that spends the sender's address budget too.
func (h *Handler) authenticate(r *http.Request) (*truststate.RPRecord, int, string) {
	addr := "addr:" + sourceAddr(r)
	if h.fails.Blocked(addr) {
		h.m.credFailures.WithLabelValues("throttled").Inc()
		return nil, http.StatusTooManyRequests, "too many failed API-key checks from this address; retry later"
	}
	var certRP, certSerial string
	if h.cfg.RPAuth != RPAuthKey {
		// The listener verified the chain to central's TLS root and the
		// validity period at the handshake; here: is it a relying party's?
		id, _, err := tlsx.PeerIdentity(r.TLS)
		if err != nil || id.Kind != tlsx.KindRP {
			return h.failed(r, addr, "", "no-certificate", "a relying-party client certificate from central is required (edgetrust-central rp cert issue)")
		}
		certRP, certSerial = id.ID, r.TLS.PeerCertificates[0].SerialNumber.Text(16)
	}
	if h.cfg.RPAuth == RPAuthCert {
		rp := h.cfg.Trust.Snapshot().RPs[certRP]
		if rp == nil {
			h.log.Warn("relying-party certificate refused: not on the trust feed", "rp", certRP)
			return h.failed(r, addr, "", "refused", "relying party "+certRP+" is not known to this appliance's trust feed")
		}
		if rp.RevokedCert(certSerial) {
			return h.revokedCert(r, addr, rp.ID, certSerial)
		}
		return rpStatus(rp)
	}
	hdr := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(hdr, " ")
	if hdr == "" {
		return h.failed(r, addr, "", "missing", "missing Authorization: Bearer <API key from central>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return h.failed(r, addr, "", "malformed", "Authorization must be Bearer <API key>")
	}
	id, secret, ok := trustfeed.ParseRPKey(strings.TrimSpace(key))
	if !ok {
		return h.failed(r, addr, "", "malformed", "malformed API key: want etr_<16 hex>_<secret>")
	}
	rp, k := h.cfg.Trust.Snapshot().RPByKeyID(id)
	if rp == nil || !trustfeed.RPKeyMatches(secret, *k) {
		h.log.Warn("relying-party API key refused", "keyId", id)
		if h.fails.Blocked("key:" + id) {
			return h.failed(r, addr, "key:"+id, "throttled", "too many failed checks of this API key; retry later")
		}
		return h.failed(r, addr, "key:"+id, "refused", "unknown or revoked API key")
	}
	if certRP != "" && certRP != rp.ID {
		h.log.Warn("relying-party API key and client certificate disagree", "certificate", certRP, "key", rp.ID)
		return h.failed(r, addr, "key:"+id, "mismatch", "the API key and the client certificate belong to different relying parties")
	}
	if certRP != "" && rp.RevokedCert(certSerial) {
		return h.revokedCert(r, addr, rp.ID, certSerial)
	}
	return rpStatus(rp)
}

// revokedCert refuses a certificate central revoked on its own (rp cert
// revoke): the party and its other certificates stay accepted.
func (h *Handler) revokedCert(r *http.Request, addr, rp, serial string) (*truststate.RPRecord, int, string) {
	h.log.Warn("relying-party certificate refused: revoked by central", "rp", rp, "serial", serial)
	return h.failed(r, addr, "", "cert-revoked", "this client certificate of relying party "+rp+" (serial "+serial+
		") is revoked by central; present another one, or have central issue a new one (edgetrust-central rp cert issue)")
}

// rpStatus lets an active relying party in.
func rpStatus(rp *truststate.RPRecord) (*truststate.RPRecord, int, string) {
	switch rp.Status {
	case trustfeed.Active:
		return rp, 0, ""
	case trustfeed.Suspended:
		return nil, http.StatusForbidden, "relying party " + rp.ID + " is suspended by central"
	}
	return nil, http.StatusForbidden, "relying party " + rp.ID + " is revoked by central"
}

// failed records a failed credential check against the address and key
// id buckets and counts it. A "throttled" failure answers 429. A failure
// that locks a bucket out is logged, counted and audited (lockout).
func (h *Handler) failed(r *http.Request, addr, keyID, reason, msg string) (*truststate.RPRecord, int, string) {
	for _, k := range h.fails.Fail(addr, keyID) {
		h.lockout(r.Context(), k)
	}
	h.m.credFailures.WithLabelValues(reason).Inc()
	if reason == "throttled" {
		return nil, http.StatusTooManyRequests, msg
	}
	return nil, http.StatusUnauthorized, msg
}

// lockout reports that key ("addr:..." or "key:...") has spent its
// FailBurst failures: a Warn log line, a metric, and an entry in the
// decision log when the Auditor keeps lock-outs. An audit error is logged,
// not answered: the request is refused either way.
func (h *Handler) lockout(ctx context.Context, key string) {
	kind, _, _ := strings.Cut(key, ":")
	h.m.lockouts.WithLabelValues(kind).Inc()
	h.log.Warn("API-key checks locked out after repeated failures", "subject", key, "failures", FailBurst,
		"retryAfterSeconds", h.fails.RetryAfter())
	if la, ok := h.cfg.Auditor.(LockoutAuditor); ok {
		if err := la.Lockout(ctx, AuditLockout{Time: time.Now(), Subject: key, Failures: FailBurst, RetryAfter: h.fails.RetryAfter()}); err != nil {
			h.log.Error("auditing a lock-out failed", "subject", key, "err", err.Error())
		}
	}
}

// sourceAddr is the client's IP address (the TCP peer: behind a TLS
// terminator, the terminator's).
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allow takes a token from the relying party's bucket.
func (h *Handler) allow(rp string) bool { return h.lim == nil || h.lim.Allow(rp) }

type metrics struct {
	decisions *prometheus.CounterVec
	reasons   *prometheus.CounterVec
	refused   *prometheus.CounterVec
	seconds   prometheus.Histogram
	// credFailures counts failed API-key checks by reason.
	credFailures *prometheus.CounterVec
	// lockouts counts lock-outs by what was locked (addr, key).
	lockouts *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_auth_decisions_total",
			Help: "Authentication decisions by relying party and result (success, failure)."}, []string{"rp", "result"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_auth_failure_reasons_total",
			Help: "Reason codes of failed authentications, by relying party."}, []string{"rp", "reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_auth_requests_refused_total",
			Help: "Authentication requests answered without a decision: unauthorized, forbidden, throttled, rate-limited, too-large, bad-request, busy, audit-unavailable, error."}, []string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgetrust_appliance_auth_seconds",
			Help: "Time to decide, sign and audit an authentication (capture verification, TPM and matching included).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		credFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_auth_credential_failures_total",
			Help: "Failed relying-party API-key checks by reason: missing, malformed, refused (unknown key or wrong secret), throttled (answered 429)."}, []string{"reason"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_auth_lockouts_total",
			Help: "Lock-outs of API-key checks after FailBurst failures, by what was locked: addr (a source address) or key (an API key id). Each is in the decision log."}, []string{"subject"}),
	}
	if reg != nil {
		reg.MustRegister(m.decisions, m.reasons, m.refused, m.seconds, m.credFailures, m.lockouts)
	}
	return m
}
