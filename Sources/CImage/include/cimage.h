// C shims over zlib, libpng and libjpeg(-turbo) for the Datasets and Plot targets.
//
// Every function returns 0 on success and a non-zero code on failure, with a human-readable
// message (naming the library's own complaint) written into `err` (at most `errlen` bytes).
// Buffers returned through `out` are malloc'ed and must be released with `ci_free`.
#ifndef CIMAGE_H
#define CIMAGE_H

#include <stddef.h>
#include <stdint.h>

/// Releases a buffer returned by one of the functions below.
void ci_free(void *p);

/// Reads a whole gzip (or plain) file and inflates it with zlib.
/// On success `*out` holds `*outlen` bytes. At most `limit` bytes are inflated: a longer stream
/// fails with code 4 ("inflates to more than …"), and the buffer never exceeds `limit + 1` bytes.
/// (To read only the start of a file, e.g. a header that states the size, use `ci_gunzip_prefix`.)
int ci_gunzip_file(const char *path, size_t limit, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/// Inflates at most the first `n` bytes of a gzip (or plain) file into `buf`; `*got` is how many.
int ci_gunzip_prefix(const char *path, uint8_t *buf, size_t n, size_t *got, char *err, size_t errlen);

/// Decodes a PNG file to interleaved 8-bit RGB, row-major, `*w * *h * 3` bytes.
/// Conversion (decided to match Pillow's `Image.convert("RGB")` where Pillow is well defined):
/// palette -> RGB, gray (1/2/4/8/16 bit) -> replicated RGB, alpha dropped (not composited),
/// 16-bit samples -> high byte (libpng `png_set_strip_16`, as Pillow's `RGB;16B` unpacker does).
/// No gamma correction is applied (Pillow applies none either).
/// An image with a side over `max_side` or more than `max_pixels` pixels is refused from its
/// header, before any pixel buffer is allocated (a 200-byte PNG can claim 10^6 x 10^6).
int ci_png_decode(const uint8_t *data, size_t len, int max_side, int64_t max_pixels, int *w, int *h, uint8_t **out,
                  char *err, size_t errlen);

/// Decodes JPEG bytes to interleaved 8-bit RGB with libjpeg's defaults (ISLOW IDCT, fancy
/// upsampling), which is what Pillow uses; gray JPEGs are replicated to RGB. CMYK is refused.
/// Size limits as for `ci_png_decode`, checked on the header.
int ci_jpeg_decode(const uint8_t *data, size_t len, int max_side, int64_t max_pixels, int *w, int *h, uint8_t **out,
                   char *err, size_t errlen);

/// Writes an 8-bit PNG (channels 1 = gray, 3 = RGB, 4 = RGBA) from interleaved row-major pixels.
/// Writes `path` directly; callers that need atomicity write a temporary name and rename it.
int ci_png_write_file(const char *path, int w, int h, int channels, const uint8_t *pixels,
                      char *err, size_t errlen);

#endif
