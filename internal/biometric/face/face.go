package face

import (
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"sort"
	"sync"
)

//go:embed model/*.json model/*.bin
var embedded embed.FS

// Errors from Descriptor. Callers match them with errors.Is.
var (
	ErrNoFace        = errors.New("face: no face found")
	ErrManyFaces     = errors.New("face: more than one face found")
	ErrFaceTooSmall  = errors.New("face: face too small")
	ErrImageTooLarge = errors.New("face: image too large")
	ErrImageEmpty    = errors.New("face: image has no pixels")
)

// MaxPixels bounds the images accepted (16 Mpixel): larger than any ISO
// 19794-5 portrait, small enough that a hostile header cannot make us
// allocate gigabytes.
const MaxPixels = 4096 * 4096

// DefaultThreshold is face-api's (and dlib's) distance below which two
// descriptors are taken to be the same person.
const DefaultThreshold = 0.6

// Options tune the pipeline. The zero value of a field means its default.
type Options struct {
	// InputSize is the detector's input side, a multiple of 32 in
	// [128, 608]; default 416, face-api's. Smaller is faster and misses
	// small faces.
	InputSize int
	// ScoreThreshold is the detector score a face needs; default 0.5.
	ScoreThreshold float64
	// MinFaceSize is the smallest side, in pixels, of the aligned crop the
	// descriptor is computed from; default 64. The network sees 150 x 150:
	// much smaller crops are mostly upsampling blur.
	MinFaceSize int
}

func (o Options) withDefaults() (Options, error) {
	if o.InputSize == 0 {
		o.InputSize = 416
	}
	if o.InputSize%32 != 0 || o.InputSize < 128 || o.InputSize > 608 {
		return o, fmt.Errorf("face: detector input size %d is not a multiple of 32 in [128, 608]", o.InputSize)
	}
	if o.ScoreThreshold == 0 {
		o.ScoreThreshold = 0.5
	}
	if !(o.ScoreThreshold > 0 && o.ScoreThreshold < 1) {
		return o, fmt.Errorf("face: score threshold %v not in (0, 1)", o.ScoreThreshold)
	}
	if o.MinFaceSize == 0 {
		o.MinFaceSize = 64
	}
	if o.MinFaceSize < 1 {
		return o, fmt.Errorf("face: minimum face size %d", o.MinFaceSize)
	}
	return o, nil
}

// Model holds the three networks' weights; it is safe for concurrent use.
type Model struct {
	nets *nets
	opts Options
}

type nets struct {
	det  *detectorNet
	lm   *landmarkNet
	rec  *recogNet
	tag  Tag
	pool sync.Pool // *arena
}

// Tag names the descriptor model: the first 8 bytes of the SHA-256 of the
// recognition network's manifest and weights. Descriptors from different
// models are not comparable, so encoded descriptors carry it.
type Tag [8]byte

// Load returns the model built into the binary (face-api 1.7.15's
// TinyFaceDetector, FaceLandmark68Net and FaceRecognitionNet).
func Load() (*Model, error) {
	sub, err := fs.Sub(embedded, "model")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub)
}

var (
	loadOnce sync.Once
	loaded   *Model
	loadErr  error
)

// Default returns one shared embedded model, loading it on first use.
func Default() (*Model, error) {
	loadOnce.Do(func() { loaded, loadErr = Load() })
	return loaded, loadErr
}

// LoadFS reads the three manifests and their shards from the root of fsys
// (os.DirFS(dir) for a directory laid out like face-api's model/).
func LoadFS(fsys fs.FS) (*Model, error) {
	read := func(name string) (weightMap, []byte, error) {
		man, err := readBounded(fsys, name+"-weights_manifest.json", maxManifestBytes)
		if err != nil {
			return nil, nil, err
		}
		var raw []byte
		w, err := parseWeights(man, func(p string) ([]byte, error) {
			if !fs.ValidPath(p) {
				return nil, fmt.Errorf("invalid path")
			}
			b, err := readBounded(fsys, p, maxWeightsBytes)
			raw = append(raw, b...)
			return b, err
		})
		return w, append(man, raw...), err
	}
	n := &nets{}
	w, _, err := read("tiny_face_detector_model")
	if err != nil {
		return nil, err
	}
	if n.det, err = loadDetector(w); err != nil {
		return nil, err
	}
	if w, _, err = read("face_landmark_68_model"); err != nil {
		return nil, err
	}
	if n.lm, err = loadLandmarks(w); err != nil {
		return nil, err
	}
	w, all, err := read("face_recognition_model")
	if err != nil {
		return nil, err
	}
	if n.rec, err = loadRecognition(w); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(all)
	copy(n.tag[:], sum[:])
	o, _ := Options{}.withDefaults()
	return &Model{nets: n, opts: o}, nil
}

