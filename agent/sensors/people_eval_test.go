package sensors

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/sbi"
)

// rates summarises genuine and impostor distance distributions (lower is
// more alike): EER, and FNMR at the thresholds that give FMR ≤ 1e-3 and
// ≤ 1e-4 (when there are enough impostor pairs to say; else "n/a").
type rates struct {
	gen, imp []float64
}

func (r *rates) fnmrAt(fmr float64) (float64, float64, bool) {
	if float64(len(r.imp))*fmr < 1 {
		return 0, 0, false // fewer impostor pairs than 1/fmr: the rate cannot be resolved
	}
	sort.Float64s(r.imp)
	k := int(fmr * float64(len(r.imp))) // impostors allowed at or under the threshold
	t := r.imp[k] - 1e-9                // just under the (k+1)-th smallest impostor
	miss := 0
	for _, g := range r.gen {
		if g > t {
			miss++
		}
	}
	return float64(miss) / float64(len(r.gen)), t, true
}

func (r *rates) eer() float64 {
	all := append(append([]float64{}, r.gen...), r.imp...)
	sort.Float64s(all)
	best := 1.0
	for _, t := range all {
		fm, fnm := 0, 0
		for _, x := range r.imp {
			if x <= t {
				fm++
			}
		}
		for _, x := range r.gen {
			if x > t {
				fnm++
			}
		}
		a, b := float64(fm)/float64(len(r.imp)), float64(fnm)/float64(len(r.gen))
		if e := max(a, b); e < best {
			best = e
		}
	}
	return best
}

func quantiles(x []float64) string {
	s := append([]float64{}, x...)
	sort.Float64s(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("n=%d min %.3f p1 %.3f median %.3f p99 %.3f max %.3f", len(s), s[0], q(0.01), q(0.5), q(0.99), s[len(s)-1])
}

func (r *rates) report(t *testing.T, name string) {
	t.Logf("%s genuine:  %s", name, quantiles(r.gen))
	t.Logf("%s impostor: %s", name, quantiles(r.imp))
	t.Logf("%s EER %.4f", name, r.eer())
	for _, f := range []float64{1e-3, 1e-4} {
		if fnmr, th, ok := r.fnmrAt(f); ok {
			t.Logf("%s FMR %g: FNMR %.4f at distance %.3f", name, f, fnmr, th)
		} else {
			t.Logf("%s FMR %g: n/a (%d impostor pairs)", name, f, len(r.imp))
		}
	}
}

// TestPeopleErrorRates measures the matchers on exactly what the emulated
// sensors give the appliance: registration captures (lossless JPEG 2000)
// enrolled, auth captures (lossy 10:1) compared with every enrolment.
// CI size: 15 people (30 eyes) × 2 auth captures, the 12 faces × 2; with
// EDGETRUST_PEOPLE_LARGE=1, 100 people (200 eyes) × 3 and the faces × 6.
// Synthetic rates are not real-world rates (docs/performance.md).
func TestPeopleErrorRates(t *testing.T) {
	people, probes, faceProbes := 15, 2, 2
	if os.Getenv("EDGETRUST_PEOPLE_LARGE") != "" {
		people, probes, faceProbes = 100, 3, 6
	}
	if testing.Short() {
		t.Skip("measures error rates")
	}
	// Iris.
	var eyes []*iris.Template
	var probeOf [][]*iris.Template
	for p := range people {
		for _, eye := range []string{"Left", "Right"} {
			enc := func(purpose string, k uint64) *iris.Template {
				rec, err := irisRecord(uint64(p), eye, k, purpose, 80)
				if err != nil {
					t.Fatal(err)
				}
				img, _, err := isoimage.DecodeIris(rec)
				if err != nil {
					t.Fatal(err)
				}
				tp, _, err := iris.Encode(img)
				if err != nil {
					t.Fatalf("person %d %s eye, capture %d: %v", p, eye, k, err)
				}
				return tp
			}
			eyes = append(eyes, enc(sbi.PurposeRegistration, 1000))
			var ps []*iris.Template
			for k := range probes {
				ps = append(ps, enc(sbi.PurposeAuth, uint64(k)))
			}
			probeOf = append(probeOf, ps)
		}
	}
	var ir rates
	for i, e := range eyes {
		for j, ps := range probeOf {
			for _, pr := range ps {
				d := iris.Compare(pr, e, iris.DefaultShifts).Distance
				if i == j {
					ir.gen = append(ir.gen, d)
				} else {
					ir.imp = append(ir.imp, d)
				}
			}
		}
	}
	ir.report(t, "iris")
	if e := ir.eer(); e > 0.01 {
		t.Errorf("iris EER %.4f over 1%% on synthetic eyes", e)
	}
	falseMatches := 0
	for _, d := range ir.imp {
		if d <= iris.DefaultThreshold {
			falseMatches++
		}
	}
	t.Logf("iris at the default threshold %.2f: %d of %d impostor pairs match", iris.DefaultThreshold, falseMatches, len(ir.imp))
	if falseMatches > 0 {
		t.Errorf("%d impostor eye pairs under the default threshold", falseMatches)
	}

	// Face.
	m, err := face.Default()
	if err != nil {
		t.Fatal(err)
	}
	// A capture where no face (or more than one) is found is a failure to
	// acquire: counted, not compared.
	fta, captures := 0, 0
	desc := func(seed, k uint64, purpose string) (face.Descriptor, bool) {
		captures++
		rec, err := faceRecord(seed, k, purpose, 80)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := isoimage.DecodeFace(rec)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := m.Descriptor(img)
		if err != nil {
			fta++
			t.Logf("face %d capture %d: failure to acquire: %v", seed, k, err)
			return d, false
		}
		return d, true
	}
	var enrolled []face.Descriptor
	var fprobes [][]face.Descriptor
	for id := range uint64(FaceIdentities) {
		e, ok := desc(id, 1000, sbi.PurposeRegistration)
		if !ok {
			t.Fatalf("face %d cannot be enrolled", id)
		}
		enrolled = append(enrolled, e)
		var ps []face.Descriptor
		for k := range faceProbes {
			if d, ok := desc(id, uint64(k), sbi.PurposeAuth); ok {
				ps = append(ps, d)
			}
		}
		fprobes = append(fprobes, ps)
	}
	t.Logf("face failures to acquire: %d of %d captures", fta, captures)
	if fta*20 > captures {
		t.Errorf("%d of %d face captures found no face (over 5 %%)", fta, captures)
	}
	var fr rates
	for i, e := range enrolled {
		for j, ps := range fprobes {
			for _, p := range ps {
				d := float64(face.Distance(p, e))
				if i == j {
					fr.gen = append(fr.gen, d)
				} else {
					fr.imp = append(fr.imp, d)
				}
			}
		}
	}
	fr.report(t, "face")
	for _, g := range fr.gen {
		if g >= face.DefaultThreshold {
			t.Errorf("a genuine face pair at %.3f, over the default threshold", g)
		}
	}
}
