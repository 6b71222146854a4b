package sensors

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

func TestEmulatedFingerThroughRealDriver(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFinger(ctx, FingerConfig{Port: "emulated", Firmware: "2.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Firmware() != "2.1.0" {
		t.Fatalf("firmware %q, want what the module reported", f.Firmware())
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	segs, err := f.Capture(c, Spec{Purpose: sbi.PurposeRegistration, SubTypes: []string{"Left IndexFinger", "Left MiddleFinger"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[1].SubType != "Left MiddleFinger" {
		t.Fatalf("segments %+v", segs)
	}
	for _, s := range segs {
		if err := capture.CheckRecord(s.ISO, capture.Registration); err != nil {
			t.Fatalf("%s: %v", s.SubType, err)
		}
	}
	auth, err := f.Capture(c, Spec{Purpose: sbi.PurposeAuth, SubTypes: []string{"UNKNOWN"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(auth[0].ISO, capture.Auth); err != nil {
		t.Fatal(err)
	}
	fr, err := f.Frame(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(fr)); err != nil {
		t.Fatalf("preview frame is not a JPEG: %v", err)
	}
}

func TestFingerNoFingerTimesOut(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFinger(ctx, FingerConfig{Port: "emulated"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Emulator().SetFinger(false)
	c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = f.Capture(c, Spec{Purpose: sbi.PurposeAuth, SubTypes: []string{"UNKNOWN"}})
	if !errors.Is(err, ErrNoBiometric) {
		t.Fatalf("want ErrNoBiometric, got %v", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("gave up before the timeout")
	}
}

func TestSamplesServeValidRecords(t *testing.T) {
	for _, tc := range []struct {
		typ, purpose string
		subs         []string
		exc          []string
		modality     iso.Modality
	}{
		{sbi.TypeIris, sbi.PurposeAuth, []string{"UNKNOWN"}, nil, iso.Iris},
		{sbi.TypeIris, sbi.PurposeRegistration, []string{"Left", "Right"}, nil, iso.Iris},
		{sbi.TypeFace, sbi.PurposeAuth, []string{""}, nil, iso.Face},
		{sbi.TypeFace, sbi.PurposeRegistration, []string{""}, []string{"Left Thumb"}, iso.Face},
	} {
		s, err := NewSamples(tc.typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		segs, err := s.Capture(context.Background(), Spec{Purpose: tc.purpose, SubTypes: tc.subs, Exceptions: tc.exc})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(tc.subs) {
			t.Fatalf("%s %s: %d segments", tc.typ, tc.purpose, len(segs))
		}
		for _, sg := range segs {
			h, err := iso.Parse(sg.ISO)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.typ, tc.purpose, err)
			}
			if h.Modality != tc.modality {
				t.Fatalf("modality %v, want %v", h.Modality, tc.modality)
			}
		}
		if _, err := jpeg.Decode(bytes.NewReader(must(s.Frame(context.Background())))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewSamples(sbi.TypeFinger, 0); err == nil {
		t.Fatal("samples sensor for fingers accepted")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// An unreachable requested score still yields the best frame of every
// finger, at about the timeout (MOSIP's timeout cases with score 100).
func TestUnreachableScoreReturnsBestFramesAtTimeout(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFinger(ctx, FingerConfig{Port: "emulated"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	segs, err := f.Capture(c, Spec{Purpose: sbi.PurposeRegistration, RequestedScore: 101,
		SubTypes: []string{"Left IndexFinger", "Left MiddleFinger", "Left RingFinger", "Left LittleFinger"}})
	took := time.Since(start)
	if err != nil || len(segs) != 4 {
		t.Fatalf("%d segments, %v", len(segs), err)
	}
	if took < 1200*time.Millisecond || took > 3*time.Second {
		t.Fatalf("answered after %v; want about the 1.5 s timeout", took)
	}
}

func TestSamplesHonourScoreAndPresence(t *testing.T) {
	s, _ := NewSamples(sbi.TypeIris, 0)
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	segs, err := s.Capture(c, Spec{Purpose: sbi.PurposeAuth, SubTypes: []string{"UNKNOWN"}, RequestedScore: 100})
	if err != nil || len(segs) != 1 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("score above quality: %v after %v", err, time.Since(start))
	}
	s.SetPresent(false)
	c2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := s.Capture(c2, Spec{Purpose: sbi.PurposeAuth, SubTypes: []string{"UNKNOWN"}}); !errors.Is(err, ErrNoBiometric) {
		t.Fatalf("absent eye: %v", err)
	}
	s.SetPresent(true)
	if _, err := s.Capture(context.Background(), Spec{Purpose: sbi.PurposeAuth, SubTypes: []string{"UNKNOWN"}}); err != nil {
		t.Fatal(err)
	}
}
