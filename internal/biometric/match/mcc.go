package match

import (
	"math"
	"math/bits"
	"sort"
)

// Minutia Cylinder-Code (Cappelli, Ferrara and Maltoni, "Minutia
// Cylinder-Code: a new representation and matching technique for
// fingerprint recognition", IEEE TPAMI 32(12), 2010), bit-packed variant
// (MCC16b), with the LSS-R global score (local similarity sort with
// relaxation). Parameters are the paper's unless noted.
const (
	mccR      = 70.0     // cylinder radius, pixels
	mccNS     = 16       // cells per side
	mccND     = 6        // angular sections
	mccSigmaS = 28.0 / 3 // spatial contribution spread
	mccSigmaD = 2 * math.Pi / 9
	mccMuPsi  = 0.01 // bit threshold on the summed contributions
	mccOmega  = 50.0 // convex hull enlargement, pixels
	mccMinVC  = 0.75 // valid cells a cylinder needs
	mccMinM   = 2    // minutiae a cylinder needs inside it
	mccMinME  = 0.60 // cells valid in both cylinders to compare them
	mccDeltaT = math.Pi / 2

	mccCells = mccNS * mccNS * mccND
	mccWords = mccCells / 64

	// LSS-R.
	minNP, maxNP = 4, 12
	muP, tauP    = 20.0, 0.4
	nRel         = 5
	wR           = 0.5
	mu1, tau1    = 5.0, -8.0 / 5
	mu2, tau2    = math.Pi / 12, -30.0
	mu3, tau3    = math.Pi / 12, -30.0
)

var deltaS = 2 * mccR / mccNS

// point is a minutia in a right-handed frame (y up): x, y pixels at 500
// ppi, a the direction in radians.
type point struct{ x, y, a float64 }

// cylinder is one minutia's bit-packed cylinder.
type cylinder struct {
	m      point
	value  [mccWords]uint64
	valid  [mccWords]uint64
	nValid int
}

// cylinders builds the valid cylinders of a minutiae set.
func cylinders(ps []point) []cylinder {
	if len(ps) == 0 {
		return nil
	}
	hull := newHullMask(ps, mccOmega)
	var out []cylinder
	maxNeigh := mccR + 3*mccSigmaS
	gsNorm := 1 / (mccSigmaS * math.Sqrt(2*math.Pi))
	type nb struct {
		x, y float64
		cd   [mccND]float64 // directional contribution per angular section
	}
	var neigh []nb
	for i, m := range ps {
		// Neighbours that can contribute to this cylinder.
		neigh = neigh[:0]
		for j, t := range ps {
			if j == i || math.Hypot(t.x-m.x, t.y-m.y) > maxNeigh {
				continue
			}
			var n nb
			n.x, n.y = t.x, t.y
			dth := angleDiff(m.a, t.a) // dθ(θm, θt)
			for k := 0; k < mccND; k++ {
				phi := -math.Pi + (float64(k)+0.5)*2*math.Pi/mccND
				n.cd[k] = gaussArea(angleDiff(phi, dth), mccSigmaD, math.Pi/mccND)
			}
			neigh = append(neigh, n)
		}
		if len(neigh) < mccMinM {
			continue
		}
		var c cylinder
		c.m = m
		ca, sa := math.Cos(m.a), math.Sin(m.a)
		contributing := make([]bool, len(neigh))
		nContrib := 0
		for j := 0; j < mccNS; j++ {
			for i2 := 0; i2 < mccNS; i2++ {
				u := deltaS * (float64(i2) - (mccNS-1)/2.0)
				v := deltaS * (float64(j) - (mccNS-1)/2.0)
				px := m.x + ca*u - sa*v
				py := m.y + sa*u + ca*v
				if u*u+v*v > mccR*mccR || !hull.inside(px, py) {
					continue
				}
				var sum [mccND]float64
				for ni, n := range neigh {
					d2 := (n.x-px)*(n.x-px) + (n.y-py)*(n.y-py)
					if d2 > 9*mccSigmaS*mccSigmaS {
						continue
					}
					cs := gsNorm * math.Exp(-d2/(2*mccSigmaS*mccSigmaS))
					for k := 0; k < mccND; k++ {
						sum[k] += cs * n.cd[k]
					}
					if !contributing[ni] {
						contributing[ni] = true
						nContrib++
					}
				}
				for k := 0; k < mccND; k++ {
					bit := k*mccNS*mccNS + j*mccNS + i2
					c.valid[bit/64] |= 1 << (bit % 64)
					c.nValid++
					if sum[k] >= mccMuPsi {
						c.value[bit/64] |= 1 << (bit % 64)
					}
				}
			}
		}
		// Cells inside the disc: the fraction is relative to those.
		if float64(c.nValid) < mccMinVC*discCells || nContrib < mccMinM {
			continue
		}
		out = append(out, c)
	}
	return out
}

