package tlsca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// HTTP paths.
const (
	PathRoot          = "/v1/tls/root"
	PathApplianceCert = "/v1/tls/appliance-cert"
)

// Limits of POST /v1/tls/appliance-cert.
const (
	MaxRequestBytes = 32 << 10
	MaxCSR          = 8 << 10
	MaxSignature    = 1024
	MaxID           = 128
)

// ApplianceInfo is what the issuer needs to know of an appliance.
type ApplianceInfo struct {
	Status      string // active, suspended, revoked
	SigningCert []byte // DER: central's certificate of its TPM signing key (enrolment)
}

// ErrUnknownAppliance is returned by a lookup for an id central does not know.
var ErrUnknownAppliance = errors.New("no such appliance")

// Server serves the TLS endpoints.
type Server struct {
	CA *CA
	// Appliance looks an appliance up (the registry).
	Appliance func(ctx context.Context, id string) (*ApplianceInfo, error)
	Log       *slog.Logger
	Now       func() time.Time
	// Limit bounds requests per client address (nil: 5/s, burst 20).
	Limit *httpx.Limiter
	// Audit records an issuance in central's audit log before the
	// certificate is handed out; an error withholds it (nil: not audited,
	// tests only).
	Audit func(ctx context.Context, actor, action, subject string, detail any) error
}

// Issued is the audit detail of a TLS certificate issuance.
type Issued struct {
	Serial    string    `json:"serial"`    // hex
	NotAfter  time.Time `json:"notAfter"`  // UTC
	KeySHA256 string    `json:"keySha256"` // of the certified public key (SPKI DER)
	Proof     string    `json:"proof,omitempty"`
}

// IssuedDetail describes leaf for the audit log.
func IssuedDetail(leaf *x509.Certificate, proof string) Issued {
	h := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return Issued{Serial: leaf.SerialNumber.Text(16), NotAfter: leaf.NotAfter.UTC(), KeySHA256: hex.EncodeToString(h[:]), Proof: proof}
}

// RootResponse is GET /v1/tls/root's answer.
type RootResponse struct {
	Root         string    `json:"root"`         // PEM
	SHA256       string    `json:"sha256"`       // hex of the root's DER
	Intermediate string    `json:"intermediate"` // PEM, the current issuing CA
	NotAfter     time.Time `json:"notAfter"`     // the root's end
}

// CertRequest is POST /v1/tls/appliance-cert's body.
type CertRequest struct {
	ApplianceID string `json:"applianceId"`
	CSR         []byte `json:"csr"` // DER PKCS#10, base64 in JSON
	// Signature is the appliance's enrolled TPM signing key's signature
	// (RSASSA-PKCS1-v1_5 SHA-256, or ECDSA) over SignedMessage(id, csr).
	// It may be left out when the request comes over mutual TLS with the
	// appliance's current certificate (renewal).
	Signature []byte `json:"signature,omitempty"`
}

// CertResponse is its answer.
type CertResponse struct {
	Chain    string    `json:"chain"` // PEM: the certificate, the intermediate, the root
	NotAfter time.Time `json:"notAfter"`
	RootSHA  string    `json:"rootSha256"`
}

// SignedMessage is what an appliance signs to ask for a certificate.
func SignedMessage(id string, csr []byte) []byte {
	m := []byte("edgetrust/tls-appliance-cert/v1\n" + id + "\n")
	return append(m, csr...)
}

