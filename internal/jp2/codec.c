// In-memory JPEG 2000 encode and decode of 8-bit grey images with OpenJPEG.
// OpenJPEG only reads and writes through streams, so the streams here are
// backed by growable memory buffers instead of files.

#include "codec.h"

#include <stdlib.h>
#include <string.h>
#include <openjpeg.h>

#define ET_MAX_OUT (64u << 20) /* no encoded image of ours comes near this */
#define ET_CHUNK 65536

static void et_keep_first(const char *msg, void *client) {
	char *err = (char *)client;
	if (err[0] != 0) {
		return;
	}
	strncpy(err, msg, ET_ERRLEN - 1);
	err[ET_ERRLEN - 1] = 0;
	size_t n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == '\r')) {
		err[--n] = 0;
	}
}

static void et_quiet(const char *msg, void *client) {
	(void)msg;
	(void)client;
}

static void et_set(char *err, const char *msg) {
	if (err[0] == 0) {
		et_keep_first(msg, err);
	}
}

/* ---- memory streams ---- */

typedef struct {
	uint8_t *data;
	size_t len, cap, pos;
} et_wbuf;

static int et_grow(et_wbuf *b, size_t need) {
	if (need <= b->cap) {
		return 1;
	}
	if (need > ET_MAX_OUT) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < need) {
		cap *= 2;
	}
	if (cap > ET_MAX_OUT) {
		cap = ET_MAX_OUT;
	}
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		return 0;
	}
	memset(p + b->cap, 0, cap - b->cap);
	b->data = p;
	b->cap = cap;
	return 1;
}

static OPJ_SIZE_T et_write(void *src, OPJ_SIZE_T n, void *user) {
	et_wbuf *b = user;
	if (!et_grow(b, b->pos + n)) {
		return (OPJ_SIZE_T)-1;
	}
	memcpy(b->data + b->pos, src, n);
	b->pos += n;
	if (b->pos > b->len) {
		b->len = b->pos;
	}
	return n;
}

static OPJ_OFF_T et_wskip(OPJ_OFF_T n, void *user) {
	et_wbuf *b = user;
	if (n < 0 && (size_t)(-n) > b->pos) {
		return -1;
	}
	size_t to = b->pos + n;
	if (!et_grow(b, to)) {
		return -1;
	}
	b->pos = to;
	if (b->pos > b->len) {
		b->len = b->pos;
	}
	return n;
}

static OPJ_BOOL et_wseek(OPJ_OFF_T off, void *user) {
	et_wbuf *b = user;
	if (off < 0 || !et_grow(b, (size_t)off)) {
		return OPJ_FALSE;
	}
	b->pos = (size_t)off;
	if (b->pos > b->len) {
		b->len = b->pos;
	}
	return OPJ_TRUE;
}

typedef struct {
	const uint8_t *data;
	size_t len, pos;
} et_rbuf;

static OPJ_SIZE_T et_read(void *dst, OPJ_SIZE_T n, void *user) {
	et_rbuf *b = user;
	if (b->pos >= b->len) {
		return (OPJ_SIZE_T)-1;
	}
	size_t left = b->len - b->pos;
	if (n > left) {
		n = left;
	}
	memcpy(dst, b->data + b->pos, n);
	b->pos += n;
	return n;
}

static OPJ_OFF_T et_rskip(OPJ_OFF_T n, void *user) {
	et_rbuf *b = user;
	if (n < 0) {
		if ((size_t)(-n) > b->pos) {
			return -1;
		}
		b->pos += n;
		return n;
	}
	size_t left = b->len - b->pos;
	if (left == 0) {
		return -1;
	}
	if ((size_t)n > left) {
		n = (OPJ_OFF_T)left;
	}
	b->pos += (size_t)n;
	return n;
}

static OPJ_BOOL et_rseek(OPJ_OFF_T off, void *user) {
	et_rbuf *b = user;
	if (off < 0 || (size_t)off > b->len) {
		return OPJ_FALSE;
	}
	b->pos = (size_t)off;
	return OPJ_TRUE;
}

static void et_handlers(opj_codec_t *c, char *err) {
	opj_set_error_handler(c, et_keep_first, err);
	opj_set_warning_handler(c, et_quiet, NULL);
	opj_set_info_handler(c, et_quiet, NULL);
}

