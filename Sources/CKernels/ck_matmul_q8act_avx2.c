// int8-activation matmul kernels on AVX2 (CK_PRECISION_FAST against q8_0 / q4_0 weights where VNNI is missing):
// the same quantized X as the AVX512-VNNI kernels (blocks of 32, d = max|x| / 127, q = x / d rounded to nearest
// even), one 256-bit vector per block, integer dot products by vpmaddubsw (unsigned x signed bytes to 16-bit
// pairs) and vpmaddwd (pairs to 32-bit lanes):
//   q8_0  |w| is the unsigned operand and x takes w's sign (vpsignb), so w * x = |w| * (sign(w) x); a pair sums
//         to at most 2 * 128 * 127 = 32512, which never saturates the 16-bit lanes;
//   q4_0  the nibbles u (0..15) are the unsigned operand as they are, and -8 * sum(x_q) is added per block.
// Every integer sum is exact, so results equal the AVX512-VNNI kernels' up to float rounding.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define CK_Q8ACT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))
/// Weight rows per step, and rows of X per register tile.
#define CK_Q8ACT_AVX2_ROWS 4
#define CK_Q8ACT_AVX2_MR 4

// Bytes of one row of X: f32 scales, int32 sums (nb each), then the k quants; padded to 64 bytes.
static int64_t ck_q8act_avx2_row_bytes(int64_t k) { return (k / 32 * 8 + k + 63) / 64 * 64; }

int64_t ck_q8act_avx2_bytes(int64_t m, int64_t k) { return m * ck_q8act_avx2_row_bytes(k); }

CK_Q8ACT_AVX2 void ck_q8act_quantize_avx2(const float *x, int64_t m, int64_t k, void *dst) {
    int64_t nb = k / 32, row_bytes = ck_q8act_avx2_row_bytes(k);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    for (int64_t i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)dst + i * row_bytes;
        float *scales = (float *)row;
        int32_t *sums = (int32_t *)(row + nb * 4);
        int8_t *quants = (int8_t *)(row + nb * 8);
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + i * k + b * 32;
            __m256 v[4], amax = _mm256_setzero_ps();
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_loadu_ps(xb + j * 8);
                amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
            }
            float lanes[8];
            _mm256_storeu_ps(lanes, amax);
            float top = 0.0f;
            for (int j = 0; j < 8; j++) top = lanes[j] > top ? lanes[j] : top;
            float d = top / 127.0f;
            int32_t sum = 0;
            if (d > 0.0f) {
                __m256 vd = _mm256_set1_ps(d);
                for (int j = 0; j < 4; j++) {
                    // Division and the default round-to-nearest-even conversion, as ck_q8act_quantize_avx512.
                    __m256i q = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_div_ps(v[j], vd))));
                    int32_t values[8];
                    _mm256_storeu_si256((__m256i *)values, q);
                    for (int t = 0; t < 8; t++) {
                        quants[b * 32 + j * 8 + t] = (int8_t)values[t];
                        sum += values[t];
                    }
                }
            } else {
                memset(quants + b * 32, 0, 32);
            }
            scales[b] = d > 0.0f ? d : 0.0f;
            sums[b] = sum;
        }
    }
}

