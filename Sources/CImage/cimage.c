// C shims over zlib, libpng and libjpeg for the Datasets and Plot targets (see cimage.h).
#include "cimage.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <zlib.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void ci_free(void *p) { free(p); }

// MARK: - gzip

int ci_gunzip_file(const char *path, size_t limit, uint8_t **out, size_t *outlen, char *err, size_t errlen) {
    *out = NULL;
    *outlen = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        return 1;
    }
    gzbuffer(f, 1 << 17);
    // The buffer never grows past limit + 1 bytes: one byte more than allowed is how an
    // over-long stream (a gzip bomb) is detected without inflating the rest of it.
    size_t hard = limit + 1;
    size_t cap = hard < ((size_t)1 << 20) ? hard : ((size_t)1 << 20), len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { gzclose(f); set_err(err, errlen, "out of memory"); return 2; }
    for (;;) {
        if (len == cap) {
            if (cap >= hard) {
                free(buf);
                gzclose(f);
                set_err(err, errlen, "inflates to more than %zu bytes (the limit for this file); a gzip bomb or the wrong file", limit);
                return 4;
            }
            size_t ncap = cap > hard / 2 ? hard : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { free(buf); gzclose(f); set_err(err, errlen, "out of memory"); return 2; }
            buf = nb;
            cap = ncap;
        }
        unsigned want = (unsigned)((cap - len) > (1u << 30) ? (1u << 30) : (cap - len));
        int n = gzread(f, buf + len, want);
        if (n < 0) {
            int code = 0;
            const char *msg = gzerror(f, &code);
            set_err(err, errlen, "zlib: %s (file truncated or corrupt)", msg ? msg : "read error");
            free(buf);
            gzclose(f);
            return 3;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    // gzread returns 0 at a truncated stream end too; gzerror tells the difference.
    int code = 0;
    const char *msg = gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END) {
        set_err(err, errlen, "zlib: %s (file truncated or corrupt)", msg ? msg : "error");
        free(buf);
        gzclose(f);
        return 3;
    }
    gzclose(f);
    *out = buf;
    *outlen = len;
    return 0;
}

int ci_gunzip_prefix(const char *path, uint8_t *buf, size_t n, size_t *got, char *err, size_t errlen) {
    *got = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        return 1;
    }
    int r = gzread(f, buf, (unsigned)(n > (1u << 30) ? (1u << 30) : n));
    if (r < 0) {
        int code = 0;
        const char *msg = gzerror(f, &code);
        set_err(err, errlen, "zlib: %s (file truncated or corrupt)", msg ? msg : "read error");
        gzclose(f);
        return 3;
    }
    gzclose(f);
    *got = (size_t)r;
    return 0;
}

// MARK: - PNG

typedef struct {
    char msg[256];
} png_err_ctx;

static void png_error_fn(png_structp png, png_const_charp msg) {
    png_err_ctx *ctx = (png_err_ctx *)png_get_error_ptr(png);
    if (ctx) snprintf(ctx->msg, sizeof ctx->msg, "libpng: %s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;  // warnings (e.g. bad sRGB profile) do not stop decoding, as in Pillow
}

// Refuses a w x h image over the caller's limits, before any pixel buffer exists.
static int too_large(int64_t w, int64_t h, int max_side, int64_t max_pixels, char *msg, size_t msglen) {
    if (w <= max_side && h <= max_side && w * h <= max_pixels) return 0;
    snprintf(msg, msglen, "image is %lldx%lld (%lld pixels); the limit is a side of %d and %lld pixels",
             (long long)w, (long long)h, (long long)(w * h), max_side, (long long)max_pixels);
    return 1;
}

int ci_png_decode(const uint8_t *data, size_t len, int max_side, int64_t max_pixels, int *w, int *h, uint8_t **out,
                  char *err, size_t errlen) {
    *out = NULL;
    *w = *h = 0;
    if (len < 8) { set_err(err, errlen, "not a PNG file (only %zu bytes)", len); return 2; }
    FILE *fp = fmemopen((void *)data, len, "rb");  // libpng reads a stream; the bytes are already in memory
    if (!fp) { set_err(err, errlen, "cannot open: %s", strerror(errno)); return 1; }
    uint8_t sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        set_err(err, errlen, "not a PNG file (bad signature)");
        return 2;
    }
    png_err_ctx ctx = {{0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        fclose(fp);
        set_err(err, errlen, "out of memory");
        return 2;
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        set_err(err, errlen, "%s", ctx.msg[0] ? ctx.msg : "libpng: decode error");
        return 3;
    }
    png_init_io(png, fp);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if (too_large(width, height, max_side, max_pixels, ctx.msg, sizeof ctx.msg)) png_longjmp(png, 1);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    // A tRNS chunk becomes an alpha channel when expanded; alpha is dropped like Pillow's convert("RGB").
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)width * 3) {
        png_error(png, "unexpected row size after conversion to RGB");
    }
    pixels = malloc(rowbytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    *w = (int)width;
    *h = (int)height;
    *out = pixels;
    return 0;
}

