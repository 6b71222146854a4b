package claim169

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"
	"sync"
)

// KeyQuery is what a credential says about the key that made it. None of it
// is trusted: a resolver must only return keys it already trusts, and the
// signature is then checked with that key.
type KeyQuery struct {
	KeyID     []byte    // kid (label 4), protected or unprotected; nil if absent
	Algorithm Algorithm // alg from the protected header
	X5Chain   [][]byte  // DER certificates from x5chain (label 33), leaf first; nil if absent
}

// KeyResolver finds the public key for a credential. It returns an
// ed25519.PublicKey for EdDSA or a P-256 *ecdsa.PublicKey for ES256, or an
// error wrapping ErrUnknownKey if it has none.
//
// A resolver that accepts X5Chain must validate the chain against its own
// pinned roots: a key is never trusted because it arrived in the QR code.
type KeyResolver interface {
	ResolveKey(q KeyQuery) (crypto.PublicKey, error)
}

// KeyResolverFunc adapts a function to KeyResolver.
type KeyResolverFunc func(q KeyQuery) (crypto.PublicKey, error)

func (f KeyResolverFunc) ResolveKey(q KeyQuery) (crypto.PublicKey, error) { return f(q) }

// DecryptionKeyResolver finds the AES key (16 or 32 bytes) for a
// COSE_Encrypt0, or returns an error wrapping ErrUnknownKey.
type DecryptionKeyResolver interface {
	ResolveDecryptionKey(q KeyQuery) ([]byte, error)
}

// DecryptionKeyResolverFunc adapts a function to DecryptionKeyResolver.
type DecryptionKeyResolverFunc func(q KeyQuery) ([]byte, error)

func (f DecryptionKeyResolverFunc) ResolveDecryptionKey(q KeyQuery) ([]byte, error) { return f(q) }

// KeySet is a fixed list of trusted public keys, looked up by exact kid. It
// is safe for concurrent use.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]crypto.PublicKey
}

// Add trusts pub for credentials whose kid is exactly kid. A nil or empty kid
// matches credentials that carry no kid. Weak keys are refused.
func (s *KeySet) Add(kid []byte, pub crypto.PublicKey) error {
	if _, err := algorithmFor(pub); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[string]crypto.PublicKey)
	}
	s.keys[string(kid)] = pub
	return nil
}

// ResolveKey implements KeyResolver.
func (s *KeySet) ResolveKey(q KeyQuery) (crypto.PublicKey, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil KeySet", ErrUnknownKey)
	}
	s.mu.RLock()
	pub, ok := s.keys[string(q.KeyID)]
	s.mu.RUnlock()
	if !ok {
		if len(q.KeyID) == 0 {
			return nil, fmt.Errorf("%w: credential has no kid and no key was added for an empty kid", ErrUnknownKey)
		}
		return nil, fmt.Errorf("%w: kid %x is not in the key set", ErrUnknownKey, q.KeyID)
	}
	return pub, nil
}

// algorithmFor returns the signature algorithm a public key is for, after
// checking that the key is usable.
func algorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, fmt.Errorf("%w: Ed25519 public key is %d bytes, want 32", ErrWeakKey, len(k))
		}
		if isSmallOrder(k) {
			return 0, fmt.Errorf("%w: Ed25519 public key %x is a small-order point", ErrWeakKey, []byte(k))
		}
		return EdDSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return 0, fmt.Errorf("%w: ECDSA key is not on P-256 (only ES256 is supported)", ErrUnsupportedAlgorithm)
		}
		// ECDH rejects points not on the curve, including the identity.
		if _, err := k.ECDH(); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrWeakKey, err)
		}
		return ES256, nil
	}
	return 0, fmt.Errorf("%w: public key type %T (want ed25519.PublicKey or P-256 *ecdsa.PublicKey)", ErrUnsupportedAlgorithm, pub)
}

// Encodings of the y coordinate of small-order Edwards25519 points: y = 0
// (order 4), y = 1 (identity), y = p-1 (order 2) and the two order-8 values.
// Go's ed25519.Verify does not reject them, and with such a key one
// signature can verify for many messages.
var smallOrderY = [5][32]byte{
	{},
	{1},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
}

// isSmallOrder reports whether an encoded Ed25519 point has small order,
// whatever its sign bit and including non-canonical encodings (y >= p).
func isSmallOrder(pub []byte) bool {
	var y [32]byte
	copy(y[:], pub)
	y[31] &= 0x7f
	// y >= p = 2^255-19 only when bytes 1..30 are 0xff, byte 31 is 0x7f and
	// byte 0 >= 0xed; then y-p = y[0]-0xed.
	if y[0] >= 0xed && y[31] == 0x7f && bytes.Count(y[1:31], []byte{0xff}) == 30 {
		y = [32]byte{y[0] - 0xed}
	}
	for i := range smallOrderY {
		if y == smallOrderY[i] {
			return true
		}
	}
	return false
}
