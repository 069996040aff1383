// Row softmax with scalar, AVX2 and AVX-512 paths chosen at run time.
#include "ck_ops_softmax.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#include <math.h>

static void softmax_scalar(const float *x, float *y, ptrdiff_t dim) {
    float m = -INFINITY;
    for (ptrdiff_t i = 0; i < dim; i++) m = x[i] > m ? x[i] : m;
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < dim; i++) {
        y[i] = expf(x[i] - m);
        sum += y[i];
    }
    float s = (float)sum;
    for (ptrdiff_t i = 0; i < dim; i++) y[i] = y[i] / s;
}

#ifdef CK_OPS_X86
CK_TARGET_AVX2 static void softmax_avx2(const float *x, float *y, ptrdiff_t dim) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    ptrdiff_t i = 0;
    for (; i + 8 <= dim; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float m = ck256_hmax(mv);
    for (; i < dim; i++) m = x[i] > m ? x[i] : m;
    __m256 mb = _mm256_set1_ps(m), s0 = _mm256_setzero_ps();
    for (i = 0; i + 8 <= dim; i += 8) {
        __m256 e = ck256_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb));
        _mm256_storeu_ps(y + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < dim) {
        __m256i mask = ck256_tail_mask(dim - i);
        __m256 e = ck256_exp(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), mb));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        _mm256_maskstore_ps(y + i, mask, e);
        s0 = _mm256_add_ps(s0, e);
    }
    __m256 sb = _mm256_set1_ps(ck256_hsum(s0));
    for (i = 0; i + 8 <= dim; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(y + i), sb));
    if (i < dim) {
        __m256i mask = ck256_tail_mask(dim - i);
        _mm256_maskstore_ps(y + i, mask, _mm256_div_ps(_mm256_maskload_ps(y + i, mask), sb));
    }
}

CK_TARGET_AVX512 static void softmax_avx512(const float *x, float *y, ptrdiff_t dim) {
    __m512 mv = _mm512_set1_ps(-INFINITY);
    for (ptrdiff_t i = 0; i < dim; i += 16) {
        __mmask16 k = ck512_tail_mask(dim - i);
        mv = _mm512_mask_max_ps(mv, k, mv, _mm512_maskz_loadu_ps(k, x + i));
    }
    __m512 mb = _mm512_set1_ps(_mm512_reduce_max_ps(mv)), s0 = _mm512_setzero_ps();
    for (ptrdiff_t i = 0; i < dim; i += 16) {
        __mmask16 k = ck512_tail_mask(dim - i);
        __m512 e = _mm512_maskz_mov_ps(k, ck512_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mb)));
        _mm512_mask_storeu_ps(y + i, k, e);
        s0 = _mm512_add_ps(s0, e);
    }
    __m512 sb = _mm512_set1_ps(_mm512_reduce_add_ps(s0));
    for (ptrdiff_t i = 0; i < dim; i += 16) {
        __mmask16 k = ck512_tail_mask(dim - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_div_ps(_mm512_maskz_loadu_ps(k, y + i), sb));
    }
}
#endif

void ck_softmax_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, ptrdiff_t dim,
                    ptrdiff_t r0, ptrdiff_t r1) {
    ck_level level = ck_active_level();
    for (ptrdiff_t r = r0; r < r1; r++) {
        const float *xr = x + r * x_stride;
        float *yr = y + r * y_stride;
#ifdef CK_OPS_X86
        if (level >= CK_LEVEL_AVX512) { softmax_avx512(xr, yr, dim); continue; }
        if (level >= CK_LEVEL_AVX2) { softmax_avx2(xr, yr, dim); continue; }
#endif
        (void)level;
        softmax_scalar(xr, yr, dim);
    }
}
