package sbi

import (
	"slices"
	"strings"
	"testing"
)

func TestValidTransactionID(t *testing.T) {
	for id, ok := range map[string]bool{
		"abcd": true, "abc": false, strings.Repeat("a", 50): true, strings.Repeat("a", 51): false,
		strings.Repeat("A1-", 20): false, "0b6c7f1e-9d1a-4c8e-8f00-123456789abc": true,
		"ab_cd": false, "ab cd": false, "abcé": false, "": false, "ab.cd": false,
	} {
		if ValidTransactionID(id) != ok {
			t.Errorf("%q: want %v", id, ok)
		}
	}
}

func bio(typ string, count, subID int, subs, exc []string) BioRequest {
	return BioRequest{Type: typ, Count: NumString(itoa(count)), DeviceSubID: NumString(itoa(subID)), BioSubType: subs, Exception: exc, RequestedScore: "40"}
}

func unknowns(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = SubtypeUnknown
	}
	return s
}

// Spec digest §6.5 table and the CTK negative cases.
func TestCheckBioCounts(t *testing.T) {
	cases := []struct {
		name, purpose string
		b             BioRequest
		want          string
	}{
		{"auth finger 1", PurposeAuth, bio(TypeFinger, 1, 0, unknowns(1), nil), CodeSuccess},
		{"auth finger 10", PurposeAuth, bio(TypeFinger, 10, 0, unknowns(10), nil), CodeSuccess},
		{"auth finger 11", PurposeAuth, bio(TypeFinger, 11, 0, unknowns(11), nil), CodeCountNotSupported},
		{"auth finger 0", PurposeAuth, bio(TypeFinger, 0, 0, nil, nil), CodeCountNotSupported},
		{"auth finger subtypes != count", PurposeAuth, bio(TypeFinger, 2, 0, unknowns(1), nil), CodeCountNotSupported},
		{"auth finger named", PurposeAuth, bio(TypeFinger, 2, 0, []string{"Left Thumb", "Right IndexFinger"}, nil), CodeSuccess},
		{"auth finger dup", PurposeAuth, bio(TypeFinger, 2, 0, []string{"Left Thumb", "Left Thumb"}, nil), CodeInvalidSubtype},
		{"auth finger bad subtype", PurposeAuth, bio(TypeFinger, 1, 0, []string{"Left"}, nil), CodeInvalidSubtype},
		{"auth iris 2", PurposeAuth, bio(TypeIris, 2, 0, unknowns(2), nil), CodeSuccess},
		{"auth iris 3", PurposeAuth, bio(TypeIris, 3, 0, unknowns(3), nil), CodeCountNotSupported},
		{"auth face 1", PurposeAuth, bio(TypeFace, 1, 0, nil, nil), CodeSuccess},
		{"auth face 2", PurposeAuth, bio(TypeFace, 2, 0, nil, nil), CodeCountNotSupported},
		{"auth slap subId", PurposeAuth, bio(TypeFinger, 1, 1, unknowns(1), nil), CodeCountNotSupported},
		{"auth exceptions", PurposeAuth, bio(TypeFinger, 1, 0, unknowns(1), []string{"Left Thumb"}), CodeInvalidException},
		{"bad type", PurposeAuth, bio("Palm", 1, 0, nil, nil), CodeTypeMismatch},
		{"bad count", PurposeAuth, BioRequest{Type: TypeFace, Count: "one"}, CodeInvalidCount},

		{"reg slap 4", PurposeRegistration, bio(TypeFinger, 4, 1, nil, nil), CodeSuccess},
		{"reg slap 5", PurposeRegistration, bio(TypeFinger, 5, 1, nil, nil), CodeCountNotSupported},
		{"reg slap 3+1", PurposeRegistration, bio(TypeFinger, 3, 2, nil, []string{"Right LittleFinger"}), CodeSuccess},
		{"reg slap 3+0", PurposeRegistration, bio(TypeFinger, 3, 2, nil, nil), CodeCountNotSupported},
		{"reg slap wrong-hand exception", PurposeRegistration, bio(TypeFinger, 3, 2, nil, []string{"Left LittleFinger"}), CodeSubtypeVsType},
		{"reg slap wrong-hand subtype", PurposeRegistration, bio(TypeFinger, 4, 1, []string{"Right IndexFinger"}, nil), CodeSubtypeVsType},
		{"reg slap excepted subtype", PurposeRegistration, bio(TypeFinger, 3, 1, []string{"Left IndexFinger"}, []string{"Left IndexFinger"}), CodeSubtypeVsType},
		{"reg thumbs 2", PurposeRegistration, bio(TypeFinger, 2, 3, nil, nil), CodeSuccess},
		{"reg thumbs 3", PurposeRegistration, bio(TypeFinger, 3, 3, nil, nil), CodeCountNotSupported},
		{"reg thumbs all excepted", PurposeRegistration, bio(TypeFinger, 0, 3, nil, Thumbs), CodeSuccess},
		{"reg dup exception", PurposeRegistration, bio(TypeFinger, 2, 1, nil, []string{"Left IndexFinger", "Left IndexFinger"}), CodeInvalidException},
		{"reg UNKNOWN exception", PurposeRegistration, bio(TypeFinger, 3, 1, nil, []string{SubtypeUnknown}), CodeInvalidException},
		{"reg iris single 1", PurposeRegistration, bio(TypeIris, 1, 1, nil, nil), CodeSuccess},
		{"reg iris single 2", PurposeRegistration, bio(TypeIris, 2, 1, nil, nil), CodeCountNotSupported},
		{"reg iris single exception", PurposeRegistration, bio(TypeIris, 0, 2, nil, []string{"Right"}), CodeSuccess},
		{"reg iris both 2", PurposeRegistration, bio(TypeIris, 2, 3, nil, nil), CodeSuccess},
		{"reg iris both 3", PurposeRegistration, bio(TypeIris, 3, 3, nil, nil), CodeCountNotSupported},
		{"reg iris both 1+1", PurposeRegistration, bio(TypeIris, 1, 3, nil, []string{"Left"}), CodeSuccess},
		{"reg face 1", PurposeRegistration, bio(TypeFace, 1, 0, nil, nil), CodeSuccess},
		{"reg face 2", PurposeRegistration, bio(TypeFace, 2, 0, nil, nil), CodeCountNotSupported},
		{"reg exception photo", PurposeRegistration, bio(TypeFace, 1, 0, nil, []string{"Left Thumb", "Right"}), CodeSuccess},
		{"reg face bad exception", PurposeRegistration, bio(TypeFace, 1, 0, nil, []string{"Nose"}), CodeInvalidException},
	}
	for _, c := range cases {
		b := c.b
		if got := CheckBio(c.purpose, &b); string(got.Code) != c.want {
			t.Errorf("%s: got %s (%s), want %s", c.name, got.Code, got.Info, c.want)
		}
	}
}

