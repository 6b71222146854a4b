//go:build !cgo

package qrscan

import "image"

// Without cgo only the pure-Go decoder exists; the native ones report
// ErrUnavailable and the Pipeline skips them.
const (
	zxingCPPAvailable = false
	zbarAvailable     = false
)

func zxingCPPDecode(ZXingCPP, *image.Gray) (string, error) { return "", ErrUnavailable }

func zbarDecode(*image.Gray) (string, error) { return "", ErrUnavailable }
