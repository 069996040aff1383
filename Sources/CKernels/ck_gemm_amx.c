// bf16-weight GEMM for large M on AMX tiles.
//
//   1. X is packed once per call, by the pool, into the shared buffer as bf16 A tiles (16 rows x 32 columns),
//      rows padded to a multiple of 32 and columns to a multiple of 32 with zeros. Exact precision stores three
//      terms per value (hi, mid, lo: successive truncations to bf16, so hi + mid + lo == x exactly for every
//      finite x whose terms are not subnormal); fast precision stores one (x rounded to nearest even).
//   2. Each task takes up to CK_BF16_PANEL_ROWS rows of W and, per block of CK_BF16_PANEL_KSTEPS * 32 columns,
//      packs them into B tiles (VNNI pairs: row p of a tile holds columns c = 0..15 of K pair p as
//      W[c][2p], W[c][2p + 1]) in its pool scratch, then runs the block kernel on every 32 x 32 block of Y.
//      All three terms of a block multiply the same loaded B tiles into the same f32 accumulators.
//   Y blocks that lie fully inside Y are loaded and stored in place; edge blocks go through a 32 x 32 buffer.
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ck_matmul_kernels.h"

/// Rows of W per task (a multiple of 32) and K steps of 32 per packed W panel (512 x 1024 bf16 = 1 MiB, which
/// stays in a 2 MiB L2 while every row block of X passes over it). Each task streams all of packed X once, so
/// more rows per task means less X traffic: 512 rows beat 256 by about 25% at M = 512-2048 here (2 threads).
#define CK_BF16_PANEL_ROWS 512
#define CK_BF16_PANEL_KSTEPS 32

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_PACK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define CK_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq")))

typedef struct {
    const float *x;
    int64_t m, k;
    int64_t ksteps;       // padded K / 32
    int nterms;
    uint16_t *xpack;
    const ck_weights *w;
    float *y;
    int accumulate;
    int64_t rows_per_task;
    ck_bf16_block_fn block;
    ck_pool *pool;
    atomic_int out_of_memory;
} ck_bf16_job;

// ---- packing X ------------------------------------------------------------------------------------------

// 16 floats to bf16 by truncation (hi bits), except NaN and infinities, which are rounded (a NaN stays NaN).
CK_PACK_TARGET static inline __m256i ck_bf16_trunc16(__m512 v, __mmask16 finite) {
    __m256i truncated = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v), 16));
    __m256i rounded = (__m256i)_mm512_cvtneps_pbh(v);
    return _mm256_mask_blend_epi16(finite, rounded, truncated);
}

// Packs X rows of m-block `task` (16 rows) into its A tiles for every K step.
CK_PACK_TARGET static void ck_bf16_pack_x_task(void *raw, int task, int thread) {
    (void)thread;
    ck_bf16_job *job = raw;
    int64_t k = job->k, ksteps = job->ksteps;
    int nterms = job->nterms;
    uint16_t *base = job->xpack + (int64_t)task * ksteps * nterms * CK_BF16_TILE_VALUES;
    const __m512i exponent = _mm512_set1_epi32(0x7F800000);
    for (int r = 0; r < CK_BF16_TILE_M; r++) {
        int64_t row = (int64_t)task * CK_BF16_TILE_M + r;
        const float *src = job->x + row * k;
        for (int64_t s = 0; s < ksteps; s++) {
            uint16_t *dst = base + s * nterms * CK_BF16_TILE_VALUES + r * CK_BF16_TILE_K;
            for (int half = 0; half < 2; half++) {
                int64_t col = s * CK_BF16_TILE_K + half * 16;
                __m512 v = _mm512_setzero_ps();
                if (row < job->m && col < k) {
                    int64_t count = k - col < 16 ? k - col : 16;
                    v = _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1u), src + col);
                }
                if (nterms == 1) {
                    _mm256_storeu_si256((__m256i *)(dst + half * 16), (__m256i)_mm512_cvtneps_pbh(v));
                    continue;
                }
                __mmask16 finite = _mm512_cmpneq_epi32_mask(
                    _mm512_and_si512(_mm512_castps_si512(v), exponent), exponent);
                __m256i hi = ck_bf16_trunc16(v, finite);
                __m512 r1 = _mm512_maskz_sub_ps(finite, v, _mm512_castsi512_ps(_mm512_slli_epi32(
                    _mm512_cvtepu16_epi32(hi), 16)));
                __m256i mid = ck_bf16_trunc16(r1, 0xFFFF);
                _mm256_storeu_si256((__m256i *)(dst + half * 16), hi);
                _mm256_storeu_si256((__m256i *)(dst + CK_BF16_TILE_VALUES + half * 16), mid);
                if (nterms == 3) {
                    __m512 r2 = _mm512_sub_ps(r1, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(mid), 16)));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * CK_BF16_TILE_VALUES + half * 16),
                                        ck_bf16_trunc16(r2, 0xFFFF));
                }
            }
        }
    }
}

