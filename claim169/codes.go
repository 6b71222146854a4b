package claim169

import "strconv"

// Code lists from the Claim 169 specification (v1.2.1). Values outside a list
// are kept as-is on decode so a newer issuer's codes survive; String reports
// them as unknown.

// Gender is claim 169 key 9. Zero means absent.
type Gender int64

const (
	GenderMale   Gender = 1
	GenderFemale Gender = 2
	GenderOther  Gender = 3
)

func (g Gender) String() string {
	return name(int64(g), "Gender", "", "Male", "Female", "Others")
}

// MaritalStatus is claim 169 key 14. Zero means absent.
type MaritalStatus int64

const (
	MaritalUnmarried MaritalStatus = 1
	MaritalMarried   MaritalStatus = 2
	MaritalDivorced  MaritalStatus = 3
)

func (m MaritalStatus) String() string {
	return name(int64(m), "MaritalStatus", "", "Unmarried", "Married", "Divorced")
}

// PhotoFormat is claim 169 key 17 (deprecated in v1.2.1 with key 16; use the
// face biometric, key 62). Zero means absent.
type PhotoFormat int64

const (
	PhotoJPEG     PhotoFormat = 1
	PhotoJPEG2000 PhotoFormat = 2
	PhotoAVIF     PhotoFormat = 3
	PhotoWEBP     PhotoFormat = 4
)

func (p PhotoFormat) String() string {
	return name(int64(p), "PhotoFormat", "", "JPEG", "JPEG2000", "AVIF", "WEBP")
}

// FingerPosition is an entry of claim 169 key 18 (best quality fingers).
type FingerPosition int64

const (
	FingerUnknown      FingerPosition = 0
	FingerRightThumb   FingerPosition = 1
	FingerRightIndex   FingerPosition = 2
	FingerRightMiddle  FingerPosition = 3
	FingerRightRing    FingerPosition = 4
	FingerRightLittle  FingerPosition = 5
	FingerLeftThumb    FingerPosition = 6
	FingerLeftIndex    FingerPosition = 7
	FingerLeftMiddle   FingerPosition = 8
	FingerLeftRing     FingerPosition = 9
	FingerLeftLittle   FingerPosition = 10
	maxFingerPositions                = 11
)

func (f FingerPosition) String() string {
	return name(int64(f), "FingerPosition", "Unknown", "RightThumb", "RightIndex", "RightMiddle",
		"RightRing", "RightLittle", "LeftThumb", "LeftIndex", "LeftMiddle", "LeftRing", "LeftLittle")
}

// BiometricFormat is key 1 of a biometric entry.
type BiometricFormat int64

const (
	FormatImage    BiometricFormat = 0
	FormatTemplate BiometricFormat = 1
	FormatSound    BiometricFormat = 2
	FormatBioHash  BiometricFormat = 3
)

func (f BiometricFormat) String() string {
	return name(int64(f), "BiometricFormat", "Image", "Template", "Sound", "BioHash")
}

// SubFormat is key 2 of a biometric entry. Its meaning depends on the
// entry's format; values 100 to 200 are vendor-specific.
type SubFormat int64

// Sub-formats of FormatImage.
const (
	ImagePNG      SubFormat = 0
	ImageJPEG     SubFormat = 1
	ImageJPEG2000 SubFormat = 2
	ImageAVIF     SubFormat = 3
	ImageWEBP     SubFormat = 4
	ImageTIFF     SubFormat = 5
	ImageWSQ      SubFormat = 6
)

// Sub-formats of FormatTemplate.
const (
	TemplateANSI378  SubFormat = 0
	TemplateISO19794 SubFormat = 1 // ISO/IEC 19794-2
	TemplateNIST     SubFormat = 2
)

// Sub-formats of FormatSound.
const (
	SoundWAV SubFormat = 0
	SoundMP3 SubFormat = 1
)

// SubFormatName names s as a sub-format of f.
func SubFormatName(f BiometricFormat, s SubFormat) string {
	if s >= 100 && s <= 200 {
		return "VendorSpecific(" + strconv.FormatInt(int64(s), 10) + ")"
	}
	switch f {
	case FormatImage:
		return name(int64(s), "SubFormat", "PNG", "JPEG", "JPEG2000", "AVIF", "WEBP", "TIFF", "WSQ")
	case FormatTemplate:
		return name(int64(s), "SubFormat", "ANSI378", "ISO19794-2", "NIST")
	case FormatSound:
		return name(int64(s), "SubFormat", "WAV", "MP3")
	}
	return "SubFormat(" + strconv.FormatInt(int64(s), 10) + ")"
}

// BiometricPart is a claim 169 biometric key (50 to 65).
type BiometricPart int

const (
	RightThumb         BiometricPart = 50
	RightPointerFinger BiometricPart = 51
	RightMiddleFinger  BiometricPart = 52
	RightRingFinger    BiometricPart = 53
	RightLittleFinger  BiometricPart = 54
	LeftThumb          BiometricPart = 55
	LeftPointerFinger  BiometricPart = 56
	LeftMiddleFinger   BiometricPart = 57
	LeftRingFinger     BiometricPart = 58
	LeftLittleFinger   BiometricPart = 59
	RightIris          BiometricPart = 60
	LeftIris           BiometricPart = 61
	Face               BiometricPart = 62
	RightPalm          BiometricPart = 63
	LeftPalm           BiometricPart = 64
	Voice              BiometricPart = 65
)

// biometricNames are the idpass JSON names, indexed by key-50.
var biometricNames = [...]string{
	"rightThumb", "rightPointerFinger", "rightMiddleFinger", "rightRingFinger", "rightLittleFinger",
	"leftThumb", "leftPointerFinger", "leftMiddleFinger", "leftRingFinger", "leftLittleFinger",
	"rightIris", "leftIris", "face", "rightPalm", "leftPalm", "voice",
}

// String returns the idpass JSON name of the part, e.g. "face".
func (p BiometricPart) String() string {
	if p >= RightThumb && p <= Voice {
		return biometricNames[p-RightThumb]
	}
	return "BiometricPart(" + strconv.Itoa(int(p)) + ")"
}

// name maps v to names[v]; "" entries and out-of-range values print as
// typ(v).
func name(v int64, typ string, names ...string) string {
	if v >= 0 && v < int64(len(names)) && names[v] != "" {
		return names[v]
	}
	return typ + "(" + strconv.FormatInt(v, 10) + ")"
}
