package sbi

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-json-experiment/json/jsontext"
)

// RSA key size limits for signing and verification.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// JWS errors.
var (
	ErrJWSFormat    = errors.New("sbi: malformed JWS")
	ErrAlgorithm    = errors.New("sbi: JWS alg is not RS256")
	ErrX5C          = errors.New("sbi: bad x5c header")
	ErrKey          = errors.New("sbi: unacceptable public key")
	ErrSignature    = errors.New("sbi: signature does not verify")
	ErrUntrusted    = errors.New("sbi: certificate does not chain to a trusted root")
	ErrExpired      = errors.New("sbi: certificate expired")
	ErrNotYetValid  = errors.New("sbi: certificate not yet valid")
	ErrUnsignedForm = errors.New("sbi: not an unsigned base64url value")
)

// b64 is strict unpadded base64url: non-canonical trailing bits are
// rejected, so the decoded bytes re-encode to exactly the received segment.
var b64 = base64.RawURLEncoding.Strict()

// Identity is a signing key and its certificate chain, leaf first. Signer
// may be any crypto.Signer (a TPM key, a software key) with an RSA public key.
type Identity struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
}

// Sign returns the compact JWS of payload with header
// {"alg":"RS256","typ":"JWT","x5c":[...]}.
func (id Identity) Sign(payload []byte) (string, error) {
	return SignJWS(id.Signer, id.Chain, payload)
}

// SignJWS signs payload with RS256 and embeds chain (leaf first) as x5c,
// standard base64 DER per RFC 7515.
func SignJWS(s crypto.Signer, chain []*x509.Certificate, payload []byte) (string, error) {
	if s == nil || len(chain) == 0 || chain[0] == nil {
		return "", fmt.Errorf("%w: signer and leaf certificate required", ErrKey)
	}
	if len(chain) > MaxX5C {
		return "", fmt.Errorf("%w: chain longer than %d", ErrX5C, MaxX5C)
	}
	pub, ok := s.Public().(*rsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("%w: signer is not RSA", ErrKey)
	}
	if pub.N.BitLen() < MinRSABits {
		return "", fmt.Errorf("%w: RSA key shorter than %d bits", ErrKey, MinRSABits)
	}
	if !pub.Equal(chain[0].PublicKey) {
		return "", fmt.Errorf("%w: signer does not match leaf certificate", ErrKey)
	}
	x5c := make([]string, len(chain))
	for i, c := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5c", x5c)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: cryptosigner.Opaque(s)}, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// EncodeUnsigned returns the unsigned form: base64url (no padding) of payload.
func EncodeUnsigned(payload []byte) string { return b64.EncodeToString(payload) }

// DecodeUnsigned decodes the unsigned form. Trailing "=" padding is
// accepted, as Java's URL decoder (used by the CTK) accepts it.
func DecodeUnsigned(s string) ([]byte, error) {
	if len(s) > MaxJWSSize || strings.Contains(s, ".") {
		return nil, ErrUnsignedForm
	}
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "="), "=")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, ErrUnsignedForm
	}
	return b, nil
}

// JWSHeader is the decoded protected header.
type JWSHeader struct {
	Alg string   `json:"alg"`
	Typ string   `json:"typ"`
	X5C []string `json:"x5c"`
}

// JWS is a parsed compact JWS. Payload holds the decoded payload segment,
// the exact bytes that were signed; it is never re-serialized.
type JWS struct {
	Header  JWSHeader
	Payload []byte
	Chain   []*x509.Certificate // parsed x5c, leaf first
	// input is the signing input as received (header "." payload, a
	// substring of the JWS: no copy, never re-encoded) and sig the
	// decoded signature.
	input string
	sig   []byte
}

// ParseJWS parses a compact RS256 JWS with an x5c header. It checks shape
// and bounds and parses the certificates; it does not verify anything.
func ParseJWS(s string) (*JWS, error) {
	parts, err := split(s)
	if err != nil {
		return nil, err
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrJWSFormat)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url", ErrJWSFormat)
	}
	h, err := decodeHeader(parts[0], true)
	if err != nil {
		return nil, err
	}
	// The RS256 check is RSASSA-PKCS1-v1_5 with SHA-256 over the segments
	// as received (RFC 7515 §5.2), done here rather than by go-jose, which
	// re-encodes the decoded payload to rebuild that input (a copy of the
	// whole capture per check).
	return &JWS{Header: h.JWSHeader, Payload: payload, Chain: h.Chain, input: s[:len(parts[0])+1+len(parts[1])], sig: sig}, nil
}

