package iris

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// Circle is a boundary in pixels of the input image.
type Circle struct{ X, Y, R float64 }

// Lid is an eyelid edge, the parabola y = Y + K·(x − X)². The upper lid
// covers y < edge, the lower lid y > edge. Found is false when no lid edge
// crosses the iris; the lid is then placed clear of it.
type Lid struct {
	X, Y, K float64
	Found   bool
}

// At is the edge's y at column x.
func (l Lid) At(x float64) float64 { return l.Y + l.K*(x-l.X)*(x-l.X) }

// Segmentation locates the iris in an image.
type Segmentation struct {
	Pupil, Iris  Circle
	Upper, Lower Lid
	// lash is the grey level under which a pixel in the iris counts as
	// eyelash (or other dark occluder).
	lash float64
}

// Errors from Segment and Encode.
var (
	ErrImage    = errors.New("iris: image too small or too large")
	ErrNoIris   = errors.New("iris: no pupil and limbus found")
	ErrOccluded = errors.New("iris: too little of the iris is visible")
)

// specularGrey: at or above, a pixel is a reflection of the illuminator.
const specularGrey = 230

// Image limits: big enough to hold an iris of 40 px radius, small enough
// that a hostile size cannot cost much.
const (
	minSide   = 120
	MaxPixels = 4 << 20
)

// plane is a float32 image; NaN marks a pixel to ignore (a reflection).
type plane struct {
	w, h int
	p    []float32
}

func (p *plane) at(x, y int) float32 {
	if x < 0 || y < 0 || x >= p.w || y >= p.h {
		return float32(math.NaN())
	}
	return p.p[y*p.w+x]
}

// bilinear sample; NaN if any neighbour is NaN or it is off the image.
func (p *plane) sample(x, y float64) float32 {
	x -= 0.5
	y -= 0.5
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	if x0 < 0 || y0 < 0 || x0+1 >= p.w || y0+1 >= p.h {
		return float32(math.NaN())
	}
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	i := y0*p.w + x0
	a := p.p[i]*(1-fx) + p.p[i+1]*fx
	b := p.p[i+p.w]*(1-fx) + p.p[i+p.w+1]*fx
	return a*(1-fy) + b*fy
}

// toPlane converts img, marking reflections (and 2 px around them) NaN.
func toPlane(img *image.Gray) *plane {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	p := &plane{w, h, make([]float32, w*h)}
	var spec []int
	for y := 0; y < h; y++ {
		row := img.Pix[(y)*img.Stride : (y)*img.Stride+w]
		for x, v := range row {
			p.p[y*w+x] = float32(v)
			if float32(v) >= specularGrey {
				spec = append(spec, y*w+x)
			}
		}
	}
	if len(spec) > w*h/8 {
		spec = nil // an over-exposed frame: segmentation will fail on its own
	}
	nan := float32(math.NaN())
	for _, i := range spec {
		x, y := i%w, i/w
		for yy := max(y-2, 0); yy <= min(y+2, h-1); yy++ {
			for xx := max(x-2, 0); xx <= min(x+2, w-1); xx++ {
				p.p[yy*w+xx] = nan
			}
		}
	}
	return p
}

// down4 quarters p by 4×4 block means over non-NaN pixels.
func (p *plane) down4() *plane {
	w, h := p.w/4, p.h/4
	q := &plane{w, h, make([]float32, w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float32
			n := 0
			for yy := 4 * y; yy < 4*y+4; yy++ {
				for _, v := range p.p[yy*p.w+4*x : yy*p.w+4*x+4] {
					if v == v {
						s += v
						n++
					}
				}
			}
			if n > 0 {
				q.p[y*w+x] = s / float32(n)
			} else {
				q.p[y*w+x] = float32(math.NaN())
			}
		}
	}
	return q
}

