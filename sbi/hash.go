package sbi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrPreviousHash is returned for a previousHash that is not 64 hex digits.
var ErrPreviousHash = errors.New("sbi: previousHash is not 64 hex digits")

// emptySHA256 is SHA-256(""), the chain seed for a first capture.
var emptySHA256 = sha256.Sum256(nil)

// HashChain computes the capture hash chain (spec digest §4.4) the way
// MockMDS, the CTK and IDA do: h_i = SHA256(prev || SHA256(iso_i)) over raw
// 32-byte digests, written as upper-case hex. The zero value is not ready;
// use NewHashChain.
type HashChain struct {
	prev [sha256.Size]byte
}

// NewHashChain starts a chain from a request's previousHash. "" (which also
// covers null and absent) starts from SHA-256(""). Hex of either case is read.
func NewHashChain(previousHash string) (*HashChain, error) {
	c := &HashChain{prev: emptySHA256}
	if previousHash == "" {
		return c, nil
	}
	if len(previousHash) != 2*sha256.Size {
		return nil, ErrPreviousHash
	}
	if _, err := hex.Decode(c.prev[:], []byte(previousHash)); err != nil {
		return nil, ErrPreviousHash
	}
	return c, nil
}

// Next adds one ISO record and returns its hash in upper-case hex.
func (c *HashChain) Next(iso []byte) string {
	d := sha256.Sum256(iso)
	h := sha256.New()
	h.Write(c.prev[:])
	h.Write(d[:])
	h.Sum(c.prev[:0])
	return c.Current()
}

// Skip continues the chain from a hash reported by the other side, for a
// segment whose ISO bytes are not available. It reports whether hash parsed.
func (c *HashChain) Skip(hash string) bool {
	var b [sha256.Size]byte
	if len(hash) != 2*sha256.Size {
		return false
	}
	if _, err := hex.Decode(b[:], []byte(hash)); err != nil {
		return false
	}
	c.prev = b
	return true
}

// Current returns the last hash in upper-case hex.
func (c *HashChain) Current() string {
	return strings.ToUpper(hex.EncodeToString(c.prev[:]))
}
