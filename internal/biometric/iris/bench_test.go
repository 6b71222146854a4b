package iris

import (
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

func BenchmarkSegment(b *testing.B) {
	img, _ := irissynth.New(1).Image(irissynth.Capture{Seed: 1, Blur: 1, Noise: 3, Occlusion: 0.3})
	b.ResetTimer()
	for range b.N {
		if _, err := Segment(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	img, _ := irissynth.New(1).Image(irissynth.Capture{Seed: 1, Blur: 1, Noise: 3, Occlusion: 0.3})
	b.ResetTimer()
	for range b.N {
		if _, _, err := Encode(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	ir := irissynth.New(1)
	i1, _ := ir.Image(irissynth.Capture{Seed: 1, Blur: 1, Noise: 3})
	i2, _ := ir.Image(irissynth.Capture{Seed: 2, Blur: 1, Noise: 3, Rotation: 0.05})
	t1, _, err := Encode(i1)
	if err != nil {
		b.Fatal(err)
	}
	t2, _, err := Encode(i2)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		Compare(t1, t2, DefaultShifts)
	}
}
