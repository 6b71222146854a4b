package isoimage

import (
	"os"
	"testing"
)

// FuzzDecode feeds hostile records to both decoders: they must not panic,
// and whatever decodes has the size its header declares and fits the bound.
func FuzzDecode(f *testing.F) {
	rec, _ := irisRecord(f, false)
	f.Add(rec)
	if b, err := os.ReadFile("../face/testdata/mosip/Face_Auth.iso"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("IIR\x00020\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, r, err := DecodeIris(b); err == nil {
			p := r.Representations[0]
			if g.Rect.Dx() != int(p.Width) || g.Rect.Dy() != int(p.Height) || g.Rect.Dx()*g.Rect.Dy() > MaxPixels {
				t.Fatalf("decoded %v, header %dx%d", g.Rect, p.Width, p.Height)
			}
		}
		if img, r, err := DecodeFace(b); err == nil {
			p := r.Representations[0]
			if img.Bounds().Dx() != int(p.Width) || img.Bounds().Dy() != int(p.Height) {
				t.Fatalf("decoded %v, header %dx%d", img.Bounds(), p.Width, p.Height)
			}
		}
	})
}
