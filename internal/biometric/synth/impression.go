package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Default impression size: the R30x sensor, 12.8 x 14.4 mm at 500 ppi.
const (
	DefaultWidth  = 256
	DefaultHeight = 288
)

// ImpressionOptions bound the variation between impressions. Zero values
// choose defaults; the scales multiply the default amount (1 = default,
// a negative value turns the effect off).
type ImpressionOptions struct {
	Width, Height int
	// MaxRotation in degrees (default 20).
	MaxRotation float64
	// MaxShift in pixels, horizontally; vertically 1.25 times (default 32).
	MaxShift float64
	// Distortion scales the elastic distortion (default 1).
	Distortion float64
	// Noise scales pressure, dryness, pores, blur and sensor noise
	// (default 1).
	Noise float64
}

// Pose is the ground truth of one impression: where the sensor's centre
// fell on the master and how the finger was turned.
type Pose struct {
	// Rotation of the finger on the sensor, radians, positive clockwise on
	// screen.
	Rotation float64
	// Centre of the image in master coordinates (before distortion).
	CX, CY float64
	// Pressure in [-1, 1]: negative dry and light, positive wet and heavy.
	Pressure float64
}

func scale(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v * def
}

// Impression renders impression seed of the finger.
func (f *Finger) Impression(seed uint64, o ImpressionOptions) *image.Gray {
	img, _ := f.ImpressionPose(seed, o)
	return img
}

