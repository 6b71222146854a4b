package trust

import (
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
)

// Reasons a Result can carry besides a decoding stage's error.
var (
	ErrRevoked        = errors.New("credential revoked")
	ErrKeyRevoked     = errors.New("issuer key revoked")
	ErrKeyNotValid    = errors.New("issuer key not valid at the credential's issue time")
	ErrIssuerMismatch = errors.New("credential iss does not match the trusted issuer of its key")
	ErrStale          = errors.New("trust list stale")
	ErrNoTrustList    = errors.New("no trust list loaded")
)

// Result is the outcome of verifying one QR code.
type Result struct {
	Valid bool
	// Stale is true when the trust or revocation list is past its
	// nextUpdate; with RejectStale the credential is then invalid.
	Stale bool
	// Stage names where verification failed ("base45", "signature",
	// "time", "revocation", "trust-list", ...); empty when valid.
	Stage string
	// Err is why it failed; nil when valid.
	Err        error
	Credential *claim169.Credential
	KeyID      string
}

// Reason is a one-line human reason: "stage: why".
func (r *Result) Reason() string {
	if r.Err == nil {
		return ""
	}
	return r.Stage + ": " + r.Err.Error()
}

type state struct {
	tl      *TrustList
	keys    map[string]*IssuerKey
	pubs    map[string]crypto.PublicKey
	rl      *RevocationList
	revoked map[string][]Revocation
}

// Verifier verifies Claim 169 QR text against the current lists. It is safe
// for concurrent use; SetTrustList and SetRevocationList swap the lists
// atomically while verifications run.
type Verifier struct {
	// Decoder settings (limits, skew, decryption keys). Keys is set by
	// the Verifier; AllowUnverified is never honoured.
	Decoder claim169.Decoder
	// RejectStale makes answers invalid while a list is past nextUpdate.
	RejectStale bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AnyKID, for ad-hoc checks against a one-key trust list, uses that
	// key whatever kid the credential names (or none).
	AnyKID bool

	st atomic.Pointer[state]
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// SetTrustList installs a verified trust list.
func (v *Verifier) SetTrustList(tl *TrustList) error {
	n := &state{tl: tl, keys: map[string]*IssuerKey{}, pubs: map[string]crypto.PublicKey{}}
	for i := range tl.Keys {
		k := &tl.Keys[i]
		pub, err := k.publicKey()
		if err != nil {
			return err
		}
		n.keys[k.KID], n.pubs[k.KID] = k, pub
	}
	for {
		old := v.st.Load()
		if old != nil {
			n.rl, n.revoked = old.rl, old.revoked
		}
		if v.st.CompareAndSwap(old, n) {
			return nil
		}
	}
}

// SetRevocationList installs a verified revocation list.
func (v *Verifier) SetRevocationList(rl *RevocationList) {
	idx := map[string][]Revocation{}
	for _, r := range rl.Revoked {
		idx[r.ID] = append(idx[r.ID], r)
	}
	for {
		old := v.st.Load()
		n := &state{rl: rl, revoked: idx}
		if old != nil {
			n.tl, n.keys, n.pubs = old.tl, old.keys, old.pubs
		}
		if v.st.CompareAndSwap(old, n) {
			return
		}
	}
}

// Lists returns the lists in use (nil when none is loaded).
func (v *Verifier) Lists() (*TrustList, *RevocationList) {
	s := v.st.Load()
	if s == nil {
		return nil, nil
	}
	return s.tl, s.rl
}

// Verify decodes and verifies QR text.
func (v *Verifier) Verify(text string) *Result {
	s := v.st.Load()
	if s == nil || s.tl == nil {
		return &Result{Stage: "trust-list", Err: ErrNoTrustList}
	}
	now := v.now()
	res := &Result{Stale: now.After(s.tl.NextUpdate) || (s.rl != nil && now.After(s.rl.NextUpdate))}
	d := v.Decoder
	d.AllowUnverified = false
	d.Now = v.now
	var used *IssuerKey
	d.Keys = claim169.KeyResolverFunc(func(q claim169.KeyQuery) (crypto.PublicKey, error) {
		kid := hex.EncodeToString(q.KeyID)
		k, ok := s.keys[kid]
		if !ok && v.AnyKID && len(s.keys) == 1 {
			for id, only := range s.keys {
				kid, k, ok = id, only, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: kid %s is not on the trust list", claim169.ErrUnknownKey, kid)
		}
		used = k
		return s.pubs[kid], nil
	})
	cred, err := d.Decode(text)
	if err != nil {
		res.Err = err
		res.Stage = "decode"
		var ce *claim169.Error
		if errors.As(err, &ce) {
			res.Stage = ce.Stage.String()
		}
		return res
	}
	res.Credential, res.KeyID = cred, used.KID
	fail := func(stage string, err error) *Result {
		res.Stage, res.Err = stage, err
		return res
	}
	if used.Status != StatusActive {
		return fail("trust-list", ErrKeyRevoked)
	}
	at := cred.IssuedAt
	if at.IsZero() {
		at = now
	}
	if at.Before(used.NotBefore) || at.After(used.NotAfter) {
		return fail("trust-list", ErrKeyNotValid)
	}
	if used.Issuer != "" && cred.Issuer != used.Issuer {
		return fail("trust-list", ErrIssuerMismatch)
	}
	id := cred.Identity.ID
	if id == "" {
		id = cred.Subject
	}
	for _, r := range s.revoked[id] {
		if r.IssuedBefore.IsZero() || !cred.IssuedAt.After(r.IssuedBefore) {
			return fail("revocation", ErrRevoked)
		}
	}
	if res.Stale && v.RejectStale {
		return fail("trust-list", ErrStale)
	}
	res.Valid = true
	return res
}
