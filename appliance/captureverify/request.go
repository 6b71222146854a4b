package captureverify

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
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

// Limits is how internal/jsonx bounds a verification request (and the SBI
// capture inside an authentication request) while its tokens stream by,
// before anything is decoded: no SBI answer or request nests deeper than
// 5 or holds an array longer than 16 (bioSubType and exception lists;
// biometrics[] and bio[] are held to sbi.MaxBiometrics after), and a full
// ten-finger request and answer are a few hundred values.
var Limits = jsonx.Limits{MaxBytes: MaxRequestSize, MaxDepth: 8, MaxArray: 16, MaxMembers: 32, MaxValues: 4096}

// ParseRequest parses and checks a verification request. Errors wrap
// ErrBadRequest and name the field, never echo values. The body is strict
// JSON (internal/jsonx): a duplicate member, invalid UTF-8, a member the
// contract does not name or a count over Limits is a bad request. A
// response that is JSON but not an SBI capture answer (a wrong type, an
// unknown member) is not an error: it is returned in ResponseErr, and the
// capture is invalid.
func ParseRequest(b []byte) (*Parsed, error) {
	if len(b) > MaxRequestSize {
		return nil, bad("body over %d bytes", MaxRequestSize)
	}
	var env envelope
	var respErr error
	if err := jsonx.Unmarshal(b, &env, Limits); err != nil {
		// Was it the envelope or the response inside it?
		if !inResponse(err) {
			return nil, bad("body is not a JSON object with transactionId, request and response: %v", err)
		}
		var r Request
		if err2 := jsonx.Unmarshal(b, &r, Limits); err2 != nil {
			return nil, bad("body is not a JSON object with transactionId, request and response: %v", err2)
		}
		env = envelope{TransactionID: r.TransactionID, PreviousHash: r.PreviousHash, Request: r.Request}
		respErr = fmt.Errorf("%w: %v", sbi.ErrJSON, err)
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
		p.Response, p.ResponseErr = bounded(p.Response)
	}
	if len(env.Request) > 0 && string(env.Request) != "null" {
		req, err := parseCaptureRequest(env.Request)
		if err != nil {
			return nil, bad("request is not an SBI CAPTURE/RCAPTURE request: %v", err)
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

// inResponse says whether err is a JSON type or unknown-member error
// inside the response member: JSON the SBI answer type does not fit.
func inResponse(err error) bool {
	var je *jsonx.Error
	if !errors.As(err, &je) || je.Kind != jsonx.KindType && je.Kind != jsonx.KindUnknown {
		return false
	}
	return je.Pointer == "/response" || strings.HasPrefix(je.Pointer, "/response/")
}

// parseCaptureRequest is sbi.ParseCaptureRequest on the strict decoder:
// the same bounds (its size, sbi.MaxBiometrics bio elements, lists of at
// most 16), with exact member names and no unknown members.
func parseCaptureRequest(b []byte) (*sbi.CaptureRequest, error) {
	if len(b) > sbi.MaxRequestSize {
		return nil, sbi.ErrTooLarge
	}
	var r sbi.CaptureRequest
	if err := jsonx.Unmarshal(b, &r, Limits); err != nil {
		return nil, err
	}
	if len(r.Bio) > sbi.MaxBiometrics {
		return nil, sbi.ErrTooMany
	}
	return &r, nil
}

// bounded applies the bounds sbi.ParseCaptureResponse applies: a response
// over them is no response, with the reason.
func bounded(r *sbi.CaptureResponse) (*sbi.CaptureResponse, error) {
	if len(r.Biometrics) > sbi.MaxBiometrics {
		return nil, sbi.ErrTooMany
	}
	for _, e := range r.Biometrics {
		if len(e.Data) > sbi.MaxJWSSize {
			return nil, sbi.ErrTooLarge
		}
	}
	return r, nil
}

// thumbprint is the SBI thumbprint (upper-case hex SHA-256) of DER bytes.
func thumbprint(der []byte) string {
	return strings.ToUpper(hex.EncodeToString(sha256Sum(der)))
}

// ParseCapture makes a Parsed from an SBI CAPTURE answer given on its own
// (as in an authentication request), bound to transactionID: the request it
// must answer is built as ParseRequest builds it without one (a first
// capture). It is decoded strictly, within Limits. A response that is not
// an SBI capture answer is not an error here either: it is in ResponseErr.
func ParseCapture(transactionID string, response []byte) (*Parsed, error) {
	if len(response) > MaxRequestSize {
		return nil, bad("capture over %d bytes", MaxRequestSize)
	}
	if !sbi.ValidTransactionID(transactionID) {
		return nil, bad("transactionId must be 4-50 characters of A-Z, a-z, 0-9 and '-' (SBI §6.6)")
	}
	p := &Parsed{TransactionID: transactionID}
	var resp sbi.CaptureResponse
	if err := jsonx.Unmarshal(response, &resp, Limits); err != nil {
		p.ResponseErr = fmt.Errorf("%w: %v", sbi.ErrJSON, err)
		return p, nil
	}
	if p.Response, p.ResponseErr = bounded(&resp); p.ResponseErr != nil {
		return p, nil
	}
	p.Request = sbi.MinimalRequest(transactionID, "", p.Response)
	return p, nil
}
