package face

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgetrust/edgetrust/sbi/iso"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// Tolerances of the golden parity test. The Go passes use float32 like
// TF.js but another summation order (and FMA), so values differ at the
// float32 rounding level; the floors in face-api's box handling make the
// crops integer and so equal.
const (
	tolDescriptor = 1e-5 // per descriptor value (the bound)
	tolScore      = 1e-5 // detector score
	tolBox        = 1e-3 // detector box, pixels
	tolLandmark   = 1e-2 // landmark coordinates, pixels
)

type goldenFace struct {
	Score      float64   `json:"score"`
	Box        []float64 `json:"box"`
	Landmarks  []float64 `json:"landmarks"`
	Aligned    []int     `json:"aligned"`
	Descriptor []float64 `json:"descriptor"`
}

type golden struct {
	Generator      string  `json:"generator"`
	FaceAPI        string  `json:"faceapi"`
	TFJS           string  `json:"tfjs"`
	Backend        string  `json:"backend"`
	InputSize      int     `json:"inputSize"`
	ScoreThreshold float64 `json:"scoreThreshold"`
	Images         []struct {
		Name   string       `json:"name"`
		Width  int          `json:"width"`
		Height int          `json:"height"`
		Faces  []goldenFace `json:"faces"`
	} `json:"images"`
}

func readGolden(t testing.TB, b []byte) *golden {
	t.Helper()
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

type testImage struct {
	name string
	img  image.Image
}

var (
	imagesOnce sync.Once
	images     []testImage
	imagesErr  error
)

// testImages are the parity inputs: face-api's six sample photos and the
// two MOSIP mock face records (JPEG 2000 inside ISO/IEC 19794-5).
func testImages(t testing.TB) []testImage {
	t.Helper()
	imagesOnce.Do(func() {
		for i := 1; i <= 6; i++ {
			name := fmt.Sprintf("sample%d", i)
			b, err := os.ReadFile(filepath.Join("testdata", "images", name+".jpg"))
			if err != nil {
				imagesErr = err
				return
			}
			img, err := DecodeImage(b)
			if err != nil {
				imagesErr = fmt.Errorf("%s: %w", name, err)
				return
			}
			images = append(images, testImage{name, img})
		}
		for _, name := range []string{"Face_Auth", "Face_Registration"} {
			img, err := isoImage(name)
			if err != nil {
				imagesErr = fmt.Errorf("%s: %w", name, err)
				return
			}
			images = append(images, testImage{name, img})
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return images
}

func isoImage(name string) (image.Image, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "mosip", name+".iso"))
	if err != nil {
		return nil, err
	}
	rec, err := iso.Parse(b)
	if err != nil {
		return nil, err
	}
	if rec.Modality != iso.Face || len(rec.Representations) != 1 {
		return nil, fmt.Errorf("not a one-face record")
	}
	return DecodeImage(rec.Image(b, 0))
}

var (
	modelOnce sync.Once
	model     *Model
	modelErr  error
)

func testModel(t testing.TB) *Model {
	t.Helper()
	modelOnce.Do(func() { model, modelErr = Load() })
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return model
}

// TestGoldenParity compares the Go pipeline with face-api's own TF.js run
// (testdata/golden/golden.json, from gen.mjs) on the same pixels.
func TestGoldenParity(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t, b)
	m := testModel(t)
	if g.InputSize != m.Options().InputSize || g.ScoreThreshold != m.Options().ScoreThreshold {
		t.Fatalf("goldens made with input %d, threshold %v; model defaults %+v", g.InputSize, g.ScoreThreshold, m.Options())
	}
	imgs := testImages(t)
	if len(g.Images) != len(imgs) {
		t.Fatalf("%d golden images, %d test images", len(g.Images), len(imgs))
	}
	faces := 0
	for i, gi := range g.Images {
		ti := imgs[i]
		if gi.Name != ti.name || gi.Width != ti.img.Bounds().Dx() || gi.Height != ti.img.Bounds().Dy() {
			t.Fatalf("golden %s %dx%d vs test image %s %v", gi.Name, gi.Width, gi.Height, ti.name, ti.img.Bounds())
		}
		dets, err := m.Detect(ti.img)
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) != len(gi.Faces) {
			t.Fatalf("%s: %d faces, face-api found %d", gi.Name, len(dets), len(gi.Faces))
		}
		for j, gf := range gi.Faces {
			d := &dets[j]
			where := fmt.Sprintf("%s face %d", gi.Name, j)
			if e := math.Abs(d.Score - gf.Score); e > tolScore {
				t.Errorf("%s: score %v, face-api %v", where, d.Score, gf.Score)
			}
			for k, v := range []float64{d.Box.X, d.Box.Y, d.Box.W, d.Box.H} {
				if e := math.Abs(v - gf.Box[k]); e > tolBox {
					t.Errorf("%s: box[%d] = %v, face-api %v", where, k, v, gf.Box[k])
				}
			}
			for k := 0; k < 68; k++ {
				if e := math.Max(math.Abs(d.Landmarks[k].X-gf.Landmarks[2*k]), math.Abs(d.Landmarks[k].Y-gf.Landmarks[2*k+1])); e > tolLandmark {
					t.Errorf("%s: landmark %d = %v, face-api (%v, %v)", where, k, d.Landmarks[k], gf.Landmarks[2*k], gf.Landmarks[2*k+1])
				}
			}
			want := image.Rect(gf.Aligned[0], gf.Aligned[1], gf.Aligned[0]+gf.Aligned[2], gf.Aligned[1]+gf.Aligned[3])
			if d.Aligned != want {
				t.Errorf("%s: aligned crop %v, face-api %v", where, d.Aligned, want)
			}
			desc, err := m.DescriptorAt(ti.img, d)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for k, v := range desc {
				worst = math.Max(worst, math.Abs(float64(v)-gf.Descriptor[k]))
			}
			if worst > tolDescriptor {
				t.Errorf("%s: descriptor differs from face-api's by up to %g", where, worst)
			}
			t.Logf("%s: descriptor max |diff| %.2g", where, worst)
			faces++
		}
	}
	if faces < 10 {
		t.Fatalf("only %d faces compared", faces)
	}
}

