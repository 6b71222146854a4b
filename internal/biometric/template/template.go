package template

import (
	"errors"
	"fmt"
	"math"
)

// Format is one of the supported record formats.
type Format int

const (
	// ISO2005 is ISO/IEC 19794-2:2005 (version " 20").
	ISO2005 Format = iota + 1
	// ISO2011 is ISO/IEC 19794-2:2011 (version "030", 19794-1 framing).
	ISO2011
	// ANSI2004 is ANSI INCITS 378-2004 (version " 20" with a CBEFF
	// product identifier).
	ANSI2004
	// ANSI2009 is ANSI INCITS 378-2009 (version "030" with per-view image
	// size, resolution and quality algorithm).
	ANSI2009
)

func (f Format) String() string {
	switch f {
	case ISO2005:
		return "ISO/IEC 19794-2:2005"
	case ISO2011:
		return "ISO/IEC 19794-2:2011"
	case ANSI2004:
		return "ANSI INCITS 378-2004"
	case ANSI2009:
		return "ANSI INCITS 378-2009"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ansi reports whether the format uses ANSI's 2-degree angle unit.
func (f Format) ansi() bool { return f == ANSI2004 || f == ANSI2009 }

// AngleUnit is the size in radians of one step of a raw minutia angle.
func (f Format) AngleUnit() float64 {
	if f.ansi() {
		return 2 * math.Pi / 180
	}
	return 2 * math.Pi / 256
}

// MinutiaType is the 2-bit minutia type.
type MinutiaType uint8

const (
	Other       MinutiaType = 0
	RidgeEnding MinutiaType = 1
	Bifurcation MinutiaType = 2
)

func (t MinutiaType) String() string {
	switch t {
	case Other:
		return "other"
	case RidgeEnding:
		return "ridge ending"
	case Bifurcation:
		return "bifurcation"
	}
	return fmt.Sprintf("MinutiaType(%d)", uint8(t))
}

// Minutia is one minutia as stored: raw angle in the format's unit,
// coordinates in the view's pixels.
type Minutia struct {
	Type    MinutiaType
	X, Y    uint16 // 14 bits each
	Angle   uint8  // ISO: 360/256 degrees per step; ANSI: 2 degrees (0..179)
	Quality uint8  // 0..100; ISO 2011 5-byte minutiae have none (254 here)
	// Reserved holds the 2 reserved bits above Y, kept for round trips.
	Reserved uint8
}

// RidgeCount is one ridge count extended-data item.
type RidgeCount struct {
	A, B  uint8 // minutia indices (1-based in the formats)
	Count uint8
}

// Core is a core point.
type Core struct {
	X, Y     uint16
	HasAngle bool
	Angle    uint8
}

// Delta is a delta point with its three ridge directions.
type Delta struct {
	X, Y      uint16
	HasAngles bool
	Angles    [3]uint8
}

// Extension is an extended data block this package does not interpret
// (zonal quality, vendor blocks), kept for round trips.
type Extension struct {
	Type uint16
	Data []byte
}

// QualityBlock is an ISO/IEC 19794-1:2011 quality record.
type QualityBlock struct {
	Score     uint8
	Vendor    uint16
	Algorithm uint16
}

// CertBlock is an ISO/IEC 19794-1:2011 certification record.
type CertBlock struct {
	Authority uint16
	Scheme    uint8
}

// View is one finger view (ISO 2005, ANSI) or finger representation (ISO
// 2011).
type View struct {
	Position   uint8 // 0 unknown, 1..10 right thumb .. left little, 11..15 plain
	ViewNumber uint8 // 0..15
	Impression uint8 // 0 live plain, 1 live rolled, 2/3 non-live, 8 swipe, ...
	Quality    uint8 // 0..100, 254/255 special (ANSI 2009)

	// Per-view image description. For ISO 2005 and ANSI 2004 these are
	// copied from the record header.
	Width, Height uint16
	ResX, ResY    uint16 // pixels per centimetre

	// ANSI 2009 quality algorithm.
	QualityVendor, QualityAlgorithm uint16

	// ISO 2011 representation header.
	CaptureTime   [9]byte // year(2) month day hour minute second millisecond(2); 0xFF = unknown
	DeviceTech    uint8
	DeviceVendor  uint16
	DeviceType    uint16
	QualityBlocks []QualityBlock
	CertBlocks    []CertBlock
	EndingType    uint8 // 0 valley skeleton bifurcation point, 1 ridge skeleton end point
	MinutiaSize   uint8 // 5 or 6 bytes (ISO 2011); 0 means choose on write

	Minutiae []Minutia

	HasRidgeCounts   bool
	RidgeCountMethod uint8
	RidgeCounts      []RidgeCount
	HasCoreDelta     bool
	Cores            []Core
	Deltas           []Delta
	Extensions       []Extension
}

// Record is a finger minutiae record.
type Record struct {
	Format Format

	// ANSI CBEFF product identifier.
	CBEFFOwner, CBEFFType uint16
	// Capture equipment compliance (4 bits) and ID (12 bits): ISO 2005
	// and ANSI.
	EquipmentCompliance uint8
	EquipmentID         uint16
	// Record-level image size and resolution (ISO 2005, ANSI 2004).
	Width, Height uint16
	ResX, ResY    uint16
	// CertFlag is the ISO 2011 device certification block flag.
	CertFlag bool

	Views []View

	// Warnings lists the tolerated producer quirks found while parsing.
	Warnings []string
}

// Errors wrapped by Parse.
var (
	ErrFormat    = errors.New("template: not a finger minutiae record")
	ErrTruncated = errors.New("template: record truncated")
	ErrInvalid   = errors.New("template: invalid record")
)

// Limits.
const (
	// MaxRecord is the largest record Parse accepts.
	MaxRecord = 1 << 20
	// MaxViews bounds views per record (ISO 2011 allows 176 at most).
	MaxViews = 176
)

// 500 ppi in pixels per centimetre, as the formats round it.
const PPCM500 = 197
