package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// Files under central's state directory.
const (
	Dir                 = "tls"
	RootFile            = "tls/root.pem"             // public: what clients pin
	IntermediateFile    = "tls/intermediate.pem"     // public
	RootKeyFile         = "tls/root-key.age"         // sealed to the keyring
	IntermediateKeyFile = "tls/intermediate-key.age" // sealed to the keyring
)

// Lifetimes (decision 0016).
const (
	RootValidity         = 10 * 365 * 24 * time.Hour
	IntermediateValidity = 365 * 24 * time.Hour
	ServerValidity       = 30 * 24 * time.Hour
	ClientValidity       = 30 * 24 * time.Hour
	// RPValidity is a relying party's client certificate's default and
	// longest life: short, so a leaked one ends soon even unrevoked.
	RPValidity = 30 * 24 * time.Hour
	// RenewAt is the share of a certificate's life after which it is
	// replaced: leaves by their Renewer, the intermediate at the next
	// issuance after it.
	RenewAt = 2.0 / 3
)

// Bounds on what a certificate may name.
const (
	MaxSANs   = 32
	MaxSANLen = 253
)

// Sealer seals and opens secrets: central's keyring.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// CA is central's TLS hierarchy, unlocked.
type CA struct {
	dir  string
	seal Sealer

	mu    sync.Mutex
	root  *pki.CA
	inter *pki.CA
}

// Open loads the hierarchy from stateDir, creating it on first start
// (created reports that). A partial hierarchy (some files missing) is an
// error: it is never silently replaced, since clients pin the root.
func Open(stateDir string, s Sealer, now time.Time) (ca *CA, created bool, err error) {
	ca = &CA{dir: stateDir, seal: s}
	files := []string{RootFile, RootKeyFile, IntermediateFile, IntermediateKeyFile}
	have := 0
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(stateDir, f)); err == nil {
			have++
		}
	}
	switch have {
	case 0:
		if err := ca.create(now); err != nil {
			return nil, false, err
		}
		return ca, true, nil
	case len(files):
	default:
		return nil, false, fmt.Errorf("tlsca: %s is incomplete (want %v): restore it from a backup; a new root would break every client that pinned the old one",
			filepath.Join(stateDir, Dir), files)
	}
	if ca.root, err = ca.load(RootFile, RootKeyFile); err != nil {
		return nil, false, err
	}
	if ca.inter, err = ca.load(IntermediateFile, IntermediateKeyFile); err != nil {
		return nil, false, err
	}
	if err := ca.inter.Cert.CheckSignatureFrom(ca.root.Cert); err != nil {
		return nil, false, fmt.Errorf("tlsca: %s is not issued by %s: %w", IntermediateFile, RootFile, err)
	}
	if _, err := ca.Intermediate(now); err != nil {
		return nil, false, err
	}
	return ca, false, nil
}

func newKey(c elliptic.Curve) (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(c, rand.Reader) }

func (ca *CA) create(now time.Time) error {
	if err := os.MkdirAll(filepath.Join(ca.dir, Dir), 0o700); err != nil {
		return err
	}
	rk, err := newKey(elliptic.P384())
	if err != nil {
		return err
	}
	root, err := pki.SelfSigned(rk, pki.Profile{Subject: pkix.Name{CommonName: "edgetrust central TLS root", Organization: []string{"edgetrust"}},
		Validity: RootValidity, PathLen: 1}, now)
	if err != nil {
		return err
	}
	inter, err := issueIntermediate(root, now)
	if err != nil {
		return err
	}
	if err := ca.store(RootKeyFile, RootFile, root); err != nil {
		return err
	}
	if err := ca.store(IntermediateKeyFile, IntermediateFile, inter); err != nil {
		return err
	}
	ca.root, ca.inter = root, inter
	return nil
}

func issueIntermediate(root *pki.CA, now time.Time) (*pki.CA, error) {
	k, err := newKey(elliptic.P256())
	if err != nil {
		return nil, err
	}
	c, err := root.Issue(k.Public(), pki.Profile{
		Subject:  pkix.Name{CommonName: "edgetrust central TLS intermediate " + now.UTC().Format("2006-01-02"), Organization: []string{"edgetrust"}},
		Validity: IntermediateValidity, NotBefore: now.Add(-pki.Backdate), IsCA: true, PathLen: 0,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, now.Add(-pki.Backdate))
	if err != nil {
		return nil, err
	}
	return &pki.CA{Cert: c, Key: k}, nil
}

// store writes a CA's key sealed (0600) and its certificate (0644), each
// whole (temporary file, then rename).
func (ca *CA) store(keyFile, certFile string, c *pki.CA) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return err
	}
	sealed, err := ca.seal.Seal(der)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(ca.dir, keyFile), sealed, 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(ca.dir, certFile), pki.CertPEM(c.Cert), 0o644)
}

func (ca *CA) load(certFile, keyFile string) (*pki.CA, error) {
	b, err := os.ReadFile(filepath.Join(ca.dir, certFile))
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", certFile, err)
	}
	sealed, err := os.ReadFile(filepath.Join(ca.dir, keyFile))
	if err != nil {
		return nil, err
	}
	der, err := ca.seal.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", keyFile, err)
	}
	c, err := pki.ParseCA(cert.Raw, der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", certFile, err)
	}
	return c, nil
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Root is the root certificate: what clients pin.
func (ca *CA) Root() *x509.Certificate { return ca.root.Cert }

// Fingerprint is the root's SHA-256 (hex), the --central-root-sha256 pin.
func (ca *CA) Fingerprint() string { return tlsx.Fingerprint(ca.root.Cert) }

