// AVX-512 (F/BW/VL/DQ + FMA + F16C) matmul kernels. Only this file's functions use AVX-512, through
// per-function target attributes; the caller selects them only when ck_active_level() >= CK_LEVEL_AVX512.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "ck_decode_avx512.h"

#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))

CK_AVX512 CK_INLINE __mmask16 ck_tail_mask(int64_t count) { return (__mmask16)((1u << count) - 1u); }

// ---- decode -------------------------------------------------------------------------------------------

CK_AVX512 static void ck_decode_avx512(const ck_weights *w, int64_t row0, int64_t nrows, int64_t k0, int64_t kb,
                                       float *dst, int64_t ldd) {
    int64_t k = w->cols;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = row0 + r;
        float *out = dst + r * ldd;
        switch (w->format) {
        case CK_FORMAT_F32: {
            const float *src = (const float *)w->data + row * k + k0;
            int64_t i = 0;
            for (; i + 16 <= kb; i += 16) _mm512_storeu_ps(out + i, _mm512_loadu_ps(src + i));
            if (i < kb) {
                __mmask16 m = ck_tail_mask(kb - i);
                _mm512_mask_storeu_ps(out + i, m, _mm512_maskz_loadu_ps(m, src + i));
            }
            break;
        }
        case CK_FORMAT_BF16: {
            const uint16_t *src = (const uint16_t *)w->data + row * k + k0;
            int64_t i = 0;
            for (; i + 16 <= kb; i += 16) {
                _mm512_storeu_ps(out + i, ck_bf16x16(_mm256_loadu_si256((const __m256i *)(src + i))));
            }
            if (i < kb) {
                __mmask16 m = ck_tail_mask(kb - i);
                _mm512_mask_storeu_ps(out + i, m, ck_bf16x16(_mm256_maskz_loadu_epi16(m, src + i)));
            }
            break;
        }
        case CK_FORMAT_Q8_0: {
            const int8_t *q = (const int8_t *)w->data + row * k + k0;
            const uint16_t *s = w->scales + (row * k + k0) / CK_QBLOCK;
            for (int64_t b = 0; b < kb / CK_QBLOCK; b++) {
                __m512 d = _mm512_set1_ps(_cvtsh_ss(s[b]));
                const int8_t *qb = q + b * CK_QBLOCK;
                _mm512_storeu_ps(out + b * CK_QBLOCK, ck_q8_0x16(qb, d));
                _mm512_storeu_ps(out + b * CK_QBLOCK + 16, ck_q8_0x16(qb + 16, d));
            }
            break;
        }
        case CK_FORMAT_Q4_0: {
            const uint8_t *q = (const uint8_t *)w->data + (row * k + k0) / 2;
            const uint16_t *s = w->scales + (row * k + k0) / CK_QBLOCK;
            for (int64_t b = 0; b < kb / CK_QBLOCK; b++) {
                __m512 d = _mm512_set1_ps(_cvtsh_ss(s[b]));
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + b * 16)));
                _mm512_storeu_ps(out + b * CK_QBLOCK, ck_q4_0x16(v, 0, d));
                _mm512_storeu_ps(out + b * CK_QBLOCK + 16, ck_q4_0x16(v, 1, d));
            }
            break;
        }
        }
    }
}

// ---- GEMV (M = 1): R rows at once, one accumulator each, so R interleaved weight streams ---------------
//
// bf16: each row stream is also prefetched CK_GEMV_PREFETCH bytes ahead, once per 64 bytes read: in A/B runs on a
// loaded 2-core Sapphire Rapids VM (K = 4096, N = 14336, 2 threads, weights cycled through 1 GiB) that was 0-15%
// faster for bf16 and q8_0 (most under contention from other jobs) and never clearly slower. Results unchanged.
// (q8_0 and q4_0 now prefetch the next group instead: below.)
#ifndef CK_GEMV_PREFETCH
#define CK_GEMV_PREFETCH 512
#endif

