package delegate

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Limits of a credential.
const (
	// MaxLifetime bounds a credential's validity, as RFC 9345 bounds a
	// delegated credential's (7 days there; far shorter here).
	MaxLifetime = 24 * time.Hour
	// DefaultLifetime is how long a credential is valid; a Holder renews
	// at half of it.
	DefaultLifetime = time.Hour
	// MaxCredential bounds an encoded credential.
	MaxCredential = 4 << 10
	// Type is the credential JWS's typ.
	Type = "edgetrust-delegate+jwt"
)

// Errors.
var (
	ErrFormat    = errors.New("delegate: malformed credential")
	ErrSignature = errors.New("delegate: the credential's signature does not verify with the parent key")
	ErrExpired   = errors.New("delegate: the credential is not valid at this time")
	ErrUse       = errors.New("delegate: the credential is for another use or subject")
)

var b64 = base64.RawURLEncoding.Strict()

// Claims are what the parent key vouches for.
type Claims struct {
	Use       string // what the delegate may sign, e.g. "decision"
	Subject   string // the parent's owner, e.g. the appliance ID
	Key       *ecdsa.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

type payload struct {
	Use string `json:"use"`
	Sub string `json:"sub"`
	JWK jwk    `json:"jwk"`
	NBF int64  `json:"nbf"`
	Exp int64  `json:"exp"`
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// Issue signs c with the parent key (RSA: RS256; ECDSA P-256: ES256) and
// returns the credential as a compact JWS.
func Issue(parent crypto.Signer, c Claims) (string, error) {
	if c.Key == nil || c.Key.Curve != elliptic.P256() {
		return "", errors.New("delegate: the delegated key must be ECDSA P-256")
	}
	if d := c.NotAfter.Sub(c.NotBefore); d <= 0 || d > MaxLifetime {
		return "", fmt.Errorf("delegate: lifetime %v outside (0, %v]", d, MaxLifetime)
	}
	alg, err := algOf(parent.Public())
	if err != nil {
		return "", err
	}
	pt, err := c.Key.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		return "", err
	}
	p := payload{Use: c.Use, Sub: c.Subject, NBF: c.NotBefore.Unix(), Exp: c.NotAfter.Unix(),
		JWK: jwk{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(pt[1:33]), Y: b64.EncodeToString(pt[33:])}}
	hb, _ := json.Marshal(header{Alg: alg, Typ: Type})
	pb, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig, err := signWith(parent, alg, []byte(input))
	if err != nil {
		return "", fmt.Errorf("delegate: parent key: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Verify checks cred against the parent's public key, its use and subject,
// and that at lies within its validity widened by skew. It returns the
// delegated key.
func Verify(cred string, parent crypto.PublicKey, use, subject string, at time.Time, skew time.Duration) (*Claims, error) {
	if len(cred) > MaxCredential {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrFormat, MaxCredential)
	}
	parts := strings.Split(cred, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrFormat)
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrFormat)
	}
	var h header
	if err := jsonx.Unmarshal(hb, &h, jsonx.Limits{MaxBytes: 256, MaxDepth: 1}); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	alg, err := algOf(parent)
	if err != nil {
		return nil, err
	}
	if h.Typ != Type || h.Alg != alg {
		return nil, fmt.Errorf("%w: header is %s/%s, want %s/%s", ErrFormat, h.Alg, h.Typ, alg, Type)
	}
	if err := verifyWith(parent, alg, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, ErrSignature
	}
	var p payload
	if err := jsonx.Unmarshal(pb, &p, jsonx.Limits{MaxBytes: 1024, MaxDepth: 2}); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrFormat, err)
	}
	if p.Use != use || p.Sub != subject {
		return nil, ErrUse
	}
	key, err := p.JWK.public()
	if err != nil {
		return nil, err
	}
	c := &Claims{Use: p.Use, Subject: p.Sub, Key: key, NotBefore: time.Unix(p.NBF, 0), NotAfter: time.Unix(p.Exp, 0)}
	if c.NotAfter.Sub(c.NotBefore) > MaxLifetime || at.Before(c.NotBefore.Add(-skew)) || !at.Before(c.NotAfter.Add(skew)) {
		return nil, ErrExpired
	}
	return c, nil
}

func (k jwk) public() (*ecdsa.PublicKey, error) {
	x, err1 := b64.DecodeString(k.X)
	y, err2 := b64.DecodeString(k.Y)
	if k.Kty != "EC" || k.Crv != "P-256" || err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("%w: jwk is not an EC P-256 key", ErrFormat)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("%w: jwk is not a point on P-256", ErrFormat)
	}
	return pub, nil
}

func algOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", errors.New("delegate: parent RSA key under 2048 bits")
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
	}
	return "", fmt.Errorf("delegate: parent key %T is neither RSA nor ECDSA P-256", pub)
}

func signWith(s crypto.Signer, alg string, input []byte) ([]byte, error) {
	d := sha256.Sum256(input)
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || alg != "ES256" {
		return sig, err
	}
	return derToRS(sig)
}

func verifyWith(pub crypto.PublicKey, alg string, input, sig []byte) error {
	d := sha256.Sum256(input)
	if alg == "RS256" {
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig)
	}
	if len(sig) != 64 || !ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return ErrSignature
	}
	return nil
}

// SignES256 signs a JWS signing input with key, JOSE-style (r‖s, 64 bytes).
func SignES256(key *ecdsa.PrivateKey, input []byte) ([]byte, error) {
	d := sha256.Sum256(input)
	der, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		return nil, err
	}
	return derToRS(der)
}

// VerifyES256 checks a JOSE ES256 signature (r‖s) over input.
func VerifyES256(key *ecdsa.PublicKey, input, sig []byte) bool {
	return verifyWith(key, "ES256", input, sig) == nil
}

// derToRS turns an ASN.1 ECDSA signature into JOSE's fixed 64 bytes.
func derToRS(der []byte) ([]byte, error) {
	var s struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 || s.R == nil || s.S == nil || s.R.BitLen() > 256 || s.S.BitLen() > 256 {
		return nil, errors.New("delegate: not a P-256 ECDSA signature")
	}
	out := make([]byte, 64)
	s.R.FillBytes(out[:32])
	s.S.FillBytes(out[32:])
	return out, nil
}

// Holder keeps a delegated key in memory, never on disk, with a credential
// from the parent key, and replaces both at half their lifetime: one
// parent (TPM) signature per renewal instead of one per message.
type Holder struct {
	parent   crypto.Signer
	use, sub string
	lifetime time.Duration
	now      func() time.Time

	mu   sync.RWMutex
	key  *ecdsa.PrivateKey
	cred string
	exp  time.Time

	renewals, failures int64
	lastFailed         bool
}

// NewHolder makes the first delegated key and credential.
func NewHolder(parent crypto.Signer, use, subject string, lifetime time.Duration, now func() time.Time) (*Holder, error) {
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	if now == nil {
		now = time.Now
	}
	h := &Holder{parent: parent, use: use, sub: subject, lifetime: lifetime, now: now}
	if err := h.Renew(); err != nil {
		return nil, err
	}
	return h, nil
}

// Renew replaces the key and credential now.
func (h *Holder) Renew() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	// Back-date by a minute: a relying party's clock may run behind.
	nb := h.now().Add(-time.Minute).Truncate(time.Second)
	cred, err := Issue(h.parent, Claims{Use: h.use, Subject: h.sub, Key: &key.PublicKey, NotBefore: nb, NotAfter: nb.Add(h.lifetime)})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastFailed = err != nil
	if err != nil {
		h.failures++
		return err
	}
	h.key, h.cred, h.exp = key, cred, nb.Add(h.lifetime)
	h.renewals++
	return nil
}

// Current returns the delegated key and its credential. It fails once the
// credential has expired (renewal kept failing): the caller must not sign
// with a key nobody will accept.
func (h *Holder) Current() (*ecdsa.PrivateKey, string, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.now().Before(h.exp) {
		return nil, "", fmt.Errorf("%w: the delegated key expired at %s and could not be renewed", ErrExpired, h.exp.UTC().Format(time.RFC3339))
	}
	return h.key, h.cred, nil
}

// Expires is when the current credential stops being valid.
func (h *Holder) Expires() time.Time {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.exp
}

// Stats are the renewals done and failed.
func (h *Holder) Stats() (renewals, failures int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.renewals, h.failures
}

// Run renews at half the lifetime until ctx ends, retrying a failed renewal
// every tenth of the lifetime (at least every second).
func (h *Holder) Run(ctx context.Context, onError func(error)) {
	for {
		wait := h.lifetime / 2
		h.mu.RLock()
		failed, exp := h.lastFailed, h.exp
		h.mu.RUnlock()
		if failed {
			wait = max(min(wait, exp.Sub(h.now())/2, h.lifetime/10), time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := h.Renew(); err != nil && onError != nil {
			onError(err)
		}
	}
}
