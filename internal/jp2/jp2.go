package jp2

/*
#cgo pkg-config: libopenjp2
#include <stdlib.h>
#include "codec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"unsafe"
)

// Format is the container written by Encode.
type Format int

const (
	// JP2 is the JPEG 2000 file format (boxes around the codestream), what
	// MOSIP's records carry.
	JP2 Format = iota
	// J2K is the bare codestream.
	J2K
)

// Options control encoding.
type Options struct {
	Lossless bool
	// Ratio is the target compression ratio for lossy encoding; 0 means 10.
	// MOSIP allows at most 15:1 for authentication images.
	Ratio  float32
	Format Format
}

// MaxPixels bounds what Decode accepts by default: larger than any
// fingerprint image, small enough that a hostile header cannot make the
// decoder allocate gigabytes.
const MaxPixels = 4096 * 4096

// Info describes a decoded image.
type Info struct {
	Width, Height int
	Components    int
	Precision     int  // bits per sample of component 0
	Signed        bool // component 0 is signed
	// Reversible is true for the 5/3 (lossless) wavelet and false for 9/7.
	Reversible bool
	// ReversibleKnown is false when the codestream did not say.
	ReversibleKnown bool
	Layers          int
	Resolutions     int
}

// Encode compresses img.
func Encode(img *image.Gray, opt Options) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w*h > MaxPixels {
		return nil, fmt.Errorf("jp2: cannot encode a %dx%d image", w, h)
	}
	pix := img.Pix
	if img.Stride != w || len(img.Pix) != w*h {
		pix = make([]byte, 0, w*h)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			off := img.PixOffset(b.Min.X, y)
			pix = append(pix, img.Pix[off:off+w]...)
		}
	}
	return encode(pix, w, h, 1, opt)
}

// EncodeRGB compresses img as three-component sRGB (alpha is dropped),
// with the multiple-component transform: what an ISO/IEC 19794-5 colour
// face image carries. DecodeRGB reads it back.
func EncodeRGB(img image.Image, opt Options) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w*h > MaxPixels {
		return nil, fmt.Errorf("jp2: cannot encode a %dx%d image", w, h)
	}
	pix := make([]byte, 0, 3*w*h)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			pix = append(pix, c.R, c.G, c.B)
		}
	}
	return encode(pix, w, h, 3, opt)
}

func encode(pix []byte, w, h, comps int, opt Options) ([]byte, error) {
	ratio := opt.Ratio
	if ratio == 0 {
		ratio = 10
	}
	if !opt.Lossless && (ratio < 1 || ratio > 1000) {
		return nil, fmt.Errorf("jp2: compression ratio %v out of range", ratio)
	}
	lossless := C.int(0)
	if opt.Lossless {
		lossless = 1
	}
	var out *C.uint8_t
	var outlen C.size_t
	var cerr [C.ET_ERRLEN]C.char
	ok := C.et_encode_comps((*C.uint8_t)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(comps), lossless, C.float(ratio),
		C.int(opt.Format), &out, &outlen, &cerr[0])
	if ok == 0 {
		return nil, fmt.Errorf("jp2: encode: %s", C.GoString(&cerr[0]))
	}
	defer C.et_free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(outlen)), nil
}

// ErrFormat is returned for data that is neither a JP2 file nor a J2K codestream.
var ErrFormat = errors.New("jp2: not a JP2 file or J2K codestream")

// Decode decompresses a JP2 file or J2K codestream and returns component 0
// as 8-bit grey, refusing images over maxPixels (0 means MaxPixels).
func Decode(data []byte, maxPixels int) (*image.Gray, Info, error) {
	pix, info, err := decode(data, maxPixels, false)
	if err != nil {
		return nil, Info{}, err
	}
	defer C.et_free(unsafe.Pointer(pix))
	img := image.NewGray(image.Rect(0, 0, info.Width, info.Height))
	copy(img.Pix, unsafe.Slice((*byte)(unsafe.Pointer(pix)), info.Width*info.Height))
	return img, info, nil
}

// DecodeRGB decompresses a JP2 file or J2K codestream into an RGBA image
// (alpha opaque): grey is replicated, sRGB kept, sYCC converted; it refuses
// images over maxPixels (0 means MaxPixels) before decoding any tile, and
// refuses subsampled components and other colour spaces. ISO/IEC 19794-5
// face images need it; Decode stays the grey path for fingerprints and irises.
func DecodeRGB(data []byte, maxPixels int) (*image.RGBA, Info, error) {
	pix, info, err := decode(data, maxPixels, true)
	if err != nil {
		return nil, Info{}, err
	}
	defer C.et_free(unsafe.Pointer(pix))
	img := image.NewRGBA(image.Rect(0, 0, info.Width, info.Height))
	src := unsafe.Slice((*byte)(unsafe.Pointer(pix)), 3*info.Width*info.Height)
	for i := 0; i < info.Width*info.Height; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = src[3*i], src[3*i+1], src[3*i+2], 0xff
	}
	return img, info, nil
}

// decode runs the grey or the RGB decoder of codec.c. On success the
// caller owns the pixel buffer and frees it with C.et_free.
func decode(data []byte, maxPixels int, rgb bool) (*C.uint8_t, Info, error) {
	if maxPixels <= 0 || maxPixels > MaxPixels {
		maxPixels = MaxPixels
	}
	if len(data) < 4 {
		return nil, Info{}, ErrFormat
	}
	var pix *C.uint8_t
	var ci C.et_info
	var cerr [C.ET_ERRLEN]C.char
	in, n, limit := (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), C.long(maxPixels)
	var ok C.int
	if rgb {
		ok = C.et_decode_rgb(in, n, limit, &pix, &ci, &cerr[0])
	} else {
		ok = C.et_decode(in, n, limit, &pix, &ci, &cerr[0])
	}
	if ok == 0 {
		msg := C.GoString(&cerr[0])
		if msg == "not a JP2 file or J2K codestream" {
			return nil, Info{}, ErrFormat
		}
		return nil, Info{}, fmt.Errorf("jp2: decode: %s", msg)
	}
	return pix, Info{
		Width: int(ci.width), Height: int(ci.height), Components: int(ci.comps),
		Precision: int(ci.prec), Signed: ci.sgnd != 0,
		Reversible: ci.reversible == 1, ReversibleKnown: ci.reversible >= 0,
		Layers: int(ci.layers), Resolutions: int(ci.resolutions),
	}, nil
}
