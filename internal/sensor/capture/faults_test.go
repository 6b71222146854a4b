package capture_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
)

// TestModuleUnpluggedMidCapture: the module stops answering at three points
// of a capture (before GenImg's reply, half-way through the image upload,
// right after the upload's acknowledgement). The capture fails with a line
// error, the Aura LED is not then commanded on the dead line (its retries
// would add 3 s to the caller's wait), and once the module is back the next
// capture succeeds on the same open port.
func TestModuleUnpluggedMidCapture(t *testing.T) {
	e := startEmu(t, emulator.Config{})
	d := open(t, capture.Config{Port: e.Path()})
	for name, after := range map[string]int{"before GenImg's reply": 1, "right after UpImage's ack": 3, "half-way through the image": 20} {
		t.Run(name, func(t *testing.T) {
			e.SetFaults(emulator.Faults{UnplugAfter: after})
			led := e.Stats().Commands["AuraLedConfig"]
			_, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1})
			if err == nil {
				t.Fatal("a capture from an unplugged module succeeded")
			}
			if !errors.Is(err, r30x.ErrNoAnswer) && !errors.Is(err, r30x.ErrTimeout) {
				t.Fatalf("unplugged %s: %v, want a no-answer or timeout error", name, err)
			}
			if n := e.Stats().Commands["AuraLedConfig"] - led; n != 1 {
				t.Fatalf("%d Aura LED commands for the failed capture, want 1 (on; never off on the dead line)", n)
			}
			if e.Stats().Dropped == 0 {
				t.Fatal("the emulator dropped nothing: the fault did not fire")
			}
			e.SetFaults(emulator.Faults{}) // plugged back in
			res, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1})
			if err != nil {
				t.Fatalf("after the module came back: %v", err)
			}
			if err := capture.CheckRecord(res.Record, capture.Auth); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestModuleAnswersGarbage: a line that only ever carries noise and broken
// packets fails the capture with a link error, then recovers.
func TestModuleAnswersGarbage(t *testing.T) {
	e := startEmu(t, emulator.Config{})
	d := open(t, capture.Config{Port: e.Path()})
	e.SetFaults(emulator.Faults{Garbage: 40, Corrupt: 1 << 20})
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1}); err == nil {
		t.Fatal("a capture over a line of garbage succeeded")
	}
	e.SetFaults(emulator.Faults{})
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1}); err != nil {
		t.Fatalf("after the line cleared: %v", err)
	}
}

// TestModuleStalls: replies that come later than the driver's per-reply
// timeout fail the capture; the caller's deadline is honoured (the
// context error or a timeout, not a hang); a late reply is not taken for
// the next command's answer once the line is healthy again.
func TestModuleStalls(t *testing.T) {
	e := startEmu(t, emulator.Config{})
	d := open(t, capture.Config{Port: e.Path()}) // 500 ms per reply
	e.SetFaults(emulator.Faults{Stall: 800 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := d.Capture(ctx, capture.Request{Purpose: capture.Auth, Position: 1})
	if err == nil {
		t.Fatal("a capture from a stalled module succeeded")
	}
	if !errors.Is(err, r30x.ErrTimeout) && !errors.Is(err, r30x.ErrNoAnswer) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled module: %v", err)
	}
	e.SetFaults(emulator.Faults{})
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1}); err != nil {
		t.Fatalf("after the stall: %v", err)
	}
}
