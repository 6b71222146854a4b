package cli

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range []string{"2026-12-01T00:00:00Z", "2026-12-01T01:00:00+01:00", "1796083200"} {
		got, err := ParseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := ParseTime("2026-12-01T00:00:00.5Z"); err != nil || got.Nanosecond() != 5e8 {
		t.Errorf("fractional seconds: %v, %v", got, err)
	}
	if got, err := ParseTime("0"); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("the epoch: %v, %v", got, err)
	}
	for in, msg := range map[string]string{
		"":                     "want RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds",
		"yesterday":            `"yesterday": want RFC 3339`,
		"2026-12-01":           "want RFC 3339",
		"2026-12-01 00:00:00Z": "want RFC 3339",
		"1796083200000":        "milliseconds? drop the last 3 digits",
		"-5":                   "negative Unix seconds are not allowed",
		"+5":                   "want RFC 3339",
		"1.5":                  "want RFC 3339",
		"99999999999999999999": "want RFC 3339",
	} {
		if _, err := ParseTime(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseTime(%q): error %v, want it to say %q", in, err, msg)
		}
	}
}

func TestTimeFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var now Time
	fs.Var(&now, "now", "")
	if now.IsSet() || now.String() != "" {
		t.Fatal("zero Time should be unset")
	}
	if err := fs.Parse([]string{"--now", "1796083200"}); err != nil {
		t.Fatal(err)
	}
	if !now.IsSet() || now.String() != "2026-12-01T00:00:00Z" {
		t.Fatalf("got %q", now.String())
	}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.Var(&now, "now", "")
	if err := fs.Parse([]string{"--now", "noon"}); err == nil || !strings.Contains(err.Error(), `invalid value "noon" for flag -now: want RFC 3339`) {
		t.Fatalf("bad time: %v", err)
	}
}
