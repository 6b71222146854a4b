package extract

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/edgetrust/edgetrust/internal/biometric/template"
)

// Limits on input images.
const (
	MinSide = 64
	MaxSide = 2048
	// MaxMinutiae kept per template (the best by quality).
	MaxMinutiae = 120
)

// ErrNoFinger is returned when no fingerprint area is found.
var ErrNoFinger = errors.New("extract: no fingerprint area found")

// Result is the extractor's output with its intermediate maps, useful for
// tests and diagnostics.
type Result struct {
	Set *template.Set
	// Foreground fraction of the image.
	Foreground float64
	// MeanPeriod is the mean ridge period in pixels over the foreground.
	MeanPeriod float64
}

// block is the side of the analysis blocks in pixels.
const block = 8

// field holds the per-image analysis.
type field struct {
	w, h   int
	bw, bh int       // block grid
	img    []float32 // normalised, ridges positive
	rawSD  float64   // grey-level standard deviation before normalising
	mask   []bool    // block foreground
	border []float32 // block distance to background, pixels
	// Doubled-angle orientation vectors per block (smoothed) and
	// coherence.
	oc, os []float32
	coh    []float32
	period []float32 // per block
}

// Extract finds the minutiae of img (assumed 500 ppi).
func Extract(img *image.Gray) (*Result, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("extract: image %dx%d out of range %d..%d", w, h, MinSide, MaxSide)
	}
	f := &field{w: w, h: h, bw: (w + block - 1) / block, bh: (h + block - 1) / block}
	if sd := f.normalise(img); sd < minContrast {
		return nil, ErrNoFinger
	}
	f.orientation()
	if !f.segment() {
		return nil, ErrNoFinger
	}
	f.frequency()
	enh := f.enhance()
	bin := f.binarise(enh)
	thin(bin, w, h)
	ms := f.minutiae(bin)
	set := &template.Set{Width: float64(w), Height: float64(h), Minutiae: ms}
	fg := 0
	var per float64
	for i, m := range f.mask {
		if m {
			fg++
			per += float64(f.period[i])
		}
	}
	q := f.fingerQuality(len(ms))
	set.Quality = q
	return &Result{Set: set, Foreground: float64(fg) / float64(len(f.mask)), MeanPeriod: per / math.Max(1, float64(fg))}, nil
}

// minContrast is the smallest grey-level spread (standard deviation over
// the image) that can hold a fingerprint.
const minContrast = 6

// normalise converts to float with ridges positive, zero mean and unit
// variance over the image, and returns the raw standard deviation.
func (f *field) normalise(img *image.Gray) float64 {
	f.img = make([]float32, f.w*f.h)
	var sum, sum2 float64
	for y := 0; y < f.h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+f.w]
		for x, p := range row {
			v := 255 - float64(p)
			f.img[y*f.w+x] = float32(v)
			sum += v
			sum2 += v * v
		}
	}
	n := float64(len(f.img))
	mean := sum / n
	sd := math.Sqrt(math.Max(sum2/n-mean*mean, 1))
	for i, v := range f.img {
		f.img[i] = float32((float64(v) - mean) / sd)
	}
	f.rawSD = sd
	return sd
}

// orientation computes block gradients, smoothed doubled-angle vectors and
// coherence.
func (f *field) orientation() {
	w, h := f.w, f.h
	n := f.bw * f.bh
	gxx := make([]float64, n)
	gyy := make([]float64, n)
	gxy := make([]float64, n)
	en := make([]float64, n) // local contrast energy
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			p := f.img
			gx := float64(p[i-w+1] + 2*p[i+1] + p[i+w+1] - p[i-w-1] - 2*p[i-1] - p[i+w-1])
			gy := float64(p[i+w-1] + 2*p[i+w] + p[i+w+1] - p[i-w-1] - 2*p[i-w] - p[i-w+1])
			bi := (y/block)*f.bw + x/block
			gxx[bi] += gx * gx
			gyy[bi] += gy * gy
			gxy[bi] += gx * gy
			en[bi] += gx*gx + gy*gy
		}
	}
	// Doubled-angle vectors of the gradient; ridge orientation is
	// perpendicular.
	c := make([]float64, n)
	s := make([]float64, n)
	e := make([]float64, n)
	for i := range c {
		c[i] = gxx[i] - gyy[i]
		s[i] = 2 * gxy[i]
		e[i] = gxx[i] + gyy[i]
	}
	// Coherence on a 3x3-block (24 px) window.
	c3 := boxBlocks(c, f.bw, f.bh, 1)
	s3 := boxBlocks(s, f.bw, f.bh, 1)
	e3 := boxBlocks(e, f.bw, f.bh, 1)
	f.coh = make([]float32, n)
	for i := range c3 {
		if e3[i] > 0 {
			f.coh[i] = float32(math.Hypot(c3[i], s3[i]) / e3[i])
		}
	}
	// Orientation smoothed over about 5x5 blocks (40 px), normalised per
	// block first so strong blocks do not swamp weak ones entirely.
	for i := range c {
		m := math.Sqrt(math.Hypot(c[i], s[i]) + 1e-9)
		c[i] /= m
		s[i] /= m
	}
	c = boxBlocks(boxBlocks(c, f.bw, f.bh, 1), f.bw, f.bh, 1)
	s = boxBlocks(boxBlocks(s, f.bw, f.bh, 1), f.bw, f.bh, 1)
	f.oc = make([]float32, n)
	f.os = make([]float32, n)
	for i := range c {
		m := math.Hypot(c[i], s[i])
		if m == 0 {
			f.oc[i] = 1
			continue
		}
		f.oc[i], f.os[i] = float32(c[i]/m), float32(s[i]/m)
	}
	f.border = make([]float32, n)
	// Energy per block kept in border temporarily for segmentation.
	for i := range en {
		f.border[i] = float32(en[i] / float64(block*block))
	}
}

