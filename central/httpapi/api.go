package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

var (
	fail       = core.Fail
	badRequest = core.BadRequest
)

var (
	mRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	mEnrolments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_enrolment_steps_total", Help: "Enrolment and rotation steps by step and result code (ok or an error code).",
	}, []string{"step", "result"})
	mWaiters = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "edgetrust_central_feed_waiters", Help: "Feed requests waiting (long poll) for new entries.",
	})
	mFeedEntries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_central_feed_entries_served_total", Help: "Feed entries served in batches.",
	})
	mAuthFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_auth_failures_total", Help: "Failed credential checks (result refused) and checks refused unrun because the address or credential failed too often (result throttled), by check (admin, enrolment).",
	}, []string{"check", "result"})
	mWaitersRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_feed_waiters_refused_total", Help: "Feed long polls answered 429 at once because MaxFeedWaiters (limit total) or MaxFeedWaitersPerClient (limit client) were waiting.",
	}, []string{"limit"})
	mLockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_auth_lockouts_total", Help: "Lock-outs after FailureBurst failed credential checks, by check (admin, enrolment) and what was locked (addr, admin-token, enrol-token, session); each is an auth.lockout row in the audit log.",
	}, []string{"check", "subject"})
)

// Registry holds central's metrics (served on /metrics).
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(mRequests, mEnrolments, mWaiters, mFeedEntries, mAuthFailures, mLockouts, mWaitersRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Limits of the HTTP API.
const (
	// MaxAdminBody bounds an admin request body (person enrolment:
	// people.MaxEnrolBytes).
	MaxAdminBody = 1 << 20
	maxFeedWait  = feeds.MaxWait
)

// Options tune the HTTP API.
type Options struct {
	// EnrolRate and AdminRate are requests per second per client address
	// (burst: 4×), for enrolment and admin endpoints. Zero: 5 and 20.
	EnrolRate, AdminRate float64
	// TrustProxy takes the client address from X-Forwarded-For (only
	// behind a proxy that sets it).
	TrustProxy bool
	// FailureRate and FailureBurst throttle failed credential checks
	// (admin tokens, enrolment tokens and sessions): each failure spends a
	// token of the client address and of the claimed token id or session,
	// and a check is refused (429) unrun while either is empty. Zero: 0.5
	// a second, burst 10. Successful checks spend nothing.
	FailureRate, FailureBurst float64
	// MaxFeedWaiters and MaxFeedWaitersPerClient bound the feed long polls
	// (GET /v1/feeds/{name}?wait=...) waiting at once, in all and per
	// client address: one past either is answered 429 with Retry-After
	// at once instead of waiting. Zero: 2000 and 8 (an appliance follows
	// two feeds). Requests without wait are not counted.
	MaxFeedWaiters, MaxFeedWaitersPerClient int
	// RPCert, when set, serves POST PathRPCert (rpcert.go): relying-party
	// TLS client certificates from central's TLS CA, which the command holds.
	RPCert RPCertFunc
}

// New returns central's HTTP API over svc; log takes refusals and
// internal errors (nil: discarded).
func New(svc Service, log *slog.Logger, o Options) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := svc
	if o.EnrolRate <= 0 {
		o.EnrolRate = 5
	}
	if o.AdminRate <= 0 {
		o.AdminRate = 20
	}
	if o.FailureRate <= 0 {
		o.FailureRate = 0.5
	}
	if o.FailureBurst <= 0 {
		o.FailureBurst = 10
	}
	if o.MaxFeedWaiters <= 0 {
		o.MaxFeedWaiters = DefaultMaxFeedWaiters
	}
	if o.MaxFeedWaitersPerClient <= 0 {
		o.MaxFeedWaitersPerClient = DefaultMaxFeedWaitersPerClient
	}
	h := &api{svc: svc, log: log, enrolLimit: httpx.NewLimiter(o.EnrolRate, 4*o.EnrolRate), adminLimit: httpx.NewLimiter(o.AdminRate, 4*o.AdminRate),
		failures: httpx.NewFailures(o.FailureRate, o.FailureBurst), failureBurst: int(o.FailureBurst), trustProxy: o.TrustProxy,
		waiters: &waiters{max: o.MaxFeedWaiters, perClient: o.MaxFeedWaitersPerClient, by: map[string]int{}}}
	mux := http.NewServeMux()
	route := func(pattern string, f http.HandlerFunc) {
		name := pattern[strings.IndexByte(pattern, ' ')+1:]
		mux.Handle(pattern, instrument(name, f))
	}
	route("GET /healthz", h.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	route("GET /v1/feeds/{name}", h.feed)
	route("GET /v1/feed-key", h.feedKey)
	route("GET /v1/appliance-ca", h.applianceCA)
	route("POST /v1/appliances/{id}/audit", h.applianceAudit)

	route("POST "+enrol.PathStart, h.enrolStep("start", func(ctx context.Context, r io.Reader, g *guard) (any, error) {
		q, err := enrol.DecodeStart(r)
		if err != nil {
			return nil, core.BodyError(err)
		}
		id, _, _ := core.SplitToken(core.EnrolPrefix, q.Token)
		if err := g.claim("enrol-token", id); err != nil {
			return nil, err
		}
		return c.StartEnrolment(ctx, q)
	}))
	route("POST "+enrol.PathFinish, h.enrolStep("finish", func(ctx context.Context, r io.Reader, g *guard) (any, error) {
		q, err := enrol.DecodeFinish(r)
		if err != nil {
			return nil, core.BodyError(err)
		}
		if err := g.claim("session", q.Session); err != nil {
			return nil, err
		}
		return c.FinishEnrolment(ctx, q)
	}))
	route("POST "+enrol.PathRotateStart, h.enrolStep("rotate-start", func(ctx context.Context, r io.Reader, g *guard) (any, error) {
		q, err := enrol.DecodeRotateStart(r)
		if err != nil {
			return nil, core.BodyError(err)
		}
		return c.StartRotation(ctx, q)
	}))
	route("POST "+enrol.PathRotateFinish, h.enrolStep("rotate-finish", func(ctx context.Context, r io.Reader, g *guard) (any, error) {
		q, err := enrol.DecodeRotateFinish(r)
		if err != nil {
			return nil, core.BodyError(err)
		}
		if err := g.claim("session", q.Session); err != nil {
			return nil, err
		}
		return c.FinishRotation(ctx, q)
	}))

	admin := func(pattern string, f func(ctx context.Context, a *core.Admin, r *http.Request) (any, error)) {
		route(pattern, h.admin(f))
	}
	if o.RPCert != nil {
		h.rpCertRoute(route, o.RPCert)
	}
	h.rpCertRevokeRoute(route)
	admin("GET /v1/admin/whoami", func(_ context.Context, a *core.Admin, _ *http.Request) (any, error) { return a, nil })
	admin("GET /v1/admin/vendors", func(ctx context.Context, _ *core.Admin, _ *http.Request) (any, error) { return c.Vendors(ctx) })
	admin("POST /v1/admin/vendors", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.AddVendor(ctx, a, q.ID, q.Name)
	})
	admin("POST /v1/admin/vendors/{id}/status", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q core.StatusChange
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetVendorStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("GET /v1/admin/devices", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		qs := r.URL.Query()
		limit, _ := strconv.Atoi(qs.Get("limit"))
		return c.Devices(ctx, store.DeviceFilter{VendorID: qs.Get("vendor"), Status: qs.Get("status"), After: qs.Get("after"), Limit: limit})
	})
	admin("GET /v1/admin/devices/{serial}", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		return c.Device(ctx, r.PathValue("serial"))
	})
	admin("POST /v1/admin/devices/status", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			Serials []string `json:"serials"`
			core.StatusChange
		}
		if err := decodeJSON(r, &q, bulkBody); err != nil {
			return nil, err
		}
		done, err := c.SetDeviceStatus(ctx, a, q.Serials, q.StatusChange)
		return map[string]any{"serials": done, "status": q.Status}, err
	})
	admin("GET /v1/admin/appliances", func(ctx context.Context, _ *core.Admin, _ *http.Request) (any, error) { return c.Appliances(ctx) })
	admin("GET /v1/admin/appliances/{id}", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		return c.Appliance(ctx, r.PathValue("id"))
	})
	admin("POST /v1/admin/appliances/{id}/status", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q core.StatusChange
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetApplianceStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("POST /v1/admin/tokens", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q core.TokenRequest
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.CreateEnrolmentToken(ctx, a, q)
	})
	admin("POST /v1/admin/admin-tokens", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			Name string `json:"name"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		tok, rec, err := c.CreateAdminToken(ctx, a.Actor(), q.Name)
		if err != nil {
			return nil, err
		}
		return map[string]string{"token": tok, "id": rec.ID, "name": rec.Name}, nil
	})
	h.peopleRoutes(route, admin)
	h.attestRoutes(route, admin)
	admin("GET /v1/admin/relying-parties", func(ctx context.Context, _ *core.Admin, _ *http.Request) (any, error) {
		return c.RelyingParties(ctx)
	})
	admin("POST /v1/admin/relying-parties", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			ID         string   `json:"id"`
			Name       string   `json:"name"`
			Attributes []string `json:"attributes"`
			AuthTypes  []string `json:"authTypes"`
		}
		if err := decodeJSON(r, &q, listBody(registry.MaxAttributes)); err != nil {
			return nil, err
		}
		return c.AddRelyingParty(ctx, a, q.ID, q.Name, q.Attributes, q.AuthTypes)
	})
	admin("GET /v1/admin/audit", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		qs := r.URL.Query()
		after, _ := strconv.ParseUint(qs.Get("after"), 10, 64)
		limit, _ := strconv.Atoi(qs.Get("limit"))
		return c.Audit(ctx, store.AuditFilter{Subject: qs.Get("subject"), After: after, Limit: limit})
	})
	admin("POST /v1/admin/audit/verify", func(ctx context.Context, _ *core.Admin, _ *http.Request) (any, error) {
		n, err := c.VerifyAudit(ctx)
		if err != nil {
			return nil, fail(http.StatusConflict, "audit_broken", "%v", err)
		}
		return map[string]any{"rows": n, "ok": true}, nil
	})
	return securityHeaders(httpx.Fallback(mux, func(w http.ResponseWriter, r *http.Request, code int) {
		if code == http.StatusMethodNotAllowed {
			h.writeError(w, r, fail(code, CodeMethodNotAllowed, "this method is not allowed here; see the Allow header"))
			return
		}
		h.writeError(w, r, fail(http.StatusNotFound, enrol.CodeNotFound, "no such endpoint (see docs/api/central.md)"))
	}))
}

// CodeMethodNotAllowed: a known path asked with another method (405).
const CodeMethodNotAllowed = "method_not_allowed"

type api struct {
	svc                    Service
	log                    *slog.Logger
	enrolLimit, adminLimit *httpx.Limiter
	failures               *httpx.Failures
	failureBurst           int
	trustProxy             bool
	waiters                *waiters
}

// Feed long-poll bounds (Options.MaxFeedWaiters...).
const (
	DefaultMaxFeedWaiters          = 2000
	DefaultMaxFeedWaitersPerClient = 8
)

// waiters counts the feed long polls waiting, in all and per client.
type waiters struct {
	mu             sync.Mutex
	max, perClient int
	total          int
	by             map[string]int
}

// enter takes a waiting slot for client, or says which bound is full.
func (w *waiters) enter(client string) (ok bool, full string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total >= w.max {
		return false, "total"
	}
	if w.by[client] >= w.perClient {
		return false, "client"
	}
	w.total++
	w.by[client]++
	return true, ""
}

func (w *waiters) leave(client string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.by[client]--; w.by[client] <= 0 {
		delete(w.by, client)
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		mRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

func (h *api) clientAddr(r *http.Request) string {
	if h.trustProxy {
		if f := r.Header.Get("X-Forwarded-For"); f != "" {
			first, _, _ := strings.Cut(f, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// CodeInsufficientStorage is the error code of a write refused because
// the store's disk is full (507).
const CodeInsufficientStorage = "insufficient_storage"

// CodeStoreUnavailable is the error code of a request refused because
// central's database cannot be reached (503, Retry-After).
const CodeStoreUnavailable = "store_unavailable"

// writeError answers with {"error": {...}}; internal errors are logged and
// answered without detail.
func (h *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *enrol.Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			e = fail(http.StatusServiceUnavailable, enrol.CodeInternal, "request cancelled")
		case errors.Is(err, store.ErrUnavailable):
			h.log.Error("the database is unavailable", "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", "1")
			e = fail(http.StatusServiceUnavailable, CodeStoreUnavailable, "central cannot reach its database (restarting or down): nothing was written; retry in a moment")
		case errors.Is(err, store.ErrNoSpace):
			h.log.Error("write refused: the disk is nearly full", "path", r.URL.Path, "err", err)
			e = fail(http.StatusInsufficientStorage, CodeInsufficientStorage, "central's disk is full: nothing was written; reads go on; retry once an operator has freed space")
		default:
			h.log.Error("request failed", "path", r.URL.Path, "err", err)
			e = fail(http.StatusInternalServerError, enrol.CodeInternal, "internal error; see central's log")
		}
	}
	httpx.WriteJSON(w, e.Status, map[string]*enrol.Error{"error": e})
}

// Limits of the admin API's bodies (internal/jsonx): closed contracts of a
// few members, one level of arrays at most, each array bounded by what
// the endpoint accepts anyway.
var (
	adminBody = jsonx.Limits{MaxBytes: MaxAdminBody, MaxDepth: 2, MaxArray: 1, MaxMembers: 8}
	// bulkBody: POST /v1/admin/devices/status names up to MaxBulk serials.
	bulkBody = listBody(registry.MaxBulk)
)

// listBody is adminBody whose arrays hold up to n elements.
func listBody(n int) jsonx.Limits {
	l := adminBody
	l.MaxArray = n
	return l
}

// decodeJSON reads a request body strictly (internal/jsonx): duplicate or
// unknown members, invalid UTF-8, trailing data, and arrays, members or
// nesting over l are refused with 400 (413 over l.MaxBytes) before
// anything is built.
func decodeJSON(r *http.Request, v any, l jsonx.Limits) error {
	if err := jsonx.Decode(r.Body, v, l); err != nil {
		return core.BodyError(err)
	}
	return nil
}
