package claim169

import (
	"errors"
	"strconv"
)

// Stage names the step of the pipeline that failed.
type Stage int

const (
	StageInput      Stage = iota + 1 // the QR text as a whole (length)
	StageBase45                      // Base45 text to bytes
	StageDecompress                  // zlib or Brotli
	StageCOSE                        // COSE_Sign1 / COSE_Encrypt0 structure and headers
	StageDecrypt                     // COSE_Encrypt0 key lookup and AES-GCM
	StageSignature                   // key lookup and signature check
	StageCWT                         // CWT claims map
	StageClaim169                    // the identity map under claim 169
	StageTime                        // exp, nbf, iat against the clock
	StageEncode                      // building a credential
)

var stageNames = [...]string{
	StageInput:      "input",
	StageBase45:     "base45",
	StageDecompress: "decompress",
	StageCOSE:       "cose",
	StageDecrypt:    "decrypt",
	StageSignature:  "signature",
	StageCWT:        "cwt",
	StageClaim169:   "claim 169 map",
	StageTime:       "time",
	StageEncode:     "encode",
}

func (s Stage) String() string {
	if s > 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "Stage(" + strconv.Itoa(int(s)) + ")"
}

// Error is the error type returned by this package. Err usually wraps one of
// the sentinel errors below, so callers can use errors.Is on the *Error.
type Error struct {
	Stage Stage
	Err   error
}

func (e *Error) Error() string { return "claim169: " + e.Stage.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Sentinel errors. They are wrapped in an *Error naming the stage.
var (
	ErrTooLarge             = errors.New("input exceeds a size limit")
	ErrMalformed            = errors.New("malformed data")
	ErrUnsupported          = errors.New("unsupported structure")
	ErrUnsigned             = errors.New("credential is not signed")
	ErrNoKeys               = errors.New("no key resolver configured")
	ErrUnknownKey           = errors.New("no key found for this credential")
	ErrWeakKey              = errors.New("weak or invalid public key")
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	ErrAlgorithmMismatch    = errors.New("algorithm does not match the key")
	ErrBadSignature         = errors.New("signature verification failed")
	ErrDecrypt              = errors.New("decryption failed")
	ErrNoClaim169           = errors.New("CWT has no claim 169 (identity data)")
	ErrExpired              = errors.New("credential has expired")
	ErrNotYetValid          = errors.New("credential is not yet valid")
	ErrIssuedInFuture       = errors.New("credential issued in the future")
)

func newErr(s Stage, err error) *Error { return &Error{Stage: s, Err: err} }

// wrapErr attaches detail to a sentinel so both read in the message and
// errors.Is still finds the sentinel.
type wrapErr struct {
	sentinel error
	detail   string
	cause    error
}

func (w *wrapErr) Error() string {
	s := w.sentinel.Error()
	if w.detail != "" {
		s += ": " + w.detail
	}
	if w.cause != nil {
		s += ": " + w.cause.Error()
	}
	return s
}

func (w *wrapErr) Unwrap() []error {
	if w.cause != nil {
		return []error{w.sentinel, w.cause}
	}
	return []error{w.sentinel}
}

func errf(s Stage, sentinel error, detail string) *Error {
	return &Error{Stage: s, Err: &wrapErr{sentinel: sentinel, detail: detail}}
}

func errc(s Stage, sentinel error, detail string, cause error) *Error {
	return &Error{Stage: s, Err: &wrapErr{sentinel: sentinel, detail: detail, cause: cause}}
}
