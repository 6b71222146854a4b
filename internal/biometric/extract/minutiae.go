package extract

import (
	"math"
	"sort"

	"github.com/edgetrust/edgetrust/internal/biometric/template"
)

// ring offsets, clockwise from east (image coordinates, y down).
var ringDX = [8]int{1, 1, 0, -1, -1, -1, 0, 1}
var ringDY = [8]int{0, 1, 1, 1, 0, -1, -1, -1}

type cand struct {
	x, y    int
	typ     template.MinutiaType
	angle   float64 // ISO convention, radians
	dead    bool
	branchE [3]int // per branch: index of the candidate hit, -1 none
	branchL [3]int // per branch: steps to the hit or end
	nb      int
}

type skel struct {
	w, h  int
	b     []uint8
	stamp []int32
	id    int32
	at    map[int]int // pixel -> candidate index
}

func (s *skel) crossing(i int) int {
	x, y := i%s.w, i/s.w
	var r [9]uint8
	for k := 0; k < 8; k++ {
		r[k] = s.b[(y+ringDY[k])*s.w+x+ringDX[k]]
	}
	r[8] = r[0]
	c := 0
	for k := 0; k < 8; k++ {
		if r[k] != r[k+1] {
			c++
		}
	}
	return c / 2
}

// branches returns one pixel per run of skeleton pixels around i,
// preferring 4-neighbours.
func (s *skel) branches(i int) []int {
	x, y := i%s.w, i/s.w
	var on [8]bool
	for k := 0; k < 8; k++ {
		on[k] = s.b[(y+ringDY[k])*s.w+x+ringDX[k]] == 1
	}
	start := -1
	for k := 0; k < 8; k++ {
		if !on[k] {
			start = k
			break
		}
	}
	if start < 0 {
		return nil
	}
	var out []int
	for k := 1; k <= 8; k++ {
		kk := (start + k) % 8
		if !on[kk] {
			continue
		}
		prev := (kk + 7) % 8
		if on[prev] && kk != (start+1)%8 {
			// Continuation of a run: replace a diagonal with a 4-neighbour.
			if kk%2 == 0 {
				last := out[len(out)-1]
				lx, ly := last%s.w-x, last/s.w-y
				if lx != 0 && ly != 0 {
					out[len(out)-1] = (y+ringDY[kk])*s.w + x + ringDX[kk]
				}
			}
			continue
		}
		out = append(out, (y+ringDY[kk])*s.w+x+ringDX[kk])
	}
	return out
}

// trace follows the skeleton from start through first for at most maxLen
// steps; it returns the last pixel reached, the number of steps, and the
// candidate index hit (-1 if none).
func (s *skel) trace(start, first, maxLen int) (end, steps, hit int) {
	s.id++
	id := s.id
	x0, y0 := start%s.w, start/s.w
	s.stamp[start] = id
	for k := 0; k < 8; k++ {
		s.stamp[(y0+ringDY[k])*s.w+x0+ringDX[k]] = id
	}
	cur := first
	for steps = 1; ; steps++ {
		if c, ok := s.at[cur]; ok && cur != start {
			return cur, steps, c
		}
		if steps >= maxLen {
			return cur, steps, -1
		}
		x, y := cur%s.w, cur/s.w
		next := -1
		for _, k := range [8]int{0, 2, 4, 6, 1, 3, 5, 7} {
			j := (y+ringDY[k])*s.w + x + ringDX[k]
			if s.b[j] == 1 && s.stamp[j] != id {
				next = j
				break
			}
		}
		s.stamp[cur] = id
		if next < 0 {
			return cur, steps, -1
		}
		// Stamp the other neighbours of cur so the trace cannot turn back.
		for k := 0; k < 8; k++ {
			s.stamp[(y+ringDY[k])*s.w+x+ringDX[k]] = id
		}
		cur = next
	}
}