// blob flood-fills from (x, y) over pixels darker than thr (and NaN
// ones: reflections sit in the pupil) within distance reach, and returns
// the blob's centroid and equivalent radius.
func (p *plane) blob(x, y int, thr float32, reach int) (cx, cy, r float64) {
	seen := make(map[int]bool)
	stack := []int{y*p.w + x}
	seen[stack[0]] = true
	var sx, sy float64
	n := 0
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		px, py := i%p.w, i/p.w
		sx += float64(px) + 0.5
		sy += float64(py) + 0.5
		n++
		for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
			qx, qy := px+d[0], py+d[1]
			if qx < 0 || qy < 0 || qx >= p.w || qy >= p.h || abs(qx-x) > reach || abs(qy-y) > reach {
				continue
			}
			j := qy*p.w + qx
			if v := p.p[j]; !seen[j] && (v != v || v < thr) {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return sx / float64(n), sy / float64(n), math.Sqrt(float64(n) / math.Pi)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ring is a set of sampling directions.
type ring struct{ c, s []float64 }

func newRing(n int, sectors [][2]float64) ring {
	var r ring
	for i := range n {
		a := 2 * math.Pi * (float64(i) + 0.5) / float64(n)
		if sectors != nil {
			ok := false
			for _, s := range sectors {
				d := math.Remainder(a-s[0], 2*math.Pi)
				if d >= 0 && d <= s[1]-s[0] {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		r.c = append(r.c, math.Cos(a))
		r.s = append(r.s, math.Sin(a))
	}
	return r
}

// mean grey on the circle (cx, cy, r) over the ring's directions,
// ignoring NaN; ok is false when fewer than half the samples count.
func (p *plane) mean(cx, cy, r float64, d ring) (float64, bool) {
	var s float64
	n := 0
	for i := range d.c {
		v := p.at(int(cx+r*d.c[i]), int(cy+r*d.s[i]))
		if v == v {
			s += float64(v)
			n++
		}
	}
	if 2*n < len(d.c) {
		return 0, false
	}
	return s / float64(n), true
}

// ido is Daugman's integro-differential operator over a grid of centres
// and radii: the circle across which the mean grey rises most steeply
// (dark inside, bright outside). The radial derivative is smoothed over
// ±2 radius steps. accept filters candidate circles. With a dark level
// (not NaN), a circle whose inside (just within the edge) is much brighter
// than it is penalised: that is how the pupil wins over the limbus when a
// dilated pupil leaves a thin, dark iris ring inside a bright sclera.
func (p *plane) ido(cx, cy float64, dc int, r0, r1 int, step float64, d ring, dark float64, accept func(x, y, r float64) bool) (Circle, float64) {
	best, bestScore := Circle{}, math.Inf(-1)
	nr := r1 - r0 + 5
	m := make([]float64, nr)
	ok := make([]bool, nr)
	for j := -dc; j <= dc; j++ {
		for i := -dc; i <= dc; i++ {
			x, y := cx+float64(i)*step, cy+float64(j)*step
			for k := range m {
				m[k], ok[k] = p.mean(x, y, float64(r0-2+k)*step, d)
			}
			for k := 2; k < nr-2; k++ {
				if !ok[k-2] || !ok[k-1] || !ok[k+1] || !ok[k+2] {
					continue
				}
				r := float64(r0-2+k) * step
				if accept != nil && !accept(x, y, r) {
					continue
				}
				g := m[k+1] + m[k+2] - m[k-1] - m[k-2]
				if dark == dark {
					g -= 2 * math.Max(0, m[k-2]-dark-15)
				}
				if g > bestScore {
					best, bestScore = Circle{x, y, r}, g
				}
			}
		}
	}
	return best, bestScore
}

// Segment finds the pupil, the limbus and the eyelids.
func Segment(img *image.Gray) (*Segmentation, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	return segmentPlane(toPlane(img))
}

// checkImage bounds the image's size (Pix starts at Bounds().Min whatever
// it is, so the origin does not matter).
func checkImage(img *image.Gray) error {
	b := img.Bounds()
	if b.Dx() < minSide || b.Dy() < minSide || b.Dx()*b.Dy() > MaxPixels || len(img.Pix) < (b.Dy()-1)*img.Stride+b.Dx() {
		return fmt.Errorf("%w: %dx%d", ErrImage, b.Dx(), b.Dy())
	}
	return nil
}

func segmentPlane(full *plane) (*Segmentation, error) {
	small := full.down4()
	// Seed: the darkest 7×7 neighbourhood (at 1/4 scale) is inside the
	// pupil; the blur erases lashes, which are thin.
	sx, sy, dark := 0, 0, float32(math.Inf(1))
	for y := 6; y < small.h-6; y++ {
		for x := 6; x < small.w-6; x++ {
			var s float32
			n := 0
			for yy := y - 3; yy <= y+3; yy++ {
				for _, v := range small.p[yy*small.w+x-3 : yy*small.w+x+4] {
					if v == v {
						s += v
						n++
					}
				}
			}
			if n > 24 && s/float32(n) < dark {
				sx, sy, dark = x, y, s/float32(n)
			}
		}
	}
	if math.IsInf(float64(dark), 1) {
		return nil, ErrNoIris
	}
	all := newRing(64, nil)
	maxR := min(small.w, small.h) / 2
	// Pupil, coarse then fine. The darkest block can lie anywhere in a
	// large pupil, so the coarse search starts from the centroid of the
	// dark blob around it.
	bx, by, br := small.blob(sx, sy, dark+30, 28)
	pc, _ := small.ido(bx, by, 3, max(3, int(br)-4), min(int(br)+5, maxR-2), 1, all, float64(dark), nil)
	if pc.R == 0 {
		return nil, ErrNoIris
	}
	fine := newRing(128, nil)
	pupil, ps := full.ido(pc.X*4, pc.Y*4, 4, int(pc.R*4)-5, int(pc.R*4)+5, 1, fine, float64(dark), nil)
	if pupil.R == 0 || ps < minEdge {
		return nil, ErrNoIris
	}
	// Limbus: left and right sectors only, clear of the eyelids.
	sides := [][2]float64{{-0.45, 0.85}, {math.Pi - 0.85, math.Pi + 0.45}}
	sideRing := newRing(64, sides)
	pr := pupil.R / 4
	inside := func(scale float64) func(x, y, r float64) bool {
		return func(x, y, r float64) bool {
			d := math.Hypot(x-pupil.X/scale, y-pupil.Y/scale)
			// Clear of the pupil by 12 px: at quarter scale the pupil's
			// edge is smeared over 4 px, and a thin iris ring would let a
			// circle half on the limbus, half on that edge win.
			return r > 1.3*pr*4/scale && d+pupil.R/scale < r-12/scale && d < 0.15*r
		}
	}
	ic, _ := small.ido(pupil.X/4, pupil.Y/4, 5, int(pr*1.3)+1, min(int(pr*5)+1, 48, maxR), 1, sideRing, math.NaN(), inside(4))
	if ic.R == 0 {
		return nil, ErrNoIris
	}
	iris, is := full.ido(ic.X*4, ic.Y*4, 3, int(ic.R*4)-5, int(ic.R*4)+5, 1, newRing(192, sides), math.NaN(), inside(1))
	if iris.R == 0 || is < minEdge {
		return nil, ErrNoIris
	}
	s := &Segmentation{Pupil: pupil, Iris: iris}
	s.Upper = full.lid(iris, pupil, true)
	s.Lower = full.lid(iris, pupil, false)
	// Lashes: darker than the pupil's edge is to the iris, a third of the
	// way from the pupil's grey to the iris's.
	pg, _ := full.mean(pupil.X, pupil.Y, pupil.R*0.6, all)
	ig, _ := full.mean(pupil.X, pupil.Y, (pupil.R+iris.R)/2, newRing(64, sides))
	s.lash = pg + 0.35*(ig-pg)
	return s, nil
}

// lid fits an eyelid edge across the iris: the parabola along which the
// grey drops most from the skin side to the iris side. Candidate apexes run
// from just outside the limbus to the pupil's edge.
func (p *plane) lid(iris, pupil Circle, upper bool) Lid {
	sign := 1.0
	if !upper {
		sign = -1
	}
	none := Lid{X: iris.X, Y: iris.Y - sign*(iris.R+2)}
	best, bestScore := none, 0.0
	const n = 48
	for _, k := range []float64{0.08, 0.12, 0.16, 0.2, 0.25} {
		K := sign * k / iris.R
		// The upper lid may come down to the pupil centre, the lower lid
		// up to a third of the way from the pupil's lower edge to the
		// limbus (higher, it would mostly find the collarette).
		stop := 0.0
		if !upper {
			stop = -pupil.R - 0.3*(iris.R-pupil.R)
		}
		for off := -iris.R * 1.05; off <= stop+sign*(pupil.Y-iris.Y); off += 1.5 {
			Y := iris.Y + sign*off
			var s float64
			cnt, pos := 0, 0
			for i := range n {
				x := iris.X + iris.R*0.95*(2*float64(i)/(n-1)-1)
				y := Y + K*(x-iris.X)*(x-iris.X)
				if math.Hypot(x-iris.X, y-iris.Y) > iris.R-7 || math.Hypot(x-pupil.X, y-pupil.Y) < pupil.R+10 {
					continue
				}
				a := p.at(int(x), int(y-sign*3))
				b := p.at(int(x), int(y+sign*3))
				if a == a && b == b {
					s += float64(a - b)
					cnt++
					if a-b > 5 {
						pos++
					}
				}
			}
			// A lid edge is long and steps the same way all along; iris
			// texture makes strong steps only here and there.
			if cnt < n/3 || 10*pos < 7*cnt {
				continue
			}
			if sc := s / float64(cnt); sc > bestScore {
				best, bestScore = Lid{X: iris.X, Y: Y, K: K, Found: true}, sc
			}
		}
	}
	if bestScore < lidEdge {
		return none
	}
	return best
}

// minEdge is the least operator response (grey levels, two radii out
// minus two in) taken for a pupil or limbus boundary.
const minEdge = 20

// lidEdge is the least mean step (grey levels over 6 px) taken for an
// eyelid edge; iris texture alone averages far less along a long curve.
const lidEdge = 15
