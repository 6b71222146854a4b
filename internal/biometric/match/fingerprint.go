package match

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"sort"

	"github.com/edgetrust/edgetrust/internal/biometric/extract"
	"github.com/edgetrust/edgetrust/internal/biometric/template"
	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

// Fingerprint is the MCC fingerprint matcher.
type Fingerprint struct {
	// Calibration maps false-match rates to thresholds; nil means
	// DefaultCalibration.
	Calibration Calibration
}

// NewFingerprint returns the matcher with the built-in calibration.
func NewFingerprint() *Fingerprint { return &Fingerprint{} }

// ErrNoMinutiae is returned when a sample yields too few minutiae to be
// compared reliably.
var ErrNoMinutiae = errors.New("match: too few minutiae in the sample")

// MinMinutiae a template needs.
const MinMinutiae = 8

// Extract accepts an ISO/IEC 19794-4:2011 finger image record (the first
// representation is used; JPEG 2000, PNG, JPEG or uncompressed 8-bit
// images at any resolution, rescaled to 500 ppi) or a finger minutiae
// record in any format package template reads (the first view is used).
// Iris and face records give *UnsupportedError.
func (fp *Fingerprint) Extract(rec []byte) (Template, error) {
	mod, err := DetectModality(rec)
	if err != nil {
		return Template{}, err
	}
	if mod != Finger {
		return Template{}, &UnsupportedError{mod}
	}
	var t Template
	if bytes.HasPrefix(rec, []byte("FMR\x00")) {
		r, err := template.Parse(rec)
		if err != nil {
			return Template{}, err
		}
		s, err := r.Set(0)
		if err != nil {
			return Template{}, err
		}
		t = FromSet(s)
	} else {
		img, err := DecodeFingerImage(rec)
		if err != nil {
			return Template{}, err
		}
		res, err := extract.Extract(img)
		if err != nil {
			return Template{}, err
		}
		t = FromSet(res.Set)
	}
	if len(t.Minutiae) < MinMinutiae {
		return Template{}, fmt.Errorf("%w: %d", ErrNoMinutiae, len(t.Minutiae))
	}
	return t, nil
}

// ExtractImage makes a template from a grey image at 500 ppi.
func (fp *Fingerprint) ExtractImage(img *image.Gray) (Template, error) {
	res, err := extract.Extract(img)
	if err != nil {
		return Template{}, err
	}
	t := FromSet(res.Set)
	if len(t.Minutiae) < MinMinutiae {
		return Template{}, fmt.Errorf("%w: %d", ErrNoMinutiae, len(t.Minutiae))
	}
	return t, nil
}

// DecodeFingerImage returns the first image of a 19794-4:2011 record as
// 8-bit grey at 500 ppi.
func DecodeFingerImage(rec []byte) (*image.Gray, error) {
	r, err := iso.ParseFinger(rec)
	if err != nil {
		return nil, err
	}
	rep := r.Representations[0]
	if rep.BitDepth != 8 {
		return nil, fmt.Errorf("match: %d-bit finger images are not supported", rep.BitDepth)
	}
	w, h := int(rep.Width), int(rep.Height)
	var img *image.Gray
	switch rep.Compression {
	case iso.JPEG2000Lossy, iso.JPEG2000Lossless:
		img, _, err = jp2.Decode(rep.Image, w*h)
	case iso.Uncompressed:
		if len(rep.Image) != w*h {
			return nil, fmt.Errorf("match: uncompressed image of %d bytes for %dx%d", len(rep.Image), w, h)
		}
		img = image.NewGray(image.Rect(0, 0, w, h))
		copy(img.Pix, rep.Image)
	case iso.PNG, iso.JPEG:
		var m image.Image
		if rep.Compression == iso.PNG {
			m, err = png.Decode(bytes.NewReader(rep.Image))
		} else {
			m, err = jpeg.Decode(bytes.NewReader(rep.Image))
		}
		if err == nil {
			img = toGray(m)
		}
	default:
		return nil, fmt.Errorf("match: %s finger images are not supported", rep.Compression)
	}
	if err != nil {
		return nil, err
	}
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		return nil, fmt.Errorf("match: image is %v, record says %dx%d", img.Bounds().Size(), w, h)
	}
	ppiH, ppiV := float64(rep.ImageResH), float64(rep.ImageResV)
	if rep.ScaleUnits == iso.PixelsPerCentimetre {
		ppiH, ppiV = ppiH*2.54, ppiV*2.54
	}
	if ppiH <= 0 || ppiV <= 0 {
		return nil, fmt.Errorf("match: image resolution %vx%v", rep.ImageResH, rep.ImageResV)
	}
	if math.Abs(ppiH-500) > 5 || math.Abs(ppiV-500) > 5 {
		img = Resample(img, 500/ppiH, 500/ppiV)
	}
	return img, nil
}

