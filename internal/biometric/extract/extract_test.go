package extract

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/biometric/template"
)

func impression(finger, imp uint64, o synth.ImpressionOptions) *image.Gray {
	return synth.NewFinger(synth.FingerSeed(21, finger), synth.DefaultOptions).Impression(imp, o)
}

// fingers is how many synthetic fingers a test uses: n, or fewer under
// the race detector.
func fingers(n uint64) uint64 {
	if raceEnabled {
		return max(1, n/3)
	}
	return n
}

func TestExtractSynthetic(t *testing.T) {
	for i := uint64(0); i < fingers(4); i++ {
		img := impression(i, 0, synth.ImpressionOptions{})
		r, err := Extract(img)
		if err != nil {
			t.Fatal(err)
		}
		n := len(r.Set.Minutiae)
		t.Logf("finger %d: %d minutiae, foreground %.2f, period %.1f px, quality %d", i, n, r.Foreground, r.MeanPeriod, r.Set.Quality)
		if n < 12 || n > 90 {
			t.Errorf("finger %d: %d minutiae in a 256x288 impression", i, n)
		}
		if r.MeanPeriod < 7 || r.MeanPeriod > 12.5 {
			t.Errorf("finger %d: ridge period %.1f px, generator draws 8.2..10.2 (wider near singularities)", i, r.MeanPeriod)
		}
		if r.Foreground < 0.3 {
			t.Errorf("finger %d: foreground %.2f", i, r.Foreground)
		}
		for _, m := range r.Set.Minutiae {
			if m.X < 0 || m.Y < 0 || m.X >= 256 || m.Y >= 288 || m.Angle < 0 || m.Angle >= 2*math.Pi || m.Quality == 0 || m.Quality > 100 {
				t.Fatalf("minutia %+v", m)
			}
		}
	}
}

func TestNoFinger(t *testing.T) {
	// An empty optical sensor: bright, with sensor noise.
	blank := image.NewGray(image.Rect(0, 0, 256, 288))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range blank.Pix {
		blank.Pix[i] = uint8(228 + 3*r.NormFloat64())
	}
	if _, err := Extract(blank); !errors.Is(err, ErrNoFinger) {
		t.Errorf("blank image: %v", err)
	}
	if _, err := Extract(image.NewGray(image.Rect(0, 0, 32, 300))); err == nil {
		t.Error("32-pixel-wide image accepted")
	}
}

// The same impression with and without noise, pressure and distortion
// effects (same pose): most minutiae of the clean image are found again
// at the same place with the same direction.
func TestMinutiaeStableUnderNoise(t *testing.T) {
	var found, total int
	for i := uint64(0); i < 4; i++ { // full size under -race too: a rate needs the sample
		clean, err := Extract(impression(i, 1, synth.ImpressionOptions{Noise: -1}))
		if err != nil {
			t.Fatal(err)
		}
		noisy, err := Extract(impression(i, 1, synth.ImpressionOptions{Noise: 1.3}))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range clean.Set.Minutiae {
			total++
			for _, o := range noisy.Set.Minutiae {
				if math.Hypot(m.X-o.X, m.Y-o.Y) <= 8 && math.Abs(math.Remainder(m.Angle-o.Angle, 2*math.Pi)) < math.Pi/6 {
					found++
					break
				}
			}
		}
	}
	rate := float64(found) / float64(total)
	t.Logf("%d of %d clean minutiae found again under noise (%.0f%%)", found, total, 100*rate)
	if rate < 0.55 {
		t.Errorf("only %.0f%% of minutiae survive noise", 100*rate)
	}
}

// The ISO/ANSI direction convention: a ridge ending points along its
// ridge (dark ahead, valley behind); a bifurcation points into the valley
// between its branches (bright ahead, the trunk ridge behind).
func TestDirectionConvention(t *testing.T) {
	var ok, n int
	for i := uint64(0); i < fingers(6); i++ {
		img := impression(i, 0, synth.ImpressionOptions{Noise: -1})
		r, err := Extract(img)
		if err != nil {
			t.Fatal(err)
		}
		at := func(x, y float64) float64 {
			xi, yi := int(math.Round(x)), int(math.Round(y))
			var s float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := min(max(xi+dx, 0), 255), min(max(yi+dy, 0), 287)
					s += float64(img.Pix[yy*img.Stride+xx])
				}
			}
			return s / 9
		}
		for _, m := range r.Set.Minutiae {
			dx, dy := math.Cos(m.Angle), -math.Sin(m.Angle)
			ahead := at(m.X+5*dx, m.Y+5*dy)
			behind := at(m.X-5*dx, m.Y-5*dy)
			n++
			if (m.Type == template.RidgeEnding && ahead < behind) || (m.Type == template.Bifurcation && ahead > behind) {
				ok++
			}
		}
	}
	rate := float64(ok) / float64(n)
	t.Logf("%d of %d minutiae follow the ISO direction convention (%.0f%%)", ok, n, 100*rate)
	if rate < 0.8 {
		t.Errorf("only %.0f%% of minutiae point the ISO way", 100*rate)
	}
}

// Our minutiae written as ISO/IEC 19794-2:2011 and read back.
func TestWritesISO2011(t *testing.T) {
	r, err := Extract(impression(2, 0, synth.ImpressionOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Set.Record(template.ISO2011, template.Options{Position: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := template.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := back.Set(0)
	if back.Format != template.ISO2011 || s.Position != 7 || len(s.Minutiae) != len(r.Set.Minutiae) || s.Width != 256 || s.Height != 288 {
		t.Fatalf("read back %v pos %d, %d minutiae, %vx%v", back.Format, s.Position, len(s.Minutiae), s.Width, s.Height)
	}
	for i, m := range s.Minutiae {
		o := r.Set.Minutiae[i]
		if math.Abs(m.X-o.X) > 0.5 || math.Abs(m.Y-o.Y) > 0.5 || m.Type != o.Type || math.Abs(math.Remainder(m.Angle-o.Angle, 2*math.Pi)) > 0.71*math.Pi/180 {
			t.Errorf("minutia %d: %+v -> %+v", i, o, m)
		}
	}
}

// BenchmarkExtract is minutiae extraction from one 256x288 image.
func BenchmarkExtract(b *testing.B) {
	img := impression(0, 0, synth.ImpressionOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Extract(img); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParallelEnhanceIsExact: the row-parallel loops give the same
// minutiae, bit for bit, as one worker, so no template or error rate moves.
func TestParallelEnhanceIsExact(t *testing.T) {
	defer func(w int) { Workers = w }(Workers)
	for i := 0; i < 3; i++ {
		img := impression(uint64(i), uint64(i), synth.ImpressionOptions{})
		Workers = 1
		one, err := Extract(img)
		if err != nil {
			t.Fatal(err)
		}
		Workers = 4
		four, err := Extract(img)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one, four) {
			t.Fatalf("impression %d: 4 workers found %d minutiae, 1 worker %d, or other values", i, len(four.Set.Minutiae), len(one.Set.Minutiae))
		}
	}
}
