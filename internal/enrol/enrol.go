package enrol

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// HTTP paths of the enrolment API (POST, JSON bodies).
const (
	PathStart        = "/v1/enrol/start"
	PathFinish       = "/v1/enrol/finish"
	PathRotateStart  = "/v1/enrol/rotate/start"
	PathRotateFinish = "/v1/enrol/rotate/finish"
)

// Token kinds: what an enrolment token lets its holder enrol.
const (
	KindDevice    = "device"
	KindAppliance = "appliance"
)

// Limits on what a verifier accepts. They are far above real values (a
// TPMT_PUBLIC is about 300 bytes, an EK certificate 1–2 KiB, a certify
// attestation about 150 bytes) and far below anything that costs memory.
const (
	MaxRequestBytes = 128 << 10
	MaxPublicArea   = 1024
	MaxEKCert       = 8 << 10
	MaxAttest       = 1024
	MaxSignature    = 1024
	MaxSecret       = 64
	MaxDevices      = 16
	MaxField        = 128 // any identifier or digital ID string
	MaxToken        = 256
	NonceSize       = 32
)

// StartRequest opens an enrolment.
type StartRequest struct {
	Token    string `json:"token"`
	EKPublic []byte `json:"ekPublic"`         // the EK's TPMT_PUBLIC
	EKCert   []byte `json:"ekCert,omitempty"` // DER, from the TPM's NV (absent on swtpm/simulator)
	AKPublic []byte `json:"akPublic"`         // the AK's TPMT_PUBLIC
}

// StartResponse is central's challenge.
type StartResponse struct {
	Session         string    `json:"session"`
	Kind            string    `json:"kind"`               // device or appliance: what the token allows
	VendorID        string    `json:"vendorId,omitempty"` // for device tokens
	VendorName      string    `json:"vendorName,omitempty"`
	CredentialBlob  []byte    `json:"credentialBlob"`
	EncryptedSecret []byte    `json:"encryptedSecret"`
	Nonce           []byte    `json:"nonce"`
	Expires         time.Time `json:"expires"`
}

// KeyProof is a TPM key's public area and the AK's certify proof over it.
type KeyProof struct {
	PublicArea []byte          `json:"publicArea"`
	Certify    tpm.Attestation `json:"certify"`
}

// DeviceRequest asks for the certificates of one biometric device.
type DeviceRequest struct {
	DigitalID sbi.DigitalID `json:"digitalId"`
	FTMKey    KeyProof      `json:"ftmKey"`
	DeviceKey KeyProof      `json:"deviceKey"`
}

// ApplianceRequest asks for an appliance's certificates: its RSA-OAEP
// decryption key (agents encrypt SBI session keys to it) and its signing key.
type ApplianceRequest struct {
	ID            string   `json:"id"`
	EncryptionKey KeyProof `json:"encryptionKey"`
	SigningKey    KeyProof `json:"signingKey"`
	// SoftEncryptionKey, if set, is the key central certifies as the
	// SBI encryption key instead of EncryptionKey (which is still proven).
	SoftEncryptionKey *SoftKeyProof `json:"softEncryptionKey,omitempty"`
}

// FinishRequest completes an enrolment. Exactly one of Devices (for a
// device token) or Appliance (for an appliance token) is set.
type FinishRequest struct {
	Session   string            `json:"session"`
	Secret    []byte            `json:"secret"` // what ActivateCredential recovered
	Devices   []DeviceRequest   `json:"devices,omitempty"`
	Appliance *ApplianceRequest `json:"appliance,omitempty"`
}

// IssuedDevice holds one device's new certificates (DER).
type IssuedDevice struct {
	Serial     string `json:"serial"`
	DeviceCert []byte `json:"deviceCert"`
	FTMCert    []byte `json:"ftmCert"`
}

// IssuedAppliance holds an appliance's new certificates (DER).
type IssuedAppliance struct {
	ID             string `json:"id"`
	EncryptionCert []byte `json:"encryptionCert"`
	SigningCert    []byte `json:"signingCert"`
}

// FinishResponse carries the certificates and the CA that issued them.
type FinishResponse struct {
	CACert    []byte           `json:"caCert"`
	Devices   []IssuedDevice   `json:"devices,omitempty"`
	Appliance *IssuedAppliance `json:"appliance,omitempty"`
}

// RotateStartRequest asks to rotate an enrolled device's key.
type RotateStartRequest struct {
	Serial string `json:"serial"`
}

// RotateStartResponse is the rotation challenge.
type RotateStartResponse struct {
	Session string    `json:"session"`
	Nonce   []byte    `json:"nonce"`
	Expires time.Time `json:"expires"`
}

// RotateFinishRequest proves a new device key with the enrolled AK.
type RotateFinishRequest struct {
	Session   string   `json:"session"`
	DeviceKey KeyProof `json:"deviceKey"`
}

