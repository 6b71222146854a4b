// Package fir reads and writes ISO/IEC 19794-4:2011 finger image records
// ("FIR\0" "020\0"), the bioValue of a MOSIP SBI finger capture.
//
// Layout (all integers big endian):
//
//	general header, 16 bytes:
//	  "FIR\0" "020\0" recordLength(4) representations(2) certFlag(1) fingers(1)
//	each representation:
//	  length(4) captureDateTime(9) technology(1) vendorID(2) deviceTypeID(2)
//	  qualityBlocks(1) + 5 each: score(1) vendor(2) algorithm(2)
//	  [certFlag=1: certBlocks(1) + 3 each: authority(2) scheme(1)]
//	  position(1) representationNumber(1) scaleUnits(1)
//	  scanResH(2) scanResV(2) imageResH(2) imageResV(2)
//	  bitDepth(1) compression(1) impression(1) width(2) height(2)
//	  imageLength(4) image [extended data up to the representation length]
//
// Parse is strict and bounds every length, so it can take hostile input;
// Marshal of a parsed record gives back the same bytes.
package fir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Format identifier and version.
var (
	Magic   = [4]byte{'F', 'I', 'R', 0}
	Version = [4]byte{'0', '2', '0', 0}
)

// Limits on what Parse accepts.
const (
	MaxRecordSize      = 8 << 20
	MaxRepresentations = 16
	MaxDim             = 8192
	GeneralHeaderLen   = 16
)

// Compression algorithm codes of ISO/IEC 19794-4:2011.
type Compression byte

const (
	Uncompressed       Compression = 0
	UncompressedPacked Compression = 1
	WSQ                Compression = 2
	JPEG               Compression = 3
	JPEG2000Lossy      Compression = 4
	JPEG2000Lossless   Compression = 5
	PNG                Compression = 6
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case UncompressedPacked:
		return "uncompressed bit-packed"
	case WSQ:
		return "WSQ"
	case JPEG:
		return "JPEG"
	case JPEG2000Lossy:
		return "JPEG 2000 lossy"
	case JPEG2000Lossless:
		return "JPEG 2000 lossless"
	case PNG:
		return "PNG"
	}
	return fmt.Sprintf("compression(%d)", byte(c))
}

// Scale units.
const (
	PixelsPerInch       byte = 1
	PixelsPerCentimetre byte = 2
)

// Impression types used here.
const (
	LiveScanPlain  byte = 0
	LiveScanRolled byte = 1
)

// Capture device technology identifiers (ISO/IEC 19794-4:2011 table 2)
// that fit the modules this bridge drives.
const (
	TechUnknown          byte = 0
	TechWhiteLightTIR    byte = 1
	TechMonochromeVisTIR byte = 4
	TechSemiconductorCap byte = 14
	TechMaxDefined       byte = 20
)

// DateTime is the 9-byte capture time. Fields are kept raw because the
// standard lets unknown parts be 0xFF (0xFFFF for year and millisecond).
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

// Time converts d to a UTC time; ok is false when a field is unknown or
// out of range.
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

// Quality is one quality block. Score is 0..100, or 255 when the algorithm
// failed.
type Quality struct {
	Score       uint8
	VendorID    uint16
	AlgorithmID uint16
}

// Certification is one certification block.
type Certification struct {
	AuthorityID uint16
	SchemeID    uint8
}

// Representation is one finger image.
type Representation struct {
	CaptureTime    DateTime
	Technology     byte
	VendorID       uint16
	DeviceTypeID   uint16
	Quality        []Quality
	Certifications []Certification // only when the record's certification flag is set
	Position       byte            // 0 unknown, 1..10 right thumb .. left little
	Number         byte
	ScaleUnits     byte
	ScanResH       uint16
	ScanResV       uint16
	ImageResH      uint16
	ImageResV      uint16
	BitDepth       byte
	Compression    Compression
	Impression     byte
	Width, Height  uint16
	Image          []byte
	Extended       []byte // extended data blocks after the image, kept raw
}

// Record is a whole finger image record.
type Record struct {
	CertFlag        byte // 0 or 1
	Fingers         byte // number of distinct fingers
	Representations []Representation
}

