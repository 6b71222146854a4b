package degrade

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func pixels(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGenerateIsDeterministicAndPrefixStable(t *testing.T) {
	a, err := Generate(42, 9, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(42, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Sample i depends only on (seed, i): a shorter set is a prefix.
	for i := range b {
		if a[i].Text != b[i].Text || a[i].Param != b[i].Param || !bytes.Equal(pixels(t, a[i].Image), pixels(t, b[i].Image)) {
			t.Fatalf("sample %d differs between set sizes", i)
		}
	}
	for i, s := range a {
		if s.Kind != Kinds[i%len(Kinds)] || s.Index != i {
			t.Errorf("sample %d: kind %s index %d", i, s.Kind, s.Index)
		}
		if len(s.Text) != 1200 || strings.Trim(s.Text, Base45Alphabet) != "" {
			t.Errorf("sample %d: text is not 1,200 Base45 characters", i)
		}
		if s.Level != "M" && s.Level != "Q" {
			t.Errorf("sample %d: level %q", i, s.Level)
		}
	}
	if a[8].Kind != Clean || a[7].Kind != Frame || a[7].Image.Bounds().Size() != image.Pt(1280, 720) {
		t.Errorf("kinds/frames: %s %s %v", a[8].Kind, a[7].Kind, a[7].Image.Bounds())
	}
	c, err := Generate(43, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c[0].Text == a[0].Text {
		t.Error("different seeds produced the same text")
	}
}

func TestRenderUsesAlphanumericMode(t *testing.T) {
	text := Text(rand.New(rand.NewPCG(1, 1)), 1200)
	// In alphanumeric mode 1,200 characters fit version 23 at level M
	// (109 modules + 2×4 quiet zone); byte mode would need version 31.
	g, err := Render(text, "M", 1)
	if err != nil {
		t.Fatal(err)
	}
	if g.Rect.Dx() != 117 {
		t.Fatalf("symbol is %d modules wide, want 117 (version 23)", g.Rect.Dx())
	}
	g3, err := Render(text, "Q", 3)
	if err != nil {
		t.Fatal(err)
	}
	if g3.Rect.Dx() != 3*137 {
		t.Fatalf("level Q symbol is %d px, want %d (version 28 at 3 px)", g3.Rect.Dx(), 3*137)
	}
	// Quiet zone white, finder-pattern corner black.
	if g3.GrayAt(0, 0).Y != 255 || g3.GrayAt(12, 12).Y != 0 {
		t.Error("quiet zone or finder pattern wrong")
	}
	if _, err := Render(text, "X", 3); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := Render("lower case is not alphanumeric but still encodes", "M", 0); err == nil {
		t.Error("modulePx 0 accepted")
	}
}

func TestHomographyMapsCorners(t *testing.T) {
	from := [4][2]float64{{0, 0}, {100, 0}, {100, 100}, {0, 100}}
	to := [4][2]float64{{10, 5}, {90, 12}, {95, 99}, {3, 80}}
	h, ok := homography(from, to)
	if !ok {
		t.Fatal("singular")
	}
	for i, p := range from {
		d := h[6]*p[0] + h[7]*p[1] + h[8]
		x, y := (h[0]*p[0]+h[1]*p[1]+h[2])/d, (h[3]*p[0]+h[4]*p[1]+h[5])/d
		if math.Hypot(x-to[i][0], y-to[i][1]) > 1e-9 {
			t.Errorf("corner %d -> (%.3f, %.3f), want %v", i, x, y, to[i])
		}
	}
	if _, ok := homography(from, [4][2]float64{}); ok {
		t.Error("degenerate target accepted")
	}
}

func TestTransformsPreserveInkAndSize(t *testing.T) {
	g, err := Render(Text(rand.New(rand.NewPCG(2, 2)), 300), "M", 4)
	if err != nil {
		t.Fatal(err)
	}
	mean := func(m *image.Gray) float64 {
		var s int
		for _, v := range m.Pix {
			s += int(v)
		}
		return float64(s) / float64(len(m.Pix))
	}
	w := g.Rect.Dx()
	r := Rotate(g, 45, 255)
	if want := int(math.Ceil(float64(w) * math.Sqrt2)); abs(r.Rect.Dx()-want) > 1 {
		t.Errorf("rotated width %d, want ~%d", r.Rect.Dx(), want)
	}
	if d := Resize(g, 0.5); d.Rect.Dx() != w/2 || math.Abs(mean(d)-mean(g)) > 2 {
		t.Errorf("resize: width %d mean %.1f vs %.1f", d.Rect.Dx(), mean(d), mean(g))
	}
	if b := GaussianBlur(g, 2); math.Abs(mean(b)-mean(g)) > 1 {
		t.Errorf("blur changed mean brightness %.1f -> %.1f", mean(g), mean(b))
	}
	k := KeystoneWarp(g, 0.3, 0)
	// The shortened top edge leaves white corners; the bottom edge stays.
	if k.GrayAt(2, 2).Y != 255 || k.Rect != g.Rect {
		t.Errorf("keystone: corner %d, rect %v", k.GrayAt(2, 2).Y, k.Rect)
	}
	n := image.NewGray(g.Rect)
	copy(n.Pix, g.Pix)
	AddNoise(n, rand.New(rand.NewPCG(3, 3)), 30)
	if bytes.Equal(n.Pix, g.Pix) {
		t.Error("noise changed nothing")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
