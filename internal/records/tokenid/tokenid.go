package tokenid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"math/big"
	"strings"
)

// Bounds.
const (
	MinKeyLen   = 32
	MaxInputLen = 256 // bytes of a UIN or an RP ID
	DecimalLen  = 36
)

var (
	ErrKey   = errors.New("tokenid: the token key must be at least 32 bytes")
	ErrInput = errors.New("tokenid: UIN and relying-party ID must be 1–256 bytes without NUL")
)

// Deriver derives token IDs under one secret token key.
type Deriver struct{ key []byte }

// New returns a Deriver for key (at least MinKeyLen random bytes, kept by
// central or sealed on the appliance).
func New(key []byte) (*Deriver, error) {
	if len(key) < MinKeyLen {
		return nil, ErrKey
	}
	return &Deriver{key: append([]byte(nil), key...)}, nil
}

func ok(s string) bool { return len(s) > 0 && len(s) <= MaxInputLen && !strings.ContainsRune(s, 0) }

// Sum returns the 32-byte token for uin at relying party rpID. The NUL
// separator is unambiguous because neither part may contain NUL.
func (d *Deriver) Sum(uin, rpID string) ([]byte, error) {
	if !ok(uin) || !ok(rpID) {
		return nil, ErrInput
	}
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(uin))
	m.Write([]byte{0})
	m.Write([]byte(rpID))
	return m.Sum(nil), nil
}

var tenTo36 = new(big.Int).Exp(big.NewInt(10), big.NewInt(DecimalLen), nil)

// Decimal returns the token as 36 decimal digits (the 256-bit HMAC reduced
// mod 10^36; the bias is below 2^-136).
func (d *Deriver) Decimal(uin, rpID string) (string, error) {
	s, err := d.Sum(uin, rpID)
	if err != nil {
		return "", err
	}
	n := new(big.Int).SetBytes(s)
	n.Mod(n, tenTo36)
	out := n.String()
	return strings.Repeat("0", DecimalLen-len(out)) + out, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Base32 returns the full token as unpadded base32 (52 characters).
func (d *Deriver) Base32(uin, rpID string) (string, error) {
	s, err := d.Sum(uin, rpID)
	if err != nil {
		return "", err
	}
	return b32.EncodeToString(s), nil
}
