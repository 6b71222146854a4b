package cli

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ParseTime reads a time the way a person pastes one: RFC 3339
// (2026-12-01T00:00:00Z, with an offset or fractional seconds too) or Unix
// seconds (1796083200, what date +%s and most logs print). Anything else
// is an error that shows both forms; a 13-digit number is called out as
// likely milliseconds rather than read as a date 50,000 years away.
func ParseTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err != nil {
		return t, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}

// parseTime is ParseTime with errors that do not repeat s (the flag
// package's message already quotes it).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] != '+' {
		switch {
		case n < 0:
			return time.Time{}, errors.New("negative Unix seconds are not allowed")
		case n > maxUnixSeconds:
			return time.Time{}, errors.New("too large for Unix seconds (milliseconds? drop the last 3 digits)")
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds (1796083200)")
}

// maxUnixSeconds is the start of year 10000, the last time RFC 3339 can
// write; a larger number is almost surely milliseconds.
const maxUnixSeconds = 253402300799

// Time is a flag.Value for a time in either of ParseTime's forms. The zero
// value means "not given" (IsSet is false) and prints as "".
type Time struct{ T time.Time }

// Set parses s with ParseTime.
func (t *Time) Set(s string) error {
	v, err := parseTime(s)
	if err != nil {
		return err
	}
	t.T = v
	return nil
}

// String is the time in RFC 3339, or "" when unset.
func (t *Time) String() string {
	if t == nil || t.T.IsZero() {
		return ""
	}
	return t.T.Format(time.RFC3339)
}

// IsSet reports whether the flag was given.
func (t *Time) IsSet() bool { return !t.T.IsZero() }