func readBounded(fsys fs.FS, name string, max int64) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("face: %s is %d bytes, more than %d", name, st.Size(), max)
	}
	return fs.ReadFile(fsys, name)
}

// WithOptions returns a model sharing m's weights with other options.
func (m *Model) WithOptions(o Options) (*Model, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Model{nets: m.nets, opts: o}, nil
}

// Options returns the options in force, defaults filled in.
func (m *Model) Options() Options { return m.opts }

// Tag names the descriptor model.
func (m *Model) Tag() Tag { return m.nets.tag }

// Point is a position in image pixels.
type Point struct{ X, Y float64 }

// Rect is a box in image pixels.
type Rect struct{ X, Y, W, H float64 }

// Detection is one face found in an image.
type Detection struct {
	Score float64
	// Box is the detector's box.
	Box Rect
	// Landmarks are the 68 points of the iBUG 300-W scheme (jaw 0-16,
	// brows 17-26, nose 27-35, eyes 36-47, mouth 48-67).
	Landmarks [68]Point
	// Aligned is the crop the descriptor is computed from: face-api's dlib
	// alignment (a square around the eyes and mouth), clipped to the image.
	Aligned image.Rectangle
}

// Descriptor is the 128-d face descriptor.
type Descriptor [128]float32

// Distance is the Euclidean distance between two descriptors.
func Distance(a, b Descriptor) float32 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return float32(math.Sqrt(s))
}

// Match reports whether a and b are within threshold (DefaultThreshold
// when threshold <= 0).
func Match(a, b Descriptor, threshold float32) bool {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	return Distance(a, b) < threshold
}

// Detect finds the faces in img with their landmarks and aligned crops,
// best score first.
func (m *Model) Detect(img image.Image) ([]Detection, error) {
	px, err := toRGB(img)
	if err != nil {
		return nil, err
	}
	a := m.arena()
	defer m.nets.pool.Put(a)
	return m.detectAll(a, px), nil
}

// Descriptor finds the one face in img and returns its descriptor. It
// fails with ErrNoFace, ErrManyFaces or ErrFaceTooSmall (wrapped, with
// detail) rather than guess.
func (m *Model) Descriptor(img image.Image) (Descriptor, *Detection, error) {
	px, err := toRGB(img)
	if err != nil {
		return Descriptor{}, nil, err
	}
	a := m.arena()
	defer m.nets.pool.Put(a)
	dets := m.detectAll(a, px)
	switch {
	case len(dets) == 0:
		return Descriptor{}, nil, ErrNoFace
	case len(dets) > 1:
		return Descriptor{}, nil, fmt.Errorf("%w: %d faces with score over %v", ErrManyFaces, len(dets), m.opts.ScoreThreshold)
	}
	d := &dets[0]
	if s := min(d.Aligned.Dx(), d.Aligned.Dy()); s < m.opts.MinFaceSize {
		return Descriptor{}, d, fmt.Errorf("%w: aligned crop %d px, need %d", ErrFaceTooSmall, s, m.opts.MinFaceSize)
	}
	return m.describe(a, px, d.Aligned), d, nil
}

// DescriptorAt computes the descriptor of a face Detect found in img.
func (m *Model) DescriptorAt(img image.Image, d *Detection) (Descriptor, error) {
	px, err := toRGB(img)
	if err != nil {
		return Descriptor{}, err
	}
	r := d.Aligned.Intersect(image.Rect(0, 0, px.w, px.h))
	if r.Empty() {
		return Descriptor{}, fmt.Errorf("%w: aligned crop %v outside the image", ErrNoFace, d.Aligned)
	}
	a := m.arena()
	defer m.nets.pool.Put(a)
	return m.describe(a, px, r), nil
}

