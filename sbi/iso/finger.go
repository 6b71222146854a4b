package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Finger image records (ISO/IEC 19794-4:2011), read and written whole.
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

// Limits on the finger records ParseFinger accepts and Marshal writes.
const (
	MaxFingerRepresentations = 16
	MaxDim                   = 8192
)

// Compression is a finger image compression code.
type Compression byte

// Compression codes of ISO/IEC 19794-4:2011. Representation.Compression
// holds the same codes untyped (FingerWSQ and so on).
const (
	Uncompressed       Compression = 0
	UncompressedPacked Compression = 1
	WSQ                Compression = FingerWSQ
	JPEG               Compression = 3
	JPEG2000Lossy      Compression = FingerJP2Lossy
	JPEG2000Lossless   Compression = FingerJP2Lossless
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
// that fit the modules edgetrust drives.
const (
	TechUnknown          byte = 0
	TechWhiteLightTIR    byte = 1
	TechMonochromeVisTIR byte = 4
	TechSemiconductorCap byte = 14
	TechMaxDefined       byte = 20
)

// FingerRepresentation is one finger image with all its header fields.
type FingerRepresentation struct {
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

// FingerRecord is a whole finger image record.
type FingerRecord struct {
	CertFlag        byte // 0 or 1
	Fingers         byte // number of distinct fingers
	Representations []FingerRepresentation
}

const notFinger = "not an ISO/IEC 19794-4:2011 finger record (FIR\\0 020\\0)"

// ParseFinger decodes a whole finger image record with Parse's checks,
// plus: at most MaxFingerRepresentations, and every image 1..MaxDim pixels
// on each side. Image and Extended alias b.
func ParseFinger(b []byte) (*FingerRecord, error) {
	rec, err := Parse(b)
	if errors.Is(err, ErrFormat) || errors.Is(err, ErrVersion) {
		return nil, fmt.Errorf("%w: %s", err, notFinger)
	}
	if err != nil {
		return nil, err
	}
	if rec.Modality != Finger {
		return nil, fmt.Errorf("%w: %v record: %s", ErrFormat, rec.Modality, notFinger)
	}
	if len(rec.Representations) > MaxFingerRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrField, len(rec.Representations))
	}
	out := &FingerRecord{CertFlag: rec.CertFlag, Fingers: rec.Count,
		Representations: make([]FingerRepresentation, 0, len(rec.Representations))}
	for i, p := range rec.Representations {
		if p.Width == 0 || p.Height == 0 || p.Width > MaxDim || p.Height > MaxDim {
			return nil, fmt.Errorf("representation %d: %w: image size %dx%d", i, ErrField, p.Width, p.Height)
		}
		f := FingerRepresentation{
			CaptureTime: p.CaptureTime, Technology: p.DeviceTech, VendorID: p.DeviceVendor, DeviceTypeID: p.DeviceType,
			Quality: p.Quality, Certifications: p.Certifications,
			Position: p.Position, Number: byte(p.Number), ScaleUnits: p.ScaleUnits,
			ScanResH: p.ScanResX, ScanResV: p.ScanResY, ImageResH: p.ImageResX, ImageResV: p.ImageResY,
			BitDepth: p.BitDepth, Compression: Compression(p.Compression), Impression: p.Impression,
			Width: p.Width, Height: p.Height,
			Image: rec.Image(b, i),
		}
		if p.ExtendedLength > 0 {
			end := p.ImageOffset + int(p.ImageLength)
			f.Extended = b[end : end+p.ExtendedLength : end+p.ExtendedLength]
		}
		out.Representations = append(out.Representations, f)
	}
	return out, nil
}

// Fixed parts of a finger representation header, before and after the
// variable quality and certification blocks.
const (
	fingerFixedBefore = 4 + 9 + 1 + 2 + 2 + 1
	fingerFixedAfter  = 1 + 1 + 1 + 8 + 1 + 1 + 1 + 2 + 2 + 4
	fingerHeaderLen   = 16
)

func (r *FingerRepresentation) headerLen(cert bool) int {
	n := fingerFixedBefore + 5*len(r.Quality) + fingerFixedAfter
	if cert {
		n += 1 + 3*len(r.Certifications)
	}
	return n
}

// Marshal encodes the record; for a record from ParseFinger it gives back
// the bytes parsed.
func (rec *FingerRecord) Marshal() ([]byte, error) {
	if rec.CertFlag > 1 {
		return nil, fmt.Errorf("%w: certification flag %d", ErrField, rec.CertFlag)
	}
	if len(rec.Representations) == 0 || len(rec.Representations) > MaxFingerRepresentations {
		return nil, fmt.Errorf("%w: %d representations", ErrField, len(rec.Representations))
	}
	cert := rec.CertFlag == 1
	total := fingerHeaderLen
	for i := range rec.Representations {
		r := &rec.Representations[i]
		if len(r.Quality) > 255 || len(r.Certifications) > 255 {
			return nil, fmt.Errorf("%w: too many quality or certification blocks", ErrField)
		}
		if !cert && len(r.Certifications) > 0 {
			return nil, fmt.Errorf("%w: certification blocks without the certification flag", ErrField)
		}
		total += r.headerLen(cert) + len(r.Image) + len(r.Extended)
	}
	if total > MaxRecordSize {
		return nil, ErrTooLarge
	}
	b := make([]byte, 0, total)
	b = append(b, fingerMagic+version(Finger)+"\x00"...)
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
	return 0, fmt.Errorf("iso: finger %q: want 0..10 or a name such as right-index or left-thumb", s)
}