// Errors from Parse.
var (
	ErrMagic     = errors.New("fir: not an ISO/IEC 19794-4:2011 finger record (FIR\\0 020\\0)")
	ErrTruncated = errors.New("fir: record truncated")
	ErrLength    = errors.New("fir: length field inconsistent with the data")
	ErrTooLarge  = errors.New("fir: record larger than allowed")
	ErrInvalid   = errors.New("fir: invalid field")
)

// headerLen is the fixed part of a representation header, before the
// variable quality and certification blocks, plus the part after them.
const (
	reprFixedBefore = 4 + 9 + 1 + 2 + 2 + 1
	reprFixedAfter  = 1 + 1 + 1 + 8 + 1 + 1 + 1 + 2 + 2 + 4
)

func (r *Representation) headerLen(cert bool) int {
	n := reprFixedBefore + 5*len(r.Quality) + reprFixedAfter
	if cert {
		n += 1 + 3*len(r.Certifications)
	}
	return n
}

// Marshal encodes the record.
func (rec *Record) Marshal() ([]byte, error) {
	if rec.CertFlag > 1 {
		return nil, fmt.Errorf("%w: certification flag %d", ErrInvalid, rec.CertFlag)
	}
	if len(rec.Representations) == 0 || len(rec.Representations) > MaxRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrInvalid, len(rec.Representations))
	}
	cert := rec.CertFlag == 1
	total := GeneralHeaderLen
	for i := range rec.Representations {
		r := &rec.Representations[i]
		if len(r.Quality) > 255 || len(r.Certifications) > 255 {
			return nil, fmt.Errorf("%w: too many quality or certification blocks", ErrInvalid)
		}
		if !cert && len(r.Certifications) > 0 {
			return nil, fmt.Errorf("%w: certification blocks without the certification flag", ErrInvalid)
		}
		total += r.headerLen(cert) + len(r.Image) + len(r.Extended)
	}
	if total > MaxRecordSize {
		return nil, ErrTooLarge
	}
	b := make([]byte, 0, total)
	b = append(b, Magic[:]...)
	b = append(b, Version[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint16(b, uint16(len(rec.Representations)))
	b = append(b, rec.CertFlag, rec.Fingers)
	for i := range rec.Representations {
		r := &rec.Representations[i]
		b = binary.BigEndian.AppendUint32(b, uint32(r.headerLen(cert)+len(r.Image)+len(r.Extended)))
		d := r.CaptureTime
		b = binary.BigEndian.AppendUint16(b, d.Year)
		b = append(b, d.Month, d.Day, d.Hour, d.Minute, d.Second)
		b = binary.BigEndian.AppendUint16(b, d.Millisecond)
		b = append(b, r.Technology)
		b = binary.BigEndian.AppendUint16(b, r.VendorID)
		b = binary.BigEndian.AppendUint16(b, r.DeviceTypeID)
		b = append(b, byte(len(r.Quality)))
		for _, q := range r.Quality {
			b = append(b, q.Score)
			b = binary.BigEndian.AppendUint16(b, q.VendorID)
			b = binary.BigEndian.AppendUint16(b, q.AlgorithmID)
		}
		if cert {
			b = append(b, byte(len(r.Certifications)))
			for _, c := range r.Certifications {
				b = binary.BigEndian.AppendUint16(b, c.AuthorityID)
				b = append(b, c.SchemeID)
			}
		}
		b = append(b, r.Position, r.Number, r.ScaleUnits)
		for _, v := range []uint16{r.ScanResH, r.ScanResV, r.ImageResH, r.ImageResV} {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		b = append(b, r.BitDepth, byte(r.Compression), r.Impression)
		b = binary.BigEndian.AppendUint16(b, r.Width)
		b = binary.BigEndian.AppendUint16(b, r.Height)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Image)))
		b = append(b, r.Image...)
		b = append(b, r.Extended...)
	}
	return b, nil
}

