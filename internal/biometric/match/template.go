package match

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/edgetrust/edgetrust/internal/biometric/template"
	"github.com/edgetrust/edgetrust/internal/bytesx"
)

// Template is what appliances cache: the minutiae of one finger in a
// compact, versioned binary form (Marshal), from which the cylinders the
// matcher compares are rebuilt on load.
type Template struct {
	Modality Modality
	// Minutiae in the common form: pixels at 500 ppi, ISO angles.
	Minutiae []template.Point
	// Width and Height of the source image at 500 ppi (0 if unknown).
	Width, Height float64
	// Quality of the finger sample, 0..100 (0 unknown).
	Quality uint8

	cyl   []cylinder
	built bool
}

// MaxTemplateMinutiae bounds templates on decode.
const MaxTemplateMinutiae = 255

// FromSet makes a fingerprint template from a minutiae set.
func FromSet(s *template.Set) Template {
	t := Template{Modality: Finger, Width: s.Width, Height: s.Height, Quality: s.Quality}
	t.Minutiae = append(t.Minutiae, s.Minutiae...)
	if len(t.Minutiae) > MaxTemplateMinutiae {
		t.Minutiae = t.Minutiae[:MaxTemplateMinutiae]
	}
	t.build()
	return t
}

// Set returns the minutiae as a template.Set, e.g. to write an ISO/IEC
// 19794-2 record with Set().Record.
func (t *Template) Set() *template.Set {
	return &template.Set{Width: t.Width, Height: t.Height, Quality: t.Quality, Minutiae: append([]template.Point(nil), t.Minutiae...)}
}

func (t *Template) build() {
	ps := make([]point, len(t.Minutiae))
	for i, m := range t.Minutiae {
		// ISO angles are counter-clockwise with y down on screen: flipping
		// y gives an ordinary right-handed frame with the same angle.
		ps[i] = point{m.X, -m.Y, m.Angle}
	}
	t.cyl = cylinders(ps)
	t.built = true
}

// cylinders returns the template's cylinders, building them once.
func (t *Template) cylinders() []cylinder {
	if !t.built {
		t.build()
	}
	return t.cyl
}

// Binary layout (big endian):
//
//	"ETT" version(1)=1 modality(1) quality(1) width(2) height(2) count(2)
//	(12 bytes), then
//	count x { x(2, 1/8 px) y(2, 1/8 px) angle(2, 2π/65536) type(1) quality(1) }
var ttMagic = []byte("ETT\x01")

// ErrTemplate is wrapped by UnmarshalBinary errors.
var ErrTemplate = errors.New("match: invalid template")

// MarshalBinary encodes the template in 12 + 8n bytes.
func (t Template) MarshalBinary() ([]byte, error) {
	if len(t.Minutiae) > MaxTemplateMinutiae {
		return nil, fmt.Errorf("%w: %d minutiae", ErrTemplate, len(t.Minutiae))
	}
	b := make([]byte, 0, 12+8*len(t.Minutiae))
	b = append(b, ttMagic...)
	b = append(b, byte(t.Modality), t.Quality)
	b = binary.BigEndian.AppendUint16(b, clampU16(t.Width))
	b = binary.BigEndian.AppendUint16(b, clampU16(t.Height))
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Minutiae)))
	for _, m := range t.Minutiae {
		b = binary.BigEndian.AppendUint16(b, clampU16(m.X*8))
		b = binary.BigEndian.AppendUint16(b, clampU16(m.Y*8))
		a := math.Mod(m.Angle, 2*math.Pi)
		if a < 0 {
			a += 2 * math.Pi
		}
		b = binary.BigEndian.AppendUint16(b, uint16(int(math.Round(a/(2*math.Pi)*65536))&0xFFFF))
		b = append(b, byte(m.Type), m.Quality)
	}
	return b, nil
}

func clampU16(v float64) uint16 {
	r := math.Round(v)
	if !(r >= 0) {
		return 0
	}
	if r > 65535 {
		return 65535
	}
	return uint16(r)
}

// UnmarshalBinary decodes a template and rebuilds its cylinders.
func (t *Template) UnmarshalBinary(b []byte) error {
	if len(b) < 12 || string(b[:4]) != string(ttMagic) {
		return fmt.Errorf("%w: bad header", ErrTemplate)
	}
	mod := Modality(b[4])
	if mod != Finger {
		return &UnsupportedError{mod}
	}
	r := bytesx.NewReader(b, ErrTemplate)
	r.Skip(5)
	nt := Template{Modality: mod, Quality: r.U8(), Width: float64(r.U16()), Height: float64(r.U16())}
	n := int(r.U16())
	if n > MaxTemplateMinutiae || r.Len() != 8*n {
		return fmt.Errorf("%w: %d minutiae in %d bytes", ErrTemplate, n, len(b))
	}
	if nt.Quality > 100 {
		return fmt.Errorf("%w: quality %d", ErrTemplate, nt.Quality)
	}
	nt.Minutiae = make([]template.Point, n)
	for i := range nt.Minutiae {
		x, y, a := r.U16(), r.U16(), r.U16()
		typ, q := template.MinutiaType(r.U8()), r.U8()
		if typ > template.Bifurcation || q > 100 {
			return fmt.Errorf("%w: minutia %d", ErrTemplate, i)
		}
		nt.Minutiae[i] = template.Point{
			X:     float64(x) / 8,
			Y:     float64(y) / 8,
			Angle: float64(a) / 65536 * 2 * math.Pi,
			Type:  typ, Quality: q,
		}
	}
	nt.build()
	*t = nt
	return nil
}
