package sensors

import (
	"context"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

func captureISO(t *testing.T, s *Samples, purpose string, subs ...string) [][]byte {
	t.Helper()
	segs, err := s.Capture(context.Background(), Spec{Purpose: purpose, SubTypes: subs})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, sg := range segs {
		r, err := iso.Parse(sg.ISO)
		if err != nil {
			t.Fatal(err)
		}
		if errs := r.CheckProfile(purpose); errs != nil {
			t.Fatalf("%s %s record does not fit the MOSIP profile: %v", s.typ, purpose, errs)
		}
		out = append(out, sg.ISO)
	}
	return out
}

func irisCode(t *testing.T, rec []byte) *iris.Template {
	t.Helper()
	img, _, err := isoimage.DecodeIris(rec)
	if err != nil {
		t.Fatal(err)
	}
	tp, _, err := iris.Encode(img)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// A presented person's eyes are the same eyes on every capture (a
// registration and a later auth capture match), the left is not the right,
// and another person's eyes do not match; records fit the MOSIP profile.
func TestIrisPeople(t *testing.T) {
	s, _ := NewSamples(sbi.TypeIris, 0)
	s.PresentPerson(7)
	reg := captureISO(t, s, sbi.PurposeRegistration, "Left", "Right")
	auth := captureISO(t, s, sbi.PurposeAuth, "UNKNOWN")
	left, right, probe := irisCode(t, reg[0]), irisCode(t, reg[1]), irisCode(t, auth[0])
	if d := iris.Compare(probe, left, iris.DefaultShifts).Distance; d > iris.DefaultThreshold {
		t.Fatalf("person 7's left eye, registration vs auth: distance %.3f", d)
	}
	if d := iris.Compare(probe, right, iris.DefaultShifts).Distance; d <= iris.DefaultThreshold {
		t.Fatalf("person 7's left eye matches the right eye: %.3f", d)
	}
	s.PresentPerson(8)
	other := irisCode(t, captureISO(t, s, sbi.PurposeAuth, "Left")[0])
	if d := iris.Compare(other, left, iris.DefaultShifts).Distance; d <= iris.DefaultThreshold {
		t.Fatalf("person 8's eye matches person 7's: %.3f", d)
	}
}

// A presented person's face matches itself across captures and not the
// next person's; persons FaceIdentities apart share a face (the documented
// limitation).
func TestFacePeople(t *testing.T) {
	m, err := face.Default()
	if err != nil {
		t.Fatal(err)
	}
	desc := func(rec []byte) face.Descriptor {
		img, _, err := isoimage.DecodeFace(rec)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := m.Descriptor(img)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	s, _ := NewSamples(sbi.TypeFace, 0)
	s.PresentPerson(7)
	enrolled := desc(captureISO(t, s, sbi.PurposeRegistration, "")[0])
	if d := face.Distance(enrolled, desc(captureISO(t, s, sbi.PurposeAuth, "")[0])); d >= face.DefaultThreshold {
		t.Fatalf("person 7's face, registration vs auth: %.3f", d)
	}
	s.PresentPerson(8)
	if d := face.Distance(enrolled, desc(captureISO(t, s, sbi.PurposeAuth, "")[0])); d < face.DefaultThreshold {
		t.Fatalf("person 8's face matches person 7's: %.3f", d)
	}
	s.PresentPerson(7 + FaceIdentities)
	if d := face.Distance(enrolled, desc(captureISO(t, s, sbi.PurposeAuth, "")[0])); d >= face.DefaultThreshold {
		t.Fatalf("person %d should share person 7's face: %.3f", 7+FaceIdentities, d)
	}
}

// Every shipped portrait is one detectable face, and the set is what
// FaceIdentities says.
func TestFacePortraits(t *testing.T) {
	ents, err := faces.ReadDir("samples/faces")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if e.Name() != "SOURCES.md" {
			n++
		}
	}
	if n != FaceIdentities {
		t.Fatalf("%d portraits, FaceIdentities is %d", n, FaceIdentities)
	}
}
