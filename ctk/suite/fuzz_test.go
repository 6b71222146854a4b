package suite

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the definition loader: it must never
// panic, and whatever it accepts must satisfy the invariants the runner
// relies on.
func FuzzParse(f *testing.F) {
	f.Add(embeddedCases[:0])
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"testCaseType":"SBI"}]`))
	f.Add([]byte(`[{"testCaseType":"SBI","testName":"n","testId":"SBI1","specVersion":"0.9.5","testDescription":"d",
		"isNegativeTestcase":false,"methodName":["device"],"requestSchema":["DiscoverRequestSchema"],
		"responseSchema":["DiscoverResponseSchema"],"validatorDefs":[[{"name":"SchemaValidator","description":"x"}]],
		"otherAttributes":{"purpose":["Auth"],"biometricTypes":["Finger"],"deviceSubTypes":["Single"],"segments":[],
		"exceptions":[],"requestedScore":"","bioCount":"","deviceSubId":""}}]`))
	// The first three cases of the real file.
	if parts := bytes.SplitAfterN(embeddedCases, []byte("\n\t},"), 4); len(parts) == 4 {
		head := bytes.Join(parts[:3], nil)
		f.Add(append(head[:len(head)-1:len(head)-1], []byte("\n]")...))
	}
	sch, err := EmbeddedSchemas()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cases, err := Parse(b, sch)
		if err != nil {
			if cases != nil {
				t.Fatal("cases returned with an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range cases {
			if c.ID == "" || seen[c.ID] || len(c.Methods) == 0 || len(c.ValidatorDefs) == 0 || len(c.ValidatorDefs[0]) == 0 {
				t.Fatalf("accepted a case breaking the invariants: %+v", c)
			}
			seen[c.ID] = true
			if sch.Get(c.SpecVersion, c.ResponseSchema()) == nil || sch.Get(c.SpecVersion, c.RequestSchema()) == nil {
				t.Fatalf("accepted %s without its schemas", c.ID)
			}
			_ = c.Repeat()
			_ = c.Applies("Finger", "Single", "")
		}
	})
}
