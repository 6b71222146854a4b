package isoimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"time"

	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

// MaxPixels bounds a decoded image (16 Mpixel, larger than any ISO/IEC
// 19794-5 portrait or 19794-6 iris frame).
const MaxPixels = 4096 * 4096

// Image format codes of ISO/IEC 19794-6:2011 (iris image format) and
// 19794-5:2011 (face image data type).
const (
	IrisRaw  = 0x02 // monochrome raw, 8 bits a pixel
	IrisJPEG = 0x06 // monochrome JPEG
	IrisJP2  = 0x0A // monochrome JPEG 2000
	IrisPNG  = 0x0E // monochrome PNG

	FaceJPEG        = 0x00
	FaceJP2Lossy    = 0x01
	FaceJP2Lossless = 0x02
	FacePNG         = 0x03
)

// Errors. Each wraps its detail; callers match them with errors.Is.
var (
	ErrModality = errors.New("isoimage: record is of another modality")
	ErrFormat   = errors.New("isoimage: unsupported image format")
	ErrImage    = errors.New("isoimage: image data does not decode")
	ErrTooLarge = errors.New("isoimage: image too large")
	ErrSize     = errors.New("isoimage: image size differs from the record header")
)

// DecodeIris decodes the iris image of a 19794-6 record with one
// representation to 8-bit grey.
func DecodeIris(record []byte) (*image.Gray, *iso.Record, error) {
	rec, p, data, err := one(record, iso.Iris)
	if err != nil {
		return nil, nil, err
	}
	var img image.Image
	switch p.ImageFormat {
	case IrisJP2:
		g, _, err := jp2.Decode(data, MaxPixels)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrImage, err)
		}
		img = g
	case IrisJPEG:
		img, err = decodeStd(data, jpeg.DecodeConfig, jpeg.Decode)
	case IrisPNG:
		img, err = decodeStd(data, png.DecodeConfig, png.Decode)
	case IrisRaw:
		w, h := int(p.Width), int(p.Height)
		if p.BitDepth != 8 || w*h != len(data) || w == 0 {
			return nil, nil, fmt.Errorf("%w: raw image of %d bytes for %dx%d at %d bits", ErrImage, len(data), w, h, p.BitDepth)
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, data)
		img = g
	default:
		return nil, nil, fmt.Errorf("%w: iris image format 0x%02X", ErrFormat, p.ImageFormat)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := sameSize(img, p); err != nil {
		return nil, nil, err
	}
	return grey(img), rec, nil
}

// DecodeFace decodes the face image of a 19794-5 record with one
// representation (2D only; sbi/iso refuses 3D) to an RGB image.
func DecodeFace(record []byte) (image.Image, *iso.Record, error) {
	rec, p, data, err := one(record, iso.Face)
	if err != nil {
		return nil, nil, err
	}
	var img image.Image
	switch p.ImageDataType {
	case FaceJP2Lossy, FaceJP2Lossless:
		c, _, err := jp2.DecodeRGB(data, MaxPixels)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrImage, err)
		}
		img = c
	case FaceJPEG:
		img, err = decodeStd(data, jpeg.DecodeConfig, jpeg.Decode)
	case FacePNG:
		img, err = decodeStd(data, png.DecodeConfig, png.Decode)
	default:
		return nil, nil, fmt.Errorf("%w: face image data type 0x%02X", ErrFormat, p.ImageDataType)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := sameSize(img, p); err != nil {
		return nil, nil, err
	}
	return img, rec, nil
}

func one(record []byte, m iso.Modality) (*iso.Record, iso.Representation, []byte, error) {
	rec, err := iso.Parse(record)
	if err != nil {
		return nil, iso.Representation{}, nil, err
	}
	if rec.Modality != m {
		return nil, iso.Representation{}, nil, fmt.Errorf("%w: %v record, want %v", ErrModality, rec.Modality, m)
	}
	if len(rec.Representations) != 1 {
		return nil, iso.Representation{}, nil, fmt.Errorf("%w: %d representations, want 1", ErrImage, len(rec.Representations))
	}
	p := rec.Representations[0]
	if p.Width == 0 || p.Height == 0 {
		return nil, iso.Representation{}, nil, fmt.Errorf("%w: header declares a %dx%d image", ErrImage, p.Width, p.Height)
	}
	if int(p.Width)*int(p.Height) > MaxPixels {
		return nil, iso.Representation{}, nil, fmt.Errorf("%w: %dx%d", ErrTooLarge, p.Width, p.Height)
	}
	data := rec.Image(record, 0)
	if len(data) == 0 {
		return nil, iso.Representation{}, nil, fmt.Errorf("%w: no image data", ErrImage)
	}
	return rec, p, data, nil
}

