package qrscan

import (
	"errors"
	"image"
	"math"
)

// Prep is a preprocessing step applied to the grey image before a stage.
type Prep int

// Preprocessing steps. Results are cached per Decode call, so stages
// sharing a Prep pay for it once.
const (
	PrepNone     Prep = iota
	PrepUp2           // 2× bilinear enlargement: small modules, 45° rotation, noise, keystone
	PrepDown2         // 2× area shrink: averages away sensor noise
	PrepSmooth        // 3×3 box blur: sensor noise without losing resolution
	PrepSharpen       // unsharp mask: defocus blur
	PrepAdaptive      // local-mean threshold: strong lighting gradients
)

func (p Prep) String() string {
	switch p {
	case PrepNone:
		return "none"
	case PrepUp2:
		return "up2"
	case PrepDown2:
		return "down2"
	case PrepSmooth:
		return "smooth"
	case PrepSharpen:
		return "sharpen"
	case PrepAdaptive:
		return "adaptive"
	}
	return "unknown"
}

// Stage is one rung of a Pipeline's retry ladder.
type Stage struct {
	Prep Prep
	// MaxSide skips the stage when the image's longer side exceeds it
	// (0: no limit): enlarging an already large frame costs a lot and
	// does not help.
	MaxSide int
	// FullRes runs the stage on the original image even when the
	// Pipeline has shrunk a very large one (see normalizePixels).
	FullRes bool
	Decoder Decoder
}

func (s Stage) name() string {
	if s.Prep == PrepNone {
		return s.Decoder.Name()
	}
	return s.Decoder.Name() + "(" + s.Prep.String() + ")"
}

// Pipeline tries its stages in order and returns the first text read.
// The zero value uses DefaultStages().
type Pipeline struct {
	Stages []Stage
}

// normalizePixels bounds the work on large photos: above 4K UHD, stages
// (except FullRes ones) see a copy shrunk by an integer factor. A QR large
// enough to matter in a 12–40 MP photo still has several pixels per
// module afterwards, and the decoders' cost grows with pixel count
// (a 40 MP image with no code took ~6 s through the ladder without this,
// ~1.1 s with it, on this 2-core machine).
const normalizePixels = 3840 * 2160

// upscaleMaxSide bounds the 2× enlargement: up to 1080p camera frames
// (3840×2160 after enlargement), not multi-megapixel photos, whose
// modules are large enough anyway.
const upscaleMaxSide = 1920

// DefaultStages returns the measured ladder (docs/decisions/0006-qr-decoding.md).
// Cheap, high-yield stages come first, so most frames cost one ZXing-C++
// pass; zbar and gozxing run unmodified on what ZXing-C++ misses, which
// makes the pipeline read at least every image either of them reads.
// Without cgo only the gozxing stages remain.
func DefaultStages() []Stage {
	if !zxingCPPAvailable || !zbarAvailable {
		return []Stage{
			{Decoder: GoZXing{}},
			{Prep: PrepDown2, Decoder: GoZXing{}},
			{Prep: PrepUp2, MaxSide: upscaleMaxSide, Decoder: GoZXing{}},
			{Prep: PrepSharpen, Decoder: GoZXing{}},
			// gozxing misses some perfectly sharp small-module codes
			// that a slight blur makes readable.
			{Prep: PrepSmooth, Decoder: GoZXing{}},
		}
	}
	// On an enlarged image, TryDownscale would only undo the enlargement;
	// TryRotate (90° steps, for linear codes) changed no QR result.
	up := ZXingCPP{NoTryRotate: true, NoTryDownscale: true}
	upGlobal := up
	upGlobal.Binarizer = GlobalHistogram
	return []Stage{
		// Full resolution: ZXing-C++ is the fastest decoder and tries
		// downscaled copies itself, so small codes in big photos are
		// not lost to normalisation.
		{FullRes: true, Decoder: ZXingCPP{}},
		{Prep: PrepUp2, MaxSide: upscaleMaxSide, Decoder: up},
		{Prep: PrepDown2, Decoder: ZXingCPP{}},
		{Decoder: GoZXing{}},
		{Decoder: Zbar{}},
		{Prep: PrepUp2, MaxSide: upscaleMaxSide, Decoder: upGlobal},
	}
}

// Name implements Decoder.
func (p Pipeline) Name() string { return "pipeline" }

// Decode implements Decoder.
func (p Pipeline) Decode(img image.Image) (string, error) { return decodeVia(p, img) }

func (p Pipeline) decodeGray(g *image.Gray) (string, error) {
	stages := p.Stages
	if stages == nil {
		stages = DefaultStages()
	}
	full := map[Prep]*image.Gray{PrepNone: g}
	work := full
	if w, h := g.Rect.Dx(), g.Rect.Dy(); w*h > normalizePixels {
		k := int(math.Ceil(math.Sqrt(float64(w*h) / normalizePixels)))
		work = map[Prep]*image.Gray{PrepNone: scaleGray(g, 1, k)}
	}
	var tried []string
	var otherErr error // e.g. native out-of-memory; reported only if no stage ran cleanly
	notFound := false
	for _, s := range stages {
		cache := work
		if s.FullRes {
			cache = full
		}
		src := cache[PrepNone]
		if s.Decoder == nil || (s.MaxSide > 0 && max(src.Rect.Dx(), src.Rect.Dy()) > s.MaxSide) {
			continue
		}
		in, ok := cache[s.Prep]
		if !ok {
			in = prepare(src, s.Prep)
			cache[s.Prep] = in
		}
		var text string
		var err error
		if gd, ok := s.Decoder.(grayDecoder); ok {
			text, err = gd.decodeGray(in)
		} else {
			text, err = s.Decoder.Decode(in)
		}
		switch {
		case err == nil:
			return text, nil
		case errors.Is(err, ErrUnavailable):
			continue
		case errors.Is(err, ErrNotFound):
			notFound = true
		case otherErr == nil:
			otherErr = err
		}
		tried = append(tried, s.name())
	}
	if !notFound && otherErr != nil {
		return "", otherErr
	}
	if len(tried) == 0 {
		tried = []string{"no decoder available"}
	}
	return "", &NotFoundError{Tried: tried}
}

func prepare(g *image.Gray, p Prep) *image.Gray {
	switch p {
	case PrepUp2:
		return scaleGray(g, 2, 1)
	case PrepDown2:
		if g.Rect.Dx() < 2 || g.Rect.Dy() < 2 {
			return g
		}
		return scaleGray(g, 1, 2)
	case PrepSmooth:
		return boxBlur3(g)
	case PrepSharpen:
		return sharpen(g)
	case PrepAdaptive:
		// The window must span several modules; modules scale with the image.
		return adaptiveThreshold(g, max(7, min(g.Rect.Dx(), g.Rect.Dy())/40), 5)
	}
	return g
}
