// AVX2 + FMA + F16C matmul kernels (Haswell and newer). Only this file's functions use AVX2, through
// per-function target attributes; the caller selects them only when ck_active_level() >= CK_LEVEL_AVX2.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))

CK_AVX2 CK_INLINE float ck_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 8 bf16 values to floats.
CK_AVX2 CK_INLINE __m256 ck_bf16x8(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

// 8 int8 values to floats.
CK_AVX2 CK_INLINE __m256 ck_i8x8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

// ---- decode -------------------------------------------------------------------------------------------

CK_AVX2 static void ck_decode_avx2(const ck_weights *w, int64_t row0, int64_t nrows, int64_t k0, int64_t kb,
                                   float *dst, int64_t ldd) {
    int64_t k = w->cols;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = row0 + r;
        float *out = dst + r * ldd;
        switch (w->format) {
        case CK_FORMAT_F32: {
            const float *src = (const float *)w->data + row * k + k0;
            int64_t i = 0;
            for (; i + 8 <= kb; i += 8) _mm256_storeu_ps(out + i, _mm256_loadu_ps(src + i));
            for (; i < kb; i++) out[i] = src[i];
            break;
        }
        case CK_FORMAT_BF16: {
            const uint16_t *src = (const uint16_t *)w->data + row * k + k0;
            int64_t i = 0;
            for (; i + 8 <= kb; i += 8) _mm256_storeu_ps(out + i, ck_bf16x8(src + i));
            for (; i < kb; i++) out[i] = ck_bf16_to_f32(src[i]);
            break;
        }
        case CK_FORMAT_Q8_0: {
            const int8_t *q = (const int8_t *)w->data + row * k + k0;
            const uint16_t *s = w->scales + (row * k + k0) / CK_QBLOCK;
            for (int64_t b = 0; b < kb / CK_QBLOCK; b++) {
                __m256 d = _mm256_set1_ps(_cvtsh_ss(s[b]));
                for (int g = 0; g < 4; g++) {
                    _mm256_storeu_ps(out + b * CK_QBLOCK + 8 * g, _mm256_mul_ps(d, ck_i8x8(q + b * CK_QBLOCK + 8 * g)));
                }
            }
            break;
        }
        case CK_FORMAT_Q4_0: {
            const uint8_t *q = (const uint8_t *)w->data + (row * k + k0) / 2;
            const uint16_t *s = w->scales + (row * k + k0) / CK_QBLOCK;
            const __m256i low4 = _mm256_set1_epi32(0x0f), eight = _mm256_set1_epi32(8);
            for (int64_t b = 0; b < kb / CK_QBLOCK; b++) {
                __m256 d = _mm256_set1_ps(_cvtsh_ss(s[b]));
                for (int g = 0; g < 2; g++) {
                    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + b * 16 + 8 * g)));
                    __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(v, low4), eight));
                    __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight));
                    _mm256_storeu_ps(out + b * CK_QBLOCK + 8 * g, _mm256_mul_ps(d, lo));
                    _mm256_storeu_ps(out + b * CK_QBLOCK + 16 + 8 * g, _mm256_mul_ps(d, hi));
                }
            }
            break;
        }
        }
    }
}

// ---- GEMV (M = 1): R rows at once, one accumulator each --------------------------------------------------

CK_AVX2 CK_INLINE void ck_gemv_f32_rows(const float *w, int64_t k, const float *x, int R, float *out) {
    __m256 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * k + i), xv, acc[r]);
    }
    for (int r = 0; r < R; r++) {
        float sum = ck_hsum8(acc[r]);
        for (int64_t t = i; t < k; t++) sum += w[r * k + t] * x[t];
        out[r] = sum;
    }
}

CK_AVX2 CK_INLINE void ck_gemv_bf16_rows(const uint16_t *w, int64_t k, const float *x, int R, float *out) {
    __m256 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(ck_bf16x8(w + r * k + i), xv, acc[r]);
    }
    for (int r = 0; r < R; r++) {
        float sum = ck_hsum8(acc[r]);
        for (int64_t t = i; t < k; t++) sum += ck_bf16_to_f32(w[r * k + t]) * x[t];
        out[r] = sum;
    }
}

