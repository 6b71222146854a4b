package tokenid

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

var key = bytes.Repeat([]byte{7}, 32)

func TestStableAndUnlinkable(t *testing.T) {
	d, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for u := range 100 {
		uin := fmt.Sprintf("%010d", 5000000000+u)
		for _, rp := range []string{"bank-a", "bank-b", "telco"} {
			a, err := d.Decimal(uin, rp)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := d.Decimal(uin, rp)
			if a != b {
				t.Fatal("not stable for one RP")
			}
			if len(a) != DecimalLen {
				t.Fatalf("length %d", len(a))
			}
			for _, c := range a {
				if c < '0' || c > '9' {
					t.Fatalf("non-digit in %s", a)
				}
			}
			if prev, dup := seen[a]; dup {
				t.Fatalf("collision: %s and %s/%s", prev, uin, rp)
			}
			seen[a] = uin + "/" + rp
		}
	}
	// The same person at two RPs: the tokens share no more than chance.
	a, _ := d.Sum("5000000001", "bank-a")
	b, _ := d.Sum("5000000001", "bank-b")
	diff := 0
	for i := range a {
		for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
			diff++
		}
	}
	if diff < 80 || diff > 176 { // 256 bits, expect ~128
		t.Errorf("bits differing between RPs: %d", diff)
	}
	// Another key gives other tokens.
	d2, _ := New(bytes.Repeat([]byte{8}, 32))
	x, _ := d.Base32("5000000001", "bank-a")
	y, _ := d2.Base32("5000000001", "bank-a")
	if x == y || len(x) != 52 {
		t.Errorf("base32 %q %q", x, y)
	}
}

// Known answer: the construction is exactly HMAC-SHA256(key, UIN||0||RP),
// and the separator keeps ("ab","c") and ("a","bc") apart.
func TestConstruction(t *testing.T) {
	d, _ := New(key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("123\x00rp"))
	got, _ := d.Sum("123", "rp")
	if !bytes.Equal(got, m.Sum(nil)) {
		t.Fatalf("Sum = %s", hex.EncodeToString(got))
	}
	a, _ := d.Sum("ab", "c")
	b, _ := d.Sum("a", "bc")
	if bytes.Equal(a, b) {
		t.Fatal("ambiguous concatenation")
	}
}

func TestBounds(t *testing.T) {
	if _, err := New(make([]byte, 31)); !errors.Is(err, ErrKey) {
		t.Fatal(err)
	}
	d, _ := New(key)
	for _, c := range [][2]string{{"", "rp"}, {"u", ""}, {"u\x00x", "rp"}, {"u", "r\x00p"}, {string(make([]byte, 257)), "rp"}} {
		if _, err := d.Decimal(c[0], c[1]); !errors.Is(err, ErrInput) {
			t.Errorf("%q: %v", c, err)
		}
	}
}
