package pins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// ErrNoFinger is returned when no finger arrives before the timeout.
var ErrNoFinger = errors.New("pins: no finger detected before the timeout")

// FingerDetect is the touch-out line of the module.
type FingerDetect struct {
	Pin gpio.PinIn
	// ActiveLow is set when the line is pulled low by a finger. R503
	// modules drive it high on touch (the default).
	ActiveLow bool
	// Pull to configure; the zero value (gpio.Float) leaves the line
	// floating, right for modules that drive it push-pull.
	Pull gpio.Pull
}

// Init sets the pin as an input that reports both edges.
func (f *FingerDetect) Init() error {
	if f.Pin == nil {
		return errors.New("pins: no finger-detect pin")
	}
	if err := f.Pin.In(f.Pull, gpio.BothEdges); err != nil {
		return fmt.Errorf("pins: finger-detect %s: %w", f.Pin, err)
	}
	return nil
}

// Present reports whether a finger is on the sensor now.
func (f *FingerDetect) Present() bool {
	return f.Pin.Read() == f.active()
}

func (f *FingerDetect) active() gpio.Level {
	if f.ActiveLow {
		return gpio.Low
	}
	return gpio.High
}

// slice bounds each WaitForEdge so a cancelled context is noticed quickly.
const slice = 50 * time.Millisecond

// Wait blocks until a finger is present, the timeout passes (ErrNoFinger)
// or ctx ends. A finger already on the sensor returns at once.
func (f *FingerDetect) Wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if f.Present() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rem := time.Until(deadline)
		if rem <= 0 {
			return ErrNoFinger
		}
		f.Pin.WaitForEdge(min(rem, slice))
	}
}

// LED is an indicator on a GPIO output.
type LED struct {
	Pin       gpio.PinOut
	ActiveLow bool
}

// Set turns the LED on or off.
func (l *LED) Set(on bool) error {
	if l.Pin == nil {
		return errors.New("pins: no LED pin")
	}
	lvl := gpio.Level(on)
	if l.ActiveLow {
		lvl = !lvl
	}
	if err := l.Pin.Out(lvl); err != nil {
		return fmt.Errorf("pins: LED %s: %w", l.Pin, err)
	}
	return nil
}
