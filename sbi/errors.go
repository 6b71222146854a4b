package sbi

// Error is the {"errorCode","errorInfo"} object every SBI answer carries.
// errorCode is always written as a JSON string.
type Error struct {
	Code NumString `json:"errorCode"`
	Info string    `json:"errorInfo"`
}

// Success is the exact success object the CTK requires.
var Success = Error{Code: CodeSuccess, Info: "Success"}

// OK reports whether e is the success object.
func (e Error) OK() bool { return e.Code == CodeSuccess }

func (e Error) Error() string { return "sbi: error " + string(e.Code) + ": " + e.Info }

// Error codes. 0 and 100-112 and 202 are normative ([095] §6.1); the rest
// are MockMDS codes, used here as vendor codes (spec digest §6.2).
const (
	CodeSuccess              = "0"
	CodeNotRegistered        = "100"
	CodeNoBiometric          = "101"
	CodeExtraction           = "102"
	CodeTamper               = "103"
	CodeManagementServer     = "104"
	CodeOrientation          = "105"
	CodeDeviceNotFound       = "106"
	CodeKeyExpired           = "107"
	CodeDomainKeyMissing     = "108"
	CodeCountNotSupported    = "109"
	CodeNotReady             = "110"
	CodeBusy                 = "111"
	CodeInvalidTransactionID = "112"
	CodeNoDeviceConnected    = "202"

	// Vendor codes (MockMDS numbering).
	CodeCountMismatch     = "113"
	CodeTypeMismatch      = "114"
	CodeEnvMismatch       = "115"
	CodeInvalidCount      = "116"
	CodeInvalidException  = "117"
	CodeInvalidSubtype    = "119"
	CodeDeviceMismatch    = "120"
	CodePurposeMismatch   = "121"
	CodeSubtypeVsType     = "122"
	CodeMalformedRequest  = "123"
	CodeInvalidType       = "502" // discovery with an unknown type
	CodeStreamNotAllowed  = "601"
	CodeStreamFailed      = "604"
	CodeRCaptureTimeout   = "701"
	CodeStreamMismatch    = "702"
	CodeRCaptureRunning   = "703"
	CodeCaptureTimeout    = "801"
	CodeCaptureRunning    = "803"
	CodeCaptureNotAllowed = "809"
	CodeUnknown           = "999"
)

var codeInfo = map[string]string{
	CodeSuccess:              "Success",
	CodeNotRegistered:        "Device not registered",
	CodeNoBiometric:          "Unable to detect a biometric object",
	CodeExtraction:           "Technical error during extraction",
	CodeTamper:               "Device tamper detected",
	CodeManagementServer:     "Unable to connect to management server",
	CodeOrientation:          "Image orientation error",
	CodeDeviceNotFound:       "Device not found",
	CodeKeyExpired:           "Device public key expired",
	CodeDomainKeyMissing:     "Domain public key missing",
	CodeCountNotSupported:    "Requested number of biometric (Finger/IRIS) not supported",
	CodeNotReady:             "Device is not ready",
	CodeBusy:                 "Device is busy",
	CodeInvalidTransactionID: "Invalid transaction ID",
	CodeNoDeviceConnected:    "No Device Connected.",
	CodeCountMismatch:        "Count mismatch",
	CodeTypeMismatch:         "Biometric type mismatch",
	CodeEnvMismatch:          "Invalid environment",
	CodeInvalidCount:         "Invalid count value",
	CodeInvalidException:     "Invalid exception value",
	CodeInvalidSubtype:       "Invalid bioSubType value",
	CodeDeviceMismatch:       "Biometric type does not match the device",
	CodePurposeMismatch:      "Purpose mismatch",
	CodeSubtypeVsType:        "bioSubType or exception does not match the device",
	CodeMalformedRequest:     "Malformed request",
	CodeInvalidType:          "Invalid type value",
	CodeStreamNotAllowed:     "Stream is not allowed on this device",
	CodeStreamFailed:         "Stream failed",
	CodeRCaptureTimeout:      "Registration capture timed out",
	CodeStreamMismatch:       "Capture device does not match the open stream",
	CodeRCaptureRunning:      "Registration capture already running",
	CodeCaptureTimeout:       "Capture timed out",
	CodeCaptureRunning:       "Capture already running",
	CodeCaptureNotAllowed:    "Capture is not allowed on this device",
	CodeUnknown:              "Unknown error",
}

// CodeInfo returns the default English text for a code ("" if unknown).
func CodeInfo(code string) string { return codeInfo[code] }

// NewError returns the error object for code with its default text.
func NewError(code string) Error {
	info := codeInfo[code]
	if info == "" {
		info = codeInfo[CodeUnknown]
	}
	return Error{Code: NumString(code), Info: info}
}

// ValidErrorCode reports whether code matches the CTK error pattern ^[1-9][0-9][0-9]$.
func ValidErrorCode(code string) bool {
	return len(code) == 3 && code[0] >= '1' && code[0] <= '9' && allDigits(code)
}
