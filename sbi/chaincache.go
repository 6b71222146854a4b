package sbi

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// ChainCache remembers certificate chains that verified, so the device,
// provider and FTM chains that every capture repeats are built and checked
// once rather than three or four times per capture (each x509 Verify is an
// RSA verification per link: about 40 % of an appliance's capture
// verification without it).
//
// An entry is keyed by the roots pool's identity and the SHA-256 of the
// presented certificates, and holds the time window in which every
// certificate of the chain is valid; a verification at a time outside it is
// done again. Only successes are kept. Use a ChainCache only with pools that
// are never changed once built: a changed trust set (a vendor revoked, a new
// CA) must arrive as a new pool, as the appliance's trust registry does, so
// that no entry outlives the trust it was checked against.
type ChainCache struct {
	mu  sync.RWMutex
	m   map[chainKey]chainEntry
	max int
}

type chainKey struct {
	roots *x509.CertPool
	sum   [32]byte
}

type chainEntry struct {
	notBefore, notAfter time.Time
	chains              [][]*x509.Certificate
}

// NewChainCache returns a cache of at most max chains (2,048 if max ≤ 0).
// When full, an arbitrary entry makes room.
func NewChainCache(max int) *ChainCache {
	if max <= 0 {
		max = maxCachedCerts
	}
	return &ChainCache{m: make(map[chainKey]chainEntry), max: max}
}

// Len is the number of chains held.
func (c *ChainCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func chainKeyOf(roots *x509.CertPool, certs []*x509.Certificate) chainKey {
	h := sha256.New()
	var n [4]byte
	for _, c := range certs {
		l := len(c.Raw)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		h.Write(n[:]) // length-prefixed: no two lists hash alike by regrouping
		h.Write(c.Raw)
	}
	k := chainKey{roots: roots}
	h.Sum(k.sum[:0])
	return k
}

// verify is j.VerifyChain through the cache.
func (c *ChainCache) verify(j *JWS, roots *x509.CertPool, t time.Time) ([][]*x509.Certificate, error) {
	if c == nil || roots == nil {
		return j.VerifyChain(roots, t)
	}
	k := chainKeyOf(roots, j.Chain)
	at := j.clampToLeaf(t)
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && !at.Before(e.notBefore) && !at.After(e.notAfter) {
		return e.chains, nil
	}
	chains, err := j.VerifyChain(roots, t)
	if err != nil {
		return nil, err
	}
	e = chainEntry{chains: chains}
	for i, cert := range chains[0] {
		if i == 0 || cert.NotBefore.After(e.notBefore) {
			e.notBefore = cert.NotBefore
		}
		if i == 0 || cert.NotAfter.Before(e.notAfter) {
			e.notAfter = cert.NotAfter
		}
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
	c.mu.Unlock()
	return chains, nil
}
