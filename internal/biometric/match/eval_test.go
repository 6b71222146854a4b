package match

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
	"github.com/edgetrust/edgetrust/internal/sensor/capture"
)

// corpus is a synthetic set: templates[finger][impression], each made
// the way an appliance sees it: impression 0 as a Registration record
// (JPEG 2000 lossless), the others as Auth records (JPEG 2000 lossy 10:1),
// every one through Fingerprint.Extract.
type corpus struct {
	templates [][]Template
	failed    int // samples that gave no template (failures to enrol/acquire)
	elapsed   time.Duration
}

func buildCorpus(t testing.TB, base uint64, fingers, imps int) *corpus {
	t.Helper()
	fp := NewFingerprint()
	c := &corpus{templates: make([][]Template, fingers)}
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < min(2, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f := synth.NewFinger(synth.FingerSeed(base, uint64(i)), synth.DefaultOptions)
				row := make([]Template, imps)
				for k := 0; k < imps; k++ {
					img := f.Impression(uint64(k), synth.ImpressionOptions{})
					o := capture.RecordOptions{Purpose: capture.Auth, CapturedAt: time.Unix(1_700_000_000, 0)}
					if k == 0 {
						o = capture.RecordOptions{Purpose: capture.Registration, Position: 2, CapturedAt: time.Unix(1_700_000_000, 0)}
					}
					rec, err := capture.BuildRecord(img, o)
					if err != nil {
						t.Error(err)
						return
					}
					tp, err := fp.Extract(rec)
					if err != nil {
						mu.Lock()
						c.failed++
						mu.Unlock()
						continue // Modality stays 0: such a sample scores 0
					}
					row[k] = tp
				}
				c.templates[i] = row
			}
		}()
	}
	for i := 0; i < fingers; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	c.elapsed = time.Since(start)
	return c
}

// scores: genuine = every pair of impressions of a finger; impostor =
// the Registration impression of finger i against the first Auth
// impression of finger j, for every i != j (both orders are different
// record pairs).
func (c *corpus) scores(fp *Fingerprint, allImpostors bool) (gen, imp []float64) {
	n := len(c.templates)
	for i := 0; i < n; i++ {
		row := c.templates[i]
		for a := 0; a < len(row); a++ {
			for b := a + 1; b < len(row); b++ {
				gen = append(gen, fp.Score(row[a], row[b]))
			}
		}
	}
	type job struct{ a, b *Template }
	var jobs []job
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			if allImpostors {
				if j < i {
					continue
				}
				for a := range c.templates[i] {
					for b := range c.templates[j] {
						jobs = append(jobs, job{&c.templates[i][a], &c.templates[j][b]})
					}
				}
			} else if len(c.templates[j]) > 1 {
				jobs = append(jobs, job{&c.templates[i][0], &c.templates[j][1]})
			}
		}
	}
	imp = make([]float64, len(jobs))
	var wg sync.WaitGroup
	workers := min(2, runtime.GOMAXPROCS(0))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < len(jobs); k += workers {
				imp[k] = fp.Score(*jobs[k].a, *jobs[k].b)
			}
		}(w)
	}
	wg.Wait()
	return gen, imp
}

// metrics of a genuine/impostor score set.
type metrics struct {
	nGen, nImp  int
	eer, eerThr float64
	// FNMR at the empirical thresholds for FMR targets.
	fnmrAt map[float64]float64
	thrAt  map[float64]float64
}

func computeMetrics(gen, imp []float64, targets []float64) metrics {
	g := append([]float64(nil), gen...)
	im := append([]float64(nil), imp...)
	sort.Float64s(g)
	sort.Float64s(im)
	m := metrics{nGen: len(g), nImp: len(im), fnmrAt: map[float64]float64{}, thrAt: map[float64]float64{}}
	fmr := func(t float64) float64 { // impostors >= t
		return float64(len(im)-sort.SearchFloat64s(im, t)) / float64(len(im))
	}
	fnmr := func(t float64) float64 { // genuines < t
		return float64(sort.SearchFloat64s(g, t)) / float64(len(g))
	}
	// EER: scan the candidate thresholds (all scores).
	cands := append(append([]float64(nil), g...), im...)
	sort.Float64s(cands)
	best := math.Inf(1)
	for _, t := range cands {
		a, b := fmr(t), fnmr(t)
		if d := math.Abs(a - b); d < best {
			best, m.eer, m.eerThr = d, (a+b)/2, t
		}
	}
	for _, target := range targets {
		// Lowest threshold with measured FMR <= target.
		k := int(math.Floor(target * float64(len(im)))) // impostors allowed at or above
		var t float64
		if k >= len(im) {
			t = im[0]
		} else {
			t = math.Nextafter(im[len(im)-1-k], math.Inf(1))
		}
		m.thrAt[target] = t
		m.fnmrAt[target] = fnmr(t)
	}
	return m
}

