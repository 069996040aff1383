// Private to the ck_ops_* kernels: target attributes and SIMD helpers (exp, erf, horizontal reductions,
// tail masks) for the AVX2 and AVX-512 paths. Not part of the public CKernels API.
#ifndef CK_OPS_VECMATH_H
#define CK_OPS_VECMATH_H

#include <stddef.h>

#if defined(__x86_64__)
#define CK_OPS_X86 1
#include <immintrin.h>

#define CK_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CK_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))

// exp(x) is evaluated as 2^n * e^r with n = round(x / ln 2) and |r| <= ln2 / 2; e^r by its Taylor series to
// degree 7 (truncation error below 6e-9 relative). Inputs are clamped to [-87.3, 88.3] so 2^n stays a normal
// float; inputs below -87.3 (and -inf) give exactly 0.
#define CK_EXP_HI 88.3f
#define CK_EXP_LO -87.3f
#define CK_LOG2E 1.44269504088896341f
#define CK_LN2_HI 0.693145751953125f
#define CK_LN2_LO 1.42860682030941723212e-6f

// erf(x): |x| < 1 as x * c0_hi + x * (c0_lo + x^2 P(x^2)), with 2/sqrt(pi) = c0_hi + c0_lo split so the leading
// term carries one rounding; 1 <= |x| < 4 as 1 - exp(-x^2) * Q(|x| - 2.5), where Q fits exp(x^2) erfc(x);
// |x| >= 4 as +-1 (erf rounds to 1 in float there). Coefficients are our own least-squares fits on Chebyshev
// nodes; measured error against double erf is below 1.2e-7 relative over the whole float range.
#define CK_ERF_C0_HI 1.128379225730896f
#define CK_ERF_C0_LO -5.8635382771399236e-08f
#define CK_ERF_P0 -0.37612637877464294f
#define CK_ERF_P1 0.11283762753009796f
#define CK_ERF_P2 -0.02686231955885887f
#define CK_ERF_P3 0.005206141155213118f
#define CK_ERF_P4 -0.0008178656571544707f
#define CK_ERF_P5 8.443251135759056e-05f
#define CK_ERF_Q0 0.21080635488033295f
#define CK_ERF_Q1 -0.0743476003408432f
#define CK_ERF_Q2 0.024938203394412994f
#define CK_ERF_Q3 -0.007999345660209656f
#define CK_ERF_Q4 0.0024659824557602406f
#define CK_ERF_Q5 -0.0007389975944533944f
#define CK_ERF_Q6 0.00021297208149917424f
#define CK_ERF_Q7 -5.3585808927891776e-05f
#define CK_ERF_Q8 1.4353662663779687e-05f
#define CK_ERF_Q9 -6.3860857153485995e-06f
#define CK_ERF_Q10 1.6718017832317855e-06f
#define CK_ERF_SHIFT 2.5f

// ---------------------------------------------------------------------------------------------------- AVX2
CK_TARGET_AVX2 CK_INLINE __m256 ck256_exp(__m256 x) {
    __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(CK_EXP_LO), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(CK_EXP_LO)), _mm256_set1_ps(CK_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(CK_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CK_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CK_LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_andnot_ps(underflow, result);
}

CK_TARGET_AVX2 CK_INLINE __m256 ck256_erf(__m256 x) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 sign = _mm256_and_ps(x, sign_mask);
    __m256 a = _mm256_andnot_ps(sign_mask, x);
    __m256 z = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(CK_ERF_P5);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_ERF_P4));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_ERF_P3));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_ERF_P2));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_ERF_P1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(CK_ERF_P0));
    __m256 tail = _mm256_fmadd_ps(z, p, _mm256_set1_ps(CK_ERF_C0_LO));
    __m256 small = _mm256_fmadd_ps(a, _mm256_set1_ps(CK_ERF_C0_HI), _mm256_mul_ps(a, tail));
    __m256 u = _mm256_sub_ps(_mm256_min_ps(a, _mm256_set1_ps(4.0f)), _mm256_set1_ps(CK_ERF_SHIFT));
    __m256 q = _mm256_set1_ps(CK_ERF_Q10);
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q9));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q8));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q7));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q6));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q5));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q4));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q3));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q2));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q1));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(CK_ERF_Q0));
    __m256 e = ck256_exp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_min_ps(z, _mm256_set1_ps(16.0f))));
    __m256 large = _mm256_fnmadd_ps(e, q, _mm256_set1_ps(1.0f));
    __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(1.0f), _CMP_LT_OQ);
    __m256 is_huge = _mm256_cmp_ps(a, _mm256_set1_ps(4.0f), _CMP_GE_OQ);
    __m256 r = _mm256_blendv_ps(large, small, is_small);
    r = _mm256_blendv_ps(r, _mm256_set1_ps(1.0f), is_huge);
    return _mm256_or_ps(r, sign);
}

CK_TARGET_AVX2 CK_INLINE float ck256_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

CK_TARGET_AVX2 CK_INLINE float ck256_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Lanes 0..n-1 set (n clamped to 0...8), for _mm256_maskload_ps / _mm256_maskstore_ps tails.
CK_TARGET_AVX2 CK_INLINE __m256i ck256_tail_mask(ptrdiff_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// -------------------------------------------------------------------------------------------------- AVX-512
CK_TARGET_AVX512 CK_INLINE __m512 ck512_exp(__m512 x) {
    __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(CK_EXP_LO), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(CK_EXP_LO)), _mm512_set1_ps(CK_EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(CK_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CK_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CK_LN2_LO), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    __m512 result = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
    return _mm512_maskz_mov_ps((__mmask16)~underflow, result);
}

CK_TARGET_AVX512 CK_INLINE __m512 ck512_erf(__m512 x) {
    const __m512i sign_bits = _mm512_set1_epi32((int)0x80000000u);
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), sign_bits);
    __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bits, _mm512_castps_si512(x)));
    __m512 z = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(CK_ERF_P5);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_ERF_P4));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_ERF_P3));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_ERF_P2));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_ERF_P1));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(CK_ERF_P0));
    __m512 tail = _mm512_fmadd_ps(z, p, _mm512_set1_ps(CK_ERF_C0_LO));
    __m512 small = _mm512_fmadd_ps(a, _mm512_set1_ps(CK_ERF_C0_HI), _mm512_mul_ps(a, tail));
    __m512 u = _mm512_sub_ps(_mm512_min_ps(a, _mm512_set1_ps(4.0f)), _mm512_set1_ps(CK_ERF_SHIFT));
    __m512 q = _mm512_set1_ps(CK_ERF_Q10);
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q9));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q8));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q7));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q6));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q5));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q4));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q3));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q2));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q1));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(CK_ERF_Q0));
    __m512 e = ck512_exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_min_ps(z, _mm512_set1_ps(16.0f))));
    __m512 large = _mm512_fnmadd_ps(e, q, _mm512_set1_ps(1.0f));
    __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
    __mmask16 is_huge = _mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_GE_OQ);
    __m512 r = _mm512_mask_mov_ps(large, is_small, small);
    r = _mm512_mask_mov_ps(r, is_huge, _mm512_set1_ps(1.0f));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

/// Lanes 0..n-1 set (n clamped to 0...16).
CK_TARGET_AVX512 CK_INLINE __mmask16 ck512_tail_mask(ptrdiff_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u);
}

#endif  // __x86_64__
#endif
