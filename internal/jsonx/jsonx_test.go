package jsonx

import (
	"errors"
	"strings"
	"testing"
)

type auth struct {
	IndividualID string   `json:"individualId"`
	Captures     []item   `json:"captures"`
	Tags         []string `json:"tags,omitempty"`
}

type item struct {
	N int `json:"n"`
}

func TestRefusals(t *testing.T) {
	many := "[" + strings.Repeat("{},", 1000) + "{}]"
	cases := []struct {
		name, body, kind, msg string
		l                     Limits
	}{
		{"duplicate", `{"individualId":"1","individualId":"2"}`, KindDuplicate, `member "individualId" given twice`, Limits{}},
		{"nested duplicate", `{"captures":[{"n":1,"n":2}]}`, KindDuplicate, `member "n" given twice at /captures/0`, Limits{}},
		{"invalid utf8", "{\"individualId\":\"a\xffb\"}", KindUTF8, "invalid UTF-8", Limits{}},
		{"invalid utf8 name", "{\"a\xff\":1}", KindUTF8, "invalid UTF-8", Limits{}},
		{"unknown", `{"individualID":"1"}`, KindUnknown, `unknown member "individualID"`, Limits{}},
		{"count bomb", `{"captures":` + many + `}`, KindLimit, "an array with more than 1000 elements at /captures", Limits{}},
		{"count bomb small", `{"tags":["a","b","c"]}`, KindLimit, "more than 2 elements", Limits{MaxArray: 2}},
		{"deep", strings.Repeat("[", 17) + strings.Repeat("]", 17), KindLimit, "nested deeper than 16", Limits{}},
		{"members", `{"a":1,"b":2,"c":3}`, KindLimit, "more than 2 members", Limits{MaxMembers: 2, Open: true}},
		{"values", `[1,2,3,4]`, KindLimit, "more than 4 values", Limits{MaxValues: 4}},
		{"too large", `{"individualId":"123456"}`, KindTooLarge, "larger than 10 bytes", Limits{MaxBytes: 10}},
		{"trailing", `{"individualId":"1"} {}`, KindTrailing, "data after", Limits{}},
		{"trailing junk", `{"individualId":"1"}x`, KindSyntax, "", Limits{}},
		{"empty", ``, KindSyntax, "empty document", Limits{}},
		{"truncated", `{"individualId":`, KindSyntax, "truncated", Limits{}},
		{"wrong type", `{"individualId":5}`, KindType, "a JSON number cannot be a string", Limits{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v auth
			err := Unmarshal([]byte(c.body), &v, c.l)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want a *jsonx.Error", err, err)
			}
			if e.Kind != c.kind || !strings.Contains(e.Error(), c.msg) {
				t.Fatalf("got %s %q, want %s containing %q", e.Kind, e.Error(), c.kind, c.msg)
			}
			if c.kind == KindTooLarge != errors.Is(err, ErrTooLarge) {
				t.Error("ErrTooLarge wrapping")
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	var v auth
	body := `{"individualId":"4958","captures":[{"n":1},{"n":2}],"tags":["é","\u00e9"]}`
	if err := Unmarshal([]byte(body), &v, Limits{}); err != nil {
		t.Fatal(err)
	}
	if v.IndividualID != "4958" || len(v.Captures) != 2 || v.Captures[1].N != 2 || v.Tags[1] != "é" {
		t.Fatalf("%+v", v)
	}
	// Exactly at the limits is fine.
	if err := Unmarshal([]byte(`{"tags":["a","b"]}`), &v, Limits{MaxArray: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Unmarshal([]byte(strings.Repeat("[", 16)+strings.Repeat("]", 16)), new(any), Limits{}); err != nil {
		t.Fatal(err)
	}
	var open map[string]any
	if err := Unmarshal([]byte(`{"x":1}`), &open, Limits{}); err != nil {
		t.Fatal("maps take any member:", err)
	}
	var st struct{ A int }
	if err := Unmarshal([]byte(`{"A":1,"b":2}`), &st, Limits{Open: true}); err != nil || st.A != 1 {
		t.Fatal("open contract:", err)
	}
	if err := Unmarshal([]byte(`{"a":1}`), &st, Limits{}); err == nil {
		t.Fatal("names must match exactly: a is not A")
	}
}

func TestDecodeReader(t *testing.T) {
	var v auth
	err := Decode(strings.NewReader(`{"individualId":"`+strings.Repeat("9", 100)+`"}`), &v, Limits{MaxBytes: 50})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if err := Decode(strings.NewReader(` {"individualId":"1"} `), &v, Limits{}); err != nil || v.IndividualID != "1" {
		t.Fatal(err)
	}
}

func TestMessagesHoldNoValues(t *testing.T) {
	secret := "5581294760"
	for _, body := range []string{
		`{"individualId":` + secret + `}`,
		`{"individualId":"` + secret + `","individualId":"x"}`,
		`{"` + secret + `":1}`,
	} {
		var v auth
		err := Unmarshal([]byte(body), &v, Limits{})
		if err == nil {
			t.Fatalf("%s accepted", body)
		}
		if strings.Contains(err.Error(), secret) && !strings.Contains(body, `"`+secret+`":`) {
			t.Errorf("error %q repeats a value", err)
		}
	}
}
