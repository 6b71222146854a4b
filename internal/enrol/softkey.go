package enrol

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
)

// RoleApplianceSoftEncrypt names a proof that a software decryption key
// belongs to the appliance whose TPM signing key signs it.
const RoleApplianceSoftEncrypt = "appliance-soft-encryption"

// SoftKeyProof asks central to certify, as the appliance's SBI encryption
// key, an RSA-2048 key that lives in software (its private half sealed at
// rest by the TPM and unsealed into memory; decision 0017) instead of the
// TPM decryption key. A TPM cannot prove such a key is its own, so the
// appliance's TPM signing key — itself proven by a certify — signs it:
// RSASSA-PKCS1-v1_5 SHA-256 over CertifyNonce(nonce,
// RoleApplianceSoftEncrypt, subject) ‖ Public.
type SoftKeyProof struct {
	Public    []byte `json:"public"` // PKIX DER
	Signature []byte `json:"signature"`
}

// MaxSoftPublic bounds SoftKeyProof.Public (an RSA-2048 PKIX key is 294 bytes).
const MaxSoftPublic = 1024

func (p *SoftKeyProof) check(name string) error {
	if err := checkBytes(name+".public", p.Public, 1, MaxSoftPublic); err != nil {
		return err
	}
	return checkBytes(name+".signature", p.Signature, 1, MaxSignature)
}

func softDigest(nonce, subject, public []byte) []byte {
	h := sha256.New()
	h.Write(CertifyNonce(nonce, RoleApplianceSoftEncrypt, subject))
	h.Write(public)
	return h.Sum(nil)
}

// ProveSoftKey signs pub with the TPM signing key for the session.
func ProveSoftKey(signer crypto.Signer, nonce, subject []byte, pub *rsa.PublicKey) (*SoftKeyProof, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, softDigest(nonce, subject, der), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("enrol: signing the software decryption key: %w", err)
	}
	return &SoftKeyProof{Public: der, Signature: sig}, nil
}

// VerifySoftKey checks p against the appliance's proven signing key and
// returns the RSA-2048 key to certify.
func VerifySoftKey(signPub *rsa.PublicKey, nonce, subject []byte, p *SoftKeyProof) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(p.Public)
	if err != nil {
		return nil, fmt.Errorf("%w: software key is not a PKIX public key", ErrKeyUse)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok || rk.N.BitLen() != 2048 {
		return nil, fmt.Errorf("%w: software key: want RSA-2048", ErrKeyUse)
	}
	if err := rsa.VerifyPKCS1v15(signPub, crypto.SHA256, softDigest(nonce, subject, p.Public), p.Signature); err != nil {
		return nil, errors.New("enrol: the software decryption key is not signed by the appliance's signing key")
	}
	return rk, nil
}
