package jp2

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"
)

// DecodeRGB on a grey image replicates the grey into R, G and B exactly
// (lossless), and bounds and rejects like Decode. The colour path is
// exercised on MOSIP's RGB face records in internal/biometric/face.
func TestDecodeRGBGrey(t *testing.T) {
	src := ridges(96, 64)
	for _, f := range []Format{JP2, J2K} {
		enc, err := Encode(src, Options{Lossless: true, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		img, info, err := DecodeRGB(enc, 0)
		if err != nil {
			t.Fatal(err)
		}
		if info.Width != 96 || info.Height != 64 || info.Components != 1 || !info.Reversible {
			t.Fatalf("info %+v", info)
		}
		for i, g := range src.Pix {
			p := img.Pix[4*i : 4*i+4]
			if p[0] != g || p[1] != g || p[2] != g || p[3] != 0xff {
				t.Fatalf("pixel %d = %v, want grey %d", i, p, g)
			}
		}
		if _, _, err := DecodeRGB(enc, 96*64-1); err == nil {
			t.Fatal("image over maxPixels accepted")
		}
		if _, _, err := DecodeRGB(enc[:len(enc)/2], 0); err == nil {
			t.Fatal("truncated codestream accepted")
		}
	}
	if _, _, err := DecodeRGB([]byte("not jpeg 2000"), 0); !errors.Is(err, ErrFormat) {
		t.Fatalf("garbage: %v", err)
	}
	if _, _, err := DecodeRGB(nil, 0); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty: %v", err)
	}
}

func TestEncodeRGBRoundTrip(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 37, 29))
	for y := 0; y < 29; y++ {
		for x := 0; x < 37; x++ {
			src.Set(x, y, color.RGBA{uint8(7 * x), uint8(9 * y), uint8(x ^ y), 0xff})
		}
	}
	enc, err := EncodeRGB(src, Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	got, info, err := DecodeRGB(enc, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.Components != 3 || !info.Reversible {
		t.Fatalf("info %+v: want 3 reversible components", info)
	}
	if !bytes.Equal(got.Pix, src.Pix) {
		t.Fatal("lossless RGB round trip changed pixels")
	}
	if _, err := EncodeRGB(image.NewRGBA(image.Rect(0, 0, 0, 0)), Options{}); err == nil {
		t.Fatal("empty image encoded")
	}
}
