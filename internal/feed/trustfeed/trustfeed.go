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
	// KindDeviceStatus is one status change of many devices at once
	// (DeviceStatus): what a bulk revocation publishes instead of one
	// whole-device entry per serial.
	KindDeviceStatus = "device-status"
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

// DeviceStatus sets the status (and reason) of each device it lists,
// keeping everything else a follower holds for them: a status-only change
// of up to MaxStatusSerials devices in one entry. Central publishes it for
// bulk status changes of devices it has already published, so a follower
// that has applied the feed from its start knows every serial listed.
type DeviceStatus struct {
	Status  string   `json:"status"`
	Reason  string   `json:"reason,omitempty"`
	Serials []string `json:"serials"`
}

// Limits of a DeviceStatus entry: 500 serials of at most 64 characters
// keep it well inside one feed entry (feed.MaxEntrySize, 64 KiB).
const (
	MaxStatusSerials = 500
	MaxSerialLen     = 64
)

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
	// RevokedCerts are the serials (lower-case hex, as
	// big.Int.Text(16)) of this party's TLS client certificates central
	// revoked before their end (rp cert revoke); appliances refuse them.
	// A certificate leaves the list once it has expired.
	RevokedCerts []string `json:"revokedCerts,omitempty"`
}

// MaxRevokedRPCerts bounds RevokedCerts.
const MaxRevokedRPCerts = 256

// RevokedCert reports whether serial (big.Int.Text(16)) is in RevokedCerts.
func (r *RelyingParty) RevokedCert(serial string) bool {
	for _, s := range r.RevokedCerts {
		if s == serial {
			return true
		}
	}
	return false
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
	case KindDeviceStatus:
		v = &DeviceStatus{}
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
	case *DeviceStatus:
		if err := x.check(); err != nil {
			return nil, err
		}
		id, status = x.Serials[0], x.Status
	case *RelyingParty:
		id, status = x.ID, x.Status
		for _, k := range x.Keys {
			if len(k.ID) != 16 || len(k.SHA256) != sha256.Size {
				return nil, errors.New("trustfeed: relying-party key needs a 16-character id and a SHA-256")
			}
		}
		if len(x.RevokedCerts) > MaxRevokedRPCerts {
			return nil, fmt.Errorf("trustfeed: relying party with %d revoked certificates (at most %d)", len(x.RevokedCerts), MaxRevokedRPCerts)
		}
		for _, s := range x.RevokedCerts {
			if s == "" || len(s) > 40 || strings.Trim(s, "0123456789abcdef") != "" {
				return nil, errors.New("trustfeed: a revoked certificate serial must be 1–40 lower-case hex digits")
			}
		}
	}
	if id == "" || !ValidStatus(status) {
		return nil, fmt.Errorf("trustfeed: %s entry needs an id and a status of active, suspended or revoked", kind)
	}
	return v, nil
}

// check bounds a DeviceStatus: 1–MaxStatusSerials serials, each 1–64
// printable ASCII characters without spaces, none listed twice (a serial
// listed twice would be applied twice in one entry).
func (d *DeviceStatus) check() error {
	if len(d.Serials) == 0 || len(d.Serials) > MaxStatusSerials {
		return fmt.Errorf("trustfeed: device-status entry lists %d serials, want 1–%d", len(d.Serials), MaxStatusSerials)
	}
	seen := make(map[string]struct{}, len(d.Serials))
	for _, sn := range d.Serials {
		if sn == "" || len(sn) > MaxSerialLen {
			return fmt.Errorf("trustfeed: device-status entry: a serial must be 1–%d characters", MaxSerialLen)
		}
		for i := 0; i < len(sn); i++ {
			if sn[i] <= ' ' || sn[i] > '~' {
				return errors.New("trustfeed: device-status entry: a serial must be printable ASCII without spaces")
			}
		}
		if _, dup := seen[sn]; dup {
			return fmt.Errorf("trustfeed: device-status entry lists %q twice", sn)
		}
		seen[sn] = struct{}{}
	}
	return nil
}
