package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Known frames from the R30x / AS608 manuals.
var vectors = []struct {
	name string
	p    Packet
	wire string
}{
	{"VfyPwd default", Packet{DefaultAddress, Command, []byte{0x13, 0, 0, 0, 0}}, "EF01 FFFFFFFF 01 0007 1300000000 001B"},
	{"GenImg", Packet{DefaultAddress, Command, []byte{0x01}}, "EF01 FFFFFFFF 01 0003 01 0005"},
	{"ReadSysPara", Packet{DefaultAddress, Command, []byte{0x0F}}, "EF01 FFFFFFFF 01 0003 0F 0013"},
	{"ack OK", Packet{DefaultAddress, Ack, []byte{0x00}}, "EF01 FFFFFFFF 07 0003 00 000A"},
	{"ack no finger", Packet{DefaultAddress, Ack, []byte{0x02}}, "EF01 FFFFFFFF 07 0003 02 000C"},
	{"other address", Packet{0x12345678, End, []byte{0xAB, 0xCD}}, "EF01 12345678 08 0004 ABCD 0184"},
}

func TestEncodeVectors(t *testing.T) {
	for _, v := range vectors {
		got, err := v.p.Encode()
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if want := unhex(t, v.wire); !bytes.Equal(got, want) {
			t.Errorf("%s: encoded % X, want % X", v.name, got, want)
		}
	}
}

func TestParseVectors(t *testing.T) {
	for _, v := range vectors {
		wire := unhex(t, v.wire)
		p, n, err := Parse(append(wire, 0xAA)) // trailing byte must not be consumed
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if n != len(wire) {
			t.Errorf("%s: used %d bytes, want %d", v.name, n, len(wire))
		}
		if p.Address != v.p.Address || p.Kind != v.p.Kind || !bytes.Equal(p.Payload, v.p.Payload) {
			t.Errorf("%s: parsed %+v, want %+v", v.name, p, v.p)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		p   Packet
		err error
	}{
		{Packet{Kind: Data, Payload: make([]byte, MaxPayload+1)}, ErrTooLarge},
		{Packet{Kind: Data}, ErrEmpty},
		{Packet{Kind: 0x05, Payload: []byte{1}}, ErrKind},
	}
	for _, c := range cases {
		if _, err := c.p.Encode(); !errors.Is(err, c.err) {
			t.Errorf("Encode(%+v) = %v, want %v", c.p, err, c.err)
		}
	}
	if _, err := (Packet{Kind: Data, Payload: make([]byte, MaxPayload)}).Encode(); err != nil {
		t.Errorf("a %d-byte payload must encode: %v", MaxPayload, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := unhex(t, "EF01 FFFFFFFF 07 0003 00 000A")
	mut := func(i int, b byte) []byte {
		c := append([]byte(nil), good...)
		c[i] = b
		return c
	}
	cases := []struct {
		name string
		in   []byte
		err  error
	}{
		{"short header", good[:8], ErrShort},
		{"short body", good[:len(good)-1], ErrShort},
		{"bad start", mut(0, 0xEE), ErrBadHeader},
		{"bad kind", mut(6, 0x03), ErrKind},
		{"length 2", mut(8, 0x02), ErrLength},
		{"length 259", append(mut(7, 0x01), 0x03), ErrLength},
		{"checksum", mut(10, 0x0B), ErrChecksum},
	}
	for _, c := range cases {
		if _, _, err := Parse(c.in); !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
}

func TestChecksumWraps(t *testing.T) {
	payload := bytes.Repeat([]byte{0xFF}, MaxPayload)
	want := uint16((int(Data) + 1 + 2 + 255*MaxPayload) & 0xFFFF)
	if got := Checksum(Data, payload); got != want {
		t.Fatalf("Checksum = %#04x, want %#04x", got, want)
	}
}

func TestReaderSkipsGarbage(t *testing.T) {
	ack := unhex(t, "EF01 FFFFFFFF 07 0003 00 000A")
	var stream []byte
	// A lone 0xEF, a false header with an impossible kind, CR/LF, then the packet.
	stream = append(stream, 0x00, 0xEF, 0x55, 0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x55, 0x00, 0x03, 0x0D, 0x0A)
	stream = append(stream, ack...)
	stream = append(stream, 0xEF, 0x01, 0x01) // false header cut short before the next packet
	stream = append(stream, unhex(t, "EF01 FFFFFFFF 07 0003 02 000C")...)
	r := NewReader(bytes.NewReader(stream))
	p, err := r.Next()
	if err != nil || p.Kind != Ack || p.Payload[0] != 0x00 {
		t.Fatalf("first packet = %+v, %v", p, err)
	}
	if r.Skipped() != 14 {
		t.Errorf("skipped %d bytes, want 14", r.Skipped())
	}
	p, err = r.Next()
	if err != nil || p.Payload[0] != 0x02 {
		t.Fatalf("second packet = %+v, %v", p, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last packet: %v, want EOF", err)
	}
}

func TestReaderChecksumThenRecovers(t *testing.T) {
	bad := unhex(t, "EF01 FFFFFFFF 07 0003 00 000B")
	good := unhex(t, "EF01 FFFFFFFF 07 0003 00 000A")
	r := NewReader(bytes.NewReader(append(bad, good...)))
	if _, err := r.Next(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("first: %v, want ErrChecksum", err)
	}
	if p, err := r.Next(); err != nil || p.Kind != Ack {
		t.Fatalf("second: %+v %v", p, err)
	}
}

func TestReaderGivesUpOnNoise(t *testing.T) {
	r := NewReader(bytes.NewReader(bytes.Repeat([]byte{0x55}, MaxSkip+100)))
	if _, err := r.Next(); !errors.Is(err, ErrNoHeader) {
		t.Fatalf("err = %v, want ErrNoHeader", err)
	}
}

func TestReaderTruncated(t *testing.T) {
	good := unhex(t, "EF01 FFFFFFFF 07 0003 00 000A")
	r := NewReader(bytes.NewReader(good[:len(good)-1]))
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
	}
}

// errAfter returns data, then a fixed error, as a timing-out port would.
type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(b []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(b, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderKeepsPartialHeaderAcrossErrors(t *testing.T) {
	timeout := errors.New("timeout")
	src := &errAfter{data: []byte{0x11, 0xEF}, err: timeout}
	r := NewReader(src)
	if _, err := r.Next(); err != timeout {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	// The 0xEF may start a header: it must survive into the next call.
	src.data = unhex(t, "01 FFFFFFFF 07 0003 00 000A")
	p, err := r.Next()
	if err != nil || p.Kind != Ack {
		t.Fatalf("after resuming: %+v %v", p, err)
	}
}