// q8_0 / q4_0: a quantized row is short (2-4 KiB at K = 4096), so every group of CK_GEMV_ROWS rows starts 8 new
// streams that the hardware prefetchers must first detect, and while the core is busy converting weights the
// streams were seen to add their latency to the compute instead of hiding under it (time from memory ~ time with
// the weights in L2 + time at full read bandwidth). Each 64 bytes read therefore prefetch, into L2, the same bytes
// of the row CK_GEMV_ROWS further on (the next group's row): the next group is in flight while this one is
// computed. Measured against 512 bytes ahead into L1 (2 threads, the decode shapes of bench kernels, weights cycled
// through 1 GiB, a C harness timing ck_matmul as bench kernels does, A/B in one session of a loaded VM): q8_0
// 0.63-0.76 -> 0.77-0.86 of read bandwidth, q4_0 0.32-0.52 -> 0.55-0.66 (ck_gemv_q4_rows); both hints together
// were not better than L2 alone (one noisy run).
#define CK_GEMV_PREFETCH_NEXT_GROUP(q, row_bytes) \
    _mm_prefetch((const char *)(q) + CK_GEMV_ROWS * (row_bytes), _MM_HINT_T1)

CK_AVX512 CK_INLINE void ck_gemv_f32_rows(const float *w, int64_t k, const float *x, int R, float *out) {
    __m512 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512 xv = _mm512_loadu_ps(x + i);
        for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * k + i), xv, acc[r]);
    }
    if (i < k) {
        __mmask16 m = ck_tail_mask(k - i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + r * k + i), xv, acc[r]);
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

