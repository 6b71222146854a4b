package irissynth

import (
	"math"
	"math/rand/v2"
)

// Frame size of every capture.
const (
	Width  = 640
	Height = 480
)

// Texture resolution on the rubber sheet (radial × angular).
const (
	texR = 64
	texT = 1024
)

// Iris is one identity: its texture and the parts of the eye's geometry
// that belong to the person rather than to the capture.
type Iris struct {
	Seed uint64
	// Radius is the limbus radius in pixels at nominal distance.
	Radius float64
	// PupilOffset is the pupil centre's offset from the iris centre, as a
	// fraction of Radius (pupils sit slightly nasal and inferior).
	PupilDX, PupilDY float64
	mean, contrast   float64
	tex              []float32 // texR × texT, zero mean, unit deviation
}

// Seed derives the seed of identity i of a set with base seed base (a
// SplitMix64 step, so neighbouring identities share nothing).
func Seed(base, i uint64) uint64 {
	z := base*0x9E3779B97F4A7C15 + (i+1)*0xBF58476D1CE4E5B9
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// New makes the iris of identity seed.
func New(seed uint64) *Iris {
	r := rand.New(rand.NewPCG(seed, 0x69726973)) // "iris"
	ir := &Iris{Seed: seed}
	ir.Radius = 100 + 18*r.Float64()
	ir.PupilDX = (r.Float64() - 0.5) * 0.08
	ir.PupilDY = r.Float64() * 0.05
	ir.mean = 95 + 30*r.Float64()
	ir.contrast = 18 + 10*r.Float64()
	tex := make([]float64, texR*texT)

	// Smooth noise at several scales, periodic in angle.
	for _, l := range []struct {
		nr, nt int
		amp    float64
	}{{3, 24, 1.0}, {6, 48, 0.9}, {10, 96, 0.8}, {16, 160, 0.6}, {24, 256, 0.35}} {
		g := make([]float64, (l.nr+1)*l.nt)
		for i := range g {
			g[i] = r.NormFloat64() * l.amp
		}
		for y := 0; y < texR; y++ {
			fy := float64(y) / (texR - 1) * float64(l.nr)
			y0 := min(int(fy), l.nr-1)
			wy := smooth(fy - float64(y0))
			for x := 0; x < texT; x++ {
				fx := float64(x) / texT * float64(l.nt)
				x0 := int(fx)
				wx := smooth(fx - float64(x0))
				x1 := (x0 + 1) % l.nt
				a := g[y0*l.nt+x0]*(1-wx) + g[y0*l.nt+x1]*wx
				b := g[(y0+1)*l.nt+x0]*(1-wx) + g[(y0+1)*l.nt+x1]*wx
				tex[y*texT+x] += a*(1-wy) + b*wy
			}
		}
	}
	// Radial furrows: thin dark streaks with a slight twist.
	for range 45 {
		t0 := r.Float64() * 2 * math.Pi
		twist := (r.Float64() - 0.5) * 0.3
		w := 0.006 + 0.012*r.Float64()
		r0, r1 := r.Float64()*0.5, 0.5+r.Float64()*0.5
		depth := 0.8 + 1.2*r.Float64()
		ir.stamp(tex, func(rr, t float64) float64 {
			if rr < r0 || rr > r1 {
				return 0
			}
			d := angDiff(t, t0+twist*rr)
			if math.Abs(d) > 4*w {
				return 0
			}
			fade := math.Sin(math.Pi * (rr - r0) / (r1 - r0))
			return -depth * fade * math.Exp(-d*d/(2*w*w))
		}, t0-0.5, t0+0.5)
	}
	// Crypts: dark blobs.
	for range 14 {
		t0 := r.Float64() * 2 * math.Pi
		r0 := 0.15 + 0.7*r.Float64()
		sr, st := 0.03+0.06*r.Float64(), 0.02+0.05*r.Float64()
		depth := 1 + 1.5*r.Float64()
		ir.stamp(tex, func(rr, t float64) float64 {
			d := angDiff(t, t0)
			if math.Abs(d) > 4*st {
				return 0
			}
			u, v := (rr-r0)/sr, d/st
			return -depth * math.Exp(-(u*u+v*v)/2)
		}, t0-4*st, t0+4*st)
	}
	// Collarette: a bright wavy ring, the pupillary zone slightly brighter.
	rc := 0.25 + 0.15*r.Float64()
	k, ph, wa := float64(5+r.IntN(8)), r.Float64()*2*math.Pi, 0.02+0.03*r.Float64()
	ir.stamp(tex, func(rr, t float64) float64 {
		c := rc + wa*math.Sin(k*t+ph)
		d := (rr - c) / 0.025
		v := 1.2 * math.Exp(-d*d/2)
		if rr < c {
			v += 0.4
		}
		return v
	}, 0, 2*math.Pi)

	var s, ss float64
	for _, v := range tex {
		s += v
		ss += v * v
	}
	n := float64(len(tex))
	m := s / n
	sd := math.Sqrt(ss/n - m*m)
	ir.tex = make([]float32, len(tex))
	for i, v := range tex {
		ir.tex[i] = float32((v - m) / sd)
	}
	return ir
}

// stamp adds f(r, θ) to the texture over the angular range [t0, t1].
func (ir *Iris) stamp(tex []float64, f func(r, t float64) float64, t0, t1 float64) {
	x0 := int(math.Floor(t0 / (2 * math.Pi) * texT))
	x1 := int(math.Ceil(t1 / (2 * math.Pi) * texT))
	for xx := x0; xx <= x1; xx++ {
		x := ((xx % texT) + texT) % texT
		t := float64(x) / texT * 2 * math.Pi
		for y := 0; y < texR; y++ {
			tex[y*texT+x] += f(float64(y)/(texR-1), t)
		}
		if x1-x0 >= texT-1 && xx-x0 == texT-1 {
			break
		}
	}
}

// at samples the texture at rubber-sheet radius r ∈ [0,1] and angle t.
func (ir *Iris) at(r, t float64) float64 {
	fy := r * (texR - 1)
	fy = math.Max(0, math.Min(texR-1.001, fy))
	y0 := int(fy)
	wy := fy - float64(y0)
	fx := t / (2 * math.Pi) * texT
	fx -= math.Floor(fx/texT) * texT
	x0 := int(fx) % texT
	wx := fx - math.Floor(fx)
	x1 := (x0 + 1) % texT
	a := float64(ir.tex[y0*texT+x0])*(1-wx) + float64(ir.tex[y0*texT+x1])*wx
	b := float64(ir.tex[(y0+1)*texT+x0])*(1-wx) + float64(ir.tex[(y0+1)*texT+x1])*wx
	return a*(1-wy) + b*wy
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

// angDiff is a−b wrapped to (−π, π].
func angDiff(a, b float64) float64 {
	d := math.Mod(a-b, 2*math.Pi)
	if d > math.Pi {
		d -= 2 * math.Pi
	} else if d <= -math.Pi {
		d += 2 * math.Pi
	}
	return d
}
