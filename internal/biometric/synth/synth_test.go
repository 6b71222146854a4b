package synth

import (
	"bytes"
	"image"
	"math"
	"testing"
)

func TestDeterministic(t *testing.T) {
	a := NewFinger(FingerSeed(3, 1), DefaultOptions).Impression(2, ImpressionOptions{})
	b := NewFinger(FingerSeed(3, 1), DefaultOptions).Impression(2, ImpressionOptions{})
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("same seeds gave different images")
	}
	c := NewFinger(FingerSeed(3, 1), DefaultOptions).Impression(3, ImpressionOptions{})
	if bytes.Equal(a.Pix, c.Pix) {
		t.Fatal("different impression seeds gave the same image")
	}
	if a.Bounds() != image.Rect(0, 0, DefaultWidth, DefaultHeight) {
		t.Fatalf("size %v", a.Bounds())
	}
	big := NewFinger(FingerSeed(3, 1), DefaultOptions).Impression(2, ImpressionOptions{Width: 400, Height: 480})
	if big.Bounds().Dx() != 400 || big.Bounds().Dy() != 480 {
		t.Fatalf("size %v", big.Bounds())
	}
}

// The classes come out of the Sherlock–Monro field: the Poincaré index
// around each core is +1/2 and around each delta -1/2.
func TestSingularPointsHaveTheirIndex(t *testing.T) {
	for _, cl := range []Class{TentedArch, LeftLoop, RightLoop, Whorl} {
		f := NewFinger(FingerSeed(9, uint64(cl)), Options{Class: cl})
		if f.Class != cl {
			t.Fatalf("class %v, want %v", f.Class, cl)
		}
		check := func(p Point, want float64, what string) {
			const r, n = 10.0, 64
			var sum float64
			prev := f.Orientation(p.X+r, p.Y)
			for i := 1; i <= n; i++ {
				a := 2 * math.Pi * float64(i) / n
				cur := f.Orientation(p.X+r*math.Cos(a), p.Y+r*math.Sin(a))
				d := cur - prev
				for d > math.Pi/2 {
					d -= math.Pi
				}
				for d < -math.Pi/2 {
					d += math.Pi
				}
				sum += d
				prev = cur
			}
			if got := sum / (2 * math.Pi); math.Abs(got-want) > 0.1 {
				t.Errorf("%v %s at %v: Poincaré index %.2f, want %.1f", cl, what, p, got, want)
			}
		}
		for _, c := range f.Cores {
			check(c, 0.5, "core")
		}
		for _, d := range f.Deltas {
			check(d, -0.5, "delta")
		}
	}
}

// Ridges: about 9 pixels apart at 500 ppi, with contrast between ridge and
// valley in the contact area.
func TestRidgePeriodAndContrast(t *testing.T) {
	f := NewFinger(FingerSeed(5, 0), DefaultOptions)
	img := f.Impression(0, ImpressionOptions{Noise: -1, Distortion: -1})
	// Count dark/bright transitions along the middle row.
	w := img.Bounds().Dx()
	row := img.Pix[img.Stride*img.Bounds().Dy()/2 : img.Stride*img.Bounds().Dy()/2+w]
	var mean float64
	for _, v := range row {
		mean += float64(v)
	}
	mean /= float64(w)
	var cross, first, last int
	first = -1
	for x := 1; x < w; x++ {
		if (float64(row[x-1]) < mean) != (float64(row[x]) < mean) {
			cross++
			if first < 0 {
				first = x
			}
			last = x
		}
	}
	if cross < 10 {
		t.Fatalf("only %d crossings on the middle row", cross)
	}
	// Two crossings per ridge period along a line that may cut ridges
	// obliquely: the apparent period is at least the true one.
	per := 2 * float64(last-first) / float64(cross-1)
	if per < 7 || per > 25 {
		t.Errorf("apparent ridge period %.1f px", per)
	}
}

func BenchmarkMaster(b *testing.B) {
	for i := 0; i < b.N; i++ {
		NewFinger(FingerSeed(1, uint64(i)), DefaultOptions)
	}
}

func BenchmarkImpression(b *testing.B) {
	f := NewFinger(FingerSeed(1, 0), DefaultOptions)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Impression(uint64(i), ImpressionOptions{})
	}
}
