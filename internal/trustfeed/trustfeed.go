// Package trustfeed defines the entries of central's "trust" feed (see
// internal/feed for the signed, Merkle-checked transport): the status of
// device providers (vendors) and their CA certificates, of devices and of
// appliances. Central writes them; appliances apply them in order, so the
// latest entry for a subject is its current state.
package trustfeed

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Name is the trust feed's name (the checkpoint origin).
const Name = "trust"

// Entry kinds.
const (
	KindVendor    = "vendor"
	KindDevice    = "device"
	KindAppliance = "appliance"
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
}

// Appliance is an enrolled appliance.
type Appliance struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	CertSHA256 string `json:"certSha256,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Decode returns the typed value of a trust-feed entry (*Vendor, *Device or
// *Appliance), checking the fields every consumer relies on.
func Decode(kind string, data []byte) (any, error) {
	var v any
	switch kind {
	case KindVendor:
		v = &Vendor{}
	case KindDevice:
		v = &Device{}
	case KindAppliance:
		v = &Appliance{}
	default:
		return nil, fmt.Errorf("trustfeed: unknown entry kind %q", kind)
	}
	if err := json.Unmarshal(data, v); err != nil {
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
	case *Appliance:
		id, status = x.ID, x.Status
	}
	if id == "" || !ValidStatus(status) {
		return nil, fmt.Errorf("trustfeed: %s entry needs an id and a status of active, suspended or revoked", kind)
	}
	return v, nil
}
