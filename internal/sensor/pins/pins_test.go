package pins

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func newPin() *gpiotest.Pin {
	return &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, 4)}
}

func TestInitConfiguresEdgesAndPull(t *testing.T) {
	p := newPin()
	fd := &FingerDetect{Pin: p, Pull: gpio.PullDown}
	if err := fd.Init(); err != nil {
		t.Fatal(err)
	}
	if p.P != gpio.PullDown {
		t.Fatalf("pull %v, want PullDown", p.P)
	}
	// gpiotest refuses edge detection without an edge channel: proof that
	// Init asked for edges.
	if err := (&FingerDetect{Pin: &gpiotest.Pin{N: "X"}}).Init(); err == nil {
		t.Fatal("Init did not request edge detection")
	}
	if err := (&FingerDetect{}).Init(); err == nil {
		t.Fatal("Init without a pin succeeded")
	}
}

func TestWaitForTouchEdge(t *testing.T) {
	p := newPin()
	fd := &FingerDetect{Pin: p, Pull: gpio.PullDown}
	if err := fd.Init(); err != nil {
		t.Fatal(err)
	}
	if fd.Present() {
		t.Fatal("finger present before any edge")
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		p.EdgesChan <- gpio.Low // bounce: not a touch
		time.Sleep(30 * time.Millisecond)
		p.EdgesChan <- gpio.High
	}()
	start := time.Now()
	if err := fd.Wait(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 60*time.Millisecond || el > time.Second {
		t.Fatalf("returned after %v", el)
	}
	if !fd.Present() {
		t.Fatal("Present false after the touch edge")
	}
}

func TestWaitTimesOut(t *testing.T) {
	p := newPin()
	fd := &FingerDetect{Pin: p, Pull: gpio.PullDown}
	fd.Init()
	start := time.Now()
	err := fd.Wait(context.Background(), 120*time.Millisecond)
	if !errors.Is(err, ErrNoFinger) {
		t.Fatalf("err = %v, want ErrNoFinger", err)
	}
	if el := time.Since(start); el < 120*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", el)
	}
}

func TestWaitActiveLow(t *testing.T) {
	p := newPin()
	fd := &FingerDetect{Pin: p, ActiveLow: true, Pull: gpio.PullUp}
	fd.Init()
	if fd.Present() {
		t.Fatal("pulled-up line read as a finger")
	}
	p.EdgesChan <- gpio.Low
	if err := fd.Wait(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAlreadyPresent(t *testing.T) {
	p := newPin()
	fd := &FingerDetect{Pin: p}
	fd.Init()
	p.Out(gpio.High)
	start := time.Now()
	if err := fd.Wait(context.Background(), time.Second); err != nil || time.Since(start) > 20*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestWaitCancelled(t *testing.T) {
	fd := &FingerDetect{Pin: newPin(), Pull: gpio.PullDown}
	fd.Init()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	if err := fd.Wait(ctx, 10*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestLED(t *testing.T) {
	p := newPin()
	l := &LED{Pin: p}
	if err := l.Set(true); err != nil || p.Read() != gpio.High {
		t.Fatalf("on: %v %v", err, p.Read())
	}
	if err := l.Set(false); err != nil || p.Read() != gpio.Low {
		t.Fatalf("off: %v %v", err, p.Read())
	}
	l.ActiveLow = true
	if err := l.Set(true); err != nil || p.Read() != gpio.Low {
		t.Fatalf("active-low on: %v %v", err, p.Read())
	}
	if err := (&LED{}).Set(true); err == nil {
		t.Fatal("LED without a pin succeeded")
	}
}
