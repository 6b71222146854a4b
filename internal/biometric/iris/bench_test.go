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
