package extract

import (
	"math"
	"runtime"
	"sync"
)

// Ridge period limits, pixels at 500 ppi.
const (
	minPer     = 5.0
	maxPer     = 15.0
	defaultPer = 9.0
)

// frequency estimates the ridge period per foreground block from the
// x-signature (Hong, Wan and Jain 1998): grey levels averaged along the
// ridges in a 32 x 16 oriented window, peaks counted across them.
func (f *field) frequency() {
	n := f.bw * f.bh
	per := make([]float64, n)
	valid := make([]bool, n)
	const L, W = 32, 16
	var sig [L]float64
	var sum float64
	var cnt int
	for by := 0; by < f.bh; by++ {
		for bx := 0; bx < f.bw; bx++ {
			i := by*f.bw + bx
			if !f.mask[i] {
				continue
			}
			cx, cy := float64(bx*block)+block/2, float64(by*block)+block/2
			th := f.ridgeAngle(cx, cy)
			dx, dy := math.Cos(th), math.Sin(th) // along the ridge
			nx, ny := -dy, dx                    // across
			for k := 0; k < L; k++ {
				u := float64(k - L/2)
				var s float64
				for j := 0; j < W; j++ {
					v := float64(j - W/2)
					s += f.at(cx+u*nx+v*dx, cy+u*ny+v*dy)
				}
				sig[k] = s
			}
			// Smooth, then peaks.
			var sm [L]float64
			for k := range sig {
				sm[k] = 0.5*sig[k] + 0.25*sig[max(k-1, 0)] + 0.25*sig[min(k+1, L-1)]
			}
			first, last, peaks := -1, -1, 0
			var lo, hi float64 = math.Inf(1), math.Inf(-1)
			for k := 1; k < L-1; k++ {
				lo, hi = math.Min(lo, sm[k]), math.Max(hi, sm[k])
			}
			for k := 1; k < L-1; k++ {
				if sm[k] > sm[k-1] && sm[k] >= sm[k+1] && sm[k] > lo+0.3*(hi-lo) {
					if first < 0 {
						first = k
					}
					last = k
					peaks++
				}
			}
			if peaks >= 2 {
				p := float64(last-first) / float64(peaks-1)
				if p >= minPer && p <= maxPer {
					per[i], valid[i] = p, true
					sum += p
					cnt++
				}
			}
		}
	}
	def := defaultPer
	if cnt > 0 {
		def = sum / float64(cnt)
	}
	for i := range per {
		if !valid[i] {
			per[i] = def
		}
	}
	per = boxBlocks(boxBlocks(per, f.bw, f.bh, 1), f.bw, f.bh, 1)
	f.period = make([]float32, n)
	for i, p := range per {
		f.period[i] = float32(math.Max(minPer+1, math.Min(maxPer-1, p)))
	}
}

// at samples the normalised image bilinearly, zero outside.
func (f *field) at(x, y float64) float64 {
	ix, iy := int(math.Floor(x)), int(math.Floor(y))
	if ix < 0 || iy < 0 || ix >= f.w-1 || iy >= f.h-1 {
		return 0
	}
	tx, ty := x-float64(ix), y-float64(iy)
	i := iy*f.w + ix
	p := f.img
	return (1-ty)*((1-tx)*float64(p[i])+tx*float64(p[i+1])) + ty*((1-tx)*float64(p[i+f.w])+tx*float64(p[i+f.w+1]))
}

// Gabor bank for enhancement.
const (
	gOrient = 24
	gPerMin = 5.0
	gPerBin = 0.5
	gNPer   = int((maxPer-gPerMin)/gPerBin) + 1
	gRadius = 12
)

type gtap struct {
	off int32 // offset in a padded image of stride gStride
	w   float32
}

// gkernel is a Gabor kernel folded on its point symmetry: the kernel is
// even (w(-d) == w(d), bit for bit: the envelope and the cosine see
// negated coordinates only), so each tap of pairs stands for +off and
// -off, and centre is the tap at 0.
type gkernel struct {
	centre float32
	pairs  []gtap
}

// fold makes the kernel of taps, checking the symmetry it relies on.
func fold(taps []gtap) gkernel {
	byOff := make(map[int32]float32, len(taps))
	for _, t := range taps {
		byOff[t.off] = t.w
	}
	var k gkernel
	for _, t := range taps {
		switch {
		case t.off == 0:
			k.centre = t.w
		case t.off > 0:
			if w, ok := byOff[-t.off]; !ok || w != t.w {
				panic("extract: Gabor kernel is not point-symmetric")
			}
			k.pairs = append(k.pairs, t)
		}
	}
	return k
}

