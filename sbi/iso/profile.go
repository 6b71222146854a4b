package iso

import "fmt"

// Compression and format codes used by the MOSIP profile (spec digest §8.2).
const (
	FingerWSQ         = 0x02
	FingerJP2Lossy    = 0x04
	FingerJP2Lossless = 0x05
	IrisJP2           = 0x0A // image format: monochrome JPEG 2000
	IrisLossless      = 0x01 // image properties bits 6-7
	IrisLossy         = 0x02
	IrisCropped       = 0x03 // image type K3
	IrisCroppedMasked = 0x07 // image type K7
	FaceJP2Lossy      = 0x01 // image data type
	FaceJP2Lossless   = 0x02
	minFingerPPI      = 490
	maxFingerPPI      = 1010
)

// IrisCompression returns the compression bits (0 undefined, 1 lossless,
// 2 lossy) of an iris image-properties byte.
func IrisCompression(props uint8) uint8 { return (props >> 6) & 0x03 }

// CheckProfile checks a parsed record against the MOSIP SBI capture
// profile for purpose "Auth" or "Registration". It returns every deviation
// found; nil means the record fits. It never looks at image content.
func (r *Record) CheckProfile(purpose string) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrField}, a...)...))
	}
	reg := purpose == "Registration"
	if purpose != "Auth" && !reg {
		bad("unknown purpose")
		return errs
	}
	if len(r.Representations) != 1 {
		bad("%d representations, want 1", len(r.Representations))
	}
	if r.Modality == Finger && r.Count != 1 {
		bad("%d fingers present, want 1", r.Count)
	}
	for i, p := range r.Representations {
		if !p.CaptureTime.Valid() {
			bad("representation %d: invalid capture date-time", i)
		}
		if p.DeviceTech > TechMaxDefined {
			bad("representation %d: capture device technology 0x%02X", i, p.DeviceTech)
		}
		for _, q := range p.Quality {
			if q.Score > 100 && q.Score != 255 {
				bad("representation %d: quality score %d", i, q.Score)
			}
		}
		switch r.Modality {
		case Finger:
			if reg && p.Compression != FingerJP2Lossless {
				bad("representation %d: finger compression 0x%02X, want JPEG 2000 lossless", i, p.Compression)
			}
			if !reg && p.Compression != FingerJP2Lossy && p.Compression != FingerWSQ {
				bad("representation %d: finger compression 0x%02X, want JPEG 2000 lossy or WSQ", i, p.Compression)
			}
			if p.BitDepth != 8 {
				bad("representation %d: bit depth %d, want 8", i, p.BitDepth)
			}
			if ppi, ok := fingerPPI(p.ScaleUnits, p.ImageResX); !ok || ppi < minFingerPPI || ppi > maxFingerPPI {
				bad("representation %d: horizontal sampling rate out of range", i)
			}
			if ppi, ok := fingerPPI(p.ScaleUnits, p.ImageResY); !ok || ppi < minFingerPPI || ppi > maxFingerPPI {
				bad("representation %d: vertical sampling rate out of range", i)
			}
			if p.Position > 10 || (reg && p.Position == 0) {
				bad("representation %d: finger position %d", i, p.Position)
			}
		case Iris:
			if p.ImageFormat != IrisJP2 {
				bad("representation %d: iris image format 0x%02X, want JPEG 2000", i, p.ImageFormat)
			}
			if p.BitDepth != 8 {
				bad("representation %d: bit depth %d, want 8", i, p.BitDepth)
			}
			if reg {
				if p.ImageType != IrisCropped {
					bad("representation %d: iris image type 0x%02X, want K3", i, p.ImageType)
				}
				if c := IrisCompression(p.Properties); c != IrisLossless && c != 0 {
					bad("representation %d: iris compression %d, want lossless", i, c)
				}
				if p.EyeLabel != 1 && p.EyeLabel != 2 {
					bad("representation %d: eye label %d", i, p.EyeLabel)
				}
			} else {
				if p.ImageType != IrisCroppedMasked {
					bad("representation %d: iris image type 0x%02X, want K7", i, p.ImageType)
				}
				if c := IrisCompression(p.Properties); c != IrisLossy {
					bad("representation %d: iris compression %d, want lossy", i, c)
				}
				if p.EyeLabel > 2 {
					bad("representation %d: eye label %d", i, p.EyeLabel)
				}
			}
		case Face:
			want := uint8(FaceJP2Lossy)
			if reg {
				want = FaceJP2Lossless
			}
			if p.ImageDataType != want {
				bad("representation %d: face image data type 0x%02X, want 0x%02X", i, p.ImageDataType, want)
			}
		}
	}
	return errs
}

// fingerPPI converts a resolution to pixels per inch.
func fingerPPI(units uint8, v uint16) (int, bool) {
	switch units {
	case PixelsPerInch:
		return int(v), true
	case PixelsPerCentimetre:
		return int(v) * 254 / 100, true
	}
	return 0, false
}
