package sensors

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
	"github.com/edgetrust/edgetrust/sbi"
)

// FingerConfig opens a fingerprint module.
type FingerConfig struct {
	// Port is a serial device, "usb:VID:PID", "auto", or "emulated" to start
	// the R30x emulator on a pseudo-terminal and talk to it through the
	// real driver.
	Port string
	Baud int
	// Firmware is what an emulated module reports.
	Firmware   string
	MinVersion firmware.MinVersionStore
	PCR        firmware.PCRExtender
	PCRIndex   int
	Logger     *slog.Logger
}

// Finger is a fingerprint module behind the firmware bridge.
type Finger struct {
	mu  sync.Mutex // one conversation with the module at a time
	dev *capture.Device
	emu *emulator.Emulator
	fw  string

	// A synthetic person on the emulated glass (PresentPerson).
	person  *syntheticPerson
	fingers map[fingerKey]*synth.Finger
}

type syntheticPerson struct {
	seed    uint64
	unknown byte // finger position presented for bioSubType UNKNOWN
}

type fingerKey struct {
	seed uint64
	pos  byte
}

// OpenFinger opens (and for "emulated", first starts) the module. Opening
// measures the firmware into the PCR and refuses it below the pinned minimum.
func OpenFinger(ctx context.Context, c FingerConfig) (*Finger, error) {
	f := &Finger{}
	port := c.Port
	if port == "emulated" {
		fw := c.Firmware
		if fw == "" {
			fw = "1.0.0"
		}
		emu, err := emulator.Start(emulator.Config{Firmware: fw, Logger: c.Logger})
		if err != nil {
			return nil, fmt.Errorf("starting the sensor emulator: %w", err)
		}
		f.emu, port = emu, emu.Path()
	}
	dev, err := capture.Open(ctx, capture.Config{
		Port: port, Baud: c.Baud, MinVersion: c.MinVersion, PCR: c.PCR, PCRIndex: c.PCRIndex, Logger: c.Logger,
	})
	if err != nil {
		if f.emu != nil {
			f.emu.Close()
		}
		return nil, err
	}
	f.dev, f.fw = dev, dev.Info().Firmware
	return f, nil
}

// Emulator returns the emulated module, or nil for real hardware. Tests and
// the control socket use it to take the finger off the glass.
func (f *Finger) Emulator() *emulator.Emulator { return f.emu }

// PresentPerson puts synthetic person seed's fingers on the emulated glass:
// each capture of a bioSubType then serves a fresh impression (new pose,
// pressure, noise) of that person's finger, drawn with the SFinGe-style
// generator in internal/biometric/synth — finger i of person s is
// synth.FingerSeed(s, i), i the ISO finger position 1–10. unknownAs is the
// finger an "UNKNOWN" bioSubType gets (e.g. "Right IndexFinger"). It is a
// test and demonstration aid for emulated sensors only.
func (f *Finger) PresentPerson(seed uint64, unknownAs string) error {
	if f.emu == nil {
		return errors.New("a synthetic person can be presented only to an emulated sensor")
	}
	pos := fingerPosition(unknownAs)
	if unknownAs == "" {
		pos = fingerPosition("Right IndexFinger")
	}
	if pos == 0 {
		return fmt.Errorf("unknown finger %q: want e.g. \"Right IndexFinger\" or \"Left Thumb\"", unknownAs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.person = &syntheticPerson{seed: seed, unknown: pos}
	f.emu.SetFinger(true)
	return nil
}

// presentFinger points the emulator at the presented person's finger at pos.
// Called with f.mu held.
func (f *Finger) presentFinger(pos byte) {
	if f.emu == nil || f.person == nil {
		return
	}
	if pos == 0 {
		pos = f.person.unknown
	}
	k := fingerKey{f.person.seed, pos}
	fg := f.fingers[k]
	if fg == nil {
		if f.fingers == nil {
			f.fingers = map[fingerKey]*synth.Finger{}
		}
		fg = synth.NewFinger(synth.FingerSeed(k.seed, uint64(pos)), synth.DefaultOptions)
		f.fingers[k] = fg
	}
	var b [8]byte
	rand.Read(b[:])
	impression := binary.LittleEndian.Uint64(b[:])
	f.emu.SetSource(func(frame int) *image.Gray {
		return fg.Impression(impression+uint64(frame), synth.ImpressionOptions{})
	})
}

// Firmware implements Sensor.
func (f *Finger) Firmware() string { return f.fw }

// Capture implements Sensor: one finger at a time, in order. Each finger gets
// an equal share of the time left and is re-captured until it meets the
// requested score or its share ends, keeping its best frame; so an
// unreachable score still yields the best frame of every finger at about
// the timeout. A finger never presented is waited for until the deadline.
func (f *Finger) Capture(ctx context.Context, s Spec) ([]sbi.Segment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	purpose := capture.Auth
	if s.Purpose == sbi.PurposeRegistration {
		purpose = capture.Registration
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	out := make([]sbi.Segment, 0, len(s.SubTypes))
	for i, sub := range s.SubTypes {
		pos := fingerPosition(sub)
		f.presentFinger(pos)
		share := time.Now().Add(time.Until(deadline) / time.Duration(len(s.SubTypes)-i))
		var best *capture.Result
		for {
			wait := share
			if best == nil {
				wait = deadline // no frame yet: keep waiting for the finger
			}
			res, err := f.dev.Capture(ctx, capture.Request{Purpose: purpose, Position: pos, Timeout: timeUntil(wait)})
			// A module that stopped answering is a device failure even
			// when the request's deadline ran out while waiting for it:
			// only "no finger" (and the caller's own cancellation) mean
			// no biometric.
			if err != nil && !errors.Is(err, capture.ErrNoFinger) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			if err == nil && (best == nil || res.Quality > best.Quality) {
				best = res
			}
			if best != nil && (float64(best.Quality) >= s.RequestedScore || !time.Now().Before(share)) {
				break
			}
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				break
			}
		}
		if best == nil {
			return nil, fmt.Errorf("%w (%s)", ErrNoBiometric, sub)
		}
		out = append(out, sbi.Segment{Type: sbi.TypeFinger, SubType: sub, ISO: best.Record, Quality: float64(best.Quality)})
	}
	return out, nil
}

// Frame implements Sensor with a live image from the module.
func (f *Finger) Frame(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.dev.Sensor()
	if err := s.GenImg(ctx); err != nil {
		return nil, err
	}
	img, err := s.UpImage(ctx)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Close implements Sensor.
func (f *Finger) Close() error {
	err := f.dev.Close()
	if f.emu != nil {
		err = errors.Join(err, f.emu.Close())
	}
	return err
}