CK_Q8ACT_AVX2 CK_INLINE float ck_q8act_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// y[i * ldy + row + r] (or +=) for i < MR, r < R: MR rows of X (from x0) times R weight rows.
CK_Q8ACT_AVX2 CK_INLINE void ck_q8act_avx2_tile(const ck_weights *w, const uint8_t *xq, int64_t row_bytes, int MR,
                                                int64_t row, int R, float *y, int64_t ldy, int accumulate) {
    int64_t k = w->cols, nb = k / 32;
    int q8 = w->format == CK_FORMAT_Q8_0;
    __m256 acc[CK_Q8ACT_AVX2_MR][CK_Q8ACT_AVX2_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) acc[i][r] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[CK_Q8ACT_AVX2_ROWS], wabs[CK_Q8ACT_AVX2_ROWS];
        float dw[CK_Q8ACT_AVX2_ROWS];
        for (int r = 0; r < R; r++) {
            dw[r] = _cvtsh_ss(w->scales[(row + r) * nb + b]);
            if (q8) {
                const int8_t *p = (const int8_t *)w->data + (row + r) * k + b * 32;
                _mm_prefetch((const char *)p + 512, _MM_HINT_T0);
                wv[r] = _mm256_loadu_si256((const __m256i *)p);
                wabs[r] = _mm256_sign_epi8(wv[r], wv[r]);
            } else {
                const uint8_t *p = (const uint8_t *)w->data + (row + r) * (k / 2) + b * 16;
                _mm_prefetch((const char *)p + 512, _MM_HINT_T0);
                __m128i v = _mm_loadu_si128((const __m128i *)p);
                __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
                wabs[r] = _mm256_and_si256(both, low4);  // nibbles: columns 0-15, then 16-31
            }
        }
        for (int i = 0; i < MR; i++) {
            const uint8_t *xr = xq + i * row_bytes;
            float dx = ((const float *)xr)[b];
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xr + nb * 8 + b * 32));
            __m256i off = q8 ? _mm256_setzero_si256()
                             : _mm256_setr_epi32(-8 * ((const int32_t *)(xr + nb * 4))[b], 0, 0, 0, 0, 0, 0, 0);
            for (int r = 0; r < R; r++) {
                __m256i pairs = _mm256_maddubs_epi16(wabs[r], q8 ? _mm256_sign_epi8(xv, wv[r]) : xv);
                __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(pairs, ones), off);
                acc[i][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw[r] * dx), acc[i][r]);
            }
        }
    }
    for (int i = 0; i < MR; i++) {
        for (int r = 0; r < R; r++) {
            float v = ck_q8act_hsum8(acc[i][r]);
            float *dst = y + i * ldy + row + r;
            *dst = accumulate ? *dst + v : v;
        }
    }
}

CK_Q8ACT_AVX2 void ck_q8act_matmul_avx2(const ck_weights *w, const void *xq, int64_t m, int64_t row0, int64_t nrows,
                                        float *y, int64_t ldy, int accumulate) {
    int64_t row_bytes = ck_q8act_avx2_row_bytes(w->cols);
    for (int64_t row = row0; row < row0 + nrows; row += CK_Q8ACT_AVX2_ROWS) {
        int R = (int)(row0 + nrows - row < CK_Q8ACT_AVX2_ROWS ? row0 + nrows - row : CK_Q8ACT_AVX2_ROWS);
        for (int64_t i0 = 0; i0 < m; i0 += CK_Q8ACT_AVX2_MR) {
            int mr = (int)(m - i0 < CK_Q8ACT_AVX2_MR ? m - i0 : CK_Q8ACT_AVX2_MR);
            const uint8_t *x = (const uint8_t *)xq + i0 * row_bytes;
            float *yi = y + i0 * ldy;
#define CK_AVX2_CASE(MR, RR) \
    case (MR) * 8 + (RR): ck_q8act_avx2_tile(w, x, row_bytes, MR, row, RR, yi, ldy, accumulate); break;
            switch (mr * 8 + R) {
                CK_AVX2_CASE(1, 1) CK_AVX2_CASE(1, 2) CK_AVX2_CASE(1, 3) CK_AVX2_CASE(1, 4)
                CK_AVX2_CASE(2, 1) CK_AVX2_CASE(2, 2) CK_AVX2_CASE(2, 3) CK_AVX2_CASE(2, 4)
                CK_AVX2_CASE(3, 1) CK_AVX2_CASE(3, 2) CK_AVX2_CASE(3, 3) CK_AVX2_CASE(3, 4)
                CK_AVX2_CASE(4, 1) CK_AVX2_CASE(4, 2) CK_AVX2_CASE(4, 3) CK_AVX2_CASE(4, 4)
            default: break;
            }
#undef CK_AVX2_CASE
        }
    }
}

#endif