// decodeStd decodes a JPEG or PNG after checking its declared size.
func decodeStd(data []byte, cfg func(r io.Reader) (image.Config, error), dec func(r io.Reader) (image.Image, error)) (image.Image, error) {
	c, err := cfg(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if c.Width <= 0 || c.Height <= 0 || c.Width > MaxPixels/c.Height {
		return nil, fmt.Errorf("%w: %dx%d", ErrTooLarge, c.Width, c.Height)
	}
	img, err := dec(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	return img, nil
}

func sameSize(img image.Image, p iso.Representation) error {
	b := img.Bounds()
	if b.Dx() != int(p.Width) || b.Dy() != int(p.Height) {
		return fmt.Errorf("%w: image is %dx%d, header says %dx%d", ErrSize, b.Dx(), b.Dy(), p.Width, p.Height)
	}
	return nil
}

// grey converts img to *image.Gray (a copy unless it already is one).
func grey(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			g.Pix[y*g.Stride+x] = uint8((19595*r + 38470*gg + 7471*bb + 1<<15) >> 24)
		}
	}
	return g
}

// Header is what a built record says about its capture.
type Header struct {
	Captured     time.Time
	Quality      uint8  // 0-100
	DeviceVendor uint16 // 0: unreported
	DeviceType   uint16
}

// IrisRecord writes a 19794-6:2011 record of one grey iris image: eye
// label (1 right, 2 left, 0 unknown), image type (iso.IrisCropped K3 or
// iso.IrisCroppedMasked K7), format and compression (iso.IrisLossless or
// iso.IrisLossy) as the MOSIP profile checks them; data is the encoded
// image, w×h its size.
func IrisRecord(h Header, eye, imageType, format, compression uint8, w, ht int, data []byte) ([]byte, error) {
	if w <= 0 || ht <= 0 || w > 0xFFFF || ht > 0xFFFF || len(data) == 0 || len(data) > iso.MaxRecordSize-256 {
		return nil, fmt.Errorf("isoimage: cannot write a %dx%d iris image of %d bytes", w, ht, len(data))
	}
	var rep bytes.Buffer
	repHeader(&rep, h)
	be(&rep, uint16(1))                                         // representation number
	rep.Write([]byte{eye, imageType, format, compression << 6}) // properties: compression in bits 6-7
	be(&rep, uint16(w), uint16(ht))
	rep.WriteByte(8)                               // bit depth
	be(&rep, uint16(0), uint16(0), uint16(0xFFFF)) // range unknown, roll angle 0, roll uncertainty unknown
	be(&rep, [6]uint16{})                          // iris centre and diameter bounds: not computed
	be(&rep, uint32(len(data)))
	rep.Write(data)
	return wrap("IIR\x00020\x00", []byte{0, 1, 0, 1}, rep.Bytes()), nil // 1 representation, uncertified, 1 eye
}

// FaceRecord writes a 19794-5:2011 record of one 2D face image: a
// full-frontal image type, data type (FaceJPEG, FaceJP2Lossy, ...), colour
// space 1 (24-bit RGB); data is the encoded image, w×h its size.
func FaceRecord(h Header, dataType uint8, w, ht int, data []byte) ([]byte, error) {
	if w <= 0 || ht <= 0 || w > 0xFFFF || ht > 0xFFFF || len(data) == 0 || len(data) > iso.MaxRecordSize-256 {
		return nil, fmt.Errorf("isoimage: cannot write a %dx%d face image of %d bytes", w, ht, len(data))
	}
	var rep bytes.Buffer
	repHeader(&rep, h)
	be(&rep, uint16(0))               // no landmarks
	rep.Write([]byte{0, 0, 0, 0})     // gender, eye colour, hair colour, subject height: unspecified
	rep.Write([]byte{0, 0, 0})        // property mask
	be(&rep, uint16(0))               // expression unspecified
	rep.Write(make([]byte, 6))        // pose angle, pose uncertainty
	rep.Write([]byte{0x01, dataType}) // face image type: full frontal; image data type
	be(&rep, uint16(w), uint16(ht))
	rep.Write([]byte{0, 0, 0, 0, 1}) // spatial sampling, post-acquisition (2), cross reference, colour space RGB24
	be(&rep, uint32(len(data)))
	rep.Write(data)
	return wrap("FAC\x00030\x00", []byte{0, 1, 0, 0, 0}, rep.Bytes()), nil // 1 representation, uncertified, temporal semantics 0
}

func repHeader(b *bytes.Buffer, h Header) {
	dt := iso.DateTimeOf(h.Captured)
	be(b, dt.Year)
	b.Write([]byte{dt.Month, dt.Day, dt.Hour, dt.Minute, dt.Second})
	be(b, dt.Millisecond)
	b.WriteByte(0) // capture device technology: unknown
	be(b, h.DeviceVendor, h.DeviceType)
	b.WriteByte(1) // one quality block
	b.WriteByte(min(h.Quality, 100))
	be(b, uint16(0), uint16(0))
}

// wrap puts the general header (format, length, counts) before one representation.
func wrap(magic string, counts, rep []byte) []byte {
	n := len(magic) + 4 + len(counts) + 4 + len(rep)
	out := make([]byte, 0, n)
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = append(out, counts...)
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(rep)))
	return append(out, rep...)
}

func be(b *bytes.Buffer, vs ...any) {
	for _, v := range vs {
		binary.Write(b, binary.BigEndian, v) // fixed-size values into a buffer: cannot fail
	}
}
