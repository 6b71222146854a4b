package fir

import (
	"bytes"
	"testing"
)

// FuzzParse: Parse never panics, never accepts more than MaxRecordSize, and
// anything it accepts marshals back to exactly the same bytes (so no field
// is silently dropped or invented).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"auth_left_index.iso", "registration_right_middle.iso", "finger2.iso"} {
		f.Add(read(f, name))
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
		rec, err := Parse(b)
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
