package trust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Document types, signed together with the payload so a revocation list
// can never pass for a trust list.
const (
	TypeTrustList      = "edgetrust-claim169-trust-list/v1"
	TypeRevocationList = "edgetrust-claim169-revocation-list/v1"
)

// MaxDocSize bounds a list file.
const MaxDocSize = 16 << 20

// Envelope is a signed list as stored in a file.
type Envelope struct {
	Type      string `json:"type"`
	Payload   []byte `json:"payload"`
	KeyID     string `json:"keyId"`
	Signature []byte `json:"signature"`
}

func signedBytes(typ string, payload []byte) []byte {
	b := make([]byte, 0, len(typ)+1+len(payload))
	b = append(b, typ...)
	b = append(b, '\n')
	return append(b, payload...)
}

// KeyID names an Ed25519 list-signing key: hex of the first 8 bytes of
// SHA-256 of the public key (the same form as internal/feed).
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

func seal(s crypto.Signer, typ string, v any) ([]byte, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("trust: lists are signed with Ed25519 keys")
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(rand.Reader, signedBytes(typ, payload), crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(Envelope{Type: typ, Payload: payload, KeyID: KeyID(pub), Signature: sig}, "", "  ")
}

// ErrListSignature means a list file does not verify with a trusted key.
var ErrListSignature = errors.New("trust: list signature does not verify with a trusted list key")

func open(file []byte, typ string, keys map[string]ed25519.PublicKey, v any) error {
	if len(file) > MaxDocSize {
		return fmt.Errorf("trust: list file is %d bytes, limit %d", len(file), MaxDocSize)
	}
	var env Envelope
	if err := jsonx.Unmarshal(file, &env, jsonx.Limits{MaxBytes: MaxDocSize, MaxDepth: 2, MaxMembers: 8}); err != nil {
		return fmt.Errorf("trust: not a signed list: %w", err)
	}
	if env.Type != typ {
		return fmt.Errorf("trust: file is a %q, want %q", env.Type, typ)
	}
	pub, ok := keys[env.KeyID]
	if !ok {
		return fmt.Errorf("%w (signed by unknown key %q)", ErrListSignature, env.KeyID)
	}
	if !ed25519.Verify(pub, signedBytes(env.Type, env.Payload), env.Signature) {
		return ErrListSignature
	}
	// Strict even though signed: the signer's JSON library and ours must
	// read the same list (no duplicate names, no case folding).
	if err := jsonx.Unmarshal(env.Payload, v, jsonx.Limits{MaxBytes: MaxDocSize, MaxDepth: 4, MaxArray: 100000}); err != nil {
		return fmt.Errorf("trust: list payload: %w", err)
	}
	return nil
}

// Key statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// IssuerKey is one trusted issuer key.
type IssuerKey struct {
	// KID is the hex of the kid bytes credentials carry (label 4).
	KID string `json:"kid"`
	// Alg is "EdDSA" or "ES256".
	Alg string `json:"alg"`
	// PublicKey is the PKIX (SubjectPublicKeyInfo) DER of the key.
	PublicKey []byte `json:"publicKey"`
	// Issuer, if set, must equal the credential's CWT iss.
	Issuer string `json:"issuer,omitempty"`
	// NotBefore and NotAfter bound when the key may have issued (checked
	// against the credential's iat, or now when it has none).
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Status    string    `json:"status"`
}

// TrustList is the set of issuer keys a verifier trusts.
type TrustList struct {
	IssuedAt   time.Time   `json:"issuedAt"`
	NextUpdate time.Time   `json:"nextUpdate"`
	Keys       []IssuerKey `json:"keys"`
}

// Revocation revokes the credentials of one identity: those whose claim 169
// id (or, without one, CWT sub) is ID and, if IssuedBefore is set, whose
// iat is not after it — so a credential re-issued later stays valid.
type Revocation struct {
	ID           string    `json:"id"`
	IssuedBefore time.Time `json:"issuedBefore,omitzero"`
	Reason       string    `json:"reason,omitempty"`
}

// RevocationList is the signed list of revoked credentials.
type RevocationList struct {
	IssuedAt   time.Time    `json:"issuedAt"`
	NextUpdate time.Time    `json:"nextUpdate"`
	Revoked    []Revocation `json:"revoked"`
}

// SignTrustList returns the signed file for tl.
func SignTrustList(s crypto.Signer, tl *TrustList) ([]byte, error) {
	if err := tl.check(); err != nil {
		return nil, err
	}
	return seal(s, TypeTrustList, tl)
}

// SignRevocationList returns the signed file for rl.
func SignRevocationList(s crypto.Signer, rl *RevocationList) ([]byte, error) {
	if rl.NextUpdate.Before(rl.IssuedAt) {
		return nil, errors.New("trust: revocation list nextUpdate is before issuedAt")
	}
	return seal(s, TypeRevocationList, rl)
}

// ParseTrustList verifies and parses a trust-list file.
func ParseTrustList(file []byte, listKeys map[string]ed25519.PublicKey) (*TrustList, error) {
	var tl TrustList
	if err := open(file, TypeTrustList, listKeys, &tl); err != nil {
		return nil, err
	}
	if err := tl.check(); err != nil {
		return nil, err
	}
	return &tl, nil
}

// ParseRevocationList verifies and parses a revocation-list file.
func ParseRevocationList(file []byte, listKeys map[string]ed25519.PublicKey) (*RevocationList, error) {
	var rl RevocationList
	if err := open(file, TypeRevocationList, listKeys, &rl); err != nil {
		return nil, err
	}
	return &rl, nil
}

func (tl *TrustList) check() error {
	if tl.NextUpdate.Before(tl.IssuedAt) {
		return errors.New("trust: trust list nextUpdate is before issuedAt")
	}
	seen := map[string]bool{}
	for i, k := range tl.Keys {
		if _, err := hex.DecodeString(k.KID); err != nil {
			return fmt.Errorf("trust: key %d: kid is not hex", i)
		}
		if seen[k.KID] {
			return fmt.Errorf("trust: kid %s appears twice", k.KID)
		}
		seen[k.KID] = true
		if k.Status != StatusActive && k.Status != StatusRevoked {
			return fmt.Errorf("trust: key %s: status %q", k.KID, k.Status)
		}
		if _, err := k.publicKey(); err != nil {
			return fmt.Errorf("trust: key %s: %w", k.KID, err)
		}
	}
	return nil
}

func (k *IssuerKey) publicKey() (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, err
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if k.Alg != "EdDSA" {
			return nil, fmt.Errorf("Ed25519 key listed with alg %q", k.Alg)
		}
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() || k.Alg != "ES256" {
			return nil, fmt.Errorf("ECDSA key must be P-256 with alg ES256")
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
	return pub, nil
}

// NewIssuerKey describes pub for a trust list.
func NewIssuerKey(kid []byte, pub crypto.PublicKey, issuer string, notBefore, notAfter time.Time) (IssuerKey, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return IssuerKey{}, err
	}
	k := IssuerKey{KID: hex.EncodeToString(kid), PublicKey: der, Issuer: issuer,
		NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC(), Status: StatusActive}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		k.Alg = "EdDSA"
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return IssuerKey{}, errors.New("trust: only P-256 ECDSA keys")
		}
		k.Alg = "ES256"
	default:
		return IssuerKey{}, fmt.Errorf("trust: unsupported key type %T", pub)
	}
	return k, nil
}
