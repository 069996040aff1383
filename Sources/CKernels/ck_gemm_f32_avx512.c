// Large-M matmul on AVX-512 FMA with the weights decoded while they are packed (no AMX needed).
//
// Y[M, N] (+)= X[M, K] · W[N, K]^T, a GotoBLAS/BLIS-style blocking in which W plays the role of the packed B:
//   1. X is packed once per call, by the pool, into the shared buffer: per block of CK_F32_KC columns, micro-panels
//      of CK_F32_MR rows stored column by column (xp[k * MR + i] = X[i0 + i][k0 + k]), rows past M zero. M larger
//      than CK_F32_PASS_ROWS runs in balanced passes so the buffer stays bounded (4 * 2048 * K bytes).
//   2. Each task owns up to CK_F32_TASK_ROWS rows of W. Per block of CK_F32_KC columns it decodes them (bf16, q8_0,
//      q4_0 or f32) straight into micro-panels of CK_F32_NR rows stored column by column (wp[k * NR + j] =
//      W[j0 + j][k0 + k]), so the decode pass is the packing pass; the panel (at most 512 KiB) stays in L2.
//   3. For every X micro-panel (in L1 while it is reused) and every W micro-panel, the micro-kernel keeps an
//      MR x NR block of Y in 28 zmm accumulators: per column k one broadcast of X per row, two vectors of W.
// Every output is one f32 FMA chain over k in order, the same arithmetic as dequantize-then-sgemm.
#include <stdatomic.h>
#include <string.h>

#include "ck_matmul_kernels.h"

/// Rows of X and of W per micro-kernel call: 14 x 32 = 28 accumulators, two W vectors and one broadcast fill 31
/// of the 32 zmm registers.
#define CK_F32_MR 14
#define CK_F32_NR 32
/// Columns per K block (a multiple of 32, so quantized blocks are never split): an X micro-panel is 14 KiB (L1).
#ifndef CK_F32_KC
#define CK_F32_KC 256
#endif
/// Most rows of W per task (a multiple of CK_F32_NR): the packed panel is 512 x 256 floats = 512 KiB (L2).
#ifndef CK_F32_TASK_ROWS
#define CK_F32_TASK_ROWS 512
#endif
/// Columns of W the micro-kernel prefetches ahead: 16 won 26 of 36 paired runs against none (median +2-4%,
/// 2 threads, M = 512-2048); 32 was no better.
#define CK_F32_PREFETCH_W 16
/// Most rows of X per pass (the packed X of a pass is 4 * CK_F32_PASS_ROWS * K bytes: 117 MB at K = 14336).
#define CK_F32_PASS_ROWS 2048

#if defined(__x86_64__)
#include <immintrin.h>

#include "ck_decode_avx512.h"

#define CK_F32_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))

typedef struct {
    const float *x;
    int64_t m, k;
    int64_t mpanels;   // micro-panels of X in this pass
    float *xpack;
    const ck_weights *w;
    float *y;
    int accumulate;
    int64_t rows_per_task;
    ck_pool *pool;
    atomic_int out_of_memory;
} ck_f32_job;

CK_F32_TARGET CK_INLINE __mmask16 ck_f32_mask(int64_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1u);
}

// Transposes 16 vectors in place: afterwards v[c] lane r holds what v[r] lane c held.
CK_F32_TARGET CK_INLINE void ck_f32_transpose16(__m512 v[16]) {
    __m512 t[16], u[16];
    // Pairs of rows interleaved by 32-bit element, then by 64-bit element: 4 x 4 blocks per 128-bit lane.
    for (int r = 0; r < 16; r += 2) {
        t[r] = _mm512_unpacklo_ps(v[r], v[r + 1]);
        t[r + 1] = _mm512_unpackhi_ps(v[r], v[r + 1]);
    }
    for (int r = 0; r < 16; r += 4) {
        u[r] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
        u[r + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
        u[r + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
        u[r + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
    }
    // u[4g + q], 128-bit lane L: rows 4g..4g+3 of column 4L + q. Gather lane L of the four groups into column
    // vector 4L + q with two rounds of 128-bit lane shuffles.
    for (int q = 0; q < 4; q++) {
        __m512 ab_lo = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);       // a0 a2 b0 b2
        __m512 ab_hi = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);       // a1 a3 b1 b3
        __m512 cd_lo = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);  // c0 c2 d0 d2
        __m512 cd_hi = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);  // c1 c3 d1 d3
        v[q] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);       // a0 b0 c0 d0: column q
        v[8 + q] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD);   // a2 b2 c2 d2: column 8 + q
        v[4 + q] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);   // a1 b1 c1 d1: column 4 + q
        v[12 + q] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD);  // a3 b3 c3 d3: column 12 + q
    }
}

