// libpng read helper: owns setjmp so that png_error's longjmp lands in C, never in Swift.
#include "CImageSupport.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    char message[256];
} cis_read_context;

static void cis_error_handler(png_structp png, png_const_charp message) {
    cis_read_context *context = (cis_read_context *)png_get_error_ptr(png);
    snprintf(context->message, sizeof context->message, "%s", message ? message : "unknown libpng error");
    png_longjmp(png, 1);
}

static void cis_warning_handler(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void cis_read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    cis_read_context *context = (cis_read_context *)png_get_io_ptr(png);
    if (length > context->size - context->position) {
        png_error(png, "unexpected end of data (file truncated)");
    }
    memcpy(out, context->data + context->position, length);
    context->position += length;
}

static void cis_copy_message(const cis_read_context *context, char *error, size_t capacity) {
    if (error && capacity > 0) {
        snprintf(error, capacity, "%s", context->message[0] ? context->message : "unknown libpng error");
    }
}

/// Creates the read structs; applies the unpacking and de-interlacing transforms; fills `info`.
/// Must be called after setjmp has been armed by the caller.
static void cis_setup_and_read_info(png_structp png, png_infop png_info, cis_png_info *info) {
    // Like Pillow: a bad CRC in any chunk before the image data is an error (libpng would only warn for
    // ancillary chunks) ...
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, png_info);
    // ... while IDAT checksums are not verified (Pillow skips them), so image data with a bad CRC is used.
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_ERROR_QUIT);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, png_info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->width = width;
    info->height = height;
    info->bit_depth = bit_depth;
    info->color_type = color_type;
    info->interlaced = interlace != PNG_INTERLACE_NONE;
    info->palette_count = 0;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int count = 0;
        if (png_get_PLTE(png, png_info, &palette, &count) == PNG_INFO_PLTE && palette) {
            if (count > 256) count = 256;
            for (int i = 0; i < count; i++) {
                info->palette[i * 3 + 0] = palette[i].red;
                info->palette[i * 3 + 1] = palette[i].green;
                info->palette[i * 3 + 2] = palette[i].blue;
            }
            info->palette_count = count;
        }
    }
    if (bit_depth < 8) {
        png_set_packing(png);
    }
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, png_info);
    info->channels = png_get_channels(png, png_info);
    info->bytes_per_sample = bit_depth == 16 ? 2 : 1;
    info->row_bytes = png_get_rowbytes(png, png_info);
}

int cis_png_read_info(const uint8_t *data, size_t size, cis_png_info *info,
                      char *error, size_t error_capacity) {
    cis_read_context context = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, cis_error_handler,
                                             cis_warning_handler);
    if (!png) {
        snprintf(context.message, sizeof context.message, "cannot create libpng read struct");
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    png_infop png_info = png_create_info_struct(png);
    if (!png_info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(context.message, sizeof context.message, "cannot create libpng info struct");
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &png_info, NULL);
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    png_set_read_fn(png, &context, cis_read_from_memory);
    cis_setup_and_read_info(png, png_info, info);
    png_destroy_read_struct(&png, &png_info, NULL);
    return 0;
}

int cis_png_decode(const uint8_t *data, size_t size, cis_png_info *info,
                   uint8_t *out, size_t out_size, char *error, size_t error_capacity) {
    cis_read_context context = {data, size, 0, {0}};
    cis_png_info decoded;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, cis_error_handler,
                                             cis_warning_handler);
    if (!png) {
        snprintf(context.message, sizeof context.message, "cannot create libpng read struct");
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    png_infop png_info = png_create_info_struct(png);
    if (!png_info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(context.message, sizeof context.message, "cannot create libpng info struct");
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_free(png, rows);
        png_destroy_read_struct(&png, &png_info, NULL);
        cis_copy_message(&context, error, error_capacity);
        return -1;
    }
    png_set_read_fn(png, &context, cis_read_from_memory);
    cis_setup_and_read_info(png, png_info, &decoded);
    if (decoded.width != info->width || decoded.height != info->height ||
        decoded.row_bytes != info->row_bytes || decoded.channels != info->channels) {
        png_error(png, "header changed between reads");
    }
    if ((size_t)decoded.height * decoded.row_bytes > out_size) {
        png_error(png, "output buffer too small");
    }
    rows = (png_bytep *)png_malloc(png, sizeof(png_bytep) * decoded.height);
    for (png_uint_32 y = 0; y < decoded.height; y++) {
        rows[y] = out + (size_t)y * decoded.row_bytes;
    }
    png_read_image(png, rows);
    png_free(png, rows);
    rows = NULL;
    png_destroy_read_struct(&png, &png_info, NULL);
    return 0;
}
