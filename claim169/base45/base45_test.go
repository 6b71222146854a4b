package base45

import (
	"bytes"
	"errors"
	"testing"
)

// RFC 9285 section 4.
var rfcVectors = []struct{ plain, enc string }{
	{"AB", "BB8"},
	{"Hello!!", "%69 VD92EX0"},
	{"base-45", "UJCLQE7W581"},
	{"ietf!", "QED8WEX0"},
	{"", ""},
}

func TestRFC9285Vectors(t *testing.T) {
	for _, v := range rfcVectors {
		if got := EncodeToString([]byte(v.plain)); got != v.enc {
			t.Errorf("Encode(%q) = %q, want %q", v.plain, got, v.enc)
		}
		got, err := DecodeString(v.enc)
		if err != nil || string(got) != v.plain {
			t.Errorf("Decode(%q) = %q, %v; want %q", v.enc, got, err, v.plain)
		}
	}
}

func TestRoundTripAllLengths(t *testing.T) {
	src := make([]byte, 0, 300)
	for i := range 300 {
		src = append(src, byte(i*37+i>>3))
		enc := EncodeToString(src)
		if len(enc) != EncodedLen(len(src)) || DecodedLen(len(enc)) != len(src) {
			t.Fatalf("length bookkeeping wrong at n=%d", len(src))
		}
		dec, err := DecodeString(enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("round trip failed at n=%d: %v", len(src), err)
		}
	}
	// Extremes of both group sizes.
	for _, b := range [][]byte{{0xff, 0xff}, {0xff}, {0, 0}, {0}} {
		dec, err := DecodeString(EncodeToString(b))
		if err != nil || !bytes.Equal(dec, b) {
			t.Errorf("round trip %x: %x, %v", b, dec, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		in     string
		offset int
	}{
		{"GGW", 0},         // 65536: one past the largest 3-char group
		{"::", 0},          // 44+44*45 = 2024 > 255
		{"6:", 0},          // 6+44*45 = 1986 > 255
		{"A", 0},           // dangling single character
		{"BB8A", 3},        // dangling after a full group
		{"bb8", 0},         // lowercase is not in the alphabet
		{"BB8!!!", 3},      // '!' is not in the alphabet
		{"BB\x00", 2},      // NUL
		{"BB\xc3", 2},      // non-ASCII
		{"THIS!IS@NOT", 4}, // the idpass bad-base45 style
	}
	for _, c := range cases {
		out, err := DecodeString(c.in)
		var ce *CorruptInputError
		if !errors.As(err, &ce) {
			t.Errorf("Decode(%q) = %x, %v; want CorruptInputError", c.in, out, err)
			continue
		}
		if ce.Offset != c.offset {
			t.Errorf("Decode(%q) offset = %d, want %d (%v)", c.in, ce.Offset, c.offset, err)
		}
	}
}

func TestAppendDecodeLeavesDstOnError(t *testing.T) {
	dst := []byte("keep")
	out, err := AppendDecode(dst, "BB8BB!")
	if err == nil || string(out) != "keep" {
		t.Fatalf("AppendDecode = %q, %v", out, err)
	}
}

func TestLargestGroups(t *testing.T) {
	// "FGW" = 15 + 16*45 + 32*2025 = 65535, the largest valid group.
	got, err := DecodeString("FGW")
	if err != nil || !bytes.Equal(got, []byte{0xff, 0xff}) {
		t.Fatalf("FGW = %x, %v", got, err)
	}
	// "U5" = 30 + 5*45 = 255.
	got, err = DecodeString("U5")
	if err != nil || !bytes.Equal(got, []byte{0xff}) {
		t.Fatalf("U5 = %x, %v", got, err)
	}
}

func FuzzBase45(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(v.enc)
	}
	f.Add("6BFL70+30FFWJWG.FKJ0587B0XKA8FA9DIWENPEJ/5P$DPQE88EB$CBECP9ERZC04E21DDF3/E96007F3ORAO001KL680 B94W5QF60R6KW5/G8HS83P0KI949DP34W3ER68HSLK1")
	f.Add("THIS!IS@NOT#VALID$BASE45%DATA")
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := DecodeString(s)
		if err != nil {
			return
		}
		// Strict decoding means the encoding is canonical.
		if enc := EncodeToString(dec); enc != s {
			t.Fatalf("Decode(%q) re-encodes as %q", s, enc)
		}
	})
}