CK_AVX512 CK_INLINE void ck_gemv_bf16_rows(const uint16_t *w, int64_t k, const float *x, int R, float *out) {
    __m512 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512 xv = _mm512_loadu_ps(x + i);
        for (int r = 0; r < R; r++) {
            __m512 wv = ck_bf16x16(_mm256_loadu_si256((const __m256i *)(w + r * k + i)));
            if ((i & 31) == 0) _mm_prefetch((const char *)(w + r * k + i) + CK_GEMV_PREFETCH, _MM_HINT_T0);
            acc[r] = _mm512_fmadd_ps(wv, xv, acc[r]);
        }
    }
    if (i < k) {
        __mmask16 m = ck_tail_mask(k - i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        for (int r = 0; r < R; r++) {
            acc[r] = _mm512_fmadd_ps(ck_bf16x16(_mm256_maskz_loadu_epi16(m, w + r * k + i)), xv, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// Quantized rows: blocks are walked in groups of 16 so that the 16 f16 scales of each row are converted with
// one instruction into a small table, from which each block's scale is broadcast by a load.
CK_AVX512 CK_INLINE void ck_gemv_q8_rows(const int8_t *w, const uint16_t *s, int64_t k, const float *x, int R,
                                         float *out) {
    __m512 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t nb = k / CK_QBLOCK;
    float scale[CK_GEMV_ROWS][16] __attribute__((aligned(64)));
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        int64_t count = nb - b0 < 16 ? nb - b0 : 16;
        __mmask16 m = ck_tail_mask(count);
        for (int r = 0; r < R; r++) {
            _mm512_store_ps(scale[r], _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s + r * nb + b0)));
        }
        for (int64_t bb = 0; bb < count; bb++) {
            int64_t off = (b0 + bb) * CK_QBLOCK;
            __m512 x0 = _mm512_loadu_ps(x + off), x1 = _mm512_loadu_ps(x + off + 16);
            for (int r = 0; r < R; r++) {
                const int8_t *q = w + r * k + off;
                if ((bb & 1) == 0) CK_GEMV_PREFETCH_NEXT_GROUP(q, k);
                __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
                __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
                __m512 t = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
                acc[r] = _mm512_fmadd_ps(t, _mm512_set1_ps(scale[r][bb]), acc[r]);
            }
        }
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// q4_0: a nibble n becomes the float n - 8 by one table lookup (vpermps reads only the low 4 bits of each
// 32-bit lane), so neither a mask, nor an integer conversion, nor an offset is needed.
CK_AVX512 CK_INLINE void ck_gemv_q4_rows(const uint8_t *w, const uint16_t *s, int64_t k, const float *x, int R,
                                         float *out) {
    __m512 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t nb = k / CK_QBLOCK;
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    float scale[CK_GEMV_ROWS][16] __attribute__((aligned(64)));
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        int64_t count = nb - b0 < 16 ? nb - b0 : 16;
        __mmask16 m = ck_tail_mask(count);
        for (int r = 0; r < R; r++) {
            _mm512_store_ps(scale[r], _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s + r * nb + b0)));
        }
        for (int64_t bb = 0; bb < count; bb++) {
            int64_t off = (b0 + bb) * CK_QBLOCK;
            __m512 x0 = _mm512_loadu_ps(x + off), x1 = _mm512_loadu_ps(x + off + 16);
            for (int r = 0; r < R; r++) {
                const uint8_t *q = w + r * (k / 2) + off / 2;
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
                if ((bb & 3) == 0) CK_GEMV_PREFETCH_NEXT_GROUP(q, k / 2);
                __m512 lo = _mm512_permutexvar_ps(v, table);
                __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
                __m512 t = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
                acc[r] = _mm512_fmadd_ps(t, _mm512_set1_ps(scale[r][bb]), acc[r]);
            }
        }
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// q4_0 with X arranged once per call (ck_gemv_q4x_prepare_avx512), so that the nibbles need neither a widening
// nor a per-block FMA for the scale. A group of 4 blocks is 64 bytes; loading it at byte offsets o = 0..3 puts
// byte 4j + o in the low byte of 32-bit lane j (block j / 4), and vpermps reads only the low 4 bits of a lane:
// the table lookup of the load gives the low nibbles of those bytes as n - 8, and of the load shifted right by 4
// the high nibbles. Per group and row that is 4 loads, 4 shifts, 8 lookups and 8 FMAs for 128 weights, plus one
// permute that spreads the 4 blocks' scales over their lanes and one FMA: 22 vector uops on ports 0 and 5
// instead of 28 (ck_gemv_q4_rows: widen, 2 lookups, shift, 3 FMAs per block). Measured with the weights in L2 (one
// thread, K = 4096, N = 256): 600-620 -> 680-845 M blocks/s (845 M x 5.5 uops: both ports full at 2.3 GHz); from
// memory (2 threads, decode shapes, A/B three times) only about 3% faster: the stream latency still adds to it.
//
// Arranged X, per group g of 4 blocks: 8 vectors of 16 floats, vector 2o + h lane j holding
// x[(4g + j / 4) * 32 + 4 * (j % 4) + o + 16h] (zero past the last block).

int64_t ck_gemv_q4x_floats(int64_t k) { return (k / CK_QBLOCK + 3) / 4 * 128; }

void ck_gemv_q4x_prepare_avx512(const float *x, int64_t k, float *xa) {
    int64_t nb = k / CK_QBLOCK, groups = (nb + 3) / 4;
    for (int64_t g = 0; g < groups; g++) {
        float *dst = xa + g * 128;
        for (int v = 0; v < 8; v++) {
            int o = v / 2, h = v % 2;
            for (int j = 0; j < 16; j++) {
                int64_t b = 4 * g + j / 4;
                dst[v * 16 + j] = b < nb ? x[b * CK_QBLOCK + 4 * (j % 4) + o + 16 * h] : 0.0f;
            }
        }
    }
}

// The 4 byte-offset loads of one group: plain loads, or (`masked`) loads of only the row's own `bytes` bytes
// (the last group of a row, so no load reads past the matrix).
CK_AVX512 CK_INLINE void ck_q4x_loads(const uint8_t *q, int masked, int64_t bytes, __m512i v[4]) {
    if (!masked) {
        for (int o = 0; o < 4; o++) v[o] = _mm512_loadu_si512((const void *)(q + o));
        return;
    }
    for (int o = 0; o < 4; o++) {
        int64_t count = bytes - o;
        __mmask64 m = count >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << count) - 1);
        v[o] = _mm512_maskz_loadu_epi8(m, q + o);
    }
}

