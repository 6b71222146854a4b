package normalize

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Asha Rao", "asha rao"},
		{"  ASHA   RAO  ", "asha rao"},
		{"Dr. Asha Rao", "asha rao"},
		{"Mrs Asha Rao", "asha rao"},
		{"Prof. Dr. Asha Rao", "asha rao"},
		{"MR. JOHN O'BRIEN", "john obrien"},
		{"Ms. Mary-Jane Smith", "mary jane smith"},
		{"M. K. Rao", "m k rao"}, // "m" is not a title
		{"M.K. Rao", "m k rao"},  // dots separate
		{"Shri Ravi Kumar", "ravi kumar"},
		{"Smt. Lakshmi", "lakshmi"},
		{"Dr", "dr"},                                 // only a title: kept
		{"Asha Dr Rao", "asha dr rao"},               // titles only at the start
		{"José Álvarez", "josé álvarez"},             // NFC composed
		{"Jose\u0301 A\u0301lvarez", "josé álvarez"}, // decomposed input → same
		{"STRASSE Straße", "strasse strasse"},        // full case folding
		{"Asha\u00a0Rao", "asha rao"},                // NBSP
		{"Asha\u200bRao", "asharao"},                 // zero-width space dropped
		{"Asha\tRao\n", "asha rao"},
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
		{"राम कुमार", "राम कुमार"},
		{"Asha\xffRao", "asharao"}, // invalid UTF-8 dropped
		{"", ""},
		{"!!!", ""},
		{strings.Repeat("a", MaxInput+1), ""},
	} {
		if got := Name(c.in); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12, M.G. Road,  Bengaluru - 560001", "12 m g road bengaluru 560001"},
		{"Dr. Ambedkar Nagar", "dr ambedkar nagar"}, // Text keeps titles
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		a, b      string
		mode      Mode
		threshold int
		score     int
		ok        bool
	}{
		{"Dr. Asha Rao", "ASHA  RAO", Exact, 0, 100, true},
		{"Asha Rao", "Rao Asha", Exact, 0, 0, false},
		{"Asha Rao", "Rao Asha", Partial, 0, 100, true},
		{"Asha Kumari Rao", "Asha Rao", Partial, 0, 66, true},
		{"Asha Kumari Rao", "Asha Rao", Partial, 70, 66, false},
		{"Asha Rao", "Ravi Rao", Partial, 0, 50, false},
		{"Rao Rao", "Rao", Partial, 0, 50, false}, // multiplicity counts
		{"Asha Rao", "Mrs. Asha Rao", Partial, 0, 100, true},
		{"", "", Exact, 0, 0, false}, // nothing never matches
		{"", "", Partial, 0, 0, false},
		{"!!", "??", Exact, 0, 0, false},
	} {
		s, ok := MatchName(c.a, c.b, c.mode, c.threshold)
		if s != c.score || ok != c.ok {
			t.Errorf("MatchName(%q, %q, %d, %d) = %d %v, want %d %v", c.a, c.b, c.mode, c.threshold, s, ok, c.score, c.ok)
		}
		// Symmetric.
		if s2, _ := MatchName(c.b, c.a, c.mode, c.threshold); s2 != s {
			t.Errorf("asymmetric: %q %q: %d vs %d", c.a, c.b, s, s2)
		}
	}
	if s, ok := MatchText("12 M G Road", "12, M.G. ROAD", Exact, 0); !ok || s != 100 {
		t.Errorf("MatchText: %d %v", s, ok)
	}
}

// TestTextComposesAfterDropping is FuzzName's find: an apostrophe between
// a letter and a combining mark left the pair uncomposed, so normalising
// twice gave another string (and "Ać" would not match "Ac'́" typed with
// the combining accent).
func TestTextComposesAfterDropping(t *testing.T) {
	for _, s := range []string{"AAC'\u0301000", "c\u200b\u0301", "c\u0301", "\u0107"} {
		if got := Name(s); got != Name(got) || (strings.HasPrefix(s, "c") || strings.HasPrefix(s, "\u0107")) && got != "\u0107" {
			t.Errorf("Name(%q) = %q, Name of that %q", s, got, Name(got))
		}
	}
}

// TestTextCherokeeStable: FuzzName's second find, Cherokee small letters
// and capitals normalised into each other on every pass.
func TestTextCherokeeStable(t *testing.T) {
	for _, s := range []string{"\uab71", "\u13a1", "0\uab71"} {
		if got := Text(s); got != Text(got) || !strings.HasSuffix(got, "\u13a1") {
			t.Errorf("Text(%q) = %q, Text of that %q", s, got, Text(got))
		}
	}
}

func FuzzName(f *testing.F) {
	f.Add("Dr. Asha Rao")
	f.Add("Jose\u0301\u200b")
	f.Fuzz(func(t *testing.T, s string) {
		n := Name(s)
		if Name(n) != n && !titles[strings.Fields(n)[0]] {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, Name(n))
		}
		if strings.Contains(n, "  ") || strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") {
			t.Fatalf("whitespace not collapsed: %q", n)
		}
	})
}
