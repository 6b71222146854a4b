package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// jwsSigner makes compact decision JWS with the x5c chain in the header:
// RS256 by the TPM key itself, or, with a delegate, ES256 by an in-memory
// key the TPM key vouched for (decision 0017), its credential in the
// critical header member DelegateHeader.
type jwsSigner struct {
	key    crypto.Signer
	header string   // base64url of the RS256 protected header
	x5c    []string // for the ES256 headers
	dc     *delegate.Holder

	mu       sync.Mutex
	dcCred   string // the credential dcHeader was made for
	dcHeader string
}

// DelegateHeader is the protected-header member carrying the delegation
// credential of an ES256 decision; it is listed in "crit" (RFC 7515
// §4.1.11) so a verifier that does not know it refuses the JWS instead of
// ignoring it.
const DelegateHeader = "edgetrust_dc"

// DelegateUse is the use a decision delegate's credential names.
const DelegateUse = "decision"

func newJWSSigner(key crypto.Signer, chain []*x509.Certificate, dc *delegate.Holder) (*jwsSigner, error) {
	if key == nil || len(chain) == 0 {
		return nil, errors.New("auth: a signing key and its certificate chain are required")
	}
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 {
		return nil, errors.New("auth: the decision signing key must be RSA (2048 bits or more) for RS256")
	}
	if !pub.Equal(chain[0].PublicKey) {
		return nil, errors.New("auth: the first certificate of the chain is not for the signing key")
	}
	x5c := make([]string, len(chain))
	for i, c := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	h, err := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "x5c": x5c})
	if err != nil {
		return nil, err
	}
	return &jwsSigner{key: key, header: base64.RawURLEncoding.EncodeToString(h), x5c: x5c, dc: dc}, nil
}

// sign returns header.payload.signature.
func (s *jwsSigner) sign(payload []byte) (string, error) {
	header := s.header
	var dk *ecdsa.PrivateKey
	if s.dc != nil {
		key, cred, err := s.dc.Current()
		if err != nil {
			return "", err
		}
		if header, err = s.delegateHeader(cred); err != nil {
			return "", err
		}
		dk = key
	}
	var b strings.Builder
	b.Grow(len(header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 + 344)
	b.WriteString(header)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	var sig []byte
	var err error
	if dk != nil {
		sig, err = delegate.SignES256(dk, []byte(b.String()))
	} else {
		d := sha256.Sum256([]byte(b.String()))
		sig, err = s.key.Sign(nil, d[:], crypto.SHA256)
	}
	if err != nil {
		return "", err
	}
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String(), nil
}

// delegateHeader is the ES256 header for cred, made once per credential.
func (s *jwsSigner) delegateHeader(cred string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cred == s.dcCred {
		return s.dcHeader, nil
	}
	h, err := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": s.x5c, "crit": []string{DelegateHeader}, DelegateHeader: cred})
	if err != nil {
		return "", err
	}
	s.dcCred, s.dcHeader = cred, base64.RawURLEncoding.EncodeToString(h)
	return s.dcHeader, nil
}

// Bounds on a decision JWS's protected header: alg, typ, an x5c of at
// most maxX5C certificates (the appliance writes two) and, for ES256, crit
// and the delegation credential.
const maxX5C = 4

var jwsHeaderLimits = jsonx.Limits{MaxBytes: 64 << 10, MaxDepth: 2, MaxArray: maxX5C, MaxMembers: 5, MaxValues: 6 + maxX5C}

// DelegateSkew is how far a decision's responseTime may lie outside its
// delegation credential's validity (clocks differ).
const DelegateSkew = 5 * time.Minute

// VerifyJWS checks a decision JWS and returns the payload and the chain
// (leaf first). RS256: the leaf's key signed it. ES256: the leaf's key
// signed the delegation credential in the critical edgetrust_dc header
// (use "decision", subject the payload's applianceId, valid at its
// responseTime ± DelegateSkew) and the key that credential names signed
// the JWS. It does not judge the chain: a relying party checks that it
// ends at central's appliance CA (or pins the self-issued certificate).
func VerifyJWS(jws string) ([]byte, []*x509.Certificate, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || len(jws) > 1<<20 {
		return nil, nil, errors.New("auth: not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, nil, errors.New("auth: JWS header is not base64url")
	}
	// Strict (internal/jsonx): a duplicated alg or x5c, invalid UTF-8 or
	// a member the appliance does not write is refused, not resolved.
	var h struct {
		Alg  string   `json:"alg"`
		Typ  string   `json:"typ,omitempty"`
		X5C  []string `json:"x5c"`
		Crit []string `json:"crit,omitempty"`
		DC   string   `json:"edgetrust_dc,omitempty"`
	}
	if err := jsonx.Unmarshal(hb, &h, jwsHeaderLimits); err != nil || len(h.X5C) == 0 || len(h.X5C) > maxX5C {
		return nil, nil, errors.New("auth: JWS header is not RS256 or ES256 with an x5c chain")
	}
	switch {
	case h.Alg == "RS256" && h.DC == "" && h.Crit == nil:
	case h.Alg == "ES256" && h.DC != "" && len(h.Crit) == 1 && h.Crit[0] == DelegateHeader:
	default:
		return nil, nil, errors.New("auth: JWS header is neither RS256 nor ES256 with a delegation credential (crit edgetrust_dc)")
	}
	var chain []*x509.Certificate
	for _, c := range h.X5C {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return nil, nil, errors.New("auth: x5c entry is not base64")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, errors.New("auth: x5c entry is not a certificate")
		}
		chain = append(chain, cert)
	}
	pub, ok := chain[0].PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, errors.New("auth: x5c leaf is not an RSA certificate")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, errors.New("auth: JWS signature is not base64url")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, nil, errors.New("auth: JWS payload is not base64url")
	}
	input := []byte(parts[0] + "." + parts[1])
	if h.Alg == "RS256" {
		d := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			return nil, nil, errors.New("auth: JWS signature does not verify")
		}
		return payload, chain, nil
	}
	var d struct {
		ApplianceID  string `json:"applianceId"`
		ResponseTime string `json:"responseTime"`
	}
	if err := jsonx.Unmarshal(payload, &d, jsonx.Limits{MaxBytes: 1 << 20, Open: true}); err != nil {
		return nil, nil, errors.New("auth: decision payload is not a JSON object")
	}
	at, err := time.Parse(time.RFC3339Nano, d.ResponseTime)
	if err != nil {
		return nil, nil, errors.New("auth: decision has no valid responseTime to check its delegation against")
	}
	c, err := delegate.Verify(h.DC, pub, DelegateUse, d.ApplianceID, at, DelegateSkew)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: delegation credential: %w", err)
	}
	if !delegate.VerifyES256(c.Key, input, sig) {
		return nil, nil, errors.New("auth: JWS signature does not verify with the delegated key")
	}
	return payload, chain, nil
}