func TestValidateCaptureRequest(t *testing.T) {
	ok := authRequest(TypeFinger, 1, SubtypeUnknown)
	if e := ValidateCaptureRequest(PurposeAuth, ok); !e.OK() {
		t.Fatal(e)
	}
	mut := func(f func(r *CaptureRequest)) *CaptureRequest {
		r := authRequest(TypeFinger, 1, SubtypeUnknown)
		f(r)
		return r
	}
	cases := map[string]struct {
		purpose string
		r       *CaptureRequest
		want    string
	}{
		"nil":              {PurposeAuth, nil, CodeMalformedRequest},
		"rcapture purpose": {PurposeRegistration, ok, CodePurposeMismatch},
		"env":              {PurposeAuth, mut(func(r *CaptureRequest) { r.Env = "Prod" }), CodeEnvMismatch},
		"tx short":         {PurposeAuth, mut(func(r *CaptureRequest) { r.TransactionID = "abc" }), CodeInvalidTransactionID},
		"tx 60":            {PurposeAuth, mut(func(r *CaptureRequest) { r.TransactionID = strings.Repeat("x", 60) }), CodeInvalidTransactionID},
		"tx chars":         {PurposeAuth, mut(func(r *CaptureRequest) { r.TransactionID = "abc$def" }), CodeInvalidTransactionID},
		"no bio":           {PurposeAuth, mut(func(r *CaptureRequest) { r.Bio = nil }), CodeMalformedRequest},
		"timeout":          {PurposeAuth, mut(func(r *CaptureRequest) { r.Timeout = "soon" }), CodeMalformedRequest},
		"score":            {PurposeAuth, mut(func(r *CaptureRequest) { r.Bio[0].RequestedScore = "101" }), CodeMalformedRequest},
		"previousHash":     {PurposeAuth, mut(func(r *CaptureRequest) { r.Bio[0].PreviousHash = "abc" }), CodeMalformedRequest},
		"count":            {PurposeAuth, mut(func(r *CaptureRequest) { r.Bio[0].Count = "11" }), CodeCountNotSupported},
	}
	for name, c := range cases {
		if got := ValidateCaptureRequest(c.purpose, c.r); string(got.Code) != c.want {
			t.Errorf("%s: got %s, want %s", name, got.Code, c.want)
		}
	}
}

