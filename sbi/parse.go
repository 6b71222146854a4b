package sbi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/go-json-experiment/json/jsontext"
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
	MaxDepth        = 10       // nesting of any SBI document ({"bio":[{"bioSubType":[…]}]} is 3)
	MaxMembers      = 64       // members of any one object (customOpts and additionalInfo: at most 50)
	maxListLen      = 16       // short string lists: subtypes, exceptions, specVersion, deviceSubId
	maxHeaderSize   = 64 << 10 // decoded JWS header
)

// Parse errors. A refused document wraps one of these and, for JSON that is
// malformed or over a bound, the *jsonx.Error saying where (a JSON Pointer)
// and why (its Kind: duplicate-key, invalid-utf8, limit, …). No error
// quotes a value from the input.
var (
	ErrTooLarge = errors.New("sbi: input too large")
	ErrJSON     = errors.New("sbi: malformed JSON")
	ErrTooMany  = errors.New("sbi: too many elements")
)

// limits are the strict-JSON bounds of every SBI document of at most max
// bytes. Every array, whatever it holds, is bounded by maxListLen while the
// tokens stream by (the largest legitimate one, bioSubType of a slap plus
// exceptions, is 10), so a bomb of 650,000 {} is refused after 17. The
// contract is open: SBI 0.9.5, 1.0 and the MOSIP clients add members
// (serialNo, additionalInfo, customOpts …) a tolerant device ignores.
func limits(max int) jsonx.Limits {
	return jsonx.Limits{MaxBytes: int64(max), MaxDepth: MaxDepth, MaxArray: maxListLen, MaxMembers: MaxMembers, Open: true}
}

// decode unmarshals b into v strictly (internal/jsonx: duplicate names and
// invalid UTF-8 refused, names matched exactly, depth and counts checked
// before anything is built). Top-level names that are case-fold variants of
// each other ("env" and "ENV") are refused too: this package and MOSIP's
// Java parsers match names exactly, encoding/json v1 folds them, so such a
// document would read differently in one device, client or verifier and the
// next. Errors never quote input.
func decode(b []byte, limit int, v any) error {
	if len(b) > limit {
		return ErrTooLarge
	}
	if err := jsonx.Unmarshal(b, v, limits(limit)); err != nil {
		return jsonErr(err)
	}
	return uniqueKeys(b)
}

// jsonErr maps a decoding error onto the package's sentinels, keeping the
// *jsonx.Error in the chain.
func jsonErr(err error) error {
	var je *jsonx.Error
	if errors.As(err, &je) {
		switch je.Kind {
		case jsonx.KindTooLarge:
			return fmt.Errorf("%w: %w", ErrTooLarge, je)
		case jsonx.KindLimit:
			return fmt.Errorf("%w: %w", ErrTooMany, je)
		}
		return fmt.Errorf("%w: %w", ErrJSON, je)
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

// ParseStreamError decodes the JSON a device answers a refused STREAM with
// (nested or flat error object, see StreamError).
func ParseStreamError(b []byte) (*StreamError, error) {
	var r StreamError
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

// decodeSigned decodes a signed payload: decode within MaxJWSSize.
func decodeSigned(b []byte, v any) error {
	return decode(b, MaxJWSSize, v)
}

// uniqueKeys checks the top-level names of an already-checked document for
// case-fold variants, skipping the values without building them.
func uniqueKeys(b []byte) error {
	d := jsontext.NewDecoder(bytes.NewBuffer(b)) // read in place, not copied
	if d.PeekKind() != '{' {
		return nil
	}
	if _, err := d.ReadToken(); err != nil {
		return ErrJSON
	}
	seen := map[string]bool{}
	for d.PeekKind() == '"' {
		tok, err := d.ReadToken()
		if err != nil {
			return ErrJSON
		}
		f := foldKey(tok.String())
		if seen[f] {
			return fmt.Errorf("%w: member names that differ only in case", ErrJSON)
		}
		seen[f] = true
		if err := d.SkipValue(); err != nil && err != io.EOF {
			return ErrJSON
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
