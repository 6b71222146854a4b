package clockskew

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "24h": 24 * time.Hour, "-24h": -24 * time.Hour, "90s": 90 * time.Second, "720h": Max} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{"1d": "Go duration", "tomorrow": "Go duration", "721h": "at most", "-8760h": "at most"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), Env) {
			t.Errorf("Parse(%q): %v, want an error naming %s and saying %q", in, err, Env, msg)
		}
	}
}

func TestClock(t *testing.T) {
	if off := time.Until(Clock(24 * time.Hour)()); off < 23*time.Hour || off > 25*time.Hour {
		t.Fatalf("a +24h clock is %v ahead", off)
	}
	t.Setenv(Env, "-24h")
	now, d, err := FromEnv()
	if err != nil || d != -24*time.Hour {
		t.Fatal(d, err)
	}
	if off := time.Since(now()); off < 23*time.Hour || off > 25*time.Hour {
		t.Fatalf("a -24h clock is %v behind", off)
	}
	t.Setenv(Env, "")
	if _, d, err := FromEnv(); err != nil || d != 0 {
		t.Fatal(d, err)
	}
}