var (
	gMu   sync.Mutex
	gBank = map[int]*[gOrient][gNPer]gkernel{} // by padded stride
)

func gaborBank(stride int) *[gOrient][gNPer]gkernel {
	gMu.Lock()
	defer gMu.Unlock()
	if b, ok := gBank[stride]; ok {
		return b
	}
	b := new([gOrient][gNPer]gkernel)
	for oi := 0; oi < gOrient; oi++ {
		th := float64(oi) * math.Pi / gOrient
		c, s := math.Cos(th), math.Sin(th)
		for pi := 0; pi < gNPer; pi++ {
			T := gPerMin + float64(pi)*gPerBin
			sa, sn := 0.5*T, 0.38*T
			var taps []gtap
			var envs []float64
			var mean, esum float64
			for dy := -gRadius; dy <= gRadius; dy++ {
				for dx := -gRadius; dx <= gRadius; dx++ {
					along := float64(dx)*c + float64(dy)*s
					across := -float64(dx)*s + float64(dy)*c
					env := math.Exp(-along*along/(2*sa*sa) - across*across/(2*sn*sn))
					if env < 0.05 {
						continue
					}
					g := env * math.Cos(2*math.Pi*across/T)
					taps = append(taps, gtap{int32(dy*stride + dx), float32(g)})
					envs = append(envs, env)
					mean += g
					esum += env
				}
			}
			var norm float64
			for i := range taps {
				taps[i].w -= float32(envs[i] * mean / esum)
				norm += math.Abs(float64(taps[i].w))
			}
			for i := range taps {
				taps[i].w /= float32(norm)
			}
			b[oi][pi] = fold(taps)
		}
	}
	if len(gBank) > 8 {
		clear(gBank)
	}
	gBank[stride] = b
	return b
}

// enhance applies the oriented, frequency-tuned Gabor filter to the
// locally normalised image over the foreground; background is 0.
func (f *field) enhance() []float32 {
	w, h := f.w, f.h
	const pad = gRadius
	pw := w + 2*pad
	src := make([]float32, pw*(h+2*pad))
	// Local normalisation: block mean and spread over 3x3 blocks,
	// interpolated.
	n := f.bw * f.bh
	m1 := make([]float64, n)
	m2 := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float64(f.img[y*w+x])
			bi := (y/block)*f.bw + x/block
			m1[bi] += v
			m2[bi] += v * v
		}
	}
	for i := range m1 {
		m1[i] /= block * block
		m2[i] /= block * block
	}
	m1 = boxBlocks(m1, f.bw, f.bh, 1)
	m2 = boxBlocks(m2, f.bw, f.bh, 1)
	sd := make([]float64, n)
	for i := range sd {
		sd[i] = math.Sqrt(math.Max(m2[i]-m1[i]*m1[i], 1e-4))
	}
	rows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				mean, dev := interpBlocks(m1, f.bw, f.bh, x, y), interpBlocks(sd, f.bw, f.bh, x, y)
				src[(y+pad)*pw+x+pad] = float32((float64(f.img[y*w+x]) - mean) / math.Max(dev, 0.05))
			}
		}
	})
	bank := gaborBank(pw)
	out := make([]float32, w*h)
	// Each pixel reads src and writes only its own out cell, so row bands
	// run in parallel and the result is the same bit for bit.
	rows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			by := y / block
			for x := 0; x < w; x++ {
				bi := by*f.bw + x/block
				if !f.mask[bi] {
					continue
				}
				th := f.ridgeAngle(float64(x), float64(y))
				oi := int(math.Round(th/(math.Pi/gOrient))) % gOrient
				pi := int(math.Round((float64(f.period[bi]) - gPerMin) / gPerBin))
				pi = min(max(pi, 0), gNPer-1)
				out[y*w+x] = convolve(&bank[oi][pi], src, int32((y+pad)*pw+x+pad))
			}
		}
	})
	return out
}

// convolve is one pixel's Gabor response around src[base]: each folded
// pair adds its two source pixels before one multiply, into four
// accumulators summed pairwise at the end, so that the adds do not wait on
// each other (one running sum was a dependent add per tap, and this loop
// is most of an extraction's time).
func convolve(k *gkernel, src []float32, base int32) float32 {
	var v0, v1, v2, v3 float32
	p := k.pairs
	i := 0
	for ; i+4 <= len(p); i += 4 {
		t := p[i : i+4 : i+4]
		v0 += t[0].w * (src[base+t[0].off] + src[base-t[0].off])
		v1 += t[1].w * (src[base+t[1].off] + src[base-t[1].off])
		v2 += t[2].w * (src[base+t[2].off] + src[base-t[2].off])
		v3 += t[3].w * (src[base+t[3].off] + src[base-t[3].off])
	}
	for ; i < len(p); i++ {
		v0 += p[i].w * (src[base+p[i].off] + src[base-p[i].off])
	}
	return k.centre*src[base] + ((v0 + v1) + (v2 + v3))
}

