//go:build cgo

// C ABI shim over ZXing-C++ (Debian libzxing-dev 1.4). Go calls
// et_zxing_read with a grey buffer it owns; the result text is returned in
// a malloc'd buffer that the Go side frees. No C++ exception may cross
// into Go, so everything is caught here.

#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "zxingcpp_shim.h"

extern "C" int et_zxing_read(const unsigned char *gray, int width, int height, int flags, int binarizer,
                             char **out, size_t *out_len)
{
	*out = nullptr;
	*out_len = 0;
	if (gray == nullptr || width <= 0 || height <= 0)
		return ET_ZX_NOT_FOUND;
	try {
		ZXing::ImageView view(gray, width, height, ZXing::ImageFormat::Lum);
		ZXing::DecodeHints hints;
		hints.setFormats(ZXing::BarcodeFormat::QRCode);
		hints.setTryHarder(flags & ET_ZX_TRY_HARDER);
		hints.setTryRotate(flags & ET_ZX_TRY_ROTATE);
		hints.setTryDownscale(flags & ET_ZX_TRY_DOWNSCALE);
		hints.setIsPure(flags & ET_ZX_PURE);
		switch (binarizer) {
		case 1: hints.setBinarizer(ZXing::Binarizer::GlobalHistogram); break;
		case 2: hints.setBinarizer(ZXing::Binarizer::FixedThreshold); break;
		default: hints.setBinarizer(ZXing::Binarizer::LocalAverage); break;
		}
		hints.setMaxNumberOfSymbols(1);
		ZXing::Results results = ZXing::ReadBarcodes(view, hints);
		for (const auto &r : results) {
			if (!r.isValid() || r.format() != ZXing::BarcodeFormat::QRCode)
				continue;
			const std::string text = r.text();
			char *buf = static_cast<char *>(std::malloc(text.size() + 1));
			if (buf == nullptr)
				return ET_ZX_ERROR;
			std::memcpy(buf, text.data(), text.size());
			buf[text.size()] = 0;
			*out = buf;
			*out_len = text.size();
			return ET_ZX_OK;
		}
		return ET_ZX_NOT_FOUND;
	} catch (...) {
		return ET_ZX_ERROR;
	}
}
