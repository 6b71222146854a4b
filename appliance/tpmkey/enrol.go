package tpmkey

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Key blobs used only for enrolment with central.
const (
	AKFile         = "tpm/ak.key"                     // attestation key central binds to the EK
	CentralSignKey = "tpm/appliance-central-sign.key" // RSA signing key central certifies
	CentralCAFile  = "appliance-ca.pem"               // central's appliance CA, for reference
	// SigningCertFile is central's certificate for CentralSignKey: the
	// appliance signs authentication decisions with that key and puts this
	// certificate (and central's appliance CA) in the x5c header.
	SigningCertFile = "appliance-signing.pem"
	// IDFile holds the id the appliance was enrolled as; serve uses it
	// when no --id is given (it names the appliance's records feed).
	IDFile = "appliance-id"
)

// EKFingerprint is the fingerprint central's --ek-allow list takes.
func EKFingerprint(ctx context.Context, tpmURL string) (string, error) {
	t, err := tpm.Open(ctx, tpmURL)
	if err != nil {
		return "", err
	}
	defer t.Close()
	ek, err := t.EndorsementKey(ctx)
	if err != nil {
		return "", err
	}
	return enrol.EKFingerprint(ek.Public())
}

// Enrol proves this appliance's TPM to central with a one-use token and
// stores the certificates central issues: the SBI encryption certificate
// replaces the self-issued one, and central's appliance CA becomes its
// issuer, so agents can be given either.
//
// With softUnwrap it has central certify the state's software decryption
// key (SoftDecryptKeyFile), making one if there is none.
func Enrol(ctx context.Context, tpmURL, state, id, centralURL, token string, softUnwrap bool) (*x509.Certificate, error) {
	t, err := tpm.Open(ctx, tpmURL)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	dec, err := t.LoadOrCreateKey(ctx, filepath.Join(state, DecryptKeyFile), tpm.RSA2048Decrypt)
	if err != nil {
		return nil, err
	}
	sign, err := t.LoadOrCreateKey(ctx, filepath.Join(state, CentralSignKey), tpm.RSA2048Sign)
	if err != nil {
		return nil, err
	}
	ak, err := t.LoadOrCreateKey(ctx, filepath.Join(state, AKFile), tpm.AttestationKey)
	if err != nil {
		return nil, err
	}
	// A software decryption key made for this state (Open with
	// softUnwrap) is the one to certify; the TPM key is proven either way.
	var softPub *rsa.PublicKey
	var want crypto.PublicKey = dec.Public()
	softPath := filepath.Join(state, SoftDecryptKeyFile)
	soft, err := LoadSoftDecrypt(ctx, t, softPath)
	if errors.Is(err, os.ErrNotExist) && softUnwrap {
		soft, err = CreateSoftDecrypt(ctx, t, softPath)
	}
	switch {
	case err == nil:
		softPub, want = &soft.PublicKey, &soft.PublicKey
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	res, err := (&enrol.Prover{TPM: t, AK: ak}).EnrolAppliance(ctx, &enrol.Client{URL: centralURL}, token, id, dec, sign, softPub)
	if err != nil {
		return nil, err
	}
	if res.Appliance == nil {
		return nil, fmt.Errorf("central answered without appliance certificates")
	}
	ca, err := x509.ParseCertificate(res.CACert)
	if err != nil {
		return nil, fmt.Errorf("central's appliance CA: %w", err)
	}
	enc, err := x509.ParseCertificate(res.Appliance.EncryptionCert)
	if err != nil {
		return nil, fmt.Errorf("encryption certificate: %w", err)
	}
	if !pki.SameKey(enc.PublicKey, want) {
		return nil, fmt.Errorf("central certified another key than this appliance's decryption key")
	}
	if err := enc.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("the encryption certificate is not issued by central's appliance CA: %w", err)
	}
	if err := writeAtomic(filepath.Join(state, IssuerCertFile), PEM(ca)); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(state, CentralCAFile), PEM(ca)); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(state, CertFile), PEM(enc)); err != nil {
		return nil, err
	}
	if len(res.Appliance.SigningCert) > 0 {
		sc, err := x509.ParseCertificate(res.Appliance.SigningCert)
		if err != nil {
			return nil, fmt.Errorf("signing certificate: %w", err)
		}
		if !pki.SameKey(sc.PublicKey, sign.Public()) {
			return nil, fmt.Errorf("central certified another key than this TPM's signing key")
		}
		if err := sc.CheckSignatureFrom(ca); err != nil {
			return nil, fmt.Errorf("the signing certificate is not issued by central's appliance CA: %w", err)
		}
		if err := writeAtomic(filepath.Join(state, SigningCertFile), PEM(sc)); err != nil {
			return nil, err
		}
	}
	if err := writeAtomic(filepath.Join(state, IDFile), []byte(id+"\n")); err != nil {
		return nil, err
	}
	return enc, nil
}

