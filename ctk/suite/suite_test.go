package suite

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedSuite(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 200 {
		t.Fatalf("%d cases, want 200", len(s.Cases))
	}
	if s.Cases[0].ID != "SBI1000" || s.Cases[199].ID != "SBI1199" {
		t.Fatalf("first/last ids %s %s", s.Cases[0].ID, s.Cases[199].ID)
	}
	// The shipped bytes are MOSIP's 1.4.0 release (see data/SOURCES.md).
	if got, want := s.SHA256, "f63176331b6ab2333995f4041d57f7f012470c4d5a49f89e58cbef52c4390229"; got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
	for _, c := range s.Cases {
		for _, v := range c.Validators() {
			found := false
			for _, k := range KnownValidators {
				found = found || k == v
			}
			if !found {
				t.Errorf("%s names validator %s which the ctk does not implement", c.ID, v)
			}
		}
		if s.Schemas.Get(c.SpecVersion, c.ResponseSchema()) == nil {
			t.Errorf("%s: no schema %s", c.ID, c.ResponseSchema())
		}
	}
	c := s.Case("SBI1005")
	if c == nil || c.Method() != MethodRCapture || c.Attrs.BioCount != "2" || len(c.Attrs.Exceptions) != 2 {
		t.Fatalf("SBI1005 = %+v", c)
	}
	if !c.Applies("Finger", "Slap", "Registration") || c.Applies("Finger", "Slap", "Auth") || c.Applies("Iris", "Double", "Registration") {
		t.Fatal("SBI1005 applicability wrong")
	}
	if q := s.Case("SBI1112"); q.Repeat() != 10 {
		t.Fatalf("SBI1112 repeat %d", q.Repeat())
	}
}

