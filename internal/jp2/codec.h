#ifndef EDGETRUST_JP2_CODEC_H
#define EDGETRUST_JP2_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define ET_ERRLEN 256

typedef struct {
	int width, height, comps, prec, sgnd;
	int reversible; /* 1 = 5/3 reversible wavelet, 0 = 9/7 irreversible, -1 unknown */
	int layers, resolutions;
} et_info;

/* Encode an 8-bit grey image. format 0 = JP2 file, 1 = raw J2K codestream.
 * lossless != 0 selects the reversible 5/3 path; otherwise ratio is the
 * target compression ratio of the single quality layer.
 * On success *out is malloc'ed and owned by the caller (et_free). */
int et_encode(const uint8_t *pix, int w, int h, int lossless, float ratio, int format,
              uint8_t **out, size_t *outlen, char *err);

/* Like et_encode for comps = 1 (grey) or 3 (sRGB, interleaved RGB bytes,
 * with the multiple-component transform). */
int et_encode_comps(const uint8_t *pix, int w, int h, int comps, int lossless, float ratio, int format,
                    uint8_t **out, size_t *outlen, char *err);

/* Decode a JP2 file or J2K codestream. Images larger than max_pixels are
 * refused after the header is read, before any tile is decoded.
 * On success *pix holds w*h bytes of component 0 (owned by the caller). */
int et_decode(const uint8_t *data, size_t len, long max_pixels,
              uint8_t **pix, et_info *info, char *err);

/* Like et_decode, but returns w*h*3 bytes of 8-bit RGB: grey images are
 * replicated, three-component sRGB or sYCC (converted) images kept in
 * order; subsampled components and other colour spaces are refused. */
int et_decode_rgb(const uint8_t *data, size_t len, long max_pixels,
                  uint8_t **pix, et_info *info, char *err);

void et_free(void *p);

#endif
