package claim169

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"io"
	"testing"
)

// TestZlibFixedInflates: Go's own inflater (an independent decoder) reads
// every stream zlibFixed writes back to its input, for every byte value
// and for sizes around the bit-buffer's byte boundaries.
func TestZlibFixedInflates(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	random := make([]byte, 4096)
	rand.Read(random)
	for _, src := range [][]byte{nil, {0}, {255}, all, random, random[:1], random[:7], random[:9], bytes.Repeat([]byte("ab"), 300)} {
		z := zlibFixed(nil, src)
		if z[2]&7 != 3 {
			t.Fatalf("first block header bits %03b, want final fixed-Huffman (011)", z[2]&7)
		}
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: inflated %d bytes, err %v", len(src), len(got), err)
		}
		if len(z) != fixedLen(src) {
			t.Fatalf("%d bytes became %d, fixedLen says %d", len(src), len(z), fixedLen(src))
		}
	}
}