// boxBlocks averages over a (2r+1)^2 block window, clipped at the edges.
func boxBlocks(a []float64, bw, bh, r int) []float64 {
	t := make([]float64, len(a))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			var s float64
			var k int
			for dx := -r; dx <= r; dx++ {
				if xx := x + dx; xx >= 0 && xx < bw {
					s += a[y*bw+xx]
					k++
				}
			}
			t[y*bw+x] = s / float64(k)
		}
	}
	out := make([]float64, len(a))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			var s float64
			var k int
			for dy := -r; dy <= r; dy++ {
				if yy := y + dy; yy >= 0 && yy < bh {
					s += t[yy*bw+x]
					k++
				}
			}
			out[y*bw+x] = s / float64(k)
		}
	}
	return out
}

// ridgeAngle returns the ridge orientation (mod π, radians, image
// coordinates with y down: angle of the ridge direction vector) at a
// pixel, interpolating the block field.
func (f *field) ridgeAngle(x, y float64) float64 {
	bx := x/block - 0.5
	by := y/block - 0.5
	ix, iy := int(math.Floor(bx)), int(math.Floor(by))
	tx, ty := bx-float64(ix), by-float64(iy)
	var c, s float64
	for j := 0; j < 2; j++ {
		for i := 0; i < 2; i++ {
			xx := min(max(ix+i, 0), f.bw-1)
			yy := min(max(iy+j, 0), f.bh-1)
			wt := (1 - math.Abs(float64(i)-tx)) * (1 - math.Abs(float64(j)-ty))
			c += wt * float64(f.oc[yy*f.bw+xx])
			s += wt * float64(f.os[yy*f.bw+xx])
		}
	}
	// Gradient doubled angle → gradient angle → ridge angle (+π/2).
	return math.Mod(math.Atan2(s, c)/2+math.Pi/2+2*math.Pi, math.Pi)
}

// segment marks foreground blocks: enough contrast energy and coherence,
// cleaned with morphology, holes filled, the largest component kept.
// It reports whether any foreground remains.
func (f *field) segment() bool {
	n := f.bw * f.bh
	en := append([]float32(nil), f.border...)
	sorted := append([]float32(nil), en...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	p95 := sorted[int(0.95*float64(n-1))]
	// Relative to the strongest blocks, and never below what sensor noise
	// alone gives (block gradient energy is in units of the image's
	// variance; 1500 grey levels² of Sobel energy is about a ridge
	// amplitude of 10 grey levels).
	thr := float32(math.Max(0.12*float64(p95), 1500/(f.rawSD*f.rawSD)))
	e3 := boxBlocks(toF64(en), f.bw, f.bh, 1)
	f.mask = make([]bool, n)
	for i := range f.mask {
		f.mask[i] = float32(e3[i]) > thr && f.coh[i] > 0.15
	}
	f.mask = closeBlocks(f.mask, f.bw, f.bh)
	f.mask = openBlocks(f.mask, f.bw, f.bh)
	fillHoles(f.mask, f.bw, f.bh)
	if !largestComponent(f.mask, f.bw, f.bh) {
		return false
	}
	// Distance of each block to background (or the image edge), in pixels.
	f.border = distanceBlocks(f.mask, f.bw, f.bh)
	return true
}

func toF64(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}

func dilateBlocks(m []bool, bw, bh int) []bool {
	out := make([]bool, len(m))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			v := false
			for dy := -1; dy <= 1 && !v; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && yy >= 0 && xx < bw && yy < bh && m[yy*bw+xx] {
						v = true
						break
					}
				}
			}
			out[y*bw+x] = v
		}
	}
	return out
}

