package face

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	"github.com/edgetrust/edgetrust/internal/jp2"
)

// rgb is an image as packed 8-bit RGB, rows top to bottom: what face-api
// gets as an int32 [h, w, 3] tensor.
type rgb struct {
	w, h int
	pix  []byte
}

// toRGB converts img, refusing empty images and ones over MaxPixels.
func toRGB(img image.Image) (*rgb, error) {
	if img == nil {
		return nil, ErrImageEmpty
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, ErrImageEmpty
	}
	if w > MaxPixels/h {
		return nil, fmt.Errorf("%w: %dx%d is over %d pixels", ErrImageTooLarge, w, h, MaxPixels)
	}
	out := &rgb{w: w, h: h, pix: make([]byte, 3*w*h)}
	p := out.pix
	switch im := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := im.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := im.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
				p[0], p[1], p[2] = r, g, bl
				p = p[3:]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p[0], p[1], p[2] = row[4*x], row[4*x+1], row[4*x+2]
				p = p[3:]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p[0], p[1], p[2] = row[x], row[x], row[x]
				p = p[3:]
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				p[0], p[1], p[2] = c.R, c.G, c.B
				p = p[3:]
			}
		}
	}
	return out, nil
}

// prepare is face-api's NetInput.toBatchTensor then normalize on the
// crop r of px: pad to a square with zeros (centred, or at the end),
// resize to n x n with TensorFlow's legacy bilinear (no half-pixel
// centres, no aligned corners) unless already n, then (v - mean) / 255.
func prepare(a *arena, px *rgb, r image.Rectangle, centred bool, n int, mean [3]float32) tensor {
	cw, ch := r.Dx(), r.Dy()
	s := max(cw, ch)
	diff := s - min(cw, ch)
	after := diff
	if centred {
		after = (diff + 1) / 2 // Math.round(diff * 0.5)
	}
	before := diff - after
	var offX, offY int // where the crop starts in the padded square
	if ch > cw {
		offX = before
	} else if cw > ch {
		offY = before
	}
	out := a.tensor(n, n, 3)
	// at returns channel c of padded-square pixel (y, x) as float32.
	at := func(y, x, c int) float32 {
		y -= offY
		x -= offX
		if y < 0 || y >= ch || x < 0 || x >= cw {
			return 0
		}
		return float32(px.pix[((r.Min.Y+y)*px.w+r.Min.X+x)*3+c])
	}
	if s == n {
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				o := out.d[(y*n+x)*3:]
				for c := 0; c < 3; c++ {
					o[c] = (at(y, x, c) - mean[c]) / 255
				}
			}
		}
		return out
	}
	scale := float32(s) / float32(n)
	// Column taps are the same for every row.
	x0s := make([]int, n)
	xa := a.alloc(n)
	for x := 0; x < n; x++ {
		ix := float32(x) * scale
		x0s[x] = int(ix)
		xa[x] = ix - float32(x0s[x])
	}
	for y := 0; y < n; y++ {
		iy := float32(y) * scale
		y0 := int(iy)
		y1 := min(y0+1, s-1)
		ay := iy - float32(y0)
		for x := 0; x < n; x++ {
			x0 := x0s[x]
			x1 := min(x0+1, s-1)
			ax := xa[x]
			o := out.d[(y*n+x)*3:]
			for c := 0; c < 3; c++ {
				tl, tr := at(y0, x0, c), at(y0, x1, c)
				bl, br := at(y1, x0, c), at(y1, x1, c)
				t := tl + (tr-tl)*ax
				b := bl + (br-bl)*ax
				v := t + (b-t)*ay
				o[c] = (v - mean[c]) / 255
			}
		}
	}
	return out
}

// DecodeImage decodes a face image as ISO/IEC 19794-5 carries it, JPEG or
// JPEG 2000 (JP2 file or J2K codestream), refusing images over MaxPixels
// before their pixels are decoded.
func DecodeImage(b []byte) (image.Image, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("face: jpeg: %w", err)
		}
		if cfg.Width <= 0 || cfg.Height <= 0 {
			return nil, ErrImageEmpty
		}
		if cfg.Width > MaxPixels/cfg.Height {
			return nil, fmt.Errorf("%w: %dx%d is over %d pixels", ErrImageTooLarge, cfg.Width, cfg.Height, MaxPixels)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("face: jpeg: %w", err)
		}
		return img, nil
	default:
		img, _, err := jp2.DecodeRGB(b, MaxPixels)
		if err != nil {
			return nil, fmt.Errorf("face: %w", err)
		}
		return img, nil
	}
}
