package httpapi

import (
	"context"
	"net/http"
	"strconv"

	attest "github.com/edgetrust/edgetrust/central/attestation"
	"github.com/edgetrust/edgetrust/central/core"
	wire "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// AttestService is what the attestation routes call (central/attest through
// *central.Central). A Service that does not implement it has no
// attestation routes.
type AttestService interface {
	AttestChallenge(ctx context.Context, n wire.Node) (*wire.Challenge, error)
	AttestSubmit(ctx context.Context, e *wire.Evidence) (*wire.Verdict, error)
	AttestStatus(ctx context.Context, n wire.Node) (*attest.NodeStatus, error)
	AttestList(ctx context.Context, kind string, limit int) ([]attest.NodeStatus, error)
	AttestHealth() attest.Health
	AttestPolicy(ctx context.Context, scope string) (*attest.Policy, error)
	SetAttestPolicy(ctx context.Context, a *core.Admin, p attest.Policy) (*attest.Policy, error)
	ReleaseQuarantine(ctx context.Context, a *core.Admin, n wire.Node, reason string) (*attest.NodeStatus, error)
	AddGoldenRelease(ctx context.Context, a *core.Admin, sr *attest.SignedRelease) (*attest.ReleaseRecord, error)
	GoldenReleases(ctx context.Context, vendor string) ([]attest.ReleaseRecord, error)
	IssueReleaseSigner(ctx context.Context, a *core.Admin, vendor string, csr []byte, days int) (*attest.SignerCert, error)
}

func init() { Registry.MustRegister(attest.Metrics()...) }

// Attestation endpoints a node calls are unauthenticated (the evidence is
// its own proof) and rate-limited per client address: many agents may sit
// behind one NAT address, so the rate is higher than enrolment's.
const (
	attestRate  = 50
	attestBurst = 200
)

// attestRoutes adds the attestation routes when svc provides them.
func (h *api) attestRoutes(route func(string, http.HandlerFunc), admin func(string, func(context.Context, *core.Admin, *http.Request) (any, error))) {
	as, ok := h.svc.(AttestService)
	if !ok {
		return
	}
	lim := httpx.NewLimiter(attestRate, attestBurst)
	public := func(f func(r *http.Request) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !lim.Allow(h.clientAddr(r)) {
				w.Header().Set("Retry-After", "1")
				h.writeError(w, r, fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "too many attestation requests; retry later"))
				return
			}
			v, err := f(r)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, v)
		}
	}
	route("GET "+wire.PathChallenge, public(func(r *http.Request) (any, error) {
		q := r.URL.Query()
		return as.AttestChallenge(r.Context(), wire.Node{Kind: q.Get("kind"), ID: q.Get("id")})
	}))
	route("POST "+wire.PathEvidence, public(func(r *http.Request) (any, error) {
		ev, err := wire.DecodeEvidence(http.MaxBytesReader(nil, r.Body, wire.MaxEvidenceBytes))
		if err != nil {
			return nil, core.BodyError(err)
		}
		return as.AttestSubmit(r.Context(), ev)
	}))
	route("GET /healthz/attest", func(w http.ResponseWriter, r *http.Request) {
		hl := as.AttestHealth()
		code := http.StatusOK
		if !hl.Healthy {
			code = http.StatusServiceUnavailable
		}
		httpx.WriteJSON(w, code, hl)
	})

	admin("GET /v1/admin/attest", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		nodes, err := as.AttestList(ctx, q.Get("kind"), limit)
		if err != nil {
			return nil, err
		}
		return map[string]any{"health": as.AttestHealth(), "nodes": nodes}, nil
	})
	admin("GET /v1/admin/attest/{kind}/{id}", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		return as.AttestStatus(ctx, wire.Node{Kind: r.PathValue("kind"), ID: r.PathValue("id")})
	})
	admin("POST /v1/admin/attest/{kind}/{id}/release", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			Reason string `json:"reason"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return as.ReleaseQuarantine(ctx, a, wire.Node{Kind: r.PathValue("kind"), ID: r.PathValue("id")}, q.Reason)
	})
	admin("POST /v1/admin/attest/golden", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var sr attest.SignedRelease
		if err := jsonx.Decode(r.Body, &sr, attest.SignedReleaseLimits); err != nil {
			return nil, core.BodyError(err)
		}
		return as.AddGoldenRelease(ctx, a, &sr)
	})
	admin("GET /v1/admin/attest/golden/{vendor}", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		return as.GoldenReleases(ctx, r.PathValue("vendor"))
	})
	admin("POST /v1/admin/attest/signers/{vendor}", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			CSR  []byte `json:"csr"`
			Days int    `json:"days"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		if len(q.CSR) == 0 {
			return nil, badRequest("csr: the vendor's PKCS#10 request (DER, base64) is required")
		}
		return as.IssueReleaseSigner(ctx, a, r.PathValue("vendor"), q.CSR, q.Days)
	})
	admin("GET /v1/admin/attest-policies/{scope}", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		return as.AttestPolicy(ctx, r.PathValue("scope"))
	})
	admin("PUT /v1/admin/attest-policies/{scope}", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var p attest.Policy
		if err := jsonx.Decode(r.Body, &p, attest.PolicyLimits); err != nil {
			return nil, core.BodyError(err)
		}
		if p.Scope != "" && p.Scope != r.PathValue("scope") {
			return nil, badRequest("scope %q in the body differs from %q in the path", p.Scope, r.PathValue("scope"))
		}
		p.Scope, p.Version, p.UpdatedBy = r.PathValue("scope"), 0, ""
		return as.SetAttestPolicy(ctx, a, p)
	})
}