func requireNode(t *testing.T) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs("testdata/golden")
	node = testtool.Node(t, dir, "@vladmandic/face-api/package.json",
		"scripts/install-deps.sh (npm ci --ignore-scripts --prefix internal/biometric/face/testdata/golden)")
	return node, dir
}

// TestGoldenRegenerate reruns gen.mjs on the test images and checks its
// output equals the committed goldens. With EDGETRUST_UPDATE_GOLDENS=1 it
// rewrites them instead.
func TestGoldenRegenerate(t *testing.T) {
	node, dir := requireNode(t)
	tmp := t.TempDir()
	type input struct {
		Name   string `json:"name"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		RGB    string `json:"rgb"`
	}
	var list []input
	for _, ti := range testImages(t) {
		px, err := toRGB(ti.img)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, ti.name+".rgb"), px.pix, 0o600); err != nil {
			t.Fatal(err)
		}
		list = append(list, input{ti.name, px.w, px.h, ti.name + ".rgb"})
	}
	j, _ := json.Marshal(list)
	if err := os.WriteFile(filepath.Join(tmp, "inputs.json"), j, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "gen.mjs"), filepath.Join(tmp, "inputs.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gen.mjs: %v\n%s", err, stderr.String())
	}
	if os.Getenv("EDGETRUST_UPDATE_GOLDENS") == "1" {
		if err := os.WriteFile(filepath.Join(dir, "golden.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote testdata/golden/golden.json")
		return
	}
	committed, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, committed) {
		a, b := readGolden(t, out), readGolden(t, committed)
		t.Fatalf("regenerated goldens differ from the committed ones (%d vs %d images); rerun with EDGETRUST_UPDATE_GOLDENS=1 if face-api or the inputs changed on purpose", len(a.Images), len(b.Images))
	}
	g := readGolden(t, out)
	if g.FaceAPI != "1.7.15" || g.TFJS != "4.22.0" || g.Backend != "wasm" {
		t.Fatalf("goldens from face-api %s, tfjs %s, backend %s", g.FaceAPI, g.TFJS, g.Backend)
	}
}

// TestModelMatchesNPM checks the embedded weights are byte for byte the
// npm package's.
func TestModelMatchesNPM(t *testing.T) {
	_, dir := requireNode(t)
	ents, err := embedded.ReadDir("model")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".bin") && !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		ours, _ := embedded.ReadFile("model/" + e.Name())
		theirs, err := os.ReadFile(filepath.Join(dir, "node_modules", "@vladmandic", "face-api", "model", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("model/%s differs from the npm package's", e.Name())
		}
		n++
	}
	if n != 6 {
		t.Fatalf("%d model files compared, want 6", n)
	}
}

// TestMOSIPFaceRecords decodes the MOSIP mock face records (19794-5,
// colour JPEG 2000) and finds the one face in each; the two are the same
// capture, lossless and lossy, so they must match.
func TestMOSIPFaceRecords(t *testing.T) {
	m := testModel(t)
	var ds []Descriptor
	for _, name := range []string{"Face_Auth", "Face_Registration"} {
		img, err := isoImage(name)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != image.Rect(0, 0, 240, 320) {
			t.Fatalf("%s: %v", name, img.Bounds())
		}
		// Colour, not grey replicated: a skin-and-wall photo has R > B.
		var rb int
		for y := 0; y < 320; y += 4 {
			for x := 0; x < 240; x += 4 {
				r, _, b, _ := img.At(x, y).RGBA()
				if r > b+0x800 {
					rb++
				}
			}
		}
		if rb < 1000 {
			t.Errorf("%s: only %d of 4800 sampled pixels redder than blue; colour lost?", name, rb)
		}
		d, det, err := m.Descriptor(img)
		if err != nil {
			t.Fatal(err)
		}
		if det.Aligned.Dx() < 100 {
			t.Errorf("%s: aligned crop %v", name, det.Aligned)
		}
		ds = append(ds, d)
	}
	if dist := Distance(ds[0], ds[1]); !(dist < 0.3) {
		t.Errorf("same capture, lossy vs lossless: distance %v", dist)
	}
}

func TestDescriptorErrors(t *testing.T) {
	m := testModel(t)
	grey := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range grey.Pix {
		grey.Pix[i] = 128
	}
	if _, _, err := m.Descriptor(grey); !errors.Is(err, ErrNoFace) {
		t.Errorf("blank image: %v, want ErrNoFace", err)
	}
	imgs := testImages(t)
	if _, _, err := m.Descriptor(imgs[0].img); !errors.Is(err, ErrManyFaces) {
		t.Errorf("group photo: %v, want ErrManyFaces", err)
	}
	strict, err := m.WithOptions(Options{MinFaceSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	if _, det, err := strict.Descriptor(imgs[6].img); !errors.Is(err, ErrFaceTooSmall) || det == nil {
		t.Errorf("portrait with MinFaceSize 400: %v, want ErrFaceTooSmall with the detection", err)
	}
	if _, _, err := m.Descriptor(hugeImage{}); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("huge image: %v, want ErrImageTooLarge", err)
	}
	if _, _, err := m.Descriptor(image.NewRGBA(image.Rectangle{})); !errors.Is(err, ErrImageEmpty) {
		t.Errorf("empty image: %v, want ErrImageEmpty", err)
	}
	if _, _, err := m.Descriptor(nil); !errors.Is(err, ErrImageEmpty) {
		t.Errorf("nil image: %v, want ErrImageEmpty", err)
	}
	for _, o := range []Options{{InputSize: 100}, {InputSize: 640}, {ScoreThreshold: 1.5}, {MinFaceSize: -1}} {
		if _, err := m.WithOptions(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// hugeImage claims 8192 x 8192 pixels and holds none.
type hugeImage struct{}

func (hugeImage) ColorModel() color.Model { return color.RGBAModel }
func (hugeImage) Bounds() image.Rectangle { return image.Rect(0, 0, 8192, 8192) }
func (hugeImage) At(x, y int) color.Color { return color.RGBA{} }

func TestDecodeImageBounds(t *testing.T) {
	// A real JPEG whose frame header is patched to claim 10000 x 10000.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	b[i+5], b[i+6], b[i+7], b[i+8] = 0x27, 0x10, 0x27, 0x10
	if _, err := DecodeImage(b); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("10000x10000 JPEG: %v, want ErrImageTooLarge", err)
	}
	for _, bad := range [][]byte{nil, {0xff, 0xd8}, []byte("not an image at all"), {0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a}} {
		if _, err := DecodeImage(bad); err == nil {
			t.Errorf("DecodeImage(%q) accepted", bad)
		}
	}
}

func TestDistance(t *testing.T) {
	var a, b Descriptor
	if Distance(a, a) != 0 {
		t.Fatal("distance to itself")
	}
	b[0], b[1] = 0.3, 0.4
	if d := Distance(a, b); math.Abs(float64(d)-0.5) > 1e-7 || Distance(b, a) != d {
		t.Fatalf("Distance = %v, want 0.5 both ways", d)
	}
	if !Match(a, b, 0) || Match(a, b, 0.5) || !Match(a, b, 0.51) {
		t.Fatal("Match threshold handling")
	}
}

func TestDescriptorEncoding(t *testing.T) {
	m := testModel(t)
	d, _, err := m.Descriptor(testImages(t)[6].img)
	if err != nil {
		t.Fatal(err)
	}
	enc := m.MarshalDescriptor(d)
	if len(enc) != EncodedSize {
		t.Fatalf("%d bytes", len(enc))
	}
	got, err := m.UnmarshalDescriptor(enc)
	if err != nil || got != d {
		t.Fatalf("round trip: %v", err)
	}
	other := Tag{1, 2, 3}
	if _, err := m.UnmarshalDescriptor(encodeDescriptor(other, d)); !errors.Is(err, ErrDescriptorModel) {
		t.Errorf("other model's descriptor: %v", err)
	}
	if _, tag, err := ParseDescriptor(encodeDescriptor(other, d)); err != nil || tag != other {
		t.Errorf("ParseDescriptor: %v %x", err, tag)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), enc...)) }
	for name, b := range map[string][]byte{
		"short":   enc[:EncodedSize-1],
		"long":    append(append([]byte(nil), enc...), 0),
		"magic":   mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version": mut(func(b []byte) []byte { b[2] = 2; return b }),
		"nan":     mut(func(b []byte) []byte { copy(b[11:], []byte{0, 0, 0xc0, 0x7f}); return b }),
		"big":     mut(func(b []byte) []byte { copy(b[11:], []byte{0, 0, 0x20, 0x41}); return b }), // 10.0
	} {
		if _, err := m.UnmarshalDescriptor(b); !errors.Is(err, ErrDescriptorFormat) {
			t.Errorf("%s: %v, want ErrDescriptorFormat", name, err)
		}
	}
}

// TestLoadFS loads the model from a directory and checks a broken copy is
// refused with an error.
func TestLoadFS(t *testing.T) {
	m := testModel(t)
	dir := t.TempDir()
	ents, _ := embedded.ReadDir("model")
	for _, e := range ents {
		b, _ := embedded.ReadFile("model/" + e.Name())
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m2, err := LoadFS(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if m2.Tag() != m.Tag() {
		t.Fatal("tag differs for the same files")
	}
	bin := filepath.Join(dir, "face_recognition_model.bin")
	b, _ := os.ReadFile(bin)
	if err := os.WriteFile(bin, b[:len(b)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFS(os.DirFS(dir)); err == nil {
		t.Fatal("truncated weights accepted")
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFS(os.DirFS(dir)); err == nil {
		t.Fatal("missing weights accepted")
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		b    box
		want image.Rectangle
	}{
		{box{10.7, 20.2, 30.9, 40.5}, image.Rect(10, 20, 40, 60)}, // x and width floored apart, as face-api does
		{box{-5, -5, 20, 20}, image.Rect(0, 0, 15, 15)},
		{box{90, 90, 50, 50}, image.Rect(90, 90, 100, 100)},
		{box{-50, 10, 20, 20}, image.Rectangle{}}, // entirely left of the image
		{box{150, 10, 20, 20}, image.Rectangle{}}, // entirely right
		{box{10, 10, 0.5, 20}, image.Rectangle{}}, // under a pixel wide
		{box{math.NaN(), 10, 20, 20}, image.Rectangle{}},
		{box{10, 10, math.Inf(1), 20}, image.Rect(10, 10, 100, 30)},
	} {
		if got := c.b.clip(100, 100); got != c.want {
			t.Errorf("clip(%+v) = %v, want %v", c.b, got, c.want)
		}
	}
}