// RotateFinishResponse carries the new device certificate.
type RotateFinishResponse struct {
	Serial     string `json:"serial"`
	DeviceCert []byte `json:"deviceCert"`
	CACert     []byte `json:"caCert"`
}

// Error is the body of every refused request: {"error": {...}}. Code is
// stable and machine-readable; Message says what to do, never echoes secrets.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "central refused: " + e.Message + " (" + e.Code + ")" }

// Error codes.
const (
	CodeBadRequest     = "bad_request"
	CodeTokenInvalid   = "token_invalid"
	CodeTokenUsed      = "token_used"
	CodeTokenExpired   = "token_expired"
	CodeEKUntrusted    = "ek_untrusted"
	CodeAKInvalid      = "ak_invalid"
	CodeSession        = "session_invalid"
	CodeActivation     = "activation_failed"
	CodeCertify        = "certify_invalid"
	CodeDigitalID      = "digital_id_invalid"
	CodeConflict       = "already_enrolled"
	CodeNotFound       = "not_found"
	CodeNotActive      = "not_active"
	CodeRateLimited    = "rate_limited"
	CodeUnauthorized   = "unauthorized"
	CodeInternal       = "internal"
	CodeVendorInactive = "vendor_not_active"
)

// Certify roles: each proof's nonce says what the key is for.
const (
	RoleFTM                = "ftm"
	RoleDevice             = "device"
	RoleApplianceEncrypt   = "appliance-encryption"
	RoleApplianceSign      = "appliance-signing"
	RoleRotateDevice       = "rotate-device"
	certifyNonceDomain     = "edgetrust-enrol/v1 certify\x00"
	subjectDigitalIDDomain = "edgetrust-enrol/v1 digital-id\x00"
	subjectApplianceDomain = "edgetrust-enrol/v1 appliance\x00"
)

// CertifyNonce is the qualifying data of a certify proof: SHA-256 over a
// domain label, the role, the session nonce and the subject digest, each
// length-prefixed. Prover and verifier compute it the same way.
func CertifyNonce(sessionNonce []byte, role string, subject []byte) []byte {
	h := sha256.New()
	h.Write([]byte(certifyNonceDomain))
	for _, f := range [][]byte{[]byte(role), sessionNonce, subject} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	return h.Sum(nil)
}

// DigitalIDSubject is the subject digest of a device's digital ID: its
// fields, length-prefixed in a fixed order (dateTime is not bound: it
// changes with every signature).
func DigitalIDSubject(d sbi.DigitalID) []byte {
	h := sha256.New()
	h.Write([]byte(subjectDigitalIDDomain))
	for _, f := range []string{d.SerialNo, d.Make, d.Model, d.Type, d.DeviceSubType, d.DeviceProvider, d.DeviceProviderID} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// ApplianceSubject is the subject digest of an appliance id.
func ApplianceSubject(id string) []byte {
	h := sha256.Sum256(append([]byte(subjectApplianceDomain), id...))
	return h[:]
}

// SerialSubject is the subject digest of a device serial (rotation).
func SerialSubject(serial string) []byte {
	h := sha256.Sum256(append([]byte("edgetrust-enrol/v1 serial\x00"), serial...))
	return h[:]
}

// EKFingerprint names an EK for allow-lists: lower-case hex SHA-256 of its
// public key's SubjectPublicKeyInfo DER.
func EKFingerprint(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("enrol: EK public key: %w", err)
	}
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:]), nil
}

// RequestLimits bound an enrolment request while it is decoded
// (internal/jsonx): closed contracts, at most MaxDevices devices (the only
// array), a few levels of nesting (devices[].ftmKey.certify) and members.
var RequestLimits = jsonx.Limits{MaxBytes: MaxRequestBytes, MaxDepth: 5, MaxArray: MaxDevices, MaxMembers: 16}

// decode reads one JSON value of at most MaxRequestBytes from r into v,
// strictly (internal/jsonx): duplicate or unknown members, invalid UTF-8,
// trailing data and arrays over their bound are refused before anything is
// built. The *jsonx.Error is wrapped, so that a server can answer 413 for
// jsonx.KindTooLarge.
func decode(r io.Reader, v any) error {
	if err := jsonx.Decode(r, v, RequestLimits); err != nil {
		var je *jsonx.Error
		if errors.As(err, &je) {
			return fmt.Errorf("request: %w", je)
		}
		return fmt.Errorf("reading request: %w", err)
	}
	return nil
}

func checkBytes(name string, b []byte, lo, hi int) error {
	if len(b) < lo || len(b) > hi {
		return fmt.Errorf("%s must be %d–%d bytes, got %d", name, lo, hi, len(b))
	}
	return nil
}

// checkField bounds an identifier: printable UTF-8, no control characters.
func checkField(name, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is required", name)
		}
		return nil
	}
	if len(s) > MaxField || !utf8.ValidString(s) {
		return fmt.Errorf("%s must be valid UTF-8 of at most %d bytes", name, MaxField)
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Errorf("%s contains control characters", name)
	}
	return nil
}

