package irissynth

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"testing"
)

func TestDeterministic(t *testing.T) {
	c := Capture{Seed: 3, Rotation: 0.1, Dilation: 0.5, Occlusion: 0.3, Blur: 1, Noise: 4}
	a, ta := New(Seed(1, 2)).Image(c)
	b, tb := New(Seed(1, 2)).Image(c)
	if !bytes.Equal(a.Pix, b.Pix) || ta.Pupil != tb.Pupil || ta.Occluded != tb.Occluded {
		t.Fatal("same seeds gave different images")
	}
	c.Seed = 4
	d, _ := New(Seed(1, 2)).Image(c)
	if bytes.Equal(a.Pix, d.Pix) {
		t.Fatal("different capture seeds gave the same image")
	}
	if a.Rect.Dx() != Width || a.Rect.Dy() != Height {
		t.Fatalf("size %v", a.Rect)
	}
	if os.Getenv("EDGETRUST_IRIS_PNG") != "" {
		f, _ := os.Create(os.Getenv("EDGETRUST_IRIS_PNG"))
		png.Encode(f, a)
		f.Close()
	}
}

// The frame shows what the truth says: dark inside the pupil, mid grey in
// the iris, brighter sclera beside the limbus.
func TestTruthMatchesPixels(t *testing.T) {
	for id := range uint64(5) {
		ir := New(Seed(9, id))
		img, tr := ir.Image(Capture{Seed: id, Dilation: 0.3 + 0.05*float64(id)})
		mean := func(c Circle, r0, r1 float64, side bool) float64 {
			var s, n float64
			for a := 0.0; a < 2*math.Pi; a += 0.01 {
				if side && math.Abs(math.Sin(a)) > 0.5 { // left and right only: lids
					continue
				}
				for rr := r0; rr < r1; rr++ {
					x, y := int(c.X+rr*math.Cos(a)), int(c.Y+rr*math.Sin(a))
					if v := float64(img.GrayAt(x, y).Y); v < 200 { // not a reflection
						s += v
						n++
					}
				}
			}
			return s / n
		}
		p := mean(tr.Pupil, 0, tr.Pupil.R-2, false)
		i := mean(tr.Iris, tr.Pupil.R+6, tr.Iris.R-6, true)
		s := mean(tr.Iris, tr.Iris.R+4, tr.Iris.R+12, true)
		if !(p < 60 && p+30 < i && i+20 < s) {
			t.Errorf("identity %d: pupil %.0f, iris %.0f, sclera %.0f", id, p, i, s)
		}
		if tr.Occluded < 0 || tr.Occluded > 0.3 {
			t.Errorf("identity %d: occluded %.2f with no lid occlusion asked", id, tr.Occluded)
		}
	}
}

func TestOcclusionGrows(t *testing.T) {
	ir := New(Seed(2, 0))
	var last float64 = -1
	for _, o := range []float64{0, 0.3, 0.6} {
		_, tr := ir.Image(Capture{Seed: 1, Occlusion: o})
		if tr.Occluded <= last {
			t.Fatalf("occlusion %.1f hides %.2f, not more than %.2f", o, tr.Occluded, last)
		}
		last = tr.Occluded
	}
}

func BenchmarkNew(b *testing.B) {
	for i := range b.N {
		New(uint64(i))
	}
}

func BenchmarkImage(b *testing.B) {
	ir := New(1)
	for i := range b.N {
		ir.Image(Capture{Seed: uint64(i), Blur: 1, Noise: 3, Occlusion: 0.3})
	}
}
