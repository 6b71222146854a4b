package issuer

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckReportsEveryBadRow(t *testing.T) {
	in := "id,fullName,gender,expiresAt,fulName\n" +
		"1,A,1,,\n" +
		"2,B,male,,\n" +
		"3,C,1,tomorrow,\n" +
		"4,D,1,,typo\n" +
		"5,Jos\xe9,1,,\n" +
		"6,F,2,2030-01-01T00:00:00Z,\n"
	ok, bad, err := Check(strings.NewReader(in), "csv", CheckLimits{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 2 || ok[0].Row != 2 || ok[1].Row != 7 || ok[1].Claims.ExpiresAt.Year() != 2030 {
		t.Fatalf("good rows: %+v", ok)
	}
	want := []struct {
		row   int
		field string
	}{{3, "gender"}, {4, "expiresAt"}, {5, "fulName"}, {6, "fullName"}}
	if len(bad) != len(want) {
		t.Fatalf("bad rows: %v", bad)
	}
	for i, w := range want {
		if bad[i].Row != w.row || bad[i].Field != w.field {
			t.Errorf("bad row %d: %+v, want row %d field %s", i, bad[i], w.row, w.field)
		}
		if strings.Contains(bad[i].Error(), "male") || strings.Contains(bad[i].Error(), "tomorrow") || strings.Contains(bad[i].Error(), "typo") {
			t.Errorf("the error quotes the value: %v", bad[i])
		}
	}
}

func TestCheckJSONLAndLimits(t *testing.T) {
	in := "{\"claim169\":{\"id\":\"1\"}}\n\n{\"claim169\":{\"id\":\"2\",\"id\":\"3\"}}\n{\"claim169\":{\"id\":\"4\"},\"expiresAt\":\"soon\"}\nnot json\n"
	ok, bad, err := Check(strings.NewReader(in), "jsonl", CheckLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 1 || len(bad) != 3 || bad[0].Row != 3 || bad[1].Row != 4 || bad[1].Field != "expiresAt" || bad[2].Row != 5 {
		t.Fatalf("ok %+v bad %v", ok, bad)
	}
	if _, _, err := Check(strings.NewReader("id\n1\n2\n3\n"), "csv", CheckLimits{MaxRows: 2}); !errors.Is(err, ErrTooManyRows) {
		t.Fatalf("over MaxRows: %v", err)
	}
	_, bad, err = Check(strings.NewReader("id,gender\n"+strings.Repeat("1,x\n", 20)), "csv", CheckLimits{MaxErrors: 5})
	if err != nil || len(bad) != 5 {
		t.Fatalf("MaxErrors: %d %v", len(bad), err)
	}
	for _, tc := range []struct{ format, in string }{{"csv", ""}, {"csv", "id\n"}, {"json", "{}"}, {"csv", "a,a\n1,2\n"}, {"csv", "id\n\"open\n"}} {
		if _, _, err := Check(strings.NewReader(tc.in), tc.format, CheckLimits{}); err == nil {
			t.Errorf("%s %q: no error", tc.format, tc.in)
		}
	}
}

// FuzzCheck: any upload is either refused with an error or split into
// good records and row errors naming rows of the input.
//
//	go test -run '^$' -fuzz FuzzCheck -fuzztime 30s ./internal/issuer/
func FuzzCheck(f *testing.F) {
	f.Add("id,fullName,gender\n1,A,1\n2,B,x\n", true)
	f.Add("{\"claim169\":{\"id\":\"1\"}}\n{\"claim169\":{}}\n", false)
	f.Add("id,\"a\nb\"\n1,2\n", true)
	f.Fuzz(func(t *testing.T, in string, csv bool) {
		format := "jsonl"
		if csv {
			format = "csv"
		}
		ok, bad, err := Check(strings.NewReader(in), format, CheckLimits{MaxRows: 100, MaxErrors: 10})
		if err != nil {
			if len(ok)+len(bad) != 0 {
				t.Fatal("records with an error")
			}
			return
		}
		if len(bad) > 10 || len(ok)+len(bad) == 0 || len(ok)+len(bad) > 100 {
			t.Fatalf("%d good, %d bad", len(ok), len(bad))
		}
		lines := strings.Count(in, "\n") + 1
		for _, b := range bad {
			if b.Row < 1 || b.Row > lines+1 {
				t.Fatalf("row %d of a %d-line input", b.Row, lines)
			}
		}
		for _, c := range ok {
			if c.Claims == nil {
				t.Fatal("nil claims")
			}
		}
	})
}