// Intermediate is the issuing CA, re-issued (new key, persisted) once it
// is past RenewAt of its life, so leaves never outlive it by design: a
// leaf is clamped to its issuer's end.
func (ca *CA) Intermediate(now time.Time) (*pki.CA, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	c := ca.inter.Cert
	due := c.NotBefore.Add(time.Duration(float64(c.NotAfter.Sub(c.NotBefore)) * RenewAt))
	if now.Before(due) {
		return ca.inter, nil
	}
	inter, err := issueIntermediate(ca.root, now)
	if err != nil {
		return nil, fmt.Errorf("tlsca: renewing the intermediate: %w", err)
	}
	if err := ca.store(IntermediateKeyFile, IntermediateFile, inter); err != nil {
		return nil, err
	}
	ca.inter = inter
	return inter, nil
}

// SANs are the names a server certificate carries.
type SANs struct {
	DNS []string
	IPs []net.IP
}

// ParseSANs sorts names into DNS names and IP addresses, checking bounds.
func ParseSANs(names []string) (SANs, error) {
	var s SANs
	if len(names) > MaxSANs {
		return s, fmt.Errorf("tlsca: %d names: at most %d", len(names), MaxSANs)
	}
	for _, n := range names {
		if n == "" || len(n) > MaxSANLen {
			return s, fmt.Errorf("tlsca: name %q: want 1–%d characters", n, MaxSANLen)
		}
		if ip := net.ParseIP(n); ip != nil {
			s.IPs = append(s.IPs, ip)
			continue
		}
		for _, r := range n {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '*') {
				return s, fmt.Errorf("tlsca: name %q: not a host name or IP address", n)
			}
		}
		s.DNS = append(s.DNS, n)
	}
	return s, nil
}

// ServerCert issues central's own server certificate for a fresh key,
// with the chain (intermediate, root) a pinning client needs.
func (ca *CA) ServerCert(s SANs, id string, now time.Time) (*tls.Certificate, error) {
	if len(s.DNS)+len(s.IPs) == 0 {
		return nil, errors.New("tlsca: a server certificate needs at least one name (--tls-san)")
	}
	k, err := newKey(elliptic.P256())
	if err != nil {
		return nil, err
	}
	cn := "edgetrust central"
	if len(s.DNS) > 0 {
		cn = s.DNS[0]
	}
	return ca.leaf(k, k.Public(), pki.Profile{Subject: pkix.Name{CommonName: cn, Organization: []string{"edgetrust"}},
		ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: s.DNS, IPs: s.IPs,
		URIs: []*url.URL{tlsx.IdentityURI(tlsx.KindCentral, id)}}, ServerValidity, now)
}

func (ca *CA) leaf(key crypto.Signer, pub crypto.PublicKey, p pki.Profile, life time.Duration, now time.Time) (*tls.Certificate, error) {
	inter, err := ca.Intermediate(now)
	if err != nil {
		return nil, err
	}
	// Backdated by a minute for clock skew; counted in the life.
	p.Validity, p.NotBefore, p.KeyUsage = life, now.Add(-time.Minute), x509.KeyUsageDigitalSignature
	c, err := inter.Issue(pub, p, now.Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	out := &tls.Certificate{Certificate: [][]byte{c.Raw, inter.Cert.Raw, ca.root.Cert.Raw}, Leaf: c}
	if key != nil {
		out.PrivateKey = key
	}
	return out, nil
}

// IssueClient certifies a CSR's key for identity id (kind/id in the SAN
// URI), for client and server use (an appliance's listener and its calls
// to central use the same certificate). DNS and IP names of the CSR are
// kept, within bounds; anything else it asks for is ignored.
func (ca *CA) IssueClient(csr *x509.CertificateRequest, id tlsx.Identity, now time.Time) (*tls.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("tlsca: the CSR's signature does not verify: %w", err)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		if _, err := pki.KeyID(csr.PublicKey); err != nil {
			return nil, err
		}
	}
	if len(csr.DNSNames)+len(csr.IPAddresses) > MaxSANs {
		return nil, fmt.Errorf("tlsca: the CSR names more than %d hosts", MaxSANs)
	}
	for _, n := range csr.DNSNames {
		if _, err := ParseSANs([]string{n}); err != nil {
			return nil, err
		}
	}
	return ca.leaf(nil, csr.PublicKey, pki.Profile{Subject: pkix.Name{CommonName: id.Kind + " " + id.ID, Organization: []string{"edgetrust"}},
		ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames: csr.DNSNames, IPs: csr.IPAddresses, URIs: []*url.URL{tlsx.IdentityURI(id.Kind, id.ID)}}, ClientValidity, now)
}

// IssueRP certifies a relying party's CSR key for client authentication
// only (no host names: a relying party is never a server of ours), with
// its identity urn:edgetrust:rp:<id>, for life (at most RPValidity; zero:
// RPValidity). The CSR's signature must verify: it proves the key's
// holder asked.
func (ca *CA) IssueRP(csr *x509.CertificateRequest, rpID string, life time.Duration, now time.Time) (*tls.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("tlsca: the CSR's signature does not verify: %w", err)
	}
	if _, err := pki.KeyID(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("tlsca: the CSR's key: %w", err)
	}
	if life <= 0 || life > RPValidity {
		life = RPValidity
	}
	return ca.leaf(nil, csr.PublicKey, pki.Profile{Subject: pkix.Name{CommonName: tlsx.KindRP + " " + rpID, Organization: []string{"edgetrust"}},
		ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{tlsx.IdentityURI(tlsx.KindRP, rpID)}}, life, now)
}
