package iso

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/bytesx"
)

// Modality is the biometric part a record belongs to.
type Modality int

// Modalities.
const (
	Unknown Modality = iota
	Finger           // ISO/IEC 19794-4:2011, "FIR\0"
	Face             // ISO/IEC 19794-5:2011, "FAC\0"
	Iris             // ISO/IEC 19794-6:2011, "IIR\0"
)

func (m Modality) String() string {
	switch m {
	case Finger:
		return "Finger"
	case Face:
		return "Face"
	case Iris:
		return "Iris"
	}
	return "Unknown"
}

// MaxRecordSize bounds the records Parse accepts.
const MaxRecordSize = 8 << 20

// Errors returned by Parse, wrapped with detail.
var (
	ErrFormat    = errors.New("iso: unknown format identifier")
	ErrVersion   = errors.New("iso: unsupported version")
	ErrTruncated = errors.New("iso: record truncated")
	ErrLength    = errors.New("iso: inconsistent length")
	ErrTooLarge  = errors.New("iso: record too large")
	ErrField     = errors.New("iso: invalid field")
)

// DateTime is the 9-byte capture date and time of a representation. Fields
// are kept raw because the standard lets unknown parts be 0xFF (0xFFFF for
// year and millisecond).
type DateTime struct {
	Year                             uint16
	Month, Day, Hour, Minute, Second uint8
	Millisecond                      uint16
}

// DateTimeOf returns t in UTC as a DateTime.
func DateTimeOf(t time.Time) DateTime {
	t = t.UTC()
	return DateTime{
		Year: uint16(t.Year()), Month: uint8(t.Month()), Day: uint8(t.Day()),
		Hour: uint8(t.Hour()), Minute: uint8(t.Minute()), Second: uint8(t.Second()),
		Millisecond: uint16(t.Nanosecond() / int(time.Millisecond)),
	}
}

// Valid reports whether the fields form a plausible UTC date and time.
// 0xFFFF milliseconds means "not given" and is accepted.
func (d DateTime) Valid() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= 1 && d.Month <= 12 &&
		d.Day >= 1 && d.Day <= 31 && d.Hour <= 23 && d.Minute <= 59 && d.Second <= 59 &&
		(d.Millisecond <= 999 || d.Millisecond == 0xFFFF)
}

// Time converts d to a UTC time; ok is false when a field is unknown or
// out of range, or the day does not exist.
func (d DateTime) Time() (t time.Time, ok bool) {
	if d.Year == 0xFFFF || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 ||
		d.Hour > 23 || d.Minute > 59 || d.Second > 59 || d.Millisecond > 999 {
		return time.Time{}, false
	}
	t = time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(d.Hour), int(d.Minute), int(d.Second),
		int(d.Millisecond)*int(time.Millisecond), time.UTC)
	if t.Day() != int(d.Day) { // 31 February and the like
		return time.Time{}, false
	}
	return t, true
}

// Quality is one quality block.
type Quality struct {
	Score       uint8 // 0-100, or 255 when the computation failed
	VendorID    uint16
	AlgorithmID uint16
}

// Certification is one certification block, present only when the
// record's certification flag is set.
type Certification struct {
	AuthorityID uint16
	SchemeID    uint8
}

// Representation holds the header fields of one representation. Fields that
// do not apply to the record's modality are zero.
type Representation struct {
	Length         uint32
	CaptureTime    DateTime
	DeviceTech     uint8
	DeviceVendor   uint16
	DeviceType     uint16
	Quality        []Quality
	CertBlocks     int // len(Certifications)
	Certifications []Certification
	ImageOffset    int // offset of the image data within the record
	ImageLength    uint32
	ExtendedLength int // bytes after the image inside the representation

	// Finger (19794-4).
	Position    uint8
	Number      uint16 // representation number (1 byte for finger, 2 for iris)
	ScaleUnits  uint8
	ScanResX    uint16
	ScanResY    uint16
	ImageResX   uint16
	ImageResY   uint16
	BitDepth    uint8
	Compression uint8
	Impression  uint8
	Width       uint16
	Height      uint16

	// Iris (19794-6).
	EyeLabel    uint8
	ImageType   uint8
	ImageFormat uint8
	Properties  uint8

	// Face (19794-5).
	Landmarks     int
	FaceImageType uint8
	ImageDataType uint8
	ColourSpace   uint8
}

// Record is a parsed record header.
type Record struct {
	Modality        Modality
	Version         string // "020" or "030" without the NUL
	Length          uint32
	Certified       bool // certification flag
	CertFlag        uint8
	Count           uint8 // finger: distinct fingers; iris: eyes; face: 0
	TemporalSem     uint16
	Representations []Representation
}

// maxRepresentations bounds the loop; SBI records carry exactly one.
const maxRepresentations = 64

// Format identifiers, each followed by a NUL-terminated version.
const (
	fingerMagic = "FIR\x00"
	faceMagic   = "FAC\x00"
	irisMagic   = "IIR\x00"
)

