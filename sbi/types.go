package sbi

import (
	"encoding/json"
	"strconv"
)

// SpecVersion is the wire protocol this package implements.
const SpecVersion = "0.9.5"

// Port range a device service listens in, on 127.0.0.1 only.
const (
	PortMin = 4501
	PortMax = 4600
)

// HTTP methods. The spellings after the first are accepted on input.
const (
	MethodDiscover = "MOSIPDISC"
	MethodInfo     = "MOSIPDINFO"
	MethodCapture  = "CAPTURE"
	MethodRCapture = "RCAPTURE"
	MethodStream   = "STREAM"
)

// CanonicalMethod maps a received method to its canonical name:
// MOSIPINFO and SBIINFO to MOSIPDINFO, SBIDISC to MOSIPDISC. ok is false for
// methods that are not SBI verbs.
func CanonicalMethod(m string) (string, bool) {
	switch m {
	case MethodDiscover, "SBIDISC":
		return MethodDiscover, true
	case MethodInfo, "MOSIPINFO", "SBIINFO":
		return MethodInfo, true
	case MethodCapture, MethodRCapture, MethodStream:
		return m, true
	}
	return m, false
}

// Biometric types; TypeAny is the discovery wildcard.
const (
	TypeFinger = "Finger"
	TypeIris   = "Iris"
	TypeFace   = "Face"
	TypeAny    = "Biometric Device"
)

// Purposes.
const (
	PurposeAuth         = "Auth"
	PurposeRegistration = "Registration"
)

// Device statuses.
const (
	StatusReady         = "Ready"
	StatusBusy          = "Busy"
	StatusNotReady      = "Not Ready"
	StatusNotRegistered = "Not Registered"
)

// Certification levels.
const (
	CertL0 = "L0"
	CertL1 = "L1"
)

// Environments; EnvNone is reported by an unregistered device.
const (
	EnvStaging       = "Staging"
	EnvDeveloper     = "Developer"
	EnvPreProduction = "Pre-Production"
	EnvProduction    = "Production"
	EnvNone          = "None"
)

// ValidEnv reports whether env is one of the four registered environments.
func ValidEnv(env string) bool {
	switch env {
	case EnvStaging, EnvDeveloper, EnvPreProduction, EnvProduction:
		return true
	}
	return false
}

// ValidType reports whether t is Finger, Iris or Face.
func ValidType(t string) bool { return t == TypeFinger || t == TypeIris || t == TypeFace }

// ValidDeviceSubType reports whether sub is a valid deviceSubType for type t.
func ValidDeviceSubType(t, sub string) bool {
	switch t {
	case TypeFinger:
		return sub == "Slap" || sub == "Single" || sub == "Touchless"
	case TypeIris:
		return sub == "Single" || sub == "Double"
	case TypeFace:
		return sub == "Full face"
	}
	return false
}

// CallbackID returns the callbackId for a port: http://127.0.0.1:<port>/.
func CallbackID(port int) string {
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/"
}

// DiscoverRequest is the MOSIPDISC body.
type DiscoverRequest struct {
	Type        string     `json:"type"`
	SpecVersion StringList `json:"specVersion,omitempty"` // [SBI1]
}

// Matches reports whether a device of type devType answers this request.
func (r *DiscoverRequest) Matches(devType string) bool {
	return r.Type == TypeAny || r.Type == devType
}

// Discovery is one element of the MOSIPDISC response array.
type Discovery struct {
	DeviceID       string      `json:"deviceId"`
	DeviceStatus   string      `json:"deviceStatus"`
	Certification  string      `json:"certification"`
	ServiceVersion string      `json:"serviceVersion"`
	DeviceSubID    []NumString `json:"deviceSubId"`
	CallbackID     string      `json:"callbackId"`
	DigitalID      string      `json:"digitalId"` // unsigned base64url JSON
	DeviceCode     string      `json:"deviceCode"`
	SpecVersion    []string    `json:"specVersion"`
	Purpose        string      `json:"purpose"`
	Error          Error       `json:"error"`
}

// ErrorEntry is the single-element error answer of discovery and info:
// [{"error":{...}}].
type ErrorEntry struct {
	Error Error `json:"error"`
}

// InfoRequest is the optional MOSIPDINFO body ([SBI1]); [095] sends none.
type InfoRequest struct {
	Type        string     `json:"type,omitempty"`
	SpecVersion StringList `json:"specVersion,omitempty"`
}

// InfoEntry is one element of the MOSIPDINFO response array.
type InfoEntry struct {
	DeviceInfo string `json:"deviceInfo"` // JWS, or bare base64url when Not Registered
	Error      Error  `json:"error"`
}

// DeviceInfo is the decoded deviceInfo payload.
type DeviceInfo struct {
	DeviceStatus   string      `json:"deviceStatus"`
	DeviceID       string      `json:"deviceId"`
	Firmware       string      `json:"firmware"`
	Certification  string      `json:"certification"`
	ServiceVersion string      `json:"serviceVersion"`
	DeviceSubID    []NumString `json:"deviceSubId"`
	CallbackID     string      `json:"callbackId"`
	DigitalID      string      `json:"digitalId"`
	DeviceCode     string      `json:"deviceCode"`
	Env            string      `json:"env"`
	Purpose        string      `json:"purpose"`
	SpecVersion    []string    `json:"specVersion"`
	CamDimensions  []string    `json:"camDimensions,omitempty"` // [SBI1]
}

