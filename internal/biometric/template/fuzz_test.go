package template

import (
	"reflect"
	"testing"
)

// FuzzParse: Parse must never panic or over-read; whatever it accepts must
// re-encode, and the re-encoding must parse to the same record without
// needing any tolerance.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"fmr.ansi2004", "fmr.ansi2007", "fmr.iso2005"} {
		f.Add(load(f, name))
	}
	s := &Set{Width: 256, Height: 288, Minutiae: []Point{{X: 1, Y: 2, Angle: 1, Type: RidgeEnding, Quality: 50}},
		Cores: []Singular{{X: 100, Y: 100, HasAngle: true, Angle: 1}}, Deltas: []Singular{{X: 50, Y: 200}}}
	for _, fm := range []Format{ISO2005, ISO2011, ANSI2004, ANSI2009} {
		rec, err := s.Record(fm, Options{})
		if err != nil {
			f.Fatal(err)
		}
		b, err := rec.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Parse(b)
		if err != nil {
			return
		}
		for i := range rec.Views {
			if _, err := rec.Set(i); err != nil {
				t.Fatalf("view %d of an accepted record: %v", i, err)
			}
		}
		out, err := rec.Marshal()
		if err != nil {
			t.Fatalf("accepted record does not re-encode: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		if len(again.Warnings) != 0 {
			t.Fatalf("re-encoding needed tolerance: %q", again.Warnings)
		}
		rec.Warnings = nil
		if !reflect.DeepEqual(rec, again) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, again)
		}
	})
}
