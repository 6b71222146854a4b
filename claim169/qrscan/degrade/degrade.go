package degrade

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"

	qrcode "github.com/skip2/go-qrcode"
)

// Base45Alphabet is the RFC 9285 alphabet; it is exactly the QR
// alphanumeric character set, so the encoder uses alphanumeric mode.
const Base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// Kind names one degradation.
type Kind string

// The degradations, in the order Generate cycles through them.
const (
	Clean     Kind = "clean"
	Rot15     Kind = "rot15"
	Rot45     Kind = "rot45"
	Blur      Kind = "blur"
	Noise     Kind = "noise"
	Downscale Kind = "downscale"
	Keystone  Kind = "keystone"
	Frame     Kind = "frame"
)

// Kinds lists every degradation; sample i of a set has kind Kinds[i%len(Kinds)].
var Kinds = []Kind{Clean, Rot15, Rot45, Blur, Noise, Downscale, Keystone, Frame}

// Sample is one generated image with the text it encodes.
type Sample struct {
	Index int
	Kind  Kind
	Text  string
	Level string // QR error-correction level, "M" or "Q"
	Param string // human-readable severity, for failure reports
	Image image.Image
}

// Options tunes Generate. The zero value gives 1,200-character texts.
type Options struct {
	TextLen int
}

// Generate returns samples [0, n) of the set identified by seed. Sample i
// depends only on (seed, i), so the first 40 samples of a 320-sample set
// are identical to a 40-sample set with the same seed.
func Generate(seed uint64, n int, opt Options) ([]Sample, error) {
	out := make([]Sample, 0, n)
	for i := 0; i < n; i++ {
		s, err := GenerateOne(seed, i, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// GenerateOne returns sample i of the set identified by seed.
func GenerateOne(seed uint64, i int, opt Options) (Sample, error) {
	if opt.TextLen <= 0 {
		opt.TextLen = 1200
	}
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	kind := Kinds[i%len(Kinds)]
	text := Text(rng, opt.TextLen)
	level := "M"
	if rng.IntN(2) == 1 {
		level = "Q"
	}
	s := Sample{Index: i, Kind: kind, Text: text, Level: level}
	var err error
	s.Image, s.Param, err = apply(rng, kind, text, level)
	if err != nil {
		return Sample{}, fmt.Errorf("degrade: sample %d (%s): %w", i, kind, err)
	}
	return s, nil
}

// Text returns n random characters of the Base45 alphabet; compressed,
// encoded CWTs look like this (no structure a decoder could exploit).
func Text(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = Base45Alphabet[rng.IntN(len(Base45Alphabet))]
	}
	return string(b)
}

// Render encodes text as a QR code (level "L", "M", "Q" or "H") with a
// 4-module quiet zone, modulePx pixels per module, black on white.
func Render(text, level string, modulePx int) (*image.Gray, error) {
	lv := map[string]qrcode.RecoveryLevel{"L": qrcode.Low, "M": qrcode.Medium, "Q": qrcode.High, "H": qrcode.Highest}
	rl, ok := lv[level]
	if !ok {
		return nil, fmt.Errorf("unknown error-correction level %q", level)
	}
	if modulePx < 1 {
		return nil, fmt.Errorf("modulePx %d < 1", modulePx)
	}
	q, err := qrcode.New(text, rl)
	if err != nil {
		return nil, err
	}
	bm := q.Bitmap() // includes the 4-module quiet zone
	n := len(bm)
	img := image.NewGray(image.Rect(0, 0, n*modulePx, n*modulePx))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v := uint8(255)
			if bm[y][x] {
				v = 0
			}
			for dy := 0; dy < modulePx; dy++ {
				row := img.Pix[(y*modulePx+dy)*img.Stride:]
				for dx := 0; dx < modulePx; dx++ {
					row[x*modulePx+dx] = v
				}
			}
		}
	}
	return img, nil
}

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }

func sign(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return -1
	}
	return 1
}

