package sensors

import (
	"bytes"
	"embed"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

// Portraits of FaceIdentities different people (samples/faces/SOURCES.md):
// the only face data we may ship. Synthetic person N shows face N mod
// FaceIdentities, so persons N and N+FaceIdentities share a face.
//
//go:embed samples/faces/*.jpg
var faces embed.FS

// FaceIdentities is how many different faces the emulated face sensor has.
const FaceIdentities = 12

// IrisSeedBase is the irissynth base seed of the synthetic people's eyes:
// person N's left eye is identity irissynth.Seed(IrisSeedBase, 2N), the
// right irissynth.Seed(IrisSeedBase, 2N+1).
const IrisSeedBase = 0x65796573 // "eyes"

// irisImage renders capture k of person seed's eye: a fresh capture each
// time (rotation, pupil dilation, eyelids, blur and noise vary within what
// a cooperative subject at a kiosk gives), JPEG 2000 coded and wrapped in
// an ISO/IEC 19794-6 record as the MOSIP profile asks for purpose.
func irisRecord(seed uint64, eye string, k uint64, purpose string, quality float64) ([]byte, error) {
	right := eye == "Right"
	idx := 2 * seed
	if right {
		idx++
	}
	r := rand.New(rand.NewPCG(seed, k))
	c := irissynth.Capture{Seed: r.Uint64(), Rotation: (r.Float64() - 0.5) * 0.2, Dilation: 0.3 + 0.2*r.Float64(),
		Occlusion: 0.3 * r.Float64(), Blur: 0.5 + 0.7*r.Float64(), Noise: 2 + 2*r.Float64()}
	img, _ := irissynth.New(irissynth.Seed(IrisSeedBase, idx)).Image(c)
	label := uint8(0) // undefined, for an UNKNOWN eye
	switch eye {
	case "Right":
		label = 1
	case "Left":
		label = 2
	}
	reg := purpose == sbi.PurposeRegistration
	opt, typ, comp := jp2.Options{Ratio: 10}, uint8(iso.IrisCroppedMasked), uint8(iso.IrisLossy)
	if reg {
		opt, typ, comp = jp2.Options{Lossless: true}, iso.IrisCropped, iso.IrisLossless
		if label == 0 {
			label = 2
		}
	}
	data, err := jp2.Encode(img, opt)
	if err != nil {
		return nil, err
	}
	return isoimage.IrisRecord(isoimage.Header{Captured: time.Now(), Quality: uint8(quality)}, label, typ, isoimage.IrisJP2, comp,
		img.Rect.Dx(), img.Rect.Dy(), data)
}

// faceRecord renders capture k of person seed's face: the person's
// portrait shifted by a few pixels, with a brightness change and sensor
// noise, JPEG 2000 coded (lossless for registration, lossy 10:1 for auth)
// in an ISO/IEC 19794-5 record.
func faceRecord(seed uint64, k uint64, purpose string, quality float64) ([]byte, error) {
	b, err := faces.ReadFile(fmt.Sprintf("samples/faces/face_%02d.jpg", seed%FaceIdentities))
	if err != nil {
		return nil, err
	}
	src, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, k^0x66616365))
	bd := src.Bounds()
	dx, dy := r.IntN(9)-4, r.IntN(9)-4
	gain := 0.9 + 0.2*r.Float64()
	img := image.NewRGBA(image.Rect(0, 0, bd.Dx(), bd.Dy()))
	for y := 0; y < bd.Dy(); y++ {
		for x := 0; x < bd.Dx(); x++ {
			sx, sy := min(max(x+dx, 0), bd.Dx()-1), min(max(y+dy, 0), bd.Dy()-1)
			c := color.RGBAModel.Convert(src.At(bd.Min.X+sx, bd.Min.Y+sy)).(color.RGBA)
			n := r.NormFloat64() * 2
			px := func(v uint8) uint8 { return uint8(math.Max(0, math.Min(255, float64(v)*gain+n))) }
			img.SetRGBA(x, y, color.RGBA{px(c.R), px(c.G), px(c.B), 255})
		}
	}
	opt, typ := jp2.Options{Ratio: 10}, uint8(isoimage.FaceJP2Lossy)
	if purpose == sbi.PurposeRegistration {
		opt, typ = jp2.Options{Lossless: true}, isoimage.FaceJP2Lossless
	}
	data, err := jp2.EncodeRGB(img, opt)
	if err != nil {
		return nil, err
	}
	return isoimage.FaceRecord(isoimage.Header{Captured: time.Now(), Quality: uint8(quality)}, typ, bd.Dx(), bd.Dy(), data)
}
