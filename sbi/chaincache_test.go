package sbi

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// The cache answers only what a fresh verification would: the same pool,
// the same certificates, a time inside every certificate's validity.
func TestChainCache(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rootKey, interKey, leafKey := newKey(t), newKey(t), newKey(t)
	root := newCert(t, "root", &rootKey.PublicKey, nil, rootKey, true, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
	// The intermediate expires an hour from now, the leaf a day from now.
	inter := newCert(t, "inter", &interKey.PublicKey, root, rootKey, true, now.Add(-time.Hour), now.Add(time.Hour))
	leaf := newCert(t, "leaf", &leafKey.PublicKey, inter, interKey, false, now.Add(-24*time.Hour), now.Add(24*time.Hour))
	j := &JWS{Chain: []*x509.Certificate{leaf, inter}}
	pool := x509.NewCertPool()
	pool.AddCert(root)

	c := NewChainCache(0)
	for i := range 2 {
		chains, err := c.verify(j, pool, now)
		if err != nil || len(chains) != 1 || len(chains[0]) != 3 {
			t.Fatalf("verify %d: %v %v", i, err, chains)
		}
	}
	if c.Len() != 1 {
		t.Fatalf("Len %d after two verifications of one chain", c.Len())
	}
	// Two hours on the leaf is valid but the intermediate is not: the entry's
	// window ends with the intermediate, so the chain is checked again, and
	// fails as an uncached verification does.
	later := now.Add(2 * time.Hour)
	_, want := j.VerifyChain(pool, later)
	if want == nil {
		t.Fatal("test setup: the chain should not verify once the intermediate expired")
	}
	if _, err := c.verify(j, pool, later); err == nil || !errors.Is(err, ErrUntrusted) {
		t.Fatalf("cached chain used past its intermediate's expiry: %v", err)
	}
	// Another pool (a vendor dropped from the trust set) is another key.
	other := x509.NewCertPool()
	otherKey := newKey(t)
	other.AddCert(newCert(t, "other root", &otherKey.PublicKey, nil, otherKey, true, now.Add(-time.Hour), now.Add(time.Hour)))
	if _, err := c.verify(j, other, now); err == nil {
		t.Fatal("a chain verified against one pool was accepted against another")
	}
	// Another certificate list (a different intermediate) is another key.
	inter2 := newCert(t, "inter", &interKey.PublicKey, root, rootKey, true, now.Add(-time.Hour), now.Add(2*time.Hour))
	if _, err := c.verify(&JWS{Chain: []*x509.Certificate{leaf, inter2}}, pool, now); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("Len %d: failures must not be cached, each certificate list is its own entry", c.Len())
	}
	// Bounded.
	small := NewChainCache(1)
	small.verify(j, pool, now)
	small.verify(&JWS{Chain: []*x509.Certificate{leaf, inter2}}, pool, now)
	if small.Len() != 1 {
		t.Fatalf("a cache of 1 holds %d", small.Len())
	}
	// A nil cache verifies every time.
	var none *ChainCache
	if _, err := none.verify(j, pool, now); err != nil {
		t.Fatal(err)
	}
}

// A decoded header is kept for the next block that repeats it, but each
// caller gets its own copy, and an alg that passed PeekHeader (any alg) is
// still refused by ParseJWS (RS256 only) from the cache.
func TestHeaderCache(t *testing.T) {
	p := getPKI(t)
	leaf := base64.StdEncoding.EncodeToString(p.device.Chain[0].Raw)
	ps := handJWS(t, p.deviceKey, `{"alg":"PS256","x5c":["`+leaf+`"]}`, `{"n":1}`)
	h, err := PeekHeader(ps)
	if err != nil || h.Alg != "PS256" {
		t.Fatalf("peek: %v %+v", err, h)
	}
	if _, err := ParseJWS(ps); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("ParseJWS of a PS256 JWS whose header is cached: %v", err)
	}
	rs := handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["`+leaf+`"]}`, `{"n":2}`)
	a, err := ParseJWS(rs)
	if err != nil {
		t.Fatal(err)
	}
	a.Chain[0] = nil // a caller scribbling on its copy
	a.Header.X5C[0] = "changed"
	b, err := ParseJWS(rs)
	if err != nil || b.Chain[0] == nil || !b.Chain[0].Equal(p.device.Chain[0]) || b.Header.X5C[0] != leaf {
		t.Fatalf("the cached header was changed through a copy: %v", err)
	}
	if err := b.VerifySignature(); err != nil {
		t.Fatal(err)
	}
}
