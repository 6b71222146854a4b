package devpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority with its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// File names inside the PKI directory.
const (
	ProviderCACert = "provider-ca.pem"
	ProviderCAKey  = "provider-ca.key"
	FTMCACert      = "ftm-ca.pem"
	FTMCAKey       = "ftm-ca.key"
)

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
	var err error
	if p.Provider, err = loadOrCreateCA(dir, ProviderCACert, ProviderCAKey, pkix.Name{CommonName: org + " Device Provider CA (dev)", Organization: []string{org}}, now, true); err != nil {
		return nil, err
	}
	if p.FTM, err = loadOrCreateCA(dir, FTMCACert, FTMCAKey, pkix.Name{CommonName: org + " FTM CA (dev)", Organization: []string{org}}, now, true); err != nil {
		return nil, err
	}
	return p, nil
}

func loadOrCreateCA(dir, certName, keyName string, subject pkix.Name, now time.Time, isCA bool) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		cert, err := ParseCertPEM(certPEM)
		if err != nil {
			return nil, fmt.Errorf("devpki: %s: %w", certPath, err)
		}
		blk, _ := pem.Decode(keyPEM)
		if blk == nil {
			return nil, fmt.Errorf("devpki: %s holds no PEM key", keyPath)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("devpki: %s: %w", keyPath, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("devpki: %s is not a signing key", keyPath)
		}
		return &CA{Cert: cert, Key: s}, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, cerr
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		MaxPathLenZero:        isCA,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	if !isCA {
		tmpl.KeyUsage = x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, CertPEM(cert), 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Leaf describes a certificate for a key held elsewhere (in the TPM).
type Leaf struct {
	CommonName   string
	Organization string
	Validity     time.Duration
}

// Issue certifies pub. The certificate's notBefore is never earlier than
// notBefore (key rotation requires a new certificate to start no earlier
// than the old one).
func (ca *CA) Issue(pub crypto.PublicKey, l Leaf, now time.Time) (*x509.Certificate, error) {
	if l.Validity <= 0 {
		return nil, errors.New("devpki: leaf validity must be positive")
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: l.CommonName, Organization: []string{l.Organization}},
		NotBefore:             now.Truncate(time.Second),
		NotAfter:              now.Add(l.Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(pub),
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("devpki: issuing certificate for %s: %w", l.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(der)
	return h[:20]
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ParseCertPEM parses the first certificate in PEM bytes.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate found")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// File names of the development encryption key pair: a stand-in for the
// auth server's (IDA-FIR) certificate that auth captures are encrypted to.
const (
	EncryptionCert = "dev-encryption.pem"
	EncryptionKey  = "dev-encryption.key"
)

// LoadOrCreateEncryption returns the development encryption certificate and
// its private key, creating them on first use. Used by --dev when no
// --encryption-cert is given, so auth captures work out of the box and the
// demo can decrypt them.
func LoadOrCreateEncryption(dir string, now time.Time) (*CA, error) {
	return loadOrCreateCA(dir, EncryptionCert, EncryptionKey,
		pkix.Name{CommonName: "edgetrust development auth partner (IDA-FIR stand-in)", Organization: []string{"edgetrust dev"}}, now, false)
}
