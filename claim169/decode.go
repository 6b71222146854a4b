package claim169

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/veraison/go-cose"
)

// DefaultMaxTextLen is the capacity of the largest QR code (version 40, ECC
// L) in alphanumeric mode.
const DefaultMaxTextLen = 4296

// Decoder turns QR text into a verified Credential. The zero value verifies
// nothing and so rejects every credential: set Keys, or AllowUnverified.
// A Decoder is safe for concurrent use if its resolvers are.
type Decoder struct {
	// Keys finds the issuer's public key. Required unless AllowUnverified.
	Keys KeyResolver

	// DecryptionKeys finds the AES key of an encrypted (COSE_Encrypt0)
	// credential. Without it encrypted credentials are rejected.
	DecryptionKeys DecryptionKeyResolver

	// AllowUnverified lets Decode return a credential whose signature was
	// not checked: one with no signature or no alg in the protected header,
	// one whose key Keys does not know, or any credential when Keys is nil.
	// Credential.Verified is then false. A signature that is checked and
	// fails is an error regardless.
	AllowUnverified bool

	// Now is the clock for exp, nbf and iat. Default time.Now.
	Now func() time.Time

	// Skew is the clock tolerance applied to exp, nbf and iat. Default 0;
	// 5 minutes suits devices without network time.
	Skew time.Duration

	// MaxTextLen bounds the QR text. Default DefaultMaxTextLen.
	MaxTextLen int

	// MaxDecompressed bounds the inflated payload. Default
	// DefaultMaxDecompressed.
	MaxDecompressed int

	// ZlibOnly rejects Brotli (allowed since spec v1.2.1).
	ZlibOnly bool
}

// Credential is a decoded credential.
type Credential struct {
	Claims

	// Verified is true if the signature was checked with a key from
	// Decoder.Keys. It is false only under Decoder.AllowUnverified.
	Verified bool

	// Algorithm is the signature algorithm named in the protected header
	// (0 if none), KeyID the kid and X5Chain the certificates, as found in
	// the COSE_Sign1 headers.
	Algorithm Algorithm
	KeyID     []byte
	X5Chain   [][]byte

	// Encrypted is true if the credential was in a COSE_Encrypt0.
	Encrypted   bool
	Compression Compression
}

// Decode decodes and verifies text with the given keys and default limits.
func Decode(text string, keys KeyResolver) (*Credential, error) {
	d := Decoder{Keys: keys}
	return d.Decode(text)
}