// ---- packing X ------------------------------------------------------------------------------------------

// Packs micro-panel `task` (rows task * MR ..< + MR of this pass) for every K block.
CK_F32_TARGET static void ck_f32_pack_x_task(void *raw, int task, int thread) {
    (void)thread;
    ck_f32_job *job = raw;
    int64_t m = job->m, k = job->k, mp = job->mpanels * CK_F32_MR;
    int64_t i0 = (int64_t)task * CK_F32_MR;
    int rows = (int)(m - i0 < CK_F32_MR ? m - i0 : CK_F32_MR);
    const __mmask16 panel_lanes = (__mmask16)((1u << CK_F32_MR) - 1u);
    for (int64_t k0 = 0; k0 < k; k0 += CK_F32_KC) {
        int64_t kcb = k - k0 < CK_F32_KC ? k - k0 : CK_F32_KC;
        float *dst = job->xpack + k0 * mp + (int64_t)task * kcb * CK_F32_MR;
        for (int64_t c = 0; c < kcb; c += 16) {
            int64_t count = kcb - c < 16 ? kcb - c : 16;
            __mmask16 mask = ck_f32_mask(count);
            __m512 v[16];
            for (int r = 0; r < 16; r++) {
                v[r] = r < rows ? _mm512_maskz_loadu_ps(mask, job->x + (i0 + r) * k + k0 + c) : _mm512_setzero_ps();
            }
            ck_f32_transpose16(v);
            for (int64_t kk = 0; kk < count; kk++) {
                _mm512_mask_storeu_ps(dst + (c + kk) * CK_F32_MR, panel_lanes, v[kk]);
            }
        }
    }
}

// ---- decoding W into packed micro-panels ----------------------------------------------------------------

// Columns col ..< col + count (count <= 16; col % 16 == 0 for quantized formats) of W row `row`, as floats.
CK_F32_TARGET CK_INLINE __m512 ck_f32_decode16(const ck_weights *w, int format, int64_t row, int64_t col,
                                               int64_t count) {
    int64_t k = w->cols;
    switch (format) {
    case CK_FORMAT_BF16:
        return ck_bf16x16(_mm256_maskz_loadu_epi16(ck_f32_mask(count), (const uint16_t *)w->data + row * k + col));
    case CK_FORMAT_Q8_0: {
        int64_t index = row * k + col;
        __m512 d = _mm512_set1_ps(_cvtsh_ss(w->scales[index / CK_QBLOCK]));
        return ck_q8_0x16((const int8_t *)w->data + index, d);
    }
    case CK_FORMAT_Q4_0: {
        int64_t index = row * k + col;
        int64_t block = index / CK_QBLOCK;
        __m512 d = _mm512_set1_ps(_cvtsh_ss(w->scales[block]));
        __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)((const uint8_t *)w->data + block * 16)));
        return ck_q4_0x16(bytes, (index & 16) != 0, d);
    }
    default:
        return _mm512_maskz_loadu_ps(ck_f32_mask(count), (const float *)w->data + row * k + col);
    }
}

// Decodes rows row0 ..< row0 + rows (rows <= NR; the rest of the micro-panel is zero) and columns k0 ..< k0 + kcb
// of W into one packed micro-panel wp[k * NR + j].
CK_F32_TARGET CK_INLINE void ck_f32_pack_w_format(const ck_weights *w, int format, int64_t row0, int rows,
                                                  int64_t k0, int64_t kcb, float *wp) {
    for (int64_t c = 0; c < kcb; c += 16) {
        int64_t count = kcb - c < 16 ? kcb - c : 16;
        for (int half = 0; half < CK_F32_NR / 16; half++) {
            __m512 v[16];
            for (int r = 0; r < 16; r++) {
                int j = half * 16 + r;
                v[r] = j < rows ? ck_f32_decode16(w, format, row0 + j, k0 + c, count) : _mm512_setzero_ps();
            }
            ck_f32_transpose16(v);
            for (int64_t kk = 0; kk < count; kk++) _mm512_storeu_ps(wp + (c + kk) * CK_F32_NR + half * 16, v[kk]);
        }
    }
}

