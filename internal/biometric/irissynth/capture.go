package irissynth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Capture sets the conditions of one image. The zero value is a clean,
// centred, unrotated capture with the pupil at 40 % of the iris radius.
type Capture struct {
	// Seed draws what is left to chance: the eye's position in the frame,
	// distance jitter, eyelid shape, eyelashes, reflections and noise.
	Seed uint64
	// Rotation of the eye in radians (head tilt, cyclotorsion), clockwise
	// in image coordinates (y down), the direction the matcher's angle runs.
	Rotation float64
	// Dilation is the pupil radius over the iris radius, clamped to
	// [0.2, 0.65]; 0 means 0.4.
	Dilation float64
	// Occlusion in [0, 1] is how far the upper eyelid comes down: 0 is
	// tangent to the limbus, 1 is down to the pupil centre; the lower lid
	// rises a third as much. Eyelashes grow with it.
	Occlusion float64
	// Blur is the defocus Gaussian's sigma in pixels.
	Blur float64
	// Noise is the sensor noise's sigma in grey levels.
	Noise float64
	// Centered keeps the iris exactly at the frame centre.
	Centered bool
}

// Circle is a circle in pixels.
type Circle struct{ X, Y, R float64 }

// Lid is an eyelid edge, the parabola y = Y + K·(x − X)²; for the upper
// lid K ≥ 0 and it covers y < edge, for the lower lid K ≤ 0 and it covers
// y > edge.
type Lid struct{ X, Y, K float64 }

// Y at column x.
func (l Lid) At(x float64) float64 { return l.Y + l.K*(x-l.X)*(x-l.X) }

// Truth is where the generator put everything.
type Truth struct {
	Pupil, Iris        Circle
	Upper, Lower       Lid
	Rotation, Dilation float64
	Reflections        []Circle
	// Occluded is the fraction of the iris annulus hidden by lids or lashes.
	Occluded float64
}

// Grey levels (near infrared: dark pupil, mid iris, bright sclera).
const (
	pupilLevel  = 22
	scleraLevel = 180
	skinLevel   = 150
	lashLevel   = 35
	specLevel   = 252
)