// Workers bounds the goroutines one extraction uses for its per-pixel
// loops (enhancement is ~60 % of its time). 1 runs them inline.
var Workers = min(runtime.GOMAXPROCS(0), 4)

// rows runs f over [0, h) in up to Workers contiguous bands and waits.
func rows(h int, f func(y0, y1 int)) {
	n := min(Workers, h/16)
	if n <= 1 {
		f(0, h)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		y0, y1 := h*i/n, h*(i+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(y0, y1)
		}()
	}
	wg.Wait()
}

// interpBlocks interpolates a block field bilinearly at a pixel.
func interpBlocks(a []float64, bw, bh, x, y int) float64 {
	fx := (float64(x)+0.5)/block - 0.5
	fy := (float64(y)+0.5)/block - 0.5
	ix, iy := int(math.Floor(fx)), int(math.Floor(fy))
	tx, ty := fx-float64(ix), fy-float64(iy)
	get := func(i, j int) float64 {
		return a[min(max(j, 0), bh-1)*bw+min(max(i, 0), bw-1)]
	}
	return (1-ty)*((1-tx)*get(ix, iy)+tx*get(ix+1, iy)) + ty*((1-tx)*get(ix, iy+1)+tx*get(ix+1, iy+1))
}

// binarise: ridge where the enhanced image is positive, inside the
// foreground; a one-pixel frame is kept clear for thinning.
func (f *field) binarise(enh []float32) []uint8 {
	w, h := f.w, f.h
	bin := make([]uint8, w*h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if enh[y*w+x] > 0 && f.mask[(y/block)*f.bw+x/block] {
				bin[y*w+x] = 1
			}
		}
	}
	// Fill one-pixel holes and remove one-pixel specks.
	out := append([]uint8(nil), bin...)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			s := int(bin[i-1]) + int(bin[i+1]) + int(bin[i-w]) + int(bin[i+w])
			if bin[i] == 0 && s == 4 {
				out[i] = 1
			} else if bin[i] == 1 && s == 0 {
				out[i] = 0
			}
		}
	}
	return out
}

// thin reduces the binary ridges to one-pixel skeletons in place
// (Zhang–Suen).
func thin(b []uint8, w, h int) {
	var del []int
	for {
		changed := false
		for pass := 0; pass < 2; pass++ {
			del = del[:0]
			for y := 1; y < h-1; y++ {
				for x := 1; x < w-1; x++ {
					i := y*w + x
					if b[i] == 0 {
						continue
					}
					p2, p3, p4 := b[i-w], b[i-w+1], b[i+1]
					p5, p6, p7 := b[i+w+1], b[i+w], b[i+w-1]
					p8, p9 := b[i-1], b[i-w-1]
					nb := int(p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9)
					if nb < 2 || nb > 6 {
						continue
					}
					ring := [9]uint8{p2, p3, p4, p5, p6, p7, p8, p9, p2}
					a := 0
					for k := 0; k < 8; k++ {
						if ring[k] == 0 && ring[k+1] == 1 {
							a++
						}
					}
					if a != 1 {
						continue
					}
					if pass == 0 {
						if p2*p4*p6 != 0 || p4*p6*p8 != 0 {
							continue
						}
					} else {
						if p2*p4*p8 != 0 || p2*p6*p8 != 0 {
							continue
						}
					}
					del = append(del, i)
				}
			}
			for _, i := range del {
				b[i] = 0
			}
			if len(del) > 0 {
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	// Remove staircase redundancy: a pixel whose removal keeps its
	// neighbours 8-connected and which sits at an L corner.
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			if b[i] == 0 {
				continue
			}
			n, e, s, wv := b[i-w], b[i+1], b[i+w], b[i-1]
			ne, se, sw, nw := b[i-w+1], b[i+w+1], b[i+w-1], b[i-w-1]
			if (n == 1 && e == 1 && sw == 0 && s == 0 && wv == 0 && se == 0 && nw == 0) ||
				(e == 1 && s == 1 && nw == 0 && n == 0 && wv == 0 && ne == 0 && sw == 0) ||
				(s == 1 && wv == 1 && ne == 0 && n == 0 && e == 0 && se == 0 && nw == 0) ||
				(wv == 1 && n == 1 && se == 0 && s == 0 && e == 0 && sw == 0 && ne == 0) {
				b[i] = 0
			}
		}
	}
}
