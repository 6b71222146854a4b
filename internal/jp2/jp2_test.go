package jp2

import (
	"bytes"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// ridges is a smooth fingerprint-like test pattern.
func ridges(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := math.Hypot(float64(x-w/2), float64(y-h/2)*1.2)
			img.Pix[y*w+x] = uint8(128 + 100*math.Cos(d*2*math.Pi/9))
		}
	}
	return img
}

func noise(w, h int) *image.Gray {
	r := rand.New(rand.NewPCG(1, 2))
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.UintN(256))
	}
	return img
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

var jp2Sig = []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}

func TestLosslessRoundTripIsExact(t *testing.T) {
	for _, c := range []struct {
		name string
		img  *image.Gray
	}{
		{"ridges 256x288", ridges(256, 288)},
		{"noise 256x288", noise(256, 288)},
		{"1x1", noise(1, 1)},
		{"odd 33x17", noise(33, 17)},
		{"tall 3x70", noise(3, 70)},
	} {
		data, err := Encode(c.img, Options{Lossless: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.HasPrefix(data, jp2Sig) {
			t.Fatalf("%s: not a JP2 file: % X", c.name, data[:12])
		}
		got, info, err := Decode(data, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Bounds() != c.img.Bounds() || !bytes.Equal(got.Pix, c.img.Pix) {
			t.Fatalf("%s: lossless round trip is not exact", c.name)
		}
		if !info.ReversibleKnown || !info.Reversible || info.Components != 1 || info.Precision != 8 {
			t.Fatalf("%s: info %+v", c.name, info)
		}
	}
}

func TestSubImageStride(t *testing.T) {
	full := noise(64, 64)
	sub := full.SubImage(image.Rect(10, 20, 42, 36)).(*image.Gray)
	data, err := Encode(sub, Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			if got.GrayAt(x, y) != sub.GrayAt(10+x, 20+y) {
				t.Fatalf("pixel (%d,%d) differs", x, y)
			}
		}
	}
}

func TestLossy(t *testing.T) {
	src := ridges(256, 288)
	data, err := Encode(src, Options{Ratio: 10})
	if err != nil {
		t.Fatal(err)
	}
	raw := len(src.Pix)
	if ratio := float64(raw) / float64(len(data)); ratio < 8 || ratio > 15 {
		t.Fatalf("compression ratio %.1f for a 10:1 target (%d bytes)", ratio, len(data))
	}
	got, info, err := Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ReversibleKnown || info.Reversible {
		t.Fatalf("lossy image reports the reversible wavelet: %+v", info)
	}
	if p := psnr(src.Pix, got.Pix); p < 30 || math.IsInf(p, 1) {
		t.Fatalf("PSNR %.1f dB: want lossy but faithful", p)
	}
	lossless, _ := Encode(src, Options{Lossless: true})
	if len(lossless) <= len(data) {
		t.Fatalf("lossless (%d) not larger than lossy (%d)", len(lossless), len(data))
	}
}

func TestJ2KCodestream(t *testing.T) {
	src := ridges(40, 50)
	data, err := Encode(src, Options{Lossless: true, Format: J2K})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0xFF, 0x4F, 0xFF, 0x51}) {
		t.Fatalf("not a J2K codestream: % X", data[:4])
	}
	got, _, err := Decode(data, 0)
	if err != nil || !bytes.Equal(got.Pix, src.Pix) {
		t.Fatalf("J2K round trip: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	if _, _, err := Decode([]byte("GIF89a..........."), 0); !errors.Is(err, ErrFormat) {
		t.Errorf("GIF: %v", err)
	}
	if _, _, err := Decode(nil, 0); !errors.Is(err, ErrFormat) {
		t.Errorf("nil: %v", err)
	}
	data, _ := Encode(ridges(64, 64), Options{Lossless: true})
	if _, _, err := Decode(data, 64*63); err == nil {
		t.Error("image larger than maxPixels decoded")
	}
	// Truncated and corrupted streams must fail cleanly, not crash.
	for _, n := range []int{12, 40, 100, len(data) / 2} {
		if _, _, err := Decode(data[:n], 0); err == nil && n < 100 {
			t.Errorf("header-only stream of %d bytes decoded", n)
		}
	}
	bad := append([]byte(nil), data...)
	for i := 200; i < len(bad); i += 7 {
		bad[i] ^= 0xA5
	}
	Decode(bad, 0) // may or may not fail; must not crash
}

func TestEncodeRejects(t *testing.T) {
	if _, err := Encode(image.NewGray(image.Rect(0, 0, 0, 5)), Options{Lossless: true}); err == nil {
		t.Error("empty image encoded")
	}
	if _, err := Encode(ridges(8, 8), Options{Ratio: 0.5}); err == nil {
		t.Error("ratio 0.5 accepted")
	}
}

func BenchmarkEncodeLossless(b *testing.B) {
	img := ridges(256, 288)
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if _, err := Encode(img, Options{Lossless: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeLossy(b *testing.B) {
	img := ridges(256, 288)
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if _, err := Encode(img, Options{Ratio: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
