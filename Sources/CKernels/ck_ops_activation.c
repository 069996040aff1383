// Elementwise activations (erf, GELU, SiLU * up) and adds, with scalar, AVX2 and AVX-512 paths.
// Adds are bit-identical across paths (no fused multiply-add where PyTorch rounds twice).
#include "ck_ops_activation.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#include <math.h>

#pragma STDC FP_CONTRACT OFF

#define CK_SQRT1_2 0.70710678118654752440f

// ------------------------------------------------------------------------------------------------ scalar
static float gelu1(float x) { return (x * 0.5f) * (1.0f + erff(x * CK_SQRT1_2)); }
static float silu1(float g) { return g / (1.0f + expf(-g)); }

#ifdef CK_OPS_X86
// -------------------------------------------------------------------------------------------------- AVX2
CK_TARGET_AVX2 CK_INLINE __m256 gelu256(__m256 x) {
    __m256 e = ck256_erf(_mm256_mul_ps(x, _mm256_set1_ps(CK_SQRT1_2)));
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
CK_TARGET_AVX2 CK_INLINE __m256 silu256(__m256 g) {
    __m256 e = ck256_exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

#define CK_UNARY_AVX2(name, op)                                                              \
    CK_TARGET_AVX2 static void name(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end) { \
        ptrdiff_t i = begin;                                                                 \
        for (; i + 8 <= end; i += 8) _mm256_storeu_ps(y + i, op(_mm256_loadu_ps(x + i)));    \
        if (i < end) {                                                                       \
            __m256i m = ck256_tail_mask(end - i);                                            \
            _mm256_maskstore_ps(y + i, m, op(_mm256_maskload_ps(x + i, m)));                 \
        }                                                                                    \
    }
CK_UNARY_AVX2(erf_avx2, ck256_erf)
CK_UNARY_AVX2(gelu_avx2, gelu256)

CK_TARGET_AVX2 static void silu_mul_avx2(const float *g, const float *u, float *o, ptrdiff_t begin, ptrdiff_t end) {
    ptrdiff_t i = begin;
    for (; i + 8 <= end; i += 8)
        _mm256_storeu_ps(o + i, _mm256_mul_ps(silu256(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
    if (i < end) {
        __m256i m = ck256_tail_mask(end - i);
        __m256 r = _mm256_mul_ps(silu256(_mm256_maskload_ps(g + i, m)), _mm256_maskload_ps(u + i, m));
        _mm256_maskstore_ps(o + i, m, r);
    }
}

// ------------------------------------------------------------------------------------------------ AVX-512
CK_TARGET_AVX512 CK_INLINE __m512 gelu512(__m512 x) {
    __m512 e = ck512_erf(_mm512_mul_ps(x, _mm512_set1_ps(CK_SQRT1_2)));
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}
CK_TARGET_AVX512 CK_INLINE __m512 silu512(__m512 g) {
    __m512 e = ck512_exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

#define CK_UNARY_AVX512(name, op)                                                                \
    CK_TARGET_AVX512 static void name(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end) {  \
        for (ptrdiff_t i = begin; i < end; i += 16) {                                            \
            __mmask16 k = ck512_tail_mask(end - i);                                              \
            _mm512_mask_storeu_ps(y + i, k, op(_mm512_maskz_loadu_ps(k, x + i)));                \
        }                                                                                        \
    }
CK_UNARY_AVX512(erf_avx512, ck512_erf)
CK_UNARY_AVX512(gelu_avx512, gelu512)

CK_TARGET_AVX512 static void silu_mul_avx512(const float *g, const float *u, float *o, ptrdiff_t begin,
                                             ptrdiff_t end) {
    for (ptrdiff_t i = begin; i < end; i += 16) {
        __mmask16 k = ck512_tail_mask(end - i);
        __m512 r = _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(k, g + i)), _mm512_maskz_loadu_ps(k, u + i));
        _mm512_mask_storeu_ps(o + i, k, r);
    }
}
#endif

// ------------------------------------------------------------------------------------------------ dispatch
void ck_erf_f32(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end) {
#ifdef CK_OPS_X86
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) { erf_avx512(x, y, begin, end); return; }
    if (level >= CK_LEVEL_AVX2) { erf_avx2(x, y, begin, end); return; }
#endif
    for (ptrdiff_t i = begin; i < end; i++) y[i] = erff(x[i]);
}

void ck_gelu_f32(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end) {
#ifdef CK_OPS_X86
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) { gelu_avx512(x, y, begin, end); return; }
    if (level >= CK_LEVEL_AVX2) { gelu_avx2(x, y, begin, end); return; }
#endif
    for (ptrdiff_t i = begin; i < end; i++) y[i] = gelu1(x[i]);
}

void ck_silu_mul_f32(const float *gate, const float *up, float *out, ptrdiff_t begin, ptrdiff_t end) {
#ifdef CK_OPS_X86
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) { silu_mul_avx512(gate, up, out, begin, end); return; }
    if (level >= CK_LEVEL_AVX2) { silu_mul_avx2(gate, up, out, begin, end); return; }
#endif
    for (ptrdiff_t i = begin; i < end; i++) out[i] = silu1(gate[i]) * up[i];
}

// The adds below are plain loops: the compiler vectorises them for the baseline, and without contraction every
// element is computed exactly as PyTorch does (one rounding per operation), so no per-level paths are needed.
void ck_bias_add_f32(float *x, ptrdiff_t x_stride, const float *bias, ptrdiff_t dim, ptrdiff_t r0, ptrdiff_t r1) {
    for (ptrdiff_t r = r0; r < r1; r++) {
        float *xr = x + r * x_stride;
        for (ptrdiff_t c = 0; c < dim; c++) xr[c] = xr[c] + bias[c];
    }
}

void ck_residual_add_f32(float *x, ptrdiff_t x_stride, const float *y, ptrdiff_t y_stride, const float *scale,
                         ptrdiff_t dim, ptrdiff_t r0, ptrdiff_t r1) {
    for (ptrdiff_t r = r0; r < r1; r++) {
        float *xr = x + r * x_stride;
        const float *yr = y + r * y_stride;
        if (scale) {
            for (ptrdiff_t c = 0; c < dim; c++) {
                float p = scale[c] * yr[c];
                xr[c] = xr[c] + p;
            }
        } else {
            for (ptrdiff_t c = 0; c < dim; c++) xr[c] = xr[c] + yr[c];
        }
    }
}

void ck_add_f32(const float *a, const float *b, float *out, ptrdiff_t begin, ptrdiff_t end) {
    for (ptrdiff_t i = begin; i < end; i++) out[i] = a[i] + b[i];
}