func quantiles(s []float64) string {
	x := append([]float64(nil), s...)
	sort.Float64s(x)
	q := func(p float64) float64 { return x[int(math.Round(p*float64(len(x)-1)))] }
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	return fmt.Sprintf("n=%d min %.4f p1 %.4f p5 %.4f p50 %.4f p95 %.4f p99 %.4f max %.4f mean %.4f",
		len(x), x[0], q(0.01), q(0.05), q(0.5), q(0.95), q(0.99), x[len(x)-1], mean)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSyntheticEvaluation measures the matcher on generated fingers:
// genuine and impostor score distributions, EER, FNMR at FMR targets, and
// the false-match rate the built-in calibration gives on fresh impostors.
// The default run is sized for CI (about 10 s; smaller under -race);
// EDGETRUST_EVAL_FINGERS and EDGETRUST_EVAL_IMPRESSIONS make it larger.
func TestSyntheticEvaluation(t *testing.T) {
	fingers, imps := 40, 4
	if testing.Short() {
		fingers, imps = 10, 3
	}
	if raceEnabled {
		fingers, imps = 5, 2 // exercises the concurrency, not the statistics
	}
	fingers = envInt("EDGETRUST_EVAL_FINGERS", fingers)
	imps = envInt("EDGETRUST_EVAL_IMPRESSIONS", imps)
	if imps < 2 {
		t.Fatal("need at least 2 impressions per finger")
	}
	// Seed base 1000 is kept apart from the calibration set (base 1).
	c := buildCorpus(t, 1000, fingers, imps)
	fp := NewFingerprint()
	start := time.Now()
	gen, imp := c.scores(fp, false)
	matchTime := time.Since(start)
	targets := []float64{1e-2, 1e-3}
	m := computeMetrics(gen, imp, targets)
	t.Logf("%d fingers x %d impressions: built in %v (%d samples without a template), %d comparisons in %v",
		fingers, imps, c.elapsed.Round(time.Millisecond), c.failed, len(gen)+len(imp), matchTime.Round(time.Millisecond))
	t.Logf("genuine  %s", quantiles(gen))
	t.Logf("impostor %s", quantiles(imp))
	t.Logf("EER %.2f%% at threshold %.4f", 100*m.eer, m.eerThr)
	for _, f := range targets {
		if f*float64(len(imp)) < 1 {
			t.Logf("FMR %.0e: not measurable with %d impostor pairs", f, len(imp))
			continue
		}
		t.Logf("FMR %.0e: empirical threshold %.4f, FNMR %.2f%%", f, m.thrAt[f], 100*m.fnmrAt[f])
	}
	// Zero false matches: just above the highest impostor score.
	maxImp := imp[0]
	for _, s := range imp {
		maxImp = math.Max(maxImp, s)
	}
	var below int
	for _, s := range gen {
		if s <= maxImp {
			below++
		}
	}
	t.Logf("zero false matches of %d (FMR < %.1e): threshold above %.4f, FNMR %.2f%%", len(imp), 1/float64(len(imp)), maxImp, 100*float64(below)/float64(len(gen)))
	// The built-in calibration on these fresh impostors.
	for _, f := range []float64{1e-2, 1e-3, 1e-4} {
		thr := fp.Threshold(f)
		var fm, nm int
		for _, s := range imp {
			if s >= thr {
				fm++
			}
		}
		for _, s := range gen {
			if s < thr {
				nm++
			}
		}
		t.Logf("calibrated threshold for FMR %.0e = %.4f: measured FMR %d/%d, FNMR %d/%d (%.2f%%)", f, thr, fm, len(imp), nm, len(gen), 100*float64(nm)/float64(len(gen)))
		if f == 1e-3 {
			// At most a handful above the expected count (Poisson tail
			// below 0.1 % for the default size).
			if limit := f*float64(len(imp)) + 4; float64(fm) > limit {
				t.Errorf("calibrated FMR 1e-3 threshold let %d of %d impostors through (limit %.0f)", fm, len(imp), limit)
			}
		}
	}
	// Honest bounds that a broken extractor or matcher would miss.
	if c.failed > fingers*imps/20 {
		t.Errorf("%d of %d samples gave no template", c.failed, fingers*imps)
	}
	maxEER := 0.05
	switch {
	case fingers < 8:
		maxEER = 0.3
	case fingers < 20:
		maxEER = 0.15
	}
	if m.eer > maxEER {
		t.Errorf("EER %.2f%% above %.0f%%", 100*m.eer, 100*maxEER)
	}
	if len(imp) >= 500 && m.fnmrAt[1e-3] > 0.15 {
		t.Errorf("FNMR at FMR 1e-3 is %.2f%%", 100*m.fnmrAt[1e-3])
	}
}

// TestCalibrationTable regenerates DefaultCalibration from synthetic
// impostors (every cross-finger pair of EDGETRUST_CALIBRATE fingers x 2
// impressions, seed base 1) and prints it as Go. It runs only on demand:
//
//	EDGETRUST_CALIBRATE=300 go test -run TestCalibrationTable -v -timeout 30m ./internal/biometric/match/
func TestCalibrationTable(t *testing.T) {
	n := envInt("EDGETRUST_CALIBRATE", 0)
	if n == 0 {
		t.Skip("set EDGETRUST_CALIBRATE=<fingers> to regenerate the calibration")
	}
	c := buildCorpus(t, 1, n, 2)
	fp := NewFingerprint()
	start := time.Now()
	gen, imp := c.scores(fp, true)
	t.Logf("%d fingers: %d genuine, %d impostor comparisons (%d samples failed) in %v + %v",
		n, len(gen), len(imp), c.failed, c.elapsed.Round(time.Second), time.Since(start).Round(time.Second))
	t.Logf("genuine  %s", quantiles(gen))
	t.Logf("impostor %s", quantiles(imp))
	fmrs := []float64{1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5}
	var usable []float64
	for _, f := range fmrs {
		if f*float64(len(imp)) >= 5 { // at least 5 impostors at the tail point
			usable = append(usable, f)
		}
	}
	cal := Calibrate(imp, usable)
	var b strings.Builder
	fmt.Fprintf(&b, "var DefaultCalibration = Calibration{\n")
	for _, p := range cal {
		fmt.Fprintf(&b, "\t{FMR: %g, Threshold: %.4f},\n", p.FMR, p.Threshold)
	}
	fmt.Fprintf(&b, "}\n")
	t.Logf("impostor pairs %d\n%s", len(imp), b.String())
}
