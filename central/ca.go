package central

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// CA validity and leaf lifetimes.
const (
	CAValidity        = 10 * 365 * 24 * time.Hour
	DeviceValidity    = 30 * 24 * time.Hour // MOSIP's device-key rotation period
	FTMValidity       = 5 * 365 * 24 * time.Hour
	ApplianceValidity = 365 * 24 * time.Hour
)

// CA is a certificate authority central holds: a vendor's provider CA or
// the appliance CA. Provider CAs are RSA-2048 with SHA-256 (see decision
// 0008: the widest compatibility with MOSIP's Java key manager and IDA).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed RSA-2048 CA that may only issue leaves.
func NewCA(subject pkix.Name, now time.Time) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

func parseCA(certDER, keyPKCS8 []byte) (*CA, error) {
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
		return nil, errors.New("CA key is not a signing key")
	}
	if eq, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(cert.PublicKey) {
		return nil, errors.New("CA key does not match its certificate")
	}
	return &CA{Cert: cert, Key: s}, nil
}

// Leaf describes a certificate for a TPM key.
type Leaf struct {
	CommonName   string // serial or appliance id
	Organization string // vendor name
	Unit         string // Device, FTM, Encryption, Signing
	Validity     time.Duration
	Usage        x509.KeyUsage
	// NotBefore is the earliest start (rotation: not before the old
	// certificate's start); zero means now.
	NotBefore time.Time
}

// Issue certifies pub (an RSA-2048 key) with an X.509 v3 leaf certificate
// signed with SHA-256. The leaf never outlives the CA.
func (ca *CA) Issue(pub crypto.PublicKey, l Leaf, now time.Time) (*x509.Certificate, error) {
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("central: leaf keys are RSA, got %T", pub)
	}
	nb := now.UTC().Truncate(time.Second)
	if l.NotBefore.After(nb) {
		nb = l.NotBefore.UTC()
	}
	na := nb.Add(l.Validity)
	if na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject: pkix.Name{CommonName: l.CommonName, Organization: []string{l.Organization},
			OrganizationalUnit: []string{l.Unit}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              l.Usage,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(pub),
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		SignatureAlgorithm:    signatureAlgorithm(ca.Key),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("central: issuing certificate for %s: %w", l.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func signatureAlgorithm(k crypto.Signer) x509.SignatureAlgorithm {
	if _, ok := k.Public().(*rsa.PublicKey); ok {
		return x509.SHA256WithRSA
	}
	return x509.ECDSAWithSHA256
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