func (m *Model) arena() *arena {
	if a, ok := m.nets.pool.Get().(*arena); ok {
		return a
	}
	return &arena{}
}

// ---- the pipeline, step for step as face-api runs it on a tensor ----

// box is face-api's Box: x, y, width, height in float64.
type box struct{ x, y, w, h float64 }

func (b box) scale(sx, sy float64) box { return box{b.x * sx, b.y * sy, b.w * sx, b.h * sy} }

// roundTrip is face-api's relativeBox-then-rescale, which it does each
// time a detection is rebuilt; it can move the last bit, so we repeat it.
func (b box) roundTrip(w, h float64) box { return b.scale(1/w, 1/h).scale(w, h) }

// clip is Box.clipAtImageBorders: clip, then floor each field. A box
// with nothing inside the image (or non-finite numbers) clips to empty.
func (b box) clip(w, h int) image.Rectangle {
	x, y := math.Max(b.x, 0), math.Max(b.y, 0)
	cw := math.Min(b.x+b.w-x, float64(w)-x)
	ch := math.Min(b.y+b.h-y, float64(h)-y)
	if !(cw >= 1 && ch >= 1 && x < float64(w) && y < float64(h)) { // also false for NaN
		return image.Rectangle{}
	}
	fx, fy := int(math.Floor(x)), int(math.Floor(y))
	return image.Rectangle{Min: image.Pt(fx, fy), Max: image.Pt(fx+int(math.Floor(cw)), fy+int(math.Floor(ch)))}
}

var (
	detMean = [3]float32{117.001, 114.697, 97.404}
	netMean = [3]float32{122.782, 117.001, 104.298}
	anchors = [5][2]float64{{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061}, {4.266906, 5.178857}, {9.041765, 10.66308}}
)

const nmsIoU = 0.4

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

type candidate struct {
	score float64
	rel   box // relative to the reshaped input
}

// detectAll runs the detector, NMS, then the landmark net on each face.
func (m *Model) detectAll(a *arena, px *rgb) []Detection {
	a.reset()
	size := m.opts.InputSize
	in := prepare(a, px, image.Rect(0, 0, px.w, px.h), false, size, detMean)
	out := m.nets.det.forward(a, in)

	W, H := float64(px.w), float64(px.h)
	sc := float64(size) / math.Max(W, H)
	rw, rh := math.Round(W*sc), math.Round(H*sc)
	inSize := math.Max(rw, rh)
	cx, cy := inSize/rw, inSize/rh
	cells := out.h
	var cands []candidate
	for row := 0; row < cells; row++ {
		for col := 0; col < cells; col++ {
			for k := 0; k < len(anchors); k++ {
				e := out.d[(row*cells+col)*25+k*5:]
				score := sigmoid(float64(e[4]))
				if score <= m.opts.ScoreThreshold {
					continue
				}
				ctX := ((float64(col) + sigmoid(float64(e[0]))) / float64(cells)) * cx
				ctY := ((float64(row) + sigmoid(float64(e[1]))) / float64(cells)) * cy
				bw := ((math.Exp(float64(e[2])) * anchors[k][0]) / float64(cells)) * cx
				bh := ((math.Exp(float64(e[3])) * anchors[k][1]) / float64(cells)) * cy
				x, y := ctX-bw/2, ctY-bh/2
				// BoundingBox(x, y, x+w, y+h) stores right-left as width.
				cands = append(cands, candidate{score, box{x, y, (x + bw) - x, (y + bh) - y}})
			}
		}
	}
	picked := nms(cands, float64(size))
	dets := make([]Detection, 0, len(picked))
	for _, c := range picked {
		abs := c.rel.scale(W, H)                                     // ObjectDetection
		abs = abs.roundTrip(W, H)                                    // FaceDetection in locateFaces
		crop := abs.roundTrip(W, H).roundTrip(W, H).clip(px.w, px.h) // forSize, then FaceDetection
		if crop.Dx() <= 0 || crop.Dy() <= 0 {
			continue
		}
		d := Detection{Score: c.score, Box: Rect{abs.x, abs.y, abs.w, abs.h}}
		m.landmarks(a, px, crop, abs, &d)
		dets = append(dets, d)
	}
	return dets
}

