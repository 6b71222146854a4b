package iris

import (
	"image"
	"math"
	"math/bits"
	"math/cmplx"
	"sync"
)

// Rubber sheet and code geometry.
const (
	sheetRows = 64  // radii from the pupil's edge to the limbus
	sheetCols = 512 // angles, clockwise in the image from +x
	// Rows and Cols are the code's size: radial bands × angles; each
	// location has two bits (signs of the real and imaginary parts) and
	// one mask bit.
	Rows = 16
	Cols = 256
	// Bits in a code.
	Bits = Rows * Cols * 2

	ringWords  = Cols / 64
	codeWords  = Rows * 2 * ringWords
	maskWords  = Rows * ringWords
	bandHeight = sheetRows / Rows

	// Log-Gabor filter along the angle: centre wavelength in sheet columns
	// and σ/f₀ (Field's bandwidth parameter; 0.5 ≈ two octaves).
	wavelength = 24
	bandwidth  = 0.5
)

// Template is an iris code and its mask. Bit c%64 of word ((row·2+part)·4
// + c/64) of Code is the sign of the real (part 0) or imaginary (part 1)
// log-Gabor response at band row, angle column c; Mask has the same
// layout without the part and is set where both bits can be trusted. Code
// bits outside the mask are zero.
type Template struct {
	Code [codeWords]uint64
	Mask [maskWords]uint64
}

// Valid is the number of unmasked locations (two bits each).
func (t *Template) Valid() int {
	n := 0
	for _, w := range t.Mask {
		n += bits.OnesCount64(w)
	}
	return n
}

// MinValid is the fewest unmasked locations Encode keeps (an eighth of the
// code); with fewer a comparison says too little.
const MinValid = Rows * Cols / 8

// Encode segments img and encodes its iris.
func Encode(img *image.Gray) (*Template, *Segmentation, error) {
	if err := checkImage(img); err != nil {
		return nil, nil, err
	}
	p := toPlane(img)
	s, err := segmentPlane(p)
	if err != nil {
		return nil, nil, err
	}
	sheet, mask := normalise(p, s)
	t, err := encodeSheet(sheet, mask)
	return t, s, err
}

// EncodeSegmented encodes the iris of img where s says it is.
func EncodeSegmented(img *image.Gray, s *Segmentation) (*Template, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if s == nil || !(s.Pupil.R > 0 && s.Iris.R > s.Pupil.R) {
		return nil, ErrNoIris
	}
	sheet, mask := normalise(toPlane(img), s)
	return encodeSheet(sheet, mask)
}

// normalise unwraps the iris onto Daugman's rubber sheet: for each angle,
// sheetRows points evenly from the pupil's edge to the limbus along the
// ray from the pupil centre (the boundaries need not be concentric). mask
// is true where the sample is noise: off the image, a reflection, under a
// lid or a lash.
func normalise(p *plane, s *Segmentation) (sheet []float32, mask []bool) {
	sheet = make([]float32, sheetRows*sheetCols)
	mask = make([]bool, sheetRows*sheetCols)
	pu, ir := s.Pupil, s.Iris
	bx, by := pu.X-ir.X, pu.Y-ir.Y
	cc := bx*bx + by*by - ir.R*ir.R
	for j := range sheetCols {
		th := 2 * math.Pi * float64(j) / sheetCols
		ux, uy := math.Cos(th), math.Sin(th)
		b := ux*bx + uy*by
		ri := -b + math.Sqrt(math.Max(0, b*b-cc))
		for i := range sheetRows {
			r := pu.R + (float64(i)+0.5)/sheetRows*(ri-pu.R)
			x, y := pu.X+r*ux, pu.Y+r*uy
			v := p.sample(x, y)
			k := i*sheetCols + j
			sheet[k] = v
			if v != v || float64(v) < s.lash || y < s.Upper.At(x) || y > s.Lower.At(x) {
				mask[k] = true
			}
		}
	}
	return sheet, mask
}

// encodeSheet filters each radial band and quantises the phase.
func encodeSheet(sheet []float32, mask []bool) (*Template, error) {
	f := filter()
	t := new(Template)
	band := make([]complex128, sheetCols)
	bad := make([]int, sheetCols)
	mag := make([]float64, Cols)
	for row := range Rows {
		// Band mean, masked samples replaced by their row's valid mean so
		// they do not ring through the filter.
		clear(bad)
		for j := range band {
			band[j] = 0
		}
		for i := row * bandHeight; i < (row+1)*bandHeight; i++ {
			var s float64
			n := 0
			for j := range sheetCols {
				if !mask[i*sheetCols+j] {
					s += float64(sheet[i*sheetCols+j])
					n++
				}
			}
			m := 0.0
			if n > 0 {
				m = s / float64(n)
			}
			for j := range sheetCols {
				v := m
				if !mask[i*sheetCols+j] {
					v = float64(sheet[i*sheetCols+j])
				} else {
					bad[j]++
				}
				band[j] += complex(v, 0)
			}
		}
		fft(band, false)
		for j := range band {
			band[j] *= complex(f[j], 0)
		}
		fft(band, true)
		var ms float64
		for c := range Cols {
			z := band[2*c]
			mag[c] = cmplx.Abs(z)
			ms += mag[c] * mag[c]
		}
		weak := 0.15 * math.Sqrt(ms/Cols)
		for c := range Cols {
			// Masked if a quarter of the samples under the filter's core
			// (±3 sheet columns) are noise, or the response is too weak
			// for its phase to be stable.
			nb := 0
			for d := -3; d <= 3; d++ {
				nb += bad[(2*c+d+sheetCols)%sheetCols]
			}
			if 4*nb > 7*bandHeight || mag[c] < weak {
				continue
			}
			w, bit := row*ringWords+c/64, uint64(1)<<(c%64)
			t.Mask[w] |= bit
			z := band[2*c]
			if real(z) > 0 {
				t.Code[(row*2)*ringWords+c/64] |= bit
			}
			if imag(z) > 0 {
				t.Code[(row*2+1)*ringWords+c/64] |= bit
			}
		}
	}
	if t.Valid() < MinValid {
		return nil, ErrOccluded
	}
	return t, nil
}

var (
	filterOnce sync.Once
	logGabor   []float64
)

// filter is the log-Gabor transfer function over the sheetCols FFT bins:
// exp(−ln²(f/f₀) / 2ln²(σ/f₀)) for positive frequencies, zero for the DC
// and negative ones, so the response is analytic (real part even, imaginary
// part odd filter).
func filter() []float64 {
	filterOnce.Do(func() {
		logGabor = make([]float64, sheetCols)
		f0 := 1.0 / wavelength
		d := 2 * math.Log(bandwidth) * math.Log(bandwidth)
		for k := 1; k < sheetCols/2; k++ {
			f := float64(k) / sheetCols
			l := math.Log(f / f0)
			logGabor[k] = math.Exp(-l * l / d)
		}
	})
	return logGabor
}

// fft is an in-place radix-2 FFT (inverse unnormalised: only signs are
// kept).
func fft(a []complex128, inverse bool) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, sign*2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := range size / 2 {
				u, v := a[start+k], a[start+k+size/2]*wk
				a[start+k], a[start+k+size/2] = u+v, u-v
				wk *= w
			}
		}
	}
}