int ci_png_write_file(const char *path, int w, int h, int channels, const uint8_t *pixels,
                      char *err, size_t errlen) {
    int color;
    switch (channels) {
    case 1: color = PNG_COLOR_TYPE_GRAY; break;
    case 3: color = PNG_COLOR_TYPE_RGB; break;
    case 4: color = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default: set_err(err, errlen, "PNG channels must be 1, 3 or 4, got %d", channels); return 1;
    }
    if (w <= 0 || h <= 0) { set_err(err, errlen, "PNG size must be positive, got %dx%d", w, h); return 1; }
    FILE *fp = fopen(path, "wb");
    if (!fp) { set_err(err, errlen, "cannot create: %s", strerror(errno)); return 2; }
    png_err_ctx ctx = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        if (png) png_destroy_write_struct(&png, NULL);
        fclose(fp);
        set_err(err, errlen, "out of memory");
        return 2;
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        set_err(err, errlen, "%s", ctx.msg[0] ? ctx.msg : "libpng: encode error");
        return 3;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!rows) png_error(png, "out of memory");
    size_t stride = (size_t)w * (size_t)channels;
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    if (fclose(fp) != 0) { set_err(err, errlen, "write failed: %s", strerror(errno)); return 4; }
    return 0;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 16];
    int truncated;  // libjpeg hit the end of the data and padded the image (JWRN_JPEG_EOF)
} jpeg_err_ctx;

static void jpeg_error_exit_fn(j_common_ptr cinfo) {
    jpeg_err_ctx *ctx = (jpeg_err_ctx *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(ctx->msg, sizeof ctx->msg, "libjpeg: %s", buf);
    longjmp(ctx->jump, 1);
}

static void jpeg_output_message_fn(j_common_ptr cinfo) { (void)cinfo; }  // silence warnings on stderr

// Warnings (msg_level -1) are tolerated like Pillow does, except running out of data: Pillow
// refuses truncated files ("image file is truncated"), and so do we.
static void jpeg_emit_message_fn(j_common_ptr cinfo, int msg_level) {
    jpeg_err_ctx *ctx = (jpeg_err_ctx *)cinfo->err;
    if (msg_level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) ctx->truncated = 1;
        cinfo->err->num_warnings++;
    }
}

int ci_jpeg_decode(const uint8_t *data, size_t len, int max_side, int64_t max_pixels, int *w, int *h, uint8_t **out,
                   char *err, size_t errlen) {
    *out = NULL;
    *w = *h = 0;
    if (len < 2) { set_err(err, errlen, "not a JPEG file (only %zu bytes)", len); return 2; }
    FILE *fp = fmemopen((void *)data, len, "rb");
    if (!fp) { set_err(err, errlen, "cannot open: %s", strerror(errno)); return 1; }
    struct jpeg_decompress_struct cinfo;
    jpeg_err_ctx jerr;
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_fn;
    jerr.pub.output_message = jpeg_output_message_fn;
    jerr.pub.emit_message = jpeg_emit_message_fn;
    uint8_t *volatile pixels = NULL;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        fclose(fp);
        set_err(err, errlen, "%s", jerr.msg);
        return 3;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(jerr.msg, sizeof jerr.msg, "CMYK JPEGs are not supported (convert the file to RGB)");
        longjmp(jerr.jump, 1);
    }
    if (too_large(cinfo.image_width, cinfo.image_height, max_side, max_pixels, jerr.msg, sizeof jerr.msg)) {
        longjmp(jerr.jump, 1);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        snprintf(jerr.msg, sizeof jerr.msg, "unexpected %d output components", cinfo.output_components);
        longjmp(jerr.jump, 1);
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        snprintf(jerr.msg, sizeof jerr.msg, "out of memory");
        longjmp(jerr.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (jerr.truncated) {
            snprintf(jerr.msg, sizeof jerr.msg, "libjpeg: image file is truncated (premature end of JPEG data)");
            longjmp(jerr.jump, 1);
        }
    }
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(fp);
    *out = pixels;
    return 0;
}