/* ---- encode ---- */

int et_encode(const uint8_t *pix, int w, int h, int lossless, float ratio, int format,
              uint8_t **out, size_t *outlen, char *err) {
	return et_encode_comps(pix, w, h, 1, lossless, ratio, format, out, outlen, err);
}

int et_encode_comps(const uint8_t *pix, int w, int h, int comps, int lossless, float ratio, int format,
                    uint8_t **out, size_t *outlen, char *err) {
	int ok = 0;
	opj_image_t *img = NULL;
	opj_codec_t *codec = NULL;
	opj_stream_t *st = NULL;
	et_wbuf b = {0};

	*out = NULL;
	*outlen = 0;
	if (w <= 0 || h <= 0) {
		et_set(err, "empty image");
		return 0;
	}
	if (comps != 1 && comps != 3) {
		et_set(err, "only 1 or 3 components");
		return 0;
	}

	opj_cparameters_t p;
	opj_set_default_encoder_parameters(&p);
	p.tcp_numlayers = 1;
	p.cp_disto_alloc = 1;
	p.tcp_rates[0] = lossless ? 0 : ratio;
	p.irreversible = lossless ? 0 : 1;
	p.tcp_mct = comps == 3 ? 1 : 0;
	/* Each resolution level halves the image; OpenJPEG refuses more levels
	 * than the smaller side allows. */
	int res = 6;
	int side = w < h ? w : h;
	while (res > 1 && (1 << (res - 1)) > side) {
		res--;
	}
	p.numresolution = res;

	opj_image_cmptparm_t cp[3];
	memset(cp, 0, sizeof cp);
	for (int c = 0; c < comps; c++) {
		cp[c].dx = 1;
		cp[c].dy = 1;
		cp[c].w = (OPJ_UINT32)w;
		cp[c].h = (OPJ_UINT32)h;
		cp[c].prec = 8;
		cp[c].sgnd = 0;
	}
	img = opj_image_create((OPJ_UINT32)comps, cp, comps == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
	if (!img) {
		et_set(err, "out of memory");
		goto done;
	}
	img->x0 = 0;
	img->y0 = 0;
	img->x1 = (OPJ_UINT32)w;
	img->y1 = (OPJ_UINT32)h;
	size_t npix = (size_t)w * (size_t)h;
	for (size_t i = 0; i < npix; i++) {
		for (int c = 0; c < comps; c++) {
			img->comps[c].data[i] = pix[i * (size_t)comps + (size_t)c];
		}
	}

	codec = opj_create_compress(format == 1 ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
	if (!codec) {
		et_set(err, "cannot create encoder");
		goto done;
	}
	et_handlers(codec, err);
	if (!opj_setup_encoder(codec, &p, img)) {
		et_set(err, "encoder setup failed");
		goto done;
	}
	st = opj_stream_create(ET_CHUNK, OPJ_FALSE);
	if (!st) {
		et_set(err, "cannot create stream");
		goto done;
	}
	opj_stream_set_user_data(st, &b, NULL);
	opj_stream_set_write_function(st, et_write);
	opj_stream_set_skip_function(st, et_wskip);
	opj_stream_set_seek_function(st, et_wseek);
	if (!opj_start_compress(codec, img, st) || !opj_encode(codec, st) || !opj_end_compress(codec, st)) {
		et_set(err, "encoding failed");
		goto done;
	}
	*out = b.data;
	*outlen = b.len;
	b.data = NULL;
	ok = 1;
done:
	if (st) opj_stream_destroy(st);
	if (codec) opj_destroy_codec(codec);
	if (img) opj_image_destroy(img);
	free(b.data);
	return ok;
}

/* ---- decode ---- */

static const uint8_t jp2_magic[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
static const uint8_t j2k_magic[4] = {0xFF, 0x4F, 0xFF, 0x51};

/* et_decoder is one decode in progress; et_close frees what it holds. */
typedef struct {
	et_rbuf b;
	opj_codec_t *codec;
	opj_stream_t *st;
	opj_image_t *img;
	long long area; /* of the image canvas, checked against max_pixels */
} et_decoder;

static void et_close(et_decoder *dc) {
	if (dc->st) opj_stream_destroy(dc->st);
	if (dc->codec) opj_destroy_codec(dc->codec);
	if (dc->img) opj_image_destroy(dc->img);
}

/* et_open recognises the container, reads the main header and refuses an
 * image over max_pixels before any tile is decoded. On failure it sets err
 * and returns 0; the caller calls et_close either way. */
static int et_open(et_decoder *dc, const uint8_t *data, size_t len, long max_pixels,
                   et_info *info, char *err) {
	OPJ_CODEC_FORMAT fmt;

	memset(dc, 0, sizeof *dc);
	dc->b = (et_rbuf){data, len, 0};
	memset(info, 0, sizeof *info);
	info->reversible = -1;
	if (len >= sizeof jp2_magic && memcmp(data, jp2_magic, sizeof jp2_magic) == 0) {
		fmt = OPJ_CODEC_JP2;
	} else if (len >= sizeof j2k_magic && memcmp(data, j2k_magic, sizeof j2k_magic) == 0) {
		fmt = OPJ_CODEC_J2K;
	} else {
		et_set(err, "not a JP2 file or J2K codestream");
		return 0;
	}
	opj_dparameters_t d;
	opj_set_default_decoder_parameters(&d);
	dc->codec = opj_create_decompress(fmt);
	if (!dc->codec) {
		et_set(err, "cannot create decoder");
		return 0;
	}
	et_handlers(dc->codec, err);
	if (!opj_setup_decoder(dc->codec, &d)) {
		et_set(err, "decoder setup failed");
		return 0;
	}
	dc->st = opj_stream_create(ET_CHUNK, OPJ_TRUE);
	if (!dc->st) {
		et_set(err, "cannot create stream");
		return 0;
	}
	opj_stream_set_user_data(dc->st, &dc->b, NULL);
	opj_stream_set_user_data_length(dc->st, len);
	opj_stream_set_read_function(dc->st, et_read);
	opj_stream_set_skip_function(dc->st, et_rskip);
	opj_stream_set_seek_function(dc->st, et_rseek);
	if (!opj_read_header(dc->st, dc->codec, &dc->img) || !dc->img) {
		et_set(err, "cannot read header");
		return 0;
	}
	opj_image_t *img = dc->img;
	if (img->numcomps < 1 || img->x1 <= img->x0 || img->y1 <= img->y0) {
		et_set(err, "image has no pixels");
		return 0;
	}
	dc->area = (long long)(img->x1 - img->x0) * (long long)(img->y1 - img->y0);
	if (dc->area > max_pixels) {
		et_set(err, "image larger than allowed");
		return 0;
	}
	return 1;
}

/* et_decode_tiles records the coding parameters in info, then decodes. */
static int et_decode_tiles(et_decoder *dc, et_info *info, char *err) {
	opj_codestream_info_v2_t *ci = opj_get_cstr_info(dc->codec);
	if (ci) {
		if (ci->m_default_tile_info.tccp_info) {
			info->reversible = ci->m_default_tile_info.tccp_info[0].qmfbid == 1;
			info->resolutions = (int)ci->m_default_tile_info.tccp_info[0].numresolutions;
		}
		info->layers = (int)ci->m_default_tile_info.numlayers;
		opj_destroy_cstr_info(&ci);
	}
	if (!opj_decode(dc->codec, dc->st, dc->img) || !opj_end_decompress(dc->codec, dc->st)) {
		et_set(err, "decoding failed");
		return 0;
	}
	return 1;
}

/* et_sample8 scales sample i of c to 8 bits unsigned. */
static uint8_t et_sample8(const opj_image_comp_t *c, size_t i) {
	long v = c->data[i];
	if (c->sgnd && c->prec > 0 && c->prec < 32) {
		v += 1L << (c->prec - 1);
	}
	int shift = (int)c->prec - 8;
	if (shift > 0) {
		v >>= shift;
	} else if (shift < 0) {
		v <<= -shift;
	}
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* et_component checks that decoding gave c pixels inside the canvas and
 * fills the size fields of info from it. */
static int et_component(const et_decoder *dc, const opj_image_comp_t *c, et_info *info, char *err) {
	if (!c->data || c->w == 0 || c->h == 0 || (long long)c->w * (long long)c->h > dc->area) {
		et_set(err, "decoded component has no data");
		return 0;
	}
	info->width = (int)c->w;
	info->height = (int)c->h;
	info->comps = (int)dc->img->numcomps;
	info->prec = (int)c->prec;
	info->sgnd = (int)c->sgnd;
	return 1;
}

int et_decode(const uint8_t *data, size_t len, long max_pixels,
              uint8_t **pix, et_info *info, char *err) {
	int ok = 0;
	et_decoder dc;

	*pix = NULL;
	if (!et_open(&dc, data, len, max_pixels, info, err) || !et_decode_tiles(&dc, info, err)) {
		goto done;
	}
	opj_image_comp_t *c = &dc.img->comps[0];
	if (!et_component(&dc, c, info, err)) {
		goto done;
	}
	size_t n = (size_t)c->w * (size_t)c->h;
	uint8_t *outp = malloc(n);
	if (!outp) {
		et_set(err, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		outp[i] = et_sample8(c, i);
	}
	*pix = outp;
	ok = 1;
done:
	et_close(&dc);
	return ok;
}

void et_free(void *p) { free(p); }

/* ---- colour decode (face images, ISO/IEC 19794-5) ---- */

static uint8_t et_clamp8(double v) {
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

int et_decode_rgb(const uint8_t *data, size_t len, long max_pixels,
                  uint8_t **pix, et_info *info, char *err) {
	int ok = 0;
	et_decoder dc;

	*pix = NULL;
	if (!et_open(&dc, data, len, max_pixels, info, err)) {
		goto done;
	}
	opj_image_t *img = dc.img;
	if (img->numcomps != 1 && img->numcomps < 3) {
		et_set(err, "neither grey nor three-component colour");
		goto done;
	}
	if (img->color_space != OPJ_CLRSPC_UNKNOWN && img->color_space != OPJ_CLRSPC_UNSPECIFIED &&
	    img->color_space != OPJ_CLRSPC_SRGB && img->color_space != OPJ_CLRSPC_GRAY &&
	    img->color_space != OPJ_CLRSPC_SYCC) {
		et_set(err, "colour space is not sRGB, sYCC or grey");
		goto done;
	}
	if (!et_decode_tiles(&dc, info, err)) {
		goto done;
	}
	int nc = img->numcomps == 1 ? 1 : 3;
	opj_image_comp_t *c0 = &img->comps[0];
	if (!et_component(&dc, c0, info, err)) {
		goto done;
	}
	/* Components must be the full size: subsampled chroma is refused
	 * rather than guessed at. */
	for (int k = 0; k < nc; k++) {
		opj_image_comp_t *c = &img->comps[k];
		if (!c->data || c->w != c0->w || c->h != c0->h || c->dx != c0->dx || c->dy != c0->dy) {
			et_set(err, "colour components differ in size (subsampled)");
			goto done;
		}
	}
	size_t n = (size_t)c0->w * (size_t)c0->h;
	uint8_t *outp = malloc(3 * n);
	if (!outp) {
		et_set(err, "out of memory");
		goto done;
	}
	int sycc = nc == 3 && img->color_space == OPJ_CLRSPC_SYCC;
	for (size_t i = 0; i < n; i++) {
		if (nc == 1) {
			uint8_t g = et_sample8(c0, i);
			outp[3 * i] = outp[3 * i + 1] = outp[3 * i + 2] = g;
			continue;
		}
		uint8_t r = et_sample8(&img->comps[0], i);
		uint8_t g = et_sample8(&img->comps[1], i);
		uint8_t bl = et_sample8(&img->comps[2], i);
		if (sycc) { /* ITU-R BT.601 full range, as OpenJPEG's own tools convert */
			double y = r, cb = (double)g - 128, cr = (double)bl - 128;
			outp[3 * i] = et_clamp8(y + 1.402 * cr);
			outp[3 * i + 1] = et_clamp8(y - 0.344136 * cb - 0.714136 * cr);
			outp[3 * i + 2] = et_clamp8(y + 1.772 * cb);
			continue;
		}
		outp[3 * i] = r;
		outp[3 * i + 1] = g;
		outp[3 * i + 2] = bl;
	}
	*pix = outp;
	ok = 1;
done:
	et_close(&dc);
	return ok;
}
