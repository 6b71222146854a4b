package qrscan

import (
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

// GoZXing is the pure-Go port of ZXing (github.com/makiuchi-d/gozxing),
// with TRY_HARDER and ZXing's hybrid (local block) binariser. It is
// always available, including CGO_ENABLED=0 builds.
type GoZXing struct {
	// GlobalHistogram selects ZXing's global-histogram binariser instead
	// of the hybrid one; it copes better with blur, worse with gradients.
	GlobalHistogram bool
}

// Name implements Decoder.
func (d GoZXing) Name() string {
	if d.GlobalHistogram {
		return "gozxing-global"
	}
	return "gozxing"
}

// Decode implements Decoder.
func (d GoZXing) Decode(img image.Image) (string, error) { return decodeVia(d, img) }

func (d GoZXing) decodeGray(g *image.Gray) (text string, err error) {
	defer func() {
		// gozxing indexes slices computed from image content; a panic
		// there must not take the caller down.
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("%w: gozxing panic: %v", ErrNotFound, r)
		}
	}()
	src := &lumSource{LuminanceSourceBase: gozxing.LuminanceSourceBase{Width: g.Rect.Dx(), Height: g.Rect.Dy()}, pix: g.Pix}
	var bin gozxing.Binarizer
	if d.GlobalHistogram {
		bin = gozxing.NewGlobalHistgramBinarizer(src)
	} else {
		bin = gozxing.NewHybridBinarizer(src)
	}
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return "", &NotFoundError{Tried: []string{d.Name()}}
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, hints)
	if err != nil || res == nil {
		return "", &NotFoundError{Tried: []string{d.Name()}}
	}
	return res.GetText(), nil
}

// lumSource exposes a compact grey buffer to gozxing without the per-pixel
// image.At conversion of gozxing.NewLuminanceSourceFromImage.
type lumSource struct {
	gozxing.LuminanceSourceBase
	pix []byte // Width*Height, row-major; never modified
}

func (s *lumSource) GetRow(y int, row []byte) ([]byte, error) {
	if y < 0 || y >= s.Height {
		return row, fmt.Errorf("row %d outside image", y)
	}
	if len(row) < s.Width {
		row = make([]byte, s.Width)
	}
	copy(row, s.pix[y*s.Width:(y+1)*s.Width])
	return row, nil
}

func (s *lumSource) GetMatrix() []byte { return s.pix }

func (s *lumSource) Invert() gozxing.LuminanceSource { return gozxing.NewInvertedLuminanceSource(s) }

func (s *lumSource) String() string { return gozxing.LuminanceSourceString(s) }
