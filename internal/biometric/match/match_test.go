package match

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/biometric/template"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func synthTemplate(t testing.TB, finger, imp uint64) Template {
	t.Helper()
	img := synth.NewFinger(synth.FingerSeed(77, finger), synth.DefaultOptions).Impression(imp, synth.ImpressionOptions{})
	tp, err := NewFingerprint().ExtractImage(img)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestIrisAndFaceAreNotSupported(t *testing.T) {
	for _, c := range []struct {
		file string
		mod  Modality
	}{{"mosip/auth_Left_Iris.iso", Iris}, {"mosip/auth_Face.iso", Face}} {
		rec := readTestdata(t, c.file)
		got, err := DetectModality(rec)
		if err != nil || got != c.mod {
			t.Fatalf("%s: modality %v, %v", c.file, got, err)
		}
		m := For(c.mod)
		_, err = m.Extract(rec)
		var ue *UnsupportedError
		if !errors.Is(err, ErrModalityNotSupported) || !errors.As(err, &ue) || ue.Modality != c.mod {
			t.Fatalf("%s: Extract error %v", c.file, err)
		}
		if !strings.Contains(err.Error(), "modality not supported here") {
			t.Errorf("message %q", err)
		}
		// The fingerprint matcher refuses them too, with the same error.
		if _, err := NewFingerprint().Extract(rec); !errors.Is(err, ErrModalityNotSupported) {
			t.Errorf("%s: fingerprint matcher said %v", c.file, err)
		}
		// Never a silent pass: nothing reaches the threshold, and Verify
		// fails loudly.
		tp := Template{Modality: c.mod}
		if s := m.Score(tp, tp); s != 0 || !math.IsInf(m.Threshold(1e-3), 1) {
			t.Errorf("score %v threshold %v", s, m.Threshold(1e-3))
		}
		ok, _, err := Verify(m, tp, tp, 1e-3)
		if ok || !errors.Is(err, ErrModalityNotSupported) {
			t.Errorf("Verify = %v, %v", ok, err)
		}
	}
	// A fingerprint template never matches a template of another modality.
	fp := NewFingerprint()
	ft := synthTemplate(t, 1, 0)
	if s := fp.Score(ft, Template{Modality: Iris, Minutiae: ft.Minutiae}); s != 0 {
		t.Errorf("cross-modality score %v", s)
	}
	if ok, _, err := Verify(fp, ft, Template{Modality: Face}, 1e-3); ok || err == nil {
		t.Errorf("cross-modality Verify = %v, %v", ok, err)
	}
}

func TestWSQIsReportedNotGuessed(t *testing.T) {
	_, err := NewFingerprint().Extract(readTestdata(t, "mosip/auth_Left_Index_wsq.iso"))
	if err == nil || !strings.Contains(err.Error(), "WSQ") {
		t.Fatalf("WSQ record: %v", err)
	}
}

func TestTemplateBinaryRoundTrip(t *testing.T) {
	fp := NewFingerprint()
	a := synthTemplate(t, 3, 0)
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 12+8*len(a.Minutiae) {
		t.Fatalf("%d bytes for %d minutiae", len(b), len(a.Minutiae))
	}
	var back Template
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(back.Minutiae) != len(a.Minutiae) || back.Quality != a.Quality {
		t.Fatal("minutiae or quality lost")
	}
	for i, m := range back.Minutiae {
		o := a.Minutiae[i]
		if math.Abs(m.X-o.X) > 1.0/16 || math.Abs(m.Y-o.Y) > 1.0/16 || math.Abs(angleDiff(m.Angle, o.Angle)) > 1e-4 || m.Type != o.Type {
			t.Fatalf("minutia %d: %+v -> %+v", i, o, m)
		}
	}
	self := fp.Score(a, a)
	if s := fp.Score(back, a); math.Abs(s-self) > 0.02 {
		t.Errorf("score after round trip %.4f, before %.4f", s, self)
	}
	for _, bad := range [][]byte{nil, b[:11], b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if err := back.UnmarshalBinary(bad); err == nil {
			t.Errorf("%d bytes accepted", len(bad))
		}
	}
	iris := append([]byte{}, b...)
	iris[4] = byte(Iris)
	if err := back.UnmarshalBinary(iris); !errors.Is(err, ErrModalityNotSupported) {
		t.Errorf("iris template: %v", err)
	}
}

func FuzzTemplateUnmarshal(f *testing.F) {
	a := synthTemplate(f, 3, 0)
	b, _ := a.MarshalBinary()
	f.Add(b)
	f.Add(b[:12])
	f.Fuzz(func(t *testing.T, b []byte) {
		var tp Template
		if err := tp.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := tp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again Template
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatal(err)
		}
		s := NewFingerprint().Score(tp, again)
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("score %v", s)
		}
	})
}