// ReadID returns the id saved by Enrol ("" when the appliance was never
// enrolled).
func ReadID(state string) (string, error) {
	b, err := os.ReadFile(filepath.Join(state, IDFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// SelfSigningCertFile is the self-issued certificate of CentralSignKey,
// used to sign decisions until central certifies the key (enrolment).
const SelfSigningCertFile = "appliance-signing-self.pem"

// DecisionSigner is the key the appliance signs authentication decisions
// with and the certificate chain that goes in the x5c header (leaf first).
type DecisionSigner struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
	// SelfIssued is true before enrolment: the chain is a self-signed
	// certificate relying parties can only pin, not verify against
	// central's appliance CA.
	SelfIssued bool
}

// DecisionSigner loads the RSA-2048 TPM signing key central certified at
// enrolment and its certificate chain (the certificate, then central's
// appliance CA). Before enrolment it makes (once) the same key and a
// self-signed certificate for it, and says so with SelfIssued.
func (k *Keys) DecisionSigner(ctx context.Context, state, name string, now time.Time) (*DecisionSigner, error) {
	key, err := k.TPM.LoadOrCreateKey(ctx, filepath.Join(state, CentralSignKey), tpm.RSA2048Sign)
	if err != nil {
		return nil, fmt.Errorf("decision signing key: %w", err)
	}
	cert, err := ReadCert(filepath.Join(state, SigningCertFile))
	switch {
	case err == nil:
		if !pki.SameKey(cert.PublicKey, key.Public()) {
			return nil, fmt.Errorf("%s certifies another key than the TPM key in %s", SigningCertFile, CentralSignKey)
		}
		chain := []*x509.Certificate{cert}
		if ca, err := ReadCert(filepath.Join(state, CentralCAFile)); err == nil && cert.CheckSignatureFrom(ca) == nil {
			chain = append(chain, ca)
		}
		return &DecisionSigner{Key: key, Chain: chain}, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	selfPath := filepath.Join(state, SelfSigningCertFile)
	if c, err := ReadCert(selfPath); err == nil && pki.SameKey(c.PublicKey, key.Public()) {
		return &DecisionSigner{Key: key, Chain: []*x509.Certificate{c}, SelfIssued: true}, nil
	}
	if name == "" {
		name = "edgetrust-appliance"
	}
	c, err := selfIssue(key, pki.Profile{Subject: pkix.Name{CommonName: name + " decision signing (self-issued)", Organization: []string{"edgetrust appliance"}},
		Validity: certValidity + pki.Backdate, KeyUsage: x509.KeyUsageDigitalSignature}, now)
	if err != nil {
		return nil, fmt.Errorf("self-issued decision signing certificate: %w", err)
	}
	if err := writeAtomic(selfPath, PEM(c)); err != nil {
		return nil, err
	}
	return &DecisionSigner{Key: key, Chain: []*x509.Certificate{c}, SelfIssued: true}, nil
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
