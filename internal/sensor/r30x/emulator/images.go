package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // frames may be JPEG
	_ "image/png"  // or PNG
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Bounds on image files the emulator will read.
const (
	maxFileSize = 16 << 20
	maxFileDim  = 4096
	maxFrames   = 256
)

// Synthetic draws a fingerprint-like image: dark ridges about 9 pixels
// apart (a 500 ppi print) in a loop pattern, inside an oval pad on the
// bright background of an optical sensor. The seed varies the core
// position and the ridge flow, so consecutive frames differ. It is not a
// real finger and must not be used to test matchers.
func Synthetic(w, h int, seed int64) *image.Gray {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	img := image.NewGray(image.Rect(0, 0, w, h))
	cx := float64(w)*0.5 + (r.Float64()-0.5)*float64(w)*0.15
	cy := float64(h)*0.45 + (r.Float64()-0.5)*float64(h)*0.15
	ax, ay := float64(w)*0.42, float64(h)*0.46
	period := 8.5 + r.Float64()
	warpA := 4 + r.Float64()*4
	ph1, ph2 := r.Float64()*2*math.Pi, r.Float64()*2*math.Pi
	const bg, dark = 235.0, 45.0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			// Oval pad with a soft edge.
			e := (dx*dx)/(ax*ax) + (dy*dy)/(ay*ay)
			mask := math.Max(0, math.Min(1, (1.15-e)/0.3))
			// Whorl around the core that opens into a loop below it; f
			// blends smoothly so there is no seam at the core's row.
			f := math.Max(0, math.Min(1, dy/60))
			f = f * f * (3 - 2*f)
			d := math.Hypot(dx*(1-0.6*f), dy*1.2) + 0.55*f*math.Sqrt(dx*dx+36)
			d += warpA * math.Sin(float64(x)/23+ph1) * math.Cos(float64(y)/31+ph2)
			ridge := 0.5 + 0.5*math.Cos(2*math.Pi*d/period)
			v := bg - (bg-dark)*ridge*mask + (r.Float64()-0.5)*14
			img.Pix[y*img.Stride+x] = uint8(math.Max(0, math.Min(255, v)))
		}
	}
	return img
}

// Fit converts img to grey and scales it to cover w x h, keeping the aspect
// ratio and cropping the centre, with bilinear sampling.
func Fit(img image.Image, w, h int) *image.Gray {
	src := toGray(img)
	sb := src.Bounds()
	if sb.Dx() == w && sb.Dy() == h {
		return src
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := float64(sb.Dx()), float64(sb.Dy())
	scale := math.Max(float64(w)/sw, float64(h)/sh)
	offX := (sw*scale - float64(w)) / 2
	offY := (sh*scale - float64(h)) / 2
	at := func(x, y int) float64 {
		x = max(0, min(sb.Dx()-1, x))
		y = max(0, min(sb.Dy()-1, y))
		return float64(src.Pix[y*src.Stride+x])
	}
	for y := 0; y < h; y++ {
		fy := (float64(y)+offY+0.5)/scale - 0.5
		y0 := int(math.Floor(fy))
		ty := fy - float64(y0)
		for x := 0; x < w; x++ {
			fx := (float64(x)+offX+0.5)/scale - 0.5
			x0 := int(math.Floor(fx))
			tx := fx - float64(x0)
			v := (at(x0, y0)*(1-tx)+at(x0+1, y0)*tx)*(1-ty) + (at(x0, y0+1)*(1-tx)+at(x0+1, y0+1)*tx)*ty
			out.Pix[y*out.Stride+x] = uint8(math.Round(v))
		}
	}
	return out
}

func toGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Bounds().Min == (image.Point{}) {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(g, g.Bounds(), img, b.Min, draw.Src)
	return g
}

// LoadDir reads every PNG, JPEG and binary PGM (P5) file in dir, in name
// order, fitted to w x h.
func LoadDir(dir string, w, h int) ([]*image.Gray, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".pgm":
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("emulator: no .png, .jpg or .pgm images in %s", dir)
	}
	if len(names) > maxFrames {
		names = names[:maxFrames]
	}
	out := make([]*image.Gray, 0, len(names))
	for _, n := range names {
		img, err := LoadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, Fit(img, w, h))
	}
	return out, nil
}

// LoadFile decodes one image file, refusing oversized files and images.
func LoadFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("emulator: %s is larger than %d bytes", path, maxFileSize)
	}
	if strings.EqualFold(filepath.Ext(path), ".pgm") {
		img, err := decodePGM(data)
		if err != nil {
			return nil, fmt.Errorf("emulator: %s: %w", path, err)
		}
		return img, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("emulator: %s: %w", path, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxFileDim || cfg.Height > maxFileDim {
		return nil, fmt.Errorf("emulator: %s: %dx%d is out of range", path, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("emulator: %s: %w", path, err)
	}
	return img, nil
}

var errPGM = errors.New("not an 8-bit binary PGM (P5) image")

// decodePGM reads a binary 8-bit PGM.
func decodePGM(data []byte) (*image.Gray, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	var fields []int
	magic, err := pgmToken(br)
	if err != nil || magic != "P5" {
		return nil, errPGM
	}
	for len(fields) < 3 {
		tok, err := pgmToken(br)
		if err != nil {
			return nil, errPGM
		}
		v, err := strconv.Atoi(tok)
		if err != nil || v < 1 {
			return nil, errPGM
		}
		fields = append(fields, v)
	}
	w, h, maxv := fields[0], fields[1], fields[2]
	if w > maxFileDim || h > maxFileDim || maxv > 255 {
		return nil, errPGM
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	if _, err := io.ReadFull(br, img.Pix); err != nil {
		return nil, errPGM
	}
	if maxv != 255 {
		for i, v := range img.Pix {
			img.Pix[i] = uint8(min(255, int(v)*255/maxv))
		}
	}
	return img, nil
}

// pgmToken returns the next whitespace-separated header token, skipping
// comments, and consumes exactly one whitespace byte after it.
func pgmToken(br *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		switch {
		case c == '#' && len(tok) == 0:
			if _, err := br.ReadString('\n'); err != nil {
				return "", err
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			if len(tok) > 16 {
				return "", errPGM
			}
			tok = append(tok, c)
		}
	}
}
