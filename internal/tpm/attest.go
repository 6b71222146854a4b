package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// EK is the TPM's endorsement key: the RSA-2048 key of the TCG default
// template, derived from the endorsement seed the manufacturer installed.
// It decrypts only credentials made for it (see MakeCredential).
type EK struct {
	pub tpm2.TPMTPublic
	// Certificate is the manufacturer's EK certificate read from NV index
	// 0x01C00002, or nil when the TPM has none (the simulator, a swtpm set
	// up without --create-ek-cert).
	Certificate *x509.Certificate
}

// PublicArea is the EK's TPMT_PUBLIC, marshalled, for MakeCredential.
func (e *EK) PublicArea() []byte { return tpm2.Marshal(e.pub) }

// Public is the EK's RSA public key.
func (e *EK) Public() crypto.PublicKey {
	p, _ := tpm2.Pub(e.pub)
	return p
}

const ekCertIndex = 0x01c00002 // TCG EK Credential Profile: RSA-2048 EK certificate

// EndorsementKey creates (re-derives) the EK and reads its certificate if the
// TPM holds one.
func (t *TPM) EndorsementKey(ctx context.Context) (*EK, error) {
	var ek *EK
	err := t.do(ctx, func(tp transport.TPM) error {
		rsp, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.TPMRHEndorsement,
			InPublic:      tpm2.New2B(tpm2.RSAEKTemplate),
		}.Execute(tp)
		if err != nil {
			return err
		}
		pub, err := rsp.OutPublic.Contents()
		if err != nil {
			return err
		}
		ek = &EK{pub: *pub}
		_, err = tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tp)
		return err
	})
	if err != nil {
		return nil, wrap("creating endorsement key", err)
	}
	if der, err := t.readNV(ctx, ekCertIndex); err == nil {
		// Some TPMs pad the NV area; ParseCertificate wants the exact DER.
		if c, err := x509.ParseCertificate(trimDER(der)); err == nil {
			ek.Certificate = c
		}
	}
	return ek, nil
}

// trimDER cuts trailing padding after a DER SEQUENCE.
func trimDER(b []byte) []byte {
	if len(b) < 4 || b[0] != 0x30 {
		return b
	}
	switch {
	case b[1] < 0x80:
		if n := 2 + int(b[1]); n <= len(b) {
			return b[:n]
		}
	case b[1] == 0x82:
		if n := 4 + int(b[2])<<8 | int(b[3]); n <= len(b) {
			return b[:n]
		}
	}
	return b
}

// readNV reads a whole NV index with owner authorisation.
func (t *TPM) readNV(ctx context.Context, index uint32) ([]byte, error) {
	var out []byte
	err := t.do(ctx, func(tp transport.TPM) error {
		rp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tp)
		if err != nil {
			return err
		}
		pub, err := rp.NVPublic.Contents()
		if err != nil {
			return err
		}
		size := int(pub.DataSize)
		for off := 0; off < size; {
			n := min(size-off, 512)
			rsp, err := tpm2.NVRead{
				AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: rp.NVName},
				Size:       uint16(n), Offset: uint16(off),
			}.Execute(tp)
			if err != nil {
				return err
			}
			out = append(out, rsp.Data.Buffer...)
			off += n
		}
		return nil
	})
	return out, err
}

// CreateAK makes an attestation key: restricted, RSA-2048, RSASSA-SHA256.
func (t *TPM) CreateAK(ctx context.Context) (*Key, error) {
	return t.CreateKey(ctx, AttestationKey)
}

// Attestation is a TPM-signed statement (a quote or a certify proof): the
// marshalled TPMS_ATTEST and the AK's RSASSA-SHA256 signature over it.
type Attestation struct {
	Attest    []byte `json:"attest"`
	Signature []byte `json:"signature"`
}

// Quote is an attestation over PCR values, with the values it covers.
type Quote struct {
	Attestation
	PCRs map[int][]byte `json:"pcrs"`
}

// MaxNonce is the largest qualifying data a TPM accepts in a quote or certify.
const MaxNonce = 64