CK_AVX2 CK_INLINE void ck_gemv_q8_rows(const int8_t *w, const uint16_t *s, int64_t k, const float *x, int R,
                                       float *out) {
    __m256 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t nb = k / CK_QBLOCK;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * CK_QBLOCK;
        __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8);
        __m256 x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
        for (int r = 0; r < R; r++) {
            const int8_t *q = w + r * k + b * CK_QBLOCK;
            __m256 t = _mm256_mul_ps(ck_i8x8(q), x0);
            t = _mm256_fmadd_ps(ck_i8x8(q + 8), x1, t);
            t = _mm256_fmadd_ps(ck_i8x8(q + 16), x2, t);
            t = _mm256_fmadd_ps(ck_i8x8(q + 24), x3, t);
            acc[r] = _mm256_fmadd_ps(t, _mm256_set1_ps(_cvtsh_ss(s[r * nb + b])), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = ck_hsum8(acc[r]);
}

// q4_0: (n - 8) · x as n · x - 8 · x, the -8 · x part shared by the R rows of a block.
CK_AVX2 CK_INLINE void ck_gemv_q4_rows(const uint8_t *w, const uint16_t *s, int64_t k, const float *x, int R,
                                       float *out) {
    __m256 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t nb = k / CK_QBLOCK;
    const __m256i low4 = _mm256_set1_epi32(0x0f);
    const __m256 minus8 = _mm256_set1_ps(-8.0f);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * CK_QBLOCK;
        __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8);
        __m256 x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
        __m256 offset = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)), minus8);
        for (int r = 0; r < R; r++) {
            const uint8_t *q = w + r * (k / 2) + b * 16;
            __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q));        // values 0..7, 16..23
            __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8)));  // values 8..15, 24..31
            __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v0, low4)), x0, offset);
            t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v1, low4)), x1, t);
            t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4)), x2, t);
            t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4)), x3, t);
            acc[r] = _mm256_fmadd_ps(t, _mm256_set1_ps(_cvtsh_ss(s[r * nb + b])), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = ck_hsum8(acc[r]);
}

CK_AVX2 CK_INLINE void ck_gemv_rows(const ck_weights *w, const float *x, int64_t row, int R, float *out) {
    int64_t k = w->cols;
    switch (w->format) {
    case CK_FORMAT_F32: ck_gemv_f32_rows((const float *)w->data + row * k, k, x, R, out); break;
    case CK_FORMAT_BF16: ck_gemv_bf16_rows((const uint16_t *)w->data + row * k, k, x, R, out); break;
    case CK_FORMAT_Q8_0:
        ck_gemv_q8_rows((const int8_t *)w->data + row * k, w->scales + row * (k / CK_QBLOCK), k, x, R, out);
        break;
    case CK_FORMAT_Q4_0:
        ck_gemv_q4_rows((const uint8_t *)w->data + row * (k / 2), w->scales + row * (k / CK_QBLOCK), k, x, R, out);
        break;
    }
}

CK_AVX2 static void ck_gemv_avx2(const ck_weights *w, const float *x, int64_t row0, int64_t nrows, float *out) {
    int64_t r = 0;
    for (; r + CK_GEMV_ROWS <= nrows; r += CK_GEMV_ROWS) ck_gemv_rows(w, x, row0 + r, CK_GEMV_ROWS, out + r);
    for (; r < nrows; r++) ck_gemv_rows(w, x, row0 + r, 1, out + r);
}

// ---- small-M dot ----------------------------------------------------------------------------------------

CK_AVX2 CK_INLINE void ck_dot_tile(const float *x, int64_t ldx, int MR, const float *p, int64_t ldp, int NR,
                                   int64_t kb, float *acc, int64_t ldacc) {
    __m256 a[CK_DOT_MR][CK_DOT_NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) a[i][j] = _mm256_setzero_ps();
    int64_t t = 0;
    for (; t + 8 <= kb; t += 8) {
        __m256 pv[CK_DOT_NR];
        for (int j = 0; j < NR; j++) pv[j] = _mm256_loadu_ps(p + j * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_loadu_ps(x + i * ldx + t);
            for (int j = 0; j < NR; j++) a[i][j] = _mm256_fmadd_ps(xv, pv[j], a[i][j]);
        }
    }
    for (int i = 0; i < MR; i++) {
        for (int j = 0; j < NR; j++) {
            float sum = ck_hsum8(a[i][j]);
            for (int64_t u = t; u < kb; u++) sum += x[i * ldx + u] * p[j * ldp + u];
            acc[i * ldacc + j] += sum;
        }
    }
}

CK_AVX2 static void ck_dot_avx2(const float *x, int64_t ldx, int m, const float *panel, int64_t ldp, int n,
                                int64_t kb, float *acc, int64_t ldacc) {
#define CK_DOT_CASE(MR, NR) \
    case (MR) * 8 + (NR): ck_dot_tile(x, ldx, MR, panel, ldp, NR, kb, acc, ldacc); break;
    switch (m * 8 + n) {
        CK_DOT_CASE(1, 1) CK_DOT_CASE(1, 2) CK_DOT_CASE(1, 3) CK_DOT_CASE(1, 4)
        CK_DOT_CASE(2, 1) CK_DOT_CASE(2, 2) CK_DOT_CASE(2, 3) CK_DOT_CASE(2, 4)
        CK_DOT_CASE(3, 1) CK_DOT_CASE(3, 2) CK_DOT_CASE(3, 3) CK_DOT_CASE(3, 4)
        CK_DOT_CASE(4, 1) CK_DOT_CASE(4, 2) CK_DOT_CASE(4, 3) CK_DOT_CASE(4, 4)
    default: break;
    }
#undef CK_DOT_CASE
}

static const ck_matmul_kernels ck_kernels_avx2 = {ck_decode_avx2, ck_gemv_avx2, ck_dot_avx2, ck_skinny_avx2};

const ck_matmul_kernels *ck_matmul_kernels_avx2(void) { return &ck_kernels_avx2; }

#else

const ck_matmul_kernels *ck_matmul_kernels_avx2(void) { return 0; }

#endif
