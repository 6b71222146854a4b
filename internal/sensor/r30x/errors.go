package r30x

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

// Confirmation codes as errors, for errors.Is. A *CommandError unwraps to one
// of these.
var (
	ErrPacketReceive = error(proto.PacketReceiveErr)
	ErrNoFinger      = error(proto.NoFinger)
	ErrEnrollFailed  = error(proto.EnrollFailed)
	ErrUploadImage   = error(proto.UploadImageErr)
	ErrWrongPassword = error(proto.WrongPassword)
	ErrNoValidImage  = error(proto.NoValidImage)
	ErrMustVerifyPwd = error(proto.MustVerifyPwd)
	ErrSensorFault   = error(proto.SensorAbnormal)
)

// Link-level errors.
var (
	// ErrNoAnswer is what a *NoAnswerError unwraps to.
	ErrNoAnswer = errors.New("no answer from fingerprint module")
	// ErrTimeout means a reply started or was expected but did not complete in time.
	ErrTimeout = errors.New("timed out waiting for the fingerprint module")
	// ErrUnexpected means the module sent a well-formed packet that does not fit the exchange.
	ErrUnexpected = errors.New("unexpected packet from fingerprint module")
	// ErrImageData means UpImage delivered more or fewer bytes than the image needs.
	ErrImageData = errors.New("image data from fingerprint module has the wrong size")
)

// NoAnswerError says that nothing at all came back: the usual causes are a
// loose cable, the wrong baud rate or a module address that does not match.
type NoAnswerError struct {
	Port    string
	Baud    int
	Timeout time.Duration
	Tries   int
}

func (e *NoAnswerError) Error() string {
	port := e.Port
	if port == "" {
		port = "the serial port"
	}
	tries := ""
	if e.Tries > 1 {
		tries = fmt.Sprintf(" (%d tries)", e.Tries)
	}
	return fmt.Sprintf("no fingerprint module answered on %s at %d baud within %s%s: check the cable, baud rate and module address",
		port, e.Baud, e.Timeout, tries)
}

func (e *NoAnswerError) Unwrap() error { return ErrNoAnswer }

// CommandError is a non-zero confirmation code for a command.
type CommandError struct {
	Command string
	Code    proto.Code
}

func (e *CommandError) Error() string { return e.Command + ": " + e.Code.Error() }

// Unwrap returns the confirmation code, so errors.Is(err, ErrNoFinger) works.
func (e *CommandError) Unwrap() error { return e.Code }

// Code returns the confirmation code inside err, if there is one.
func Code(err error) (proto.Code, bool) {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.Code, true
	}
	return 0, false
}
