package recordfeed

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

// Feed naming and entry kind.
const (
	FeedPrefix = "records."
	Kind       = "records" // feed entry kind: Data is a Sealed batch
)

// FeedName is the records feed of one appliance.
func FeedName(applianceID string) string { return FeedPrefix + applianceID }

// ApplianceOf returns the appliance id of a records feed name.
func ApplianceOf(feed string) (string, bool) {
	id, ok := strings.CutPrefix(feed, FeedPrefix)
	return id, ok && id != ""
}

// Auth types a record can lock and a relying party can be allowed
// (MOSIP's names for demographic and biometric authentication).
const (
	AuthDemo   = "demo"
	AuthFinger = "bio-Finger"
	AuthIris   = "bio-Iris"
	AuthFace   = "bio-Face"
)

// AuthTypes lists the known auth types.
var AuthTypes = []string{AuthDemo, AuthFinger, AuthIris, AuthFace}

// ValidAuthType reports whether s is a known auth type.
func ValidAuthType(s string) bool {
	for _, a := range AuthTypes {
		if a == s {
			return true
		}
	}
	return false
}

// AuthTypeOf maps an SBI bioType (Finger, Iris, Face) to its auth type.
func AuthTypeOf(bioType string) (string, bool) {
	switch bioType {
	case "Finger":
		return AuthFinger, true
	case "Iris":
		return AuthIris, true
	case "Face":
		return AuthFace, true
	}
	return "", false
}

// Bounds on records and batches (checked on both sides).
const (
	MaxDemographics   = 64       // attributes per record
	MaxAttrName       = 64       // bytes of an attribute name
	MaxAttrValue      = 1024     // bytes of an attribute value
	MaxBiometrics     = 16       // templates per record (10 fingers, 2 irises, face, spare)
	MaxTemplate       = 32 << 10 // bytes of one template
	MaxRecordBytes    = 256 << 10
	MaxOps            = 1000     // operations per batch (records.MaxBatch)
	MaxSealedBytes    = 32 << 20 // ciphertext of one batch
	MaxUINLen         = 32
	TokenSeedLen      = 32
	Version           = 1
	TemplateMCC       = "edgetrust-mcc-v1" // match.Template.MarshalBinary
	TemplateISO197942 = "iso19794-2"       // a minutiae record from another extractor
	// TemplateIrisCode is an iris code and mask (iris.Template.MarshalBinary:
	// "IC", its own version and parameters, read back by iris.ParseTemplate).
	TemplateIrisCode = "edgetrust-iriscode-v1"
	// TemplateFaceDescriptor is a dlib ResNet face descriptor
	// (face.Model.MarshalDescriptor: "FD", its version and the model's tag,
	// read back by face.Model.UnmarshalDescriptor).
	TemplateFaceDescriptor = "edgetrust-facedesc-v1"
	// ImageISO197945 and ImageISO197946 are face and iris image records
	// kept as captured (records issued before templates were made for them).
	ImageISO197945 = "iso19794-5"
	ImageISO197946 = "iso19794-6"
)

// FormatType is the SBI bioType the templates of a known format belong to,
// or "" for a format this package does not know.
func FormatType(format string) string {
	switch format {
	case TemplateMCC, TemplateISO197942:
		return "Finger"
	case TemplateIrisCode, ImageISO197946:
		return "Iris"
	case TemplateFaceDescriptor, ImageISO197945:
		return "Face"
	}
	return ""
}

// Record is one VID's identity record. UIN is never shown to relying
// parties; it keys the per-relying-party token ID.
type Record struct {
	Version      int               `json:"v"`
	UIN          string            `json:"uin"`
	VID          string            `json:"vid"`
	VIDKind      string            `json:"vidKind"` // perpetual, temporary, one-time
	VIDIssued    time.Time         `json:"vidIssued"`
	VIDExpires   time.Time         `json:"vidExpires,omitzero"`
	Issued       time.Time         `json:"issued"` // when central signed this version
	Demographics map[string]string `json:"demo,omitempty"`
	Biometrics   []Biometric       `json:"bio,omitempty"`
	Locked       []string          `json:"locked,omitempty"` // auth types the person has locked
	// TokenSeed is the person's 32-byte token key: token ID =
	// HMAC(TokenSeed, UIN, relying-party id) (internal/records/tokenid), the
	// same on every appliance for one relying party, unlinkable across two.
	TokenSeed []byte `json:"tokenSeed"`
}

// Biometric is one enrolled template.
type Biometric struct {
	Type    string `json:"type"`    // SBI bioType: Finger, Iris, Face
	SubType string `json:"subType"` // SBI bioSubType, e.g. "Left IndexFinger"
	Format  string `json:"format"`  // TemplateMCC, TemplateIrisCode, TemplateFaceDescriptor, TemplateISO197942, or an ISO 19794 image record format
	Quality int    `json:"quality,omitempty"`
	Data    []byte `json:"data"`
}

