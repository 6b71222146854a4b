package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"gzip": true, "GZIP": true, "br, gzip;q=0.5": true, "gzip; q=1": true, "deflate, gzip": true,
		"": false, "identity": false, "gzip;q=0": false, "gzip; q=0.0": false, "x-gzip2": false, "br": false,
	} {
		if got := AcceptsGzip(h); got != want {
			t.Errorf("AcceptsGzip(%q) = %v", h, got)
		}
	}
}

func TestReadBody(t *testing.T) {
	plain := []byte(strings.Repeat(`{"feed":"trust"}`, 100))
	for _, c := range []struct {
		enc  string
		wire []byte
	}{{"", plain}, {"identity", plain}, {"gzip", gz(t, plain)}, {" GZIP ", gz(t, plain)}} {
		got, wire, err := ReadBody(bytes.NewReader(c.wire), c.enc, 1<<20)
		if err != nil || !bytes.Equal(got, plain) || wire != int64(len(c.wire)) {
			t.Errorf("%q: %d bytes, wire %d, %v", c.enc, len(got), wire, err)
		}
	}
	// A zip bomb: 64 MiB of zeros in ≈ 64 KiB, read against a 1 MiB limit,
	// stops at the limit.
	bomb := gz(t, make([]byte, 64<<20))
	if _, _, err := ReadBody(bytes.NewReader(bomb), "gzip", 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zip bomb: %v", err)
	}
	// Over the limit on the wire, uncompressed.
	if _, _, err := ReadBody(bytes.NewReader(plain), "", 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large plain body: %v", err)
	}
	// Exactly at the limit is fine.
	if _, _, err := ReadBody(bytes.NewReader(plain), "", int64(len(plain))); err != nil {
		t.Fatalf("body at the limit: %v", err)
	}
	z := gz(t, plain)
	for name, c := range map[string]struct {
		enc  string
		wire []byte
	}{
		"unknown encoding": {"br", plain},
		"not gzip":         {"gzip", plain},
		"truncated":        {"gzip", z[:len(z)-10]},
		"bad checksum":     {"gzip", append(append([]byte(nil), z[:len(z)-8]...), 0, 0, 0, 0, 0, 0, 0, 0)},
	} {
		if _, _, err := ReadBody(bytes.NewReader(c.wire), c.enc, 1<<20); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Two concatenated gzip members are not read as one batch.
	two := append(gz(t, []byte("{}")), gz(t, []byte(`{"x":1}`))...)
	if got, _, err := ReadBody(bytes.NewReader(two), "gzip", 1<<20); err == nil && string(got) != "{}" {
		t.Errorf("second gzip member read: %q", got)
	}
}

// FuzzReadBody: any bytes under gzip are decompressed within the limit or
// refused, never more than the limit returned.
func FuzzReadBody(f *testing.F) {
	f.Add(gz(f, []byte(`{"feed":"trust","after":0,"entries":[]}`)), true)
	f.Add([]byte(`{"feed":"trust"}`), false)
	f.Add(gz(f, make([]byte, 10000)), true)
	f.Fuzz(func(t *testing.T, wire []byte, compressed bool) {
		enc := ""
		if compressed {
			enc = "gzip"
		}
		const max = 4096
		b, n, err := ReadBody(bytes.NewReader(wire), enc, max)
		if n > max+1 {
			t.Fatalf("read %d wire bytes past a %d limit", n, max)
		}
		if err == nil && len(b) > max {
			t.Fatalf("returned %d bytes over a %d limit", len(b), max)
		}
	})
}
