package enrol

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

// EKPolicy says which endorsement keys a verifier trusts: those certified by
// a TPM manufacturer CA in Roots (with Intermediates), and those whose
// fingerprint (EKFingerprint) is in Allow — for swtpm and simulators, which
// have no manufacturer certificate.
type EKPolicy struct {
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	Allow         map[string]bool
}

// Errors from EK checks; wrapped with the detail.
var (
	ErrEKMalformed = errors.New("EK public area is not an endorsement key")
	ErrEKUntrusted = errors.New("EK is not trusted")
)

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// Check decides whether the EK whose TPMT_PUBLIC is ekPublic (and whose
// certificate, if any, is ekCert DER) is trusted at now. It returns the EK
// fingerprint and how it was trusted ("allow-list" or "certificate").
func (p EKPolicy) Check(ekPublic, ekCert []byte, now time.Time) (fingerprint, how string, err error) {
	pt, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrEKMalformed, err)
	}
	a := pt.ObjectAttributes
	// The TCG EK templates: a restricted decryption (storage) key, fixed to
	// its TPM, generated inside it, administered only by policy.
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.AdminWithPolicy {
		return "", "", fmt.Errorf("%w: attributes are not those of a TCG EK template", ErrEKMalformed)
	}
	pub, err := tpm2.Pub(*pt)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrEKMalformed, err)
	}
	fp, err := EKFingerprint(pub)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrEKMalformed, err)
	}
	if p.Allow[fp] {
		return fp, "allow-list", nil
	}
	if len(ekCert) == 0 {
		return fp, "", fmt.Errorf("%w: no EK certificate was sent and fingerprint %s is not on the allow-list", ErrEKUntrusted, fp)
	}
	c, err := x509.ParseCertificate(ekCert)
	if err != nil {
		return fp, "", fmt.Errorf("%w: EK certificate does not parse: %v", ErrEKUntrusted, err)
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(c.PublicKey) {
		return fp, "", fmt.Errorf("%w: the EK certificate certifies a different key than the EK sent", ErrEKUntrusted)
	}
	if p.Roots == nil {
		return fp, "", fmt.Errorf("%w: no TPM manufacturer CAs are configured and fingerprint %s is not on the allow-list", ErrEKUntrusted, fp)
	}
	// TCG EK certificates carry a critical subjectAltName holding only a
	// directoryName (TPM manufacturer, model, version), which crypto/x509
	// reports as unhandled. That name is informational: accept it.
	cc := *c
	cc.UnhandledCriticalExtensions = nil
	for _, o := range c.UnhandledCriticalExtensions {
		if !o.Equal(oidSAN) {
			cc.UnhandledCriticalExtensions = append(cc.UnhandledCriticalExtensions, o)
		}
	}
	if _, err := cc.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: p.Intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fp, "", fmt.Errorf("%w: EK certificate does not chain to a trusted TPM manufacturer CA: %v", ErrEKUntrusted, err)
	}
	return fp, "certificate", nil
}

// KeyUse is what a certified key must be.
type KeyUse int

// Key uses.
const (
	UseSign    KeyUse = iota + 1 // an unrestricted RSA-2048 signing key (RS256)
	UseDecrypt                   // an unrestricted RSA-2048 decryption key (RSA-OAEP)
)

// ErrKeyUse means a certified key is of the wrong type for its role.
var ErrKeyUse = errors.New("certified key is not of the required type")

// VerifyKeyProof checks a certify proof made by the AK akPub for nonce and
// that the key is an RSA-2048 TPM key for use. It returns the key.
func VerifyKeyProof(akPub crypto.PublicKey, p KeyProof, nonce []byte, use KeyUse) (*rsa.PublicKey, error) {
	pub, err := tpm.VerifyCertify(akPub, &p.Certify, p.PublicArea, nonce)
	if err != nil {
		return nil, err
	}
	pt, err := tpm2.Unmarshal[tpm2.TPMTPublic](p.PublicArea)
	if err != nil {
		return nil, err
	}
	a := pt.ObjectAttributes
	rk, ok := pub.(*rsa.PublicKey)
	if !ok || rk.N.BitLen() != 2048 {
		return nil, fmt.Errorf("%w: want RSA-2048", ErrKeyUse)
	}
	if a.Restricted {
		return nil, fmt.Errorf("%w: a restricted key cannot sign or decrypt outside data", ErrKeyUse)
	}
	switch use {
	case UseSign:
		if !a.SignEncrypt || a.Decrypt {
			return nil, fmt.Errorf("%w: want a signing-only key", ErrKeyUse)
		}
	case UseDecrypt:
		if !a.Decrypt || a.SignEncrypt {
			return nil, fmt.Errorf("%w: want a decryption-only key", ErrKeyUse)
		}
	default:
		return nil, ErrKeyUse
	}
	return rk, nil
}