// One specialised loop per format (the format is a constant inside each).
CK_F32_TARGET static void ck_f32_pack_w(const ck_weights *w, int64_t row0, int rows, int64_t k0, int64_t kcb,
                                        float *wp) {
    switch (w->format) {
    case CK_FORMAT_BF16: ck_f32_pack_w_format(w, CK_FORMAT_BF16, row0, rows, k0, kcb, wp); break;
    case CK_FORMAT_Q8_0: ck_f32_pack_w_format(w, CK_FORMAT_Q8_0, row0, rows, k0, kcb, wp); break;
    case CK_FORMAT_Q4_0: ck_f32_pack_w_format(w, CK_FORMAT_Q4_0, row0, rows, k0, kcb, wp); break;
    default: ck_f32_pack_w_format(w, CK_FORMAT_F32, row0, rows, k0, kcb, wp); break;
    }
}

// ---- micro-kernel ---------------------------------------------------------------------------------------

// c[i * ldc + j] (+)= sum over k < kc of xp[k * MR + i] * wp[k * NR + j], for i < rows and the columns j whose
// bit is set in masks lo (j < 16) and hi (j >= 16). With `load` zero Y starts from zero, else from what c holds.
CK_F32_TARGET static void ck_f32_kernel(int64_t kc, const float *xp, const float *wp, float *c, int64_t ldc,
                                        int rows, __mmask16 lo, __mmask16 hi, int load) {
    __m512 acc[CK_F32_MR][2];
    for (int i = 0; i < CK_F32_MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < kc; k++) {
        // The W micro-panel streams from L2: ask for it CK_F32_PREFETCH_W columns (2 KiB) ahead (an address, not
        // a pointer into the panel: near its end it points past it, which a prefetch ignores).
        uintptr_t ahead = (uintptr_t)(wp + k * CK_F32_NR) + CK_F32_PREFETCH_W * CK_F32_NR * sizeof(float);
        _mm_prefetch((const char *)ahead, _MM_HINT_T0);
        _mm_prefetch((const char *)(ahead + 64), _MM_HINT_T0);
        __m512 w0 = _mm512_loadu_ps(wp + k * CK_F32_NR);
        __m512 w1 = _mm512_loadu_ps(wp + k * CK_F32_NR + 16);
        for (int i = 0; i < CK_F32_MR; i++) {
            __m512 xb = _mm512_set1_ps(xp[k * CK_F32_MR + i]);
            acc[i][0] = _mm512_fmadd_ps(xb, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(xb, w1, acc[i][1]);
        }
    }
    for (int i = 0; i < CK_F32_MR; i++) {
        if (i >= rows) break;
        float *row = c + i * ldc;
        if (load) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(lo, row));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(hi, row + 16));
        }
        _mm512_mask_storeu_ps(row, lo, acc[i][0]);
        _mm512_mask_storeu_ps(row + 16, hi, acc[i][1]);
    }
}

// ---- driver ---------------------------------------------------------------------------------------------