// ImpressionPose renders impression seed of the finger and reports its
// pose.
func (f *Finger) ImpressionPose(seed uint64, o ImpressionOptions) (*image.Gray, Pose) {
	r := rand.New(rand.NewPCG(f.Seed, seed^0x696d7072)) // "impr"
	w, h := o.Width, o.Height
	if w <= 0 || h <= 0 {
		w, h = DefaultWidth, DefaultHeight
	}
	maxRot := (o.MaxRotation)
	if maxRot == 0 {
		maxRot = 20
	} else if maxRot < 0 {
		maxRot = 0
	}
	maxShift := scale(o.MaxShift/32, 32)
	if o.MaxShift > 0 {
		maxShift = o.MaxShift
	}
	distort := scale(o.Distortion, 1)
	noise := scale(o.Noise, 1)

	sym := func() float64 { return 2*r.Float64() - 1 }
	// A roughly normal draw, so most impressions are moderate.
	tri := func() float64 { return (r.Float64() + r.Float64() + r.Float64() - 1.5) / 1.5 }
	pose := Pose{
		Rotation: tri() * maxRot * math.Pi / 180,
		CX:       float64(f.W)/2 + tri()*maxShift,
		CY:       float64(f.H)/2 + tri()*maxShift*1.25,
		Pressure: sym() * noise,
	}
	pose.Pressure = math.Max(-1, math.Min(1, pose.Pressure))
	ca, sa := math.Cos(pose.Rotation), math.Sin(pose.Rotation)

	// Elastic distortion: a rigid close-contact region around C, outside
	// which a rotation and translation T is applied with a smooth brake.
	cx := float64(f.W)/2 + sym()*25
	cy := float64(f.H)/2 + sym()*30
	r0 := 45 + 30*r.Float64()
	k := 45 + 30*r.Float64()
	phi := sym() * 5 * math.Pi / 180 * distort
	tx, ty := sym()*9*distort, sym()*9*distort
	cphi, sphi := math.Cos(phi), math.Sin(phi)
	warpX := newSmoothNoise(r, 3, 0.006, 0.02)
	warpY := newSmoothNoise(r, 3, 0.006, 0.02)
	warpA := 1.5 * distort

	// Contact region: an ellipse inside the pad; lighter touches are
	// smaller and off-centre (partial contact).
	press := 0.5 + 0.5*pose.Pressure // 0 light .. 1 heavy
	contactA := float64(f.W) * (0.30 + 0.14*press + 0.04*sym())
	contactB := float64(f.H) * (0.30 + 0.14*press + 0.04*sym())
	contactX := float64(f.W)/2 + sym()*30
	contactY := float64(f.H)/2 + sym()*40

	// Coarse maps (every 8 pixels) of the master position, contact weight
	// and local contrast, interpolated per pixel.
	const step = 8
	gw, gh := w/step+2, h/step+2
	mx := make([]float64, gw*gh)
	my := make([]float64, gw*gh)
	cw := make([]float64, gw*gh)
	lc := make([]float64, gw*gh)
	contrastN := newSmoothNoise(r, 3, 0.01, 0.03)
	dryN := newSmoothNoise(r, 4, 0.02, 0.05)
	dry := math.Max(0, -pose.Pressure)
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			u, v := float64(gx*step)-float64(w)/2, float64(gy*step)-float64(h)/2
			px := ca*u - sa*v + pose.CX
			py := sa*u + ca*v + pose.CY
			dx, dy := px-cx, py-cy
			d := math.Hypot(dx, dy)
			e := math.Max(0, d-r0)
			brake := 1 - math.Exp(-e*e/(2*k*k))
			qx := cphi*dx - sphi*dy + cx + tx
			qy := sphi*dx + cphi*dy + cy + ty
			px += brake * (qx - px)
			py += brake * (qy - py)
			px += warpA * warpX.at(px, py)
			py += warpA * warpY.at(px, py)
			i := gy*gw + gx
			mx[i], my[i] = px, py
			ex, ey := (px-contactX)/contactA, (py-contactY)/contactB
			cw[i] = smoothstep((1 - (ex*ex + ey*ey)) / 0.25)
			c := 0.8 + 0.2*contrastN.at(px, py)
			if dry > 0 {
				// Dry skin: patches where ridges barely print.
				c *= 1 - 0.7*dry*smoothstep(dryN.at(px, py)*1.5-0.2)
			}
			lc[i] = c
		}
	}

	// Ridge presence, before morphology and rendering.
	ridge := make([]float64, w*h)
	bias := 0.38 * pose.Pressure
	for y := 0; y < h; y++ {
		gy := y / step
		ty := float64(y%step) / step
		for x := 0; x < w; x++ {
			gx := x / step
			txx := float64(x%step) / step
			i := gy*gw + gx
			lerp := func(a []float64) float64 {
				return (1-ty)*((1-txx)*a[i]+txx*a[i+1]) + ty*((1-txx)*a[i+gw]+txx*a[i+gw+1])
			}
			px, py := lerp(mx), lerp(my)
			s, shape := f.sample(px, py)
			wgt := shape * lerp(cw)
			if wgt <= 0 {
				continue
			}
			p := clamp01(0.5 + 1.5*(s+bias))
			ridge[y*w+x] = p * wgt * lerp(lc)
		}
	}
	// Pressure and dryness as greyscale morphology: heavy pressure
	// thickens ridges, dry skin thins and breaks them.
	switch {
	case pose.Pressure > 0.55:
		ridge = morph(ridge, w, h, true)
	case pose.Pressure < -0.55:
		ridge = morph(ridge, w, h, false)
	}
	// Pores: small bright dots on ridges.
	nPores := int(float64(w*h) / 900 * noise)
	for i := 0; i < nPores; i++ {
		x, y := 1+r.IntN(w-2), 1+r.IntN(h-2)
		a := 0.5 + 0.5*r.Float64()
		ridge[y*w+x] *= 1 - a
		ridge[y*w+x+1] *= 1 - a*0.5
		ridge[(y+1)*w+x] *= 1 - a*0.5
	}
	// Render on an optical sensor background, blur, add noise.
	bg := 215 + 25*r.Float64()
	contrast := 130 + 70*r.Float64()
	gradX, gradY := sym()*0.08, sym()*0.08
	out := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			b := bg * (1 + gradX*(float64(x)/float64(w)-0.5) + gradY*(float64(y)/float64(h)-0.5))
			out[y*w+x] = b - contrast*ridge[y*w+x]
		}
	}
	out = blur3(out, w, h)
	if noise > 0 {
		out = blur3(out, w, h)
	}
	sigma := (2 + 4*r.Float64()) * noise
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range out {
		v += sigma * r.NormFloat64()
		img.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(v))))
	}
	return img, pose
}

// morph applies a 3x3 cross-shaped greyscale dilation (thicken) or
// erosion (thin) to the ridge presence map.
func morph(a []float64, w, h int, dilate bool) []float64 {
	out := make([]float64, len(a))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			v := a[i]
			for _, j := range [4]int{i - 1, i + 1, i - w, i + w} {
				if j < 0 || j >= len(a) || (j == i-1 && x == 0) || (j == i+1 && x == w-1) {
					continue
				}
				if dilate {
					v = math.Max(v, a[j])
				} else {
					v = math.Min(v, a[j])
				}
			}
			out[i] = v
		}
	}
	return out
}

// blur3 is a separable [1 2 1]/4 blur with edge replication.
func blur3(a []float64, w, h int) []float64 {
	t := make([]float64, len(a))
	for y := 0; y < h; y++ {
		row := a[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			l, r := row[max(x-1, 0)], row[min(x+1, w-1)]
			t[y*w+x] = 0.25*l + 0.5*row[x] + 0.25*r
		}
	}
	out := make([]float64, len(a))
	for y := 0; y < h; y++ {
		u, d := max(y-1, 0), min(y+1, h-1)
		for x := 0; x < w; x++ {
			out[y*w+x] = 0.25*t[u*w+x] + 0.5*t[y*w+x] + 0.25*t[d*w+x]
		}
	}
	return out
}
