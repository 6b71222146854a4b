package capture

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

// Purpose is the SBI capture purpose; it decides the compression.
type Purpose int

const (
	// Auth: JPEG 2000 lossy (ISO code 4), at most 15:1.
	Auth Purpose = 1
	// Registration: JPEG 2000 lossless (ISO code 5).
	Registration Purpose = 2
)

func (p Purpose) String() string {
	switch p {
	case Auth:
		return "Auth"
	case Registration:
		return "Registration"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// ParsePurpose accepts "auth" and "registration" in any case.
func ParsePurpose(s string) (Purpose, error) {
	switch strings.ToLower(s) {
	case "auth":
		return Auth, nil
	case "registration", "reg":
		return Registration, nil
	}
	return 0, fmt.Errorf("capture: purpose %q: want auth or registration", s)
}

// DefaultLossyRatio keeps Auth images well inside MOSIP's 15:1 ceiling.
const DefaultLossyRatio = 10

// RecordOptions describe the record around an image.
type RecordOptions struct {
	Purpose    Purpose
	Position   byte // ISO finger position: 0 unknown, 1..10 right thumb .. left little
	CapturedAt time.Time
	Quality    iso.Quality
	// Technology, VendorID and DeviceTypeID go into the representation
	// header; zero means unknown / unreported.
	Technology   byte
	VendorID     uint16
	DeviceTypeID uint16
	// PPI is the sensor resolution; 0 means 500, what R30x modules have.
	PPI uint16
	// LossyRatio for Auth; 0 means DefaultLossyRatio.
	LossyRatio float32
}

// BuildRecord compresses img with a real JPEG 2000 codec and wraps it in an
// ISO/IEC 19794-4:2011 record as MOSIP SBI expects for the purpose.
func BuildRecord(img *image.Gray, o RecordOptions) ([]byte, error) {
	if err := checkPosition(o.Purpose, o.Position); err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > iso.MaxDim || b.Dy() > iso.MaxDim {
		return nil, fmt.Errorf("capture: image size %dx%d out of range", b.Dx(), b.Dy())
	}
	if o.Quality.Score > 100 && o.Quality.Score != 255 {
		return nil, fmt.Errorf("capture: quality score %d out of range", o.Quality.Score)
	}
	ppi := o.PPI
	if ppi == 0 {
		ppi = 500
	}
	opt := jp2.Options{Lossless: true, Format: jp2.JP2}
	comp := iso.JPEG2000Lossless
	if o.Purpose == Auth {
		ratio := o.LossyRatio
		if ratio == 0 {
			ratio = DefaultLossyRatio
		}
		if ratio > 15 {
			return nil, fmt.Errorf("capture: lossy ratio %v exceeds MOSIP's 15:1", ratio)
		}
		opt = jp2.Options{Lossless: false, Ratio: ratio, Format: jp2.JP2}
		comp = iso.JPEG2000Lossy
	}
	data, err := jp2.Encode(img, opt)
	if err != nil {
		return nil, err
	}
	at := o.CapturedAt
	if at.IsZero() {
		at = time.Now()
	}
	rec := iso.FingerRecord{
		Fingers: 1,
		Representations: []iso.FingerRepresentation{{
			CaptureTime:  iso.DateTimeOf(at),
			Technology:   o.Technology,
			VendorID:     o.VendorID,
			DeviceTypeID: o.DeviceTypeID,
			Quality:      []iso.Quality{o.Quality},
			Position:     o.Position,
			ScaleUnits:   iso.PixelsPerInch,
			ScanResH:     ppi, ScanResV: ppi, ImageResH: ppi, ImageResV: ppi,
			BitDepth:    8,
			Compression: comp,
			Impression:  iso.LiveScanPlain,
			Width:       uint16(b.Dx()),
			Height:      uint16(b.Dy()),
			Image:       data,
		}},
	}
	return rec.Marshal()
}

func checkPosition(p Purpose, pos byte) error {
	switch p {
	case Registration:
		if pos < 1 || pos > 10 {
			return fmt.Errorf("capture: registration needs a finger position 1..10, got %d", pos)
		}
	case Auth:
		if pos > 10 {
			return fmt.Errorf("capture: finger position %d out of range 0..10", pos)
		}
	default:
		return fmt.Errorf("capture: unknown purpose %d", int(p))
	}
	return nil
}

// ErrNonConformant is wrapped by every CheckRecord failure.
var ErrNonConformant = errors.New("capture: record does not meet MOSIP SBI rules")

// CheckRecord applies the SBI rules for a finger record (spec section 8.2)
// and, for JPEG 2000 images, decodes the image to check that its size and
// wavelet agree with the header. WSQ images are checked by header only.
func CheckRecord(b []byte, p Purpose) error {
	rec, err := iso.ParseFinger(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNonConformant, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNonConformant}, args...)...)
	}
	if len(rec.Representations) != 1 || rec.Fingers != 1 {
		return bad("want 1 representation of 1 finger, got %d of %d", len(rec.Representations), rec.Fingers)
	}
	r := rec.Representations[0]
	if _, ok := r.CaptureTime.Time(); !ok {
		return bad("capture date and time %+v is not valid", r.CaptureTime)
	}
	if r.Technology > iso.TechMaxDefined {
		return bad("capture device technology %d out of range 0..20", r.Technology)
	}
	for _, q := range r.Quality {
		if q.Score > 100 && q.Score != 255 {
			return bad("quality score %d out of range", q.Score)
		}
	}
	if err := checkPosition(p, r.Position); err != nil {
		return bad("%v", err)
	}
	if r.BitDepth != 8 {
		return bad("bit depth %d, want 8", r.BitDepth)
	}
	for _, res := range []uint16{r.ImageResH, r.ImageResV} {
		ppi := float64(res)
		switch r.ScaleUnits {
		case iso.PixelsPerInch:
		case iso.PixelsPerCentimetre:
			ppi *= 2.54
		default:
			return bad("scale units %d", r.ScaleUnits)
		}
		if ppi = math.Round(ppi); ppi < 490 || ppi > 1010 {
			return bad("resolution %v ppi outside 490..1010", ppi)
		}
	}
	switch p {
	case Registration:
		if r.Compression != iso.JPEG2000Lossless {
			return bad("registration needs JPEG 2000 lossless, got %s", r.Compression)
		}
	case Auth:
		if r.Compression != iso.JPEG2000Lossy && r.Compression != iso.WSQ {
			return bad("auth needs JPEG 2000 lossy or WSQ, got %s", r.Compression)
		}
	}
	if r.Compression == iso.WSQ {
		return nil
	}
	img, info, err := jp2.Decode(r.Image, int(r.Width)*int(r.Height))
	if err != nil {
		return bad("image: %v", err)
	}
	if img.Bounds().Dx() != int(r.Width) || img.Bounds().Dy() != int(r.Height) {
		return bad("image is %dx%d, header says %dx%d", img.Bounds().Dx(), img.Bounds().Dy(), r.Width, r.Height)
	}
	if info.Components != 1 || info.Precision != 8 {
		return bad("image has %d components of %d bits, want 1 of 8", info.Components, info.Precision)
	}
	if info.ReversibleKnown && info.Reversible != (r.Compression == iso.JPEG2000Lossless) {
		return bad("header says %s but the codestream uses the %s wavelet", r.Compression, wavelet(info.Reversible))
	}
	return nil
}

func wavelet(rev bool) string {
	if rev {
		return "5/3 reversible"
	}
	return "9/7 irreversible"
}

// DecodeRecord parses a record and decodes its first image to pixels.
func DecodeRecord(b []byte) (*image.Gray, *iso.FingerRecord, error) {
	rec, err := iso.ParseFinger(b)
	if err != nil {
		return nil, nil, err
	}
	r := rec.Representations[0]
	switch r.Compression {
	case iso.JPEG2000Lossy, iso.JPEG2000Lossless:
	default:
		return nil, rec, fmt.Errorf("capture: cannot decode %s images", r.Compression)
	}
	img, _, err := jp2.Decode(r.Image, int(r.Width)*int(r.Height))
	if err != nil {
		return nil, rec, err
	}
	return img, rec, nil
}
