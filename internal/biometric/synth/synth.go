package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Class is a Henry pattern class.
type Class int

const (
	Arch Class = iota
	TentedArch
	LeftLoop
	RightLoop
	Whorl
)

func (c Class) String() string {
	switch c {
	case Arch:
		return "arch"
	case TentedArch:
		return "tented arch"
	case LeftLoop:
		return "left loop"
	case RightLoop:
		return "right loop"
	case Whorl:
		return "whorl"
	}
	return "unknown"
}

// Point is a position on the master fingerprint, in pixels at 500 ppi.
type Point struct{ X, Y float64 }

// Finger is a master fingerprint.
type Finger struct {
	Seed   uint64
	Class  Class
	Cores  []Point
	Deltas []Point
	// W and H are the master canvas size in pixels at 500 ppi.
	W, H int

	// Half-resolution fields (hw x hh): ridge pattern in [-1, 1] (+1 is a
	// ridge), fingertip silhouette weight in [0, 1].
	hw, hh int
	ridge  []float32
	shape  []float32
	// orientation (radians, image coordinates, mod π) at half resolution,
	// kept for tests and visualisation.
	orient []float32
	period []float32 // full-resolution pixels
}

// Options shape a master fingerprint. Zero values choose defaults.
type Options struct {
	// Class forces a pattern class; -1 or an out-of-range value draws one
	// with natural frequencies (arches 7 %, loops 65 %, whorls 28 %).
	Class Class
	// Iterations of Gabor growth; 0 means 14.
	Iterations int
}

// DefaultOptions draw the class at random.
var DefaultOptions = Options{Class: -1}

// NewFinger makes the master fingerprint of finger seed.
func NewFinger(seed uint64, o Options) *Finger {
	r := rand.New(rand.NewPCG(seed, 0x6d617374)) // "mast"
	f := &Finger{Seed: seed}
	// Fingertip: 15..17.5 mm wide, 19..23 mm tall contact area.
	a := 150 + 25*r.Float64()
	b := 190 + 40*r.Float64()
	f.W = int(2*a+48) &^ 1
	f.H = int(2*b+48) &^ 1
	f.hw, f.hh = f.W/2, f.H/2
	cx, cy := float64(f.W)/2, float64(f.H)/2

	f.Class = o.Class
	if f.Class < Arch || f.Class > Whorl {
		p := r.Float64()
		switch {
		case p < 0.037:
			f.Class = Arch
		case p < 0.066:
			f.Class = TentedArch
		case p < 0.404:
			f.Class = LeftLoop
		case p < 0.721:
			f.Class = RightLoop
		default:
			f.Class = Whorl
		}
	}
	// Singular points, relative to the pad centre (slightly above middle).
	ox, oy := cx+(r.Float64()-0.5)*40, cy-20+(r.Float64()-0.5)*50
	j := func(s float64) float64 { return (r.Float64() - 0.5) * s }
	switch f.Class {
	case TentedArch:
		f.Cores = []Point{{ox + j(10), oy + j(10)}}
		f.Deltas = []Point{{ox + j(12), oy + 55 + j(20)}}
	case LeftLoop:
		f.Cores = []Point{{ox + 10 + j(20), oy + j(20)}}
		f.Deltas = []Point{{ox - 85 + j(40), oy + 95 + j(40)}}
	case RightLoop:
		f.Cores = []Point{{ox - 10 + j(20), oy + j(20)}}
		f.Deltas = []Point{{ox + 85 + j(40), oy + 95 + j(40)}}
	case Whorl:
		dx, dy := j(30), 18+r.Float64()*22
		f.Cores = []Point{{ox + dx/2, oy - dy/2}, {ox - dx/2, oy + dy/2}}
		f.Deltas = []Point{{ox - 100 + j(40), oy + 110 + j(40)}, {ox + 100 + j(40), oy + 110 + j(40)}}
	}

	basePeriod := 8.2 + 2.0*r.Float64()
	pert := newSmoothNoise(r, 4, 0.004, 0.012)
	pfreq := newSmoothNoise(r, 3, 0.003, 0.01)
	archK := 0.9 + 0.8*r.Float64()
	archS := 70 + 40*r.Float64()
	theta0 := (r.Float64() - 0.5) * 0.15

	n := f.hw * f.hh
	f.ridge = make([]float32, n)
	f.shape = make([]float32, n)
	f.orient = make([]float32, n)
	f.period = make([]float32, n)
	for y := 0; y < f.hh; y++ {
		for x := 0; x < f.hw; x++ {
			px, py := float64(2*x)+0.5, float64(2*y)+0.5
			i := y*f.hw + x
			f.shape[i] = float32(padShape(px-cx, py-cy, a, b))
			var th float64
			if f.Class == Arch {
				u := (px - ox) / archS
				k := archK * math.Max(0.15, math.Min(1, 1-(py-oy+60)/float64(f.H)))
				th = -math.Atan(2 * k * u * math.Exp(-u*u))
			} else {
				// Sherlock–Monro: θ = θ0 + ½(Σ arg(z−c) − Σ arg(z−d)),
				// written for image coordinates (y down).
				for _, d := range f.Deltas {
					th -= math.Atan2(py-d.Y, px-d.X)
				}
				for _, c := range f.Cores {
					th += math.Atan2(py-c.Y, px-c.X)
				}
				th = th / 2
			}
			th += theta0 + 0.12*pert.at(px, py)
			f.orient[i] = float32(th)
			// Wider ridges near singular points, and slowly varying.
			per := basePeriod * (1 + 0.07*pfreq.at(px, py))
			for _, c := range append(f.Cores, f.Deltas...) {
				d2 := (px-c.X)*(px-c.X) + (py-c.Y)*(py-c.Y)
				per *= 1 + 0.12*math.Exp(-d2/(2*45*45))
			}
			f.period[i] = float32(per)
		}
	}
	iters := o.Iterations
	if iters <= 0 {
		iters = 14
	}
	f.grow(r, iters)
	return f
}

