// Package iso parses the headers of ISO/IEC 19794-4, -5 and -6 (2011)
// biometric records, the payload of an SBI bioValue. It reads the general
// header and each representation header and checks every length against the
// record, so a record that parses is at least internally consistent. Image
// data is located but never decoded.
package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// DateTime is the 9-byte capture date and time of a representation.
type DateTime struct {
	Year                       uint16
	Month, Day, Hour, Min, Sec uint8
	Millisecond                uint16
}

// Valid reports whether the fields form a plausible UTC date and time.
// 0xFFFF milliseconds means "not given" and is accepted.
func (d DateTime) Valid() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= 1 && d.Month <= 12 &&
		d.Day >= 1 && d.Day <= 31 && d.Hour <= 23 && d.Min <= 59 && d.Sec <= 59 &&
		(d.Millisecond <= 999 || d.Millisecond == 0xFFFF)
}

// Quality is one quality block.
type Quality struct {
	Score     uint8 // 0-100, or 255 when the computation failed
	VendorID  uint16
	Algorithm uint16
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
	CertBlocks     int
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
	case "FIR\x00":
		r.Modality = Finger
	case "FAC\x00":
		r.Modality = Face
	case "IIR\x00":
		r.Modality = Iris
	default:
		return nil, ErrFormat
	}
	if b[7] != 0 {
		return nil, ErrVersion
	}
	r.Version = string(b[4:7])
	want := "020"
	if r.Modality == Face {
		want = "030"
	}
	if r.Version != want {
		return nil, fmt.Errorf("%w: %q", ErrVersion, sanitize(r.Version))
	}
	r.Length = binary.BigEndian.Uint32(b[8:12])
	if uint64(r.Length) != uint64(len(b)) {
		return nil, fmt.Errorf("%w: record length %d, have %d bytes", ErrLength, r.Length, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[12:14]))
	r.CertFlag = b[14]
	if r.CertFlag > 1 {
		return nil, fmt.Errorf("%w: certification flag %d", ErrField, r.CertFlag)
	}
	r.Certified = r.CertFlag == 1
	off := 16
	if r.Modality == Face {
		if len(b) < 17 {
			return nil, ErrTruncated
		}
		r.TemporalSem = binary.BigEndian.Uint16(b[15:17])
		off = 17
	} else {
		r.Count = b[15]
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no representations", ErrField)
	}
	if n > maxRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrField, n)
	}
	for i := 0; i < n; i++ {
		if len(b)-off < 4 {
			return nil, ErrTruncated
		}
		rl := binary.BigEndian.Uint32(b[off : off+4])
		if rl < 4 || uint64(rl) > uint64(len(b)-off) {
			return nil, fmt.Errorf("%w: representation %d length %d", ErrLength, i, rl)
		}
		rep, err := parseRep(r, b[off:off+int(rl)], off)
		if err != nil {
			return nil, fmt.Errorf("representation %d: %w", i, err)
		}
		r.Representations = append(r.Representations, rep)
		off += int(rl)
	}
	if off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrLength, len(b)-off)
	}
	return r, nil
}

// reader is a bounds-checked big-endian cursor over one representation.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = ErrTruncated
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u24() uint32 {
	if s := r.take(3); s != nil {
		return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// parseRep parses one representation; b is exactly the representation and
// base its offset in the record.
func parseRep(rec *Record, b []byte, base int) (Representation, error) {
	r := &reader{b: b}
	var p Representation
	p.Length = r.u32()
	p.CaptureTime = DateTime{Year: r.u16(), Month: r.u8(), Day: r.u8(), Hour: r.u8(), Min: r.u8(), Sec: r.u8(), Millisecond: r.u16()}
	p.DeviceTech = r.u8()
	p.DeviceVendor = r.u16()
	p.DeviceType = r.u16()
	nq := int(r.u8())
	for i := 0; i < nq && r.err == nil; i++ {
		q := Quality{Score: r.u8(), VendorID: r.u16(), Algorithm: r.u16()}
		p.Quality = append(p.Quality, q)
	}
	if rec.Certified {
		p.CertBlocks = int(r.u8())
		r.take(3 * p.CertBlocks)
	}
	switch rec.Modality {
	case Finger:
		p.Position = r.u8()
		p.Number = uint16(r.u8())
		p.ScaleUnits = r.u8()
		p.ScanResX, p.ScanResY = r.u16(), r.u16()
		p.ImageResX, p.ImageResY = r.u16(), r.u16()
		p.BitDepth = r.u8()
		p.Compression = r.u8()
		p.Impression = r.u8()
		p.Width, p.Height = r.u16(), r.u16()
	case Iris:
		p.Number = r.u16()
		p.EyeLabel = r.u8()
		p.ImageType = r.u8()
		p.ImageFormat = r.u8()
		p.Properties = r.u8()
		p.Width, p.Height = r.u16(), r.u16()
		p.BitDepth = r.u8()
		r.take(2 + 2 + 2 + 6*2) // range, roll angle, roll uncertainty, iris centre and diameter
	case Face:
		p.Landmarks = int(r.u16())
		r.take(1 + 1 + 1 + 1) // gender, eye colour, hair colour, subject height
		r.u24()               // property mask
		r.take(2 + 3 + 3)     // expression, pose angle, pose uncertainty
		r.take(8 * p.Landmarks)
		p.FaceImageType = r.u8()
		p.ImageDataType = r.u8()
		p.Width, p.Height = r.u16(), r.u16()
		r.take(1 + 2 + 1) // spatial sampling level, post-acquisition processing, cross reference
		p.ColourSpace = r.u8()
		if p.FaceImageType >= 0x80 {
			// 3D faces carry an extra block SBI never uses.
			return p, fmt.Errorf("%w: 3D face image type 0x%02X not supported", ErrField, p.FaceImageType)
		}
	}
	p.ImageLength = r.u32()
	if r.err != nil {
		return p, r.err
	}
	if uint64(p.ImageLength) > uint64(len(b)-r.off) {
		return p, fmt.Errorf("%w: image length %d exceeds representation", ErrLength, p.ImageLength)
	}
	p.ImageOffset = base + r.off
	p.ExtendedLength = len(b) - r.off - int(p.ImageLength)
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
