package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadMOSIP reads a MOSIP mock finger record; the sensor packages test
// with the same files.
func loadMOSIP(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "sensor", "testdata", "mosip", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFingerMOSIPAuth(t *testing.T) {
	b := loadMOSIP(t, "auth_left_index.iso")
	rec, err := ParseFinger(b)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CertFlag != 0 || rec.Fingers != 1 || len(rec.Representations) != 1 {
		t.Fatalf("header %+v", rec)
	}
	r := rec.Representations[0]
	want := DateTime{Year: 2023, Month: 5, Day: 11, Hour: 19, Minute: 0, Second: 27, Millisecond: 287}
	if r.CaptureTime != want {
		t.Errorf("capture time %+v, want %+v", r.CaptureTime, want)
	}
	if r.Position != 7 || r.Compression != JPEG2000Lossy || r.Width != 280 || r.Height != 448 ||
		r.BitDepth != 8 || r.ScaleUnits != PixelsPerInch || r.ImageResH != 500 || r.Impression != 29 {
		t.Errorf("representation %+v", r)
	}
	if len(r.Quality) != 1 || r.Quality[0] != (Quality{Score: 50, VendorID: 15, AlgorithmID: 15}) {
		t.Errorf("quality %+v", r.Quality)
	}
	if len(r.Image) != 0x32D1 || !bytes.HasPrefix(r.Image, []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' '}) {
		t.Errorf("image: %d bytes, starts % X", len(r.Image), r.Image[:8])
	}
	if len(r.Extended) != 0 {
		t.Errorf("%d bytes of extended data in an auth record", len(r.Extended))
	}
}

func TestParseFingerMOSIPRegistration(t *testing.T) {
	rec, err := ParseFinger(loadMOSIP(t, "registration_right_middle.iso"))
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Representations[0]
	if rec.CertFlag != 1 || len(r.Certifications) != 2 || r.Certifications[0] != (Certification{AuthorityID: 0x0040, SchemeID: 2}) {
		t.Errorf("certification %d %+v", rec.CertFlag, r.Certifications)
	}
	if r.Compression != JPEG2000Lossless || r.Position != 3 || r.Width != 238 || r.Height != 357 {
		t.Errorf("representation %+v", r)
	}
	if len(r.Extended) != 60 || !bytes.Contains(r.Extended, []byte("This is of Finger")) {
		t.Errorf("extended data %d bytes: %q", len(r.Extended), r.Extended)
	}
}

func TestFingerRoundTripMOSIP(t *testing.T) {
	for _, name := range []string{"auth_left_index.iso", "auth_left_index_wsq.iso", "registration_right_middle.iso", "finger2.iso"} {
		b := loadMOSIP(t, name)
		rec, err := ParseFinger(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := rec.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("%s: Marshal(ParseFinger(b)) differs from b", name)
		}
	}
	rec, _ := ParseFinger(loadMOSIP(t, "auth_left_index_wsq.iso"))
	if rec.Representations[0].Compression != WSQ {
		t.Errorf("WSQ record has compression %s", rec.Representations[0].Compression)
	}
}

func small() *FingerRecord {
	return &FingerRecord{Fingers: 1, Representations: []FingerRepresentation{{
		CaptureTime: DateTimeOf(time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)),
		Quality:     []Quality{{Score: 80}},
		Position:    2, ScaleUnits: PixelsPerInch, ScanResH: 500, ScanResV: 500, ImageResH: 500, ImageResV: 500,
		BitDepth: 8, Compression: JPEG2000Lossless, Width: 4, Height: 3, Image: []byte{1, 2, 3, 4, 5},
	}}}
}

func TestFingerMarshalLayout(t *testing.T) {
	b, err := small().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// 16 general + 18 (length, date, technology, vendor, type) + 6 quality + 22 (position .. image length) + 5 image
	if len(b) != 16+18+6+22+5 {
		t.Fatalf("length %d", len(b))
	}
	if !bytes.Equal(b[:8], []byte("FIR\x00020\x00")) || binary.BigEndian.Uint32(b[8:]) != uint32(len(b)) {
		t.Fatalf("general header % X", b[:16])
	}
	if binary.BigEndian.Uint32(b[16:]) != uint32(len(b)-16) {
		t.Fatal("representation length")
	}
	if !bytes.Equal(b[20:29], []byte{0x07, 0xE9, 1, 2, 3, 4, 5, 0x02, 0xA6}) {
		t.Fatalf("date time % X", b[20:29])
	}
}

