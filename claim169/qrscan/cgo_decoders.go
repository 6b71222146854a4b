//go:build cgo

package qrscan

// #cgo CXXFLAGS: -std=c++17 -O2
// #cgo LDFLAGS: -lZXing -lzbar
// #include <stdlib.h>
// #include <string.h>
// #include <zbar.h>
// #include "zxingcpp_shim.h"
//
// // et_zbar_scan reads the first QR symbol of a Y800 (8-bit grey) buffer.
// // The buffer stays owned by the caller (NULL cleanup handler); the
// // result is copied into a malloc'd buffer the caller frees.
// static int et_zbar_scan(const unsigned char *gray, unsigned w, unsigned h, char **out, size_t *out_len) {
// 	*out = NULL;
// 	*out_len = 0;
// 	zbar_image_scanner_t *sc = zbar_image_scanner_create();
// 	if (!sc) return ET_ZX_ERROR;
// 	zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
// 	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
// 	zbar_image_t *im = zbar_image_create();
// 	if (!im) { zbar_image_scanner_destroy(sc); return ET_ZX_ERROR; }
// 	zbar_image_set_format(im, zbar_fourcc('Y', '8', '0', '0'));
// 	zbar_image_set_size(im, w, h);
// 	zbar_image_set_data(im, gray, (unsigned long)w * h, NULL);
// 	int rc = ET_ZX_NOT_FOUND;
// 	if (zbar_scan_image(sc, im) > 0) {
// 		for (const zbar_symbol_t *s = zbar_image_first_symbol(im); s; s = zbar_symbol_next(s)) {
// 			if (zbar_symbol_get_type(s) != ZBAR_QRCODE) continue;
// 			unsigned n = zbar_symbol_get_data_length(s);
// 			char *buf = malloc((size_t)n + 1);
// 			if (!buf) { rc = ET_ZX_ERROR; break; }
// 			memcpy(buf, zbar_symbol_get_data(s), n);
// 			buf[n] = 0;
// 			*out = buf;
// 			*out_len = n;
// 			rc = ET_ZX_OK;
// 			break;
// 		}
// 	}
// 	zbar_image_destroy(im);
// 	zbar_image_scanner_destroy(sc);
// 	return rc;
// }
import "C"

import (
	"errors"
	"image"
	"unsafe"
)

const (
	zxingCPPAvailable = true
	zbarAvailable     = true
)

var errCError = errors.New("qrscan: native decoder failed (out of memory or internal error)")

// cCopy copies the grey pixels into C memory: the C libraries never see
// Go memory, so a library that keeps or scribbles on its input cannot
// break Go's garbage collector or the caller's image. The caller frees it.
func cCopy(g *image.Gray) *C.uchar {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	p := C.malloc(C.size_t(w * h))
	if p == nil {
		return nil
	}
	dst := unsafe.Slice((*byte)(p), w*h)
	for y := 0; y < h; y++ {
		copy(dst[y*w:(y+1)*w], g.Pix[y*g.Stride:y*g.Stride+w])
	}
	return (*C.uchar)(p)
}

// takeResult converts a shim result into Go and frees the C buffer.
func takeResult(rc C.int, out *C.char, n C.size_t, name string) (string, error) {
	if out != nil {
		defer C.free(unsafe.Pointer(out))
	}
	switch rc {
	case C.ET_ZX_OK:
		return C.GoStringN(out, C.int(n)), nil
	case C.ET_ZX_NOT_FOUND:
		return "", &NotFoundError{Tried: []string{name}}
	}
	return "", errCError
}

func zxingCPPDecode(d ZXingCPP, g *image.Gray) (string, error) {
	buf := cCopy(g)
	if buf == nil {
		return "", errCError
	}
	defer C.free(unsafe.Pointer(buf))
	flags := C.int(0)
	if !d.NoTryHarder {
		flags |= C.ET_ZX_TRY_HARDER
	}
	if !d.NoTryRotate {
		flags |= C.ET_ZX_TRY_ROTATE
	}
	if !d.NoTryDownscale {
		flags |= C.ET_ZX_TRY_DOWNSCALE
	}
	var out *C.char
	var n C.size_t
	rc := C.et_zxing_read(buf, C.int(g.Rect.Dx()), C.int(g.Rect.Dy()), flags, C.int(d.Binarizer), &out, &n)
	return takeResult(rc, out, n, d.Name())
}

func zbarDecode(g *image.Gray) (string, error) {
	buf := cCopy(g)
	if buf == nil {
		return "", errCError
	}
	defer C.free(unsafe.Pointer(buf))
	var out *C.char
	var n C.size_t
	rc := C.et_zbar_scan(buf, C.uint(g.Rect.Dx()), C.uint(g.Rect.Dy()), &out, &n)
	return takeResult(rc, out, n, "zbar")
}
