package qr

import (
	"bytes"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Alphanumeric capacities from the QR tables (ISO/IEC 18004), as listed in
// the spec digest.
var capacity = map[int][4]int{ // version -> L, M, Q, H
	10: {395, 311, 221, 174},
	15: {758, 600, 426, 321},
	20: {1249, 970, 702, 557},
	25: {1853, 1451, 1041, 779},
	40: {4296, 3391, 2420, 1852},
}

func text(n int) string {
	const b45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var s strings.Builder
	for i := range n {
		s.WriteByte(b45[(i*7+i/3)%len(b45)])
	}
	return s.String()
}

func TestLevelBySize(t *testing.T) {
	cases := []struct {
		n     int
		level Level
	}{
		{250, H},  // minimal credential
		{557, H},  // exactly V20-H
		{558, Q},  // one more
		{702, Q},  // exactly V20-Q
		{900, M},  // fits V20-M
		{1160, L}, // claim169-example size: > V20-M (970), <= V20-L (1249)
		{1480, L}, // refugee-identity size: larger than V20 at any level
		{4296, L},
	}
	for _, tc := range cases {
		c, err := New(text(tc.n))
		if err != nil {
			t.Fatalf("%d chars: %v", tc.n, err)
		}
		if c.Level() != tc.level {
			t.Errorf("%d chars: level %v, want %v (version %d)", tc.n, c.Level(), tc.level, c.Version())
		}
		if tc.level != L && c.Version() > DefaultMaxVersion {
			t.Errorf("%d chars: version %d above the bound", tc.n, c.Version())
		}
	}
}

// Text filling the alphanumeric capacity of version v at level l must come
// out as exactly v-l when bounded by v: a stronger level cannot fit, and
// byte mode would need a larger version.
func TestAlphanumericMode(t *testing.T) {
	for v, caps := range capacity {
		for l := L; l <= H; l++ {
			c, err := NewMaxVersion(text(caps[l]), v)
			if err != nil {
				t.Fatal(err)
			}
			if c.Level() != l || c.Version() != v {
				t.Errorf("%d chars bounded by V%d: got %v V%d, want %v V%d", caps[l], v, c.Level(), c.Version(), l, v)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	for _, s := range []string{"", "lowercase", "A\nB", "#", text(MaxTextLen + 1)} {
		if _, err := New(s); err == nil {
			t.Errorf("New(%.20q) succeeded", s)
		}
	}
	if _, err := NewMaxVersion("A", 41); err == nil {
		t.Error("version 41 accepted")
	}
}

func TestPNGMatchesBitmap(t *testing.T) {
	c, err := New(text(300))
	if err != nil {
		t.Fatal(err)
	}
	bm := c.Bitmap()
	if want := 17 + 4*c.Version() + 8; len(bm) != want {
		t.Fatalf("bitmap %d modules, want %d", len(bm), want)
	}
	const scale = 3
	b, err := c.PNG(scale)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != len(bm)*scale || img.Bounds().Dy() != len(bm)*scale {
		t.Fatalf("image %v, want %d px square", img.Bounds(), len(bm)*scale)
	}
	for y := range bm {
		for x := range bm[y] {
			r, _, _, _ := img.At(x*scale+1, y*scale+1).RGBA()
			if dark := r < 0x8000; dark != bm[y][x] {
				t.Fatalf("pixel for module (%d,%d) dark=%v, bitmap %v", x, y, dark, bm[y][x])
			}
		}
	}
	if _, err := c.PNG(0); err == nil {
		t.Error("scale 0 accepted")
	}
}

func TestSVGMatchesBitmap(t *testing.T) {
	c, err := New(text(500))
	if err != nil {
		t.Fatal(err)
	}
	bm := c.Bitmap()
	svg := string(c.SVG())
	n := strconv.Itoa(len(bm))
	if !strings.Contains(svg, `viewBox="0 0 `+n+` `+n+`"`) {
		t.Fatalf("viewBox missing: %.120s", svg)
	}
	got := make([][]bool, len(bm))
	for i := range got {
		got[i] = make([]bool, len(bm))
	}
	re := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	for _, m := range re.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		for i := range w {
			got[y][x+i] = true
		}
	}
	for y := range bm {
		for x := range bm[y] {
			if got[y][x] != bm[y][x] {
				t.Fatalf("module (%d,%d): svg %v, bitmap %v", x, y, got[y][x], bm[y][x])
			}
		}
	}
}
