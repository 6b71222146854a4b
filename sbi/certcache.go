package sbi

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
)

// certCache holds parsed x5c certificates keyed by their base64 text, so
// the device, provider and FTM certificates that every capture repeats are
// decoded and parsed once (each parse is ~10–20 µs and a few kB). Bounded;
// when full, an arbitrary entry makes room. A *x509.Certificate is never
// changed after parsing, so sharing one is safe.
type certCache struct {
	mu sync.RWMutex
	m  map[string]*x509.Certificate
}

// maxCachedCerts bounds the cache (a few MB at most).
const maxCachedCerts = 2048

var x5cCache = certCache{m: make(map[string]*x509.Certificate)}

var errCertBase64 = errors.New("not standard base64")

// parse returns the certificate for one x5c entry.
func (c *certCache) parse(b64 string) (*x509.Certificate, error) {
	c.mu.RLock()
	cert := c.m[b64]
	c.mu.RUnlock()
	if cert != nil {
		return cert, nil
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errCertBase64
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedCerts {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[b64] = cert
	c.mu.Unlock()
	return cert, nil
}

// headerCache holds decoded JWS protected headers keyed by their base64url
// segment. Entries are never handed out: get returns a copy whose slices
// are the caller's own. Bounded like the certificate cache.
type headerCache struct {
	mu sync.RWMutex
	m  map[string]*Header
}

var headers = headerCache{m: make(map[string]*Header)}

func (c *headerCache) get(seg string) *Header {
	c.mu.RLock()
	h := c.m[seg]
	c.mu.RUnlock()
	if h == nil {
		return nil
	}
	cp := *h
	cp.X5C = slices.Clone(h.X5C)
	cp.Chain = slices.Clone(h.Chain)
	return &cp
}

func (c *headerCache) put(seg string, h *Header) {
	cp := *h
	cp.X5C = slices.Clone(h.X5C)
	cp.Chain = slices.Clone(h.Chain)
	c.mu.Lock()
	if len(c.m) >= maxCachedCerts {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	// The segment is a substring of a whole request: clone it, or the key
	// would keep the request in memory.
	c.m[strings.Clone(seg)] = &cp
	c.mu.Unlock()
}
