package registry

import (
	"math/big"
	"testing"
)

func TestNormalizeSerial(t *testing.T) {
	for in, want := range map[string]string{"5f3a0c19": "5f3a0c19", "5F:3A:0C:19": "5f3a0c19", " 0x005F3A ": "5f3a", "01": "1"} {
		if got, err := NormalizeSerial(in); err != nil || got != want {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "00", "xyz", "-5", "5f 3a", "0x", "11111111111111111111111111111111111111111"} {
		if got, err := NormalizeSerial(in); err == nil {
			t.Errorf("NormalizeSerial(%q) = %q, accepted", in, got)
		}
	}
}

// FuzzNormalizeSerial: an accepted serial is positive hex of at most 40
// digits, in big.Int.Text(16) form (what the trust feed carries), and
// normalising it again changes nothing.
func FuzzNormalizeSerial(f *testing.F) {
	for _, s := range []string{"5f3a0c19", "5F:3A", "0x01", "", "-1", "ffffffffffffffffffffffffffffffffffffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeSerial(s)
		if err != nil {
			return
		}
		n, ok := new(big.Int).SetString(got, 16)
		if !ok || n.Sign() <= 0 || n.Text(16) != got || len(got) > 40 {
			t.Fatalf("%q → %q", s, got)
		}
		if again, err := NormalizeSerial(got); err != nil || again != got {
			t.Fatalf("%q → %q → %q, %v", s, got, again, err)
		}
	})
}
