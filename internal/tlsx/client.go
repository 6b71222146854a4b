package tlsx

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
)

// Fingerprint is the SHA-256 of a certificate's DER, lower-case hex: how
// central's TLS root is pinned (--central-root-sha256).
func Fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// ParsePin reads a SHA-256 pin: 64 hex digits, upper or lower case,
// optionally with colons between bytes and a "sha256:" prefix.
func ParsePin(s string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	p = strings.TrimPrefix(p, "sha256:")
	p = strings.ReplaceAll(p, ":", "")
	if len(p) != 64 || strings.Trim(p, "0123456789abcdef") != "" {
		return "", fmt.Errorf("tlsx: pin %q: want the SHA-256 of central's TLS root, 64 hex digits (edgetrust-central tls root prints it)", s)
	}
	return p, nil
}

// PinError says a server's TLS root is not the pinned one.
type PinError struct {
	Want string   // the pin
	Got  []string // fingerprints of the certificates the server sent
}

func (e *PinError) Error() string {
	return fmt.Sprintf("tlsx: central's TLS certificate does not chain to the pinned root (want SHA-256 %s, the server sent %s): "+
		"check --central-root-sha256 against `edgetrust-central tls root` on central; you may be talking to another server", e.Want, strings.Join(e.Got, ", "))
}

// ParseCerts reads every PEM certificate in b (at most pki.MaxPEMCerts).
func ParseCerts(b []byte) ([]*x509.Certificate, error) { return pki.ParseCertsPEM(b) }

// SavedRootFile is where an enrolled agent or appliance keeps central's
// TLS root, under its state directory, once the pin has verified it.
const SavedRootFile = "tls/central-root.pem"

// TrustFrom is how a client of central trusts it: the roots in caFile (a
// PEM file) if given, else the root saved under state at enrolment, plus
// the SHA-256 pin if given. It may return options that trust nothing: the
// caller decides whether that is an error.
func TrustFrom(state, caFile, pin string) (ClientOptions, error) {
	o := ClientOptions{Pin: pin}
	path := caFile
	if path == "" {
		path = filepath.Join(state, SavedRootFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			path = ""
		}
	}
	if path != "" {
		roots, err := ReadRoots(path)
		if err != nil {
			return o, fmt.Errorf("central's TLS root: %w", err)
		}
		o.Roots = roots
	}
	return o, nil
}

// ClientOptions say how a client trusts a server (central, or an
// appliance) and what it presents.
type ClientOptions struct {
	// Roots are the trusted roots (central's TLS root, read from a file
	// saved at enrolment). With Pin they must include the pinned root.
	Roots []*x509.Certificate
	// Pin is the SHA-256 of the one root to trust (ParsePin's form). With
	// only a pin the root is taken from the chain the server sends (central
	// sends its root) and must match the pin.
	Pin string
	// AllowTLS12 admits TLS 1.2 (AEAD suites only).
	AllowTLS12 bool
	// GetClientCertificate supplies a client certificate (mutual TLS), e.g.
	// a Renewer's.
	GetClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// OnRoot, when set, is called with the root a handshake verified
	// against (to save it after a pinned first contact).
	OnRoot func(*x509.Certificate)
}

// ClientConfig is the tls.Config for a client that trusts only what o
// says: never the system roots, and never without a root or a pin.
func ClientConfig(o ClientOptions) (*tls.Config, error) {
	if len(o.Roots) == 0 && o.Pin == "" {
		return nil, errors.New("tlsx: a client needs central's TLS root or its SHA-256 pin (--central-root-sha256)")
	}
	pin := ""
	if o.Pin != "" {
		p, err := ParsePin(o.Pin)
		if err != nil {
			return nil, err
		}
		pin = p
	}
	var roots []*x509.Certificate
	for _, r := range o.Roots {
		if pin == "" || Fingerprint(r) == pin {
			roots = append(roots, r)
		}
	}
	if pin != "" && len(o.Roots) > 0 && len(roots) == 0 {
		got := make([]string, len(o.Roots))
		for i, r := range o.Roots {
			got[i] = Fingerprint(r)
		}
		return nil, &PinError{Want: pin, Got: got}
	}
	cfg := Base(o.AllowTLS12)
	cfg.GetClientCertificate = o.GetClientCertificate
	// Verification is ours (VerifyConnection), so that a pin can name a
	// root the client has not seen yet; InsecureSkipVerify only turns off
	// crypto/tls's own check, which would need the root up front.
	cfg.InsecureSkipVerify = true
	v := &verifier{roots: roots, pin: pin, onRoot: o.OnRoot}
	cfg.VerifyConnection = v.check("")
	verifiers.Store(cfg, v)
	return cfg, nil
}

