package qrscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/qrscan/degrade"
)

// cleanCode renders a 1,200-character code at 4 px per module.
func cleanCode(t testing.TB, seed uint64) (string, *image.Gray) {
	t.Helper()
	text := degrade.Text(rand.New(rand.NewPCG(seed, 0)), 1200)
	g, err := degrade.Render(text, "M", 4)
	if err != nil {
		t.Fatal(err)
	}
	return text, g
}

func allDecoders() []Decoder {
	return []Decoder{Pipeline{}, ZXingCPP{}, Zbar{}, GoZXing{}}
}

func TestDecodersReadCleanCode(t *testing.T) {
	text, g := cleanCode(t, 1)
	for _, d := range allDecoders() {
		t.Run(d.Name(), func(t *testing.T) {
			got, err := d.Decode(g)
			if errors.Is(err, ErrUnavailable) {
				// Only acceptable when the native decoders are compiled out.
				if zxingCPPAvailable && zbarAvailable {
					t.Fatalf("%s unavailable in a cgo build", d.Name())
				}
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != text {
				t.Fatalf("text mismatch: got %d chars %.30q..., want %.30q...", len(got), got, text)
			}
		})
	}
}

func TestNativeAvailabilityMatchesBuild(t *testing.T) {
	// In a cgo build both native decoders must be linked in; otherwise
	// both must report ErrUnavailable rather than fail differently.
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for d, compiled := range map[Decoder]bool{ZXingCPP{}: zxingCPPAvailable, Zbar{}: zbarAvailable} {
		_, err := d.Decode(g)
		if got := errors.Is(err, ErrUnavailable); got == compiled {
			t.Errorf("%s: ErrUnavailable=%v, but compiled in=%v (err %v)", d.Name(), got, compiled, err)
		}
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeBytesPNGAndJPEG(t *testing.T) {
	text, g := cleanCode(t, 2)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, g, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"png": encodePNG(t, g), "jpeg": jb.Bytes()} {
		got, err := DecodeBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != text {
			t.Fatalf("%s: text mismatch", name)
		}
	}
}

// pngHeader builds a PNG signature plus a valid IHDR declaring w×h; it
// carries no pixel data, like a hostile "decompression bomb" header.
func pngHeader(w, h uint32) []byte {
	var ihdr bytes.Buffer
	ihdr.WriteString("IHDR")
	binary.Write(&ihdr, binary.BigEndian, w)
	binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{8, 0, 0, 0, 0}) // 8-bit greyscale
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(ihdr.Len()-4))
	b.Write(ihdr.Bytes())
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr.Bytes()))
	return b.Bytes()
}

func TestDecodeBytesLimits(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"garbage", []byte("not an image at all"), ErrFormat},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrFormat},
		{"truncated png", pngHeader(100, 100), ErrFormat},
		{"truncated jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), ErrFormat},
		{"50 megapixels", pngHeader(10000, 5000), ErrTooLarge},
		{"13 megapixels", pngHeader(4000, 3250), ErrTooLarge},
		{"too wide", pngHeader(1<<16, 1), ErrTooLarge},
		{"terapixel", pngHeader(1<<20, 1<<20), ErrTooLarge},
		{"over 20 MiB", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxImageBytes)...), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeRejectsHugeOrEmptyImages(t *testing.T) {
	// image.Uniform claims ±1e9 bounds without allocating: it must be
	// rejected before any conversion allocates pixels.
	if _, err := Decode(image.NewUniform(color.White)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("uniform: got %v, want ErrTooLarge", err)
	}
	if _, err := Decode(nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("nil: got %v, want ErrFormat", err)
	}
	if _, err := Decode(image.NewGray(image.Rect(0, 0, 0, 10))); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty: got %v, want ErrFormat", err)
	}
	for _, d := range allDecoders() {
		if _, err := d.Decode(image.NewUniform(color.White)); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: got %v, want ErrTooLarge", d.Name(), err)
		}
	}
}

func TestNotFoundErrorListsStages(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 300, 200))
	draw.Draw(blank, blank.Rect, image.White, image.Point{}, draw.Src)
	_, err := Decode(blank)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want *NotFoundError matching ErrNotFound", err)
	}
	if len(nf.Tried) != len(DefaultStages()) {
		t.Errorf("tried %v, want all %d default stages", nf.Tried, len(DefaultStages()))
	}
	if !strings.Contains(err.Error(), "no QR code found in the image (tried gozxing") &&
		!strings.Contains(err.Error(), "no QR code found in the image (tried zxing-cpp") {
		t.Errorf("message %q does not name the decoders tried", err)
	}
}

// fakeDecoder records calls and returns a fixed result.
type fakeDecoder struct {
	name  string
	text  string
	err   error
	calls *int
	sizes *[]int
}

func (f fakeDecoder) Name() string { return f.name }
func (f fakeDecoder) Decode(img image.Image) (string, error) {
	*f.calls++
	if f.sizes != nil {
		*f.sizes = append(*f.sizes, img.Bounds().Dx())
	}
	return f.text, f.err
}

