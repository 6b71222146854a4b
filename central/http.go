package central

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/pki"
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
)

// Registry holds central's metrics (served on /metrics).
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(mRequests, mEnrolments, mWaiters, mFeedEntries, mAuthFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Limits of the HTTP API.
const (
	maxAdminBody = 1 << 20
	maxFeedWait  = MaxWait
)

// HTTPOptions tune the HTTP API.
type HTTPOptions struct {
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
}

// Handler returns central's HTTP API.
func (c *Central) Handler(o HTTPOptions) http.Handler {
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
	h := &api{c: c, enrolLimit: httpx.NewLimiter(o.EnrolRate, 4*o.EnrolRate), adminLimit: httpx.NewLimiter(o.AdminRate, 4*o.AdminRate),
		failures: httpx.NewFailures(o.FailureRate, o.FailureBurst), trustProxy: o.TrustProxy}
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

	admin := func(pattern string, f func(ctx context.Context, a *Admin, r *http.Request) (any, error)) {
		route(pattern, h.admin(f))
	}
	admin("GET /v1/admin/whoami", func(_ context.Context, a *Admin, _ *http.Request) (any, error) { return a, nil })
	admin("GET /v1/admin/vendors", func(ctx context.Context, _ *Admin, _ *http.Request) (any, error) { return c.Vendors(ctx) })
	admin("POST /v1/admin/vendors", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.AddVendor(ctx, a, q.ID, q.Name)
	})
	admin("POST /v1/admin/vendors/{id}/status", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q StatusChange
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetVendorStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("GET /v1/admin/devices", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		qs := r.URL.Query()
		limit, _ := strconv.Atoi(qs.Get("limit"))
		return c.Devices(ctx, store.DeviceFilter{VendorID: qs.Get("vendor"), Status: qs.Get("status"), After: qs.Get("after"), Limit: limit})
	})
	admin("GET /v1/admin/devices/{serial}", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		return c.Device(ctx, r.PathValue("serial"))
	})
	admin("POST /v1/admin/devices/status", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			Serials []string `json:"serials"`
			StatusChange
		}
		if err := decodeJSON(r, &q, bulkBody); err != nil {
			return nil, err
		}
		done, err := c.SetDeviceStatus(ctx, a, q.Serials, q.StatusChange)
		return map[string]any{"serials": done, "status": q.Status}, err
	})
	admin("GET /v1/admin/appliances", func(ctx context.Context, _ *Admin, _ *http.Request) (any, error) { return c.Appliances(ctx) })
	admin("GET /v1/admin/appliances/{id}", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		return c.Appliance(ctx, r.PathValue("id"))
	})
	admin("POST /v1/admin/appliances/{id}/status", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q StatusChange
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetApplianceStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("POST /v1/admin/tokens", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q TokenRequest
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.CreateEnrolmentToken(ctx, a, q)
	})
	admin("POST /v1/admin/admin-tokens", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
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
	admin("GET /v1/admin/relying-parties", func(ctx context.Context, _ *Admin, _ *http.Request) (any, error) {
		return c.RelyingParties(ctx)
	})
	admin("POST /v1/admin/relying-parties", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
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
	admin("GET /v1/admin/audit", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		qs := r.URL.Query()
		after, _ := strconv.ParseUint(qs.Get("after"), 10, 64)
		limit, _ := strconv.Atoi(qs.Get("limit"))
		return c.Audit(ctx, store.AuditFilter{Subject: qs.Get("subject"), After: after, Limit: limit})
	})
	admin("POST /v1/admin/audit/verify", func(ctx context.Context, _ *Admin, _ *http.Request) (any, error) {
		n, err := c.VerifyAudit(ctx)
		if err != nil {
			return nil, fail(http.StatusConflict, "audit_broken", "%v", err)
		}
		return map[string]any{"rows": n, "ok": true}, nil
	})
	return securityHeaders(httpx.Fallback(mux, func(w http.ResponseWriter, r *http.Request, code int) {
		if code == http.StatusMethodNotAllowed {
			h.writeError(w, r, fail(code, codeMethodNotAllowed, "this method is not allowed here; see the Allow header"))
			return
		}
		h.writeError(w, r, fail(http.StatusNotFound, enrol.CodeNotFound, "no such endpoint (see docs/api/central.md)"))
	}))
}

