// Rotate-half RoPE with scalar, AVX2 and AVX-512 paths (bit-identical: no fused multiply-add).
#include "ck_ops_rope.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#pragma STDC FP_CONTRACT OFF

/// Rotates pairs (i, i + half) for i in [from, half).
static void rope_head_scalar(float *x, const float *c, const float *s, ptrdiff_t from, ptrdiff_t half) {
    for (ptrdiff_t i = from; i < half; i++) {
        float a = x[i], b = x[i + half];
        float ac = a * c[i], bs = b * s[i], bc = b * c[i], as = a * s[i];
        x[i] = ac - bs;
        x[i + half] = bc + as;
    }
}

#ifdef CK_OPS_X86
CK_TARGET_AVX2 static void rope_head_avx2(float *x, const float *c, const float *s, ptrdiff_t half) {
    ptrdiff_t i = 0;
    for (; i + 8 <= half; i += 8) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + half);
        __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(a, cv), _mm256_mul_ps(b, sv)));
        _mm256_storeu_ps(x + i + half, _mm256_add_ps(_mm256_mul_ps(b, cv), _mm256_mul_ps(a, sv)));
    }
    rope_head_scalar(x, c, s, i, half);
}

CK_TARGET_AVX512 static void rope_head_avx512(float *x, const float *c, const float *s, ptrdiff_t half) {
    for (ptrdiff_t i = 0; i < half; i += 16) {
        __mmask16 k = ck512_tail_mask(half - i);
        __m512 a = _mm512_maskz_loadu_ps(k, x + i), b = _mm512_maskz_loadu_ps(k, x + i + half);
        __m512 cv = _mm512_maskz_loadu_ps(k, c + i), sv = _mm512_maskz_loadu_ps(k, s + i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_sub_ps(_mm512_mul_ps(a, cv), _mm512_mul_ps(b, sv)));
        _mm512_mask_storeu_ps(x + i + half, k, _mm512_add_ps(_mm512_mul_ps(b, cv), _mm512_mul_ps(a, sv)));
    }
}
#endif

void ck_rope_f32(float *x, ptrdiff_t row_stride, ptrdiff_t n_heads, ptrdiff_t head_dim, const int32_t *positions,
                 const float *cos_table, const float *sin_table, ptrdiff_t r0, ptrdiff_t r1) {
    ck_level level = ck_active_level();
    ptrdiff_t half = head_dim / 2;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const float *c = cos_table + (ptrdiff_t)positions[r] * half;
        const float *s = sin_table + (ptrdiff_t)positions[r] * half;
        for (ptrdiff_t h = 0; h < n_heads; h++) {
            float *xh = x + r * row_stride + h * head_dim;
#ifdef CK_OPS_X86
            if (level >= CK_LEVEL_AVX512) { rope_head_avx512(xh, c, s, half); continue; }
            if (level >= CK_LEVEL_AVX2) { rope_head_avx2(xh, c, s, half); continue; }
#endif
            (void)level;
            rope_head_scalar(xh, c, s, 0, half);
        }
    }
}
