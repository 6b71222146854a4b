package face

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"sort"
	"strings"
	"testing"
)

// halfJPEG is img at half size (2x2 box filter), re-encoded as JPEG
// quality 75: a perturbed copy of the same capture.
func halfJPEG(t testing.TB, img image.Image) image.Image {
	px, err := toRGB(img)
	if err != nil {
		t.Fatal(err)
	}
	w, h := px.w/2, px.h/2
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				s := 0
				for _, o := range [4][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
					s += int(px.pix[((2*y+o[0])*px.w+2*x+o[1])*3+c])
				}
				out.Pix[(y*w+x)*4+c] = uint8((s + 2) / 4)
			}
			out.Pix[(y*w+x)*4+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeImage(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func stats(v []float64) string {
	sort.Float64s(v)
	var s float64
	for _, x := range v {
		s += x
	}
	q := func(p float64) float64 { return v[int(p*float64(len(v)-1)+0.5)] }
	return fmt.Sprintf("n=%d min=%.3f p05=%.3f median=%.3f mean=%.3f p95=%.3f max=%.3f", len(v), v[0], q(0.05), q(0.5), s/float64(len(v)), q(0.95), v[len(v)-1])
}

// TestDistanceDistribution reports genuine and impostor distances on the
// face data we can ship (see docs/performance.md for what it is and is
// not). Impostors: every pair of the 20 faces in face-api's sample photos
// (different people). Genuine: each of those faces against itself in a
// half-size JPEG re-encode of its photo, and the two MOSIP records (one
// capture, lossless vs lossy). It checks the two sets do not overlap;
// they do overlap the default threshold (see the log).
func TestDistanceDistribution(t *testing.T) {
	m := testModel(t)
	imgs := testImages(t)
	var faces []Descriptor
	var genuine, impostor []float64
	for _, ti := range imgs[:6] {
		dets, err := m.Detect(ti.img)
		if err != nil {
			t.Fatal(err)
		}
		small := halfJPEG(t, ti.img)
		sdets, err := m.Detect(small)
		if err != nil {
			t.Fatal(err)
		}
		for i := range dets {
			d, err := m.DescriptorAt(ti.img, &dets[i])
			if err != nil {
				t.Fatal(err)
			}
			faces = append(faces, d)
			// The same face in the half-size copy: best box overlap.
			best, bi := 0.0, -1
			b := dets[i].Box
			for j := range sdets {
				sb := sdets[j].Box
				if o := iou(box{b.X / 2, b.Y / 2, b.W / 2, b.H / 2}, box{sb.X, sb.Y, sb.W, sb.H}); o > best {
					best, bi = o, j
				}
			}
			if best < 0.5 {
				t.Logf("%s face %d: not found in the half-size copy", ti.name, i)
				continue
			}
			sd, err := m.DescriptorAt(small, &sdets[bi])
			if err != nil {
				t.Fatal(err)
			}
			genuine = append(genuine, float64(Distance(d, sd)))
		}
	}
	for i := range faces {
		for j := i + 1; j < len(faces); j++ {
			impostor = append(impostor, float64(Distance(faces[i], faces[j])))
		}
	}
	a, _, err := m.Descriptor(imgs[6].img)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := m.Descriptor(imgs[7].img)
	if err != nil {
		t.Fatal(err)
	}
	mosip := float64(Distance(a, b))
	genuine = append(genuine, mosip)
	if len(faces) != 20 || len(genuine) < 15 {
		t.Fatalf("%d faces, %d genuine pairs", len(faces), len(genuine))
	}
	gs, is := stats(append([]float64(nil), genuine...)), stats(append([]float64(nil), impostor...))
	t.Logf("genuine (perturbed copies + MOSIP pair %.3f): %s", mosip, gs)
	t.Logf("impostor (20 different people, all pairs): %s", is)
	var hist strings.Builder
	for lo := 0.0; lo < 1.2; lo += 0.1 {
		var g, im int
		for _, v := range genuine {
			if v >= lo && v < lo+0.1 {
				g++
			}
		}
		for _, v := range impostor {
			if v >= lo && v < lo+0.1 {
				im++
			}
		}
		fmt.Fprintf(&hist, "\n  [%.1f, %.1f): genuine %3d  impostor %3d", lo, lo+0.1, g, im)
	}
	t.Logf("histogram:%s", hist.String())
	fm, fnm := 0, 0
	for _, v := range impostor {
		if v < DefaultThreshold {
			fm++
		}
	}
	for _, v := range genuine {
		if v >= DefaultThreshold {
			fnm++
		}
	}
	t.Logf("at threshold %.2f: %d of %d impostor pairs match (FMR %.3f), %d of %d genuine pairs do not (FNMR %.3f)",
		DefaultThreshold, fm, len(impostor), float64(fm)/float64(len(impostor)), fnm, len(genuine), float64(fnm)/float64(len(genuine)))
	// What this tiny set can show: perturbed copies of one capture stay far
	// closer than any two different people, and no copy is lost at 0.6.
	maxG, minI := slicesMax(genuine), slicesMin(impostor)
	if !(maxG < minI) || fnm != 0 {
		t.Errorf("genuine max %.3f, impostor min %.3f, %d genuine pairs over %.2f", maxG, minI, fnm, DefaultThreshold)
	}
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func slicesMin(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}