CK_F32_TARGET static void ck_f32_gemm_task(void *raw, int task, int thread) {
    ck_f32_job *job = raw;
    const ck_weights *w = job->w;
    int64_t n = w->rows, k = job->k, m = job->m, mp = job->mpanels * CK_F32_MR;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t nb = row0 + job->rows_per_task < n ? job->rows_per_task : n - row0;
    int64_t wpanels = (nb + CK_F32_NR - 1) / CK_F32_NR;
    float *panel = ck_pool_scratch(job->pool, thread, (size_t)wpanels * CK_F32_NR * CK_F32_KC * sizeof(float));
    if (!panel) {
        atomic_store(&job->out_of_memory, 1);
        return;
    }
    for (int64_t k0 = 0; k0 < k; k0 += CK_F32_KC) {
        int64_t kcb = k - k0 < CK_F32_KC ? k - k0 : CK_F32_KC;
        for (int64_t jp = 0; jp < wpanels; jp++) {
            int64_t rows = nb - jp * CK_F32_NR < CK_F32_NR ? nb - jp * CK_F32_NR : CK_F32_NR;
            ck_f32_pack_w(w, row0 + jp * CK_F32_NR, (int)rows, k0, kcb, panel + jp * kcb * CK_F32_NR);
        }
        // Y from an earlier K block (or the caller's Y when accumulating) is added, not overwritten.
        int load = job->accumulate || k0 > 0;
        for (int64_t p = 0; p < job->mpanels; p++) {
            const float *xp = job->xpack + k0 * mp + p * kcb * CK_F32_MR;
            int rows = (int)(m - p * CK_F32_MR < CK_F32_MR ? m - p * CK_F32_MR : CK_F32_MR);
            float *yrow = job->y + p * CK_F32_MR * n + row0;
            for (int64_t jp = 0; jp < wpanels; jp++) {
                int64_t cols = nb - jp * CK_F32_NR < CK_F32_NR ? nb - jp * CK_F32_NR : CK_F32_NR;
                __mmask16 lo = ck_f32_mask(cols), hi = ck_f32_mask(cols > 16 ? cols - 16 : 0);
                ck_f32_kernel(kcb, xp, panel + jp * kcb * CK_F32_NR, yrow + jp * CK_F32_NR, n, rows, lo, hi, load);
            }
        }
    }
}

static ck_matmul_status ck_gemm_f32_pass(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                         int accumulate) {
    ck_f32_job job;
    job.x = x;
    job.m = m;
    job.k = w->cols;
    job.mpanels = (m + CK_F32_MR - 1) / CK_F32_MR;
    job.w = w;
    job.y = y;
    job.accumulate = accumulate;
    job.pool = pool;
    atomic_init(&job.out_of_memory, 0);
    size_t bytes = (size_t)job.mpanels * CK_F32_MR * (size_t)job.k * sizeof(float);
    job.xpack = ck_pool_shared_acquire(pool, bytes);
    if (!job.xpack) return CK_MATMUL_OUT_OF_MEMORY;
    ck_pool_run(pool, ck_f32_pack_x_task, &job, (int)job.mpanels);
    int threads = ck_pool_size(pool);
    int64_t n = w->rows;
    // About one task per thread (more when N is large), a multiple of NR rows, at most CK_F32_TASK_ROWS.
    int64_t rows = (n + threads - 1) / threads;
    rows = (rows + CK_F32_NR - 1) / CK_F32_NR * CK_F32_NR;
    if (rows > CK_F32_TASK_ROWS) rows = CK_F32_TASK_ROWS;
    job.rows_per_task = rows;
    ck_pool_run(pool, ck_f32_gemm_task, &job, (int)((n + rows - 1) / rows));
    ck_pool_shared_release(pool);
    return atomic_load(&job.out_of_memory) ? CK_MATMUL_OUT_OF_MEMORY : CK_MATMUL_OK;
}

int ck_gemm_f32_available(ck_level level) { return level >= CK_LEVEL_AVX512; }

ck_matmul_status ck_gemm_f32(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                             int accumulate) {
    int64_t passes = (m + CK_F32_PASS_ROWS - 1) / CK_F32_PASS_ROWS;
    int64_t rows = ((m + passes - 1) / passes + CK_F32_MR - 1) / CK_F32_MR * CK_F32_MR;
    for (int64_t m0 = 0; m0 < m; m0 += rows) {
        int64_t mb = m - m0 < rows ? m - m0 : rows;
        ck_matmul_status status = ck_gemm_f32_pass(pool, x + m0 * w->cols, mb, w, y + m0 * w->rows, accumulate);
        if (status != CK_MATMUL_OK) return status;
    }
    return CK_MATMUL_OK;
}

#else

int ck_gemm_f32_available(ck_level level) {
    (void)level;
    return 0;
}

ck_matmul_status ck_gemm_f32(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                             int accumulate) {
    (void)pool, (void)x, (void)m, (void)w, (void)y, (void)accumulate;
    return CK_MATMUL_BAD_SHAPE;
}

#endif
