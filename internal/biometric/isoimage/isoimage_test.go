package isoimage

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

var when = time.Date(2026, 12, 7, 10, 11, 12, 0, time.UTC)

func irisImage(t testing.TB) *image.Gray {
	img, _ := irissynth.New(irissynth.Seed(1, 2)).Image(irissynth.Capture{Seed: 3})
	return img
}

func irisRecord(t testing.TB, lossless bool) ([]byte, *image.Gray) {
	img := irisImage(t)
	data, err := jp2.Encode(img, jp2.Options{Lossless: lossless, Ratio: 10})
	if err != nil {
		t.Fatal(err)
	}
	typ, comp := uint8(iso.IrisCroppedMasked), uint8(iso.IrisLossy)
	if lossless {
		typ, comp = iso.IrisCropped, iso.IrisLossless
	}
	rec, err := IrisRecord(Header{Captured: when, Quality: 80}, 2, typ, IrisJP2, comp, img.Rect.Dx(), img.Rect.Dy(), data)
	if err != nil {
		t.Fatal(err)
	}
	return rec, img
}

// A built iris record parses, fits the MOSIP profile for its purpose, and
// decodes to the pixels it was built from (losslessly) or close (lossy).
func TestIrisRoundTrip(t *testing.T) {
	for _, c := range []struct {
		lossless bool
		purpose  string
	}{{true, "Registration"}, {false, "Auth"}} {
		rec, src := irisRecord(t, c.lossless)
		r, err := iso.Parse(rec)
		if err != nil {
			t.Fatal(err)
		}
		if errs := r.CheckProfile(c.purpose); errs != nil {
			t.Fatalf("%s record does not fit the profile: %v", c.purpose, errs)
		}
		if p := r.Representations[0]; p.EyeLabel != 2 || p.Width != irissynth.Width || p.Quality[0].Score != 80 {
			t.Fatalf("header %+v", p)
		}
		if tm, ok := r.Representations[0].CaptureTime.Time(); !ok || !tm.Equal(when) {
			t.Fatalf("capture time %v", tm)
		}
		got, _, err := DecodeIris(rec)
		if err != nil {
			t.Fatal(err)
		}
		if c.lossless && !bytes.Equal(got.Pix, src.Pix) {
			t.Fatal("lossless iris changed")
		}
		if d := meanAbs(got.Pix, src.Pix); d > 4 {
			t.Fatalf("decoded iris differs by %.2f grey levels on average", d)
		}
		if _, _, err := DecodeFace(rec); !errors.Is(err, ErrModality) {
			t.Fatalf("iris record decoded as a face: %v", err)
		}
	}
}

func meanAbs(a, b []byte) float64 {
	s := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		s += max(d, -d)
	}
	return float64(s) / float64(len(a))
}

// Raw, JPEG and PNG iris images decode too; a size that differs from the
// header, an unknown format and a raw image of the wrong length are refused.
func TestIrisFormats(t *testing.T) {
	img := irisImage(t)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var jp, pn bytes.Buffer
	jpeg.Encode(&jp, img, &jpeg.Options{Quality: 90})
	png.Encode(&pn, img)
	for _, c := range []struct {
		name   string
		format uint8
		data   []byte
		w, h   int
		want   error
	}{
		{"raw", IrisRaw, img.Pix, w, h, nil},
		{"jpeg", IrisJPEG, jp.Bytes(), w, h, nil},
		{"png", IrisPNG, pn.Bytes(), w, h, nil},
		{"png size differs", IrisPNG, pn.Bytes(), w, h - 1, ErrSize},
		{"raw short", IrisRaw, img.Pix[1:], w, h, ErrImage},
		{"unknown format", 0x04, pn.Bytes(), w, h, ErrFormat},
		{"garbage jp2", IrisJP2, []byte("not a jpeg 2000 image"), w, h, ErrImage},
		{"too large", IrisPNG, pn.Bytes(), 0xFFFF, 0xFFFF, ErrTooLarge},
	} {
		rec, err := IrisRecord(Header{Captured: when}, 1, iso.IrisCropped, c.format, iso.IrisLossless, c.w, c.h, c.data)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeIris(rec)
		if c.want != nil {
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if c.name != "jpeg" && !bytes.Equal(got.Pix, img.Pix) {
			t.Errorf("%s: pixels changed", c.name)
		}
	}
}

// MOSIP's own face records (colour JPEG 2000) decode to their declared size;
// a face record built here (RGB JPEG 2000, JPEG, PNG) parses, fits the
// profile and decodes back.
func TestFace(t *testing.T) {
	for _, name := range []string{"Face_Auth.iso", "Face_Registration.iso"} {
		b, err := os.ReadFile("../face/testdata/mosip/" + name)
		if err != nil {
			t.Fatal(err)
		}
		img, rec, err := DecodeFace(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() != 240 || img.Bounds().Dy() != 320 || rec.Modality != iso.Face {
			t.Fatalf("%s: %v", name, img.Bounds())
		}
		if _, _, err := DecodeIris(b); !errors.Is(err, ErrModality) {
			t.Fatalf("face record decoded as an iris: %v", err)
		}
	}
	src := image.NewRGBA(image.Rect(0, 0, 60, 80))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			src.Pix[i] = 0xff
		}
	}
	lossless, err := jp2.EncodeRGB(src, jp2.Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	var pn, jp bytes.Buffer
	png.Encode(&pn, src)
	jpeg.Encode(&jp, src, nil)
	for _, c := range []struct {
		typ     uint8
		data    []byte
		purpose string
		exact   bool
	}{{FaceJP2Lossless, lossless, "Registration", true}, {FacePNG, pn.Bytes(), "", true}, {FaceJPEG, jp.Bytes(), "", false}} {
		rec, err := FaceRecord(Header{Captured: when, Quality: 70}, c.typ, 60, 80, c.data)
		if err != nil {
			t.Fatal(err)
		}
		r, err := iso.Parse(rec)
		if err != nil {
			t.Fatalf("type %d: %v", c.typ, err)
		}
		if c.purpose != "" {
			if errs := r.CheckProfile(c.purpose); errs != nil {
				t.Fatalf("profile: %v", errs)
			}
		}
		img, _, err := DecodeFace(rec)
		if err != nil {
			t.Fatalf("type %d: %v", c.typ, err)
		}
		if c.exact {
			for y := 0; y < 80; y++ {
				for x := 0; x < 60; x++ {
					if color.RGBAModel.Convert(img.At(x, y)) != src.At(x, y) {
						t.Fatalf("type %d: pixel (%d,%d) changed", c.typ, x, y)
					}
				}
			}
		}
	}
	if _, err := FaceRecord(Header{}, FaceJPEG, 0, 10, jp.Bytes()); err == nil {
		t.Fatal("empty face image written")
	}
}
