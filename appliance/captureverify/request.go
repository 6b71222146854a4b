package captureverify

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgetrust/edgetrust/sbi"
)

// MaxRequestSize bounds the body of a verification request.
const MaxRequestSize = 2 << 20

// Request is the body of POST /v1/captures/verify: the SBI capture answer
// (response), the transactionId the capture was requested with, and
// optionally the full CAPTURE/RCAPTURE request that was sent. Without the
// request, a minimal one is built from the transactionId and what the
// signed data says (purpose, env, domainUri, bioType, one count per entry);
// previousHash then gives the hash chain's start (default: a first capture).
type Request struct {
	TransactionID string          `json:"transactionId"`
	PreviousHash  string          `json:"previousHash,omitempty"`
	Request       json.RawMessage `json:"request,omitempty"`
	Response      json.RawMessage `json:"response"`
}

// Parsed is a checked verification request.
type Parsed struct {
	TransactionID string
	// Request is the CAPTURE request given, or the one built; nil when the
	// response carries nothing to build it from (the verifier reports it).
	Request      *sbi.CaptureRequest
	RequestGiven bool
	// Response is the parsed SBI answer; nil when it did not parse, with
	// ResponseErr saying why (a verification failure, not a bad request).
	Response    *sbi.CaptureResponse
	ResponseErr error
}

// ErrBadRequest wraps every reason ParseRequest refuses a body: answer 400.
var ErrBadRequest = errors.New("bad verification request")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
}

// envelope is Request with the response decoded in the same pass (the
// response is most of the body; every extra pass over it costs).
type envelope struct {
	TransactionID string               `json:"transactionId"`
	PreviousHash  string               `json:"previousHash,omitempty"`
	Request       json.RawMessage      `json:"request,omitempty"`
	Response      *sbi.CaptureResponse `json:"response"`
}

// ParseRequest parses and checks a verification request. Errors wrap
// ErrBadRequest and name the field, never echo values. A response that is
// JSON but not an SBI capture answer is not an error: it is returned in
// ResponseErr, and the capture is invalid.
func ParseRequest(b []byte) (*Parsed, error) {
	if len(b) > MaxRequestSize {
		return nil, bad("body over %d bytes", MaxRequestSize)
	}
	var env envelope
	var respErr error
	// One pass over the body (most of it is the response); unknown fields
	// are ignored, like encoding/json does (a second pass to refuse them
	// would cost ~6% of a verification).
	if err := json.Unmarshal(b, &env); err != nil {
		// Was it the envelope or the response inside it?
		var r Request
		if err2 := json.Unmarshal(b, &r); err2 != nil {
			return nil, bad("body is not a JSON object with transactionId, request and response: %s", JSONError(err2))
		}
		env = envelope{TransactionID: r.TransactionID, PreviousHash: r.PreviousHash, Request: r.Request}
		if len(r.Response) == 0 || string(r.Response) == "null" {
			return nil, bad("response (the SBI capture answer) is required")
		}
		respErr = fmt.Errorf("%w: %s", sbi.ErrJSON, JSONError(err))
	} else if env.Response == nil {
		return nil, bad("response (the SBI capture answer) is required")
	}
	if env.TransactionID == "" {
		return nil, bad("transactionId is required")
	}
	if !sbi.ValidTransactionID(env.TransactionID) {
		return nil, bad("transactionId must be 4-50 characters of A-Z, a-z, 0-9 and '-' (SBI §6.6)")
	}
	if env.PreviousHash != "" {
		if _, err := sbi.NewHashChain(env.PreviousHash); err != nil {
			return nil, bad("previousHash must be 64 hex digits")
		}
	}
	p := &Parsed{TransactionID: env.TransactionID, Response: env.Response, ResponseErr: respErr}
	if p.Response != nil {
		// The bounds sbi.ParseCaptureResponse applies.
		if len(p.Response.Biometrics) > sbi.MaxBiometrics {
			p.Response, p.ResponseErr = nil, sbi.ErrTooMany
		} else {
			for _, e := range p.Response.Biometrics {
				if len(e.Data) > sbi.MaxJWSSize {
					p.Response, p.ResponseErr = nil, sbi.ErrTooLarge
					break
				}
			}
		}
	}
	if len(env.Request) > 0 && string(env.Request) != "null" {
		req, err := sbi.ParseCaptureRequest(env.Request)
		if err != nil {
			return nil, bad("request is not an SBI CAPTURE/RCAPTURE request: %s", JSONError(err))
		}
		if req.TransactionID != env.TransactionID {
			return nil, bad("request.transactionId differs from transactionId")
		}
		if len(req.Bio) == 0 {
			return nil, bad("request has no bio element")
		}
		if env.PreviousHash != "" && !strings.EqualFold(env.PreviousHash, req.Bio[0].PreviousHash) {
			return nil, bad("previousHash differs from request.bio[0].previousHash")
		}
		p.Request, p.RequestGiven = req, true
	}
	if p.Request == nil && p.Response != nil {
		p.Request = sbi.MinimalRequest(env.TransactionID, env.PreviousHash, p.Response)
	}
	return p, nil
}

// JSONError shortens a decoding error without echoing input.
func JSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "wrong type for " + te.Field
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.ToValidUTF8(s, "?")
}

// headerChain returns the DER certificates of a compact JWS's x5c header
// (leaf first) without verifying anything, or nil.
func headerChain(jws string) [][]byte {
	i := strings.IndexByte(jws, '.')
	if i <= 0 || i > 64<<10 {
		return nil
	}
	hb, err := base64.RawURLEncoding.DecodeString(jws[:i])
	if err != nil {
		return nil
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if json.Unmarshal(hb, &h) != nil || len(h.X5C) == 0 || len(h.X5C) > sbi.MaxX5C {
		return nil
	}
	out := make([][]byte, 0, len(h.X5C))
	for _, c := range h.X5C {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return nil
		}
		out = append(out, der)
	}
	return out
}

// thumbprint is the SBI thumbprint (upper-case hex SHA-256) of DER bytes.
func thumbprint(der []byte) string {
	return strings.ToUpper(hex.EncodeToString(sha256Sum(der)))
}

// ParseCapture makes a Parsed from an SBI CAPTURE answer given on its own
// (as in an authentication request), bound to transactionID: the request it
// must answer is built as ParseRequest builds it without one (a first
// capture). A response that is not an SBI capture answer is not an error
// here either: it is in ResponseErr.
func ParseCapture(transactionID string, response []byte) (*Parsed, error) {
	if len(response) > MaxRequestSize {
		return nil, bad("capture over %d bytes", MaxRequestSize)
	}
	if !sbi.ValidTransactionID(transactionID) {
		return nil, bad("transactionId must be 4-50 characters of A-Z, a-z, 0-9 and '-' (SBI §6.6)")
	}
	p := &Parsed{TransactionID: transactionID}
	var resp sbi.CaptureResponse
	if err := json.Unmarshal(response, &resp); err != nil {
		p.ResponseErr = fmt.Errorf("%w: %s", sbi.ErrJSON, JSONError(err))
		return p, nil
	}
	p.Response = &resp
	if len(resp.Biometrics) > sbi.MaxBiometrics {
		p.Response, p.ResponseErr = nil, sbi.ErrTooMany
		return p, nil
	}
	for _, e := range resp.Biometrics {
		if len(e.Data) > sbi.MaxJWSSize {
			p.Response, p.ResponseErr = nil, sbi.ErrTooLarge
			return p, nil
		}
	}
	p.Request = sbi.MinimalRequest(transactionID, "", p.Response)
	return p, nil
}