// Quote signs the current values of the given PCRs together with nonce,
// using the attestation key ak.
func (t *TPM) Quote(ctx context.Context, ak *Key, pcrs []int, nonce []byte) (*Quote, error) {
	if ak.kind != AttestationKey {
		return nil, fmt.Errorf("tpm: quotes need an attestation key, not a %s key", ak.kind)
	}
	if len(nonce) == 0 || len(nonce) > MaxNonce {
		return nil, fmt.Errorf("tpm: a quote nonce must be 1–%d bytes", MaxNonce)
	}
	sel, err := pcrSelection(pcrs)
	if err != nil {
		return nil, err
	}
	q := &Quote{}
	err = t.do(ctx, func(tp transport.TPM) error {
		akh, unload, err := ak.loadLocked(tp)
		if err != nil {
			return err
		}
		defer unload()
		rsp, err := tpm2.Quote{
			SignHandle:     akh,
			QualifyingData: tpm2.TPM2BData{Buffer: nonce},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel,
		}.Execute(tp)
		if err != nil {
			return err
		}
		q.Attest = rsp.Quoted.Bytes()
		if q.Signature, err = encodeSignature(rsp.Signature); err != nil {
			return err
		}
		// Read under the same lock so no extend slips in between.
		q.PCRs, err = readPCRs(tp, pcrs)
		return err
	})
	if err != nil {
		return nil, wrap("quoting PCRs", err)
	}
	return q, nil
}

// Errors from the verification functions.
var (
	ErrBadSignature   = errors.New("tpm: attestation signature does not verify with the attestation key")
	ErrNonceMismatch  = errors.New("tpm: attestation nonce does not match the one sent")
	ErrPCRMismatch    = errors.New("tpm: quoted PCR digest does not match the PCR values given")
	ErrWrongAttest    = errors.New("tpm: attestation is of the wrong type or malformed")
	ErrNameMismatch   = errors.New("tpm: certified object's Name does not match the public area given")
	ErrNotTPMResident = errors.New("tpm: certified key is not fixedTPM|fixedParent|sensitiveDataOrigin")
)

func verifyAttestation(akPub crypto.PublicKey, a *Attestation, nonce []byte, want tpm2.TPMST) (*tpm2.TPMSAttest, error) {
	rk, ok := akPub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("tpm: attestation keys are RSA; got %T", akPub)
	}
	d := sha256.Sum256(a.Attest)
	if err := rsa.VerifyPKCS1v15(rk, crypto.SHA256, d[:], a.Signature); err != nil {
		return nil, ErrBadSignature
	}
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](a.Attest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongAttest, err)
	}
	if att.Magic != tpm2.TPMGeneratedValue || tpm2.TPMST(att.Type) != want {
		return nil, ErrWrongAttest
	}
	if subtle.ConstantTimeCompare(att.ExtraData.Buffer, nonce) != 1 {
		return nil, ErrNonceMismatch
	}
	return att, nil
}

// VerifyQuote checks a quote made by Quote: the signature under the AK's
// public key, the nonce, and that q.PCRs hash to the quoted digest. It does
// not say whether those PCR values are good: that is the caller's policy.
func VerifyQuote(akPub crypto.PublicKey, q *Quote, nonce []byte) error {
	att, err := verifyAttestation(akPub, &q.Attestation, nonce, tpm2.TPMSTAttestQuote)
	if err != nil {
		return err
	}
	info, err := att.Attested.Quote()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWrongAttest, err)
	}
	var quoted []int
	for _, s := range info.PCRSelect.PCRSelections {
		if s.Hash != tpm2.TPMAlgSHA256 {
			return fmt.Errorf("%w: quote covers a non-SHA-256 bank", ErrPCRMismatch)
		}
		for i, b := range s.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) != 0 {
					quoted = append(quoted, i*8+bit)
				}
			}
		}
	}
	if len(quoted) != len(q.PCRs) {
		return fmt.Errorf("%w: quote covers PCRs %v, %d values given", ErrPCRMismatch, quoted, len(q.PCRs))
	}
	d, err := pcrDigest(quoted, q.PCRs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPCRMismatch, err)
	}
	if !bytes.Equal(d, info.PCRDigest.Buffer) {
		return ErrPCRMismatch
	}
	return nil
}

// Certify has the AK sign a statement that key is loaded in this TPM, binding
// nonce. A verifier that trusts the AK then knows the key's private half
// lives in the same TPM.
func (t *TPM) Certify(ctx context.Context, key, ak *Key, nonce []byte) (*Attestation, error) {
	if ak.kind != AttestationKey {
		return nil, fmt.Errorf("tpm: certify needs an attestation key, not a %s key", ak.kind)
	}
	if len(nonce) > MaxNonce {
		return nil, fmt.Errorf("tpm: a certify nonce must be at most %d bytes", MaxNonce)
	}
	a := &Attestation{}
	err := t.do(ctx, func(tp transport.TPM) error {
		kh, akh, done, err := loadPairLocked(tp, key, ak)
		if err != nil {
			return err
		}
		defer done()
		rsp, err := tpm2.Certify{
			ObjectHandle:   kh,
			SignHandle:     akh,
			QualifyingData: tpm2.TPM2BData{Buffer: nonce},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		}.Execute(tp)
		if err != nil {
			return err
		}
		a.Attest = rsp.CertifyInfo.Bytes()
		a.Signature, err = encodeSignature(rsp.Signature)
		return err
	})
	if err != nil {
		return nil, wrap("certifying key", err)
	}
	return a, nil
}

