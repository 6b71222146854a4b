package normalize

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxInput bounds the bytes of one input; longer inputs normalise to ""
// and never match.
const MaxInput = 1024

// DefaultThreshold is the partial-match score (0–100) at or above which
// two values match unless the caller says otherwise.
const DefaultThreshold = 60

// titles are honorifics removed from the start of a name (after folding;
// dots are separators): English, French and common Indian forms. Single
// letters are never titles: "M. K. Rao" keeps its initials.
var titles = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "miss": true, "mx": true, "master": true,
	"dr": true, "prof": true, "sir": true, "madam": true, "dame": true, "lord": true, "lady": true,
	"rev": true, "fr": true, "sr": true, "hon": true,
	"mme": true, "mlle": true,
	"shri": true, "sri": true, "shrimati": true, "smt": true, "kumari": true, "kum": true, "km": true,
	"sushri": true,
}

var folder = cases.Fold()

// Text normalises free text: invalid UTF-8 and format characters (zero
// width spaces and joiners, soft hyphens, BOM) dropped, NFC, case folded,
// apostrophes removed (O'Brien = OBrien), other punctuation (dots too:
// M.K. = M. K. = M K) and symbols turned into spaces, whitespace collapsed.
func Text(s string) string {
	if len(s) > MaxInput {
		return ""
	}
	s = strings.ToValidUTF8(s, "")
	s = norm.NFC.String(s)
	s = folder.String(s)
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := true // no leading space
	for _, r := range s {
		switch {
		case r == '\'' || r == '’' || r == 'ʼ' || r == '`':
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r):
			if unicode.Is(unicode.Cherokee, r) {
				// Unicode folds Cherokee to its capitals, but folding a
				// capital with cases.Fold gives the small letter back, so
				// Text(Text(s)) flipped (found by FuzzName): settle on the
				// capitals, the folded form of CaseFolding.txt.
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			space = false
		default: // spaces, punctuation, symbols, controls
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	// Dropping an apostrophe or a format character can bring a combining
	// mark next to a letter ("c'\u0301" → "c\u0301"): compose again, or
	// Text(Text(s)) would differ from Text(s) (found by FuzzName).
	return norm.NFC.String(strings.TrimSuffix(b.String(), " "))
}

// Name is Text with leading honorifics removed ("Dr. Mrs. Asha Rao" is
// "asha rao"). A name that is nothing but titles is kept as it is.
func Name(s string) string {
	t := strings.Fields(Text(s))
	i := 0
	for i < len(t)-1 && titles[t[i]] {
		i++
	}
	return strings.Join(t[i:], " ")
}

// Mode is how two normalised values are compared.
type Mode uint8

const (
	// Exact: the normalised values are equal (score 100) or not (0).
	Exact Mode = iota
	// Partial: score = 100 × (tokens in common, counted with
	// multiplicity) ÷ (tokens in the longer value), so word order does
	// not matter and a missing middle name costs a share.
	Partial
)

// Score compares two already-normalised values.
func Score(a, b string, mode Mode) int {
	if a == "" || b == "" {
		return 0
	}
	if mode == Exact {
		if a == b {
			return 100
		}
		return 0
	}
	ta, tb := strings.Fields(a), strings.Fields(b)
	count := make(map[string]int, len(ta))
	for _, t := range ta {
		count[t]++
	}
	common := 0
	for _, t := range tb {
		if count[t] > 0 {
			count[t]--
			common++
		}
	}
	return 100 * common / max(len(ta), len(tb))
}

// MatchName normalises two names and compares them. For Exact the
// threshold is ignored; for Partial a threshold ≤ 0 means DefaultThreshold.
func MatchName(a, b string, mode Mode, threshold int) (score int, ok bool) {
	return match(Name(a), Name(b), mode, threshold)
}

// MatchText is MatchName without title removal (addresses, places).
func MatchText(a, b string, mode Mode, threshold int) (score int, ok bool) {
	return match(Text(a), Text(b), mode, threshold)
}

func match(a, b string, mode Mode, threshold int) (int, bool) {
	s := Score(a, b, mode)
	if mode == Exact {
		return s, s == 100
	}
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	return s, s >= threshold
}
