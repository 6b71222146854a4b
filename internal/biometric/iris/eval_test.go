package iris

import (
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

// evalCapture draws capture k of identity i: every condition varies at
// once, so genuine pairs differ in rotation (±8.6°), dilation (0.25–0.6),
// lid occlusion (0–0.5), defocus (σ 0.5–2 px) and noise (σ 1–6 grey
// levels) as well as position and size in the frame.
func evalCapture(i, k int) irissynth.Capture {
	r := rand.New(rand.NewPCG(uint64(i), uint64(k)))
	return irissynth.Capture{
		Seed:      uint64(1000*i + k),
		Rotation:  (r.Float64() - 0.5) * 0.3,
		Dilation:  0.25 + 0.35*r.Float64(),
		Occlusion: 0.5 * r.Float64(),
		Blur:      0.5 + 1.5*r.Float64(),
		Noise:     1 + 5*r.Float64(),
	}
}

// hardCapture widens the ranges evalCapture draws: dilation 0.2–0.65,
// occlusion to 0.7, defocus to σ 3, noise to σ 10 (rotation stays ±8.6°,
// so two captures differ by at most the ±17° the shift search covers).
func hardCapture(i, k int) irissynth.Capture {
	r := rand.New(rand.NewPCG(uint64(i), uint64(k)^0x68617264))
	return irissynth.Capture{
		Seed:      uint64(1000*i + k),
		Rotation:  (r.Float64() - 0.5) * 0.3,
		Dilation:  0.2 + 0.45*r.Float64(),
		Occlusion: 0.7 * r.Float64(),
		Blur:      0.5 + 2.5*r.Float64(),
		Noise:     1 + 9*r.Float64(),
	}
}

type rates struct {
	gen, imp       []float64
	bits           []int
	eer, fnmr3, t3 float64
	failed         int
}

func evaluate(t *testing.T, ids, caps int, capture func(i, k int) irissynth.Capture) rates {
	var r rates
	tps := make([][]*Template, ids)
	for i := range ids {
		ir := irissynth.New(irissynth.Seed(2026, uint64(i)))
		for k := range caps {
			img, _ := ir.Image(capture(i, k))
			tp, _, err := Encode(img)
			if err != nil {
				// A failure to enrol or acquire counts against the
				// genuine side, below.
				r.failed++
				t.Logf("identity %d capture %d: %v", i, k, err)
			}
			tps[i] = append(tps[i], tp)
		}
	}
	score := func(a, b *Template) float64 {
		if a == nil || b == nil {
			return 1
		}
		s := Compare(a, b, DefaultShifts)
		r.bits = append(r.bits, s.Bits)
		return s.Distance
	}
	for i := range ids {
		for k := range caps {
			for l := k + 1; l < caps; l++ {
				r.gen = append(r.gen, score(tps[i][k], tps[i][l]))
			}
			for j := i + 1; j < ids; j++ {
				for l := range caps {
					if tps[i][k] != nil && tps[j][l] != nil {
						r.imp = append(r.imp, score(tps[i][k], tps[j][l]))
					}
				}
			}
		}
	}
	sort.Ints(r.bits)
	sort.Float64s(r.gen)
	sort.Float64s(r.imp)
	// FMR 1e-3 threshold: the largest distance that accepts at most that
	// share of impostors.
	allowed := int(math.Floor(1e-3 * float64(len(r.imp))))
	r.t3 = r.imp[allowed] - 1e-9
	r.fnmr3 = frac(r.gen, func(d float64) bool { return d > r.t3 })
	// EER: the least, over thresholds, of the larger of FMR and FNMR
	// (one sweep over both sorted lists).
	r.eer = 1
	gi, ii := 0, 0 // genuine ≤ th, impostor ≤ th
	for gi < len(r.gen) || ii < len(r.imp) {
		th := math.Inf(1)
		if gi < len(r.gen) {
			th = r.gen[gi]
		}
		if ii < len(r.imp) && r.imp[ii] < th {
			th = r.imp[ii]
		}
		for gi < len(r.gen) && r.gen[gi] <= th {
			gi++
		}
		for ii < len(r.imp) && r.imp[ii] <= th {
			ii++
		}
		fmr := float64(ii) / float64(len(r.imp))
		fnmr := float64(len(r.gen)-gi) / float64(len(r.gen))
		r.eer = math.Min(r.eer, math.Max(fmr, fnmr))
	}
	t.Logf("%d identities × %d captures: %d genuine, %d impostor pairs, %d failed encodings", ids, caps, len(r.gen), len(r.imp), r.failed)
	t.Logf("bits compared: median %d (NominalBits %d)", r.bits[len(r.bits)/2], NominalBits)
	t.Logf("genuine  min/median/p99/max %.3f / %.3f / %.3f / %.3f", r.gen[0], r.gen[len(r.gen)/2], r.gen[len(r.gen)*99/100], r.gen[len(r.gen)-1])
	t.Logf("impostor min/p0.1/median/max %.3f / %.3f / %.3f / %.3f", r.imp[0], r.imp[allowed], r.imp[len(r.imp)/2], r.imp[len(r.imp)-1])
	t.Logf("EER %.4f; FMR 1e-3 threshold %.3f, FNMR there %.4f; at DefaultThreshold %.2f: FNMR %.4f, FMR %.5f",
		r.eer, r.t3, r.fnmr3, DefaultThreshold,
		frac(r.gen, func(d float64) bool { return d > DefaultThreshold }),
		frac(r.imp, func(d float64) bool { return d <= DefaultThreshold }))
	return r
}

func frac(v []float64, f func(float64) bool) float64 {
	n := 0
	for _, x := range v {
		if f(x) {
			n++
		}
	}
	return float64(n) / float64(len(v))
}

// TestErrorRates measures genuine and impostor distributions on synthetic
// eyes at CI size (40 identities × 3 captures: 120 genuine, 7,020
// impostor pairs). At this size one genuine pair is 0.83 % of FNMR, so the
// bounds say "at most one or two genuine failures", which is what the
// segmentation's worst cases (heavy occlusion with strong blur) allow.
// EDGETRUST_IRIS_LARGE=1 runs 200 × 4 (1,200 genuine, 318,000 impostor).
func TestErrorRates(t *testing.T) {
	ids, caps := 40, 3
	if os.Getenv("EDGETRUST_IRIS_LARGE") != "" {
		ids, caps = 200, 4
	} else if testing.Short() {
		t.Skip("error rates take seconds")
	}
	r := evaluate(t, ids, caps, evalCapture)
	if r.eer > 0.01 {
		t.Errorf("EER %.4f > 1%%", r.eer)
	}
	if r.fnmr3 > 0.02 {
		t.Errorf("FNMR at FMR 1e-3 %.4f > 2%%", r.fnmr3)
	}
	if fmr := frac(r.imp, func(d float64) bool { return d <= DefaultThreshold }); fmr > 0 && len(r.imp) < 1e5 {
		t.Errorf("DefaultThreshold %.2f accepts %.5f of impostors", DefaultThreshold, fmr)
	}
}

// TestErrorRatesHard measures (EDGETRUST_IRIS_LARGE=1 only) how the rates
// degrade past the conditions TestErrorRates holds to bounds; it asserts
// only that the pipeline runs, the figures go to docs/performance.md.
func TestErrorRatesHard(t *testing.T) {
	if os.Getenv("EDGETRUST_IRIS_LARGE") == "" {
		t.Skip("EDGETRUST_IRIS_LARGE=1 runs it")
	}
	evaluate(t, 100, 3, hardCapture)
}
