package face

// The few tensor operations the three networks use, over float32 in HWC
// order (batch 1), with TensorFlow's padding rules so that results agree
// with TF.js. Buffers come from an arena reused across calls, so a warm
// forward pass allocates nothing.

type tensor struct {
	h, w, c int
	d       []float32
}

// arena hands out float32 buffers for one forward pass. When a pass needs
// more than the slab holds, the extra buffers come from the heap and the
// slab grows to fit at the next reset.
type arena struct {
	buf  []float32
	off  int
	need int
}

func (a *arena) reset() {
	if a.need > len(a.buf) {
		a.buf = make([]float32, a.need)
	}
	a.off, a.need = 0, 0
}

// alloc returns n floats; their contents are undefined.
func (a *arena) alloc(n int) []float32 {
	a.need += n
	if a.off+n <= len(a.buf) {
		s := a.buf[a.off : a.off+n : a.off+n]
		a.off += n
		return s
	}
	return make([]float32, n)
}

func (a *arena) tensor(h, w, c int) tensor {
	return tensor{h, w, c, a.alloc(h * w * c)}
}

// samePad is TensorFlow's "same" padding: the output size and the padding
// before the first input row; the remainder goes after the last.
func samePad(in, k, s int) (out, before int) {
	out = (in + s - 1) / s
	total := (out-1)*s + k - in
	if total < 0 {
		total = 0
	}
	return out, total / 2
}

// validOut is the output size of a "valid" window.
func validOut(in, k, s int) int { return (in-k)/s + 1 }

// im2colRows bounds the patch matrix built per GEMM call: large enough to
// amortise the call, small enough to stay in cache.
const im2colRows = 128

// conv2d is a full convolution with filter f of shape [kh, kw, x.c, cout],
// stride s, padT/padL zero rows/columns before the input and an oh x ow
// output. It builds im2col patches a block of output pixels at a time and
// multiplies them with the filter matrix.
func conv2d(a *arena, x tensor, f []float32, kh, kw, cout, s, padT, padL, oh, ow int) tensor {
	out := a.tensor(oh, ow, cout)
	cin := x.c
	k := kh * kw * cin
	if kh == 1 && kw == 1 && s == 1 && padT == 0 && padL == 0 && oh == x.h && ow == x.w {
		gemm(oh*ow, cout, cin, x.d, f, out.d)
		return out
	}
	patch := a.alloc(im2colRows * k)
	npix := oh * ow
	for p0 := 0; p0 < npix; p0 += im2colRows {
		rows := min(im2colRows, npix-p0)
		for r := 0; r < rows; r++ {
			oy, ox := (p0+r)/ow, (p0+r)%ow
			row := patch[r*k : (r+1)*k]
			i := 0
			for ky := 0; ky < kh; ky++ {
				iy := oy*s + ky - padT
				if iy < 0 || iy >= x.h {
					clear(row[i : i+kw*cin])
					i += kw * cin
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := ox*s + kx - padL
					if ix < 0 || ix >= x.w {
						clear(row[i : i+cin])
					} else {
						copy(row[i:i+cin], x.d[(iy*x.w+ix)*cin:])
					}
					i += cin
				}
			}
		}
		gemm(rows, cout, k, patch[:rows*k], f, out.d[p0*cout:(p0+rows)*cout])
	}
	return out
}

// depthwise3 is a 3x3 depthwise convolution (filter [3, 3, c, 1]).
func depthwise3(a *arena, x tensor, f []float32, s, padT, padL, oh, ow int) tensor {
	out := a.tensor(oh, ow, x.c)
	c := x.c
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			o := out.d[(oy*ow+ox)*c : (oy*ow+ox+1)*c]
			clear(o)
			for ky := 0; ky < 3; ky++ {
				iy := oy*s + ky - padT
				if iy < 0 || iy >= x.h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					ix := ox*s + kx - padL
					if ix < 0 || ix >= x.w {
						continue
					}
					in := x.d[(iy*x.w+ix)*c : (iy*x.w+ix+1)*c]
					w := f[(ky*3+kx)*c : (ky*3+kx+1)*c]
					for i := range o {
						o[i] += in[i] * w[i]
					}
				}
			}
		}
	}
	return out
}

// addBias adds b to every pixel.
func addBias(x tensor, b []float32) {
	c := x.c
	for p := 0; p < len(x.d); p += c {
		row := x.d[p : p+c]
		for i := range row {
			row[i] += b[i]
		}
	}
}

