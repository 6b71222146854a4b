package claim169

import (
	"strings"
	"testing"
	"time"
)

func TestCodeNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{GenderMale.String(), "Male"},
		{GenderOther.String(), "Others"},
		{Gender(7).String(), "Gender(7)"},
		{MaritalDivorced.String(), "Divorced"},
		{PhotoWEBP.String(), "WEBP"},
		{PhotoFormat(0).String(), "PhotoFormat(0)"},
		{FingerUnknown.String(), "Unknown"},
		{FingerLeftLittle.String(), "LeftLittle"},
		{FingerPosition(11).String(), "FingerPosition(11)"},
		{FormatBioHash.String(), "BioHash"},
		{Face.String(), "face"},
		{LeftPalm.String(), "leftPalm"},
		{BiometricPart(66).String(), "BiometricPart(66)"},
		{SubFormatName(FormatImage, ImageWSQ), "WSQ"},
		{SubFormatName(FormatTemplate, TemplateISO19794), "ISO19794-2"},
		{SubFormatName(FormatSound, SoundMP3), "MP3"},
		{SubFormatName(FormatImage, 150), "VendorSpecific(150)"},
		{SubFormatName(FormatBioHash, 0), "SubFormat(0)"},
		{EdDSA.String(), "EdDSA"},
		{A128GCM.String(), "A128GCM"},
		{Algorithm(-35).String(), "Algorithm(-35)"},
		{StageClaim169.String(), "claim 169 map"},
		{Stage(99).String(), "Stage(99)"},
		{Brotli.String(), "brotli"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// The JSON names of the biometric parts follow the idpass schema.
	var id Identity
	for p := RightThumb; p <= Voice; p++ {
		*id.biometric(p) = []Biometric{{Data: []byte{byte(p)}}}
	}
	b, err := id.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for p := RightThumb; p <= Voice; p++ {
		if got := id.Biometric(p); len(got) != 1 || got[0].Data[0] != byte(p) {
			t.Fatalf("%v: accessor returned %v", p, got)
		}
		if !strings.Contains(string(b), `"`+p.String()+`":[{"data":"`) {
			t.Errorf("JSON has no %q", p.String())
		}
	}
}

// The spec's own 3.2.1 example gives the face as a single map; it decodes
// as a one-entry array and re-encodes as an array.
func TestBiometricSingleMap(t *testing.T) {
	raw := mustEnc(t, map[uint64]any{62: map[uint64]any{0: []byte{1, 2}, 1: 0, 2: 4, 3: "v"}})
	var id Identity
	if err := id.UnmarshalCBOR(raw); err != nil {
		t.Fatal(err)
	}
	if len(id.Face) != 1 || *id.Face[0].Format != FormatImage || *id.Face[0].SubFormat != ImageWEBP || id.Face[0].Issuer != "v" {
		t.Fatalf("face = %+v", id.Face)
	}
	enc, _ := id.MarshalCBOR()
	if want := mustEnc(t, map[uint64]any{62: []any{map[uint64]any{0: []byte{1, 2}, 1: 0, 2: 4, 3: "v"}}}); string(enc) != string(want) {
		t.Fatalf("re-encoded as %x, want %x", enc, want)
	}
}

func TestPackageDecode(t *testing.T) {
	// Package-level Decode uses the real clock: the idpass vector expires in
	// 2027, so build a fresh credential instead.
	is, err := NewIssuer(testEdPriv, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := is.Issue(&Claims{ExpiresAt: time.Now().Add(time.Hour), Identity: Identity{ID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(text, edKeys(t))
	if err != nil || !c.Verified || c.Identity.ID != "x" {
		t.Fatalf("Decode: %v", err)
	}
	if _, err := Decode(text, nil); err == nil {
		t.Fatal("Decode with no keys succeeded")
	}
}
