package match

import (
	"context"
	"image"
	"log/slog"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
)

// End to end: the R30x emulator serves synthetic impressions over a
// pseudo-terminal, the real driver captures them into ISO/IEC 19794-4
// records (Registration lossless, then Auth lossy), and the matcher
// extracts and compares those records. The module's 4-bit pixel upload is
// part of the path.
func TestEmulatorCapturedRecordsMatch(t *testing.T) {
	const fingers = 3
	var frames []*image.Gray
	for i := 0; i < fingers; i++ {
		f := synth.NewFinger(synth.FingerSeed(4242, uint64(i)), synth.DefaultOptions)
		frames = append(frames, f.Impression(0, synth.ImpressionOptions{}), f.Impression(1, synth.ImpressionOptions{}))
	}
	em, err := emulator.Start(emulator.Config{Images: frames, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	ctx := context.Background()
	dev, err := capture.Open(ctx, capture.Config{Port: em.Path(), Timeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	fp := NewFingerprint()
	var enrolled, probes []Template
	for i := 0; i < fingers; i++ {
		for k, p := range []capture.Purpose{capture.Registration, capture.Auth} {
			res, err := dev.Capture(ctx, capture.Request{Purpose: p, Position: 2, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := capture.CheckRecord(res.Record, p); err != nil {
				t.Fatal(err)
			}
			tp, err := fp.Extract(res.Record)
			if err != nil {
				t.Fatalf("finger %d impression %d: %v", i, k, err)
			}
			if k == 0 {
				enrolled = append(enrolled, tp)
			} else {
				probes = append(probes, tp)
			}
		}
	}
	thr := fp.Threshold(1e-3)
	for i := range probes {
		for j := range enrolled {
			ok, s, err := Verify(fp, probes[i], enrolled[j], 1e-3)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("probe %d vs enrolled %d: %.4f (threshold %.4f)", i, j, s, thr)
			if i == j && !ok {
				t.Errorf("finger %d: genuine pair rejected (%.4f)", i, s)
			}
			if i != j && ok {
				t.Errorf("probe %d matched enrolled %d (%.4f)", i, j, s)
			}
		}
	}
}