// Rotating and translating every minutia must not change the score much:
// the matcher is translation invariant and rotation invariant within the
// ±90° MCC allows between the directions of paired minutiae (a finger is
// never upside down on a sensor).
func TestRotationTranslationInvariance(t *testing.T) {
	fp := NewFingerprint()
	a := synthTemplate(t, 5, 0)
	self := fp.Score(a, a)
	if self < 0.5 {
		t.Fatalf("self score %.3f", self)
	}
	for _, rot := range []float64{-60, -35, -10, 20, 45} {
		r := rot * math.Pi / 180
		moved := Template{Modality: Finger}
		for _, m := range a.Minutiae {
			// Rotate about (128, 144) in the ISO frame (y down, angles
			// counter-clockwise on screen), then shift.
			dx, dy := m.X-128, -(m.Y - 144)
			x := math.Cos(r)*dx - math.Sin(r)*dy
			y := math.Sin(r)*dx + math.Cos(r)*dy
			m.X, m.Y = x+128+37, -y+144-21
			m.Angle = math.Mod(m.Angle+r+4*math.Pi, 2*math.Pi)
			moved.Minutiae = append(moved.Minutiae, m)
		}
		if s := fp.Score(a, moved); s < 0.9*self {
			t.Errorf("rotation %v°: score %.4f, self %.4f", rot, s, self)
		}
		if s1, s2 := fp.Score(a, moved), fp.Score(moved, a); math.Abs(s1-s2) > 0.05*self {
			t.Errorf("rotation %v°: asymmetric scores %.4f / %.4f", rot, s1, s2)
		}
	}
}

// A template written as ISO/IEC 19794-2:2011 (or any other format) and
// read back through Extract matches the original: templates from other
// extractors can be stored and compared.
func TestMinutiaeRecordsInterchange(t *testing.T) {
	fp := NewFingerprint()
	a := synthTemplate(t, 6, 0)
	b := synthTemplate(t, 6, 1)
	other := synthTemplate(t, 7, 0)
	direct := fp.Score(a, b)
	for _, f := range []template.Format{template.ISO2011, template.ISO2005, template.ANSI2004, template.ANSI2009} {
		rec, err := a.Set().Record(f, template.Options{Position: 2})
		if err != nil {
			t.Fatal(err)
		}
		bin, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := fp.Extract(bin)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		s := fp.Score(back, b)
		if math.Abs(s-direct) > 0.25*direct {
			t.Errorf("%v: genuine score %.4f via the record, %.4f direct", f, s, direct)
		}
		if imp := fp.Score(back, other); imp >= fp.Threshold(1e-3) {
			t.Errorf("%v: impostor scores %.4f", f, imp)
		}
	}
}

func TestCalibration(t *testing.T) {
	imp := make([]float64, 1000)
	for i := range imp {
		imp[i] = float64(i) / 1000 // 0.000 .. 0.999
	}
	c := Calibrate(imp, []float64{1e-1, 1e-2, 1e-3, 1e-4})
	if len(c) != 3 {
		t.Fatalf("calibration %v: 1e-4 is not measurable with 1000 scores", c)
	}
	for _, p := range c {
		n := 0
		for _, s := range imp {
			if s >= p.Threshold {
				n++
			}
		}
		if float64(n) > p.FMR*1000 {
			t.Errorf("threshold %v lets %d of 1000 through, FMR %v", p.Threshold, n, p.FMR)
		}
	}
	prev := math.Inf(-1)
	for _, f := range []float64{0.5, 1e-1, 3e-2, 1e-2, 1e-3, 1e-4, 1e-6} {
		th := c.Threshold(f)
		if th < prev {
			t.Errorf("threshold for %v (%v) below the one for a looser target (%v)", f, th, prev)
		}
		prev = th
	}
	if !math.IsInf(c.Threshold(0), 1) || !math.IsInf(Calibration(nil).Threshold(1e-3), 1) {
		t.Error("no calibration or FMR 0 must give an unreachable threshold")
	}
	// The built-in table is monotone too.
	prev = math.Inf(-1)
	for _, p := range DefaultCalibration {
		if p.Threshold < prev {
			t.Errorf("DefaultCalibration not monotone at %v", p)
		}
		prev = p.Threshold
	}
}

// MOSIP mock records: the Auth (lossy) and Registration (lossless)
// records of a finger position hold the same capture; different positions
// are different fingers.
func TestMOSIPRecords(t *testing.T) {
	fp := NewFingerprint()
	names := []string{"Left_Index", "Left_Thumb", "Right_Middle", "Right_Ring", "Right_Little"}
	if raceEnabled {
		names = names[2:]
	}
	auth := map[string]Template{}
	reg := map[string]Template{}
	for _, n := range names {
		var err error
		if auth[n], err = fp.Extract(readTestdata(t, "mosip/auth_"+n+".iso")); err != nil {
			t.Fatalf("auth %s: %v", n, err)
		}
		if reg[n], err = fp.Extract(readTestdata(t, "mosip/registration_"+n+".iso")); err != nil {
			t.Fatalf("registration %s: %v", n, err)
		}
	}
	thr := fp.Threshold(1e-3)
	minGen, maxImp := math.Inf(1), math.Inf(-1)
	for _, a := range names {
		for _, r := range names {
			s := fp.Score(auth[a], reg[r])
			if a == r {
				minGen = math.Min(minGen, s)
				if s < thr {
					t.Errorf("%s: Auth vs Registration %.4f below the FMR 1e-3 threshold %.4f", a, s, thr)
				}
			} else {
				maxImp = math.Max(maxImp, s)
				if s >= thr {
					t.Errorf("auth %s vs registration %s: %.4f reaches the FMR 1e-3 threshold %.4f", a, r, s, thr)
				}
			}
		}
	}
	t.Logf("genuine min %.4f, impostor max %.4f, threshold@1e-3 %.4f", minGen, maxImp, thr)
}
