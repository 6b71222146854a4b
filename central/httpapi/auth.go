package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/httpx"
)

// guard throttles the failed credential checks of one request
// (httpx.Failures): by the client's address, and by the token id or
// session the request claims.
type guard struct {
	h     *api
	r     *http.Request
	check string
	keys  []string
}

func (h *api) guard(r *http.Request, check string) *guard {
	return &guard{h: h, r: r, check: check, keys: []string{"addr:" + h.clientAddr(r)}}
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
		for _, k := range g.h.failures.Fail(g.keys...) {
			g.lockout(k)
		}
		mAuthFailures.WithLabelValues(g.check, "refused").Inc()
	}
}

// lockout reports that key spent its FailureBurst: a Warn line, a metric
// and an auth.lockout audit row (httpx.Failures reports a key once per
// refill period, so a guesser who keeps going adds a row every
// FailureBurst/FailureRate seconds, not one per guess). An enrolment
// session id is a bearer secret of its own: only a hash prefix of it is
// written. An audit error is logged; the request is refused either way.
func (g *guard) lockout(key string) {
	kind, id, _ := strings.Cut(key, ":")
	if kind == "session" {
		sum := sha256.Sum256([]byte(id))
		key = "session:sha256:" + hex.EncodeToString(sum[:8])
	}
	mLockouts.WithLabelValues(g.check, kind).Inc()
	retry := g.h.failures.RetryAfter()
	g.h.log.Warn("credential checks locked out after repeated failures", "check", g.check, "subject", key,
		"failures", g.h.failureBurst, "retryAfterSeconds", retry)
	// The request's context may be cancelled by the time this runs; the
	// row must be written anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.r.Context()), 5*time.Second)
	defer cancel()
	if err := g.h.svc.AuditLockout(ctx, g.check, key, g.h.failureBurst, retry); err != nil {
		g.h.log.Error("auditing a lock-out failed", "check", g.check, "subject", key, "err", err.Error())
	}
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
			if errors.Is(err, errThrottled) {
				w.Header().Set("Retry-After", strconv.Itoa(h.failures.RetryAfter()))
			} else if code == enrol.CodeRateLimited {
				w.Header().Set("Retry-After", "1")
			}
			mEnrolments.WithLabelValues(step, code).Inc()
			h.log.Warn("enrolment step refused", "step", step, "client", h.clientAddr(r), "code", code)
			h.writeError(w, r, err)
			return
		}
		mEnrolments.WithLabelValues(step, "ok").Inc()
		httpx.WriteJSON(w, http.StatusOK, v)
	}
}

func (h *api) admin(f func(ctx context.Context, a *core.Admin, r *http.Request) (any, error)) http.HandlerFunc {
	return h.adminSized(MaxAdminBody, f)
}

// adminSized is admin with another body limit (person enrolment carries
// captures).
func (h *api) adminSized(limit int64, f func(ctx context.Context, a *core.Admin, r *http.Request) (any, error)) http.HandlerFunc {
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
			w.Header().Set("Retry-After", strconv.Itoa(h.failures.RetryAfter()))
			h.writeError(w, r, err)
			return
		}
		if !ok {
			g.done(core.ErrUnauthorized)
			h.writeError(w, r, core.ErrUnauthorized)
			return
		}
		a, err := h.svc.AuthenticateAdmin(r.Context(), tok)
		if err != nil {
			g.done(err)
			h.log.Warn("admin request refused", "client", h.clientAddr(r), "path", r.URL.Path)
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
			h.log.Info("admin change", "admin", a.TokenID, "method", r.Method, "path", r.URL.Path)
		}
		httpx.WriteJSON(w, http.StatusOK, v)
	}
}
