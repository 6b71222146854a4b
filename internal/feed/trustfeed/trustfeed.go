package trustfeed

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Name is the trust feed's name (the checkpoint origin).
const Name = "trust"

// Entry kinds.
const (
	KindVendor    = "vendor"
	KindDevice    = "device"
	KindAppliance = "appliance"
	KindRP        = "rp"
)

// Statuses.
const (
	Active    = "active"
	Suspended = "suspended"
	Revoked   = "revoked"
)

// ValidStatus reports whether s is one of the three statuses.
func ValidStatus(s string) bool { return s == Active || s == Suspended || s == Revoked }

// Vendor is a device provider. CACert is the DER provider CA certificate
// central issued to it: device and FTM certificates of its devices chain to
// it. A vendor that is suspended or revoked takes all its devices with it.
type Vendor struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	CACert []byte `json:"caCert,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Device is an enrolled device. DeviceCertSHA256 and FTMCertSHA256 are the
// upper-case hex SHA-256 of the DER certificates central issued (the SBI
// thumbprint form), so a verifier can tell a rotated-out key from the
// current one.
type Device struct {
	Serial           string `json:"serial"`
	VendorID         string `json:"vendorId"`
	Type             string `json:"type,omitempty"`
	SubType          string `json:"subType,omitempty"`
	Status           string `json:"status"`
	DeviceCertSHA256 string `json:"deviceCertSha256,omitempty"`
	FTMCertSHA256    string `json:"ftmCertSha256,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// AttestedAt is the time of the good TPM quote that last moved
	// AttestedUntil; AttestedUntil is the horizon up to which central
	// vouches for the device's attestation (decision 0018, "Offline
	// verifiers"). A verifier refuses the device's captures after
	// AttestedUntil, offline or not. Both absent: central publishes no
	// horizon for the device (never attested, or its policy publishes
	// none), and only its status counts.
	AttestedAt    time.Time `json:"attestedAt,omitzero"`
	AttestedUntil time.Time `json:"attestedUntil,omitzero"`
}

// Appliance is an enrolled appliance.
type Appliance struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	CertSHA256 string `json:"certSha256,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// RelyingParty is a service allowed to ask appliances for authentication,
// with its policy: which auth types it may use (recordfeed.Auth*) and which
// identity attributes (demographic names) it may receive. Keys are its
// current API keys: only their ids and SHA-256 travel; the secret is shown
// once, to the admin who creates it.
type RelyingParty struct {
	ID         string   `json:"id"`
	Name       string   `json:"name,omitempty"`
	Status     string   `json:"status"`
	AuthTypes  []string `json:"authTypes,omitempty"`
	Attributes []string `json:"attributes,omitempty"`
	Keys       []RPKey  `json:"keys,omitempty"`
	Reason     string   `json:"reason,omitempty"`
}

// RPKey is one relying-party API key as the feed carries it.
type RPKey struct {
	ID     string `json:"id"`     // 16 lower-hex characters
	SHA256 []byte `json:"sha256"` // SHA-256 of the secret part
}

// RP API keys are "etr_<16 hex id>_<secret>".
const RPKeyPrefix = "etr_"

// ParseRPKey splits an API key into id and secret; ok is false for
// anything malformed (check it before any lookup).
func ParseRPKey(key string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(key, RPKeyPrefix)
	if !found || len(key) > 256 {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) < 32 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// RPKeyMatches compares a presented secret with a key's hash in constant time.
func RPKeyMatches(secret string, k RPKey) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], k.SHA256) == 1
}

// Decode returns the typed value of a trust-feed entry (*Vendor, *Device,
// *Appliance or *RelyingParty), checking the fields every consumer relies on.
func Decode(kind string, data []byte) (any, error) {
	var v any
	switch kind {
	case KindVendor:
		v = &Vendor{}
	case KindDevice:
		v = &Device{}
	case KindAppliance:
		v = &Appliance{}
	case KindRP:
		v = &RelyingParty{}
	default:
		return nil, fmt.Errorf("trustfeed: unknown entry kind %q", kind)
	}
	// Strict and open: duplicates and invalid UTF-8 refused, members a
	// later central adds tolerated (as encoding/json did).
	if err := jsonx.Unmarshal(data, v, jsonx.Limits{MaxBytes: 64 << 10, Open: true}); err != nil {
		return nil, fmt.Errorf("trustfeed: %s entry: %w", kind, err)
	}
	var id, status string
	switch x := v.(type) {
	case *Vendor:
		id, status = x.ID, x.Status
	case *Device:
		id, status = x.Serial, x.Status
		if x.VendorID == "" {
			return nil, errors.New("trustfeed: device entry without vendorId")
		}
		if x.AttestedAt.IsZero() != x.AttestedUntil.IsZero() || x.AttestedUntil.Before(x.AttestedAt) {
			return nil, errors.New("trustfeed: device entry needs attestedAt and attestedUntil together, attestedUntil not before attestedAt")
		}
	case *Appliance:
		id, status = x.ID, x.Status
	case *RelyingParty:
		id, status = x.ID, x.Status
		for _, k := range x.Keys {
			if len(k.ID) != 16 || len(k.SHA256) != sha256.Size {
				return nil, errors.New("trustfeed: relying-party key needs a 16-character id and a SHA-256")
			}
		}
	}
	if id == "" || !ValidStatus(status) {
		return nil, fmt.Errorf("trustfeed: %s entry needs an id and a status of active, suspended or revoked", kind)
	}
	return v, nil
}