// verifiers maps the configs ClientConfig made to their verifiers, so
// that Transport and Dial can check the host name they dial: crypto/tls
// leaves ConnectionState.ServerName empty for an IP address.
var verifiers sync.Map // *tls.Config → *verifier

type verifier struct {
	roots  []*x509.Certificate
	pin    string
	onRoot func(*x509.Certificate)
}

// check verifies a connection to name (empty: the SNI name sent).
func (v *verifier) check(name string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		n := name
		if n == "" {
			n = cs.ServerName
		}
		return verifyServer(cs, n, v.roots, v.pin, v.onRoot)
	}
}

// ForHost is cfg (from ClientConfig) for a connection to host: the
// certificate must name host, a DNS name or an IP address. Transport and
// Dial use it; use it for any other dialer.
func ForHost(cfg *tls.Config, host string) *tls.Config {
	c := cfg.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	if v, ok := verifiers.Load(cfg); ok {
		c.VerifyConnection = v.(*verifier).check(c.ServerName)
	}
	return c
}

func verifyServer(cs tls.ConnectionState, name string, roots []*x509.Certificate, pin string, onRoot func(*x509.Certificate)) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tlsx: the server sent no certificate")
	}
	if name == "" {
		// crypto/tls's own check is off (InsecureSkipVerify): without a
		// name there would be no host-name check at all.
		return errors.New("tlsx: no server name to verify the certificate for (dial through tlsx.Transport or ForHost)")
	}
	pool := x509.NewCertPool()
	trusted := roots
	if len(trusted) == 0 { // pin only: the root must be in what the server sent
		for _, c := range cs.PeerCertificates {
			if Fingerprint(c) == pin {
				trusted = append(trusted, c)
			}
		}
		if len(trusted) == 0 {
			got := make([]string, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				got[i] = Fingerprint(c)
			}
			return &PinError{Want: pin, Got: got}
		}
	}
	for _, r := range trusted {
		pool.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("tlsx: the server's certificate does not verify against central's TLS root: %w", err)
	}
	if onRoot != nil {
		onRoot(chains[0][len(chains[0])-1])
	}
	return nil
}

// HTTPClient is an http.Client over cfg. responseHeader bounds the wait
// for an answer's headers (long polls need more than the default 30 s).
func HTTPClient(cfg *tls.Config, timeout, responseHeader time.Duration) *http.Client {
	if responseHeader <= 0 {
		responseHeader = 30 * time.Second
	}
	return &http.Client{Timeout: timeout, Transport: Transport(cfg, responseHeader)}
}

// Transport is an http.Transport over cfg (nil cfg: plain HTTP only).
// Each TLS connection is verified for the host it dials (ForHost).
func Transport(cfg *tls.Config, responseHeader time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseHeader,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	if _, ok := verifiers.Load(cfg); ok {
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			d := &tls.Dialer{NetDialer: dialer, Config: ForHost(cfg, host)}
			return d.DialContext(ctx, network, addr)
		}
	}
	return t
}

// MaxRootFile bounds a root file read by ReadRoots.
const MaxRootFile = 1 << 20

// ReadRoots reads a PEM file of root certificates.
func ReadRoots(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRootFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRootFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxRootFile)
	}
	cs, err := ParseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}

// ServerOptions configure a server's TLS.
type ServerOptions struct {
	AllowTLS12     bool
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs, when set, are the roots client certificates must chain to:
	// a client may present one (tls.VerifyClientCertIfGiven) and handlers
	// read who it is with PeerIdentity. A certificate that does not verify
	// fails the handshake.
	ClientCAs []*x509.Certificate
}

// ServerConfig is the tls.Config of an edgetrust server.
func ServerConfig(o ServerOptions) *tls.Config {
	cfg := Base(o.AllowTLS12)
	cfg.GetCertificate = o.GetCertificate
	if len(o.ClientCAs) > 0 {
		pool := x509.NewCertPool()
		for _, c := range o.ClientCAs {
			pool.AddCert(c)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg
}
