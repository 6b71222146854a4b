package core

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol"
)

// Token secrets.

const (
	AdminPrefix = "eta_" // admin tokens
	EnrolPrefix = "ete_" // enrolment tokens
)

// RandomString is n random bytes, base64url without padding.
func RandomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewTokenSecret returns a token string "<prefix><id>_<secret>" and the
// record holding only the secret's SHA-256.
func NewTokenSecret(prefix string) (string, string, []byte) {
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		panic(err)
	}
	id := hex.EncodeToString(idb)
	secret := RandomString(32)
	h := sha256.Sum256([]byte(secret))
	return prefix + id + "_" + secret, id, h[:]
}

// SplitToken parses a token string; ok is false for anything malformed.
func SplitToken(prefix, tok string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(tok, prefix)
	if !found || len(tok) > enrol.MaxToken {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// SecretMatches compares a presented secret with a stored hash in constant time.
func SecretMatches(secret string, hash []byte) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// ErrUnauthorized refuses an admin request without a valid admin token.
var ErrUnauthorized = Fail(http.StatusUnauthorized, enrol.CodeUnauthorized, "a valid admin token is required (Authorization: Bearer eta_...)")

// TokenRequest asks for an enrolment token.
type TokenRequest struct {
	Kind      string `json:"kind"`                // device or appliance
	VendorID  string `json:"vendorId,omitempty"`  // device tokens
	Appliance string `json:"appliance,omitempty"` // appliance tokens: bind to this id (optional)
	TTL       string `json:"ttl,omitempty"`       // Go duration, default 15m, at most 24h
}

// TokenResponse carries a new enrolment token, shown once.
type TokenResponse struct {
	Token   string    `json:"token"`
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Vendor  string    `json:"vendorId,omitempty"`
	Expires time.Time `json:"expires"`
}
