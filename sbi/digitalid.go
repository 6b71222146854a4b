package sbi

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"
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

// decodeDigitalIDCached is DecodeDigitalID for the digital IDs of
// captures: a device's signed digital ID is the same string in every
// capture for up to DigitalIDMaxAge, so its decoding is kept by the
// SHA-256 of the string (bounded like the header cache) and handed out as
// copies whose slices are the caller's own. Errors are not kept.
func decodeDigitalIDCached(s string) (*DigitalID, *JWS, error) {
	k := sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
	digitalIDs.mu.RLock()
	e := digitalIDs.m[k]
	digitalIDs.mu.RUnlock()
	if e == nil {
		d, j, err := DecodeDigitalID(s)
		if err != nil {
			return nil, nil, err
		}
		e = &didEntry{d: *d}
		if j != nil {
			e.j = copyJWS(j, true)
		}
		digitalIDs.mu.Lock()
		if len(digitalIDs.m) >= maxCachedCerts {
			for old := range digitalIDs.m {
				delete(digitalIDs.m, old)
				break
			}
		}
		digitalIDs.m[k] = e
		digitalIDs.mu.Unlock()
	}
	d := e.d
	if e.j == nil {
		return &d, nil, nil
	}
	return &d, copyJWS(e.j, false), nil
}

type didEntry struct {
	d DigitalID
	j *JWS
}

var digitalIDs = struct {
	mu sync.RWMutex
	m  map[[32]byte]*didEntry
}{m: make(map[[32]byte]*didEntry)}

// copyJWS is j with exported slices of its own. For the cache (keep) the
// signing input is cloned too, so that the entry does not keep the whole
// request it was cut from; copies handed out share it (a string) and the
// signature (never written).
func copyJWS(j *JWS, keep bool) *JWS {
	cp := *j
	cp.Header.X5C = slices.Clone(j.Header.X5C)
	cp.Payload = slices.Clone(j.Payload)
	cp.Chain = slices.Clone(j.Chain)
	if keep {
		cp.sig = slices.Clone(j.sig)
		cp.input = strings.Clone(j.input)
		for i, x := range cp.Header.X5C {
			cp.Header.X5C[i] = strings.Clone(x)
		}
	}
	return &cp
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