// Handler routes PathRoot and PathApplianceCert.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Limit == nil {
		s.Limit = httpx.NewLimiter(5, 20)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathRoot, s.root)
	mux.HandleFunc("POST "+PathApplianceCert, s.applianceCert)
	return mux
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	inter, err := s.CA.Intermediate(s.Now())
	if err != nil {
		s.Log.Error("TLS intermediate", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error; see central's log")
		return
	}
	root := s.CA.Root()
	httpx.WriteJSON(w, http.StatusOK, RootResponse{Root: string(pki.CertPEM(root)), SHA256: tlsx.Fingerprint(root),
		Intermediate: string(pki.CertPEM(inter.Cert)), NotAfter: root.NotAfter.UTC()})
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	httpx.WriteJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

func clientKey(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (s *Server) applianceCert(w http.ResponseWriter, r *http.Request) {
	if !s.Limit.Allow(clientKey(r)) {
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests; retry later")
		return
	}
	var q CertRequest
	if err := jsonx.Decode(r.Body, &q, jsonx.Limits{MaxBytes: MaxRequestBytes, MaxDepth: 2, MaxMembers: 8}); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, jsonx.ErrTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "bad_request", "request body: "+err.Error())
		return
	}
	if q.ApplianceID == "" || len(q.ApplianceID) > MaxID || len(q.CSR) == 0 || len(q.CSR) > MaxCSR || len(q.Signature) > MaxSignature {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("want applianceId (1–%d characters), csr (DER, at most %d bytes) and at most a %d-byte signature", MaxID, MaxCSR, MaxSignature))
		return
	}
	csr, err := x509.ParseCertificateRequest(q.CSR)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "csr: "+err.Error())
		return
	}
	a, err := s.Appliance(r.Context(), q.ApplianceID)
	if errors.Is(err, ErrUnknownAppliance) {
		writeError(w, http.StatusForbidden, "not_enrolled", "no enrolled appliance "+q.ApplianceID)
		return
	}
	if err != nil {
		s.Log.Error("appliance lookup", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error; see central's log")
		return
	}
	if a.Status != "active" {
		s.Log.Warn("TLS certificate refused", "appliance", q.ApplianceID, "status", a.Status)
		writeError(w, http.StatusForbidden, "appliance_"+a.Status, "appliance "+q.ApplianceID+" is "+a.Status)
		return
	}
	proof := ""
	if id, _, err := tlsx.PeerIdentity(r.TLS); err == nil && id == (tlsx.Identity{Kind: tlsx.KindAppliance, ID: q.ApplianceID}) {
		proof = "client certificate"
	} else if len(q.Signature) > 0 {
		if err := verifySigned(a.SigningCert, SignedMessage(q.ApplianceID, q.CSR), q.Signature); err != nil {
			s.Log.Warn("TLS certificate refused", "appliance", q.ApplianceID, "reason", err)
			writeError(w, http.StatusForbidden, "bad_signature", "the signature is not by appliance "+q.ApplianceID+"'s enrolled signing key")
			return
		}
		proof = "TPM signing key"
	} else {
		writeError(w, http.StatusUnauthorized, "proof_required",
			"sign the request with the appliance's enrolled signing key, or renew over mutual TLS with its current certificate")
		return
	}
	c, err := s.CA.IssueClient(csr, tlsx.Identity{Kind: tlsx.KindAppliance, ID: q.ApplianceID}, s.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if s.Audit != nil {
		if err := s.Audit(r.Context(), "appliance:"+q.ApplianceID, "tls.appliance-cert", "appliance:"+q.ApplianceID, IssuedDetail(c.Leaf, proof)); err != nil {
			s.Log.Error("auditing a TLS certificate", "appliance", q.ApplianceID, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "internal error; see central's log")
			return
		}
	}
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pki.CertPEM(&x509.Certificate{Raw: der})...)
	}
	s.Log.Info("TLS certificate issued", "appliance", q.ApplianceID, "proof", proof, "notAfter", c.Leaf.NotAfter, "serial", c.Leaf.SerialNumber.Text(16))
	httpx.WriteJSON(w, http.StatusOK, CertResponse{Chain: string(chain), NotAfter: c.Leaf.NotAfter.UTC(), RootSHA: s.CA.Fingerprint()})
}

func verifySigned(certDER, msg, sig []byte) error {
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("the enrolled signing certificate: %w", err)
	}
	h := sha256.Sum256(msg)
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, h[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported signing key %T", c.PublicKey)
}
