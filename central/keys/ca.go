package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
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
type CA = pki.CA

// NewCA makes a self-signed RSA-2048 CA that may only issue leaves.
func NewCA(subject pkix.Name, now time.Time) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pki.SelfSigned(key, pki.Profile{Subject: subject, Validity: CAValidity}, now)
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

// Issue certifies pub (an RSA-2048 TPM key) with a leaf of ca; the leaf
// never outlives the CA.
func Issue(ca *CA, pub crypto.PublicKey, l Leaf, now time.Time) (*x509.Certificate, error) {
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("central: leaf keys are RSA, got %T", pub)
	}
	return ca.Issue(pub, pki.Profile{
		Subject:  pkix.Name{CommonName: l.CommonName, Organization: []string{l.Organization}, OrganizationalUnit: []string{l.Unit}},
		Validity: l.Validity, NotBefore: l.NotBefore, KeyUsage: l.Usage,
	}, now)
}
