package qrscan

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"time"
)

// Input limits. Images come from untrusted sources (uploads, cameras of
// unknown provenance), so everything is bounded before pixels are
// allocated.
const (
	MaxImageBytes  = 20 << 20   // encoded PNG/JPEG size
	MaxImagePixels = 12_000_000 // width × height: a 12 Mpx phone camera (4000×3000)
	MaxImageSide   = 1 << 14    // either dimension
	// MaxDecodedBytes bounds the pixel buffer the standard decoders would
	// allocate, computed from the header's colour model before decoding:
	// a 12 Mpx 8-bit RGBA PNG fits, the same PNG at 16 bits per channel
	// does not.
	MaxDecodedBytes = 48 << 20
	// MaxConcurrentDecodes bounds how many byte decodes (pixels plus the
	// scan ladder) run at once in a process, so that a burst of large
	// images queues instead of stacking up their buffers.
	MaxConcurrentDecodes = 2
	// DecodeWait is how long a decode waits for a free slot before
	// giving up with ErrBusy.
	DecodeWait = 2 * time.Second
)

// decodeSlots is the process-wide semaphore behind MaxConcurrentDecodes.
var (
	decodeSlots = make(chan struct{}, MaxConcurrentDecodes)
	decodeWait  = DecodeWait // tests shorten it
)

func acquire() error {
	select {
	case decodeSlots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(decodeWait)
	defer t.Stop()
	select {
	case decodeSlots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	}
}

func release() { <-decodeSlots }

var (
	// ErrNotFound is matched (errors.Is) by every "no QR code" failure.
	ErrNotFound = errors.New("qrscan: no QR code found in the image")
	// ErrTooLarge reports input over MaxImageBytes, MaxImagePixels or MaxImageSide.
	ErrTooLarge = errors.New("qrscan: image too large")
	// ErrFormat reports bytes that are not a decodable PNG or JPEG.
	ErrFormat = errors.New("qrscan: not a PNG or JPEG image")
	// ErrBusy reports that MaxConcurrentDecodes decodes were already
	// running for DecodeWait; callers answer "retry shortly" (503).
	ErrBusy = errors.New("qrscan: too many images being decoded; retry shortly")
	// ErrUnavailable is returned by decoders not compiled into this
	// binary (ZXingCPP and Zbar need cgo).
	ErrUnavailable = errors.New("qrscan: decoder not available in this build (needs cgo)")
)

// NotFoundError lists what was tried; it matches ErrNotFound.
type NotFoundError struct {
	Tried []string
}

func (e *NotFoundError) Error() string {
	return "qrscan: no QR code found in the image (tried " + strings.Join(e.Tried, ", ") + ")"
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Decoder reads one QR code from an image.
type Decoder interface {
	// Name identifies the decoder in errors and benchmark tables.
	Name() string
	// Decode returns the text of a QR code in img, or an error matching
	// ErrNotFound, ErrTooLarge or ErrUnavailable.
	Decode(img image.Image) (string, error)
}

// grayDecoder is implemented by every decoder in this package so that the
// Pipeline converts to grey once and shares the buffer between stages.
type grayDecoder interface {
	Decoder
	decodeGray(g *image.Gray) (string, error)
}

// Decode reads a QR code from img with the default Pipeline.
func Decode(img image.Image) (string, error) {
	return Pipeline{}.Decode(img)
}

// DecodeBytes decodes a PNG or JPEG (at most MaxImageBytes, MaxImagePixels)
// and reads a QR code from it with the default Pipeline.
func DecodeBytes(b []byte) (string, error) {
	if len(b) > MaxImageBytes {
		return "", fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), MaxImageBytes)
	}
	if err := acquire(); err != nil {
		return "", err
	}
	defer release()
	img, err := decodeImage(b)
	if err != nil {
		return "", err
	}
	return Decode(img)
}

// DecodeImage decodes PNG or JPEG bytes after checking the limits. Only
// these two formats are accepted, whatever image decoders the binary
// registers elsewhere. It waits for one of MaxConcurrentDecodes slots
// (ErrBusy after DecodeWait).
func DecodeImage(b []byte) (image.Image, error) {
	if len(b) > MaxImageBytes {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), MaxImageBytes)
	}
	if err := acquire(); err != nil {
		return nil, err
	}
	defer release()
	return decodeImage(b)
}

// decodeImage is DecodeImage once a slot is held and the byte size checked.
func decodeImage(b []byte) (img image.Image, err error) {
	var (
		decodeConfig func([]byte) (image.Config, error)
		decode       func([]byte) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	default:
		return nil, ErrFormat
	}
	// The header is checked first so that a small file declaring a huge
	// image cannot make the decoder allocate it.
	cfg, err := decodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	if n := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel); n > MaxDecodedBytes {
		return nil, fmt.Errorf("%w: %dx%d pixels would decode to %d MiB (limit %d MiB; send 8-bit colour or greyscale)", ErrTooLarge, cfg.Width, cfg.Height, n>>20, MaxDecodedBytes>>20)
	}
	defer func() {
		// The standard decoders are not expected to panic; this is a
		// last line of defence for untrusted input.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrFormat, r)
		}
	}()
	img, err = decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return img, nil
}

// bytesPerPixel is what the standard PNG and JPEG decoders allocate per
// pixel for a colour model (JPEG YCbCr counted as 4:4:4, its worst case).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // RGBA64, NRGBA64 and anything unexpected
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: empty image %dx%d", ErrFormat, w, h)
	}
	if w > MaxImageSide || h > MaxImageSide || w*h > MaxImagePixels {
		return fmt.Errorf("%w: %dx%d pixels (limits: %d pixels, %d per side)", ErrTooLarge, w, h, MaxImagePixels, MaxImageSide)
	}
	return nil
}

// decodeVia checks the image, converts it to grey and calls d.
func decodeVia(d grayDecoder, img image.Image) (string, error) {
	g, err := toGrayChecked(img)
	if err != nil {
		return "", err
	}
	return d.decodeGray(g)
}

func toGrayChecked(img image.Image) (*image.Gray, error) {
	if img == nil {
		return nil, fmt.Errorf("%w: nil image", ErrFormat)
	}
	b := img.Bounds()
	if err := checkSize(b.Dx(), b.Dy()); err != nil {
		return nil, err
	}
	return toGray(img), nil
}
