package firmware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Manifest describes one firmware image. The vendor signs its JSON bytes.
type Manifest struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // hex SHA-256 of the image
	Size    int64  `json:"size"`   // image size in bytes
}

// Signed is the manifest file: the manifest's exact JSON bytes, the
// algorithm and the signature over SignedPrefix + Payload. Signing bytes
// rather than re-encoded JSON avoids any canonicalisation question.
type Signed struct {
	Payload   []byte `json:"payload"`   // base64 in the file
	Alg       string `json:"alg"`       // "Ed25519" or "ES256"
	Signature []byte `json:"signature"` // base64; ES256 as ASN.1 DER or raw r||s
}

// SignedPrefix is prepended to the payload before signing, so a vendor key
// used for other things cannot be tricked into signing a manifest.
const SignedPrefix = "edgetrust firmware manifest v1\n"

// Algorithms.
const (
	AlgEd25519 = "Ed25519"
	AlgES256   = "ES256"
)

// Bounds.
const (
	MaxManifestSize = 64 << 10
	MaxImageSize    = 32 << 20
)

// Errors of Verify, in the order the checks run.
var (
	ErrManifest  = errors.New("firmware: malformed manifest")
	ErrKey       = errors.New("firmware: unsupported vendor key (want Ed25519 or ECDSA P-256)")
	ErrSignature = errors.New("firmware: manifest signature does not verify")
	ErrModel     = errors.New("firmware: manifest is for another model")
	ErrImage     = errors.New("firmware: image does not match the manifest")
)

// Policy is what the device expects of an update.
type Policy struct {
	Model string // required: the model of the module to flash
	// Min is the pinned minimum; Current the running version (zero if
	// unknown). The update must not be lower than either.
	Min, Current Version
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) holding an Ed25519 or
// ECDSA P-256 key.
func ParsePublicKey(pemData []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(pemData)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: expected a PEM PUBLIC KEY block", ErrKey)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if _, err := algFor(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ParsePrivateKey reads a PEM PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY".
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(pemData)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM type %q", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, ErrKey
	}
	if _, err := algFor(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

func algFor(k crypto.PublicKey) (string, error) {
	switch k := k.(type) {
	case ed25519.PublicKey:
		return AlgEd25519, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	}
	return "", ErrKey
}

// Sign produces a signed manifest file.
func Sign(m Manifest, key crypto.Signer) ([]byte, error) {
	alg, err := algFor(key.Public())
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	msg := append([]byte(SignedPrefix), payload...)
	var sig []byte
	switch alg {
	case AlgEd25519:
		sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
	case AlgES256:
		h := sha256.Sum256(msg)
		sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("firmware: sign: %w", err)
	}
	return json.MarshalIndent(Signed{Payload: payload, Alg: alg, Signature: sig}, "", "  ")
}

// Verify checks a signed manifest and the image it describes: signature by
// the vendor key, model, version not below the pin or the running version,
// then the image size and SHA-256. Nothing from the manifest is trusted
// before the signature verifies.
func Verify(signedFile []byte, image io.Reader, vendor crypto.PublicKey, pol Policy) (*Manifest, Version, error) {
	if len(signedFile) > MaxManifestSize {
		return nil, Version{}, fmt.Errorf("%w: larger than %d bytes", ErrManifest, MaxManifestSize)
	}
	// Strict (internal/jsonx), outside and in: a second "payload" or
	// "version" would let the signature cover one value and the update use
	// another.
	lim := jsonx.Limits{MaxBytes: MaxManifestSize}
	var s Signed
	if err := jsonx.Unmarshal(signedFile, &s, lim); err != nil {
		return nil, Version{}, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	alg, err := algFor(vendor)
	if err != nil {
		return nil, Version{}, err
	}
	if s.Alg != alg {
		return nil, Version{}, fmt.Errorf("%w: manifest says %q but the vendor key is %s", ErrSignature, s.Alg, alg)
	}
	msg := append([]byte(SignedPrefix), s.Payload...)
	if !verifySig(vendor, msg, s.Signature) {
		return nil, Version{}, ErrSignature
	}

	var m Manifest
	if err := jsonx.Unmarshal(s.Payload, &m, lim); err != nil {
		return nil, Version{}, fmt.Errorf("%w: payload: %v", ErrManifest, err)
	}
	if pol.Model == "" {
		return nil, Version{}, fmt.Errorf("%w: no expected model given", ErrModel)
	}
	if m.Model != pol.Model {
		return nil, Version{}, fmt.Errorf("%w: manifest %q, module %q", ErrModel, m.Model, pol.Model)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return nil, Version{}, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	floor := pol.Min
	if pol.Current.Compare(floor) > 0 {
		floor = pol.Current
	}
	if v.Compare(floor) < 0 {
		return nil, v, fmt.Errorf("%w: update is %s, device requires at least %s", ErrRollback, v, floor)
	}
	want, err := hex.DecodeString(m.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, v, fmt.Errorf("%w: sha256 is not 64 hex digits", ErrManifest)
	}
	if m.Size <= 0 || m.Size > MaxImageSize {
		return nil, v, fmt.Errorf("%w: size %d out of range", ErrManifest, m.Size)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(image, MaxImageSize+1))
	if err != nil {
		return nil, v, fmt.Errorf("firmware: read image: %w", err)
	}
	if n != m.Size {
		return nil, v, fmt.Errorf("%w: image is %d bytes, manifest says %d", ErrImage, n, m.Size)
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return nil, v, fmt.Errorf("%w: SHA-256 differs", ErrImage)
	}
	return &m, v, nil
}

func verifySig(k crypto.PublicKey, msg, sig []byte) bool {
	switch k := k.(type) {
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		if len(sig) == 64 { // raw r||s as in JOSE
			r := new(big.Int).SetBytes(sig[:32])
			s := new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(k, h[:], r, s)
		}
		return ecdsa.VerifyASN1(k, h[:], sig)
	}
	return false
}