// Errors.
var (
	ErrInvalid   = errors.New("recordfeed: invalid record")
	ErrSignature = errors.New("recordfeed: record signature does not verify with any trusted key")
	ErrNotForUs  = errors.New("recordfeed: batch is sealed to another appliance or key")
	ErrOpen      = errors.New("recordfeed: batch does not decrypt (wrong key or altered)")
)

// VIDPolicy returns the VID with its policy.
func (r *Record) VIDPolicy() (vid.VID, error) {
	v := vid.VID{Number: r.VID, IssuedAt: r.VIDIssued, ExpiresAt: r.VIDExpires}
	switch r.VIDKind {
	case "perpetual":
		v.Kind = vid.Perpetual
	case "temporary":
		v.Kind = vid.Temporary
	case "one-time":
		v.Kind, v.MaxUses = vid.OneTime, 1
	default:
		return vid.VID{}, fmt.Errorf("%w: unknown VID kind", ErrInvalid)
	}
	return v, nil
}

// IsLocked reports whether the person locked authType.
func (r *Record) IsLocked(authType string) bool {
	for _, l := range r.Locked {
		if l == authType {
			return true
		}
	}
	return false
}

// Check validates the record's fields and bounds. Errors never quote
// values (they may be personal data).
func (r *Record) Check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrInvalid, what) }
	if r.Version != Version {
		return bad("unsupported version")
	}
	if r.UIN == "" || len(r.UIN) > MaxUINLen {
		return bad("uin missing or too long")
	}
	if err := vid.Validate(r.VID); err != nil {
		return bad("vid is not a valid VID")
	}
	if _, err := r.VIDPolicy(); err != nil {
		return err
	}
	if len(r.TokenSeed) != TokenSeedLen {
		return bad("token seed missing or not 32 bytes")
	}
	if r.VIDIssued.IsZero() || r.Issued.IsZero() {
		return bad("issue times missing")
	}
	if len(r.Demographics) > MaxDemographics {
		return bad("too many demographic attributes")
	}
	for k, v := range r.Demographics {
		if k == "" || len(k) > MaxAttrName || len(v) > MaxAttrValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return bad("demographic attribute name or value empty, too long or not UTF-8")
		}
	}
	if len(r.Biometrics) > MaxBiometrics {
		return bad("too many biometrics")
	}
	for _, b := range r.Biometrics {
		if _, ok := AuthTypeOf(b.Type); !ok {
			return bad("unknown biometric type")
		}
		if len(b.Data) == 0 || len(b.Data) > MaxTemplate || b.Format == "" || len(b.SubType) > 64 || len(b.Format) > 64 {
			return bad("biometric template empty, too large or without format")
		}
		if t := FormatType(b.Format); t != "" && t != b.Type {
			return bad("biometric template of one modality filed under another")
		}
	}
	for _, l := range r.Locked {
		if !ValidAuthType(l) {
			return bad("unknown locked auth type")
		}
	}
	return nil
}

// Marshal returns the record's canonical bytes (what is signed).
func (r *Record) Marshal() ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	c := *r
	c.VIDIssued, c.VIDExpires, c.Issued = c.VIDIssued.UTC(), c.VIDExpires.UTC(), c.Issued.UTC()
	b, err := json.Marshal(&c) // map keys are sorted by encoding/json
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: record of %d bytes exceeds %d", ErrInvalid, len(b), MaxRecordBytes)
	}
	return b, nil
}

