package sbi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrDigitalID marks digital ID content problems.
var ErrDigitalID = errors.New("sbi: invalid digital ID")

// Unsigned returns the discovery form: base64url of the JSON.
func (d DigitalID) Unsigned() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return EncodeUnsigned(b), nil
}

// Sign returns the signed form, a JWS by id (FTM key for L1, device key for L0).
func (d DigitalID) Sign(id Identity) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return id.Sign(b)
}

// DecodeDigitalID decodes a digital ID in either form. For the signed form
// it also returns the parsed, unverified JWS; for the unsigned form jws is nil.
func DecodeDigitalID(s string) (d *DigitalID, jws *JWS, err error) {
	var payload []byte
	if strings.Contains(s, ".") {
		jws, err = ParseJWS(s)
		if err != nil {
			return nil, nil, err
		}
		payload = jws.Payload
	} else if payload, err = DecodeUnsigned(s); err != nil {
		return nil, nil, err
	}
	d, err = ParseDigitalID(payload)
	if err != nil {
		return nil, nil, err
	}
	return d, jws, nil
}

// Check returns every content problem: empty fields, a type/subtype pair
// the CTK rejects, and a dateTime not in TimeLayout.
func (d DigitalID) Check() []error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"serialNo", d.SerialNo}, {"make", d.Make}, {"model", d.Model}, {"type", d.Type},
		{"deviceSubType", d.DeviceSubType}, {"deviceProvider", d.DeviceProvider},
		{"deviceProviderId", d.DeviceProviderID}, {"dateTime", d.DateTime},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("%w: %s is empty", ErrDigitalID, f.name))
		}
	}
	if d.Type != "" && !ValidType(d.Type) {
		errs = append(errs, fmt.Errorf("%w: unknown type", ErrDigitalID))
	} else if d.Type != "" && d.DeviceSubType != "" && !ValidDeviceSubType(d.Type, d.DeviceSubType) {
		errs = append(errs, fmt.Errorf("%w: deviceSubType does not fit type %s", ErrDigitalID, d.Type))
	}
	if d.DateTime != "" {
		if _, err := ParseTime(d.DateTime); err != nil {
			errs = append(errs, fmt.Errorf("%w: dateTime: %w", ErrDigitalID, err))
		}
	}
	return errs
}
