package qrscan

import (
	"image"
	"image/draw"
)

// toGray returns a compact (Stride == width, origin 0,0) 8-bit luma copy
// of img. Transparent pixels are composited over white, as a QR printed
// on paper would be. Decoders get their own copy so that they can never
// alias or modify the caller's image.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := image.NewGray(image.Rect(0, 0, w, h))
	switch src := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			o := src.PixOffset(b.Min.X, b.Min.Y+y)
			copy(g.Pix[y*w:(y+1)*w], src.Pix[o:o+w])
		}
	case *image.YCbCr:
		// The Y plane is the luma already (JPEG camera frames).
		for y := 0; y < h; y++ {
			o := src.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.Pix[y*w:(y+1)*w], src.Y[o:o+w])
		}
	case *image.RGBA: // premultiplied alpha
		for y := 0; y < h; y++ {
			o := src.PixOffset(b.Min.X, b.Min.Y+y)
			row := src.Pix[o : o+4*w]
			out := g.Pix[y*w : (y+1)*w]
			for x := range out {
				p := row[4*x : 4*x+4]
				out[x] = lum(uint32(p[0]), uint32(p[1]), uint32(p[2])) + (255 - p[3])
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			o := src.PixOffset(b.Min.X, b.Min.Y+y)
			row := src.Pix[o : o+4*w]
			out := g.Pix[y*w : (y+1)*w]
			for x := range out {
				p := row[4*x : 4*x+4]
				a := uint32(p[3])
				l := uint32(lum(uint32(p[0]), uint32(p[1]), uint32(p[2])))
				out[x] = uint8((l*a + 255*(255-a) + 127) / 255)
			}
		}
	default:
		// Paletted, 16-bit, CMYK...: let the standard library composite
		// onto white and convert; slower but rare for camera input.
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, image.White, image.Point{}, draw.Src)
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Over)
		for i := range g.Pix {
			p := rgba.Pix[4*i : 4*i+4]
			g.Pix[i] = lum(uint32(p[0]), uint32(p[1]), uint32(p[2]))
		}
	}
	return g
}

// lum is the Rec. 601 luma, as ZXing computes it.
func lum(r, g, b uint32) uint8 {
	return uint8((306*r + 601*g + 117*b + 0x200) >> 10)
}

// scaleGray resizes g by the rational factor num/den: area averaging when
// shrinking, bilinear interpolation when enlarging. Both directions matter:
// codes with modules under ~2 px are read better after 2× enlargement,
// and some detectors do better on large frames after shrinking.
func scaleGray(g *image.Gray, num, den int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	nw, nh := max(1, w*num/den), max(1, h*num/den)
	dst := image.NewGray(image.Rect(0, 0, nw, nh))
	if num < den && den%num == 0 {
		f := den / num
		for y := 0; y < nh; y++ {
			for x := 0; x < nw; x++ {
				var s int
				for j := 0; j < f; j++ {
					row := g.Pix[(y*f+j)*g.Stride+x*f:]
					for i := 0; i < f; i++ {
						s += int(row[i])
					}
				}
				dst.Pix[y*nw+x] = uint8(s / (f * f))
			}
		}
		return dst
	}
	// Bilinear in 8.8 fixed point.
	for y := 0; y < nh; y++ {
		sy := max(0, (2*y+1)*den*128/num-128) // (y+0.5)*den/num-0.5 in 1/256
		y0 := min(sy>>8, h-1)
		y1 := min(y0+1, h-1)
		fy := sy & 255
		for x := 0; x < nw; x++ {
			sx := max(0, (2*x+1)*den*128/num-128)
			x0 := min(sx>>8, w-1)
			x1 := min(x0+1, w-1)
			fx := sx & 255
			a := int(g.Pix[y0*g.Stride+x0])*(256-fx) + int(g.Pix[y0*g.Stride+x1])*fx
			b := int(g.Pix[y1*g.Stride+x0])*(256-fx) + int(g.Pix[y1*g.Stride+x1])*fx
			dst.Pix[y*nw+x] = uint8((a*(256-fy) + b*fy + 1<<15) >> 16)
		}
	}
	return dst
}

// adaptiveThreshold binarises g against the mean of a (2r+1)² window
// minus c (computed with an integral image, O(pixels)). It rescues codes
// under strong lighting gradients and blur, where global thresholds and
// ZXing's 8×8-block binariser lose modules.
func adaptiveThreshold(g *image.Gray, r, c int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	sum := make([]int64, (w+1)*(h+1))
	for y := 0; y < h; y++ {
		var row int64
		for x := 0; x < w; x++ {
			row += int64(g.Pix[y*g.Stride+x])
			sum[(y+1)*(w+1)+x+1] = sum[y*(w+1)+x+1] + row
		}
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := max(0, y-r), min(h, y+r+1)
		for x := 0; x < w; x++ {
			x0, x1 := max(0, x-r), min(w, x+r+1)
			n := int64((y1 - y0) * (x1 - x0))
			s := sum[y1*(w+1)+x1] - sum[y0*(w+1)+x1] - sum[y1*(w+1)+x0] + sum[y0*(w+1)+x0]
			v := uint8(255)
			if int64(g.Pix[y*g.Stride+x])*n <= s-int64(c)*n {
				v = 0
			}
			dst.Pix[y*w+x] = v
		}
	}
	return dst
}

// boxBlur3 averages each pixel with its 3×3 neighbourhood: it suppresses
// sensor noise that makes local binarisers flip single modules.
func boxBlur3(g *image.Gray) *image.Gray {
	return blurMix(g, 0)
}

// sharpen applies an unsharp mask (3×3 box blur, amount 1): it restores
// edge contrast lost to defocus before binarisation.
func sharpen(g *image.Gray) *image.Gray { return blurMix(g, 1) }

// blurMix returns the 3×3 box blur (amount 0) or the unsharp mask
// g + amount·(g − blur) (amount > 0).
func blurMix(g *image.Gray, amount int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s, n int
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					s += int(g.Pix[yy*g.Stride+xx])
					n++
				}
			}
			v := s / n
			if amount > 0 {
				v = int(g.Pix[y*g.Stride+x]) + amount*(int(g.Pix[y*g.Stride+x])-s/n)
			}
			dst.Pix[y*w+x] = uint8(min(255, max(0, v)))
		}
	}
	return dst
}