// discCells is the number of cells whose centre lies within R.
var discCells = func() float64 {
	n := 0
	for j := 0; j < mccNS; j++ {
		for i := 0; i < mccNS; i++ {
			u := deltaS * (float64(i) - (mccNS-1)/2.0)
			v := deltaS * (float64(j) - (mccNS-1)/2.0)
			if u*u+v*v <= mccR*mccR {
				n++
			}
		}
	}
	return float64(n * mccND)
}()

// gaussArea is the integral of a zero-mean Gaussian (sigma) over
// [x-h, x+h].
func gaussArea(x, sigma, h float64) float64 {
	s := sigma * math.Sqrt2
	return 0.5 * (math.Erf((x+h)/s) - math.Erf((x-h)/s))
}

// angleDiff is the difference a-b wrapped to [-π, π).
func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b+math.Pi, 2*math.Pi)
	if d < 0 {
		d += 2 * math.Pi
	}
	return d - math.Pi
}

// localSimilarity compares two cylinders (0 when not comparable).
func localSimilarity(a, b *cylinder) float64 {
	if math.Abs(angleDiff(a.m.a, b.m.a)) > mccDeltaT {
		return 0
	}
	var common, na, nb, nx int
	for w := 0; w < mccWords; w++ {
		v := a.valid[w] & b.valid[w]
		common += bits.OnesCount64(v)
		ca, cb := a.value[w]&v, b.value[w]&v
		na += bits.OnesCount64(ca)
		nb += bits.OnesCount64(cb)
		nx += bits.OnesCount64(ca ^ cb)
	}
	if float64(common) < mccMinME*discCells {
		return 0
	}
	den := math.Sqrt(float64(na)) + math.Sqrt(float64(nb))
	if den == 0 {
		return 0
	}
	return 1 - math.Sqrt(float64(nx))/den
}

func sigmoid(v, mu, tau float64) float64 { return 1 / (1 + math.Exp(-tau*(v-mu))) }

// score is the LSS-R global similarity of two cylinder sets, in [0, 1].
func score(A, B []cylinder) float64 {
	nA, nB := len(A), len(B)
	if nA == 0 || nB == 0 {
		return 0
	}
	type pair struct {
		a, b int
		s    float64
	}
	pairs := make([]pair, 0, nA*nB/4)
	for i := range A {
		for j := range B {
			if s := localSimilarity(&A[i], &B[j]); s > 0 {
				pairs = append(pairs, pair{i, j, s})
			}
		}
	}
	if len(pairs) == 0 {
		return 0
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].s > pairs[j].s })
	nMin := min(nA, nB)
	nP := minNP + int(math.Round(sigmoid(float64(nMin), muP, tauP)*(maxNP-minNP)))
	// Top nR = min(nA, nB) pairs, each minutia used once (greedy).
	usedA := make([]bool, nA)
	usedB := make([]bool, nB)
	var sel []pair
	for _, p := range pairs {
		if usedA[p.a] || usedB[p.b] {
			continue
		}
		usedA[p.a], usedB[p.b] = true, true
		sel = append(sel, p)
		if len(sel) == nMin {
			break
		}
	}
	nR := len(sel)
	if nR < 2 {
		return sel[0].s / float64(nP)
	}
	// Relaxation: pairs gain support from geometrically compatible pairs.
	rho := make([]float64, nR*nR)
	for t := 0; t < nR; t++ {
		at, bt := A[sel[t].a].m, B[sel[t].b].m
		for k := t + 1; k < nR; k++ {
			ak, bk := A[sel[k].a].m, B[sel[k].b].m
			d1 := math.Abs(math.Hypot(at.x-ak.x, at.y-ak.y) - math.Hypot(bt.x-bk.x, bt.y-bk.y))
			d2 := math.Abs(angleDiff(angleDiff(at.a, ak.a), angleDiff(bt.a, bk.a)))
			d3 := math.Abs(angleDiff(radial(at, ak), radial(bt, bk)))
			r := sigmoid(d1, mu1, tau1) * sigmoid(d2, mu2, tau2) * sigmoid(d3, mu3, tau3)
			rho[t*nR+k], rho[k*nR+t] = r, r
		}
	}
	lam := make([]float64, nR)
	next := make([]float64, nR)
	for t := range sel {
		lam[t] = sel[t].s
	}
	for it := 0; it < nRel; it++ {
		for t := 0; t < nR; t++ {
			var s float64
			row := rho[t*nR : (t+1)*nR]
			for k, r := range row {
				s += r * lam[k]
			}
			next[t] = wR*lam[t] + (1-wR)*s/float64(nR-1)
		}
		lam, next = next, lam
	}
	// Efficiency: how much of its initial similarity a pair kept.
	idx := make([]int, nR)
	for t := range idx {
		idx[t] = t
	}
	sort.Slice(idx, func(i, j int) bool {
		return lam[idx[i]]/sel[idx[i]].s > lam[idx[j]]/sel[idx[j]].s
	})
	var s float64
	n := min(nP, nR)
	for _, t := range idx[:n] {
		s += lam[t]
	}
	return s / float64(nP)
}