// Image renders capture c of ir.
func (ir *Iris) Image(c Capture) (*image.Gray, Truth) {
	r := rand.New(rand.NewPCG(ir.Seed, c.Seed^0x63617074)) // "capt"
	dil := c.Dilation
	if dil == 0 {
		dil = 0.4
	}
	dil = math.Max(0.2, math.Min(0.65, dil))
	R := ir.Radius * (0.96 + 0.08*r.Float64())
	cx, cy := Width/2.0, Height/2.0
	if !c.Centered {
		cx += (r.Float64() - 0.5) * 80
		cy += (r.Float64() - 0.5) * 50
	}
	// The pupil moves a little as it dilates.
	px := cx + R*ir.PupilDX*(1.2-dil)
	py := cy + R*ir.PupilDY*(1.2-dil)
	Rp := dil * R
	occ := math.Max(0, math.Min(1, c.Occlusion))
	up := Lid{X: cx + (r.Float64()-0.5)*R*0.3, Y: cy - R*(1.08-occ), K: (0.14 + 0.06*r.Float64()) / R}
	lowOcc := occ/3 + 0.1*r.Float64()
	lo := Lid{X: cx + (r.Float64()-0.5)*R*0.3, Y: cy + R*(1.05-lowOcc), K: -(0.12 + 0.05*r.Float64()) / R}
	t := Truth{
		Pupil: Circle{px, py, Rp}, Iris: Circle{cx, cy, R},
		Upper: up, Lower: lo, Rotation: c.Rotation, Dilation: dil,
	}
	// Radial stretch: tissue near the pupil compresses more as it dilates.
	gamma := 1 + 0.5*(dil-0.4)
	skinVar := [4]float64{r.Float64() * 2 * math.Pi, r.Float64() * 2 * math.Pi, 8 + 6*r.Float64(), 8 + 6*r.Float64()}

	pix := make([]float32, Width*Height)
	// label: 1 visible iris annulus, 2 annulus hidden by lid or lash.
	label := make([]uint8, Width*Height)
	for y := 0; y < Height; y++ {
		fy := float64(y) + 0.5
		for x := 0; x < Width; x++ {
			fx := float64(x) + 0.5
			skin := skinLevel + skinVar[2]*math.Sin(fx/90+skinVar[0]) + skinVar[3]*math.Sin(fy/70+skinVar[1])
			eu, el := up.At(fx), lo.At(fx)
			// Signed distance (in y) into the eye opening.
			open := math.Min(fy-eu, el-fy)
			if open < -3 {
				pix[y*Width+x] = float32(skin)
				continue
			}
			v := float64(scleraLevel) - 25*math.Exp(-math.Hypot(fx-cx, fy-cy)/(2*R)) // shading toward the iris
			di := math.Hypot(fx-cx, fy-cy)
			dx, dy := fx-px, fy-py
			dp := math.Hypot(dx, dy)
			if di < R+3 {
				// Ray from the pupil centre to the limbus.
				th := math.Atan2(dy, dx)
				ux, uy := math.Cos(th), math.Sin(th)
				bx, by := px-cx, py-cy
				b := ux*bx + uy*by
				ri := -b + math.Sqrt(b*b-(bx*bx+by*by-R*R))
				rr := (dp - Rp) / (ri - Rp)
				if rr >= 0 && rr <= 1 {
					label[y*Width+x] = 1
					if open < 0 {
						label[y*Width+x] = 2
					}
				}
				tr := math.Pow(math.Max(0, math.Min(1, rr)), gamma)
				tv := ir.at(tr, th-c.Rotation)
				iv := ir.mean + ir.contrast*math.Max(-2.2, math.Min(2.2, tv)) - 18*tr*tr
				// Soft limbus (about 3 px), sharp pupil edge (about 1 px).
				wl := clamp01((di - R + 1.5) / 3)
				v = iv*(1-wl) + v*wl
				wp := clamp01((Rp - dp + 0.75) / 1.5)
				v = v*(1-wp) + pupilLevel*wp
			}
			// Lid margin: a dark band, then skin.
			if open < 2 {
				m := clamp01((2 - open) / 2)
				v = v*(1-m) + 95*m
				if open < 0 {
					s := clamp01(-open / 3)
					v = 95*(1-s) + skin*s
				}
			}
			pix[y*Width+x] = float32(v)
		}
	}
	// Eyelashes from the upper lid, hanging down.
	nl := 25 + int(70*occ) + r.IntN(20)
	for range nl {
		x0 := cx + (r.Float64()-0.5)*2.4*R
		y0 := up.At(x0)
		ln := 12 + 30*r.Float64() + 25*occ
		ang := math.Pi/2 + (r.Float64()-0.5)*0.9 // downward
		curl := (r.Float64() - 0.5) * 0.04
		th := 0.7 + 0.6*r.Float64()
		for s := 0.0; s < ln; s += 0.7 {
			a := ang + curl*s
			x0 += 0.7 * math.Cos(a)
			y0 += 0.7 * math.Sin(a)
			disk(pix, label, x0, y0, th*(1-0.5*s/ln), lashLevel, 0.85)
		}
	}
	// Reflections of the illuminator, near the pupil.
	for i := range 1 + r.IntN(2) {
		a := r.Float64() * 2 * math.Pi
		d := Rp * (0.3 + 0.9*r.Float64())
		if i == 0 {
			d = Rp * 0.5 * r.Float64()
		}
		rc := Circle{px + d*math.Cos(a), py + d*math.Sin(a), 3 + 4*r.Float64()}
		t.Reflections = append(t.Reflections, rc)
		disk(pix, nil, rc.X, rc.Y, rc.R, specLevel, 1)
	}
	var annulus, hidden int
	for _, l := range label {
		if l > 0 {
			annulus++
		}
		if l == 2 {
			hidden++
		}
	}
	if annulus > 0 {
		t.Occluded = float64(hidden) / float64(annulus)
	}
	if c.Blur > 0 {
		gaussBlur(pix, Width, Height, c.Blur)
	}
	img := image.NewGray(image.Rect(0, 0, Width, Height))
	for i, v := range pix {
		f := float64(v)
		if c.Noise > 0 {
			f += c.Noise * r.NormFloat64()
		}
		img.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(f))))
	}
	return img, t
}

// disk paints an anti-aliased disk of value v at opacity a; with label,
// annulus pixels it mostly covers are marked hidden.
func disk(pix []float32, label []uint8, cx, cy, rad, v, a float64) {
	for y := int(cy - rad - 1); y <= int(cy+rad+1); y++ {
		if y < 0 || y >= Height {
			continue
		}
		for x := int(cx - rad - 1); x <= int(cx+rad+1); x++ {
			if x < 0 || x >= Width {
				continue
			}
			d := math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy)
			w := clamp01(rad+0.5-d) * a
			if w <= 0 {
				continue
			}
			p := &pix[y*Width+x]
			*p = float32(float64(*p)*(1-w) + v*w)
			if label != nil && w > 0.5 && label[y*Width+x] == 1 {
				label[y*Width+x] = 2
			}
		}
	}
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// gaussBlur blurs in place, separably, clamping at the edges.
func gaussBlur(p []float32, w, h int, sigma float64) {
	n := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*n+1)
	var s float32
	for i := range k {
		d := float64(i - n)
		k[i] = float32(math.Exp(-d * d / (2 * sigma * sigma)))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	tmp := make([]float32, max(w, h))
	for y := 0; y < h; y++ {
		row := p[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var a float32
			for i, kv := range k {
				xx := min(max(x+i-n, 0), w-1)
				a += kv * row[xx]
			}
			tmp[x] = a
		}
		copy(row, tmp[:w])
	}
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			var a float32
			for i, kv := range k {
				yy := min(max(y+i-n, 0), h-1)
				a += kv * p[yy*w+x]
			}
			tmp[y] = a
		}
		for y := 0; y < h; y++ {
			p[y*w+x] = tmp[y]
		}
	}
}
