package clitest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSameShape(t *testing.T) {
	golden := `{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": ["r"], "any": [], "gone": null, "opt?": "x", "free": {}}`
	for doc, want := range map[string]string{
		`{"valid": false, "device": {"serial": "SN-9", "n": 7}, "reasons": [], "any": [1, "a"], "gone": null, "free": {"a": 1}}`:   "",
		`{"valid": false, "device": {"serial": "SN-9", "n": 7}, "reasons": ["a", "b"], "any": [], "gone": null, "free": {"a": 1}}`: "",
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": [], "any": [], "gone": null, "opt": "y", "free": {"a": 1}}`: "",
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": [], "any": [], "gone": null, "opt": 1, "free": {"a": 1}}`:   "$.opt: got a number, want a string",
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": [], "any": [], "gone": null, "free": []}`:                   "$.free: got an array, want an object",
		`{"valid": "yes", "device": {"serial": "x", "n": 1}, "reasons": [], "any": [], "gone": null, "free": {"a": 1}}`:            "$.valid: got a string, want a bool",
		`{"valid": true, "device": {"serial": "x"}, "reasons": [], "any": [], "gone": null, "free": {"a": 1}}`:                     `$.device: missing key "n"`,
		`{"valid": true, "device": {"serial": "x", "n": 1, "pii": "z"}, "reasons": [], "any": [], "gone": null, "free": {"a": 1}}`: `$.device: unexpected key "pii"`,
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": ["a", 2], "any": [], "gone": null, "free": {"a": 1}}`:       "$.reasons[1]: got a number, want a string",
		`{"valid": true, "device": [], "reasons": [], "any": [], "gone": null, "free": {"a": 1}}`:                                  "$.device: got an array, want an object",
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": {}, "any": [], "gone": null, "free": {"a": 1}}`:             "$.reasons: got an object, want an array",
		`{"valid": true, "device": {"serial": "x", "n": 1}, "reasons": [], "any": [], "gone": 0, "free": {"a": 1}}`:                "$.gone: got a number, want null",
	} {
		var got, w any
		if err := json.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(golden), &w)
		err := sameShape("$", got, w)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: error %v, want %q", doc, err, want)
		}
	}
}
