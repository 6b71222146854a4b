package iris

import (
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

// The mask covers what the truth says is hidden, roughly: the fraction of
// masked locations grows with occlusion, and a clean eye is mostly valid.
func TestMaskFollowsOcclusion(t *testing.T) {
	ir := irissynth.New(irissynth.Seed(4, 0))
	last := -1.0
	for _, o := range []float64{0, 0.3, 0.6} {
		img, tr := ir.Image(irissynth.Capture{Seed: 1, Occlusion: o, Noise: 2})
		tp, _, err := Encode(img)
		if err != nil {
			t.Fatal(err)
		}
		masked := 1 - float64(tp.Valid())/(Rows*Cols)
		t.Logf("occlusion %.1f: truth hides %.2f, mask %.2f", o, tr.Occluded, masked)
		if masked <= last || masked < tr.Occluded-0.1 {
			t.Errorf("occlusion %.1f: masked %.2f (truth %.2f, previous %.2f)", o, masked, tr.Occluded, last)
		}
		if o == 0 && masked > 0.35 {
			t.Errorf("clean eye: %.2f masked", masked)
		}
		last = masked
	}
}

func TestEncodeRefusesFlat(t *testing.T) {
	if _, _, err := Encode(grey(640, 480, 90)); err == nil {
		t.Error("flat frame encoded")
	}
}

func TestFFTInverse(t *testing.T) {
	a := make([]complex128, 512)
	for i := range a {
		a[i] = complex(float64(i%7)-3, float64(i%5))
	}
	b := append([]complex128(nil), a...)
	fft(b, false)
	fft(b, true)
	for i := range a {
		if d := b[i]/512 - a[i]; real(d)*real(d)+imag(d)*imag(d) > 1e-18 {
			t.Fatalf("bin %d: %v vs %v", i, b[i]/512, a[i])
		}
	}
}
