package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// CA is a certificate authority with its signing key (in software, or a
// crypto.Signer backed by a TPM or HSM).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Profile is what a certificate says beyond its key.
type Profile struct {
	Subject pkix.Name
	// Validity is how long the certificate lives from its start. Issue
	// clamps it to the issuing CA's end.
	Validity time.Duration
	// NotBefore is the earliest start (key rotation: not before the old
	// certificate's start); zero means now. SelfSigned backdates a CA by
	// Backdate to tolerate clock skew between machines.
	NotBefore time.Time
	KeyUsage  x509.KeyUsage
	ExtUsage  []x509.ExtKeyUsage
	// IsCA makes a CA certificate; PathLen is its path length constraint
	// (0: it may issue leaves only).
	IsCA    bool
	PathLen int
	// Subject alternative names.
	DNSNames []string
	IPs      []net.IP
	URIs     []*url.URL
}

// Backdate is how far SelfSigned starts a CA before now.
const Backdate = time.Hour

// SelfSigned makes a self-signed CA for key from p (p.IsCA is implied).
func SelfSigned(key crypto.Signer, p Profile, now time.Time) (*CA, error) {
	p.IsCA = true
	if p.KeyUsage == 0 {
		p.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	now = now.UTC().Truncate(time.Second)
	if p.NotBefore.IsZero() {
		p.NotBefore = now.Add(-Backdate)
	}
	tmpl, err := template(key.Public(), p, now)
	if err != nil {
		return nil, err
	}
	tmpl.SignatureAlgorithm = SignatureAlgorithm(key)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: self-signing %q: %w", p.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue certifies pub with p, signed by ca. The certificate starts at now
// (or p.NotBefore, if later) and ends no later than the CA.
func (ca *CA) Issue(pub crypto.PublicKey, p Profile, now time.Time) (*x509.Certificate, error) {
	if p.Validity <= 0 {
		return nil, errors.New("pki: a certificate's validity must be positive")
	}
	tmpl, err := template(pub, p, now)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	if !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, fmt.Errorf("pki: the CA %q expires before %q could start", ca.Cert.Subject.CommonName, p.Subject.CommonName)
	}
	tmpl.AuthorityKeyId = ca.Cert.SubjectKeyId
	tmpl.SignatureAlgorithm = SignatureAlgorithm(ca.Key)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: issuing a certificate for %q: %w", p.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func template(pub crypto.PublicKey, p Profile, now time.Time) (*x509.Certificate, error) {
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	nb := now.UTC().Truncate(time.Second)
	if p.NotBefore.After(nb) || p.IsCA && !p.NotBefore.IsZero() {
		nb = p.NotBefore.UTC().Truncate(time.Second)
	}
	t := &x509.Certificate{
		SerialNumber:          Serial(),
		Subject:               p.Subject,
		NotBefore:             nb,
		NotAfter:              nb.Add(p.Validity),
		KeyUsage:              p.KeyUsage,
		ExtKeyUsage:           p.ExtUsage,
		BasicConstraintsValid: true,
		IsCA:                  p.IsCA,
		SubjectKeyId:          kid,
		DNSNames:              p.DNSNames,
		IPAddresses:           p.IPs,
		URIs:                  p.URIs,
	}
	if p.IsCA {
		t.MaxPathLen, t.MaxPathLenZero = p.PathLen, p.PathLen == 0
	}
	return t, nil
}

// SignatureAlgorithm is the SHA-256 (or, for Ed25519, pure) algorithm for
// a signing key.
func SignatureAlgorithm(k crypto.Signer) x509.SignatureAlgorithm {
	switch k.Public().(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA
	case ed25519.PublicKey:
		return x509.PureEd25519
	default:
		return x509.ECDSAWithSHA256
	}
}

// Serial is a fresh random serial number: 127 bits from crypto/rand, never
// zero (RFC 5280 §4.1.2.2: positive, at most 20 octets).
func Serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// KeyID is a key identifier (RFC 7093 §2 method 1): the leftmost 160
// bits of the SHA-256 of the subjectPublicKey's DER.
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("pki: unsupported public key %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(der)
	return h[:20], nil
}

// Thumbprint is the SHA-256 of a certificate's DER, the way certificates
// are named across edgetrust (feeds, AADs, pins).
func Thumbprint(der []byte) [32]byte { return sha256.Sum256(der) }

// ParseCA pairs a DER certificate with its PKCS#8 key and checks they
// belong together.
func ParseCA(certDER, keyPKCS8 []byte) (*CA, error) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(keyPKCS8)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: the CA key is not a signing key")
	}
	if !SameKey(s.Public(), cert.PublicKey) {
		return nil, errors.New("pki: the CA key does not match its certificate")
	}
	return &CA{Cert: cert, Key: s}, nil
}

// SameKey reports whether two public keys are equal.
func SameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM parses the first certificate in PEM bytes.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("pki: no PEM certificate found")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// MaxPEMCerts bounds ParseCertsPEM: a bundle of roots, not a bomb.
const MaxPEMCerts = 64

// ParseCertsPEM parses every CERTIFICATE block in b, at most MaxPEMCerts,
// skipping other blocks; it fails if there is none.
func ParseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(b) > 0 && len(out) < MaxPEMCerts {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("pki: no PEM CERTIFICATE block")
	}
	return out, nil
}

// ParseKeyPEM parses a PKCS#8 PEM private key.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("pki: no PKCS#8 PEM private key found")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: not a signing key")
	}
	return s, nil
}
