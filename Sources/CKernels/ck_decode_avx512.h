// Internal: AVX-512 decoders of 16 weights to floats, shared by the kernels that decode W (ck_matmul_avx512.c's
// panels, ck_gemm_f32_avx512.c's packed micro-panels), so both see the same values. Include only from a file whose
// callers carry the same target attribute (CK_DECODE_AVX512).
#ifndef CK_DECODE_AVX512_H
#define CK_DECODE_AVX512_H

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_DECODE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

/// 16 bf16 values (their bits) as floats.
CK_DECODE_AVX512 static inline __attribute__((always_inline)) __m512 ck_bf16x16(__m256i bits) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

/// 16 q8_0 quants times their block's scale `d`.
CK_DECODE_AVX512 static inline __attribute__((always_inline)) __m512 ck_q8_0x16(const int8_t *q, __m512 d) {
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q))));
}

/// Half of a q4_0 block: `bytes` holds the block's 16 bytes widened to 32-bit lanes, whose low nibbles are values
/// 0..15 and high nibbles values 16..31 (`high`); each nibble n becomes (n - 8) * d.
CK_DECODE_AVX512 static inline __attribute__((always_inline)) __m512 ck_q4_0x16(__m512i bytes, int high, __m512 d) {
    __m512i nibbles = high ? _mm512_srli_epi32(bytes, 4) : _mm512_and_si512(bytes, _mm512_set1_epi32(15));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(nibbles, _mm512_set1_epi32(8))));
}

#endif
#endif