// Header is a protected header as PeekHeader reads it.
type Header struct {
	JWSHeader
	Chain []*x509.Certificate // parsed x5c, leaf first
}

// PeekHeader decodes the protected header of a compact JWS, verifying
// nothing: alg, typ and the x5c certificates, parsed. It applies ParseJWS's
// bounds and header rules but accepts any alg, so a caller can see what a
// JWS claims before (or without) verifying it.
func PeekHeader(compact string) (*Header, error) {
	parts, err := split(compact)
	if err != nil {
		return nil, err
	}
	return decodeHeader(parts[0], false)
}

// PeekPayload decodes the payload of a compact JWS, verifying nothing,
// within ParseJWS's bounds: for picking records or building a request
// before verification, which reads the same bytes.
func PeekPayload(compact string) ([]byte, error) {
	parts, err := split(compact)
	if err != nil {
		return nil, err
	}
	b, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrJWSFormat)
	}
	return b, nil
}

// split returns the three segments of a compact JWS, within the size bounds.
func split(s string) ([]string, error) {
	if len(s) > MaxJWSSize {
		return nil, ErrTooLarge
	}
	parts := strings.SplitN(s, ".", 4)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return nil, fmt.Errorf("%w: want 3 non-empty segments", ErrJWSFormat)
	}
	if len(parts[0]) > maxHeaderSize {
		return nil, ErrTooLarge
	}
	return parts, nil
}

// decodeHeader decodes a header segment: a JSON object without b64 or
// crit, an alg (RS256 if rs256) and 1 to MaxX5C parseable certificates.
// A device repeats its header (alg and x5c, a few kB) in every block it
// signs, so headers that decoded are kept (headerCache) and only copied.
func decodeHeader(seg string, rs256 bool) (*Header, error) {
	if h := headers.get(seg); h != nil {
		if rs256 && h.Alg != "RS256" {
			return nil, ErrAlgorithm
		}
		return h, nil
	}
	h, err := decodeHeaderUncached(seg, rs256)
	if err == nil {
		headers.put(seg, h)
	}
	return h, err
}

func decodeHeaderUncached(seg string, rs256 bool) (*Header, error) {
	hb, err := b64.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrJWSFormat)
	}
	// Strict, like every SBI document: a header with "alg" twice could
	// name RS256 here and another algorithm to go-jose or a Java verifier.
	var raw map[string]jsontext.Value
	if err := jsonx.Unmarshal(hb, &raw, limits(maxHeaderSize)); err != nil || raw == nil {
		return nil, fmt.Errorf("%w: header is not a strict JSON object", ErrJWSFormat)
	}
	for _, k := range []string{"b64", "crit"} {
		// RFC 7797 unencoded payloads would make the signed bytes differ from Payload.
		if _, ok := raw[k]; ok {
			return nil, fmt.Errorf("%w: %q header not allowed", ErrJWSFormat, k)
		}
	}
	h := &Header{}
	if !member(raw, "alg", &h.Alg) || rs256 && h.Alg != "RS256" {
		return nil, ErrAlgorithm
	}
	_ = member(raw, "typ", &h.Typ)
	if _, ok := raw["x5c"]; !ok {
		return nil, fmt.Errorf("%w: missing", ErrX5C)
	}
	if !member(raw, "x5c", &h.X5C) {
		return nil, fmt.Errorf("%w: not an array of strings", ErrX5C)
	}
	if len(h.X5C) == 0 || len(h.X5C) > MaxX5C {
		return nil, fmt.Errorf("%w: %d certificates", ErrX5C, len(h.X5C))
	}
	for i, c := range h.X5C {
		if base64.StdEncoding.DecodedLen(len(c)) > MaxCertSize {
			return nil, fmt.Errorf("%w: certificate %d too large", ErrX5C, i)
		}
		cert, err := x5cCache.parse(c)
		if errors.Is(err, errCertBase64) {
			return nil, fmt.Errorf("%w: certificate %d is not standard base64", ErrX5C, i)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d does not parse", ErrX5C, i)
		}
		h.Chain = append(h.Chain, cert)
	}
	return h, nil
}