// VerifyCertify checks a Certify proof for the key whose marshalled
// TPMT_PUBLIC is publicArea: AK signature, nonce, that the certified Name is
// that public area's Name, and that the key was generated in and cannot leave
// the TPM. It returns the certified public key.
func VerifyCertify(akPub crypto.PublicKey, a *Attestation, publicArea, nonce []byte) (crypto.PublicKey, error) {
	att, err := verifyAttestation(akPub, a, nonce, tpm2.TPMSTAttestCertify)
	if err != nil {
		return nil, err
	}
	info, err := att.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongAttest, err)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](publicArea)
	if err != nil {
		return nil, fmt.Errorf("tpm: certified public area is malformed: %w", err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("tpm: computing Name: %w", err)
	}
	if !bytes.Equal(name.Buffer, info.Name.Buffer) {
		return nil, ErrNameMismatch
	}
	a2 := pub.ObjectAttributes
	if !a2.FixedTPM || !a2.FixedParent || !a2.SensitiveDataOrigin {
		return nil, ErrNotTPMResident
	}
	return tpm2.Pub(*pub)
}

// AKName returns the TPM Name of an AK from its marshalled public area, after
// checking that it is a restricted signing key fixed to its TPM.
func AKName(publicArea []byte) ([]byte, crypto.PublicKey, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](publicArea)
	if err != nil {
		return nil, nil, fmt.Errorf("tpm: AK public area is malformed: %w", err)
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.SignEncrypt || a.Decrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return nil, nil, errors.New("tpm: not an attestation key: want a restricted signing key fixed to its TPM")
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, nil, err
	}
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, nil, err
	}
	return name.Buffer, k, nil
}

// MakeCredential is the verifier's half of credential activation, done in
// software: it encrypts secret so that only the TPM holding the EK whose
// public area is ekPublicArea can recover it, and only by naming the object
// akName loaded in that same TPM.
func MakeCredential(ekPublicArea, akName, secret []byte) (credBlob, encSecret []byte, err error) {
	if len(secret) == 0 || len(secret) > 64 {
		return nil, nil, errors.New("tpm: a credential secret must be 1–64 bytes")
	}
	ek, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublicArea)
	if err != nil {
		return nil, nil, fmt.Errorf("tpm: EK public area is malformed: %w", err)
	}
	key, err := tpm2.ImportEncapsulationKey(ek)
	if err != nil {
		return nil, nil, fmt.Errorf("tpm: EK cannot receive credentials: %w", err)
	}
	return tpm2.CreateCredential(rand.Reader, key, akName, secret)
}

// ActivateCredential recovers a secret made by MakeCredential for this TPM's
// EK and the attestation key ak. It fails if either is not the one the
// verifier named.
func (t *TPM) ActivateCredential(ctx context.Context, ak *Key, credBlob, encSecret []byte) ([]byte, error) {
	var out []byte
	err := t.do(ctx, func(tp transport.TPM) error {
		// AK, EK and SRK need every object slot a small TPM has.
		t.c.evictLocked(tp)
		akh, err := ak.loadTempLocked(tp)
		if err != nil {
			return err
		}
		defer tpm2.FlushContext{FlushHandle: akh.Handle}.Execute(tp)
		// The EK is re-derived from the endorsement seed; it must be the
		// one the verifier encrypted to, so compare before using it.
		ekr, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.TPMRHEndorsement,
			InPublic:      tpm2.New2B(tpm2.RSAEKTemplate),
		}.Execute(tp)
		if err != nil {
			return err
		}
		defer tpm2.FlushContext{FlushHandle: ekr.ObjectHandle}.Execute(tp)
		rsp, err := tpm2.ActivateCredential{
			ActivateHandle: akh,
			KeyHandle: tpm2.AuthHandle{Handle: ekr.ObjectHandle, Name: ekr.Name,
				Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tp transport.TPM, h tpm2.TPMISHPolicy, nonce tpm2.TPM2BNonce) error {
					_, err := tpm2.PolicySecret{AuthHandle: tpm2.TPMRHEndorsement, PolicySession: h, NonceTPM: nonce}.Execute(tp)
					return err
				})},
			CredentialBlob: tpm2.TPM2BIDObject{Buffer: credBlob},
			Secret:         tpm2.TPM2BEncryptedSecret{Buffer: encSecret},
		}.Execute(tp)
		if err != nil {
			return err
		}
		out = rsp.CertInfo.Buffer
		return nil
	})
	if err != nil {
		return nil, wrap("activating credential (was it made for this TPM's EK and AK?)", err)
	}
	return out, nil
}