// apply produces the degraded image. The severity ranges are chosen to
// resemble hand-held phone/webcam captures, from easy to hard, so that the
// set separates decoders rather than being trivially readable.
func apply(rng *rand.Rand, kind Kind, text, level string) (image.Image, string, error) {
	switch kind {
	case Clean:
		px := 3 + rng.IntN(3)
		img, err := Render(text, level, px)
		return img, fmt.Sprintf("module=%dpx", px), err
	case Rot15, Rot45:
		px := 3 + rng.IntN(3)
		img, err := Render(text, level, px)
		if err != nil {
			return nil, "", err
		}
		deg := 15.0
		if kind == Rot45 {
			deg = 45
		}
		deg *= sign(rng)
		return Rotate(img, deg, 255), fmt.Sprintf("module=%dpx angle=%.0f", px, deg), nil
	case Blur:
		img, err := Render(text, level, 4)
		if err != nil {
			return nil, "", err
		}
		sigma := uniform(rng, 1.0, 2.6)
		return GaussianBlur(img, sigma), fmt.Sprintf("module=4px sigma=%.2fpx", sigma), nil
	case Noise:
		img, err := Render(text, level, 4)
		if err != nil {
			return nil, "", err
		}
		sd := uniform(rng, 25, 75)
		AddNoise(img, rng, sd)
		return img, fmt.Sprintf("module=4px noise_sd=%.0f", sd), nil
	case Downscale:
		img, err := Render(text, level, 4)
		if err != nil {
			return nil, "", err
		}
		target := uniform(rng, 1.2, 2.2) // pixels per module after scaling
		return Resize(img, target/4), fmt.Sprintf("module=%.2fpx", target), nil
	case Keystone:
		img, err := Render(text, level, 4)
		if err != nil {
			return nil, "", err
		}
		k := uniform(rng, 0.15, 0.35)
		side := rng.IntN(4)
		return KeystoneWarp(img, k, side), fmt.Sprintf("module=4px shrink=%.2f side=%d", k, side), nil
	case Frame:
		img, err := Render(text, level, 4)
		if err != nil {
			return nil, "", err
		}
		return CameraFrame(img, rng)
	}
	return nil, "", fmt.Errorf("unknown kind %q", kind)
}

// bilinear samples g at (x, y) (pixel centres at integer+0.5), returning
// bg outside the image.
func bilinear(g *image.Gray, x, y float64, bg uint8) float64 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	x -= 0.5
	y -= 0.5
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int(x0), int(y0)
	at := func(px, py int) float64 {
		if px < 0 || py < 0 || px >= w || py >= h {
			return float64(bg)
		}
		return float64(g.Pix[py*g.Stride+px])
	}
	top := at(ix, iy)*(1-fx) + at(ix+1, iy)*fx
	bot := at(ix, iy+1)*(1-fx) + at(ix+1, iy+1)*fx
	return top*(1-fy) + bot*fy
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// warp builds a w×h image whose pixel (x, y) is src sampled at inv(x, y).
func warp(src *image.Gray, w, h int, bg uint8, inv func(x, y float64) (float64, float64)) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := inv(float64(x)+0.5, float64(y)+0.5)
			dst.Pix[y*dst.Stride+x] = clamp8(bilinear(src, sx, sy, bg))
		}
	}
	return dst
}

// Rotate rotates g by deg degrees about its centre onto a canvas large
// enough to hold the result, filling with bg.
func Rotate(g *image.Gray, deg float64, bg uint8) *image.Gray {
	th := deg * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	nw := int(math.Ceil(math.Abs(w*c) + math.Abs(h*s)))
	nh := int(math.Ceil(math.Abs(w*s) + math.Abs(h*c)))
	cx, cy := w/2, h/2
	ncx, ncy := float64(nw)/2, float64(nh)/2
	return warp(g, nw, nh, bg, func(x, y float64) (float64, float64) {
		dx, dy := x-ncx, y-ncy
		return c*dx + s*dy + cx, -s*dx + c*dy + cy
	})
}

// GaussianBlur returns g convolved with a Gaussian of the given sigma
// (separable, edges clamped).
func GaussianBlur(g *image.Gray, sigma float64) *image.Gray {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		k[i+r] = math.Exp(-float64(i*i) / (2 * sigma * sigma))
		sum += k[i+r]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	tmp := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for i := -r; i <= r; i++ {
				xx := min(max(x+i, 0), w-1)
				acc += k[i+r] * float64(g.Pix[y*g.Stride+xx])
			}
			tmp[y*w+x] = acc
		}
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for i := -r; i <= r; i++ {
				yy := min(max(y+i, 0), h-1)
				acc += k[i+r] * tmp[yy*w+x]
			}
			dst.Pix[y*dst.Stride+x] = clamp8(acc)
		}
	}
	return dst
}

