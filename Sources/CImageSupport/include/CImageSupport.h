// CImageSupport: a small C layer over libpng's read API. libpng reports errors with longjmp; every
// setjmp lives in png_read_support.c, so a libpng error never unwinds through Swift frames.
#ifndef INTERNVL_CIMAGESUPPORT_H
#define INTERNVL_CIMAGESUPPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What libpng reported about a PNG, and the layout `cis_png_decode` writes.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;        ///< 1, 2, 4, 8 or 16 as stored in IHDR.
    int color_type;       ///< PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    int interlaced;       ///< 1 for Adam7.
    int channels;         ///< samples per pixel in the decoded rows.
    int bytes_per_sample; ///< 1 (depths 1..8, unpacked to one byte each, unscaled) or 2 (16-bit, big-endian).
    size_t row_bytes;     ///< bytes per decoded row.
    int palette_count;    ///< number of PLTE entries (colour type 3), else 0.
    uint8_t palette[256 * 3];
} cis_png_info;

/// Reads the PNG header chunks (up to the first IDAT). Returns 0 on success; otherwise writes a one-line
/// message into `error` (capacity `error_capacity`) and returns -1.
int cis_png_read_info(const uint8_t *data, size_t size, cis_png_info *info,
                      char *error, size_t error_capacity);

/// Decodes all pixels into `out` (`info->height * info->row_bytes` bytes, checked against `out_size`),
/// de-interlacing Adam7. Samples of depth < 8 are unpacked to one byte each without scaling; 16-bit
/// samples stay big-endian. No gamma, alpha or palette transform is applied. Returns 0 or -1 (message in `error`).
int cis_png_decode(const uint8_t *data, size_t size, cis_png_info *info,
                   uint8_t *out, size_t out_size, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
