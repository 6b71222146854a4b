package sensors

import (
	"context"
	"embed"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
)

//go:embed samples/*.iso samples/*.jpeg
var samples embed.FS

// Samples is an emulated iris or face sensor. It serves MOSIP's sample ISO
// records (see samples/SOURCES.md) until a synthetic person is presented
// (PresentPerson); then it captures that person's eyes or face afresh each
// time. It is named for what it is: a stand-in for camera hardware we
// cannot reach here.
type Samples struct {
	typ     string
	quality float64
	delay   time.Duration
	frame   atomic.Int64
	absent  atomic.Bool
	person  atomic.Pointer[uint64]
	shots   atomic.Uint64
}

// PresentPerson puts synthetic person seed in front of the camera: an iris
// sensor then captures that person's eyes (irissynth identities
// irissynth.Seed(IrisSeedBase, 2·seed) left and 2·seed+1 right; an UNKNOWN
// eye is the left one), a face sensor the person's face (one of
// FaceIdentities portraits, seed mod FaceIdentities), each capture a new
// image of the same eye or face, like the finger sensors' fresh
// impressions.
func (s *Samples) PresentPerson(seed uint64) {
	s.person.Store(&seed)
	s.absent.Store(false)
}

// SetPresent puts an eye or face in front of the emulated camera (true,
// the default) or takes it away, for tests and compliance runs.
func (s *Samples) SetPresent(present bool) { s.absent.Store(!present) }

// NewSamples returns an emulated sensor for sbi.TypeIris or sbi.TypeFace.
// delay is how long a capture takes, like a camera settling.
func NewSamples(typ string, delay time.Duration) (*Samples, error) {
	if typ != sbi.TypeIris && typ != sbi.TypeFace {
		return nil, fmt.Errorf("sensors: no sample records for %q", typ)
	}
	return &Samples{typ: typ, quality: 80, delay: delay}, nil
}

func (s *Samples) record(purpose, sub string, exceptions []string) ([]byte, error) {
	if p := s.person.Load(); p != nil {
		k := s.shots.Add(1)
		if s.typ == sbi.TypeFace {
			return faceRecord(*p, k, purpose, s.quality)
		}
		return irisRecord(*p, sub, k, purpose, s.quality)
	}
	prefix := "auth_"
	if purpose == sbi.PurposeRegistration {
		prefix = "registration_"
	}
	var name string
	switch {
	case s.typ == sbi.TypeFace && purpose == sbi.PurposeRegistration && len(exceptions) > 0:
		name = "Exception_Photo"
	case s.typ == sbi.TypeFace:
		name = "Face"
	case sub == "Left":
		name = "Left_Iris"
	case sub == "Right":
		name = "Right_Iris"
	case purpose == sbi.PurposeAuth:
		name = "Iris_UNKNOWN"
	default:
		name = "Left_Iris"
	}
	return samples.ReadFile("samples/" + prefix + name + ".iso")
}

// Capture implements Sensor. Like a camera that keeps trying for a better
// frame, it waits until the deadline when its quality is below the requested
// score, then returns what it has; with nothing presented it waits until
// the deadline and fails.
func (s *Samples) Capture(ctx context.Context, sp Spec) ([]sbi.Segment, error) {
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%s)", ErrNoBiometric, s.typ)
	case <-time.After(s.delay):
	}
	if s.absent.Load() {
		<-ctx.Done()
		return nil, fmt.Errorf("%w (%s)", ErrNoBiometric, s.typ)
	}
	if s.quality < sp.RequestedScore {
		<-ctx.Done()
	}
	out := make([]sbi.Segment, 0, len(sp.SubTypes))
	for _, sub := range sp.SubTypes {
		rec, err := s.record(sp.Purpose, sub, sp.Exceptions)
		if err != nil {
			return nil, err
		}
		out = append(out, sbi.Segment{Type: s.typ, SubType: sub, ISO: rec, Quality: s.quality})
	}
	return out, nil
}

// Frame implements Sensor by cycling through the sample preview frames.
func (s *Samples) Frame(ctx context.Context) ([]byte, error) {
	if s.typ == sbi.TypeFace {
		return samples.ReadFile("samples/face_0.jpeg")
	}
	n := s.frame.Add(1)%3 + 1
	return samples.ReadFile(fmt.Sprintf("samples/iris_double_%d.jpeg", n))
}

// Firmware implements Sensor.
func (s *Samples) Firmware() string { return "emulated-1.0.0" }

// Close implements Sensor.
func (s *Samples) Close() error { return nil }

func timeUntil(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	d := time.Until(t)
	if d <= 0 {
		return time.Millisecond
	}
	return d
}
