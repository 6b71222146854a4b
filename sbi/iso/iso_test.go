package iso

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Expected values come from the MockMDS sample description (testdata/SOURCES.md
// and the project's vector notes), not from this parser.
func TestParseMockRecords(t *testing.T) {
	cases := []struct {
		file              string
		mod               Modality
		w, h              uint16
		compression       uint8 // finger compression, iris props compression, face data type
		quality           uint8
		position          uint8 // finger position or eye label
		extended, certBlk int
	}{
		{"auth_left_index.iso", Finger, 280, 448, FingerJP2Lossy, 50, 7, 0, 0},
		{"auth_left_index_wsq.iso", Finger, 280, 448, FingerWSQ, 50, 7, 0, 0},
		{"reg_finger1.iso", Finger, 245, 392, FingerJP2Lossless, 70, 2, 60, 2},
		{"auth_left_iris.iso", Iris, 391, 293, IrisLossy, 80, 2, 0, 0},
		{"reg_iris1.iso", Iris, 405, 303, 0, 0, 2, 0, 0},
		{"auth_face.iso", Face, 240, 320, FaceJP2Lossy, 40, 0, 0, 0},
		{"reg_face.iso", Face, 240, 320, FaceJP2Lossless, 80, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b := load(t, c.file)
			r, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.Modality != c.mod || int(r.Length) != len(b) || len(r.Representations) != 1 {
				t.Fatalf("got modality %v length %d reps %d", r.Modality, r.Length, len(r.Representations))
			}
			p := r.Representations[0]
			if p.Width != c.w || p.Height != c.h {
				t.Errorf("size %dx%d, want %dx%d", p.Width, p.Height, c.w, c.h)
			}
			switch c.mod {
			case Finger:
				if p.Compression != c.compression || p.Position != c.position || p.BitDepth != 8 || p.ImageResX != 500 {
					t.Errorf("finger fields %+v", p)
				}
			case Iris:
				if IrisCompression(p.Properties) != c.compression || p.EyeLabel != c.position || p.ImageFormat != IrisJP2 {
					t.Errorf("iris fields %+v", p)
				}
			case Face:
				if p.ImageDataType != c.compression || p.ColourSpace != 1 || p.FaceImageType != 1 {
					t.Errorf("face fields %+v", p)
				}
			}
			if c.quality != 0 && (len(p.Quality) != 1 || p.Quality[0].Score != c.quality) {
				t.Errorf("quality %+v, want %d", p.Quality, c.quality)
			}
			if p.ExtendedLength != c.extended || p.CertBlocks != c.certBlk {
				t.Errorf("extended %d cert %d", p.ExtendedLength, p.CertBlocks)
			}
			img := r.Image(b, 0)
			if len(img) != int(p.ImageLength) || len(img) < 4 {
				t.Fatalf("image length %d", len(img))
			}
			// Every mock image is JPEG 2000 (JP2 signature box) or WSQ (SOI 0xFFA0).
			if string(img[4:8]) != "jP  " && !(img[0] == 0xFF && img[1] == 0xA0) {
				t.Errorf("image does not start with a JP2 or WSQ marker: % x", img[:8])
			}
		})
	}
}

func TestCheckProfile(t *testing.T) {
	cases := []struct {
		file, purpose string
		ok            bool
	}{
		{"auth_left_index.iso", "Auth", true},
		{"auth_left_index_wsq.iso", "Auth", true},
		{"auth_left_index.iso", "Registration", false}, // lossy in registration
		{"reg_finger1.iso", "Registration", true},
		{"reg_finger1.iso", "Auth", false},
		{"auth_left_iris.iso", "Auth", true},
		{"auth_left_iris.iso", "Registration", false},
		{"reg_iris1.iso", "Registration", true},
		{"auth_face.iso", "Auth", true},
		{"reg_face.iso", "Registration", true},
		{"reg_face.iso", "Auth", false},
		{"auth_face.iso", "Other", false},
	}
	for _, c := range cases {
		r, err := Parse(load(t, c.file))
		if err != nil {
			t.Fatal(err)
		}
		errs := r.CheckProfile(c.purpose)
		if (len(errs) == 0) != c.ok {
			t.Errorf("%s/%s: ok=%v, errs=%v", c.file, c.purpose, c.ok, errs)
		}
		for _, e := range errs {
			if !errors.Is(e, ErrField) {
				t.Errorf("error %v does not wrap ErrField", e)
			}
		}
	}
}

