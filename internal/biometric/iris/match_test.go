package iris

import (
	"math"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

func encodeT(t testing.TB, ir *irissynth.Iris, c irissynth.Capture) *Template {
	t.Helper()
	img, _ := ir.Image(c)
	tp, _, err := Encode(img)
	if err != nil {
		t.Fatalf("identity %x capture %+v: %v", ir.Seed, c, err)
	}
	return tp
}

func TestGenuineBelowImpostor(t *testing.T) {
	const n = 6
	cs := captures(2 * n)
	var gen, imp []float64
	ts := make([][2]*Template, n)
	for i := range n {
		ir := irissynth.New(irissynth.Seed(11, uint64(i)))
		ts[i] = [2]*Template{encodeT(t, ir, cs[2*i]), encodeT(t, ir, cs[2*i+1])}
		s := Compare(ts[i][0], ts[i][1], DefaultShifts)
		gen = append(gen, s.Distance)
		t.Logf("genuine %d: %+v", i, s)
	}
	for i := range n {
		for j := range n {
			if i != j {
				s := Compare(ts[i][0], ts[j][1], DefaultShifts)
				imp = append(imp, s.Distance)
			}
		}
	}
	gmax, imin := slicesMax(gen), -slicesMax(neg(imp))
	t.Logf("genuine max %.3f, impostor min %.3f", gmax, imin)
	if gmax >= DefaultThreshold || imin <= DefaultThreshold || gmax+0.05 > imin {
		t.Errorf("genuine max %.3f vs impostor min %.3f (threshold %.2f)", gmax, imin, DefaultThreshold)
	}
}

func TestShiftRecoversRotation(t *testing.T) {
	ir := irissynth.New(irissynth.Seed(3, 1))
	base := irissynth.Capture{Seed: 1, Blur: 0.8, Noise: 2, Centered: true}
	a := encodeT(t, ir, base)
	step := 2 * math.Pi / Cols
	for _, cols := range []int{-10, -4, 0, 3, 9} {
		c := base
		c.Seed = 2
		c.Rotation = float64(cols) * step
		s := Compare(a, encodeT(t, ir, c), DefaultShifts)
		if abs(s.Shift-cols) > 1 {
			t.Errorf("rotated %d columns: shift %d", cols, s.Shift)
		}
		if s.Distance > DefaultThreshold {
			t.Errorf("rotated %d columns: distance %.3f", cols, s.Distance)
		}
	}
}

func TestCompareSelfAndSymmetry(t *testing.T) {
	ir := irissynth.New(7)
	a := encodeT(t, ir, irissynth.Capture{Seed: 1, Occlusion: 0.3})
	b := encodeT(t, ir, irissynth.Capture{Seed: 2, Rotation: 0.04})
	if s := Compare(a, a, 0); s.Raw != 0 || s.Shift != 0 || s.Bits != 2*a.Valid() {
		t.Errorf("self: %+v, valid %d", s, a.Valid())
	}
	ab, ba := Compare(a, b, DefaultShifts), Compare(b, a, DefaultShifts)
	if ab.Distance != ba.Distance || ab.Shift != -ba.Shift {
		t.Errorf("asymmetric: %+v vs %+v", ab, ba)
	}
	var empty Template
	if s := Compare(a, &empty, DefaultShifts); s.Distance != 1 || s.Bits != 0 {
		t.Errorf("empty mask: %+v", s)
	}
}

// rotate against a bit-by-bit reference.
func TestRotate(t *testing.T) {
	src := []uint64{0x0123456789abcdef, 0xfedcba9876543210, 0xdeadbeefcafef00d, 0x8000000000000001}
	get := func(w []uint64, i int) uint64 { return w[i/64] >> (i % 64) & 1 }
	dst := make([]uint64, 4)
	for s := 0; s < Cols; s++ {
		rotate(dst, src, s/64, uint(s%64))
		for i := range Cols {
			if get(dst, i) != get(src, (i+s)%Cols) {
				t.Fatalf("shift %d bit %d", s, i)
			}
		}
	}
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func neg(v []float64) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = -x
	}
	return o
}