// AddNoise adds zero-mean Gaussian noise with standard deviation sd, in place.
func AddNoise(g *image.Gray, rng *rand.Rand, sd float64) {
	for i, v := range g.Pix {
		g.Pix[i] = clamp8(float64(v) + rng.NormFloat64()*sd)
	}
}

// Resize scales g by factor f with area averaging (4×4 supersampling per
// output pixel), as a camera sensor or a downscaling pipeline would.
func Resize(g *image.Gray, f float64) *image.Gray {
	w := max(1, int(math.Round(float64(g.Rect.Dx())*f)))
	h := max(1, int(math.Round(float64(g.Rect.Dy())*f)))
	dst := image.NewGray(image.Rect(0, 0, w, h))
	const ss = 4
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for j := 0; j < ss; j++ {
				for i := 0; i < ss; i++ {
					sx := (float64(x) + (float64(i)+0.5)/ss) / f
					sy := (float64(y) + (float64(j)+0.5)/ss) / f
					acc += bilinear(g, sx, sy, 255)
				}
			}
			dst.Pix[y*dst.Stride+x] = clamp8(acc / (ss * ss))
		}
	}
	return dst
}

// homography returns the 3×3 projective map (row-major, h[8]=1) taking the
// four points from[i] to to[i].
func homography(from, to [4][2]float64) ([9]float64, bool) {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y := from[i][0], from[i][1]
		u, v := to[i][0], to[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	// Gaussian elimination with partial pivoting.
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return [9]float64{}, false
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var h [9]float64
	for i := 0; i < 8; i++ {
		h[i] = a[i][8] / a[i][i]
	}
	h[8] = 1
	return h, true
}

// Perspective maps g so that its corners (TL, TR, BR, BL) land on quad in
// a w×h canvas filled with bg.
func Perspective(g *image.Gray, quad [4][2]float64, w, h int, bg uint8) *image.Gray {
	sw, sh := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	src := [4][2]float64{{0, 0}, {sw, 0}, {sw, sh}, {0, sh}}
	m, ok := homography(quad, src) // destination -> source
	if !ok {
		return image.NewGray(image.Rect(0, 0, w, h))
	}
	return warp(g, w, h, bg, func(x, y float64) (float64, float64) {
		d := m[6]*x + m[7]*y + m[8]
		return (m[0]*x + m[1]*y + m[2]) / d, (m[3]*x + m[4]*y + m[5]) / d
	})
}

// KeystoneWarp imitates a camera tilted towards one side of the code: the
// given side (0 top, 1 right, 2 bottom, 3 left) is shortened by the
// fraction k, symmetrically about its midpoint.
func KeystoneWarp(g *image.Gray, k float64, side int) *image.Gray {
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	q := [4][2]float64{{0, 0}, {w, 0}, {w, h}, {0, h}}
	dx, dy := w*k/2, h*k/2
	switch side & 3 {
	case 0:
		q[0][0] += dx
		q[1][0] -= dx
	case 1:
		q[1][1] += dy
		q[2][1] -= dy
	case 2:
		q[3][0] += dx
		q[2][0] -= dx
	case 3:
		q[0][1] += dy
		q[3][1] -= dy
	}
	return Perspective(g, q, int(w), int(h), 255)
}

// CameraFrame places the code in a 1280×720 colour scene with background
// clutter, a small random rotation and perspective, an uneven lighting
// gradient, sensor noise and JPEG compression.
func CameraFrame(code *image.Gray, rng *rand.Rand) (image.Image, string, error) {
	const W, H = 1280, 720
	// Scene: a mid-grey desk with random coloured rectangles and strokes.
	scene := image.NewRGBA(image.Rect(0, 0, W, H))
	base := color.RGBA{uint8(90 + rng.IntN(80)), uint8(90 + rng.IntN(80)), uint8(90 + rng.IntN(80)), 255}
	for i := 0; i < len(scene.Pix); i += 4 {
		scene.Pix[i], scene.Pix[i+1], scene.Pix[i+2], scene.Pix[i+3] = base.R, base.G, base.B, 255
	}
	fill := func(r image.Rectangle, c color.RGBA) {
		r = r.Intersect(scene.Rect)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				scene.SetRGBA(x, y, c)
			}
		}
	}
	for i := 0; i < 40; i++ {
		x, y := rng.IntN(W), rng.IntN(H)
		var r image.Rectangle
		if rng.IntN(2) == 0 {
			r = image.Rect(x, y, x+10+rng.IntN(200), y+10+rng.IntN(150)) // objects
		} else if rng.IntN(2) == 0 {
			r = image.Rect(x, y, x+2+rng.IntN(4), y+50+rng.IntN(300)) // strokes
		} else {
			r = image.Rect(x, y, x+50+rng.IntN(300), y+2+rng.IntN(4))
		}
		fill(r, color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
	}
	// Black square blobs resemble finder patterns and text on an ID card.
	for i := 0; i < 60; i++ {
		x, y := rng.IntN(W), rng.IntN(H)
		s := 3 + rng.IntN(12)
		fill(image.Rect(x, y, x+s, y+s), color.RGBA{20, 20, 20, 255})
	}

	// The code, as if printed on a card held slightly tilted.
	cw, ch := float64(code.Rect.Dx()), float64(code.Rect.Dy())
	scale := math.Min(1, 660/ch)
	cw, ch = cw*scale, ch*scale
	cx := uniform(rng, cw/2+20, W-cw/2-20)
	cy := uniform(rng, H/2-(H-ch)/2+10, H/2+(H-ch)/2-10)
	ang := uniform(rng, -8, 8) * math.Pi / 180
	tilt := uniform(rng, 0, 0.10)
	corners := [4][2]float64{{-cw / 2, -ch / 2}, {cw / 2, -ch / 2}, {cw / 2, ch / 2}, {-cw / 2, ch / 2}}
	corners[0][0] += cw * tilt / 2
	corners[1][0] -= cw * tilt / 2
	var quad [4][2]float64
	for i, p := range corners {
		quad[i] = [2]float64{cx + p[0]*math.Cos(ang) - p[1]*math.Sin(ang), cy + p[0]*math.Sin(ang) + p[1]*math.Cos(ang)}
	}
	sw, sh := float64(code.Rect.Dx()), float64(code.Rect.Dy())
	m, ok := homography(quad, [4][2]float64{{0, 0}, {sw, 0}, {sw, sh}, {0, sh}})
	if !ok {
		return nil, "", fmt.Errorf("degenerate placement")
	}
	paper := color.RGBA{uint8(225 + rng.IntN(30)), uint8(225 + rng.IntN(30)), uint8(215 + rng.IntN(30)), 255}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			d := m[6]*fx + m[7]*fy + m[8]
			sx, sy := (m[0]*fx+m[1]*fy+m[2])/d, (m[3]*fx+m[4]*fy+m[5])/d
			if sx < -1 || sy < -1 || sx > sw+1 || sy > sh+1 {
				continue
			}
			v := bilinear(code, sx, sy, 255) / 255 // 0 black .. 1 paper
			i := scene.PixOffset(x, y)
			scene.Pix[i] = clamp8(20 + v*float64(paper.R-20))
			scene.Pix[i+1] = clamp8(20 + v*float64(paper.G-20))
			scene.Pix[i+2] = clamp8(20 + v*float64(paper.B-20))
		}
	}

	// Lighting: a linear gradient in a random direction plus vignetting,
	// then sensor noise.
	lo := uniform(rng, 0.45, 0.8)
	gdir := rng.Float64() * 2 * math.Pi
	gx, gy := math.Cos(gdir), math.Sin(gdir)
	noise := uniform(rng, 3, 10)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			nx, ny := float64(x)/W-0.5, float64(y)/H-0.5
			t := (nx*gx + ny*gy + 0.71) / 1.42 // 0..1 along the gradient
			l := lo + (1-lo)*t
			l *= 1 - 0.35*(nx*nx+ny*ny)
			i := scene.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				scene.Pix[i+c] = clamp8(float64(scene.Pix[i+c])*l + rng.NormFloat64()*noise)
			}
		}
	}
	q := 60 + rng.IntN(31)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, scene, &jpeg.Options{Quality: q}); err != nil {
		return nil, "", err
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("module=%.1fpx angle=%.1f tilt=%.2f light=%.2f noise=%.0f jpegq=%d",
		4*scale, ang*180/math.Pi, tilt, lo, noise, q), nil
}
