package face

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"testing"

	"github.com/edgetrust/edgetrust/sbi/iso"
)

func FuzzParseDescriptor(f *testing.F) {
	var d Descriptor
	for i := range d {
		d[i] = float32(i%7)/10 - 0.3
	}
	f.Add(encodeDescriptor(Tag{1, 2, 3, 4, 5, 6, 7, 8}, d))
	f.Add([]byte("FD\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, tag, err := ParseDescriptor(b)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to the same bytes.
		if !bytes.Equal(encodeDescriptor(tag, d), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzParseWeights feeds the TF.js manifest and weights decoder arbitrary
// manifests and shards; it must return an error, never panic or allocate
// past its bounds.
func FuzzParseWeights(f *testing.F) {
	man, _ := embedded.ReadFile("model/tiny_face_detector_model-weights_manifest.json")
	bin, _ := embedded.ReadFile("model/tiny_face_detector_model.bin")
	f.Add(man, bin)
	f.Add(man, bin[:len(bin)/2])
	f.Add([]byte(`[{"paths":["a"],"weights":[{"name":"w","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.5,"min":-1}}]}]`), []byte{1, 0, 2, 0, 3, 0, 4, 0})
	f.Add([]byte(`[{"paths":["a"],"weights":[{"name":"w","shape":[3],"dtype":"float32","quantization":{"dtype":"float16"}}]}]`), []byte{0, 0x3c, 0, 0xc0, 0xff, 0x7b})
	f.Add([]byte(`[{"paths":["a"],"weights":[{"name":"w","shape":[16777216,16777216],"dtype":"float32"}]}]`), []byte{})
	f.Fuzz(func(t *testing.T, man, bin []byte) {
		w, err := parseWeights(man, func(string) ([]byte, error) { return bin, nil })
		if err != nil {
			return
		}
		for name, e := range w {
			n, err := shapeSize(e.shape)
			if err != nil || n != len(e.v) {
				t.Fatalf("%s: shape %v with %d values", name, e.shape, len(e.v))
			}
		}
		// A loaded map must be refused by the network builders unless it
		// is complete; they must not panic either.
		_, _ = loadDetector(w)
		_, _ = loadLandmarks(w)
		_, _ = loadRecognition(w)
	})
}

// FuzzDecodeImage: JPEG and JPEG 2000 payloads of face records.
func FuzzDecodeImage(f *testing.F) {
	if b, err := os.ReadFile("testdata/mosip/Face_Auth.iso"); err == nil {
		if rec, err := iso.Parse(b); err == nil {
			f.Add(rec.Image(b, 0)) // JP2, lossy 9/7, RGB
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil); err == nil {
		f.Add(buf.Bytes())
	}
	f.Add([]byte{0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0x4f, 0xff, 0x51, 0, 0x29})
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(b)
		if err != nil {
			return
		}
		if r := img.Bounds(); r.Dx()*r.Dy() > MaxPixels {
			t.Fatalf("decoded %v, over MaxPixels", r)
		}
	})
}