func TestParseRejects(t *testing.T) {
	sch, err := EmbeddedSchemas()
	if err != nil {
		t.Fatal(err)
	}
	good := string(embeddedCases)
	one := func(mut func(m map[string]any)) []byte {
		var list []map[string]any
		if err := json.Unmarshal(embeddedCases, &list); err != nil {
			t.Fatal(err)
		}
		mut(list[0])
		b, _ := json.Marshal(list[:3])
		return b
	}
	cases := map[string][]byte{
		"not json":          []byte("{"),
		"object":            []byte(`{"testId":"x"}`),
		"empty":             []byte(`[]`),
		"trailing":          []byte(good + "[]"),
		"missing required":  one(func(m map[string]any) { delete(m, "methodName") }),
		"unknown field":     one(func(m map[string]any) { m["surprise"] = 1 }),
		"unknown method":    one(func(m map[string]any) { m["methodName"] = []string{"explode"} }),
		"unknown schema":    one(func(m map[string]any) { m["responseSchema"] = []string{"NoSuchSchema"} }),
		"bad id":            one(func(m map[string]any) { m["testId"] = "SBI 1000/../x" }),
		"duplicate id":      one(func(m map[string]any) { m["testId"] = "SBI1001" }),
		"bad purpose enum":  one(func(m map[string]any) { m["otherAttributes"].(map[string]any)["purpose"] = []string{"Fun"} }),
		"bool as string":    one(func(m map[string]any) { m["isNegativeTestcase"] = "false" }),
		"no validator defs": one(func(m map[string]any) { m["validatorDefs"] = [][]any{} }),
	}
	for name, b := range cases {
		if _, err := Parse(b, sch); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Parse([]byte(good), sch); err != nil {
		t.Fatalf("embedded file rejected: %v", err)
	}
}

// A vendor's file may mix in SDK or ABIS cases (MOSIP keeps them side by
// side); only SBI cases are kept.
func TestLoadFileDropsOtherTypes(t *testing.T) {
	var list []map[string]any
	if err := json.Unmarshal(embeddedCases, &list); err != nil {
		t.Fatal(err)
	}
	sdk := map[string]any{"testCaseType": "SDK", "testName": "x", "testId": "SDK2000", "specVersion": "0.9.0",
		"testDescription": "", "isNegativeTestcase": false, "methodName": []string{"check-quality"},
		"requestSchema": []string{"a"}, "responseSchema": []string{"b"},
		"validatorDefs":   [][]map[string]string{{{"name": "x", "description": "y"}}},
		"otherAttributes": map[string]any{"modalities": []string{"finger"}}}
	list = append(list[:5], sdk)
	b, _ := json.Marshal(list)
	p := filepath.Join(t.TempDir(), "defs.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 5 || s.Source != p {
		t.Fatalf("%d cases from %s", len(s.Cases), s.Source)
	}
}

func TestSchemasCheckEveryElement(t *testing.T) {
	sch, err := EmbeddedSchemas()
	if err != nil {
		t.Fatal(err)
	}
	s := sch.Get("0.9.5", "ErrorCaptureResponseSchema")
	ok := `{"biometrics":[{"specVersion":"0.9.5","data":"","hash":"","error":{"errorCode":"109","errorInfo":"bad count"}}]}`
	// MOSIP's tuple form checks only element 0; the second, successful
	// element must fail here.
	bad := `{"biometrics":[{"specVersion":"0.9.5","data":"","hash":"","error":{"errorCode":"109","errorInfo":"bad count"}},
		{"specVersion":"0.9.5","data":"","hash":"","error":{"errorCode":"0","errorInfo":"Success"}}]}`
	for doc, wantOK := range map[string]bool{ok: true, bad: false} {
		v, err := DecodeJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		msgs := Validate(s, v, 5)
		if (len(msgs) == 0) != wantOK {
			t.Errorf("valid=%v, messages %v", len(msgs) == 0, msgs)
		}
		if !wantOK && !strings.Contains(strings.Join(msgs, " "), "/biometrics/1/error") {
			t.Errorf("message does not point at element 1: %v", msgs)
		}
	}
}

func TestLoadSchemasLayouts(t *testing.T) {
	dir := t.TempDir()
	flat := `{"$schema":"https://json-schema.org/draft/2019-09/schema#","type":"object","required":["a"]}`
	if err := os.WriteFile(filepath.Join(dir, "Mine.json"), []byte(flat), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "1.0.0"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "1.0.0", "Other.json"), []byte(flat), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSchemas(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Get("0.9.5", "Mine") == nil || s.Get("1.0.0", "Other") == nil || s.Get("0.9.5", "Other") != nil {
		t.Fatalf("layout lookup wrong: %v", s.Names())
	}
	if err := os.WriteFile(filepath.Join(dir, "Broken.json"), []byte(`{"type": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSchemas(dir); err == nil {
		t.Fatal("an invalid schema was accepted")
	}
}

// Definition files and device answers are read strictly (internal/jsonx):
// a duplicated member would let the schema check one value and the runner
// use another.
func TestParseStrict(t *testing.T) {
	sch, err := EmbeddedSchemas()
	if err != nil {
		t.Fatal(err)
	}
	good := string(embeddedCases)
	for name, c := range map[string]struct{ body, want string }{
		"duplicate member": {strings.Replace(good, `"testName": `, `"testName":"x","testName":`, 1), "given twice"},
		// Open contract for the runner, but MOSIP's testcase schema has
		// additionalProperties false: the variant is refused there.
		"case variant":  {strings.Replace(good, `"testName": `, `"TESTNAME":"x","testName":`, 1), "TESTNAME"},
		"invalid UTF-8": {strings.Replace(good, `"testName": "`, "\"testName\": \"\xff", 1), "UTF-8"},
		"nesting":       {`[` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `]`, "nested deeper"},
	} {
		_, err := Parse([]byte(c.body), sch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
	for name, b := range map[string]string{
		"duplicate": `{"biometrics":[],"biometrics":[{}]}`,
		"UTF-8":     "{\"a\":\"\xc3\"}",
		"lone":      `{"a":"\udfff"}`,
		"trailing":  `{} {}`,
	} {
		if _, err := DecodeJSON([]byte(b)); err == nil {
			t.Errorf("DecodeJSON %s: accepted", name)
		}
	}
	if v, err := DecodeJSON([]byte(`{"a":[1,"x",null]}`)); err != nil || v == nil {
		t.Fatalf("plain document: %v", err)
	}
}