// acc[r] += one group (4 blocks) of rows r < R against the arranged X vectors `x`, with `idx` picking the
// group's 4 scales out of each row's 16 in `scale`. `masked`: the row's last group (see ck_q4x_loads).
CK_AVX512 CK_INLINE void ck_gemv_q4x_group(const uint8_t *q, int64_t rowbytes, int R, const __m512 x[8],
                                           __m512 table, __m512i idx, float (*scale)[16], int masked,
                                           int64_t bytes, __m512 *acc) {
    for (int r = 0; r < R; r++) {
        const uint8_t *qr = q + r * rowbytes;
        CK_GEMV_PREFETCH_NEXT_GROUP(qr, rowbytes);
        __m512i v[4];
        ck_q4x_loads(qr, masked, bytes, v);
        __m512 t = _mm512_mul_ps(_mm512_permutexvar_ps(v[0], table), x[0]);
        t = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v[0], 4), table), x[1], t);
        for (int o = 1; o < 4; o++) {
            t = _mm512_fmadd_ps(_mm512_permutexvar_ps(v[o], table), x[2 * o], t);
            t = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v[o], 4), table), x[2 * o + 1], t);
        }
        acc[r] = _mm512_fmadd_ps(t, _mm512_permutexvar_ps(idx, _mm512_load_ps(scale[r])), acc[r]);
    }
}