func TestParseFingerRejects(t *testing.T) {
	good, _ := small().Marshal()
	for n := 0; n < len(good); n++ {
		if _, err := ParseFinger(good[:n]); err == nil {
			t.Fatalf("accepted a record cut to %d of %d bytes", n, len(good))
		}
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrFormat},
		{"version 010", mut(func(b []byte) []byte { b[5] = '1'; return b }), ErrVersion},
		{"record length", mut(func(b []byte) []byte { b[11]++; return b }), ErrLength},
		{"trailing byte", mut(func(b []byte) []byte { b = append(b, 0); binary.BigEndian.PutUint32(b[8:], uint32(len(b))); return b }), ErrLength},
		{"no representations", mut(func(b []byte) []byte { b[13] = 0; return b }), ErrField},
		{"cert flag 2", mut(func(b []byte) []byte { b[14] = 2; return b }), ErrField},
		{"repr length too big", mut(func(b []byte) []byte { b[19]++; return b }), ErrLength},
		{"image length too big", mut(func(b []byte) []byte { b[len(b)-6]++; return b }), ErrLength},
		{"width zero", mut(func(b []byte) []byte { b[len(b)-13], b[len(b)-12] = 0, 0; return b }), ErrField},
	}
	for _, c := range cases {
		if _, err := ParseFinger(c.b); !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
	if _, err := ParseFinger(make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized record: %v", err)
	}
}

func TestFingerMarshalRejects(t *testing.T) {
	r := small()
	r.CertFlag = 2
	if _, err := r.Marshal(); err == nil {
		t.Error("cert flag 2 accepted")
	}
	r = small()
	r.Representations[0].Certifications = []Certification{{1, 1}}
	if _, err := r.Marshal(); err == nil {
		t.Error("certification blocks without the flag accepted")
	}
	if _, err := (&FingerRecord{}).Marshal(); err == nil {
		t.Error("empty record accepted")
	}
}

func TestDateTime(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 58, 999e6, time.UTC)
	got, ok := DateTimeOf(at).Time()
	if !ok || !got.Equal(at) {
		t.Fatalf("round trip %v %v", got, ok)
	}
	for _, d := range []DateTime{
		{Year: 0xFFFF, Month: 1, Day: 1},
		{Year: 2023, Month: 2, Day: 31},
		{Year: 2023, Month: 13, Day: 1},
		{Year: 2023, Month: 1, Day: 1, Millisecond: 1000},
	} {
		if _, ok := d.Time(); ok {
			t.Errorf("%+v accepted", d)
		}
	}
}

func TestPositions(t *testing.T) {
	for s, want := range map[string]byte{"0": 0, "unknown": 0, "right-index": 2, "7": 7, "left-little": 10} {
		if got, err := ParsePosition(s); err != nil || got != want {
			t.Errorf("ParsePosition(%q) = %d, %v", s, got, err)
		}
	}
	for _, bad := range []string{"11", "-1", "thumb", ""} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) accepted", bad)
		}
	}
	if PositionName(6) != "left-thumb" || PositionName(200) != "position-200" {
		t.Error("PositionName")
	}
}

// FuzzParseFinger: ParseFinger never panics, never accepts more than MaxRecordSize, and
// anything it accepts marshals back to exactly the same bytes (so no field
// is silently dropped or invented).
func FuzzParseFinger(f *testing.F) {
	for _, name := range []string{"auth_left_index.iso", "auth_left_index_wsq.iso", "registration_right_middle.iso", "finger2.iso"} {
		f.Add(loadMOSIP(f, name))
	}
	b, _ := small().Marshal()
	f.Add(b)
	r := small()
	r.CertFlag = 1
	r.Representations[0].Certifications = []Certification{{0x40, 2}}
	r.Representations[0].Extended = []byte{0, 1, 0, 4}
	b, _ = r.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseFinger(b)
		if err != nil {
			return
		}
		out, err := rec.Marshal()
		if err != nil {
			t.Fatalf("parsed record does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip differs:\n in % X\nout % X", b, out)
		}
	})
}

// ParseFinger is Parse's view of a finger record: other modalities are
// refused, and the header fields agree with Parse's.
func TestParseFingerIsParse(t *testing.T) {
	for _, m := range []Modality{Iris, Face} {
		if _, err := ParseFinger(synthetic(m, []byte{1})); !errors.Is(err, ErrFormat) {
			t.Errorf("%v record: %v, want ErrFormat", m, err)
		}
	}
	// The bridge's inspect command shows this text for a file that is no record.
	if _, err := ParseFinger([]byte("FIR? no, just a note.\n")); err == nil || !strings.Contains(err.Error(), "not an ISO/IEC 19794-4:2011 finger record") {
		t.Errorf("not a record: %v", err)
	}
	b := loadMOSIP(t, "registration_right_middle.iso")
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ParseFinger(b)
	if err != nil {
		t.Fatal(err)
	}
	p, f := h.Representations[0], rec.Representations[0]
	if p.CertBlocks != len(f.Certifications) || p.ExtendedLength != len(f.Extended) ||
		!bytes.Equal(h.Image(b, 0), f.Image) || uint8(f.Compression) != p.Compression || f.CaptureTime != p.CaptureTime {
		t.Errorf("Parse %+v, ParseFinger %+v", p, f)
	}
}