// minutiae detects, orients, filters and scores minutiae.
func (f *field) minutiae(b []uint8) []template.Point {
	w, h := f.w, f.h
	s := &skel{w: w, h: h, b: b, stamp: make([]int32, w*h), at: map[int]int{}}
	var cs []cand
	for y := 2; y < h-2; y++ {
		for x := 2; x < w-2; x++ {
			i := y*w + x
			if b[i] == 0 || !f.mask[(y/block)*f.bw+x/block] {
				continue
			}
			switch s.crossing(i) {
			case 1:
				cs = append(cs, cand{x: x, y: y, typ: template.RidgeEnding})
			case 3:
				cs = append(cs, cand{x: x, y: y, typ: template.Bifurcation})
			}
		}
	}
	// Merge bifurcation pixels that touch (thinning leaves small
	// triangles).
	for i := range cs {
		if cs[i].typ != template.Bifurcation || cs[i].dead {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			if cs[j].typ == template.Bifurcation && !cs[j].dead && abs(cs[i].x-cs[j].x) <= 1 && abs(cs[i].y-cs[j].y) <= 1 {
				cs[j].dead = true
			}
		}
	}
	for i := range cs {
		if !cs[i].dead {
			s.at[cs[i].y*w+cs[i].x] = i
		}
	}
	meanPer := 0.0
	k := 0
	for i, m := range f.mask {
		if m {
			meanPer += float64(f.period[i])
			k++
		}
	}
	meanPer /= math.Max(1, float64(k))
	traceLen := int(math.Round(1.3 * meanPer)) // ~ 12 px
	shortLen := int(math.Round(1.6 * meanPer))

	for ci := range cs {
		c := &cs[ci]
		if c.dead {
			continue
		}
		i := c.y*w + c.x
		br := s.branches(i)
		want := 1
		if c.typ == template.Bifurcation {
			want = 3
		}
		if len(br) != want {
			c.dead = true
			continue
		}
		var dirs [3]float64
		for bi, p := range br {
			_, steps, hit := s.trace(i, p, shortLen)
			c.branchE[bi], c.branchL[bi] = hit, steps
			// Direction from a shorter trace.
			e2, _, _ := s.trace(i, p, traceLen)
			dx, dy := float64(e2%w-c.x), float64(e2/w-c.y)
			dirs[bi] = math.Atan2(-dy, dx) // ISO convention
		}
		var dir float64
		if c.typ == template.RidgeEnding {
			dir = dirs[0] // along the ridge, away from the tip
		} else {
			// Bisect the two closest branches.
			best, bi, bj := math.Inf(1), 0, 1
			for a := 0; a < 3; a++ {
				for bb := a + 1; bb < 3; bb++ {
					if d := angDiff(dirs[a], dirs[bb]); d < best {
						best, bi, bj = d, a, bb
					}
				}
			}
			dir = dirs[bi] + math.Remainder(dirs[bj]-dirs[bi], 2*math.Pi)/2
		}
		// Refine with the orientation field, keeping the traced sense.
		th := -f.ridgeAngle(float64(c.x), float64(c.y)) // ISO convention
		a1, a2 := th, th+math.Pi
		if angDiff(a2, dir) < angDiff(a1, dir) {
			a1 = a2
		}
		if angDiff(a1, dir) < math.Pi/4 {
			dir = a1
		}
		c.angle = norm2pi(dir)
	}

	// False minutia rules.
	drop := func(i int) { cs[i].dead = true }
	for ci := range cs {
		c := &cs[ci]
		if c.dead {
			continue
		}
		n := 1
		if c.typ == template.Bifurcation {
			n = 3
		}
		for bi := 0; bi < n; bi++ {
			hit := c.branchE[bi]
			if hit < 0 || hit == ci {
				continue
			}
			o := &cs[hit]
			switch {
			case c.typ == template.RidgeEnding && o.typ == template.Bifurcation && c.branchL[bi] <= traceLen:
				drop(ci) // spur
				drop(hit)
			case c.typ == template.RidgeEnding && o.typ == template.RidgeEnding:
				drop(ci) // short ridge or dot
				drop(hit)
			case c.typ == template.Bifurcation && o.typ == template.Bifurcation && c.branchL[bi] <= traceLen:
				drop(ci) // bridge or lake
				drop(hit)
			}
		}
	}
	// Broken ridges: two facing endings close together.
	gap := 1.6 * meanPer
	for i := range cs {
		a := &cs[i]
		if a.dead || a.typ != template.RidgeEnding {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			o := &cs[j]
			if o.dead || o.typ != template.RidgeEnding {
				continue
			}
			dx, dy := float64(o.x-a.x), float64(o.y-a.y)
			d := math.Hypot(dx, dy)
			if d > gap || d == 0 {
				continue
			}
			if angDiff(a.angle, o.angle+math.Pi) > math.Pi/4 {
				continue
			}
			ab := math.Atan2(-dy, dx) // from a to o, ISO convention
			if angDiff(ab, o.angle) < math.Pi/3.5 {
				a.dead, o.dead = true, true
			}
		}
	}
	// Border, and clusters of close minutiae.
	minBorder := float32(1.6 * meanPer)
	for i := range cs {
		c := &cs[i]
		if c.dead {
			continue
		}
		bi := (c.y/block)*f.bw + c.x/block
		if f.border[bi] < minBorder || c.x < 8 || c.y < 8 || c.x >= w-8 || c.y >= h-8 {
			c.dead = true
		}
	}
	near := 0.6 * meanPer
	for i := range cs {
		if cs[i].dead {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			if !cs[j].dead && math.Hypot(float64(cs[i].x-cs[j].x), float64(cs[i].y-cs[j].y)) < near {
				cs[i].nb++
				cs[j].nb++
			}
		}
	}
	var out []template.Point
	for i := range cs {
		c := &cs[i]
		if c.dead || c.nb > 0 {
			continue
		}
		bi := (c.y/block)*f.bw + c.x/block
		coh := float64(f.coh[bi])
		edge := float64(f.border[bi])
		q := 100 * math.Min(1, coh/0.6) * math.Min(1, 0.4+0.6*(edge-float64(minBorder))/(3*meanPer))
		out = append(out, template.Point{
			X: float64(c.x), Y: float64(c.y), Angle: c.angle, Type: c.typ,
			Quality: uint8(math.Max(1, math.Min(100, math.Round(q)))),
		})
	}
	if len(out) > MaxMinutiae {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Quality > out[j].Quality })
		out = out[:MaxMinutiae]
	}
	return out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// angDiff is the absolute angular difference in [0, π].
func angDiff(a, b float64) float64 {
	return math.Abs(math.Remainder(a-b, 2*math.Pi))
}

func norm2pi(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a
}
