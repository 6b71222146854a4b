package match

import (
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/sensor/capture"
)

// BenchmarkScore is one 1:1 comparison of two templates whose cylinders
// are built (what an appliance does with a cached template).
func BenchmarkScore(b *testing.B) {
	fp := NewFingerprint()
	x, y := synthTemplate(b, 11, 0), synthTemplate(b, 11, 1)
	b.ReportMetric(float64(len(x.Minutiae)), "minutiae")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fp.Score(x, y)
	}
}

// BenchmarkScoreImpostor compares two different fingers.
func BenchmarkScoreImpostor(b *testing.B) {
	fp := NewFingerprint()
	x, y := synthTemplate(b, 11, 0), synthTemplate(b, 12, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fp.Score(x, y)
	}
}

// BenchmarkLoadTemplate decodes a cached template and builds its
// cylinders.
func BenchmarkLoadTemplate(b *testing.B) {
	bin, err := synthTemplate(b, 11, 0).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var t Template
		if err := t.UnmarshalBinary(bin); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractAuthRecord is the whole authentication-side extraction:
// parse a 256x288 Auth record, decode JPEG 2000, extract minutiae, build
// cylinders.
func BenchmarkExtractAuthRecord(b *testing.B) {
	img := synth.NewFinger(synth.FingerSeed(11, 0), synth.DefaultOptions).Impression(1, synth.ImpressionOptions{})
	rec, err := capture.BuildRecord(img, capture.RecordOptions{Purpose: capture.Auth, CapturedAt: time.Unix(1_700_000_000, 0)})
	if err != nil {
		b.Fatal(err)
	}
	fp := NewFingerprint()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fp.Extract(rec); err != nil {
			b.Fatal(err)
		}
	}
}
