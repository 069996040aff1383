// Weight formats (f32, bf16, q8_0, q4_0): their memory layout, conversion and quantization.
#ifndef CK_QUANT_H
#define CK_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Values per quantization block of q8_0 and q4_0 (one scale per block).
#define CK_QBLOCK 32

/// How a weight matrix W[rows, cols] (PyTorch Linear layout: [out, in], row-major) is stored.
///
/// - F32:  `data` is float[rows * cols].
/// - BF16: `data` is uint16_t[rows * cols] holding bfloat16 bits (the upper half of an IEEE float).
/// - Q8_0: `data` is int8_t[rows * cols]; `scales` is uint16_t[rows * cols / 32] of IEEE half floats,
///         one per block of 32 consecutive values of a row. Value = scale * q.
/// - Q4_0: `data` is uint8_t[rows * cols / 2]; each block of 32 values of a row is 16 bytes where byte j holds
///         value j in its low nibble and value j + 16 in its high nibble (ggml's order); `scales` as for
///         Q8_0. Value = scale * (nibble - 8).
/// Quantized formats need cols % 32 == 0.
typedef enum {
    CK_FORMAT_F32 = 0,
    CK_FORMAT_BF16 = 1,
    CK_FORMAT_Q8_0 = 2,
    CK_FORMAT_Q4_0 = 3
} ck_format;

/// A weight matrix in one of the formats above. The memory is owned by the caller.
typedef struct {
    ck_format format;
    int64_t rows;              ///< N: output features
    int64_t cols;              ///< K: input features
    const void *data;          ///< values, laid out as described by `format`
    const uint16_t *scales;    ///< f16 block scales (quantized formats only), else NULL
} ck_weights;

/// Bytes of `data` for a matrix of this shape and format.
size_t ck_format_data_bytes(ck_format format, int64_t rows, int64_t cols);

/// Number of f16 scales for a matrix of this shape and format (0 for f32 and bf16).
size_t ck_format_scale_count(ck_format format, int64_t rows, int64_t cols);

/// IEEE half (binary16) bits to float, exact (subnormals, infinities and NaN included).
float ck_f16_to_f32(uint16_t h);

/// Float to IEEE half bits, rounding to nearest even; values too large for half become infinity.
uint16_t ck_f32_to_f16(float f);

/// bfloat16 bits to float (exact: the bits shifted left by 16).
float ck_bf16_to_f32(uint16_t b);

/// Float to bfloat16 bits, rounding to nearest even (NaN stays NaN).
uint16_t ck_f32_to_bf16(float f);

/// Quantizes `rows` rows of `cols` floats (cols % 32 == 0) to q8_0: per block d = max|x| / 127 (stored as
/// f16), q = round(x / d) (half away from zero; q = 0 when d = 0).
void ck_quantize_q8_0(const float *src, int64_t rows, int64_t cols, int8_t *quants, uint16_t *scales);

/// Like ck_quantize_q8_0, from bfloat16 input.
void ck_quantize_q8_0_bf16(const uint16_t *src, int64_t rows, int64_t cols, int8_t *quants, uint16_t *scales);

/// Quantizes to q4_0 with ggml's rule: per block m = the value of largest magnitude (with its sign),
/// d = m / -8 (stored as f16), nibble = min(15, trunc(x / d + 8.5)) (0 when d = 0, i.e. value -8 * 0).
void ck_quantize_q4_0(const float *src, int64_t rows, int64_t cols, uint8_t *quants, uint16_t *scales);

/// Like ck_quantize_q4_0, from bfloat16 input.
void ck_quantize_q4_0_bf16(const uint16_t *src, int64_t rows, int64_t cols, uint8_t *quants, uint16_t *scales);

/// Decodes rows [row0, row0 + nrows) of `w` to floats, dst[r * cols + k]: the exact values the matmul uses.
void ck_weights_decode_rows(const ck_weights *w, int64_t row0, int64_t nrows, float *dst);

#ifdef __cplusplus
}
#endif
#endif