// Parse reads a complete record. The declared record length must equal
// len(b) and every inner length must fit inside its parent.
func Parse(b []byte) (*Record, error) {
	if len(b) > MaxRecordSize {
		return nil, ErrTooLarge
	}
	if len(b) < 16 {
		return nil, ErrTruncated
	}
	r := &Record{}
	switch string(b[0:4]) {
	case fingerMagic:
		r.Modality = Finger
	case faceMagic:
		r.Modality = Face
	case irisMagic:
		r.Modality = Iris
	default:
		return nil, ErrFormat
	}
	if b[7] != 0 {
		return nil, ErrVersion
	}
	r.Version = string(b[4:7])
	if r.Version != version(r.Modality) {
		return nil, fmt.Errorf("%w: %q", ErrVersion, sanitize(r.Version))
	}
	rd := bytesx.NewReader(b, ErrTruncated)
	rd.Skip(8)
	r.Length = rd.U32()
	if uint64(r.Length) != uint64(len(b)) {
		return nil, fmt.Errorf("%w: record length %d, have %d bytes", ErrLength, r.Length, len(b))
	}
	n := int(rd.U16())
	r.CertFlag = rd.U8()
	if r.CertFlag > 1 {
		return nil, fmt.Errorf("%w: certification flag %d", ErrField, r.CertFlag)
	}
	r.Certified = r.CertFlag == 1
	if r.Modality == Face {
		r.TemporalSem = rd.U16()
	} else {
		r.Count = rd.U8()
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no representations", ErrField)
	}
	if n > maxRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrField, n)
	}
	for i := 0; i < n; i++ {
		rl := rd.U32()
		if err := rd.Err(); err != nil {
			return nil, err
		}
		if rl < 4 || uint64(rl-4) > uint64(rd.Len()) {
			return nil, fmt.Errorf("%w: representation %d length %d", ErrLength, i, rl)
		}
		rep, err := parseRep(r, rd.Sub(int(rl-4)))
		if err != nil {
			return nil, fmt.Errorf("representation %d: %w", i, err)
		}
		rep.Length = rl
		r.Representations = append(r.Representations, rep)
	}
	if rd.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrLength, rd.Len())
	}
	return r, nil
}

// version is the edition a modality's records must declare.
func version(m Modality) string {
	if m == Face {
		return "030"
	}
	return "020"
}

// parseRep parses one representation after its length field; r holds
// exactly the rest of the representation.
func parseRep(rec *Record, r *bytesx.Reader) (Representation, error) {
	var p Representation
	p.CaptureTime = DateTime{Year: r.U16(), Month: r.U8(), Day: r.U8(), Hour: r.U8(), Minute: r.U8(), Second: r.U8(), Millisecond: r.U16()}
	p.DeviceTech = r.U8()
	p.DeviceVendor = r.U16()
	p.DeviceType = r.U16()
	nq := int(r.U8())
	for i := 0; i < nq && r.Err() == nil; i++ {
		q := Quality{Score: r.U8(), VendorID: r.U16(), AlgorithmID: r.U16()}
		p.Quality = append(p.Quality, q)
	}
	if rec.Certified {
		p.CertBlocks = int(r.U8())
		p.Certifications = make([]Certification, 0, p.CertBlocks)
		for i := 0; i < p.CertBlocks && r.Err() == nil; i++ {
			p.Certifications = append(p.Certifications, Certification{AuthorityID: r.U16(), SchemeID: r.U8()})
		}
	}
	switch rec.Modality {
	case Finger:
		p.Position = r.U8()
		p.Number = uint16(r.U8())
		p.ScaleUnits = r.U8()
		p.ScanResX, p.ScanResY = r.U16(), r.U16()
		p.ImageResX, p.ImageResY = r.U16(), r.U16()
		p.BitDepth = r.U8()
		p.Compression = r.U8()
		p.Impression = r.U8()
		p.Width, p.Height = r.U16(), r.U16()
	case Iris:
		p.Number = r.U16()
		p.EyeLabel = r.U8()
		p.ImageType = r.U8()
		p.ImageFormat = r.U8()
		p.Properties = r.U8()
		p.Width, p.Height = r.U16(), r.U16()
		p.BitDepth = r.U8()
		r.Skip(2 + 2 + 2 + 6*2) // range, roll angle, roll uncertainty, iris centre and diameter
	case Face:
		p.Landmarks = int(r.U16())
		r.Skip(1 + 1 + 1 + 1) // gender, eye colour, hair colour, subject height
		r.U24()               // property mask
		r.Skip(2 + 3 + 3)     // expression, pose angle, pose uncertainty
		r.Skip(8 * p.Landmarks)
		p.FaceImageType = r.U8()
		p.ImageDataType = r.U8()
		p.Width, p.Height = r.U16(), r.U16()
		r.Skip(1 + 2 + 1) // spatial sampling level, post-acquisition processing, cross reference
		p.ColourSpace = r.U8()
		if p.FaceImageType >= 0x80 {
			// 3D faces carry an extra block SBI never uses.
			return p, fmt.Errorf("%w: 3D face image type 0x%02X not supported", ErrField, p.FaceImageType)
		}
	}
	p.ImageLength = r.U32()
	if err := r.Err(); err != nil {
		return p, err
	}
	if uint64(p.ImageLength) > uint64(r.Len()) {
		return p, fmt.Errorf("%w: image length %d exceeds representation", ErrLength, p.ImageLength)
	}
	p.ImageOffset = r.Offset()
	p.ExtendedLength = r.Len() - int(p.ImageLength)
	if rec.Modality != Finger && p.ExtendedLength != 0 {
		return p, fmt.Errorf("%w: %d bytes after image", ErrLength, p.ExtendedLength)
	}
	return p, nil
}

// Image returns the image bytes of representation i, or nil.
func (r *Record) Image(b []byte, i int) []byte {
	if i < 0 || i >= len(r.Representations) {
		return nil
	}
	p := r.Representations[i]
	end := p.ImageOffset + int(p.ImageLength)
	if p.ImageOffset < 0 || end > len(b) || end < p.ImageOffset {
		return nil
	}
	return b[p.ImageOffset:end]
}

// sanitize keeps error text printable.
func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}