// bufPool recycles the Base45 and inflate buffers: nothing decoded keeps a
// reference into them (fxamacker copies byte strings out).
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// Decode runs the pipeline: Base45, inflate, COSE (decrypt, verify), CWT,
// claim 169, time checks. Each limit is checked before the work it guards.
// Errors are *Error values naming the failed stage.
func (d *Decoder) Decode(text string) (*Credential, error) {
	maxText := d.MaxTextLen
	if maxText <= 0 {
		maxText = DefaultMaxTextLen
	}
	maxOut := d.MaxDecompressed
	if maxOut <= 0 {
		maxOut = DefaultMaxDecompressed
	}
	if len(text) == 0 {
		return nil, errf(StageInput, ErrMalformed, "empty QR text")
	}
	if len(text) > maxText {
		return nil, errf(StageInput, ErrTooLarge, fmt.Sprintf("QR text is %d characters; the limit is %d (Decoder.MaxTextLen)", len(text), maxText))
	}

	b45 := bufPool.Get().(*[]byte)
	defer bufPool.Put(b45)
	compressed, err := base45.AppendDecode((*b45)[:0], text)
	*b45 = compressed
	if err != nil {
		return nil, errc(StageBase45, ErrMalformed, "QR text is not valid Base45", err)
	}

	inf := bufPool.Get().(*[]byte)
	defer bufPool.Put(inf)
	raw, kind, err := decompress((*inf)[:0], compressed, maxOut, d.ZlibOnly)
	*inf = raw
	if err != nil {
		return nil, newErr(StageDecompress, err)
	}

	c := &Credential{Compression: kind}
	if err := d.decodeCOSE(c, raw); err != nil {
		return nil, err
	}
	if err := d.checkTime(&c.Claims); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeCOSE handles the COSE layers and the payload.
func (d *Decoder) decodeCOSE(c *Credential, b []byte) error {
	kind, body, err := unwrapCOSE(b, false)
	if err != nil {
		return newErr(StageCOSE, err)
	}
	if kind == kindEncrypt0 {
		c.Encrypted = true
		if b, err = d.decrypt(body); err != nil {
			return err
		}
		// The plaintext is a COSE_Sign1, or (reference implementation) a
		// bare CWT map, which only AllowUnverified accepts.
		if kind, body, err = unwrapCOSE(b, true); err != nil {
			return newErr(StageCOSE, fmt.Errorf("inside COSE_Encrypt0: %w", err))
		}
		switch kind {
		case kindEncrypt0:
			return errf(StageCOSE, ErrUnsupported, "COSE_Encrypt0 nested in COSE_Encrypt0")
		case kindBareCWT:
			if !d.AllowUnverified {
				return errf(StageSignature, ErrUnsigned, "the encrypted payload is a bare CWT with no COSE_Sign1; set AllowUnverified to read it")
			}
			return d.decodeClaims(c, body)
		}
	}
	s, err := parseSign1(body)
	if err != nil {
		return newErr(StageCOSE, err)
	}
	c.Algorithm, c.KeyID, c.X5Chain = s.hdr.alg, s.hdr.kid, s.hdr.x5chain
	if c.Verified, err = d.verify(s); err != nil {
		return err
	}
	return d.decodeClaims(c, s.payload)
}

func (d *Decoder) decodeClaims(c *Credential, payload []byte) error {
	if stage, err := c.Claims.unmarshal(payload); err != nil {
		if stage == StageClaim169 && errors.Is(err, ErrNoClaim169) {
			return newErr(stage, err)
		}
		return newErr(stage, malformed(err))
	}
	return nil
}

func (d *Decoder) decrypt(body []byte) ([]byte, error) {
	e, err := parseEncrypt0(body)
	if err != nil {
		return nil, newErr(StageCOSE, err)
	}
	h := &e.hdr
	if !h.hasAlg {
		return nil, errf(StageDecrypt, ErrUnsupportedAlgorithm, "COSE_Encrypt0 has no alg in its protected header")
	}
	size := aesKeySize(h.alg)
	if size == 0 {
		return nil, errf(StageDecrypt, ErrUnsupportedAlgorithm, fmt.Sprintf("COSE_Encrypt0 alg %v; want A128GCM (1) or A256GCM (3)", h.alg))
	}
	if h.hasPartial {
		return nil, errf(StageDecrypt, ErrUnsupported, "Partial IV (label 6) is not supported")
	}
	if len(h.iv) != gcmIVSize {
		return nil, errf(StageDecrypt, ErrMalformed, fmt.Sprintf("IV (label 5) is %d bytes, want %d", len(h.iv), gcmIVSize))
	}
	if d.DecryptionKeys == nil {
		return nil, errf(StageDecrypt, ErrNoKeys, "credential is encrypted; set Decoder.DecryptionKeys")
	}
	key, err := d.DecryptionKeys.ResolveDecryptionKey(KeyQuery{KeyID: h.kid, Algorithm: h.alg})
	if err != nil {
		return nil, newErr(StageDecrypt, err)
	}
	if len(key) != size {
		return nil, errf(StageDecrypt, ErrAlgorithmMismatch, fmt.Sprintf("%v needs a %d-byte key, resolver gave %d bytes", h.alg, size, len(key)))
	}
	pt, err := e.open(key)
	if err != nil {
		return nil, errc(StageDecrypt, ErrDecrypt, "wrong key or tampered ciphertext", err)
	}
	return pt, nil
}

// verify checks the signature of s. It returns false, nil only when
// AllowUnverified permits skipping the check.
func (d *Decoder) verify(s *sign1) (bool, error) {
	h := &s.hdr
	skip := func(sentinel error, detail string) (bool, error) {
		if d.AllowUnverified {
			return false, nil
		}
		return false, errf(StageSignature, sentinel, detail)
	}
	switch {
	case !h.hasAlg && h.unprotAlg:
		return skip(ErrUnsigned, "alg is only in the unprotected header, which the signature does not cover; it is never used")
	case !h.hasAlg:
		return skip(ErrUnsigned, "no alg in the protected header")
	case len(s.signature) == 0:
		return skip(ErrUnsigned, "the signature is empty")
	case h.alg != EdDSA && h.alg != ES256:
		return skip(ErrUnsupportedAlgorithm, fmt.Sprintf("alg %v; want EdDSA (-8) or ES256 (-7)", h.alg))
	case d.Keys == nil:
		return skip(ErrNoKeys, "set Decoder.Keys to verify credentials, or AllowUnverified to skip verification")
	}
	pub, err := d.Keys.ResolveKey(KeyQuery{KeyID: h.kid, Algorithm: h.alg, X5Chain: h.x5chain})
	switch {
	case err == nil && pub == nil:
		err = ErrUnknownKey
		fallthrough
	case errors.Is(err, ErrUnknownKey):
		if d.AllowUnverified {
			return false, nil
		}
		return false, newErr(StageSignature, err)
	case err != nil:
		return false, newErr(StageSignature, err)
	}
	keyAlg, err := algorithmFor(pub)
	if err != nil {
		return false, newErr(StageSignature, err)
	}
	if keyAlg != h.alg {
		return false, errf(StageSignature, ErrAlgorithmMismatch, fmt.Sprintf("protected header says %v but the resolved key is for %v", h.alg, keyAlg))
	}
	v, err := cose.NewVerifier(cose.Algorithm(h.alg), pub)
	if err != nil {
		return false, errc(StageSignature, ErrWeakKey, "", err)
	}
	if err := v.Verify(sigStructure(h.protContent, s.payload), s.signature); err != nil {
		detail := fmt.Sprintf("%v signature does not match (data tampered, or signed by another key)", h.alg)
		if len(s.signature) != 64 {
			detail = fmt.Sprintf("%v signature is %d bytes, want 64", h.alg, len(s.signature))
		}
		return false, errf(StageSignature, ErrBadSignature, detail)
	}
	return true, nil
}

func (d *Decoder) checkTime(c *Claims) error {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	t := now()
	skew := d.Skew
	if skew < 0 {
		skew = -skew
	}
	// RFC 8392/7519: valid while nbf <= now < exp.
	if !c.ExpiresAt.IsZero() && !t.Add(-skew).Before(c.ExpiresAt) {
		return errf(StageTime, ErrExpired, fmt.Sprintf("exp %s, now %s, skew %v", c.ExpiresAt.Format(time.RFC3339), t.UTC().Format(time.RFC3339), skew))
	}
	if !c.NotBefore.IsZero() && t.Add(skew).Before(c.NotBefore) {
		return errf(StageTime, ErrNotYetValid, fmt.Sprintf("nbf %s, now %s, skew %v", c.NotBefore.Format(time.RFC3339), t.UTC().Format(time.RFC3339), skew))
	}
	if !c.IssuedAt.IsZero() && t.Add(skew).Before(c.IssuedAt) {
		return errf(StageTime, ErrIssuedInFuture, fmt.Sprintf("iat %s, now %s, skew %v; check the device clock", c.IssuedAt.Format(time.RFC3339), t.UTC().Format(time.RFC3339), skew))
	}
	return nil
}
