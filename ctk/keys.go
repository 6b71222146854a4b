package ctk

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
	"github.com/edgetrust/edgetrust/sbi"
)

// Key file names inside the key directory.
const (
	EncryptionKeyFile  = "encryption-key.pem"
	EncryptionCertFile = "encryption-cert.pem"
)

// EncryptionKey is the ctk's own key pair. A device under test encrypts auth
// bioValues to its certificate (edgetrust-ctk cert prints it), in place of
// MOSIP's IDA partner certificate, so the ctk can decrypt and check every
// bioValue.
type EncryptionKey struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// DecryptionKey is the key as the sbi verifier takes it.
func (k *EncryptionKey) DecryptionKey() sbi.DecryptionKey {
	return sbi.DecryptionKey{Cert: k.Cert, Key: k.Key}
}

// CertPEM is the certificate in PEM form.
func (k *EncryptionKey) CertPEM() []byte { return pki.CertPEM(k.Cert) }

// DefaultKeyDir is where the key pair lives unless told otherwise:
// $EDGETRUST_CTK_HOME, else <user config dir>/edgetrust-ctk.
func DefaultKeyDir() (string, error) {
	if d := os.Getenv("EDGETRUST_CTK_HOME"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no key directory: set EDGETRUST_CTK_HOME or pass --key-dir (%w)", err)
	}
	return filepath.Join(base, "edgetrust-ctk"), nil
}

// LoadOrCreateKey reads the key pair from dir, creating an RSA-2048 key and
// a self-signed certificate (valid two years) the first time. The key file
// is written with mode 0600.
func LoadOrCreateKey(dir string, now time.Time) (*EncryptionKey, error) {
	keyPath, certPath := filepath.Join(dir, EncryptionKeyFile), filepath.Join(dir, EncryptionCertFile)
	k, err := loadKey(keyPath, certPath)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	cert, err := selfIssue(priv, pki.Profile{
		Subject:  pkix.Name{Organization: []string{"edgetrust-ctk"}, CommonName: "edgetrust-ctk bioValue encryption (" + host + ")"},
		Validity: 2*365*24*time.Hour + pki.Backdate,
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}, now)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.KeyPEM(priv)
	if err != nil {
		return nil, err
	}
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(certPath, pki.CertPEM(cert), 0o644); err != nil {
		return nil, err
	}
	return loadKey(keyPath, certPath)
}

// selfIssue makes a self-signed certificate that is not a CA (pki.SelfSigned
// makes CAs only): key issues its own certificate, backdated an hour for
// devices whose clocks run behind.
func selfIssue(key crypto.Signer, p pki.Profile, now time.Time) (*x509.Certificate, error) {
	kid, err := pki.KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	self := &pki.CA{Cert: &x509.Certificate{Subject: p.Subject, SubjectKeyId: kid, NotAfter: now.Add(p.Validity)}, Key: key}
	return self.Issue(key.Public(), p, now.Add(-pki.Backdate))
}

// writeNew writes a file atomically, refusing to replace an existing one
// (two ctk processes creating keys at once keep the first).
func writeNew(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(tmp)
}

func loadKey(keyPath, certPath string) (*EncryptionKey, error) {
	kb, err := readSmall(keyPath)
	if err != nil {
		return nil, err
	}
	cb, err := readSmall(certPath)
	if err != nil {
		return nil, err
	}
	anyKey, err := pki.ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	priv, ok := anyKey.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", keyPath)
	}
	cert, err := ParseCertPEM(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !priv.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not certify the key in %s", certPath, keyPath)
	}
	return &EncryptionKey{Cert: cert, Key: priv}, nil
}

func readSmall(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	return os.ReadFile(path)
}

// ParseCertPEM parses the first certificate of a PEM file.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	certs, err := ParseCertsPEM(b)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseCertsPEM parses every CERTIFICATE block (at most pki.MaxPEMCerts).
func ParseCertsPEM(b []byte) ([]*x509.Certificate, error) { return pki.ParseCertsPEM(b) }

// LoadPool reads a PEM file of CA certificates into a pool.
func LoadPool(path string) (*x509.CertPool, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertsPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}