// reader is a bounds-checked cursor; the first failure sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = ErrTruncated
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() byte {
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

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// Parse decodes a record. The image and extended data alias b.
func Parse(b []byte) (*Record, error) {
	if len(b) > MaxRecordSize {
		return nil, ErrTooLarge
	}
	if len(b) < GeneralHeaderLen {
		return nil, ErrTruncated
	}
	if !bytes.Equal(b[0:4], Magic[:]) || !bytes.Equal(b[4:8], Version[:]) {
		return nil, ErrMagic
	}
	r := &reader{b: b, off: 8}
	if int64(r.u32()) != int64(len(b)) {
		return nil, fmt.Errorf("%w: record length", ErrLength)
	}
	n := int(r.u16())
	rec := &Record{CertFlag: r.u8(), Fingers: r.u8()}
	if n == 0 || n > MaxRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrInvalid, n)
	}
	if rec.CertFlag > 1 {
		return nil, fmt.Errorf("%w: certification flag %d", ErrInvalid, rec.CertFlag)
	}
	rec.Representations = make([]Representation, 0, n)
	for i := 0; i < n; i++ {
		rep, err := parseRepresentation(r, rec.CertFlag == 1)
		if err != nil {
			return nil, fmt.Errorf("representation %d: %w", i+1, err)
		}
		rec.Representations = append(rec.Representations, rep)
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the last representation", ErrLength, len(b)-r.off)
	}
	return rec, nil
}

func parseRepresentation(r *reader, cert bool) (Representation, error) {
	start := r.off
	length := int64(r.u32())
	if r.err != nil {
		return Representation{}, r.err
	}
	if length > int64(len(r.b)-start) {
		return Representation{}, fmt.Errorf("%w: representation length %d exceeds the record", ErrLength, length)
	}
	end := start + int(length)
	var p Representation
	p.CaptureTime = DateTime{Year: r.u16(), Month: r.u8(), Day: r.u8(), Hour: r.u8(), Minute: r.u8(), Second: r.u8(), Millisecond: r.u16()}
	p.Technology = r.u8()
	p.VendorID = r.u16()
	p.DeviceTypeID = r.u16()
	if nq := int(r.u8()); nq > 0 {
		p.Quality = make([]Quality, 0, nq)
		for j := 0; j < nq && r.err == nil; j++ {
			p.Quality = append(p.Quality, Quality{Score: r.u8(), VendorID: r.u16(), AlgorithmID: r.u16()})
		}
	}
	if cert {
		nc := int(r.u8())
		p.Certifications = make([]Certification, 0, nc)
		for j := 0; j < nc && r.err == nil; j++ {
			p.Certifications = append(p.Certifications, Certification{AuthorityID: r.u16(), SchemeID: r.u8()})
		}
	}
	p.Position = r.u8()
	p.Number = r.u8()
	p.ScaleUnits = r.u8()
	p.ScanResH, p.ScanResV, p.ImageResH, p.ImageResV = r.u16(), r.u16(), r.u16(), r.u16()
	p.BitDepth = r.u8()
	p.Compression = Compression(r.u8())
	p.Impression = r.u8()
	p.Width, p.Height = r.u16(), r.u16()
	imgLen := int64(r.u32())
	if r.err != nil {
		return Representation{}, r.err
	}
	if r.off > end {
		return Representation{}, fmt.Errorf("%w: header longer than the representation", ErrLength)
	}
	if imgLen > int64(end-r.off) {
		return Representation{}, fmt.Errorf("%w: image length %d exceeds the representation", ErrLength, imgLen)
	}
	if p.Width == 0 || p.Height == 0 || p.Width > MaxDim || p.Height > MaxDim {
		return Representation{}, fmt.Errorf("%w: image size %dx%d", ErrInvalid, p.Width, p.Height)
	}
	p.Image = r.take(int(imgLen))
	if ext := end - r.off; ext > 0 {
		p.Extended = r.take(ext)
	}
	return p, r.err
}

var positionNames = [...]string{
	"unknown",
	"right-thumb", "right-index", "right-middle", "right-ring", "right-little",
	"left-thumb", "left-index", "left-middle", "left-ring", "left-little",
}

// PositionName names an ISO finger position 0..10 ("right-index").
func PositionName(p byte) string {
	if int(p) < len(positionNames) {
		return positionNames[p]
	}
	return fmt.Sprintf("position-%d", p)
}

// ParsePosition accepts a number 0..10 or a name such as "left-thumb".
func ParsePosition(s string) (byte, error) {
	for i, n := range positionNames {
		if s == n || s == fmt.Sprint(i) {
			return byte(i), nil
		}
	}
	return 0, fmt.Errorf("fir: finger %q: want 0..10 or a name such as right-index or left-thumb", s)
}