// nms is face-api's greedy non-maximum suppression over boxes scaled to
// the input size; it returns the kept candidates, best first.
func nms(c []candidate, size float64) []candidate {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	// face-api sorts ascending (stably) and pops from the end.
	sort.SliceStable(idx, func(i, j int) bool { return c[idx[i]].score < c[idx[j]].score })
	var out []candidate
	for len(idx) > 0 {
		cur := idx[len(idx)-1]
		idx = idx[:len(idx)-1]
		out = append(out, c[cur])
		b1 := c[cur].rel.scale(size, size)
		keep := idx[:0]
		for _, i := range idx {
			if iou(b1, c[i].rel.scale(size, size)) <= nmsIoU {
				keep = append(keep, i)
			}
		}
		idx = keep
	}
	return out
}

func iou(a, b box) float64 {
	w := math.Max(0, math.Min(a.x+a.w, b.x+b.w)-math.Max(a.x, b.x))
	h := math.Max(0, math.Min(a.y+a.h, b.y+b.h)-math.Max(a.y, b.y))
	inter := w * h
	return inter / (a.w*a.h + b.w*b.h - inter)
}

// landmarks runs FaceLandmark68Net on crop and fills d's landmarks and
// aligned rectangle; shift is the detection box the points are moved by.
func (m *Model) landmarks(a *arena, px *rgb, crop image.Rectangle, shift box, d *Detection) {
	in := prepare(a, px, crop, true, 112, netMean)
	out := m.nets.lm.forward(a, in)

	cw, ch := float64(crop.Dx()), float64(crop.Dy())
	sc := 112 / math.Max(ch, cw)
	w, h := cw*sc, ch*sc
	var padX, padY float64
	if w < h {
		padX = math.Abs(w-h) / 2
	}
	if h < w {
		padY = math.Abs(w-h) / 2
	}
	// postProcess runs as float32 tensor ops.
	fx, fy := float32(padX), float32(padY)
	fw, fh := float32(w), float32(h)
	for i := 0; i < 68; i++ {
		rx := (out[2*i]*112 - fx) / fw
		ry := (out[2*i+1]*112 - fy) / fh
		// FaceLandmarks68 then shiftBy: rel*dims, back to rel, *dims+shift.
		x := (float64(rx)*cw + 0) / cw
		y := (float64(ry)*ch + 0) / ch
		d.Landmarks[i] = Point{x*cw + shift.x, y*ch + shift.y}
	}
	d.Aligned = alignDlib(&d.Landmarks, cw, ch).clip(px.w, px.h)
}

func center(pts []Point) Point {
	var s Point
	for _, p := range pts {
		s.X += p.X
		s.Y += p.Y
	}
	n := float64(len(pts))
	return Point{s.X / n, s.Y / n}
}

// alignDlib is face-api's FaceLandmarks.alignDlib: a square of side
// mean(eye-to-mouth)/0.45 placed around the eye and mouth centres. cw, ch
// are the landmark crop's size, which face-api uses as a (loose) bound.
func alignDlib(p *[68]Point, cw, ch float64) box {
	l, r, mo := center(p[36:42]), center(p[42:48]), center(p[48:68])
	dist := func(q Point) float64 {
		dx, dy := mo.X-q.X, mo.Y-q.Y
		return math.Sqrt(dx*dx + dy*dy)
	}
	e2m := (dist(l) + dist(r)) / 2
	size := math.Floor(e2m / 0.45)
	ref := center([]Point{l, r, mo})
	x := math.Floor(math.Max(0, ref.X-0.5*size))
	y := math.Floor(math.Max(0, ref.Y-0.43*size))
	return box{x, y, math.Min(size, cw+x), math.Min(size, ch+y)}
}

// describe runs FaceRecognitionNet on the aligned crop.
func (m *Model) describe(a *arena, px *rgb, crop image.Rectangle) Descriptor {
	a.reset()
	in := prepare(a, px, crop, true, 150, netMean)
	var d Descriptor
	m.nets.rec.forward(a, in, d[:])
	return d
}