// DigitalID is the device identity (§3).
type DigitalID struct {
	SerialNo         string `json:"serialNo"`
	Make             string `json:"make"`
	Model            string `json:"model"`
	Type             string `json:"type"`
	DeviceSubType    string `json:"deviceSubType"`
	DeviceProvider   string `json:"deviceProvider"`
	DeviceProviderID string `json:"deviceProviderId"`
	DateTime         string `json:"dateTime"`
}

// CaptureRequest is the CAPTURE and RCAPTURE body. DomainURI is only sent
// for CAPTURE.
type CaptureRequest struct {
	Env           string          `json:"env"`
	Purpose       string          `json:"purpose"`
	SpecVersion   string          `json:"specVersion"`
	Timeout       NumString       `json:"timeout"`
	CaptureTime   string          `json:"captureTime"`
	DomainURI     string          `json:"domainUri,omitempty"`
	TransactionID string          `json:"transactionId"`
	Bio           []BioRequest    `json:"bio"`
	CustomOpts    json.RawMessage `json:"customOpts,omitempty"`
}

// BioRequest is one bio[] element. PreviousHash "", null and absent all
// mean "first capture".
type BioRequest struct {
	Type           string    `json:"type"`
	Count          NumString `json:"count"`
	BioSubType     []string  `json:"bioSubType"`
	Exception      []string  `json:"exception"` // written only when non-nil (RCAPTURE)
	RequestedScore NumString `json:"requestedScore"`
	DeviceID       string    `json:"deviceId"`
	DeviceSubID    NumString `json:"deviceSubId"`
	PreviousHash   string    `json:"previousHash"`
}

// MarshalJSON writes bioSubType always as an array (the CTK schemas want
// one) and exception only when set, since the CAPTURE schema forbids it.
func (b BioRequest) MarshalJSON() ([]byte, error) {
	type plain BioRequest
	type withExc struct {
		plain
		Exception []string `json:"exception"`
	}
	type noExc struct {
		plain
		Exception []string `json:"exception,omitempty"`
	}
	p := plain(b)
	if p.BioSubType == nil {
		p.BioSubType = []string{}
	}
	if b.Exception != nil {
		return json.Marshal(withExc{plain: p, Exception: b.Exception})
	}
	return json.Marshal(noExc{plain: p})
}

// CaptureResponse is the CAPTURE and RCAPTURE answer.
type CaptureResponse struct {
	Biometrics []Biometric `json:"biometrics"`
}

// Biometric is one biometrics[] entry. SessionKey and Thumbprint are
// present (possibly empty) in CAPTURE answers and absent in RCAPTURE ones,
// hence pointers.
type Biometric struct {
	SpecVersion    string          `json:"specVersion"`
	Data           string          `json:"data"`
	Hash           string          `json:"hash"`
	SessionKey     *string         `json:"sessionKey,omitempty"`
	Thumbprint     *string         `json:"thumbprint,omitempty"`
	Error          Error           `json:"error"`
	AdditionalInfo json.RawMessage `json:"additionalInfo,omitempty"`
}

// CaptureData is the decoded data JWS payload of one entry. BioSubType is
// omitted for Face; DomainURI is present only for Auth.
type CaptureData struct {
	DigitalID            string    `json:"digitalId"`
	DeviceCode           string    `json:"deviceCode"`
	DeviceServiceVersion string    `json:"deviceServiceVersion"`
	BioType              string    `json:"bioType"`
	BioSubType           string    `json:"bioSubType,omitempty"`
	Purpose              string    `json:"purpose"`
	Env                  string    `json:"env"`
	DomainURI            *string   `json:"domainUri,omitempty"`
	BioValue             string    `json:"bioValue"`
	TransactionID        string    `json:"transactionId"`
	Timestamp            string    `json:"timestamp"`
	RequestedScore       NumString `json:"requestedScore"`
	QualityScore         NumString `json:"qualityScore"`
}

// StreamRequest is the STREAM body. [SBI1] adds the fields after Timeout.
type StreamRequest struct {
	DeviceID    string    `json:"deviceId"`
	DeviceSubID NumString `json:"deviceSubId"`
	Timeout     NumString `json:"timeout,omitempty"`
	Type        string    `json:"type,omitempty"`
	SpecVersion string    `json:"specVersion,omitempty"`
	SerialNo    string    `json:"serialNo,omitempty"`
	Dimensions  string    `json:"dimensions,omitempty"`
}

// StreamError is the JSON a stream answers with on failure. The spec nests
// the error object; MockMDS sends it flat. Both are read.
type StreamError struct {
	Error     *Error    `json:"error,omitempty"`
	ErrorCode NumString `json:"errorCode,omitempty"`
	ErrorInfo string    `json:"errorInfo,omitempty"`
}

// Err returns the carried error object.
func (s StreamError) Err() Error {
	if s.Error != nil {
		return *s.Error
	}
	return Error{Code: s.ErrorCode, Info: s.ErrorInfo}
}

func strPtr(s string) *string { return &s }
