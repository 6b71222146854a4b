package qrscan

import "image"

// ZXBinarizer selects ZXing-C++'s grey-to-binary method.
type ZXBinarizer int

// ZXing-C++ binarisers (ZXing::Binarizer).
const (
	LocalAverage    ZXBinarizer = iota // hybrid local-block threshold (default)
	GlobalHistogram                    // valley between the two histogram peaks
	FixedThreshold                     // T = 127; for pre-binarised input
)

// ZXingCPP is ZXing-C++ (Debian libzxing-dev 1.4) through a cgo shim.
// The zero value enables TryHarder, TryRotate and TryDownscale with the
// local-average binariser. It needs cgo; without it Decode returns
// ErrUnavailable.
type ZXingCPP struct {
	Binarizer      ZXBinarizer
	NoTryHarder    bool
	NoTryRotate    bool // rotation by 90°/180° only matters for linear codes
	NoTryDownscale bool // pointless on an image we just enlarged
}

// Name implements Decoder.
func (d ZXingCPP) Name() string {
	n := "zxing-cpp"
	switch d.Binarizer {
	case GlobalHistogram:
		n += "-global"
	case FixedThreshold:
		n += "-fixed"
	}
	if d.NoTryHarder {
		n += "-noharder"
	}
	if d.NoTryRotate {
		n += "-norotate"
	}
	if d.NoTryDownscale {
		n += "-nodownscale"
	}
	return n
}

// Decode implements Decoder.
func (d ZXingCPP) Decode(img image.Image) (string, error) {
	if !zxingCPPAvailable {
		return "", ErrUnavailable
	}
	return decodeVia(d, img)
}

func (d ZXingCPP) decodeGray(g *image.Gray) (string, error) { return zxingCPPDecode(d, g) }

// Zbar is the zbar library (Debian libzbar-dev) through cgo, QR only. It
// needs cgo; without it Decode returns ErrUnavailable.
type Zbar struct{}

// Name implements Decoder.
func (Zbar) Name() string { return "zbar" }

// Decode implements Decoder.
func (d Zbar) Decode(img image.Image) (string, error) {
	if !zbarAvailable {
		return "", ErrUnavailable
	}
	return decodeVia(d, img)
}

func (d Zbar) decodeGray(g *image.Gray) (string, error) { return zbarDecode(g) }
