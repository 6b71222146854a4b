package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// PathRPCert is the admin route that issues a relying party's TLS client
// certificate from a CSR (issue #11).
const PathRPCert = "/v1/admin/relying-parties/{id}/tls-cert"

// PathRPCertRevoke revokes one of a relying party's TLS client
// certificates by serial, without suspending the party.
const PathRPCertRevoke = "/v1/admin/relying-parties/{id}/tls-cert/revoke"

// RPCertRevokeRequest is POST PathRPCertRevoke's body.
type RPCertRevokeRequest struct {
	Serial string `json:"serial"` // hex, as rp cert issue printed it (colons and case are ignored)
	Reason string `json:"reason"` // required, at most 256 bytes
}

// rpRevokeBody bounds its body.
var rpRevokeBody = jsonx.Limits{MaxBytes: 4 << 10, MaxDepth: 1, MaxMembers: 2}

// Bounds of POST PathRPCert.
const (
	MaxRPCSR  = 8 << 10 // DER bytes
	MaxRPDays = 30
)

// rpCertBody bounds the body: a base64 CSR and a number.
var rpCertBody = jsonx.Limits{MaxBytes: 16 << 10, MaxDepth: 1, MaxMembers: 2}

// RPCertRequest is POST PathRPCert's body.
type RPCertRequest struct {
	// CSR is a PKCS#10 request (DER, base64 in JSON) signed by the relying
	// party's own key, which never leaves it.
	CSR []byte `json:"csr"`
	// Days is the certificate's life, 1–30 (0: 30).
	Days int `json:"days,omitempty"`
}

// RPCertResponse is its answer.
type RPCertResponse struct {
	Chain      string    `json:"chain"` // PEM: the certificate, the TLS intermediate, the root
	Serial     string    `json:"serial"`
	NotAfter   time.Time `json:"notAfter"`
	RootSHA256 string    `json:"rootSha256"`
}

// RPCertFunc issues the certificate (central's TLS CA lives in the
// command): it checks that the relying party exists and is active and
// audits the issuance in the same transaction. Errors are *enrol.Error
// (core.Fail) for the client.
type RPCertFunc func(ctx context.Context, a *core.Admin, rpID string, q RPCertRequest) (*RPCertResponse, error)

func (h *api) rpCertRoute(route func(string, http.HandlerFunc), issue RPCertFunc) {
	route("POST "+PathRPCert, h.admin(func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q RPCertRequest
		if err := decodeJSON(r, &q, rpCertBody); err != nil {
			return nil, err
		}
		if len(q.CSR) == 0 || len(q.CSR) > MaxRPCSR {
			return nil, badRequest("csr: want a DER PKCS#10 request of 1–%d bytes (openssl req -new -key rp.key -outform DER)", MaxRPCSR)
		}
		if q.Days < 0 || q.Days > MaxRPDays {
			return nil, badRequest("days: want 1–%d (0: %d)", MaxRPDays, MaxRPDays)
		}
		return issue(ctx, a, r.PathValue("id"), q)
	}))
}

// rpCertRevokeRoute needs no CA: revocation is registry state, published
// on the trust feed.
func (h *api) rpCertRevokeRoute(route func(string, http.HandlerFunc)) {
	route("POST "+PathRPCertRevoke, h.admin(func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q RPCertRevokeRequest
		if err := decodeJSON(r, &q, rpRevokeBody); err != nil {
			return nil, err
		}
		return h.svc.RevokeRPCert(ctx, a, r.PathValue("id"), q.Serial, q.Reason)
	}))
}
