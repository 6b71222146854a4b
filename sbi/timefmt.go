package sbi

import (
	"errors"
	"time"
)

// TimeLayout is the SBI timestamp format yyyy-MM-ddTHH:mm:ssZ: UTC, second
// precision, literal Z. The registration client, registration processor and
// CTK parse exactly this pattern.
const TimeLayout = "2006-01-02T15:04:05Z"

// Timestamp errors.
var (
	ErrTimeFormat   = errors.New("sbi: timestamp is not yyyy-MM-ddTHH:mm:ssZ")
	ErrMilliseconds = errors.New("sbi: timestamp has fractional seconds")
)

// FormatTime formats t in UTC without fractional seconds.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses a timestamp strictly. time.Parse alone would accept
// fractional seconds, so the shape is checked first.
func ParseTime(s string) (time.Time, error) {
	if len(s) > 20 && len(s) <= 40 && s[19] == '.' {
		return time.Time{}, ErrMilliseconds
	}
	if len(s) != 20 {
		return time.Time{}, ErrTimeFormat
	}
	for i := 0; i < 20; i++ {
		c := s[i]
		var ok bool
		switch i {
		case 4, 7:
			ok = c == '-'
		case 10:
			ok = c == 'T'
		case 13, 16:
			ok = c == ':'
		case 19:
			ok = c == 'Z'
		default:
			ok = c >= '0' && c <= '9'
		}
		if !ok {
			return time.Time{}, ErrTimeFormat
		}
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, ErrTimeFormat
	}
	return t, nil
}

// lenientLayouts are the captureTime shapes seen from real callers: eSignet
// sends toISOString() (ms and Z), the registration client a local time
// without zone (read as UTC, since the zone is unknown).
var lenientLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseTimeLenient parses a caller-supplied time such as captureTime.
func ParseTimeLenient(s string) (time.Time, error) {
	if len(s) == 0 || len(s) > 64 {
		return time.Time{}, ErrTimeFormat
	}
	for _, l := range lenientLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, ErrTimeFormat
}
