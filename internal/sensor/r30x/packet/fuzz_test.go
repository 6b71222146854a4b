package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func seeds(f *testing.F) {
	for _, v := range vectors {
		b, _ := v.p.Encode()
		f.Add(b)
		f.Add(append([]byte{0xEF, 0x01, 0x00, 0xEF}, b...))
	}
	f.Add([]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x02})
	f.Add([]byte{})
}

// FuzzParse: Parse never panics, never reads past its input, and whatever
// it accepts re-encodes to exactly the bytes it consumed.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := Parse(b)
		if n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if err != nil {
			return
		}
		if len(p.Payload) == 0 || len(p.Payload) > MaxPayload || !p.Kind.Valid() {
			t.Fatalf("accepted an impossible packet %+v", p)
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("round trip: % X != % X", enc, b[:n])
		}
	})
}

// FuzzReader: the stream reader terminates on any input and only returns
// packets that are valid.
func FuzzReader(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatal("more packets than input bytes")
			}
			p, err := r.Next()
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrNoHeader) {
				return
			}
			if errors.Is(err, ErrChecksum) {
				continue
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if _, err := p.Encode(); err != nil {
				t.Fatalf("returned an unencodable packet: %v", err)
			}
		}
	})
}
