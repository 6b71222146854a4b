package proto

import (
	"bytes"
	"errors"
	"image"
	"strings"
	"testing"
)

func TestSysParamsRoundTrip(t *testing.T) {
	s := SysParams{Status: 0x000C, SystemID: 9, LibrarySize: 1000, SecurityLevel: 3, Address: 0xFFFFFFFF, PacketSizeCode: 2, BaudMultiplier: 6}
	b := s.Marshal()
	want := []byte{0, 0x0C, 0, 9, 0x03, 0xE8, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 2, 0, 6}
	if !bytes.Equal(b, want) {
		t.Fatalf("Marshal = % X, want % X", b, want)
	}
	got, err := ParseSysParams(b)
	if err != nil || got != s {
		t.Fatalf("ParseSysParams = %+v, %v", got, err)
	}
	if got.PacketSize() != 128 || got.Baud() != 57600 {
		t.Errorf("packet size %d, baud %d", got.PacketSize(), got.Baud())
	}
	if _, err := ParseSysParams(b[:15]); err == nil {
		t.Error("short system parameters accepted")
	}
	b[13] = 4
	if _, err := ParseSysParams(b); err == nil {
		t.Error("packet size code 4 accepted")
	}
}

func TestPacketSizeCode(t *testing.T) {
	for size, code := range map[int]uint16{32: 0, 64: 1, 128: 2, 256: 3} {
		if c, err := PacketSizeCode(size); err != nil || c != code {
			t.Errorf("PacketSizeCode(%d) = %d, %v", size, c, err)
		}
	}
	if _, err := PacketSizeCode(100); err == nil {
		t.Error("size 100 accepted")
	}
}

func TestProdInfoRoundTrip(t *testing.T) {
	p := ProdInfo{Model: "R503", Batch: "B123", Serial: "SN000042", HWMajor: 2, HWMinor: 1,
		SensorType: "CAP", SensorWidth: 192, SensorHeight: 192, TemplateSize: 1536, DatabaseSize: 200}
	b := p.Marshal()
	if len(b) != ProdInfoLen {
		t.Fatalf("Marshal length %d", len(b))
	}
	got, err := ParseProdInfo(b)
	if err != nil || got != p {
		t.Fatalf("ParseProdInfo = %+v, %v", got, err)
	}
	if _, err := ParseProdInfo(b[:45]); err == nil {
		t.Error("short product info accepted")
	}
}

func TestTextSanitises(t *testing.T) {
	in := []byte("R5\x1b[31m03  \x00junk")
	if got := Text(in); got != "R5?[31m03" {
		t.Fatalf("Text = %q", got)
	}
	if got := Text(FwVer("1.2.3")); got != "1.2.3" {
		t.Fatalf("FwVer round trip = %q", got)
	}
}

func TestPackUnpack(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(img.Pix, []byte{0x00, 0x1F, 0xF0, 0xFF, 0x80, 0x7F, 0x10, 0x0F})
	packed := Pack(img)
	if want := []byte{0x01, 0xFF, 0x87, 0x10}; !bytes.Equal(packed, want) {
		t.Fatalf("Pack = % X, want % X", packed, want)
	}
	got, err := Unpack(packed, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x11, 0xFF, 0xFF, 0x88, 0x77, 0x11, 0x00}; !bytes.Equal(got.Pix, want) {
		t.Fatalf("Unpack = % X, want % X", got.Pix, want)
	}
	// A full R307 frame is 36864 bytes.
	if n := PackedLen(DefaultWidth, DefaultHeight); n != 36864 {
		t.Fatalf("PackedLen = %d", n)
	}
}

func TestUnpackBounds(t *testing.T) {
	for _, c := range []struct{ n, w, h int }{{3, 4, 2}, {5, 4, 2}, {0, 0, 0}, {1, MaxDim + 1, 1}, {1, -2, -1}} {
		if _, err := Unpack(make([]byte, c.n), c.w, c.h); !errors.Is(err, ErrImageSize) {
			t.Errorf("Unpack(%d bytes, %dx%d) = %v", c.n, c.w, c.h, err)
		}
	}
}

func TestCodeError(t *testing.T) {
	var err error = NoFinger
	if !errors.Is(err, NoFinger) || errors.Is(err, WrongPassword) {
		t.Fatal("codes must compare by value")
	}
	if !strings.Contains(err.Error(), "no finger") || !strings.Contains(err.Error(), "0x02") {
		t.Fatalf("message %q", err)
	}
	if !strings.Contains(Code(0x77).String(), "0x77") {
		t.Fatal("unknown codes must show their value")
	}
}
