package jsonx

import (
	stdjson "encoding/json"
	"testing"
	"unicode/utf8"
)

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"individualId":"1","captures":[{"n":1}]}`, `{"a":1,"a":2}`, "[\"\xff\"]", `[[[[]]]]`, `{"x":{"y":[1,2,{"z":null}]}}`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		err := Unmarshal(b, &v, Limits{MaxBytes: 4096, MaxArray: 8, MaxMembers: 8, MaxDepth: 6})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// What jsonx accepts, every parser reads the same way: valid
		// JSON, valid UTF-8, and encoding/json decodes the same value.
		if !stdjson.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		var w any
		if err := stdjson.Unmarshal(b, &w); err != nil {
			t.Fatalf("encoding/json refuses what jsonx accepted: %v", err)
		}
		x, _ := stdjson.Marshal(v)
		y, _ := stdjson.Marshal(w)
		if string(x) != string(y) {
			t.Fatalf("parser differential: jsonx %s, encoding/json %s", x, y)
		}
	})
}
