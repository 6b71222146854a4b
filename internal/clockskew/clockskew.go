package clockskew

import (
	"fmt"
	"os"
	"time"
)

// Env is the environment variable read by FromEnv.
const Env = "EDGETRUST_TEST_CLOCK_SKEW"

// Max bounds the skew: a larger value is a typo, not a test.
const Max = 30 * 24 * time.Hour

// Parse reads a skew: "" is none; otherwise a Go duration within ±Max.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a Go duration such as 24h or -90m: %w", Env, s, err)
	}
	if d > Max || d < -Max {
		return 0, fmt.Errorf("%s=%q: at most %v either way", Env, s, Max)
	}
	return d, nil
}

// Clock is time.Now shifted by skew (time.Now itself when skew is 0).
func Clock(skew time.Duration) func() time.Time {
	if skew == 0 {
		return time.Now
	}
	return func() time.Time { return time.Now().Add(skew) }
}

// FromEnv returns the clock EDGETRUST_TEST_CLOCK_SKEW asks for and the
// skew (0 and time.Now when it is unset).
func FromEnv() (func() time.Time, time.Duration, error) {
	d, err := Parse(os.Getenv(Env))
	if err != nil {
		return nil, 0, err
	}
	return Clock(d), d, nil
}
