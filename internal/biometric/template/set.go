package template

import (
	"fmt"
	"math"
)

// Point is a minutia in the common internal form.
type Point struct {
	// X and Y are in pixels at 500 ppi, origin top left, y down.
	X, Y float64
	// Angle is in radians in [0, 2π), counter-clockwise from the x axis as
	// seen on the image (the ISO/ANSI convention: a direction vector is
	// (cos a, -sin a) in pixel coordinates). A ridge ending points along
	// its ridge, away from the tip; a bifurcation points between its two
	// branches.
	Angle   float64
	Type    MinutiaType
	Quality uint8 // 0..100, 0 when not reported
}

// Singular is a core or delta in the common form. For a delta, Angle is
// the first of its three directions.
type Singular struct {
	X, Y     float64
	HasAngle bool
	Angle    float64
}

// Set is one finger's minutiae in the common internal form.
type Set struct {
	// Width and Height of the image the minutiae came from, in pixels at
	// 500 ppi.
	Width, Height float64
	Position      uint8
	Quality       uint8 // finger quality 0..100, 0 when not reported
	Minutiae      []Point
	Cores, Deltas []Singular
}

// PixelsPerMM is the scale of Set coordinates: 500 ppi.
const PixelsPerMM = 500 / 25.4

// Set converts view i (0-based) to the common form, scaling positions to
// 500 ppi.
func (rec *Record) Set(i int) (*Set, error) {
	if i < 0 || i >= len(rec.Views) {
		return nil, fmt.Errorf("template: view %d of %d", i, len(rec.Views))
	}
	v := &rec.Views[i]
	if v.ResX == 0 || v.ResY == 0 {
		return nil, invalid("resolution %dx%d", v.ResX, v.ResY)
	}
	sx, sy := PPCM500/float64(v.ResX), PPCM500/float64(v.ResY)
	unit := rec.Format.AngleUnit()
	s := &Set{
		Width:    float64(v.Width) * sx,
		Height:   float64(v.Height) * sy,
		Position: v.Position,
		Quality:  v.Quality,
	}
	if s.Quality > 100 {
		s.Quality = 0
	}
	for _, m := range v.Minutiae {
		q := m.Quality
		if q > 100 {
			q = 0
		}
		s.Minutiae = append(s.Minutiae, Point{
			X: float64(m.X) * sx, Y: float64(m.Y) * sy,
			Angle: normAngle(float64(m.Angle) * unit), Type: m.Type, Quality: q,
		})
	}
	for _, c := range v.Cores {
		s.Cores = append(s.Cores, Singular{X: float64(c.X) * sx, Y: float64(c.Y) * sy, HasAngle: c.HasAngle, Angle: normAngle(float64(c.Angle) * unit)})
	}
	for _, d := range v.Deltas {
		s.Deltas = append(s.Deltas, Singular{X: float64(d.X) * sx, Y: float64(d.Y) * sy, HasAngle: d.HasAngles, Angle: normAngle(float64(d.Angles[0]) * unit)})
	}
	return s, nil
}

func normAngle(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a
}

// Options for building a record from a Set.
type Options struct {
	Position   uint8
	Impression uint8 // 0 live-scan plain
	// CaptureTime for ISO 2011; zero value means "unknown" (0xFF filler).
	CaptureTime [9]byte
	// Vendor and device identifiers; zero means unknown.
	DeviceVendor, DeviceType uint16
	// QualityVendor and QualityAlgorithm identify the finger quality
	// score (ISO 2011 quality block, ANSI 2009 view); zero vendor means
	// no quality block in ISO 2011.
	QualityVendor, QualityAlgorithm uint16
}

// Record builds a one-view record of format f from the set, at 500 ppi
// (197 px/cm). Positions are rounded to pixels and angles to the format's
// unit; at most 255 minutiae are kept (the formats' limit). ANSI records
// get a zero CBEFF product identifier: set CBEFFOwner and CBEFFType to the
// producer's registered values before marshalling if a peer requires them.
func (s *Set) Record(f Format, o Options) (*Record, error) {
	if f < ISO2005 || f > ANSI2009 {
		return nil, fmt.Errorf("%w: format %v", ErrInvalid, f)
	}
	w, h := clampDim(s.Width), clampDim(s.Height)
	unit := f.AngleUnit()
	steps := 256
	if f.ansi() {
		steps = 180
	}
	pos := o.Position
	if pos == 0 {
		pos = s.Position
	}
	v := View{
		Position: pos, Impression: o.Impression, Quality: s.Quality,
		Width: w, Height: h, ResX: PPCM500, ResY: PPCM500,
		QualityVendor: o.QualityVendor, QualityAlgorithm: o.QualityAlgorithm,
		DeviceVendor: o.DeviceVendor, DeviceType: o.DeviceType,
		MinutiaSize: 6,
	}
	if o.CaptureTime == ([9]byte{}) {
		for i := range v.CaptureTime {
			v.CaptureTime[i] = 0xFF
		}
	} else {
		v.CaptureTime = o.CaptureTime
	}
	if f == ISO2011 && o.QualityVendor != 0 {
		v.QualityBlocks = []QualityBlock{{Score: s.Quality, Vendor: o.QualityVendor, Algorithm: o.QualityAlgorithm}}
	}
	for i, m := range s.Minutiae {
		if i == 255 {
			break
		}
		a := int(math.Round(normAngle(m.Angle)/unit)) % steps
		v.Minutiae = append(v.Minutiae, Minutia{
			Type: m.Type, X: clampCoord(m.X, w), Y: clampCoord(m.Y, h),
			Angle: uint8(a), Quality: min(m.Quality, 100),
		})
	}
	if len(s.Cores) > 0 || len(s.Deltas) > 0 {
		v.HasCoreDelta = true
		for i, c := range s.Cores {
			if i == 15 {
				break
			}
			v.Cores = append(v.Cores, Core{X: clampCoord(c.X, w), Y: clampCoord(c.Y, h), HasAngle: c.HasAngle || f.ansi(), Angle: uint8(int(math.Round(normAngle(c.Angle)/unit)) % steps)})
		}
		for i, d := range s.Deltas {
			if i == 15 {
				break
			}
			a := uint8(int(math.Round(normAngle(d.Angle)/unit)) % steps)
			v.Deltas = append(v.Deltas, Delta{X: clampCoord(d.X, w), Y: clampCoord(d.Y, h), HasAngles: d.HasAngle || f.ansi(), Angles: [3]uint8{a, a, a}})
		}
	}
	rec := &Record{Format: f, Width: w, Height: h, ResX: PPCM500, ResY: PPCM500, Views: []View{v}}
	return rec, nil
}

func clampDim(v float64) uint16 {
	r := math.Round(v)
	if r < 1 {
		return 1
	}
	if r > 0x3FFF {
		return 0x3FFF
	}
	return uint16(r)
}

func clampCoord(v float64, lim uint16) uint16 {
	r := math.Round(v)
	if r < 0 {
		return 0
	}
	if r > float64(lim)-1 {
		return lim - 1
	}
	return uint16(r)
}