func erodeBlocks(m []bool, bw, bh int) []bool {
	inv := make([]bool, len(m))
	for i, v := range m {
		inv[i] = !v
	}
	d := dilateBlocks(inv, bw, bh)
	for i, v := range d {
		d[i] = !v
	}
	return d
}

func closeBlocks(m []bool, bw, bh int) []bool {
	return erodeBlocks(dilateBlocks(m, bw, bh), bw, bh)
}

func openBlocks(m []bool, bw, bh int) []bool {
	return dilateBlocks(erodeBlocks(m, bw, bh), bw, bh)
}

// fillHoles sets background blocks not connected to the image edge.
func fillHoles(m []bool, bw, bh int) {
	seen := make([]bool, len(m))
	var stack []int
	push := func(x, y int) {
		i := y*bw + x
		if !m[i] && !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for x := 0; x < bw; x++ {
		push(x, 0)
		push(x, bh-1)
	}
	for y := 0; y < bh; y++ {
		push(0, y)
		push(bw-1, y)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%bw, i/bw
		if x > 0 {
			push(x-1, y)
		}
		if x < bw-1 {
			push(x+1, y)
		}
		if y > 0 {
			push(x, y-1)
		}
		if y < bh-1 {
			push(x, y+1)
		}
	}
	for i := range m {
		if !m[i] && !seen[i] {
			m[i] = true
		}
	}
}

// largestComponent keeps the largest 4-connected foreground component.
func largestComponent(m []bool, bw, bh int) bool {
	label := make([]int, len(m))
	best, bestN, next := 0, 0, 0
	for s := range m {
		if !m[s] || label[s] != 0 {
			continue
		}
		next++
		n := 0
		stack := []int{s}
		label[s] = next
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := i%bw, i/bw
			for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				xx, yy := x+d[0], y+d[1]
				if xx < 0 || yy < 0 || xx >= bw || yy >= bh {
					continue
				}
				j := yy*bw + xx
				if m[j] && label[j] == 0 {
					label[j] = next
					stack = append(stack, j)
				}
			}
		}
		if n > bestN {
			best, bestN = next, n
		}
	}
	for i := range m {
		m[i] = m[i] && label[i] == best
	}
	return bestN >= 4
}

// distanceBlocks is a two-pass chamfer distance (pixels) from each block
// centre to the nearest background block or image edge.
func distanceBlocks(m []bool, bw, bh int) []float32 {
	const inf = 1e9
	d := make([]float64, len(m))
	for i := range d {
		if m[i] {
			d[i] = inf
		}
	}
	edge := func(x, y int) float64 {
		// Distance to just outside the image.
		return float64(min(min(x+1, bw-x), min(y+1, bh-y))) * block
	}
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			i := y*bw + x
			if !m[i] {
				continue
			}
			v := math.Min(d[i], edge(x, y)-block/2)
			if x > 0 {
				v = math.Min(v, d[i-1]+block)
			}
			if y > 0 {
				v = math.Min(v, d[i-bw]+block)
				if x > 0 {
					v = math.Min(v, d[i-bw-1]+block*math.Sqrt2)
				}
				if x < bw-1 {
					v = math.Min(v, d[i-bw+1]+block*math.Sqrt2)
				}
			}
			d[i] = v
		}
	}
	for y := bh - 1; y >= 0; y-- {
		for x := bw - 1; x >= 0; x-- {
			i := y*bw + x
			if !m[i] {
				continue
			}
			v := d[i]
			if x < bw-1 {
				v = math.Min(v, d[i+1]+block)
			}
			if y < bh-1 {
				v = math.Min(v, d[i+bw]+block)
				if x < bw-1 {
					v = math.Min(v, d[i+bw+1]+block*math.Sqrt2)
				}
				if x > 0 {
					v = math.Min(v, d[i+bw-1]+block*math.Sqrt2)
				}
			}
			d[i] = v
		}
	}
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = float32(v)
	}
	return out
}

func (f *field) fingerQuality(nMinutiae int) uint8 {
	var c float64
	k := 0
	for i, m := range f.mask {
		if m {
			c += float64(f.coh[i])
			k++
		}
	}
	if k == 0 {
		return 1
	}
	c /= float64(k)
	area := math.Min(1, float64(k)/float64(len(f.mask))/0.6)
	q := 100 * math.Min(1, c/0.6) * (0.5 + 0.5*area)
	if nMinutiae < 12 {
		q *= float64(nMinutiae) / 12
	}
	return uint8(math.Max(1, math.Min(100, math.Round(q))))
}