// Unmarshal parses and checks canonical record bytes strictly: unknown
// fields, trailing data and oversized input are refused.
func Unmarshal(b []byte) (*Record, error) {
	if len(b) == 0 || len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: record size", ErrInvalid)
	}
	var r Record
	if err := jsonx.Unmarshal(b, &r, jsonx.Limits{MaxBytes: MaxRecordBytes}); err != nil {
		var je *jsonx.Error
		if errors.As(err, &je) && je.Kind == jsonx.KindTrailing {
			return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: malformed JSON: %w", ErrInvalid, err)
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// sigPrefix separates record signatures from every other use of the key.
const sigPrefix = "edgetrust/record/v1\x00"

func signed(record []byte) []byte { return append([]byte(sigPrefix), record...) }

// Sign returns central's signature over canonical record bytes.
func Sign(key ed25519.PrivateKey, record []byte) []byte {
	return ed25519.Sign(key, signed(record))
}

// Verifier checks record signatures with central's trusted keys (the feed
// keys). It implements records.Verifier.
type Verifier struct{ Keys []ed25519.PublicKey }

// Verify checks sig over record with any trusted key.
func (v Verifier) Verify(record, sig []byte) error {
	if len(sig) != ed25519.SignatureSize {
		return ErrSignature
	}
	m := signed(record)
	for _, k := range v.Keys {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, m, sig) {
			return nil
		}
	}
	return ErrSignature
}

// Signed is a record with central's signature.
type Signed struct {
	Record []byte `json:"record"`
	Sig    []byte `json:"sig"`
}

// Op is one batch operation: Put stores (replaces) the record of its VID;
// Delete removes the record of a VID (revoked, expired or used up).
type Op struct {
	Put    *Signed `json:"put,omitempty"`
	Delete string  `json:"delete,omitempty"`
}

// Batch is the plaintext of a sealed batch.
type Batch struct {
	Ops []Op `json:"ops"`
}

// Sealed is a batch encrypted to one appliance: the data of a feed entry of
// kind Kind.
type Sealed struct {
	Appliance  string `json:"appliance"`
	CertSHA256 string `json:"certSha256"` // SBI thumbprint (upper hex) of the encryption certificate
	WrappedKey []byte `json:"wrappedKey"` // RSA-OAEP-SHA256 (empty label) of the 32-byte AES key
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"` // AES-256-GCM of JSON(Batch)
}

const aadPrefix = "edgetrust/records-batch/v1\x00"

func (s *Sealed) aad() []byte {
	return []byte(aadPrefix + s.Appliance + "\x00" + s.CertSHA256)
}

// Thumbprint is the upper-hex SHA-256 of a certificate's DER (the SBI form).
func Thumbprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// Seal encrypts b to the appliance whose RSA encryption certificate is cert.
func Seal(b *Batch, applianceID string, cert *x509.Certificate) (*Sealed, error) {
	if len(b.Ops) == 0 || len(b.Ops) > MaxOps {
		return nil, fmt.Errorf("recordfeed: a batch holds 1–%d operations", MaxOps)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("recordfeed: the appliance encryption certificate is not for an RSA key")
	}
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, err
	}
	s := &Sealed{Appliance: applianceID, CertSHA256: Thumbprint(cert), WrappedKey: wrapped, Nonce: make([]byte, 12)}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	s.Ciphertext = gcm.Seal(nil, s.Nonce, plain, s.aad())
	if len(s.Ciphertext) > MaxSealedBytes {
		return nil, fmt.Errorf("recordfeed: batch of %d bytes exceeds %d; send fewer records per batch", len(s.Ciphertext), MaxSealedBytes)
	}
	return s, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// Open decrypts a batch sealed to this appliance (applianceID, whose
// encryption certificate is cert and key dec — a TPM key on an appliance).
// Records in the batch are not verified here: the record store verifies
// each signature on ingest.
func Open(s *Sealed, applianceID string, cert *x509.Certificate, dec crypto.Decrypter) (*Batch, error) {
	if s.Appliance != applianceID || s.CertSHA256 != Thumbprint(cert) {
		return nil, ErrNotForUs
	}
	if len(s.WrappedKey) != 256 || len(s.Nonce) != 12 || len(s.Ciphertext) < 16 || len(s.Ciphertext) > MaxSealedBytes {
		return nil, ErrOpen
	}
	key, err := dec.Decrypt(rand.Reader, s.WrappedKey, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || len(key) != 32 {
		return nil, ErrOpen
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, ErrOpen
	}
	plain, err := gcm.Open(nil, s.Nonce, s.Ciphertext, s.aad())
	if err != nil {
		return nil, ErrOpen
	}
	return DecodeBatch(plain)
}

// DecodeBatch parses a batch's plaintext strictly.
func DecodeBatch(plain []byte) (*Batch, error) {
	var b Batch
	if err := jsonx.Unmarshal(plain, &b, jsonx.Limits{MaxBytes: MaxSealedBytes, MaxArray: MaxOps}); err != nil {
		return nil, fmt.Errorf("recordfeed: malformed batch: %w", err)
	}
	if len(b.Ops) == 0 || len(b.Ops) > MaxOps {
		return nil, fmt.Errorf("recordfeed: a batch holds 1–%d operations", MaxOps)
	}
	for _, op := range b.Ops {
		if (op.Put == nil) == (op.Delete == "") {
			return nil, errors.New("recordfeed: each operation is exactly one of put or delete")
		}
		if op.Put != nil && (len(op.Put.Record) == 0 || len(op.Put.Record) > MaxRecordBytes || len(op.Put.Sig) != ed25519.SignatureSize) {
			return nil, errors.New("recordfeed: put with an empty, oversized or unsigned record")
		}
		if op.Delete != "" && vid.Validate(op.Delete) != nil {
			return nil, errors.New("recordfeed: delete of an invalid VID")
		}
	}
	return &b, nil
}

// DecodeSealed parses a feed entry's data.
func DecodeSealed(data []byte) (*Sealed, error) {
	if len(data) > 2*MaxSealedBytes {
		return nil, errors.New("recordfeed: sealed batch too large")
	}
	var s Sealed
	if err := jsonx.Unmarshal(data, &s, jsonx.Limits{MaxBytes: 2 * MaxSealedBytes}); err != nil {
		return nil, fmt.Errorf("recordfeed: malformed sealed batch: %w", err)
	}
	if s.Appliance == "" || s.CertSHA256 == "" {
		return nil, errors.New("recordfeed: sealed batch without appliance or certificate")
	}
	return &s, nil
}