// padShape is the fingertip silhouette: a super-ellipse, rounder at the
// tip, with a soft edge; 1 inside, 0 outside.
func padShape(dx, dy, a, b float64) float64 {
	if dy > 0 {
		b *= 1.08 // the pad continues towards the first crease
	}
	e := math.Pow(math.Abs(dx/a), 2.2) + math.Pow(math.Abs(dy/b), 2.6)
	return smoothstep((1.0 - e) / 0.12)
}

func smoothstep(t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * (3 - 2*t)
}

// smoothNoise is a sum of random plane waves: a cheap, deterministic,
// band-limited field in about [-1, 1].
type smoothNoise struct {
	kx, ky, ph []float64
}

func newSmoothNoise(r *rand.Rand, n int, fmin, fmax float64) *smoothNoise {
	s := &smoothNoise{}
	for i := 0; i < n; i++ {
		a := r.Float64() * 2 * math.Pi
		f := (fmin + (fmax-fmin)*r.Float64()) * 2 * math.Pi
		s.kx = append(s.kx, f*math.Cos(a))
		s.ky = append(s.ky, f*math.Sin(a))
		s.ph = append(s.ph, r.Float64()*2*math.Pi)
	}
	return s
}

func (s *smoothNoise) at(x, y float64) float64 {
	v := 0.0
	for i := range s.kx {
		v += math.Sin(s.kx[i]*x + s.ky[i]*y + s.ph[i])
	}
	return v / math.Sqrt(float64(len(s.kx))) * 0.9
}

// Orientation returns the ridge orientation (radians mod π, image
// coordinates: 0 is horizontal, increasing clockwise on screen) at a master
// position.
func (f *Finger) Orientation(x, y float64) float64 {
	hx, hy := clampi(int(x/2), 0, f.hw-1), clampi(int(y/2), 0, f.hh-1)
	return float64(f.orient[hy*f.hw+hx])
}

// Master renders the master fingerprint itself (no distortion or noise):
// dark ridges on white, W x H.
func (f *Finger) Master() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, f.W, f.H))
	for y := 0; y < f.H; y++ {
		for x := 0; x < f.W; x++ {
			v, s := f.sample(float64(x), float64(y))
			g := 255 - 200*s*clamp01(0.5+0.5*v*1.6)
			img.Pix[y*img.Stride+x] = uint8(g)
		}
	}
	return img
}

// sample returns the ridge value (bicubic) and silhouette weight
// (bilinear) at a full-resolution master position.
func (f *Finger) sample(x, y float64) (float64, float64) {
	hx, hy := x/2-0.25, y/2-0.25
	ix, iy := int(math.Floor(hx)), int(math.Floor(hy))
	if ix < 1 || iy < 1 || ix >= f.hw-2 || iy >= f.hh-2 {
		return 0, 0
	}
	tx, ty := hx-float64(ix), hy-float64(iy)
	var wx, wy [4]float64
	cubicWeights(tx, &wx)
	cubicWeights(ty, &wy)
	v := 0.0
	for j := 0; j < 4; j++ {
		row := f.ridge[(iy-1+j)*f.hw+ix-1:]
		v += wy[j] * (wx[0]*float64(row[0]) + wx[1]*float64(row[1]) + wx[2]*float64(row[2]) + wx[3]*float64(row[3]))
	}
	i := iy*f.hw + ix
	s := (1-ty)*((1-tx)*float64(f.shape[i])+tx*float64(f.shape[i+1])) + ty*((1-tx)*float64(f.shape[i+f.hw])+tx*float64(f.shape[i+f.hw+1]))
	return v, s
}

// cubicWeights are Catmull-Rom weights for offset t in [0, 1).
func cubicWeights(t float64, w *[4]float64) {
	t2, t3 := t*t, t*t*t
	w[0] = 0.5 * (-t3 + 2*t2 - t)
	w[1] = 0.5 * (3*t3 - 5*t2 + 2)
	w[2] = 0.5 * (-3*t3 + 4*t2 + t)
	w[3] = 0.5 * (t3 - t2)
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

func clampi(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// FingerSeed derives the seed of finger i of a set with base seed base
// (a SplitMix64 step, so neighbouring fingers share nothing).
func FingerSeed(base, i uint64) uint64 {
	z := base*0x9E3779B97F4A7C15 + (i+1)*0xBF58476D1CE4E5B9
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
