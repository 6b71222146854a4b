package sbi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Bounds on untrusted input.
const (
	MaxRequestSize  = 64 << 10 // a request body
	MaxJWSSize      = 8 << 20  // one compact JWS (a registration face record fits easily)
	MaxResponseSize = 32 << 20 // a whole capture, discovery or info answer
	MaxBiometrics   = 10       // biometrics[] entries and bio[] elements (10 fingers)
	MaxDevices      = 16       // elements of a discovery or info answer
	MaxX5C          = 4        // certificates in an x5c header
	MaxCertSize     = 8 << 10  // DER bytes of one certificate
	maxListLen      = 16       // short string lists: subtypes, exceptions, specVersion, deviceSubId
	maxHeaderSize   = 64 << 10 // decoded JWS header
)

// Parse errors.
var (
	ErrTooLarge = errors.New("sbi: input too large")
	ErrJSON     = errors.New("sbi: malformed JSON")
	ErrTooMany  = errors.New("sbi: too many elements")
)

// decode unmarshals b into v after a size check. Errors never quote input.
func decode(b []byte, limit int, v any) error {
	if len(b) > limit {
		return ErrTooLarge
	}
	if err := json.Unmarshal(b, v); err != nil {
		return jsonErr(err)
	}
	return nil
}

func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: syntax error at offset %d", ErrJSON, se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("%w: wrong type for field %q", ErrJSON, te.Field)
	case errors.Is(err, ErrTooMany), errors.Is(err, errScalar):
		return fmt.Errorf("%w: %v", ErrJSON, err)
	}
	return ErrJSON
}

func checkLists(lists ...[]string) error {
	for _, l := range lists {
		if len(l) > maxListLen {
			return ErrTooMany
		}
	}
	return nil
}

// ParseDiscoverRequest decodes a MOSIPDISC body.
func ParseDiscoverRequest(b []byte) (*DiscoverRequest, error) {
	var r DiscoverRequest
	if err := decode(b, MaxRequestSize, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseInfoRequest decodes an optional MOSIPDINFO body; an empty body is valid.
func ParseInfoRequest(b []byte) (*InfoRequest, error) {
	var r InfoRequest
	if len(trimSpace(b)) == 0 {
		return &r, nil
	}
	if err := decode(b, MaxRequestSize, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseCaptureRequest decodes a CAPTURE or RCAPTURE body. It checks shape
// and bounds only; ValidateCaptureRequest applies the spec rules.
func ParseCaptureRequest(b []byte) (*CaptureRequest, error) {
	var r CaptureRequest
	if err := decode(b, MaxRequestSize, &r); err != nil {
		return nil, err
	}
	if len(r.Bio) > MaxBiometrics {
		return nil, ErrTooMany
	}
	for _, bio := range r.Bio {
		if err := checkLists(bio.BioSubType, bio.Exception); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// ParseStreamRequest decodes a STREAM body.
func ParseStreamRequest(b []byte) (*StreamRequest, error) {
	var r StreamRequest
	if err := decode(b, MaxRequestSize, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseDiscoverResponse decodes a MOSIPDISC answer.
func ParseDiscoverResponse(b []byte) ([]Discovery, error) {
	var r []Discovery
	if err := decode(b, MaxResponseSize, &r); err != nil {
		return nil, err
	}
	if len(r) > MaxDevices {
		return nil, ErrTooMany
	}
	for _, d := range r {
		if len(d.DeviceSubID) > maxListLen || len(d.SpecVersion) > maxListLen {
			return nil, ErrTooMany
		}
	}
	return r, nil
}

// ParseInfoResponse decodes a MOSIPDINFO answer.
func ParseInfoResponse(b []byte) ([]InfoEntry, error) {
	var r []InfoEntry
	if err := decode(b, MaxResponseSize, &r); err != nil {
		return nil, err
	}
	if len(r) > MaxDevices {
		return nil, ErrTooMany
	}
	return r, nil
}

// ParseCaptureResponse decodes a CAPTURE or RCAPTURE answer.
func ParseCaptureResponse(b []byte) (*CaptureResponse, error) {
	var r CaptureResponse
	if err := decode(b, MaxResponseSize, &r); err != nil {
		return nil, err
	}
	if len(r.Biometrics) > MaxBiometrics {
		return nil, ErrTooMany
	}
	for _, e := range r.Biometrics {
		if len(e.Data) > MaxJWSSize {
			return nil, ErrTooLarge
		}
	}
	return &r, nil
}

// ParseDeviceInfo decodes a deviceInfo payload.
func ParseDeviceInfo(payload []byte) (*DeviceInfo, error) {
	var r DeviceInfo
	if err := decodeSigned(payload, &r); err != nil {
		return nil, err
	}
	if len(r.DeviceSubID) > maxListLen {
		return nil, ErrTooMany
	}
	if err := checkLists(r.SpecVersion, r.CamDimensions); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseDigitalID decodes a digital ID payload.
func ParseDigitalID(payload []byte) (*DigitalID, error) {
	var r DigitalID
	if err := decodeSigned(payload, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseCaptureData decodes a data JWS payload.
func ParseCaptureData(payload []byte) (*CaptureData, error) {
	var r CaptureData
	if err := decodeSigned(payload, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// decodeSigned decodes a signed payload. encoding/json matches keys case-
// insensitively and keeps the last duplicate, while MOSIP's Java parsers
// match exactly; a payload with duplicate or case-variant keys could read
// differently here and there, so it is refused.
func decodeSigned(b []byte, v any) error {
	if len(b) > MaxJWSSize {
		return ErrTooLarge
	}
	if err := uniqueKeys(b); err != nil {
		return err
	}
	return decode(b, MaxJWSSize, v)
}

func uniqueKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil // not an object: Unmarshal reports it
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		k, _ := tok.(string)
		f := foldKey(k)
		if seen[f] {
			return fmt.Errorf("%w: duplicate key", ErrJSON)
		}
		seen[f] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return jsonErr(err)
		}
	}
	return nil
}

// foldKey maps every rune to the smallest member of its case-folding orbit,
// which covers encoding/json's folding (including K and ſ).
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		return m
	}, k)
}