// member decodes raw[name] into v, reporting whether it was there and of
// v's type. The values were checked with the whole header.
func member(raw map[string]jsontext.Value, name string, v any) bool {
	b, ok := raw[name]
	return ok && jsonx.Unmarshal(b, v, limits(maxHeaderSize)) == nil
}

// Leaf returns x5c[0].
func (j *JWS) Leaf() *x509.Certificate { return j.Chain[0] }

// VerifySignature checks the RS256 signature with the leaf public key.
func (j *JWS) VerifySignature() error {
	pub, ok := j.Leaf().PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: leaf key is not RSA", ErrKey)
	}
	if n := pub.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return fmt.Errorf("%w: RSA key of %d bits", ErrKey, n)
	}
	// The input is hashed in place: a capture's signing input is most of
	// its size, and sha256 neither keeps nor changes what it reads.
	d := sha256.Sum256(unsafe.Slice(unsafe.StringData(j.input), len(j.input)))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], j.sig); err != nil {
		return ErrSignature
	}
	return nil
}

// verifySignatureOnce is VerifySignature for a JWS the protocol repeats
// byte for byte: a device's digital ID is signed at most every
// DigitalIDMaxAge and travels in every capture until then. A signature
// that verified is remembered by the SHA-256 of its signing input and
// signature (the input holds the x5c header, so it names the key too);
// the same bytes again are the same verification, so it is not repeated.
// Failures are not remembered. Only the verification is cached: the
// caller still checks validity, chains and content at its own time.
func (j *JWS) verifySignatureOnce() error {
	h := sha256.New()
	h.Write(unsafe.Slice(unsafe.StringData(j.input), len(j.input)))
	h.Write([]byte{0})
	h.Write(j.sig)
	var k [32]byte
	h.Sum(k[:0])
	if verifiedSigs.has(k) {
		return nil
	}
	if err := j.VerifySignature(); err != nil {
		return err
	}
	verifiedSigs.add(k)
	return nil
}

// sigCache is the set of signatures that verified, bounded; when full an
// arbitrary entry makes room.
type sigCache struct {
	mu sync.RWMutex
	m  map[[32]byte]struct{}
}

// maxVerifiedSigs bounds sigCache (32 bytes an entry: 128 kB at most).
const maxVerifiedSigs = 4096

var verifiedSigs = sigCache{m: make(map[[32]byte]struct{})}

func (c *sigCache) has(k [32]byte) bool {
	c.mu.RLock()
	_, ok := c.m[k]
	c.mu.RUnlock()
	return ok
}

func (c *sigCache) add(k [32]byte) {
	c.mu.Lock()
	if len(c.m) >= maxVerifiedSigs {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = struct{}{}
	c.mu.Unlock()
}

// CheckValidity checks the leaf's validity period at t.
func (j *JWS) CheckValidity(t time.Time) error {
	return checkValidity(j.Leaf(), t)
}

func checkValidity(c *x509.Certificate, t time.Time) error {
	if t.Before(c.NotBefore) {
		return ErrNotYetValid
	}
	if t.After(c.NotAfter) {
		return ErrExpired
	}
	return nil
}

// VerifyChain builds a path from the leaf to roots, using the other x5c
// certificates as intermediates. The path is checked at t, clamped into the
// leaf's validity period so that an expired leaf is reported once, by
// CheckValidity, and not again here.
func (j *JWS) VerifyChain(roots *x509.CertPool, t time.Time) ([][]*x509.Certificate, error) {
	if roots == nil {
		return nil, fmt.Errorf("%w: no roots configured", ErrUntrusted)
	}
	leaf := j.Leaf()
	t = j.clampToLeaf(t)
	inter := x509.NewCertPool()
	for _, c := range j.Chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   t,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	return chains, nil
}

// clampToLeaf moves t into the leaf's validity period: VerifyChain judges
// trust, CheckValidity judges time.
func (j *JWS) clampToLeaf(t time.Time) time.Time {
	leaf := j.Leaf()
	if t.Before(leaf.NotBefore) {
		return leaf.NotBefore
	}
	if t.After(leaf.NotAfter) {
		return leaf.NotAfter
	}
	return t
}