// codeMethodNotAllowed: a known path asked with another method (405).
const codeMethodNotAllowed = "method_not_allowed"

type api struct {
	c                      *Central
	enrolLimit, adminLimit *httpx.Limiter
	failures               *httpx.Failures
	trustProxy             bool
}

// guard throttles the failed credential checks of one request
// (httpx.Failures): by the client's address, and by the token id or
// session the request claims.
type guard struct {
	h     *api
	check string
	keys  []string
}

func (h *api) guard(r *http.Request, check string) *guard {
	return &guard{h: h, check: check, keys: []string{"addr:" + h.clientAddr(r)}}
}

var errThrottled = fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "too many failed attempts from this address or with this credential; retry later")

// claim adds the credential id the request names (kind:id; none if id is
// empty) and refuses the request, before its credential is looked at,
// while the address or the id has failed too often.
func (g *guard) claim(kind, id string) error {
	if id != "" {
		g.keys = append(g.keys, kind+":"+id)
	}
	if g.h.failures.Blocked(g.keys...) {
		mAuthFailures.WithLabelValues(g.check, "throttled").Inc()
		return errThrottled
	}
	return nil
}

// credentialCodes are the refusals that mean a wrong or dead credential.
var credentialCodes = map[string]bool{
	enrol.CodeUnauthorized: true, enrol.CodeTokenInvalid: true, enrol.CodeTokenUsed: true,
	enrol.CodeTokenExpired: true, enrol.CodeSession: true, enrol.CodeActivation: true,
}

// done records a failure against the request's keys if err refused its
// credential.
func (g *guard) done(err error) {
	var e *enrol.Error
	if errors.As(err, &e) && credentialCodes[e.Code] {
		g.h.failures.Fail(g.keys...)
		mAuthFailures.WithLabelValues(g.check, "refused").Inc()
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

// writeError answers with {"error": {...}}; internal errors are logged and
// answered without detail.
func (h *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *enrol.Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			e = fail(http.StatusServiceUnavailable, enrol.CodeInternal, "request cancelled")
		default:
			h.c.log.Error("request failed", "path", r.URL.Path, "err", err)
			e = fail(http.StatusInternalServerError, enrol.CodeInternal, "internal error; see central's log")
		}
	}
	httpx.WriteJSON(w, e.Status, map[string]*enrol.Error{"error": e})
}

// Limits of the admin API's bodies (internal/jsonx): closed contracts of a
// few members, one level of arrays at most, each array bounded by what
// the endpoint accepts anyway.
var (
	adminBody = jsonx.Limits{MaxBytes: maxAdminBody, MaxDepth: 2, MaxArray: 1, MaxMembers: 8}
	// bulkBody: POST /v1/admin/devices/status names up to MaxBulk serials.
	bulkBody = listBody(MaxBulk)
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

func (h *api) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if _, _, err := h.c.st.ReadFeed(ctx, "trust", 0, 0); err != nil {
		h.c.log.Error("health check: store", "err", err)
		http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

func (h *api) feedKey(w http.ResponseWriter, _ *http.Request) {
	b, err := FeedKeyPEM(h.c.FeedPublicKey())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(b)
}

func (h *api) applianceCA(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pki.CertPEM(h.c.keys.ApplianceCA.Cert))
}

// feed serves GET /v1/feeds/{name}?after=N[&limit=N][&wait=30s].
func (h *api) feed(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	var after uint64
	if s := qs.Get("after"); s != "" {
		var err error
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			h.writeError(w, r, badRequest("after=%q: want the last sequence number applied (0 for none)", s))
			return
		}
	}
	limit := feed.MaxBatchEntries
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > feed.MaxBatchEntries {
			h.writeError(w, r, badRequest("limit=%q: want 1–%d", s, feed.MaxBatchEntries))
			return
		}
		limit = n
	}
	var wait time.Duration
	if s := qs.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxFeedWait {
			h.writeError(w, r, badRequest("wait=%q: want a duration up to %s, e.g. 30s", s, maxFeedWait))
			return
		}
		wait = d
	}
	mWaiters.Inc()
	b, err := h.c.WaitBatch(r.Context(), r.PathValue("name"), after, limit, wait)
	mWaiters.Dec()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	mFeedEntries.Add(float64(len(b.Entries)))
	httpx.WriteJSON(w, http.StatusOK, b)
}

