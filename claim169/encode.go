package claim169

import (
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"fmt"

	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// IssuerOptions are optional settings for NewIssuer.
type IssuerOptions struct {
	// KeyID goes in the protected header (label 4) so verifiers can pick
	// the key. Omit it to save bytes when verifiers hold a single key.
	KeyID []byte

	// EncryptionKey, if set, wraps the signed credential in a
	// COSE_Encrypt0: 16 bytes for A128GCM, 32 for A256GCM.
	EncryptionKey []byte
	// EncryptionKeyID goes in the COSE_Encrypt0 protected header.
	EncryptionKeyID []byte

	// CompressionLevel is the deflate level (klauspost/compress), -1 to 9.
	// 0 means DefaultCompressionLevel. Whatever the level,
	// the stream never carries a stored block where a Huffman-coded one
	// exists (a fixed-Huffman block of literals is chosen when it is
	// smaller or the level stored): MOSIP's pixelpass cannot inflate
	// stored blocks.
	CompressionLevel int

	// MaxTextLen bounds the QR text Issue returns. Default
	// DefaultMaxTextLen, the capacity of the largest QR code.
	MaxTextLen int
}

// DefaultCompressionLevel is klauspost/compress's level 4: on the idpass
// vectors it is as small as level 9 to within 8 bytes, at about 0.6 µs a
// credential where level 9 takes 40 µs (decision 0003).
const DefaultCompressionLevel = 4

// Issuer signs credentials. It is safe for concurrent use if its signer is.
type Issuer struct {
	signer       cose.Signer
	alg          Algorithm
	rawProtected cbor.RawMessage // bstr-wrapped protected header, computed once
	protLen      int             // the length of its content (the map)
	encKey       []byte
	encKID       []byte
	level        int
	maxText      int
}

// NewIssuer returns an Issuer signing with signer: an ed25519.PrivateKey or
// *ecdsa.PrivateKey on P-256, or any crypto.Signer (HSM, TPM, KMS) whose
// public key is one of those. The algorithm (EdDSA or ES256) follows from
// the key.
func NewIssuer(signer crypto.Signer, opts *IssuerOptions) (*Issuer, error) {
	if opts == nil {
		opts = &IssuerOptions{}
	}
	if signer == nil {
		return nil, errf(StageEncode, ErrUnsupportedAlgorithm, "nil signer")
	}
	alg, err := algorithmFor(signer.Public())
	if err != nil {
		return nil, newErr(StageEncode, err)
	}
	cs, err := cose.NewSigner(cose.Algorithm(alg), signer)
	if err != nil {
		return nil, errc(StageEncode, ErrUnsupportedAlgorithm, "", err)
	}
	prot := map[int64]any{hdrAlg: int64(alg)}
	if opts.KeyID != nil {
		prot[hdrKID] = opts.KeyID
	}
	protBytes, err := encMode.Marshal(prot)
	if err != nil {
		return nil, newErr(StageEncode, err)
	}
	rawProt, err := encMode.Marshal(protBytes)
	if err != nil {
		return nil, newErr(StageEncode, err)
	}
	if opts.EncryptionKey != nil && aesKeySize(A128GCM) != len(opts.EncryptionKey) && aesKeySize(A256GCM) != len(opts.EncryptionKey) {
		return nil, errf(StageEncode, ErrUnsupportedAlgorithm, fmt.Sprintf("EncryptionKey is %d bytes; want 16 (A128GCM) or 32 (A256GCM)", len(opts.EncryptionKey)))
	}
	level := opts.CompressionLevel
	if level == 0 {
		level = DefaultCompressionLevel
	}
	if level < zlib.DefaultCompression || level > zlib.BestCompression {
		return nil, errf(StageEncode, ErrUnsupported, fmt.Sprintf("CompressionLevel %d; want -1 to 9", level))
	}
	maxText := opts.MaxTextLen
	if maxText <= 0 {
		maxText = DefaultMaxTextLen
	}
	return &Issuer{
		signer:       cs,
		alg:          alg,
		rawProtected: rawProt,
		protLen:      len(protBytes),
		encKey:       opts.EncryptionKey,
		encKID:       opts.EncryptionKeyID,
		level:        level,
		maxText:      maxText,
	}, nil
}

// Algorithm returns the signature algorithm of the issuer's key.
func (is *Issuer) Algorithm() Algorithm { return is.alg }

// Sign returns the credential as COSE bytes: a tagged COSE_Sign1 over the
// CWT claims, wrapped in a COSE_Encrypt0 if an encryption key was given.
func (is *Issuer) Sign(c *Claims) ([]byte, error) {
	payload, err := c.MarshalCBOR()
	if err != nil {
		return nil, errc(StageEncode, ErrMalformed, "claims", err)
	}
	// The COSE_Sign1 is written directly, as the verifier reads it: go-cose's
	// Sign1Message costs 12 allocations and re-marshals the headers per
	// credential. is.signer (go-cose's) still does the algorithm's hashing and
	// the raw r‖s form ES256 needs.
	prot := is.rawProtected[len(is.rawProtected)-is.protLen:]
	sig, err := is.signer.Sign(rand.Reader, sigStructure(prot, payload))
	if err != nil {
		return nil, newErr(StageEncode, fmt.Errorf("signing: %w", err))
	}
	out := make([]byte, 0, 2+len(is.rawProtected)+1+9+len(payload)+9+len(sig))
	out = append(out, 0xc0|tagSign1, 0x84)
	out = append(out, is.rawProtected...)
	out = append(out, 0xa0) // empty unprotected header
	out = appendHead(out, majorBytes, uint64(len(payload)))
	out = append(out, payload...)
	out = appendHead(out, majorBytes, uint64(len(sig)))
	out = append(out, sig...)
	if is.encKey != nil {
		if out, err = sealEncrypt0(is.encKey, is.encKID, out); err != nil {
			return nil, newErr(StageEncode, err)
		}
	}
	return out, nil
}

// Issue returns the credential as QR text: Sign, zlib, Base45.
func (is *Issuer) Issue(c *Claims) (string, error) {
	signed, err := is.Sign(c)
	if err != nil {
		return "", err
	}
	z, err := compress(signed, is.level)
	if err != nil {
		return "", newErr(StageEncode, err)
	}
	if n := base45.EncodedLen(len(z)); n > is.maxText {
		return "", errf(StageEncode, ErrTooLarge, fmt.Sprintf("credential needs %d QR characters; the limit is %d (shrink or drop the photo/biometrics)", n, is.maxText))
	}
	return base45.EncodeToString(z), nil
}
