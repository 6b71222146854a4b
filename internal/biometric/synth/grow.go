package synth

import (
	"math"
	"math/rand/v2"
	"sync"
)

// Gabor kernel bank at half resolution, quantised by orientation and
// period. Each kernel is a list of (offset, weight) taps in a padded
// buffer of a given stride, so the inner loop has no bounds checks.
const (
	nOrient   = 32
	minPeriod = 3.5  // half-resolution pixels (7 at 500 ppi)
	maxPeriod = 7.0  // (14 at 500 ppi)
	periodBin = 0.25 // half-resolution pixels
	nPeriod   = int((maxPeriod-minPeriod)/periodBin) + 1
	maxRadius = 8
)

type tap struct {
	dx, dy int8
	w      float32
}

var (
	bankOnce sync.Once
	bank     [nOrient][nPeriod][]tap
)

func buildBank() {
	for oi := 0; oi < nOrient; oi++ {
		th := float64(oi) * math.Pi / nOrient
		c, s := math.Cos(th), math.Sin(th)
		for pi := 0; pi < nPeriod; pi++ {
			T := minPeriod + float64(pi)*periodBin
			sa, sn := 0.62*T, 0.42*T // along and across the ridges
			r := int(math.Min(maxRadius, math.Ceil(2.2*sa)))
			var taps []tap
			var mean, wsum float64
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					along := float64(dx)*c + float64(dy)*s
					across := -float64(dx)*s + float64(dy)*c
					env := math.Exp(-along*along/(2*sa*sa) - across*across/(2*sn*sn))
					if env < 0.04 {
						continue
					}
					g := env * math.Cos(2*math.Pi*across/T)
					taps = append(taps, tap{int8(dx), int8(dy), float32(g)})
					mean += g
					wsum += env
				}
			}
			// Zero DC, then unit gain for a matching sinusoid.
			var gain float64
			for i := range taps {
				along := float64(taps[i].dx)*c + float64(taps[i].dy)*s
				across := -float64(taps[i].dx)*s + float64(taps[i].dy)*c
				env := math.Exp(-along*along/(2*sa*sa) - across*across/(2*sn*sn))
				taps[i].w -= float32(env * mean / wsum)
				gain += float64(taps[i].w) * math.Cos(2*math.Pi*across/T)
			}
			for i := range taps {
				taps[i].w /= float32(gain)
			}
			bank[oi][pi] = taps
		}
	}
}

// grow fills f.ridge by iterative Gabor filtering from random seeds.
func (f *Finger) grow(r *rand.Rand, iters int) {
	bankOnce.Do(buildBank)
	const pad = maxRadius
	pw, ph := f.hw+2*pad, f.hh+2*pad
	cur := make([]float32, pw*ph)
	next := make([]float32, pw*ph)
	// Seeds: signed impulses on a jittered grid inside the pad.
	const spacing = 11.0
	for gy := spacing / 2; gy < float64(f.hh); gy += spacing {
		for gx := spacing / 2; gx < float64(f.hw); gx += spacing {
			x := int(gx + (r.Float64()-0.5)*spacing)
			y := int(gy + (r.Float64()-0.5)*spacing)
			if x < 0 || y < 0 || x >= f.hw || y >= f.hh || f.shape[y*f.hw+x] < 0.05 || r.Float64() < 0.35 {
				continue
			}
			v := float32(1)
			if r.IntN(2) == 0 {
				v = -1
			}
			cur[(y+pad)*pw+x+pad] = v
		}
	}
	// Per-pixel kernel choice and precomputed tap offsets.
	kern := make([][]tap, f.hw*f.hh)
	for i := range kern {
		th := math.Mod(float64(f.orient[i]), math.Pi)
		if th < 0 {
			th += math.Pi
		}
		oi := int(math.Round(th/(math.Pi/nOrient))) % nOrient
		pi := int(math.Round((float64(f.period[i])/2 - minPeriod) / periodBin))
		kern[i] = bank[oi][clampi(pi, 0, nPeriod-1)]
	}
	for it := 0; it < iters; it++ {
		var sum2 float64
		var cnt int
		for y := 0; y < f.hh; y++ {
			for x := 0; x < f.hw; x++ {
				i := y*f.hw + x
				if f.shape[i] <= 0 {
					continue // outside the pad the pattern stays empty
				}
				base := (y+pad)*pw + x + pad
				var v float32
				for _, t := range kern[i] {
					v += t.w * cur[base+int(t.dy)*pw+int(t.dx)]
				}
				next[base] = v
				if f.shape[i] > 0.5 {
					sum2 += float64(v * v)
					cnt++
				}
			}
		}
		// Normalise and saturate: what keeps ridges growing into empty
		// areas and turns the pattern binary-like.
		rms := math.Sqrt(sum2 / math.Max(1, float64(cnt)))
		g := float32(1.6 / math.Max(rms, 1e-6))
		for y := 0; y < f.hh; y++ {
			row := next[(y+pad)*pw+pad : (y+pad)*pw+pad+f.hw]
			for x, v := range row {
				v *= g
				if v > 1 {
					v = 1
				} else if v < -1 {
					v = -1
				}
				row[x] = v
			}
		}
		cur, next = next, cur
	}
	for y := 0; y < f.hh; y++ {
		copy(f.ridge[y*f.hw:(y+1)*f.hw], cur[(y+pad)*pw+pad:])
	}
}
