// Weight format conversions and q8_0 / q4_0 quantization (portable C; runs once at load time).
#include "ck_quant.h"

#include <math.h>
#include <string.h>

size_t ck_format_data_bytes(ck_format format, int64_t rows, int64_t cols) {
    size_t n = (size_t)rows * (size_t)cols;
    switch (format) {
    case CK_FORMAT_F32: return n * 4;
    case CK_FORMAT_BF16: return n * 2;
    case CK_FORMAT_Q8_0: return n;
    case CK_FORMAT_Q4_0: return n / 2;
    }
    return 0;
}

size_t ck_format_scale_count(ck_format format, int64_t rows, int64_t cols) {
    if (format == CK_FORMAT_Q8_0 || format == CK_FORMAT_Q4_0) return (size_t)rows * (size_t)(cols / CK_QBLOCK);
    return 0;
}

float ck_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent == 0) {
        float v = (float)mantissa * 0x1p-24f;  // zero or subnormal: exact
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t ck_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0);  // inf, NaN
    if (a >= 0x477ff000u) return sign | 0x7c00;                                    // rounds past 65504
    if (a < 0x38800000u) {
        // Below 2^-14: a subnormal half. Adding 0.5 puts the half's unit (2^-24) at the float's last bit,
        // so the FPU's own round-to-nearest-even does the rounding.
        float v;
        memcpy(&v, &a, 4);
        v += 0.5f;
        uint32_t b;
        memcpy(&b, &v, 4);
        return sign | (uint16_t)(b - 0x3f000000u);
    }
    uint32_t odd = (a >> 13) & 1;
    a += 0xc8000fffu + odd;  // rebias the exponent (127 -> 15) and round to nearest even
    return sign | (uint16_t)(a >> 13);
}

float ck_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t ck_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  // quiet NaN
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static void ck_quantize_block_q8_0(const float *x, int8_t *q, uint16_t *scale) {
    float amax = 0.0f;
    for (int i = 0; i < CK_QBLOCK; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < CK_QBLOCK; i++) q[i] = (int8_t)roundf(x[i] * id);
    *scale = ck_f32_to_f16(d);
}

static void ck_quantize_block_q4_0(const float *x, uint8_t *q, uint16_t *scale) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < CK_QBLOCK; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < CK_QBLOCK / 2; j++) {
        int lo = (int)(int8_t)(x[j] * id + 8.5f);
        int hi = (int)(int8_t)(x[j + CK_QBLOCK / 2] * id + 8.5f);
        if (lo > 15) lo = 15;
        if (hi > 15) hi = 15;
        q[j] = (uint8_t)(lo | (hi << 4));
    }
    *scale = ck_f32_to_f16(d);
}

void ck_quantize_q8_0(const float *src, int64_t rows, int64_t cols, int8_t *quants, uint16_t *scales) {
    int64_t blocks = rows * (cols / CK_QBLOCK);
    for (int64_t b = 0; b < blocks; b++) {
        ck_quantize_block_q8_0(src + b * CK_QBLOCK, quants + b * CK_QBLOCK, scales + b);
    }
}

void ck_quantize_q8_0_bf16(const uint16_t *src, int64_t rows, int64_t cols, int8_t *quants, uint16_t *scales) {
    int64_t blocks = rows * (cols / CK_QBLOCK);
    float tmp[CK_QBLOCK];
    for (int64_t b = 0; b < blocks; b++) {
        for (int i = 0; i < CK_QBLOCK; i++) tmp[i] = ck_bf16_to_f32(src[b * CK_QBLOCK + i]);
        ck_quantize_block_q8_0(tmp, quants + b * CK_QBLOCK, scales + b);
    }
}

void ck_quantize_q4_0(const float *src, int64_t rows, int64_t cols, uint8_t *quants, uint16_t *scales) {
    int64_t blocks = rows * (cols / CK_QBLOCK);
    for (int64_t b = 0; b < blocks; b++) {
        ck_quantize_block_q4_0(src + b * CK_QBLOCK, quants + b * (CK_QBLOCK / 2), scales + b);
    }
}

void ck_quantize_q4_0_bf16(const uint16_t *src, int64_t rows, int64_t cols, uint8_t *quants, uint16_t *scales) {
    int64_t blocks = rows * (cols / CK_QBLOCK);
    float tmp[CK_QBLOCK];
    for (int64_t b = 0; b < blocks; b++) {
        for (int i = 0; i < CK_QBLOCK; i++) tmp[i] = ck_bf16_to_f32(src[b * CK_QBLOCK + i]);
        ck_quantize_block_q4_0(tmp, quants + b * (CK_QBLOCK / 2), scales + b);
    }
}

void ck_weights_decode_rows(const ck_weights *w, int64_t row0, int64_t nrows, float *dst) {
    int64_t k = w->cols;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = row0 + r;
        float *out = dst + r * k;
        switch (w->format) {
        case CK_FORMAT_F32:
            memcpy(out, (const float *)w->data + row * k, (size_t)k * 4);
            break;
        case CK_FORMAT_BF16: {
            const uint16_t *src = (const uint16_t *)w->data + row * k;
            for (int64_t i = 0; i < k; i++) out[i] = ck_bf16_to_f32(src[i]);
            break;
        }
        case CK_FORMAT_Q8_0: {
            const int8_t *q = (const int8_t *)w->data + row * k;
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK);
            for (int64_t i = 0; i < k; i++) out[i] = ck_f16_to_f32(s[i / CK_QBLOCK]) * (float)q[i];
            break;
        }
        case CK_FORMAT_Q4_0: {
            const uint8_t *q = (const uint8_t *)w->data + row * (k / 2);
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK);
            for (int64_t b = 0; b < k / CK_QBLOCK; b++) {
                float d = ck_f16_to_f32(s[b]);
                for (int j = 0; j < CK_QBLOCK / 2; j++) {
                    uint8_t byte = q[b * 16 + j];
                    out[b * CK_QBLOCK + j] = d * (float)((int)(byte & 0x0f) - 8);
                    out[b * CK_QBLOCK + j + 16] = d * (float)((int)(byte >> 4) - 8);
                }
            }
            break;
        }
        }
    }
}
