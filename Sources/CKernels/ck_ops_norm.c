// RMSNorm and LayerNorm over rows, with scalar, AVX2 and AVX-512 paths chosen at run time.
#include "ck_ops_norm.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#include <math.h>

#pragma STDC FP_CONTRACT OFF

// ------------------------------------------------------------------------------------------------ scalar
static void rmsnorm_scalar(const float *x, float *y, const float *w, ptrdiff_t dim, float eps) {
    double ss = 0.0;
    for (ptrdiff_t i = 0; i < dim; i++) ss += (double)x[i] * (double)x[i];
    float inv = 1.0f / sqrtf((float)(ss / (double)dim) + eps);
    for (ptrdiff_t i = 0; i < dim; i++) {
        float n = x[i] * inv;
        y[i] = n * w[i];
    }
}

static void layernorm_scalar(const float *x, float *y, const float *w, const float *b, ptrdiff_t dim, float eps) {
    double s = 0.0;
    for (ptrdiff_t i = 0; i < dim; i++) s += x[i];
    float mean = (float)(s / (double)dim);
    double v = 0.0;
    for (ptrdiff_t i = 0; i < dim; i++) {
        double d = (double)(x[i] - mean);
        v += d * d;
    }
    float rstd = 1.0f / sqrtf((float)(v / (double)dim) + eps);
    for (ptrdiff_t i = 0; i < dim; i++) {
        float n = (x[i] - mean) * rstd;
        float scaled = n * w[i];
        y[i] = scaled + b[i];
    }
}

#ifdef CK_OPS_X86
// -------------------------------------------------------------------------------------------------- AVX2
CK_TARGET_AVX2 static float sum_squares_avx2(const float *x, ptrdiff_t dim) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
        a2 = _mm256_fmadd_ps(v2, v2, a2);
        a3 = _mm256_fmadd_ps(v3, v3, a3);
    }
    for (; i < dim; i += 8) {
        __m256 v = _mm256_maskload_ps(x + i, ck256_tail_mask(dim - i));
        a0 = _mm256_fmadd_ps(v, v, a0);
    }
    return ck256_hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

CK_TARGET_AVX2 static float sum_centered_squares_avx2(const float *x, ptrdiff_t dim, float mean, float *sum_out) {
    // Returns sum((x - mean)^2); sum_out receives the plain sum when mean is 0 (first pass).
    __m256 m = _mm256_set1_ps(mean);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
        s0 = _mm256_add_ps(s0, d0);
        s1 = _mm256_add_ps(s1, d1);
        q0 = _mm256_fmadd_ps(d0, d0, q0);
        q1 = _mm256_fmadd_ps(d1, d1, q1);
    }
    for (; i < dim; i += 8) {
        __m256i mask = ck256_tail_mask(dim - i);
        __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m), _mm256_castsi256_ps(mask));
        s0 = _mm256_add_ps(s0, d);
        q0 = _mm256_fmadd_ps(d, d, q0);
    }
    if (sum_out) *sum_out = ck256_hsum(_mm256_add_ps(s0, s1));
    return ck256_hsum(_mm256_add_ps(q0, q1));
}

CK_TARGET_AVX2 static void scale_rows_avx2(const float *x, float *y, const float *w, const float *b, ptrdiff_t dim,
                                           float shift, float scale) {
    __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
    ptrdiff_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh), sc);
        __m256 r = _mm256_mul_ps(n, _mm256_loadu_ps(w + i));
        if (b) r = _mm256_add_ps(r, _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(y + i, r);
    }
    if (i < dim) {
        __m256i mask = ck256_tail_mask(dim - i);
        __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), sh), sc);
        __m256 r = _mm256_mul_ps(n, _mm256_maskload_ps(w + i, mask));
        if (b) r = _mm256_add_ps(r, _mm256_maskload_ps(b + i, mask));
        _mm256_maskstore_ps(y + i, mask, r);
    }
}

CK_TARGET_AVX2 static void rmsnorm_avx2(const float *x, float *y, const float *w, ptrdiff_t dim, float eps) {
    float inv = 1.0f / sqrtf(sum_squares_avx2(x, dim) / (float)dim + eps);
    scale_rows_avx2(x, y, w, NULL, dim, 0.0f, inv);
}

