package qrscan

import (
	"bytes"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"runtime"
	"testing"
	"time"
)

// pngHeaderOf is a PNG signature and IHDR for w×h at depth bits and
// colour type ct (0 grey, 2 RGB, 6 RGBA), with no pixel data.
func pngHeaderOf(w, h uint32, depth, ct byte) []byte {
	b := pngHeader(w, h)
	// IHDR data starts after signature (8), length (4) and type (4):
	// width, height, then depth and colour type.
	b[8+4+4+8] = depth
	b[8+4+4+9] = ct
	// Fix the CRC over type+data.
	return append(b[:len(b)-4], crcBE(b[12:12+4+13])...)
}

func TestDecodedSizeBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"13 Mpx grey", pngHeaderOf(4000, 3250, 8, 0), ErrTooLarge},
		{"12 Mpx 8-bit RGBA (48 MB) passes the header check", pngHeaderOf(4000, 3000, 8, 6), ErrFormat},
		{"9 Mpx 16-bit RGBA (72 MB)", pngHeaderOf(3000, 3000, 16, 6), ErrTooLarge},
		{"6 Mpx 16-bit RGBA (48 MB) passes", pngHeaderOf(3000, 2000, 16, 6), ErrFormat},
		{"side over 16384", pngHeaderOf(20000, 10, 8, 0), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeSlotsBusy(t *testing.T) {
	old := decodeWait
	decodeWait = 50 * time.Millisecond
	defer func() { decodeWait = old }()
	for range MaxConcurrentDecodes {
		decodeSlots <- struct{}{}
	}
	_, err := DecodeBytes(pngHeader(10, 10))
	for range MaxConcurrentDecodes {
		<-decodeSlots
	}
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("with every slot taken: %v, want ErrBusy", err)
	}
	if _, err := DecodeBytes(pngHeader(10, 10)); !errors.Is(err, ErrFormat) {
		t.Fatalf("with free slots: %v, want ErrFormat (truncated)", err)
	}
}

// TestLargestImageAllocation measures what decoding the largest image the
// limits accept costs: a 12 Mpx greyscale PNG (a few kB compressed, the
// amplification case) through the whole scan ladder.
func TestLargestImageAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a 12 Mpx image")
	}
	for _, tc := range []struct {
		name string
		img  draw.Image
	}{
		{"grey", image.NewGray(image.Rect(0, 0, 4000, 3000))},
		{"RGBA", image.NewNRGBA(image.Rect(0, 0, 4000, 3000))},
	} {
		t.Run(tc.name, func(t *testing.T) { allocOf(t, tc.img) })
	}
}

func allocOf(t *testing.T, img draw.Image) {
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	img.Set(5, 5, color.NRGBA{1, 2, 3, 200}) // keep the encoder from reducing the colour type
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	img = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := DecodeBytes(buf.Bytes())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("blank image: %v, want ErrNotFound", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte PNG of 12 Mpx: %d MiB allocated in total", buf.Len(), alloc>>20)
	const budget = 64 << 20 // issue #19: never above 64 MB per request
	if alloc > budget {
		t.Fatalf("decoding the largest accepted image allocated %d MiB, budget %d MiB", alloc>>20, budget>>20)
	}
}

func crcBE(b []byte) []byte {
	c := crc32.ChecksumIEEE(b)
	return []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
}