func TestPipelineOrderSkipAndErrors(t *testing.T) {
	var calls int
	var sizes []int
	miss := fakeDecoder{name: "miss", err: &NotFoundError{Tried: []string{"miss"}}, calls: &calls, sizes: &sizes}
	off := fakeDecoder{name: "off", err: ErrUnavailable, calls: &calls}
	hit := fakeDecoder{name: "hit", text: "OK", calls: &calls, sizes: &sizes}
	g := image.NewGray(image.Rect(0, 0, 100, 50))

	p := Pipeline{Stages: []Stage{
		{Decoder: miss},
		{Decoder: off},
		{Prep: PrepUp2, MaxSide: 99, Decoder: hit}, // skipped: 100 > 99
		{Prep: PrepUp2, Decoder: miss},
		{Prep: PrepDown2, Decoder: hit},
		{Decoder: hit}, // never reached
	}}
	got, err := p.Decode(g)
	if err != nil || got != "OK" {
		t.Fatalf("got %q, %v", got, err)
	}
	if calls != 4 {
		t.Errorf("calls = %d, want 4 (miss, off, miss(up2), hit(down2))", calls)
	}
	if want := []int{100, 200, 50}; !equalInts(sizes, want) {
		t.Errorf("image widths seen = %v, want %v", sizes, want)
	}

	_, err = Pipeline{Stages: []Stage{{Decoder: miss}, {Decoder: off}, {Prep: PrepSharpen, Decoder: miss}}}.Decode(g)
	var nf *NotFoundError
	if !errors.As(err, &nf) || strings.Join(nf.Tried, ",") != "miss,miss(sharpen)" {
		t.Fatalf("got %v, want NotFoundError tried miss,miss(sharpen)", err)
	}
	// A stage failing for another reason (native out-of-memory) is
	// reported only when no stage could look for a code at all.
	boom := fakeDecoder{name: "boom", err: errors.New("boom"), calls: &calls}
	_, err = Pipeline{Stages: []Stage{{Decoder: boom}, {Decoder: miss}}}.Decode(g)
	if !errors.As(err, &nf) || strings.Join(nf.Tried, ",") != "boom,miss" {
		t.Fatalf("got %v, want NotFoundError tried boom,miss", err)
	}
	_, err = Pipeline{Stages: []Stage{{Decoder: boom}}}.Decode(g)
	if err == nil || err.Error() != "boom" {
		t.Fatalf("got %v, want the stage's own error", err)
	}
	_, err = Pipeline{Stages: []Stage{{Decoder: off}}}.Decode(g)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no decoder available") {
		t.Fatalf("got %v, want not-found naming no available decoder", err)
	}
}

