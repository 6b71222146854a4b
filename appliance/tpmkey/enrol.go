package tpmkey

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"

	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Key blobs used only for enrolment with central.
const (
	AKFile         = "tpm/ak.key"                     // attestation key central binds to the EK
	CentralSignKey = "tpm/appliance-central-sign.key" // RSA signing key central certifies
	CentralCAFile  = "appliance-ca.pem"               // central's appliance CA, for reference
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
func Enrol(ctx context.Context, tpmURL, state, id, centralURL, token string) (*x509.Certificate, error) {
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
	res, err := (&enrol.Prover{TPM: t, AK: ak}).EnrolAppliance(ctx, &enrol.Client{URL: centralURL}, token, id, dec, sign)
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
	if !samePublic(enc.PublicKey, dec.Public()) {
		return nil, fmt.Errorf("central certified another key than this TPM's decryption key")
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
	return enc, nil
}