// synthetic builds a minimal valid record for tests and fuzz seeds.
func synthetic(mod Modality, image []byte) []byte {
	var rep []byte
	u16 := func(v uint16) { rep = binary.BigEndian.AppendUint16(rep, v) }
	rep = append(rep, 0, 0, 0, 0) // length, patched below
	u16(2024)
	rep = append(rep, 1, 15, 10, 20, 30)
	u16(0)
	rep = append(rep, 0) // device tech
	u16(0)
	u16(0)
	rep = append(rep, 1, 60, 0, 1, 0, 1) // one quality block
	switch mod {
	case Finger:
		rep = append(rep, 7, 0, 1)
		for i := 0; i < 4; i++ {
			u16(500)
		}
		rep = append(rep, 8, FingerJP2Lossy, 0x1D)
		u16(100)
		u16(120)
	case Iris:
		u16(1)
		rep = append(rep, 2, IrisCroppedMasked, IrisJP2, 0x80)
		u16(640)
		u16(480)
		rep = append(rep, 8)
		rep = append(rep, make([]byte, 18)...)
	case Face:
		u16(0)
		rep = append(rep, make([]byte, 4+3+2+3+3)...)
		rep = append(rep, 1, FaceJP2Lossy)
		u16(240)
		u16(320)
		rep = append(rep, 0, 0, 0, 0, 1)
	}
	rep = binary.BigEndian.AppendUint32(rep, uint32(len(image)))
	rep = append(rep, image...)
	binary.BigEndian.PutUint32(rep[0:4], uint32(len(rep)))

	var hdr []byte
	switch mod {
	case Finger:
		hdr = []byte("FIR\x00020\x00")
	case Iris:
		hdr = []byte("IIR\x00020\x00")
	default:
		hdr = []byte("FAC\x00030\x00")
	}
	hl := 16
	if mod == Face {
		hl = 17
	}
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(hl+len(rep)))
	hdr = binary.BigEndian.AppendUint16(hdr, 1)
	hdr = append(hdr, 0)
	if mod == Face {
		hdr = append(hdr, 0, 0)
	} else {
		hdr = append(hdr, 1)
	}
	return append(hdr, rep...)
}

func TestSynthetic(t *testing.T) {
	for _, m := range []Modality{Finger, Iris, Face} {
		b := synthetic(m, []byte("image-bytes"))
		r, err := Parse(b)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if r.Modality != m || string(r.Image(b, 0)) != "image-bytes" {
			t.Errorf("%v: modality %v image %q", m, r.Modality, r.Image(b, 0))
		}
		if errs := r.CheckProfile("Auth"); len(errs) != 0 {
			t.Errorf("%v: profile %v", m, errs)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := synthetic(Finger, []byte("0123456789"))
	mut := func(f func(b []byte) []byte) []byte {
		c := append([]byte(nil), good...)
		return f(c)
	}
	setLen := func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:12], uint32(len(b))); return b }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", good[:10], ErrTruncated},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrFormat},
		{"version", mut(func(b []byte) []byte { b[5] = '1'; return b }), ErrVersion},
		{"face version 020", mut(func(b []byte) []byte { copy(b, "FAC\x00"); return b }), ErrVersion},
		{"record length", mut(func(b []byte) []byte { b[11]++; return b }), ErrLength},
		{"truncated body", setLen(append([]byte(nil), good[:len(good)-3]...)), ErrLength},
		{"trailing", setLen(append(append([]byte(nil), good...), 0)), ErrLength},
		{"cert flag", mut(func(b []byte) []byte { b[14] = 7; return b }), ErrField},
		{"zero reps", mut(func(b []byte) []byte { b[12], b[13] = 0, 0; return b }), ErrField},
		{"two reps", mut(func(b []byte) []byte { b[13] = 2; return b }), ErrTruncated},
		{"rep length huge", mut(func(b []byte) []byte { b[16] = 0xFF; return b }), ErrLength},
		{"rep length tiny", mut(func(b []byte) []byte { copy(b[16:20], []byte{0, 0, 0, 2}); return b }), ErrLength},
		{"image length", mut(func(b []byte) []byte { b[len(b)-11] = 0xFF; return b }), ErrLength},
		{"quality blocks overflow", mut(func(b []byte) []byte { b[34] = 0xFF; return b }), ErrTruncated},
		{"too large", make([]byte, MaxRecordSize+1), ErrTooLarge},
	}
	for _, c := range cases {
		_, err := Parse(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestCheckProfileDeviations(t *testing.T) {
	b := synthetic(Finger, []byte("x"))
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	r.Representations[0].BitDepth = 16
	r.Representations[0].ImageResX = 300
	r.Representations[0].CaptureTime.Month = 13
	r.Representations[0].Quality[0].Score = 101
	r.Representations[0].DeviceTech = 0x30
	if errs := r.CheckProfile("Auth"); len(errs) != 5 {
		t.Errorf("got %d deviations, want 5: %v", len(errs), errs)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"auth_left_index.iso", "auth_left_index_wsq.iso", "auth_left_iris.iso", "auth_face.iso", "reg_finger1.iso", "reg_iris1.iso"} {
		f.Add(load(f, n))
	}
	for _, m := range []Modality{Finger, Iris, Face} {
		f.Add(synthetic(m, []byte{1, 2, 3}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		for i, p := range r.Representations {
			img := r.Image(b, i)
			if len(img) != int(p.ImageLength) {
				t.Fatalf("image slice %d, header %d", len(img), p.ImageLength)
			}
		}
		_ = r.CheckProfile("Auth")
		_ = r.CheckProfile("Registration")
	})
}
