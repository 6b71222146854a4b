// C declarations of the ZXing-C++ shim (zxingcpp_shim.cpp).
#ifndef EDGETRUST_QRSCAN_ZXINGCPP_SHIM_H
#define EDGETRUST_QRSCAN_ZXINGCPP_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	ET_ZX_OK = 0,
	ET_ZX_NOT_FOUND = 1,
	ET_ZX_ERROR = 2,
};

enum {
	ET_ZX_TRY_HARDER = 1,
	ET_ZX_TRY_ROTATE = 2,
	ET_ZX_TRY_DOWNSCALE = 4,
	ET_ZX_PURE = 8,
};

int et_zxing_read(const unsigned char *gray, int width, int height, int flags, int binarizer, char **out,
                  size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
