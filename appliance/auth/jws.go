package auth

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// jwsSigner makes compact RS256 JWS with the x5c chain in the header.
type jwsSigner struct {
	key    crypto.Signer
	header string // base64url of the protected header
}

func newJWSSigner(key crypto.Signer, chain []*x509.Certificate) (*jwsSigner, error) {
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
	return &jwsSigner{key: key, header: base64.RawURLEncoding.EncodeToString(h)}, nil
}

// sign returns header.payload.signature.
func (s *jwsSigner) sign(payload []byte) (string, error) {
	var b strings.Builder
	b.Grow(len(s.header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 + 344)
	b.WriteString(s.header)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	d := sha256.Sum256([]byte(b.String()))
	sig, err := s.key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String(), nil
}

// Bounds on a decision JWS's protected header: alg, typ and an x5c of at
// most maxX5C certificates (the appliance writes two).
const maxX5C = 4

var jwsHeaderLimits = jsonx.Limits{MaxBytes: 64 << 10, MaxDepth: 2, MaxArray: maxX5C, MaxMembers: 3, MaxValues: 3 + maxX5C}

// VerifyJWS checks a decision JWS against the leaf certificate in its x5c
// header and returns the payload and the chain (leaf first). It does not
// judge the chain: a relying party checks that it ends at central's
// appliance CA (or pins the self-issued certificate).
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
		Alg string   `json:"alg"`
		Typ string   `json:"typ,omitempty"`
		X5C []string `json:"x5c"`
	}
	if err := jsonx.Unmarshal(hb, &h, jwsHeaderLimits); err != nil || h.Alg != "RS256" || len(h.X5C) == 0 || len(h.X5C) > maxX5C {
		return nil, nil, errors.New("auth: JWS header is not RS256 with an x5c chain")
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
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
		return nil, nil, errors.New("auth: JWS signature does not verify")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, nil, errors.New("auth: JWS payload is not base64url")
	}
	return payload, chain, nil
}