func TestPipelineNormalisesLargeImages(t *testing.T) {
	var calls int
	var sizes []int
	miss := fakeDecoder{name: "miss", err: ErrNotFound, calls: &calls, sizes: &sizes}
	g := image.NewGray(image.Rect(0, 0, 5000, 2000)) // 10 MP > 4K UHD
	_, err := Pipeline{Stages: []Stage{
		{FullRes: true, Decoder: miss},
		{Decoder: miss},
		{Prep: PrepDown2, Decoder: miss},
		{Prep: PrepUp2, MaxSide: 1920, Decoder: miss}, // 2500 > 1920: skipped
	}}.Decode(g)
	if !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if want := []int{5000, 2500, 1250}; !equalInts(sizes, want) {
		t.Errorf("widths seen %v, want %v", sizes, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestToGrayFormats(t *testing.T) {
	text, g := cleanCode(t, 3)
	b := g.Rect
	// The same code as RGBA, NRGBA with a transparent background, YCbCr
	// (JPEG) and a paletted image, each as a sub-image with a non-zero
	// origin: all must decode.
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, g, image.Point{}, draw.Src)
	nrgba := image.NewNRGBA(b)
	for i, v := range g.Pix {
		if v < 128 {
			nrgba.Pix[4*i+3] = 255 // black ink; white areas fully transparent
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, rgba, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	ycc, err := jpeg.Decode(&jb)
	if err != nil {
		t.Fatal(err)
	}
	pal := image.NewPaletted(b, color.Palette{color.Black, color.White})
	draw.Draw(pal, b, g, image.Point{}, draw.Src)
	gray16 := image.NewGray16(b)
	draw.Draw(gray16, b, g, image.Point{}, draw.Src)

	type sub interface {
		image.Image
		SubImage(image.Rectangle) image.Image
	}
	inner := image.Rect(3, 5, b.Dx()-2, b.Dy()-1) // quiet zone is 16 px: code intact
	for name, img := range map[string]sub{"rgba": rgba, "nrgba": nrgba, "ycbcr": ycc.(*image.YCbCr), "paletted": pal, "gray16": gray16, "gray": g} {
		si := img.SubImage(inner)
		gg := toGray(si)
		if gg.Rect.Min != (image.Point{}) || gg.Rect.Dx() != inner.Dx() || gg.Stride != inner.Dx() {
			t.Errorf("%s: toGray bounds %v stride %d", name, gg.Rect, gg.Stride)
		}
		// Compare against the source grey: transparent-over-white and
		// JPEG must stay within a few levels of the original.
		var worst int
		for y := 0; y < inner.Dy(); y++ {
			for x := 0; x < inner.Dx(); x++ {
				d := int(gg.Pix[y*gg.Stride+x]) - int(g.GrayAt(x+inner.Min.X, y+inner.Min.Y).Y)
				worst = max(worst, d, -d)
			}
		}
		limit := 1
		if name == "ycbcr" {
			limit = 80 // JPEG ringing at module edges
		}
		if worst > limit {
			t.Errorf("%s: grey differs by up to %d from the source", name, worst)
		}
		got, err := Decode(si)
		if err != nil || got != text {
			t.Errorf("%s: decode failed: %v", name, err)
		}
	}
}

func TestScaleGray(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	up := scaleGray(g, 2, 1)
	if up.Rect.Dx() != 14 || up.Rect.Dy() != 10 {
		t.Fatalf("up2 size %v", up.Rect)
	}
	down := scaleGray(up, 1, 2)
	if down.Rect.Dx() != 7 || down.Rect.Dy() != 5 {
		t.Fatalf("down2 size %v", down.Rect)
	}
	// Enlarging then shrinking by two must give the image back closely
	// (interior pixels; borders are clamped).
	for y := 1; y < 4; y++ {
		for x := 1; x < 6; x++ {
			a, b := int(g.Pix[y*7+x]), int(down.Pix[y*7+x])
			if a-b > 4 || b-a > 4 {
				t.Errorf("(%d,%d): %d -> %d", x, y, a, b)
			}
		}
	}
	// A 1-pixel image must not index out of range in either direction.
	one := image.NewGray(image.Rect(0, 0, 1, 1))
	if s := scaleGray(one, 2, 1); s.Rect.Dx() != 2 {
		t.Errorf("1px up2 = %v", s.Rect)
	}
	if s := prepare(one, PrepDown2); s != one {
		t.Errorf("1px down2 should return the input")
	}
}

func TestAdaptiveThresholdAndFilters(t *testing.T) {
	// Ink on the bright side of a lighting gradient is lighter than the
	// paper on the dark side: no global threshold separates them, a
	// local one must.
	g := image.NewGray(image.Rect(0, 0, 120, 60))
	for y := 0; y < 60; y++ {
		for x := 0; x < 120; x++ {
			v := 60 + x*150/120 // background gradient 60..210
			if x >= 90 && x < 110 && y >= 20 && y < 40 {
				v -= 50 // ink on the bright side, brighter than the dark background
			}
			g.Pix[y*120+x] = uint8(v)
		}
	}
	bw := adaptiveThreshold(g, 15, 5)
	for i, v := range bw.Pix {
		if v != 0 && v != 255 {
			t.Fatalf("pixel %d = %d, not binary", i, v)
		}
	}
	if bw.GrayAt(100, 30).Y != 0 || bw.GrayAt(10, 30).Y != 255 || bw.GrayAt(80, 5).Y != 255 {
		t.Errorf("ink/background misclassified: ink=%d darkbg=%d brightbg=%d",
			bw.GrayAt(100, 30).Y, bw.GrayAt(10, 30).Y, bw.GrayAt(80, 5).Y)
	}
	// Sharpening increases edge contrast, smoothing decreases it.
	edge := func(m *image.Gray) int { return int(m.GrayAt(89, 30).Y) - int(m.GrayAt(90, 30).Y) }
	if !(edge(sharpen(g)) > edge(g) && edge(boxBlur3(g)) < edge(g)) {
		t.Errorf("edge contrast: orig %d sharpen %d smooth %d", edge(g), edge(sharpen(g)), edge(boxBlur3(g)))
	}
}

func TestGoZXingRecoversFromMalformedSource(t *testing.T) {
	// A 1×1 image is smaller than anything gozxing's binariser expects;
	// the decoder must report not-found, not panic.
	for _, d := range []Decoder{GoZXing{}, GoZXing{GlobalHistogram: true}, Pipeline{}} {
		_, err := d.Decode(image.NewGray(image.Rect(0, 0, 1, 1)))
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", d.Name(), err)
		}
	}
}

func TestConcurrentDecode(t *testing.T) {
	// Decoders keep no shared state (each call creates its own zbar
	// scanner and ZXing hints); run them in parallel, ideally with -race
	// and -asan, on the same source image.
	text, g := cleanCode(t, 4)
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		d := allDecoders()[i%4]
		go func() {
			got, err := d.Decode(g)
			switch {
			case errors.Is(err, ErrUnavailable):
				err = nil
			case err == nil && got != text:
				err = errors.New(d.Name() + ": wrong text")
			}
			errs <- err
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