// ---- packing W ------------------------------------------------------------------------------------------

// Packs rows [row0, row0 + nbp) (zero past the matrix) and K steps [s0, s0 + nsteps) of W into B tiles:
// dst[(nb * nsteps + s) * 512 + p * 32 + c * 2 + e] = W[row0 + nb * 16 + c][(s0 + s) * 32 + 2p + e].
CK_PACK_TARGET static void ck_bf16_pack_w(const ck_weights *w, int64_t row0, int64_t nbp, int64_t s0,
                                          int64_t nsteps, uint16_t *dst) {
    const uint16_t *data = w->data;
    int64_t n = w->rows, k = w->cols;
    // Per tile: load the 32 values (16 dword pairs) of each of 16 rows, then transpose the 16 x 16 dwords.
    for (int64_t nb = 0; nb < nbp / 16; nb++) {
        for (int64_t s = 0; s < nsteps; s++) {
            uint32_t *tile = (uint32_t *)(dst + (nb * nsteps + s) * CK_BF16_TILE_VALUES);
            int64_t col = (s0 + s) * CK_BF16_TILE_K;
            int64_t count = k - col < CK_BF16_TILE_K ? k - col : CK_BF16_TILE_K;
            __mmask32 mask = count <= 0 ? 0 : (count >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << count) - 1u));
            __m512i rows[16];
            for (int c = 0; c < 16; c++) {
                int64_t row = row0 + nb * 16 + c;
                rows[c] = row < n && mask ? _mm512_maskz_loadu_epi16(mask, data + row * k + col) : _mm512_setzero_si512();
            }
            // rows[c] holds 16 dwords (pairs p = 0..15) of column c; the tile wants dword (p, c) at p * 16 + c:
            // a 16 x 16 dword transpose, done with a gather-free permutation network.
            __m512i t[16];
            for (int c = 0; c < 16; c += 2) {
                t[c] = _mm512_unpacklo_epi32(rows[c], rows[c + 1]);
                t[c + 1] = _mm512_unpackhi_epi32(rows[c], rows[c + 1]);
            }
            __m512i u[16];
            for (int c = 0; c < 16; c += 4) {
                u[c] = _mm512_unpacklo_epi64(t[c], t[c + 2]);
                u[c + 1] = _mm512_unpackhi_epi64(t[c], t[c + 2]);
                u[c + 2] = _mm512_unpacklo_epi64(t[c + 1], t[c + 3]);
                u[c + 3] = _mm512_unpackhi_epi64(t[c + 1], t[c + 3]);
            }
            // u[4g + q] now holds, in 128-bit lane L, dwords (p = 4L + q', c = 4g..4g+3) for q' the u order
            // (0, 1, 2, 3) = pairs (4L, 4L + 1, 4L + 2, 4L + 3). Finish with lane shuffles across groups.
            __m512i v[16];
            for (int q = 0; q < 4; q++) {
                __m512i a = u[q], b = u[4 + q], c = u[8 + q], d = u[12 + q];
                __m512i ab_lo = _mm512_shuffle_i32x4(a, b, 0x88);  // lanes a0 a2 b0 b2
                __m512i ab_hi = _mm512_shuffle_i32x4(a, b, 0xDD);  // lanes a1 a3 b1 b3
                __m512i cd_lo = _mm512_shuffle_i32x4(c, d, 0x88);
                __m512i cd_hi = _mm512_shuffle_i32x4(c, d, 0xDD);
                v[q] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);       // a0 b0 c0 d0: pair q
                v[8 + q] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD);   // a2 b2 c2 d2: pair 8 + q
                v[4 + q] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);   // a1 b1 c1 d1: pair 4 + q
                v[12 + q] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);  // a3 b3 c3 d3: pair 12 + q
            }
            for (int p = 0; p < 16; p++) _mm512_storeu_si512(tile + p * 16, v[p]);
        }
    }
}

// ---- AMX block kernel -----------------------------------------------------------------------------------

typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} ck_tile_config;

CK_AMX_TARGET static void ck_amx_configure(void) {
    _Alignas(64) ck_tile_config config;
    memset(&config, 0, sizeof(config));
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.colsb[t] = 64;
        config.rows[t] = 16;
    }
    _tile_loadconfig(&config);
}

