package sbi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// maxScalar bounds a NumString or a StringList element.
const maxScalar = 64

var errScalar = errors.New("sbi: value is not a number or string")

// NumString is a number that callers send as a JSON number (eSignet) or as a
// JSON string (registration client, CTK). It reads both and always writes a
// JSON string, which is what the CTK schemas require. null and absent read as "".
type NumString string

// UnmarshalJSON accepts a JSON number, string or null.
func (n *NumString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > maxScalar+2 {
		return errScalar
	}
	switch {
	case len(b) == 0:
		return errScalar
	case string(b) == "null":
		*n = ""
		return nil
	case b[0] == '"':
		var s string
		if err := jsonx.Unmarshal(b, &s, limits(maxScalar+2)); err != nil {
			return err
		}
		*n = NumString(strings.TrimSpace(s))
		return nil
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*n = NumString(b)
		return nil
	}
	return errScalar
}

// MarshalJSON writes the value as a JSON string.
func (n NumString) MarshalJSON() ([]byte, error) { return json.Marshal(string(n)) }

// Int parses the value as a decimal integer.
func (n NumString) Int() (int, error) {
	if len(n) > 9 {
		return 0, strconv.ErrRange
	}
	return strconv.Atoi(string(n))
}

// Float parses the value as a finite decimal number.
func (n NumString) Float() (float64, error) {
	s := string(n)
	if s == "" || strings.ContainsAny(s, "xXpPnNiI_") { // no hex, NaN, Inf or underscores
		return 0, strconv.ErrSyntax
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, strconv.ErrSyntax
	}
	return f, nil
}

// Score formats a 0-100 quality score the way the CTK pattern expects,
// e.g. 40 -> "40.0", 87.25 -> "87.25".
func Score(f float64) NumString {
	if math.IsNaN(f) || f < 0 {
		f = 0
	}
	if f > 100 {
		f = 100
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return NumString(s)
}

// ValidScore reports whether s is a decimal string in 0-100, the CTK
// pattern ^(100(\.0+)?|\d{1,2}(\.\d+)?|0(\.[0-9]+)?)$.
func ValidScore(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if hasDot && (frac == "" || !allDigits(frac)) {
		return false
	}
	if intPart == "100" {
		return !hasDot || strings.Trim(frac, "0") == ""
	}
	return len(intPart) >= 1 && len(intPart) <= 2 && allDigits(intPart)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// StringList reads a JSON string or an array of strings ([SBI1] sends
// specVersion either way) and writes an array.
type StringList []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (l *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*l = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := jsonx.Unmarshal(b, &s, limits(MaxRequestSize)); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	var s []string
	if err := jsonx.Unmarshal(b, &s, limits(MaxRequestSize)); err != nil {
		return err
	}
	if len(s) > maxListLen {
		return ErrTooMany
	}
	*l = s
	return nil
}
