package vid

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Published Verhoeff vectors (Verhoeff 1969 examples as on Wikipedia and
// Rosetta Code): the check digit for the prefix, and the full number valid.
func TestVerhoeffVectors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want byte
	}{
		{"236", '3'},
		{"12345", '1'},
		{"123456789012", '0'},
		{"142857", '0'},
		{"8473643095483728456789", '2'},
		{"75872", '2'},
	} {
		if got := VerhoeffDigit(c.in); got != c.want {
			t.Errorf("VerhoeffDigit(%s) = %c, want %c", c.in, got, c.want)
		}
		if !VerhoeffValid(c.in + string(c.want)) {
			t.Errorf("%s%c not valid", c.in, c.want)
		}
	}
	for _, bad := range []string{"2364", "123455", "1234567890129", "", "12a4", "758720"} {
		if VerhoeffValid(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}

// Verhoeff catches every single-digit error and every adjacent
// transposition; check that on generated VIDs.
func TestVerhoeffDetectsErrors(t *testing.T) {
	for range 200 {
		s, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		for i := range s {
			for d := byte('0'); d <= '9'; d++ {
				if d == s[i] {
					continue
				}
				m := []byte(s)
				m[i] = d
				if VerhoeffValid(string(m)) {
					t.Fatalf("substitution at %d not detected in %s", i, s)
				}
			}
			if i+1 < len(s) && s[i] != s[i+1] {
				m := []byte(s)
				m[i], m[i+1] = m[i+1], m[i]
				if VerhoeffValid(string(m)) {
					t.Fatalf("transposition at %d not detected in %s", i, s)
				}
			}
		}
	}
}

func withCheck(s15 string) string { return s15 + string(VerhoeffDigit(s15)) }

func flipLast(s string) string {
	b := []byte(s)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func TestValidate(t *testing.T) {
	seen := map[string]bool{}
	firsts := map[byte]bool{}
	for range 2000 {
		s, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(s); err != nil {
			t.Fatalf("generated %s invalid: %v", s, err)
		}
		if seen[s] {
			t.Fatalf("duplicate %s", s)
		}
		seen[s] = true
		firsts[s[0]] = true
	}
	if len(firsts) != 8 {
		t.Errorf("first digits seen: %d, want 8 (2–9)", len(firsts))
	}
	for _, c := range []struct {
		s    string
		want error
	}{
		{withCheck("483920175846293"), nil},
		{withCheck("083920175846293"), ErrFormat}, // leading 0
		{withCheck("183920175846293"), ErrFormat}, // leading 1
		{withCheck("48392017584629"), ErrFormat},  // 15 digits
		{"48392017584629x3", ErrFormat},
		{"", ErrFormat},
		{flipLast(withCheck("483920175846293")), ErrCheck},
		{withCheck("999999999999999"), ErrPattern},
		{withCheck("222222222222222"), ErrPattern},
		{withCheck("483921234846293"), ErrPattern}, // 1234
		{withCheck("483987654846293"), ErrPattern}, // 98765
		{withCheck("483920007846293"), ErrPattern}, // 000
		{withCheck("483920123846293"), ErrPattern}, // 0123
		{withCheck("483921238462935"), nil},        // 123 is allowed
	} {
		if err := Validate(c.s); !errors.Is(err, c.want) {
			t.Errorf("Validate(%q) = %v, want %v", c.s, err, c.want)
		}
	}
}

func TestKinds(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p, _ := New(Perpetual, now, 0)
	tmp, _ := New(Temporary, now, 0)
	one, _ := New(OneTime, now, 0)
	if _, err := New(Kind(9), now, 0); err == nil {
		t.Fatal("unknown kind accepted")
	}
	later := now.Add(10 * 365 * 24 * time.Hour)
	for _, c := range []struct {
		v    VID
		at   time.Time
		uses int
		want error
	}{
		{p, later, 1000, nil},
		{p, now.Add(-time.Second), 0, ErrNotValid},
		{tmp, now.Add(29 * time.Minute), 50, nil},
		{tmp, now.Add(30 * time.Minute), 0, ErrExpired},
		{one, now.Add(time.Minute), 0, nil},
		{one, now.Add(time.Minute), 1, ErrUsedUp},
		{one, now.Add(31 * time.Minute), 0, ErrExpired},
		{VID{Number: one.Number, Kind: OneTime, IssuedAt: now}, now, 0, ErrExpired},                  // no expiry set
		{VID{Number: one.Number, Kind: OneTime, IssuedAt: now, ExpiresAt: later}, now, 1, ErrUsedUp}, // MaxUses unset
		{VID{Number: "1234", Kind: Perpetual}, now, 0, ErrFormat},
	} {
		if err := c.v.Check(c.at, c.uses); !errors.Is(err, c.want) {
			t.Errorf("%v at %v uses %d: %v, want %v", c.v, c.at.Sub(now), c.uses, err, c.want)
		}
	}
	if tmp.ExpiresAt.Sub(now) != DefaultTemporaryTTL || one.MaxUses != 1 || !p.ExpiresAt.IsZero() {
		t.Errorf("defaults: %v %v %v", tmp.ExpiresAt, one.MaxUses, p.ExpiresAt)
	}
	t5, _ := New(Temporary, now, 5*time.Minute)
	if t5.Check(now.Add(6*time.Minute), 0) == nil {
		t.Error("custom TTL ignored")
	}
}

func TestMasked(t *testing.T) {
	v, _ := New(Temporary, time.Now(), 0)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("auth", "vid", v)
	for _, out := range []string{fmt.Sprint(v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), buf.String()} {
		if strings.Contains(out, v.Number[:12]) || !strings.Contains(out, v.Number[12:]) {
			t.Errorf("not masked: %s", out)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(withCheck("483920175846293"))
	f.Add("2363")
	f.Add("")
	f.Add("٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨") // non-ASCII digits
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate(s)
		_ = VerhoeffValid(s)
		if err != nil {
			return
		}
		if len(s) != Length || !allDigits(s) || s[0] < '2' || !VerhoeffValid(s) || hasPattern(s) {
			t.Fatalf("Validate accepted %q", s)
		}
		// Any single substitution of the accepted number is rejected.
		m := []byte(s)
		m[len(m)/2] = '0' + (m[len(m)/2]-'0'+1)%10
		if Validate(string(m)) == nil {
			t.Fatalf("substitution of %q accepted", s)
		}
	})
}