// Tiles 0-3: C (m-block i, n-block j at 2i + j); 4, 5: A of m-blocks 0, 1; 6, 7: B of n-blocks 0, 1.
CK_AMX_TARGET static void ck_bf16_block_amx(const uint16_t *a, int64_t a_next_m, const uint16_t *b,
                                            int64_t b_next_n, int64_t nkb, int nterms, float *c, int64_t ldc,
                                            int load_c) {
    size_t cstride = (size_t)ldc * sizeof(float);
    float *c10 = c + 16 * ldc;
    if (load_c) {
        _tile_loadd(0, c, cstride);
        _tile_loadd(1, c + 16, cstride);
        _tile_loadd(2, c10, cstride);
        _tile_loadd(3, c10 + 16, cstride);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    const uint16_t *a1 = a + a_next_m, *b1 = b + b_next_n;
    int64_t astep = (int64_t)nterms * CK_BF16_TILE_VALUES;
    for (int64_t s = 0; s < nkb; s++) {
        _tile_loadd(6, b + s * CK_BF16_TILE_VALUES, 64);
        _tile_loadd(7, b1 + s * CK_BF16_TILE_VALUES, 64);
        for (int t = 0; t < nterms; t++) {
            _tile_loadd(4, a + s * astep + t * CK_BF16_TILE_VALUES, 64);
            _tile_loadd(5, a1 + s * astep + t * CK_BF16_TILE_VALUES, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, c, cstride);
    _tile_stored(1, c + 16, cstride);
    _tile_stored(2, c10, cstride);
    _tile_stored(3, c10 + 16, cstride);
}

CK_AMX_TARGET static void ck_amx_release(void) { _tile_release(); }

CK_AMX_TARGET static void ck_amx_peak_task(void *raw, int task, int thread) {
    (void)task;
    (void)thread;
    int64_t iterations = *(const int64_t *)raw;
    ck_amx_configure();
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    for (int64_t i = 0; i < iterations; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_release();
}

// ---- driver ---------------------------------------------------------------------------------------------

static void ck_bf16_gemm_task(void *raw, int task, int thread) {
    ck_bf16_job *job = raw;
    const ck_weights *w = job->w;
    int64_t n = w->rows, m = job->m;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t nb = row0 + job->rows_per_task < n ? job->rows_per_task : n - row0;
    int64_t nbp = (nb + 31) / 32 * 32;
    int64_t mp = (m + 31) / 32 * 32;
    int64_t ksteps = job->ksteps;
    int nterms = job->nterms;
    size_t panel_values = (size_t)CK_BF16_PANEL_ROWS * CK_BF16_PANEL_KSTEPS * CK_BF16_TILE_K;
    uint8_t *scratch = ck_pool_scratch(job->pool, thread, panel_values * sizeof(uint16_t) + 32 * 32 * sizeof(float));
    if (!scratch) {
        atomic_store(&job->out_of_memory, 1);
        return;
    }
    uint16_t *wpack = (uint16_t *)scratch;
    float *edge = (float *)(scratch + panel_values * sizeof(uint16_t));
    int64_t a_next_m = ksteps * nterms * CK_BF16_TILE_VALUES;
    ck_amx_configure();
    for (int64_t s0 = 0; s0 < ksteps; s0 += CK_BF16_PANEL_KSTEPS) {
        int64_t nsteps = ksteps - s0 < CK_BF16_PANEL_KSTEPS ? ksteps - s0 : CK_BF16_PANEL_KSTEPS;
        ck_bf16_pack_w(w, row0, nbp, s0, nsteps, wpack);
        int load = job->accumulate || s0 > 0;
        for (int64_t i0 = 0; i0 < mp; i0 += 32) {
            const uint16_t *a = job->xpack + (i0 / 16) * a_next_m + s0 * nterms * CK_BF16_TILE_VALUES;
            for (int64_t j0 = 0; j0 < nbp; j0 += 32) {
                const uint16_t *b = wpack + (j0 / 16) * nsteps * CK_BF16_TILE_VALUES;
                float *yblock = job->y + i0 * n + row0 + j0;
                int64_t rows = m - i0 < 32 ? m - i0 : 32, cols = nb - j0 < 32 ? nb - j0 : 32;
                if (rows == 32 && cols == 32) {
                    job->block(a, a_next_m, b, nsteps * CK_BF16_TILE_VALUES, nsteps, nterms, yblock, n, load);
                    continue;
                }
                memset(edge, 0, 32 * 32 * sizeof(float));
                if (load) {
                    for (int64_t r = 0; r < rows; r++) memcpy(edge + r * 32, yblock + r * n, (size_t)cols * sizeof(float));
                }
                job->block(a, a_next_m, b, nsteps * CK_BF16_TILE_VALUES, nsteps, nterms, edge, 32, 1);
                for (int64_t r = 0; r < rows; r++) memcpy(yblock + r * n, edge + r * 32, (size_t)cols * sizeof(float));
            }
        }
    }
    ck_amx_release();
}

int ck_gemm_bf16_available(ck_level level, ck_precision precision) {
    (void)precision;
    return level >= CK_LEVEL_AMX;
}

/// Most rows of X one pass packs (the shared buffer holds 2 * nterms bytes per value of a pass: 6 * 2048 * K bytes
/// in exact precision, 176 MB at K = 14336); larger M runs in balanced passes of at most this many rows.
#define CK_BF16_PASS_ROWS 2048

static ck_matmul_status ck_gemm_bf16_pass(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                          int accumulate, ck_level level, ck_precision precision) {
    ck_bf16_job job;
    job.x = x;
    job.m = m;
    job.k = w->cols;
    job.ksteps = (w->cols + CK_BF16_TILE_K - 1) / CK_BF16_TILE_K;
    job.nterms = precision == CK_PRECISION_FAST ? 1 : 3;
    job.w = w;
    job.y = y;
    job.accumulate = accumulate;
    (void)level;  // only CK_LEVEL_AMX reaches here (ck_gemm_bf16_available)
    job.block = ck_bf16_block_amx;
    job.pool = pool;
    atomic_init(&job.out_of_memory, 0);
    int64_t mblocks = (m + 31) / 32 * 2;
    size_t bytes = (size_t)mblocks * (size_t)job.ksteps * (size_t)job.nterms * CK_BF16_TILE_VALUES * sizeof(uint16_t);
    job.xpack = ck_pool_shared_acquire(pool, bytes);
    if (!job.xpack) return CK_MATMUL_OUT_OF_MEMORY;
    ck_pool_run(pool, ck_bf16_pack_x_task, &job, (int)mblocks);
    int threads = ck_pool_size(pool);
    int64_t n = w->rows;
    // About one task per thread (more when N is large), a multiple of 32 rows, at most CK_BF16_PANEL_ROWS.
    int64_t rows = (n + threads - 1) / threads;
    rows = (rows + 31) / 32 * 32;
    if (rows > CK_BF16_PANEL_ROWS) rows = CK_BF16_PANEL_ROWS;
    job.rows_per_task = rows;
    ck_pool_run(pool, ck_bf16_gemm_task, &job, (int)((n + rows - 1) / rows));
    ck_pool_shared_release(pool);
    return atomic_load(&job.out_of_memory) ? CK_MATMUL_OUT_OF_MEMORY : CK_MATMUL_OK;
}

ck_matmul_status ck_gemm_bf16(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                              int accumulate, ck_level level, ck_precision precision) {
    int64_t passes = (m + CK_BF16_PASS_ROWS - 1) / CK_BF16_PASS_ROWS;
    int64_t rows = ((m + passes - 1) / passes + 31) / 32 * 32;
    for (int64_t m0 = 0; m0 < m; m0 += rows) {
        int64_t mb = m - m0 < rows ? m - m0 : rows;
        ck_matmul_status status = ck_gemm_bf16_pass(pool, x + m0 * w->cols, mb, w, y + m0 * w->rows, accumulate,
                                                    level, precision);
        if (status != CK_MATMUL_OK) return status;
    }
    return CK_MATMUL_OK;
}

double ck_bf16_peak_run(ck_pool *pool, ck_level level, int64_t iterations) {
    ck_level max = ck_cpu_max_level();
    if (level > max) level = max;
    int threads = ck_pool_size(pool);
    if (level >= CK_LEVEL_AMX) {
        ck_pool_run(pool, ck_amx_peak_task, &iterations, threads);
        return (double)threads * (double)iterations * 4.0 * 16 * 16 * 32 * 2;
    }
    if (level >= CK_LEVEL_AVX512_BF16) return ck_bf16_peak_avx512bf16(pool, iterations);
    return 0;
}

#else

int ck_gemm_bf16_available(ck_level level, ck_precision precision) {
    (void)level;
    (void)precision;
    return 0;
}

ck_matmul_status ck_gemm_bf16(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                              int accumulate, ck_level level, ck_precision precision) {
    (void)pool, (void)x, (void)m, (void)w, (void)y, (void)accumulate, (void)level, (void)precision;
    return CK_MATMUL_BAD_SHAPE;
}

double ck_bf16_peak_run(ck_pool *pool, ck_level level, int64_t iterations) {
    (void)pool, (void)level, (void)iterations;
    return 0;
}

#endif
