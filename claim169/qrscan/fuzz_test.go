package qrscan

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/qrscan/degrade"
)

// FuzzDecodeBytes feeds arbitrary bytes to the public entry point: it must
// never panic or crash in C, and must fail only with the documented errors.
// Seeds are small real PNG/JPEG QR images so that mutations reach the
// decoders, not only the format sniffing.
func FuzzDecodeBytes(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i, n := range []int{10, 40, 120} {
		text := degrade.Text(rng, n)
		g, err := degrade.Render(text, "M", 2)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodePNG(f, g))
		if i == 1 {
			var b bytes.Buffer
			if err := jpeg.Encode(&b, degrade.Rotate(g, 30, 255), &jpeg.Options{Quality: 70}); err != nil {
				f.Fatal(err)
			}
			f.Add(b.Bytes())
		}
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("\xff\xd8\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := DecodeBytes(b)
		if err == nil {
			// Only the two accepted formats may ever reach a decoder.
			if !bytes.HasPrefix(b, []byte("\x89PNG")) && !bytes.HasPrefix(b, []byte("\xff\xd8")) {
				t.Fatalf("decoded %q from neither PNG nor JPEG input", text)
			}
			return
		}
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("undocumented error: %v", err)
		}
		if text != "" {
			t.Fatalf("text %q returned with error %v", text, err)
		}
	})
}

// FuzzDecodePixels reaches the decoders (including the C libraries)
// directly with arbitrary grey images: mutated PNGs mostly fail the CRC
// check in FuzzDecodeBytes before any decoder runs. The first two bytes
// give the width; the rest are pixels.
func FuzzDecodePixels(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{8, 30} {
		g, err := degrade.Render(degrade.Text(rng, n), "L", 2)
		if err != nil {
			f.Fatal(err)
		}
		w := g.Rect.Dx()
		f.Add(append([]byte{byte(w >> 8), byte(w)}, g.Pix...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 3 {
			return
		}
		w := int(b[0])<<8 | int(b[1])
		pix := b[2:]
		if w == 0 || w > len(pix) {
			return
		}
		h := len(pix) / w
		g := &image.Gray{Pix: pix[:w*h], Stride: w, Rect: image.Rect(0, 0, w, h)}
		before := bytes.Clone(g.Pix)
		for _, d := range []Decoder{Pipeline{}, ZXingCPP{}, Zbar{}, GoZXing{}} {
			text, err := d.Decode(g)
			if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: undocumented error %v", d.Name(), err)
			}
			if err != nil && text != "" {
				t.Fatalf("%s: text with error", d.Name())
			}
		}
		if !bytes.Equal(before, g.Pix) {
			t.Fatal("a decoder modified the caller's image")
		}
	})
}