func TestSubtypeAllowed(t *testing.T) {
	for _, s := range LeftSlap {
		if !SubtypeAllowed(TypeFinger, 1, s) || SubtypeAllowed(TypeFinger, 2, s) || SubtypeAllowed(TypeFinger, 3, s) || !SubtypeAllowed(TypeFinger, 0, s) {
			t.Errorf("left slap %s", s)
		}
	}
	for _, s := range Thumbs {
		if SubtypeAllowed(TypeFinger, 1, s) || !SubtypeAllowed(TypeFinger, 3, s) {
			t.Errorf("thumb %s", s)
		}
	}
	if !SubtypeAllowed(TypeFinger, 0, SubtypeUnknown) || SubtypeAllowed(TypeFinger, 1, SubtypeUnknown) {
		t.Error("finger UNKNOWN")
	}
	if !SubtypeAllowed(TypeIris, 1, "Left") || SubtypeAllowed(TypeIris, 1, "Right") || !SubtypeAllowed(TypeIris, 3, "Right") ||
		SubtypeAllowed(TypeIris, 3, SubtypeUnknown) || !SubtypeAllowed(TypeIris, 0, SubtypeUnknown) || SubtypeAllowed(TypeIris, 5, "Left") {
		t.Error("iris rules")
	}
	if !SubtypeAllowed(TypeFace, 0, "") || SubtypeAllowed(TypeFace, 0, SubtypeUnknown) {
		t.Error("face rules")
	}
}

func TestSegments(t *testing.T) {
	b := bio(TypeFinger, 3, 2, nil, []string{"Right MiddleFinger"})
	if got := Segments(PurposeRegistration, &b); !slices.Equal(got, []string{"Right IndexFinger", "Right RingFinger", "Right LittleFinger"}) {
		t.Errorf("slap %v", got)
	}
	b = bio(TypeIris, 2, 3, nil, nil)
	if got := Segments(PurposeRegistration, &b); !slices.Equal(got, Irises) {
		t.Errorf("irises %v", got)
	}
	b = bio(TypeFinger, 2, 0, []string{"Left Thumb"}, nil)
	if got := Segments(PurposeAuth, &b); !slices.Equal(got, []string{"Left Thumb", SubtypeUnknown}) {
		t.Errorf("auth %v", got)
	}
	b = bio(TypeFace, 1, 0, nil, []string{"Left Thumb"})
	if got := Segments(PurposeRegistration, &b); !slices.Equal(got, []string{""}) {
		t.Errorf("face %v", got)
	}
}