func toGray(m image.Image) *image.Gray {
	if g, ok := m.(*image.Gray); ok && g.Bounds().Min == (image.Point{}) {
		return g
	}
	b := m.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, gg, bb, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
			g.Pix[y*g.Stride+x] = uint8((299*r + 587*gg + 114*bb) / 1000 >> 8)
		}
	}
	return g
}

// Resample scales an image by sx, sy with bilinear interpolation.
func Resample(src *image.Gray, sx, sy float64) *image.Gray {
	b := src.Bounds()
	w := max(1, int(math.Round(float64(b.Dx())*sx)))
	h := max(1, int(math.Round(float64(b.Dy())*sy)))
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)/sy - 0.5
		y0 := int(math.Floor(fy))
		ty := fy - float64(y0)
		y0c, y1c := min(max(y0, 0), b.Dy()-1), min(max(y0+1, 0), b.Dy()-1)
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)/sx - 0.5
			x0 := int(math.Floor(fx))
			tx := fx - float64(x0)
			x0c, x1c := min(max(x0, 0), b.Dx()-1), min(max(x0+1, 0), b.Dx()-1)
			p := func(xx, yy int) float64 { return float64(src.Pix[yy*src.Stride+xx]) }
			v := (1-ty)*((1-tx)*p(x0c, y0c)+tx*p(x1c, y0c)) + ty*((1-tx)*p(x0c, y1c)+tx*p(x1c, y1c))
			dst.Pix[y*dst.Stride+x] = uint8(math.Round(v))
		}
	}
	return dst
}

// Score is the MCC LSS-R similarity in [0, 1]; 0 when either template is
// not a fingerprint.
func (fp *Fingerprint) Score(probe, candidate Template) float64 {
	if probe.Modality != Finger || candidate.Modality != Finger {
		return 0
	}
	return score(probe.cylinders(), candidate.cylinders())
}

// Threshold returns the score threshold for a target false-match rate
// from the calibration (interpolated in log FMR; below the calibrated
// range it is extrapolated conservatively, see Calibration.Threshold).
func (fp *Fingerprint) Threshold(targetFMR float64) float64 {
	c := fp.Calibration
	if c == nil {
		c = DefaultCalibration
	}
	return c.Threshold(targetFMR)
}

// Calibration is a measured impostor score tail: points (FMR, threshold)
// with FMR decreasing.
type Calibration []CalPoint

// CalPoint says that a fraction FMR of impostor comparisons scored at or
// above Threshold.
type CalPoint struct{ FMR, Threshold float64 }

// Threshold interpolates linearly in log10(FMR). Targets above the first
// point get its threshold; targets below the last point extend the last
// segment's slope in log FMR (the impostor tail of MCC scores decays about
// exponentially), so a tighter target always gives a higher threshold.
func (c Calibration) Threshold(fmr float64) float64 {
	if len(c) == 0 || !(fmr > 0) {
		return math.Inf(1)
	}
	if fmr >= c[0].FMR {
		return c[0].Threshold
	}
	lf := math.Log10(fmr)
	for i := 1; i < len(c); i++ {
		if fmr >= c[i].FMR {
			a, b := c[i-1], c[i]
			t := (lf - math.Log10(a.FMR)) / (math.Log10(b.FMR) - math.Log10(a.FMR))
			return a.Threshold + t*(b.Threshold-a.Threshold)
		}
	}
	n := len(c)
	if n == 1 {
		return c[0].Threshold
	}
	a, b := c[n-2], c[n-1]
	slope := (b.Threshold - a.Threshold) / (math.Log10(b.FMR) - math.Log10(a.FMR))
	return b.Threshold + slope*(lf-math.Log10(b.FMR))
}

// Calibrate builds a calibration from impostor scores at the given FMR
// points (each must be at least 1/len(impostor) to be measurable).
func Calibrate(impostor []float64, fmrs []float64) Calibration {
	s := append([]float64(nil), impostor...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	var c Calibration
	for _, f := range fmrs {
		k := int(math.Floor(f * float64(len(s))))
		if k < 1 {
			break
		}
		// Threshold: just above the k-th highest impostor score, so at
		// most k impostors reach it.
		c = append(c, CalPoint{FMR: f, Threshold: math.Nextafter(s[k-1], math.Inf(1))})
	}
	return c
}