func relu(d []float32) {
	for i, v := range d {
		if v < 0 {
			d[i] = 0
		}
	}
}

// maxPool takes the maximum over k x k windows; padded cells do not count.
func maxPool(a *arena, x tensor, k, s, padT, padL, oh, ow int) tensor {
	out := a.tensor(oh, ow, x.c)
	c := x.c
	if k == 2 && padT == 0 && padL == 0 {
		// The detector's pools: a window cut by the edge repeats its
		// last row or column, which leaves the maximum unchanged.
		for oy := 0; oy < oh; oy++ {
			y0 := oy * s
			y1 := min(y0+1, x.h-1)
			for ox := 0; ox < ow; ox++ {
				x0 := ox * s
				x1 := min(x0+1, x.w-1)
				p00 := x.d[(y0*x.w+x0)*c:][:c]
				p01 := x.d[(y0*x.w+x1)*c:][:c]
				p10 := x.d[(y1*x.w+x0)*c:][:c]
				p11 := x.d[(y1*x.w+x1)*c:][:c]
				o := out.d[(oy*ow+ox)*c:][:c]
				for i := range o {
					v := p00[i]
					v = max(v, p01[i])
					v = max(v, p10[i])
					o[i] = max(v, p11[i])
				}
			}
		}
		return out
	}
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			o := out.d[(oy*ow+ox)*c : (oy*ow+ox+1)*c]
			first := true
			for ky := 0; ky < k; ky++ {
				iy := oy*s + ky - padT
				if iy < 0 || iy >= x.h {
					continue
				}
				for kx := 0; kx < k; kx++ {
					ix := ox*s + kx - padL
					if ix < 0 || ix >= x.w {
						continue
					}
					in := x.d[(iy*x.w+ix)*c : (iy*x.w+ix+1)*c]
					if first {
						copy(o, in)
						first = false
						continue
					}
					for i, v := range in {
						if v > o[i] {
							o[i] = v
						}
					}
				}
			}
		}
	}
	return out
}

// avgPool averages k x k windows with "valid" padding.
func avgPool(a *arena, x tensor, k, s int) tensor {
	oh, ow := validOut(x.h, k, s), validOut(x.w, k, s)
	out := a.tensor(oh, ow, x.c)
	c := x.c
	inv := float32(1) / float32(k*k)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			o := out.d[(oy*ow+ox)*c : (oy*ow+ox+1)*c]
			clear(o)
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					iy, ix := oy*s+ky, ox*s+kx
					in := x.d[(iy*x.w+ix)*c : (iy*x.w+ix+1)*c]
					for i, v := range in {
						o[i] += v
					}
				}
			}
			for i := range o {
				o[i] *= inv
			}
		}
	}
	return out
}

// gemm sets c (m x n) to a (m x k) times b (k x n), all row-major. It is
// the assembly kernel where the CPU has one, else gemmGo.
var gemm = gemmGo

// gemmGo computes four rows of c at a time so that each row of b is
// loaded once per four multiply-adds.
func gemmGo(m, n, k int, a, b, c []float32) {
	c = c[:m*n]
	b = b[:k*n]
	clear(c)
	i := 0
	for ; i+4 <= m; i += 4 {
		c0 := c[i*n : (i+1)*n]
		c1 := c[(i+1)*n : (i+2)*n]
		c2 := c[(i+2)*n : (i+3)*n]
		c3 := c[(i+3)*n : (i+4)*n]
		a0 := a[i*k : (i+1)*k]
		a1 := a[(i+1)*k : (i+2)*k]
		a2 := a[(i+2)*k : (i+3)*k]
		a3 := a[(i+3)*k : (i+4)*k]
		for p := 0; p < k; p++ {
			x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
			br := b[p*n : (p+1)*n]
			c0, c1, c2, c3 := c0[:len(br)], c1[:len(br)], c2[:len(br)], c3[:len(br)]
			for j, bv := range br {
				c0[j] += x0 * bv
				c1[j] += x1 * bv
				c2[j] += x2 * bv
				c3[j] += x3 * bv
			}
		}
	}
	for ; i < m; i++ {
		ci := c[i*n : (i+1)*n]
		ai := a[i*k : (i+1)*k]
		for p, x := range ai {
			br := b[p*n : (p+1)*n]
			ci := ci[:len(br)]
			for j, bv := range br {
				ci[j] += x * bv
			}
		}
	}
}