CK_TARGET_AVX2 static void layernorm_avx2(const float *x, float *y, const float *w, const float *b, ptrdiff_t dim,
                                          float eps) {
    float sum = 0.0f;
    (void)sum_centered_squares_avx2(x, dim, 0.0f, &sum);
    float mean = sum / (float)dim;
    float var = sum_centered_squares_avx2(x, dim, mean, NULL) / (float)dim;
    scale_rows_avx2(x, y, w, b, dim, mean, 1.0f / sqrtf(var + eps));
}

// ------------------------------------------------------------------------------------------------ AVX-512
CK_TARGET_AVX512 static float sum_centered_squares_avx512(const float *x, ptrdiff_t dim, float mean,
                                                          float *sum_out) {
    __m512 m = _mm512_set1_ps(mean);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), m), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m);
        s0 = _mm512_add_ps(s0, d0);
        s1 = _mm512_add_ps(s1, d1);
        q0 = _mm512_fmadd_ps(d0, d0, q0);
        q1 = _mm512_fmadd_ps(d1, d1, q1);
    }
    for (; i < dim; i += 16) {
        __mmask16 k = ck512_tail_mask(dim - i);
        __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), m);
        s0 = _mm512_add_ps(s0, d);
        q0 = _mm512_fmadd_ps(d, d, q0);
    }
    if (sum_out) *sum_out = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    return _mm512_reduce_add_ps(_mm512_add_ps(q0, q1));
}

CK_TARGET_AVX512 static void scale_rows_avx512(const float *x, float *y, const float *w, const float *b,
                                               ptrdiff_t dim, float shift, float scale) {
    __m512 sh = _mm512_set1_ps(shift), sc = _mm512_set1_ps(scale);
    for (ptrdiff_t i = 0; i < dim; i += 16) {
        __mmask16 k = ck512_tail_mask(dim - i);
        __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh), sc);
        __m512 r = _mm512_mul_ps(n, _mm512_maskz_loadu_ps(k, w + i));
        if (b) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(k, b + i));
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}

CK_TARGET_AVX512 static void rmsnorm_avx512(const float *x, float *y, const float *w, ptrdiff_t dim, float eps) {
    float ss = sum_centered_squares_avx512(x, dim, 0.0f, NULL);
    scale_rows_avx512(x, y, w, NULL, dim, 0.0f, 1.0f / sqrtf(ss / (float)dim + eps));
}

CK_TARGET_AVX512 static void layernorm_avx512(const float *x, float *y, const float *w, const float *b,
                                              ptrdiff_t dim, float eps) {
    float sum = 0.0f;
    (void)sum_centered_squares_avx512(x, dim, 0.0f, &sum);
    float mean = sum / (float)dim;
    float var = sum_centered_squares_avx512(x, dim, mean, NULL) / (float)dim;
    scale_rows_avx512(x, y, w, b, dim, mean, 1.0f / sqrtf(var + eps));
}
#endif

// ------------------------------------------------------------------------------------------------ dispatch
void ck_rmsnorm_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, const float *w,
                    ptrdiff_t dim, float eps, ptrdiff_t r0, ptrdiff_t r1) {
    ck_level level = ck_active_level();
    for (ptrdiff_t r = r0; r < r1; r++) {
        const float *xr = x + r * x_stride;
        float *yr = y + r * y_stride;
#ifdef CK_OPS_X86
        if (level >= CK_LEVEL_AVX512) { rmsnorm_avx512(xr, yr, w, dim, eps); continue; }
        if (level >= CK_LEVEL_AVX2) { rmsnorm_avx2(xr, yr, w, dim, eps); continue; }
#endif
        (void)level;
        rmsnorm_scalar(xr, yr, w, dim, eps);
    }
}

void ck_layernorm_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, const float *w,
                      const float *b, ptrdiff_t dim, float eps, ptrdiff_t r0, ptrdiff_t r1) {
    ck_level level = ck_active_level();
    for (ptrdiff_t r = r0; r < r1; r++) {
        const float *xr = x + r * x_stride;
        float *yr = y + r * y_stride;
#ifdef CK_OPS_X86
        if (level >= CK_LEVEL_AVX512) { layernorm_avx512(xr, yr, w, b, dim, eps); continue; }
        if (level >= CK_LEVEL_AVX2) { layernorm_avx2(xr, yr, w, b, dim, eps); continue; }
#endif
        (void)level;
        layernorm_scalar(xr, yr, w, b, dim, eps);
    }
}