CK_AVX512 CK_INLINE void ck_gemv_q4x_rows(const uint8_t *w, const uint16_t *s, int64_t k, const float *xa, int R,
                                          float *out) {
    __m512 acc[CK_GEMV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t nb = k / CK_QBLOCK, rowbytes = k / 2, groups = (nb + 3) / 4;
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    // Lanes 4j..4j+3 take the scale of block j of the group.
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    float scale[CK_GEMV_ROWS][16] __attribute__((aligned(64)));
    for (int64_t g0 = 0; g0 < groups; g0 += 4) {
        int64_t b0 = g0 * 4;
        int64_t count = nb - b0 < 16 ? nb - b0 : 16;
        __mmask16 m = ck_tail_mask(count);
        for (int r = 0; r < R; r++) {
            _mm512_store_ps(scale[r], _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s + r * nb + b0)));
        }
        int64_t gend = groups - g0 < 4 ? groups : g0 + 4;
        // Every group but the row's last one loads unmasked (in a loop of its own, so the compiler keeps
        // one group's loads at a time in registers).
        int64_t gfull = gend < groups ? gend : groups - 1;
        for (int64_t g = g0; g < gend; g++) {
            const float *xg = xa + g * 128;
            __m512 x[8];
            for (int t = 0; t < 8; t++) x[t] = _mm512_load_ps(xg + t * 16);
            __m512i idx = _mm512_add_epi32(spread, _mm512_set1_epi32((int)(4 * (g - g0))));
            if (g < gfull) ck_gemv_q4x_group(w + g * 64, rowbytes, R, x, table, idx, scale, 0, 64, acc);
            else ck_gemv_q4x_group(w + g * 64, rowbytes, R, x, table, idx, scale, 1, rowbytes - g * 64, acc);
        }
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

CK_AVX512 void ck_gemv_q4x_avx512(const ck_weights *w, const float *xa, int64_t row0, int64_t nrows, float *out) {
    int64_t k = w->cols, nb = k / CK_QBLOCK;
    const uint8_t *q = (const uint8_t *)w->data;
    int64_t r = 0;
    for (; r + CK_GEMV_ROWS <= nrows; r += CK_GEMV_ROWS) {
        int64_t row = row0 + r;
        ck_gemv_q4x_rows(q + row * (k / 2), w->scales + row * nb, k, xa, CK_GEMV_ROWS, out + r);
    }
    for (; r < nrows; r++) {
        int64_t row = row0 + r;
        ck_gemv_q4x_rows(q + row * (k / 2), w->scales + row * nb, k, xa, 1, out + r);
    }
}

// Runs the R-row kernel for groups of CK_GEMV_ROWS rows, then one row at a time for the rest.
CK_AVX512 CK_INLINE void ck_gemv_rows(const ck_weights *w, const float *x, int64_t row, int R, float *out) {
    int64_t k = w->cols;
    switch (w->format) {
    case CK_FORMAT_F32: ck_gemv_f32_rows((const float *)w->data + row * k, k, x, R, out); break;
    case CK_FORMAT_BF16: ck_gemv_bf16_rows((const uint16_t *)w->data + row * k, k, x, R, out); break;
    case CK_FORMAT_Q8_0:
        ck_gemv_q8_rows((const int8_t *)w->data + row * k, w->scales + row * (k / CK_QBLOCK), k, x, R, out);
        break;
    case CK_FORMAT_Q4_0:
        // Not reached from ck_matmul, whose M = 1 branch takes ck_gemv_q4x_avx512 for q4_0 at every level that uses
        // this table. That kernel needs X arranged once per call in a thread's scratch, which this table entry's
        // signature (plain X, no pool) cannot provide without arranging X again per chunk of rows; changing the
        // signature would change every level's table. So this stays as the table's complete q4_0 entry for direct
        // callers of the table, and ck_matmul bypasses it (ck_gemv_task).
        ck_gemv_q4_rows((const uint8_t *)w->data + row * (k / 2), w->scales + row * (k / CK_QBLOCK), k, x, R, out);
        break;
    }
}

CK_AVX512 static void ck_gemv_avx512(const ck_weights *w, const float *x, int64_t row0, int64_t nrows, float *out) {
    int64_t r = 0;
    for (; r + CK_GEMV_ROWS <= nrows; r += CK_GEMV_ROWS) ck_gemv_rows(w, x, row0 + r, CK_GEMV_ROWS, out + r);
    for (; r < nrows; r++) ck_gemv_rows(w, x, row0 + r, 1, out + r);
}

// ---- small-M dot: an MR x NR tile of dot products over a decoded panel ---------------------------------

CK_AVX512 CK_INLINE void ck_dot_tile(const float *x, int64_t ldx, int MR, const float *p, int64_t ldp, int NR,
                                     int64_t kb, float *acc, int64_t ldacc) {
    __m512 a[CK_DOT_MR][CK_DOT_NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) a[i][j] = _mm512_setzero_ps();
    int64_t t = 0;
    for (; t + 16 <= kb; t += 16) {
        __m512 pv[CK_DOT_NR];
        for (int j = 0; j < NR; j++) pv[j] = _mm512_loadu_ps(p + j * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_loadu_ps(x + i * ldx + t);
            for (int j = 0; j < NR; j++) a[i][j] = _mm512_fmadd_ps(xv, pv[j], a[i][j]);
        }
    }
    if (t < kb) {
        __mmask16 m = ck_tail_mask(kb - t);
        __m512 pv[CK_DOT_NR];
        for (int j = 0; j < NR; j++) pv[j] = _mm512_maskz_loadu_ps(m, p + j * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + t);
            for (int j = 0; j < NR; j++) a[i][j] = _mm512_fmadd_ps(xv, pv[j], a[i][j]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i * ldacc + j] += _mm512_reduce_add_ps(a[i][j]);
}

CK_AVX512 static void ck_dot_avx512(const float *x, int64_t ldx, int m, const float *panel, int64_t ldp, int n,
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

static const ck_matmul_kernels ck_kernels_avx512 = {ck_decode_avx512, ck_gemv_avx512, ck_dot_avx512,
                                                    ck_skinny_avx512};

const ck_matmul_kernels *ck_matmul_kernels_avx512(void) { return &ck_kernels_avx512; }

#else

const ck_matmul_kernels *ck_matmul_kernels_avx512(void) { return 0; }

#endif