// CheckID checks a registry identifier (serial, vendor or appliance id):
// 1–64 characters of A–Z a–z 0–9 . _ -.
func CheckID(name, s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%s must be 1–64 characters", name)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%s may only contain letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

func (p KeyProof) check(name string) error {
	if err := checkBytes(name+".publicArea", p.PublicArea, 1, MaxPublicArea); err != nil {
		return err
	}
	if err := checkBytes(name+".certify.attest", p.Certify.Attest, 1, MaxAttest); err != nil {
		return err
	}
	return checkBytes(name+".certify.signature", p.Certify.Signature, 1, MaxSignature)
}

func checkSession(s string) error {
	if len(s) == 0 || len(s) > MaxField {
		return errors.New("session is required")
	}
	return nil
}

// DecodeStart reads and checks a start request.
func DecodeStart(r io.Reader) (*StartRequest, error) {
	var q StartRequest
	if err := decode(r, &q); err != nil {
		return nil, err
	}
	if q.Token == "" || len(q.Token) > MaxToken {
		return nil, errors.New("token is required (an enrolment token from a central admin)")
	}
	if err := checkBytes("ekPublic", q.EKPublic, 1, MaxPublicArea); err != nil {
		return nil, err
	}
	if err := checkBytes("ekCert", q.EKCert, 0, MaxEKCert); err != nil {
		return nil, err
	}
	if err := checkBytes("akPublic", q.AKPublic, 1, MaxPublicArea); err != nil {
		return nil, err
	}
	return &q, nil
}

// DecodeFinish reads and checks a finish request.
func DecodeFinish(r io.Reader) (*FinishRequest, error) {
	var q FinishRequest
	if err := decode(r, &q); err != nil {
		return nil, err
	}
	if err := checkSession(q.Session); err != nil {
		return nil, err
	}
	if err := checkBytes("secret", q.Secret, 1, MaxSecret); err != nil {
		return nil, err
	}
	switch {
	case len(q.Devices) > 0 && q.Appliance != nil:
		return nil, errors.New("a finish request enrols devices or an appliance, not both")
	case len(q.Devices) == 0 && q.Appliance == nil:
		return nil, errors.New("nothing to enrol: devices or appliance is required")
	case len(q.Devices) > MaxDevices:
		return nil, fmt.Errorf("at most %d devices per enrolment", MaxDevices)
	}
	seen := map[string]bool{}
	for i, d := range q.Devices {
		n := fmt.Sprintf("devices[%d]", i)
		if err := CheckID(n+".digitalId.serialNo", d.DigitalID.SerialNo); err != nil {
			return nil, err
		}
		if seen[d.DigitalID.SerialNo] {
			return nil, fmt.Errorf("%s: serial %q appears twice", n, d.DigitalID.SerialNo)
		}
		seen[d.DigitalID.SerialNo] = true
		id := d.DigitalID
		for _, f := range []struct{ name, v string }{
			{"make", id.Make}, {"model", id.Model}, {"type", id.Type}, {"deviceSubType", id.DeviceSubType},
			{"deviceProvider", id.DeviceProvider}, {"deviceProviderId", id.DeviceProviderID},
		} {
			if err := checkField(n+".digitalId."+f.name, f.v, true); err != nil {
				return nil, err
			}
		}
		if err := checkField(n+".digitalId.dateTime", id.DateTime, false); err != nil {
			return nil, err
		}
		if err := d.FTMKey.check(n + ".ftmKey"); err != nil {
			return nil, err
		}
		if err := d.DeviceKey.check(n + ".deviceKey"); err != nil {
			return nil, err
		}
	}
	if a := q.Appliance; a != nil {
		if err := CheckID("appliance.id", a.ID); err != nil {
			return nil, err
		}
		if err := a.EncryptionKey.check("appliance.encryptionKey"); err != nil {
			return nil, err
		}
		if err := a.SigningKey.check("appliance.signingKey"); err != nil {
			return nil, err
		}
		if a.SoftEncryptionKey != nil {
			if err := a.SoftEncryptionKey.check("appliance.softEncryptionKey"); err != nil {
				return nil, err
			}
		}
	}
	return &q, nil
}

// DecodeRotateStart reads and checks a rotation start request.
func DecodeRotateStart(r io.Reader) (*RotateStartRequest, error) {
	var q RotateStartRequest
	if err := decode(r, &q); err != nil {
		return nil, err
	}
	if err := CheckID("serial", q.Serial); err != nil {
		return nil, err
	}
	return &q, nil
}

// DecodeRotateFinish reads and checks a rotation finish request.
func DecodeRotateFinish(r io.Reader) (*RotateFinishRequest, error) {
	var q RotateFinishRequest
	if err := decode(r, &q); err != nil {
		return nil, err
	}
	if err := checkSession(q.Session); err != nil {
		return nil, err
	}
	if err := q.DeviceKey.check("deviceKey"); err != nil {
		return nil, err
	}
	return &q, nil
}
