package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Suites are the TLS 1.2 cipher suites allowed, for clients that lack
// TLS 1.3: ECDHE with an AEAD only (TLS 1.3's suites are fixed by Go and
// all AEAD).
var Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Base is the policy every edgetrust TLS config starts from. allowTLS12
// admits TLS 1.2 clients (AEAD suites only); otherwise TLS 1.3 only.
func Base(allowTLS12 bool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS13}
	if allowTLS12 {
		c.MinVersion, c.CipherSuites = tls.VersionTLS12, Suites
	}
	return c
}

// Identity kinds.
const (
	KindCentral   = "central"
	KindAppliance = "appliance"
	KindRP        = "rp"
	KindAdmin     = "admin"
)

const uriPrefix = "urn:edgetrust:"

// IdentityURI is the SAN URI naming kind/id.
func IdentityURI(kind, id string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "edgetrust:" + kind + ":" + id}
}

// Identity is who a certificate names.
type Identity struct {
	Kind, ID string
}

func (i Identity) String() string { return i.Kind + ":" + i.ID }

// ErrNoIdentity: the certificate carries no edgetrust identity URI.
var ErrNoIdentity = errors.New("tlsx: the certificate names no edgetrust identity (urn:edgetrust:<kind>:<id>)")

// IdentityOf reads the one edgetrust identity URI of c.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	var out []Identity
	for _, u := range c.URIs {
		s := u.String()
		rest, ok := strings.CutPrefix(s, uriPrefix)
		if !ok {
			continue
		}
		kind, id, ok := strings.Cut(rest, ":")
		if !ok || kind == "" || id == "" {
			return Identity{}, fmt.Errorf("tlsx: malformed identity URI %q", s)
		}
		out = append(out, Identity{kind, id})
	}
	switch len(out) {
	case 0:
		return Identity{}, ErrNoIdentity
	case 1:
		return out[0], nil
	default:
		return Identity{}, errors.New("tlsx: the certificate names more than one edgetrust identity")
	}
}

// PeerIdentity is the identity in the verified client certificate of a
// connection, or ErrNoIdentity when the client sent none.
func PeerIdentity(cs *tls.ConnectionState) (Identity, *x509.Certificate, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, nil, ErrNoIdentity
	}
	leaf := cs.VerifiedChains[0][0]
	id, err := IdentityOf(leaf)
	return id, leaf, err
}

// CheckListen refuses a plain-HTTP listener on anything but a loopback
// address, and plain HTTP at all unless the operator said so.
func CheckListen(addr string, plain, insecureLoopback bool, flag string) error {
	if !plain {
		return nil
	}
	if !insecureLoopback {
		return fmt.Errorf("refusing plain HTTP on %s: serve TLS (the default), or pass %s to serve plain HTTP on a loopback address for development", addr, flag)
	}
	if !IsLoopback(addr) {
		return fmt.Errorf("refusing plain HTTP on %s: %s allows only a loopback address (127.0.0.1, [::1], localhost); serve TLS on other addresses", addr, flag)
	}
	return nil
}

// IsLoopback reports whether a host:port listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultSANs are the names a daemon's certificate carries when the
// operator names none: the host name, localhost, the loopback addresses,
// and the listen address's host when it names one (not 0.0.0.0 or ::).
func DefaultSANs(addr string) []string {
	var out []string
	add := func(n string) {
		for _, m := range out {
			if m == n {
				return
			}
		}
		out = append(out, n)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		add(h)
	}
	add("localhost")
	add("127.0.0.1")
	add("::1")
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			add(host)
		}
	}
	return out
}
