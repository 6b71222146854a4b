package iris

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

func sampleEncoded(t testing.TB) []byte {
	img, _ := irissynth.New(1).Image(irissynth.Capture{Seed: 1, Occlusion: 0.3, Noise: 2})
	tp, _, err := Encode(img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemplateRoundTrip(t *testing.T) {
	b := sampleEncoded(t)
	if len(b) != EncodedSize {
		t.Fatalf("%d bytes", len(b))
	}
	p, err := ParseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	var u Template
	if err := u.UnmarshalBinary(b); err != nil || u != *p {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	c, _ := p.MarshalBinary()
	if !bytes.Equal(b, c) {
		t.Fatal("re-encoding differs")
	}
	if s := Compare(p, p, 0); s.Raw != 0 {
		t.Fatalf("self after round trip: %+v", s)
	}
}

func TestParseTemplateRefuses(t *testing.T) {
	good := sampleEncoded(t)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// A code bit where the mask is clear.
	p, _ := ParseTemplate(good)
	var outside []byte
	for i := range maskWords * 64 {
		w, bit := i/64, uint64(1)<<(i%64)
		if p.Mask[w]&bit == 0 {
			q := *p
			q.Code[(w/ringWords*2+1)*ringWords+w%ringWords] |= bit
			outside, _ = q.MarshalBinary()
			break
		}
	}
	if outside == nil {
		t.Fatal("sample has no masked location")
	}
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":        {nil, ErrTemplateFormat},
		"short":        {good[:EncodedSize-1], ErrTemplateFormat},
		"long":         {append(append([]byte(nil), good...), 0), ErrTemplateFormat},
		"magic":        {mod(func(b []byte) []byte { b[0] = 'F'; return b }), ErrTemplateFormat},
		"version":      {mod(func(b []byte) []byte { b[2] = 2; return b }), ErrTemplateFormat},
		"rows":         {mod(func(b []byte) []byte { b[3] = 8; return b }), ErrTemplateParams},
		"cols":         {mod(func(b []byte) []byte { b[5] = 2; return b }), ErrTemplateParams},
		"wavelength":   {mod(func(b []byte) []byte { b[6] = 18; return b }), ErrTemplateParams},
		"bandwidth":    {mod(func(b []byte) []byte { b[7] = 55; return b }), ErrTemplateParams},
		"outside mask": {outside, ErrTemplateFormat},
		"empty mask": {mod(func(b []byte) []byte {
			clear(b[headerSize:])
			return b
		}), ErrTemplateFormat},
	}
	for name, c := range cases {
		if _, err := ParseTemplate(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// Whatever ParseTemplate accepts re-encodes to the same bytes and compares
// without panicking.
func FuzzParseTemplate(f *testing.F) {
	good := sampleEncoded(f)
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte("IC\x01\x10\x00\x01\x18\x32"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseTemplate(b)
		if err != nil {
			return
		}
		c, _ := p.MarshalBinary()
		if !bytes.Equal(b, c) {
			t.Fatal("accepted a non-canonical encoding")
		}
		s := Compare(p, p, DefaultShifts)
		if s.Raw != 0 || s.Bits != 2*p.Valid() {
			t.Fatalf("self: %+v", s)
		}
	})
}
