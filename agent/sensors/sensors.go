package sensors

import (
	"context"
	"errors"

	"github.com/edgetrust/edgetrust/sbi"
)

// Spec is one capture as the agent asks for it.
type Spec struct {
	Purpose        string   // sbi.PurposeAuth or sbi.PurposeRegistration
	SubTypes       []string // one per segment, in response order ("" for face)
	RequestedScore float64  // stop early once every segment reaches it
	Exceptions     []string // registration: subtypes that cannot be captured
}

// Sensor captures ISO/IEC 19794 records.
type Sensor interface {
	// Capture returns one segment per Spec.SubTypes entry. It returns as
	// soon as every segment meets RequestedScore, otherwise the best frames
	// it has when ctx ends. With nothing captured by then it fails with an
	// error wrapping ErrNoBiometric.
	Capture(ctx context.Context, s Spec) ([]sbi.Segment, error)
	// Frame returns one JPEG preview frame for STREAM.
	Frame(ctx context.Context) ([]byte, error)
	// Firmware is the sensor's firmware version as reported.
	Firmware() string
	Close() error
}

// ErrNoBiometric means no finger, eye or face was presented in time.
var ErrNoBiometric = errors.New("sensors: no biometric presented before the timeout")

// fingerPosition maps an SBI finger subtype to its ISO/IEC 19794-4 code.
func fingerPosition(sub string) byte {
	switch sub {
	case "Right Thumb":
		return 1
	case "Right IndexFinger":
		return 2
	case "Right MiddleFinger":
		return 3
	case "Right RingFinger":
		return 4
	case "Right LittleFinger":
		return 5
	case "Left Thumb":
		return 6
	case "Left IndexFinger":
		return 7
	case "Left MiddleFinger":
		return 8
	case "Left RingFinger":
		return 9
	case "Left LittleFinger":
		return 10
	}
	return 0
}