// radial is the angle between a minutia's direction and the segment to
// another minutia.
func radial(a, b point) float64 {
	return angleDiff(a.a, math.Atan2(b.y-a.y, b.x-a.x))
}

// hullMask rasterises the convex hull of the minutiae enlarged by omega on
// a 4-pixel grid.
type hullMask struct {
	x0, y0 float64
	w, h   int
	on     []bool
}

const hullCell = 4.0

func newHullMask(ps []point, omega float64) *hullMask {
	hull := convexHull(ps)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range ps {
		minX, minY = math.Min(minX, p.x), math.Min(minY, p.y)
		maxX, maxY = math.Max(maxX, p.x), math.Max(maxY, p.y)
	}
	m := &hullMask{x0: minX - omega - hullCell, y0: minY - omega - hullCell}
	m.w = int((maxX-minX+2*omega)/hullCell) + 3
	m.h = int((maxY-minY+2*omega)/hullCell) + 3
	m.on = make([]bool, m.w*m.h)
	for gy := 0; gy < m.h; gy++ {
		for gx := 0; gx < m.w; gx++ {
			x := m.x0 + (float64(gx)+0.5)*hullCell
			y := m.y0 + (float64(gy)+0.5)*hullCell
			m.on[gy*m.w+gx] = hullDist(hull, x, y) <= omega
		}
	}
	return m
}

func (m *hullMask) inside(x, y float64) bool {
	gx := int(math.Floor((x - m.x0) / hullCell))
	gy := int(math.Floor((y - m.y0) / hullCell))
	if gx < 0 || gy < 0 || gx >= m.w || gy >= m.h {
		return false
	}
	return m.on[gy*m.w+gx]
}

// convexHull returns the hull in counter-clockwise order (monotone chain).
func convexHull(ps []point) []point {
	pts := append([]point(nil), ps...)
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].x != pts[j].x {
			return pts[i].x < pts[j].x
		}
		return pts[i].y < pts[j].y
	})
	if len(pts) < 3 {
		return pts
	}
	cross := func(o, a, b point) float64 { return (a.x-o.x)*(b.y-o.y) - (a.y-o.y)*(b.x-o.x) }
	var h []point
	for _, p := range pts {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	return h[:len(h)-1]
}

// hullDist is 0 inside the polygon, else the distance to it.
func hullDist(h []point, x, y float64) float64 {
	if len(h) == 0 {
		return math.Inf(1)
	}
	if len(h) == 1 {
		return math.Hypot(x-h[0].x, y-h[0].y)
	}
	inside := len(h) >= 3
	best := math.Inf(1)
	for i := range h {
		a, b := h[i], h[(i+1)%len(h)]
		if inside && (b.x-a.x)*(y-a.y)-(b.y-a.y)*(x-a.x) < 0 {
			inside = false
		}
		dx, dy := b.x-a.x, b.y-a.y
		t := ((x-a.x)*dx + (y-a.y)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		best = math.Min(best, math.Hypot(x-a.x-t*dx, y-a.y-t*dy))
	}
	if inside {
		return 0
	}
	return best
}
