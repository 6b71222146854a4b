package browsertest

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"io"
)

// WriteY4M writes frames as a YUV4MPEG2 (4:2:0) video that Chromium's fake
// camera plays in a loop (--use-file-for-fake-video-capture). Every frame
// must have the size of the first; width and height must be even.
func WriteY4M(w io.Writer, fps int, frames ...image.Image) error {
	if len(frames) == 0 {
		return fmt.Errorf("y4m: no frames")
	}
	b := frames[0].Bounds()
	wd, ht := b.Dx(), b.Dy()
	if wd%2 != 0 || ht%2 != 0 || wd == 0 {
		return fmt.Errorf("y4m: frame size %dx%d must be even and non-zero", wd, ht)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", wd, ht, fps)
	y := make([]byte, wd*ht)
	cb := make([]byte, wd*ht/4)
	cr := make([]byte, wd*ht/4)
	for i, f := range frames {
		fb := f.Bounds()
		if fb.Dx() != wd || fb.Dy() != ht {
			return fmt.Errorf("y4m: frame %d is %dx%d, not %dx%d", i, fb.Dx(), fb.Dy(), wd, ht)
		}
		for py := 0; py < ht; py++ {
			for px := 0; px < wd; px++ {
				r, g, bl, _ := f.At(fb.Min.X+px, fb.Min.Y+py).RGBA()
				yy, u, v := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
				y[py*wd+px] = yy
				if px%2 == 0 && py%2 == 0 { // top-left sample of each 2×2 block
					cb[(py/2)*(wd/2)+px/2] = u
					cr[(py/2)*(wd/2)+px/2] = v
				}
			}
		}
		bw.WriteString("FRAME\n")
		bw.Write(y)
		bw.Write(cb)
		bw.Write(cr)
	}
	return bw.Flush()
}

// Frame centres img on a white canvas of w×h (a camera frame with a card in
// it), scaled by an integer factor so it fills about half the shorter side.
func Frame(img image.Image, w, h int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range dst.Pix {
		dst.Pix[i] = 0xff
	}
	if img == nil {
		return dst
	}
	sb := img.Bounds()
	short := min(w, h)
	scale := max(1, short/2/max(sb.Dx(), sb.Dy()))
	ox, oy := (w-sb.Dx()*scale)/2, (h-sb.Dy()*scale)/2
	for y := 0; y < sb.Dy()*scale; y++ {
		for x := 0; x < sb.Dx()*scale; x++ {
			if ox+x < 0 || oy+y < 0 || ox+x >= w || oy+y >= h {
				continue
			}
			dst.Set(ox+x, oy+y, img.At(sb.Min.X+x/scale, sb.Min.Y+y/scale))
		}
	}
	return dst
}
