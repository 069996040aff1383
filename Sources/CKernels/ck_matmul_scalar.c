// Portable matmul kernels (any CPU): the reference each SIMD level must agree with up to float rounding.
#include "ck_matmul_kernels.h"

static void ck_decode_scalar(const ck_weights *w, int64_t row0, int64_t nrows, int64_t k0, int64_t kb, float *dst,
                             int64_t ldd) {
    int64_t k = w->cols;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = row0 + r;
        float *out = dst + r * ldd;
        switch (w->format) {
        case CK_FORMAT_F32: {
            const float *src = (const float *)w->data + row * k + k0;
            for (int64_t i = 0; i < kb; i++) out[i] = src[i];
            break;
        }
        case CK_FORMAT_BF16: {
            const uint16_t *src = (const uint16_t *)w->data + row * k + k0;
            for (int64_t i = 0; i < kb; i++) out[i] = ck_bf16_to_f32(src[i]);
            break;
        }
        case CK_FORMAT_Q8_0: {
            const int8_t *q = (const int8_t *)w->data + row * k + k0;
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK) + k0 / CK_QBLOCK;
            for (int64_t i = 0; i < kb; i++) out[i] = ck_f16_to_f32(s[i / CK_QBLOCK]) * (float)q[i];
            break;
        }
        case CK_FORMAT_Q4_0: {
            const uint8_t *q = (const uint8_t *)w->data + (row * k + k0) / 2;
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK) + k0 / CK_QBLOCK;
            for (int64_t b = 0; b < kb / CK_QBLOCK; b++) {
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

static void ck_gemv_scalar(const ck_weights *w, const float *x, int64_t row0, int64_t nrows, float *out) {
    int64_t k = w->cols;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = row0 + r;
        float sum = 0.0f;
        switch (w->format) {
        case CK_FORMAT_F32: {
            const float *src = (const float *)w->data + row * k;
            for (int64_t i = 0; i < k; i++) sum += src[i] * x[i];
            break;
        }
        case CK_FORMAT_BF16: {
            const uint16_t *src = (const uint16_t *)w->data + row * k;
            for (int64_t i = 0; i < k; i++) sum += ck_bf16_to_f32(src[i]) * x[i];
            break;
        }
        case CK_FORMAT_Q8_0: {
            const int8_t *q = (const int8_t *)w->data + row * k;
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK);
            for (int64_t b = 0; b < k / CK_QBLOCK; b++) {
                float block = 0.0f;
                for (int j = 0; j < CK_QBLOCK; j++) block += (float)q[b * CK_QBLOCK + j] * x[b * CK_QBLOCK + j];
                sum += ck_f16_to_f32(s[b]) * block;
            }
            break;
        }
        case CK_FORMAT_Q4_0: {
            const uint8_t *q = (const uint8_t *)w->data + row * (k / 2);
            const uint16_t *s = w->scales + row * (k / CK_QBLOCK);
            for (int64_t b = 0; b < k / CK_QBLOCK; b++) {
                float block = 0.0f;
                const float *xb = x + b * CK_QBLOCK;
                for (int j = 0; j < CK_QBLOCK / 2; j++) {
                    uint8_t byte = q[b * 16 + j];
                    block += (float)((int)(byte & 0x0f) - 8) * xb[j] + (float)((int)(byte >> 4) - 8) * xb[j + 16];
                }
                sum += ck_f16_to_f32(s[b]) * block;
            }
            break;
        }
        }
        out[r] = sum;
    }
}

static void ck_dot_scalar(const float *x, int64_t ldx, int m, const float *panel, int64_t ldp, int n, int64_t kb,
                          float *acc, int64_t ldacc) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            const float *a = x + i * ldx, *b = panel + j * ldp;
            for (int64_t t = 0; t < kb; t++) sum += a[t] * b[t];
            acc[i * ldacc + j] += sum;
        }
    }
}

static const ck_matmul_kernels ck_kernels_scalar = {ck_decode_scalar, ck_gemv_scalar, ck_dot_scalar, 0};

const ck_matmul_kernels *ck_matmul_kernels_scalar(void) { return &ck_kernels_scalar; }
