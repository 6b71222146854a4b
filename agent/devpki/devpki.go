package devpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
)

// CA is a development CA. Its Issue makes MOSIP device-key certificates
// from a Leaf; the embedded pki.CA does the signing.
type CA struct{ *pki.CA }

// File names inside the PKI directory.
const (
	ProviderCACert = "provider-ca.pem"
	ProviderCAKey  = "provider-ca.key"
	FTMCACert      = "ftm-ca.pem"
	FTMCAKey       = "ftm-ca.key"
)

// caValidity is how long the development CAs live.
const caValidity = 10 * 365 * 24 * time.Hour

// PKI is the pair of development CAs.
type PKI struct {
	Dir      string
	Provider *CA // issues device-key certificates (MOSIP domain DEVICE)
	FTM      *CA // issues FTM chip certificates (MOSIP domain FTM)
}

// LoadOrCreate loads the development CAs from dir, creating them on first
// use. org names the device provider in the certificates' subject O=.
func LoadOrCreate(dir, org string, now time.Time) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir}
	ca := func(cert, key, cn string) (*CA, error) {
		return loadOrCreate(dir, cert, key, now, func(k crypto.Signer) (*pki.CA, error) {
			return pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
				Validity: caValidity + pki.Backdate}, now)
		})
	}
	var err error
	if p.Provider, err = ca(ProviderCACert, ProviderCAKey, org+" Device Provider CA (dev)"); err != nil {
		return nil, err
	}
	if p.FTM, err = ca(FTMCACert, FTMCAKey, org+" FTM CA (dev)"); err != nil {
		return nil, err
	}
	return p, nil
}

// loadOrCreate reads a certificate and its key from dir, or makes an
// RSA-2048 key, certifies it with mk and writes both.
func loadOrCreate(dir, certName, keyName string, now time.Time, mk func(crypto.Signer) (*pki.CA, error)) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		cert, err := pki.ParseCertPEM(certPEM)
		if err != nil {
			return nil, fmt.Errorf("devpki: %s: %w", certPath, err)
		}
		k, err := pki.ParseKeyPEM(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("devpki: %s: %w", keyPath, err)
		}
		if !pki.SameKey(k.Public(), cert.PublicKey) {
			return nil, fmt.Errorf("devpki: %s does not certify the key in %s", certPath, keyPath)
		}
		return &CA{&pki.CA{Cert: cert, Key: k}}, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, cerr
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ca, err := mk(key)
	if err != nil {
		return nil, err
	}
	kpem, err := pki.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, kpem, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, pki.CertPEM(ca.Cert), 0o644); err != nil {
		return nil, err
	}
	return &CA{ca}, nil
}

// Leaf describes a certificate for a key held elsewhere (in the TPM).
type Leaf struct {
	CommonName   string
	Organization string
	Validity     time.Duration
}

// Issue certifies pub with the MOSIP device-key profile: subject CN and O
// from l, digital signature only, starting now.
func (ca *CA) Issue(pub crypto.PublicKey, l Leaf, now time.Time) (*x509.Certificate, error) {
	if l.Validity <= 0 {
		return nil, errors.New("devpki: leaf validity must be positive")
	}
	c, err := ca.CA.Issue(pub, pki.Profile{
		Subject:  pkix.Name{CommonName: l.CommonName, Organization: []string{l.Organization}},
		Validity: l.Validity,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}, now)
	if err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	return c, nil
}

// CertPEM encodes a certificate as PEM.
//
// Deprecated: use pki.CertPEM.
func CertPEM(c *x509.Certificate) []byte { return pki.CertPEM(c) }

// ParseCertPEM parses the first certificate in PEM bytes.
//
// Deprecated: use pki.ParseCertPEM.
func ParseCertPEM(b []byte) (*x509.Certificate, error) { return pki.ParseCertPEM(b) }

// File names of the development encryption key pair: a stand-in for the
// auth server's (IDA-FIR) certificate that auth captures are encrypted to.
const (
	EncryptionCert = "dev-encryption.pem"
	EncryptionKey  = "dev-encryption.key"
)

// LoadOrCreateEncryption returns the development encryption certificate and
// its private key, creating them on first use. Used by --dev when no
// --encryption-cert is given, so auth captures work out of the box and the
// demo can decrypt them. The certificate is self-signed and not a CA: it
// certifies a key for key encipherment only.
func LoadOrCreateEncryption(dir string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return loadOrCreate(dir, EncryptionCert, EncryptionKey, now, func(k crypto.Signer) (*pki.CA, error) {
		p := pki.Profile{Subject: pkix.Name{CommonName: "edgetrust development auth partner (IDA-FIR stand-in)", Organization: []string{"edgetrust dev"}},
			Validity: caValidity + pki.Backdate, KeyUsage: x509.KeyUsageKeyEncipherment}
		c, err := selfIssue(k, p, now)
		if err != nil {
			return nil, err
		}
		return &pki.CA{Cert: c, Key: k}, nil
	})
}

// selfIssue makes a self-signed certificate that is not a CA (pki.SelfSigned
// makes CAs only): key issues its own certificate, backdated like a CA.
func selfIssue(key crypto.Signer, p pki.Profile, now time.Time) (*x509.Certificate, error) {
	kid, err := pki.KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	self := &pki.CA{Cert: &x509.Certificate{Subject: p.Subject, SubjectKeyId: kid, NotAfter: now.Add(p.Validity)}, Key: key}
	return self.Issue(key.Public(), p, now.Add(-pki.Backdate))
}
