package tpmkey

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Files under the state directory.
const (
	DecryptKeyFile = "tpm/sbi-decrypt.key"       // TPM blob of the decryption key
	SigningKeyFile = "tpm/appliance-signing.key" // TPM blob of the certificate-signing key
	CertFile       = "sbi-encryption.pem"        // the certificate agents encrypt to (--encryption-cert)
	IssuerCertFile = "appliance-issuer.pem"      // self-signed certificate of the signing key
	SimSeedFile    = "tpm-sim-seed"              // simulator seed (development only)
)

// Validity of the certificates made here.
const certValidity = 2 * 365 * 24 * time.Hour

// Keys are the appliance's TPM keys for SBI.
type Keys struct {
	TPM     *tpm.TPM
	Decrypt *tpm.Key
	// Soft is the software decryption key, unsealed from
	// SoftDecryptKeyFile, when the appliance unwraps session keys in
	// software (decision 0017); nil: in the TPM.
	Soft   *rsa.PrivateKey
	Cert   *x509.Certificate // for Decrypter's public key
	Issuer *x509.Certificate // self-signed, for the signing key
}

// DevSimURL returns the URL of the in-process TPM simulator seeded from
// the state directory, so key blobs saved there load again after a
// restart. Insecure: development and tests only.
func DevSimURL(state string) (string, error) {
	p := filepath.Join(state, SimSeedFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		var s [8]byte
		if _, err := rand.Read(s[:]); err != nil {
			return "", err
		}
		b = []byte(strconv.FormatInt(int64(binary.BigEndian.Uint64(s[:])>>1), 10))
		if err := os.MkdirAll(state, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	return "sim?seed=" + string(b), nil
}

// Open opens the TPM at tpmURL and loads (or creates) the decryption key and
// its certificate under state. name goes into the certificates' subjects.
//
// softUnwrap asks for a software decryption key: loaded if the state has
// one, created (sealed by the TPM) if the state has no encryption
// certificate yet. An appliance enrolled with its TPM key keeps it.
func Open(ctx context.Context, tpmURL, state, name string, now time.Time, softUnwrap bool) (*Keys, error) {
	t, err := tpm.Open(ctx, tpmURL)
	if err != nil {
		return nil, err
	}
	k, err := load(ctx, t, state, name, now, softUnwrap)
	if err != nil {
		t.Close()
		return nil, err
	}
	return k, nil
}

func load(ctx context.Context, t *tpm.TPM, state, name string, now time.Time, softUnwrap bool) (*Keys, error) {
	dec, err := t.LoadOrCreateKey(ctx, filepath.Join(state, DecryptKeyFile), tpm.RSA2048Decrypt)
	if err != nil {
		return nil, fmt.Errorf("SBI decryption key: %w", err)
	}
	k := &Keys{TPM: t, Decrypt: dec}
	certPath, issuerPath := filepath.Join(state, CertFile), filepath.Join(state, IssuerCertFile)
	cert, cerr := ReadCert(certPath)
	issuer, ierr := ReadCert(issuerPath)
	softPath := filepath.Join(state, SoftDecryptKeyFile)
	switch soft, err := LoadSoftDecrypt(ctx, t, softPath); {
	case err == nil:
		k.Soft = soft
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case softUnwrap && errors.Is(cerr, os.ErrNotExist):
		if k.Soft, err = CreateSoftDecrypt(ctx, t, softPath); err != nil {
			return nil, err
		}
	}
	pub := k.Decrypter().Public()
	if cerr == nil && ierr == nil {
		if !pki.SameKey(cert.PublicKey, pub) {
			return nil, fmt.Errorf("%s certifies another key than the appliance's decryption key (%s, or %s when present)", certPath, DecryptKeyFile, SoftDecryptKeyFile)
		}
		if err := cert.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("%s is not issued by %s: %w", certPath, issuerPath, err)
		}
		k.Cert, k.Issuer = cert, issuer
		return k, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, cerr
	}
	signer, err := t.LoadOrCreateKey(ctx, filepath.Join(state, SigningKeyFile), tpm.ECCP256Sign)
	if err != nil {
		return nil, fmt.Errorf("certificate-signing key: %w", err)
	}
	if name == "" {
		name = "edgetrust-appliance"
	}
	org := []string{"edgetrust appliance"}
	ica, err := pki.SelfSigned(signer, pki.Profile{Subject: pkix.Name{CommonName: name + " self-issued CA", Organization: org},
		Validity: certValidity + pki.Backdate, KeyUsage: x509.KeyUsageCertSign}, now)
	if err != nil {
		return nil, fmt.Errorf("issuer certificate: %w", err)
	}
	issuer = ica.Cert
	// Backdated like the CA, to tolerate clock skew with the agents.
	cert, err = ica.Issue(pub, pki.Profile{Subject: pkix.Name{CommonName: name + " SBI encryption", Organization: org},
		Validity: certValidity + pki.Backdate, KeyUsage: x509.KeyUsageKeyEncipherment}, now.Add(-pki.Backdate))
	if err != nil {
		return nil, fmt.Errorf("encryption certificate: %w", err)
	}
	if err := writeAtomic(issuerPath, PEM(issuer)); err != nil {
		return nil, err
	}
	if err := writeAtomic(certPath, PEM(cert)); err != nil {
		return nil, err
	}
	k.Cert, k.Issuer = cert, issuer
	return k, nil
}

// DecryptionKey is the key in the form sbi.Verifier takes.
func (k *Keys) DecryptionKey() sbi.DecryptionKey {
	return sbi.DecryptionKey{Cert: k.Cert, Key: k.Decrypter()}
}

// Thumbprint is the SBI thumbprint of the encryption certificate.
func (k *Keys) Thumbprint() string { return sbi.Thumbprint(k.Cert) }

// Close releases the TPM.
func (k *Keys) Close() error { return k.TPM.Close() }

// PEM encodes a certificate.
func PEM(c *x509.Certificate) []byte { return pki.CertPEM(c) }

// ReadCert reads a PEM certificate file.
func ReadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
