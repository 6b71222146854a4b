package tpm

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

var _ crypto.Signer = (*Key)(nil)
var _ crypto.Decrypter = (*Key)(nil)

// hashAlg maps a Go hash to the TPM's. SHA-1 and MD5 are refused on purpose.
func hashAlg(h crypto.Hash) (tpm2.TPMIAlgHash, error) {
	switch h {
	case crypto.SHA256:
		return tpm2.TPMAlgSHA256, nil
	case crypto.SHA384:
		return tpm2.TPMAlgSHA384, nil
	case crypto.SHA512:
		return tpm2.TPMAlgSHA512, nil
	}
	return 0, fmt.Errorf("tpm: hash %v is not supported; use SHA-256, SHA-384 or SHA-512", h)
}

// Sign implements crypto.Signer. rand is ignored: the TPM makes its own
// randomness. ECDSA signatures are ASN.1 DER, as crypto/ecdsa produces.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext is Sign bounded by ctx.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("tpm: Sign needs SignerOpts naming the hash")
	}
	h, err := hashAlg(opts.HashFunc())
	if err != nil {
		return nil, err
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("tpm: digest is %d bytes, %v needs %d", len(digest), opts.HashFunc(), opts.HashFunc().Size())
	}
	var scheme tpm2.TPMTSigScheme
	switch k.kind {
	case ECCP256Sign:
		scheme = tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: h})}
	case RSA2048Sign:
		alg := tpm2.TPMAlgRSASSA
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			// The TPM uses the largest salt its spec revision allows or the
			// hash length; both verify with rsa.PSSSaltLengthAuto.
			if pss.SaltLength != rsa.PSSSaltLengthAuto && pss.SaltLength != rsa.PSSSaltLengthEqualsHash {
				return nil, errors.New("tpm: RSA-PSS with a fixed salt length is not supported; use PSSSaltLengthEqualsHash")
			}
			alg = tpm2.TPMAlgRSAPSS
		}
		scheme = tpm2.TPMTSigScheme{Scheme: alg,
			Details: tpm2.NewTPMUSigScheme(alg, &tpm2.TPMSSchemeHash{HashAlg: h})}
	default:
		return nil, fmt.Errorf("tpm: a %s key cannot sign outside data", k.kind)
	}
	var sig tpm2.TPMTSignature
	err = k.t.do(ctx, func(tp transport.TPM) error {
		kh, unload, err := k.loadLocked(tp)
		if err != nil {
			return err
		}
		defer unload()
		rsp, err := tpm2.Sign{
			KeyHandle:  kh,
			Digest:     tpm2.TPM2BDigest{Buffer: digest},
			InScheme:   scheme,
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(tp)
		if err != nil {
			return err
		}
		sig = rsp.Signature
		return nil
	})
	if err != nil {
		return nil, wrap("signing with "+k.kind.String()+" key", err)
	}
	return encodeSignature(sig)
}

// encodeSignature turns a TPMT_SIGNATURE into the bytes Go verifiers take.
func encodeSignature(sig tpm2.TPMTSignature) ([]byte, error) {
	switch sig.SigAlg {
	case tpm2.TPMAlgECDSA:
		e, err := sig.Signature.ECDSA()
		if err != nil {
			return nil, err
		}
		r := new(big.Int).SetBytes(e.SignatureR.Buffer)
		s := new(big.Int).SetBytes(e.SignatureS.Buffer)
		return asn1.Marshal(struct{ R, S *big.Int }{r, s})
	case tpm2.TPMAlgRSASSA:
		r, err := sig.Signature.RSASSA()
		if err != nil {
			return nil, err
		}
		return r.Sig.Buffer, nil
	case tpm2.TPMAlgRSAPSS:
		r, err := sig.Signature.RSAPSS()
		if err != nil {
			return nil, err
		}
		return r.Sig.Buffer, nil
	}
	return nil, fmt.Errorf("tpm: unexpected signature algorithm 0x%x", uint16(sig.SigAlg))
}

// ErrDecrypt is returned when the TPM refuses a ciphertext: it was made for
// another key, or it is corrupt. The TPM does not say which, on purpose.
var ErrDecrypt = errors.New("tpm: decryption failed: ciphertext is not for this key or is corrupt")

// Decrypt implements crypto.Decrypter for RSA-OAEP with SHA-256 (MGF1-SHA-256)
// and an empty label. opts must be *rsa.OAEPOptions; PKCS#1 v1.5 decryption
// is refused (it invites padding-oracle attacks).
func (k *Key) Decrypt(_ io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return k.DecryptContext(context.Background(), ciphertext, opts)
}

// DecryptContext is Decrypt bounded by ctx.
func (k *Key) DecryptContext(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if k.kind != RSA2048Decrypt {
		return nil, fmt.Errorf("tpm: a %s key cannot decrypt", k.kind)
	}
	o, ok := opts.(*rsa.OAEPOptions)
	if !ok || o.Hash != crypto.SHA256 || (o.MGFHash != 0 && o.MGFHash != crypto.SHA256) {
		return nil, errors.New("tpm: only RSA-OAEP with SHA-256 is supported; pass &rsa.OAEPOptions{Hash: crypto.SHA256}")
	}
	if len(o.Label) != 0 {
		return nil, errors.New("tpm: OAEP labels are not supported; use an empty label")
	}
	if len(ciphertext) != 256 {
		return nil, fmt.Errorf("%w (%d bytes; RSA-2048 ciphertexts are 256)", ErrDecrypt, len(ciphertext))
	}
	var out []byte
	err := k.t.do(ctx, func(tp transport.TPM) error {
		kh, unload, err := k.loadLocked(tp)
		if err != nil {
			return err
		}
		defer unload()
		rsp, err := tpm2.RSADecrypt{
			KeyHandle:  kh,
			CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: ciphertext},
			InScheme: tpm2.TPMTRSADecrypt{Scheme: tpm2.TPMAlgOAEP,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: tpm2.TPMAlgSHA256})},
		}.Execute(tp)
		var rc tpm2.TPMRC
		if errors.As(err, &rc) && !rc.IsWarning() {
			return ErrDecrypt
		}
		if err != nil {
			return err
		}
		out = rsp.Message.Buffer
		return nil
	})
	if errors.Is(err, ErrDecrypt) {
		return nil, ErrDecrypt
	}
	if err != nil {
		return nil, wrap("decrypting", err)
	}
	return out, nil
}
