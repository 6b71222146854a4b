package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/records/normalize"
	"github.com/edgetrust/edgetrust/sbi"
)

// Bounds on a request.
const (
	// MaxBody is the default largest request body: a capture of a few
	// fingers is some hundreds of KiB.
	MaxBody = 2 << 20
	// MaxDemographics is the most attributes one request may give.
	MaxDemographics = 16
	// MaxAttrName and MaxAttrValue bound an attribute's name and value.
	MaxAttrName  = 64
	MaxAttrValue = normalize.MaxInput
	// MaxIndividualID bounds individualId (VIDs are 16 digits).
	MaxIndividualID = 64
	// MaxCaptures is the most SBI CAPTURE answers one request may carry
	// (one per modality: finger, iris, face).
	MaxCaptures = 3
)

// Match modes.
const (
	MatchExact   = "exact"
	MatchPartial = "partial"
)

// Request is the body of POST /v1/auth, after MOSIP IDA's authentication
// request: the relying party's transaction, the person's VID, consent, the
// auth types asked for, and their inputs. Biometrics is the SBI CAPTURE
// answer exactly as the device returned it (purpose Auth, captured with
// this transactionId), or, for a multi-modal request, an array of up to
// MaxCaptures such answers (one CAPTURE is one device, so one modality).
type Request struct {
	TransactionID    string            `json:"transactionId"`
	IndividualID     string            `json:"individualId"`
	IndividualIDType string            `json:"individualIdType"`
	Consent          bool              `json:"consent"`
	RequestedAuth    RequestedAuth     `json:"requestedAuth"`
	Demographics     map[string]string `json:"demographics,omitempty"`
	MatchMode        string            `json:"matchMode,omitempty"`
	Biometrics       json.RawMessage   `json:"biometrics,omitempty"`

	// The MOSIP IDA envelope's members, accepted and ignored: the
	// appliance answers its own shape. Any other member is refused.
	ID          string `json:"id,omitempty"`
	Version     string `json:"version,omitempty"`
	RequestTime string `json:"requestTime,omitempty"`

	captures []json.RawMessage // Biometrics as one answer per element
}

// Captures are the request's SBI CAPTURE answers, in order (after
// ParseRequest; none without requestedAuth.bio).
func (r *Request) Captures() []json.RawMessage { return r.captures }

// Limits is how internal/jsonx bounds a request while its tokens stream
// by, before anything is decoded: the capture inside is held to the
// capture-verify endpoint's bounds (captureverify.Limits: depth, one more
// for the array of a multi-modal request, arrays of
// at most 16, a few thousand values); objects have at most 32 members
// (demographics at most MaxDemographics, checked after).
var Limits = jsonx.Limits{MaxBytes: MaxBody, MaxDepth: captureverify.Limits.MaxDepth + 1, MaxArray: captureverify.Limits.MaxArray,
	MaxMembers: 32, MaxValues: captureverify.Limits.MaxValues}

// RequestedAuth says which factors to check; at least one.
type RequestedAuth struct {
	Demo bool `json:"demo"`
	Bio  bool `json:"bio"`
}

// ErrBadRequest wraps every reason ParseRequest refuses a body (HTTP 400).
// Messages name fields and bounds, never values.
var ErrBadRequest = errors.New("bad authentication request")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
}

// ParseRequest parses and checks a request body. It is strict JSON
// (internal/jsonx, within Limits): a member given twice, invalid UTF-8, a
// name in another case or a member the request does not define (besides
// MOSIP's id, version and requestTime) is refused, never resolved.
func ParseRequest(b []byte) (*Request, error) {
	if len(b) > MaxBody {
		return nil, bad("body over %d bytes", MaxBody)
	}
	var r Request
	if err := jsonx.Unmarshal(b, &r, Limits); err != nil {
		return nil, bad("body is not a JSON authentication request: %v", err)
	}
	if r.TransactionID == "" {
		return nil, bad("transactionId is required")
	}
	if !sbi.ValidTransactionID(r.TransactionID) {
		return nil, bad("transactionId must be 4-50 characters of A-Z, a-z, 0-9 and '-' (the capture is bound to it, SBI §6.6)")
	}
	switch r.IndividualIDType {
	case "", "VID":
		r.IndividualIDType = "VID"
	default:
		return nil, bad("individualIdType must be VID: this appliance authenticates by virtual ID only")
	}
	if r.IndividualID == "" || len(r.IndividualID) > MaxIndividualID {
		return nil, bad("individualId (the VID) is required, at most %d bytes", MaxIndividualID)
	}
	if !r.RequestedAuth.Demo && !r.RequestedAuth.Bio {
		return nil, bad("requestedAuth must ask for demo, bio or both")
	}
	switch r.MatchMode {
	case "":
		r.MatchMode = MatchExact
	case MatchExact, MatchPartial:
	default:
		return nil, bad("matchMode must be exact or partial")
	}
	if r.RequestedAuth.Demo {
		if len(r.Demographics) == 0 {
			return nil, bad("requestedAuth.demo needs demographics: {attribute: value, ...}")
		}
		if len(r.Demographics) > MaxDemographics {
			return nil, bad("at most %d demographic attributes", MaxDemographics)
		}
		for k, v := range r.Demographics {
			if k == "" || len(k) > MaxAttrName || !utf8.ValidString(k) {
				return nil, bad("demographic attribute names must be 1-%d bytes of UTF-8", MaxAttrName)
			}
			if v == "" || len(v) > MaxAttrValue || !utf8.ValidString(v) {
				return nil, bad("demographic values must be 1-%d bytes of UTF-8", MaxAttrValue)
			}
		}
	} else if len(r.Demographics) > 0 {
		return nil, bad("demographics given but requestedAuth.demo is false")
	}
	bio := bytes.TrimSpace(r.Biometrics)
	hasBio := len(bio) > 0 && string(bio) != "null"
	if hasBio && bio[0] != '{' && bio[0] != '[' {
		return nil, bad("biometrics must be the SBI CAPTURE answer, a JSON object (or an array of up to %d of them)", MaxCaptures)
	}
	switch {
	case r.RequestedAuth.Bio && !hasBio:
		return nil, bad("requestedAuth.bio needs biometrics: the SBI CAPTURE answer")
	case !r.RequestedAuth.Bio && hasBio:
		return nil, bad("biometrics given but requestedAuth.bio is false")
	}
	if hasBio {
		if bio[0] == '{' {
			r.captures = []json.RawMessage{bio}
		} else {
			// Already checked against Limits as part of the body.
			if err := json.Unmarshal(bio, &r.captures); err != nil {
				return nil, bad("biometrics is not an array of SBI CAPTURE answers")
			}
			if len(r.captures) == 0 || len(r.captures) > MaxCaptures {
				return nil, bad("biometrics must hold 1-%d SBI CAPTURE answers", MaxCaptures)
			}
			for _, c := range r.captures {
				if c = bytes.TrimSpace(c); len(c) == 0 || c[0] != '{' {
					return nil, bad("each element of biometrics must be an SBI CAPTURE answer, a JSON object")
				}
			}
		}
	}
	return &r, nil
}