func (h *api) enrolStep(step string, f func(ctx context.Context, r io.Reader, g *guard) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.enrolLimit.Allow(h.clientAddr(r)) {
			mEnrolments.WithLabelValues(step, enrol.CodeRateLimited).Inc()
			w.Header().Set("Retry-After", "1")
			h.writeError(w, r, fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "too many enrolment requests; retry later"))
			return
		}
		body := http.MaxBytesReader(w, r.Body, enrol.MaxRequestBytes)
		g := h.guard(r, "enrolment")
		v, err := f(r.Context(), body, g)
		if err != nil {
			g.done(err)
			code := enrol.CodeInternal
			var e *enrol.Error
			if errors.As(err, &e) {
				code = e.Code
			}
			if code == enrol.CodeRateLimited {
				w.Header().Set("Retry-After", "1")
			}
			mEnrolments.WithLabelValues(step, code).Inc()
			h.c.log.Warn("enrolment step refused", "step", step, "client", h.clientAddr(r), "code", code)
			h.writeError(w, r, err)
			return
		}
		mEnrolments.WithLabelValues(step, "ok").Inc()
		httpx.WriteJSON(w, http.StatusOK, v)
	}
}

func (h *api) admin(f func(ctx context.Context, a *Admin, r *http.Request) (any, error)) http.HandlerFunc {
	return h.adminSized(maxAdminBody, f)
}

// adminSized is admin with another body limit (person enrolment carries
// captures).
func (h *api) adminSized(limit int64, f func(ctx context.Context, a *Admin, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.adminLimit.Allow(h.clientAddr(r)) {
			w.Header().Set("Retry-After", "1")
			h.writeError(w, r, fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "too many admin requests; retry later"))
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok = strings.TrimSpace(tok)
		g := h.guard(r, "admin")
		id, _, _ := core.SplitToken(core.AdminPrefix, tok)
		if err := g.claim("admin-token", id); err != nil {
			w.Header().Set("Retry-After", "1")
			h.writeError(w, r, err)
			return
		}
		if !ok {
			g.done(errUnauthorized)
			h.writeError(w, r, errUnauthorized)
			return
		}
		a, err := h.c.AuthenticateAdmin(r.Context(), tok)
		if err != nil {
			g.done(err)
			h.c.log.Warn("admin request refused", "client", h.clientAddr(r), "path", r.URL.Path)
			h.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		v, err := f(r.Context(), a, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if r.Method != http.MethodGet {
			h.c.log.Info("admin change", "admin", a.TokenID, "method", r.Method, "path", r.URL.Path)
		}
		httpx.WriteJSON(w, http.StatusOK, v)
	}
}

// ServeOptions configure Serve.
type ServeOptions struct {
	HTTPOptions
	Addr              string
	TLSCert, TLSKey   string
	Log               *slog.Logger
	OnListen          func(addr string)
	ReadHeaderTimeout time.Duration
}

// Serve runs the HTTP API until ctx is done.
func (c *Central) Serve(ctx context.Context, o ServeOptions) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           c.Handler(o.HTTPOptions),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      maxFeedWait + 30*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	if o.Log != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug)
	}
	if o.OnListen != nil {
		o.OnListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if o.TLSCert != "" {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}
