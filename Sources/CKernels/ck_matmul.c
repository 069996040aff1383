// ck_matmul: picks the kernel table for the CPU level and the strategy for M, and splits N over the pool.
//
//   M = 1            GEMV: each task streams CK_GEMV_ROWS weight rows at once (memory-bound).
//   2 <= M <= skinny fused small M (the level's skinny kernel): CK_SKINNY_ROWS weight rows streamed at once,
//                    decoded chunk by chunk into an L1 panel and applied to every X row (weights read once).
//   1 < M < gemm     small M: decode CK_PANEL_ROWS x CK_PANEL_COLS of W into an L1 panel, then an MR x NR
//                    tile of dot products per X row group (weights still read once).
//   FAST precision, q8_0 / q4_0 weights, M below the GEMM threshold, level AVX2 or above: X quantized to int8
//                    blocks once per call (per thread), integer dot products (ck_matmul_q8act_avx512.c with VNNI
//                    at CK_LEVEL_AVX512_BF16 and up, else ck_matmul_q8act_avx2.c); M = 1 as the GEMV above,
//                    M >= 2 as the skinny kernels (weights read once).
//   M >= gemm        large M: decode up to CK_GEMM_PANEL_ROWS x CK_GEMM_PANEL_COLS of W to an f32 panel per
//                    thread, then the installed sgemm (one thread each) on it (compute-bound). bf16 weights
//                    at CK_LEVEL_AMX take ck_gemm_bf16 instead from bf16_gemm_min_rows (ck_gemm_amx.c): X
//                    packed to bf16 tiles, one term or three, times W in tiles. Other bf16, q8_0 and q4_0
//                    weights at CK_LEVEL_AVX512 and up take ck_gemm_f32 (ck_gemm_f32_avx512.c): X packed once,
//                    W decoded straight into packed f32 micro-panels, an AVX-512 FMA micro-kernel.
#include "ck_matmul.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ck_matmul_kernels.h"

/// Rows of W per small-M panel.
#define CK_PANEL_ROWS 16
/// Rows and columns of W per large-M panel (2 MiB of floats: fits a server core's L2). Each sgemm call re-packs
/// the X columns it is given, so more rows per call means less of that: 512 x 1024 was 3-7% faster than
/// 256 x 2048 in paired runs (bf16 and q4_0, M = 512-2048, 2 threads, AVX-512 VM); 1024 x 512 was no faster.
#define CK_GEMM_PANEL_ROWS 512
#define CK_GEMM_PANEL_COLS 1024
/// Most rows of f32 W per sgemm call (no panel to bound it): 256 re-packed all of X for every 256 rows; up to
/// 2048 was 10-20% faster in paired runs (M = 512-2048, N = 3072-14336, 2 threads, AVX-512 VM).
#define CK_GEMM_F32_TASK_ROWS 2048
/// Which int8-activation kernels a call runs on.
#define CK_Q8ACT_VNNI 2
#define CK_Q8ACT_AVX2 1
/// Largest M on the AVX2 int8-activation kernels. Measured with the weights in cache (one thread, K = N = 4096,
/// AVX2 level of a Sapphire Rapids VM): 1.4-1.8x faster than the exact kernels up to M = 8, even at M = 12-16.
#define CK_Q8ACT_AVX2_MAX_M 8
/// Rows per GEMV output chunk on the stack.
#define CK_GEMV_CHUNK 64

static _Atomic(ck_sgemm_nt_fn) g_sgemm = NULL;
/// -1 = not read from the environment yet.
static atomic_int g_precision = -1;
/// Numbers skinny calls, so a thread knows whether its scratch already holds this call's packed X.
static _Atomic(uint64_t) g_call_id = 0;

void ck_matmul_set_sgemm(ck_sgemm_nt_fn fn) { atomic_store(&g_sgemm, fn); }

typedef struct {
    const ck_matmul_kernels *kernels;
    const ck_weights *w;
    const float *x;
    float *y;
    int64_t m;
    int accumulate;
    int64_t rows_per_task;
    int64_t skinny_chunk;  // skinny path: columns per chunk of packed X
    uint64_t call_id;      // skinny and int8-activation paths: this call's number (each thread packs X once)
    int q8act_kind;        // int8-activation path: CK_Q8ACT_VNNI or CK_Q8ACT_AVX2
    int gemv_q4x;          // M = 1, q4_0 at CK_LEVEL_AVX512 and up: the arranged-X GEMV (ck_gemv_q4x_avx512)
    ck_q8act_layout q8act; // int8-activation path (VNNI): the layout of the quantized X
    ck_pool *pool;
    ck_sgemm_nt_fn sgemm;
    atomic_int out_of_memory;
} ck_matmul_job;

static void ck_store_row_chunk(float *y, const float *values, int64_t count, int accumulate) {
    if (accumulate) {
        for (int64_t i = 0; i < count; i++) y[i] += values[i];
    } else {
        memcpy(y, values, (size_t)count * sizeof(float));
    }
}

// Thread `thread`'s scratch with room for `bytes` of X in a kernel's own form, behind a 64-byte header holding the
// number of the call that last filled it: each thread fills its own copy once per call (the first of its tasks),
// the pool's threads never share a buffer, and concurrent callers stay serialised. Sets *fill when this call has
// not filled it yet (the caller fills it now). NULL when out of memory (the job is flagged).
static uint8_t *ck_thread_x(ck_matmul_job *job, int thread, size_t bytes, int *fill) {
    uint8_t *scratch = ck_pool_scratch(job->pool, thread, 64 + bytes);
    if (!scratch) {
        atomic_store(&job->out_of_memory, 1);
        return NULL;
    }
    uint64_t *filled_call = (uint64_t *)scratch;
    *fill = *filled_call != job->call_id;
    *filled_call = job->call_id;
    return scratch + 64;
}

static const void *ck_q8act_x(ck_matmul_job *job, int thread);

// X arranged for ck_gemv_q4x_avx512, once per call per thread (ck_thread_x). NULL when out of memory.
static const float *ck_gemv_q4x_x(ck_matmul_job *job, int thread) {
    int fill;
    float *xa = (float *)ck_thread_x(job, thread, (size_t)ck_gemv_q4x_floats(job->w->cols) * sizeof(float), &fill);
    if (xa && fill) ck_gemv_q4x_prepare_avx512(job->x, job->w->cols, xa);
    return xa;
}

// M = 1: the level's GEMV, the VNNI int8-activation GEMV when the job chose it (X quantized once per thread), or
// the arranged-X q4_0 GEMV (X arranged once per thread).
static void ck_gemv_task(void *raw, int task, int thread) {
    ck_matmul_job *job = raw;
    const void *xq = NULL;
    const float *xa = NULL;
    if (job->q8act_kind == CK_Q8ACT_VNNI && !(xq = ck_q8act_x(job, thread))) return;
    if (job->gemv_q4x && !(xa = ck_gemv_q4x_x(job, thread))) return;
    int64_t n = job->w->rows;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t row1 = row0 + job->rows_per_task < n ? row0 + job->rows_per_task : n;
    float out[CK_GEMV_CHUNK];
    for (int64_t row = row0; row < row1; row += CK_GEMV_CHUNK) {
        int64_t count = row1 - row < CK_GEMV_CHUNK ? row1 - row : CK_GEMV_CHUNK;
        if (xq) ck_q8act_gemv_avx512(job->w, &job->q8act, xq, row, count, out);
        else if (xa) ck_gemv_q4x_avx512(job->w, xa, row, count, out);
        else job->kernels->gemv(job->w, job->x, row, count, out);
        ck_store_row_chunk(job->y + row, out, count, job->accumulate);
    }
}

static void ck_small_task(void *raw, int task, int thread) {
    ck_matmul_job *job = raw;
    const ck_weights *w = job->w;
    int64_t n = w->rows, k = w->cols, m = job->m;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t row1 = row0 + job->rows_per_task < n ? row0 + job->rows_per_task : n;
    size_t panel_floats = (size_t)CK_PANEL_ROWS * CK_PANEL_COLS;
    float *panel = ck_pool_scratch(job->pool, thread, (panel_floats + (size_t)m * CK_PANEL_ROWS) * sizeof(float));
    if (!panel) {
        atomic_store(&job->out_of_memory, 1);
        return;
    }
    float *acc = panel + panel_floats;  // acc[i * CK_PANEL_ROWS + j]
    for (int64_t row = row0; row < row1; row += CK_PANEL_ROWS) {
        int64_t nr = row1 - row < CK_PANEL_ROWS ? row1 - row : CK_PANEL_ROWS;
        memset(acc, 0, (size_t)m * CK_PANEL_ROWS * sizeof(float));
        for (int64_t k0 = 0; k0 < k; k0 += CK_PANEL_COLS) {
            int64_t kb = k - k0 < CK_PANEL_COLS ? k - k0 : CK_PANEL_COLS;
            job->kernels->decode(w, row, nr, k0, kb, panel, CK_PANEL_COLS);
            for (int64_t i0 = 0; i0 < m; i0 += CK_DOT_MR) {
                int mr = (int)(m - i0 < CK_DOT_MR ? m - i0 : CK_DOT_MR);
                for (int64_t j0 = 0; j0 < nr; j0 += CK_DOT_NR) {
                    int nc = (int)(nr - j0 < CK_DOT_NR ? nr - j0 : CK_DOT_NR);
                    job->kernels->dot(job->x + i0 * k + k0, k, mr, panel + j0 * CK_PANEL_COLS, CK_PANEL_COLS, nc, kb,
                                      acc + i0 * CK_PANEL_ROWS + j0, CK_PANEL_ROWS);
                }
            }
        }
        for (int64_t i = 0; i < m; i++) {
            ck_store_row_chunk(job->y + i * n + row, acc + i * CK_PANEL_ROWS, nr, job->accumulate);
        }
    }
}

// Packs X for the skinny kernels (see ck_skinny_packed_floats), zero past the last column of the last chunk
// (kernels may read a whole vector there, against zero weights, so it must be finite).
static void ck_skinny_pack(const float *x, int64_t m, int64_t k, int64_t kc, float *xpack) {
    for (int64_t k0 = 0; k0 < k; k0 += kc) {
        int64_t kb = k - k0 < kc ? k - k0 : kc;
        for (int64_t i = 0; i < m; i++) {
            float *dst = xpack + k0 * m + i * kc;
            memcpy(dst, x + i * k + k0, (size_t)kb * sizeof(float));
            if (kb < kc) memset(dst + kb, 0, (size_t)(kc - kb) * sizeof(float));
        }
    }
}

// Each thread packs X into its own scratch once per call (ck_thread_x).
static void ck_skinny_task(void *raw, int task, int thread) {
    ck_matmul_job *job = raw;
    int64_t n = job->w->rows, k = job->w->cols, kc = job->skinny_chunk;
    int fill;
    float *xpack = (float *)ck_thread_x(job, thread, (size_t)ck_skinny_packed_floats(job->m, k, kc) * sizeof(float),
                                        &fill);
    if (!xpack) return;
    if (fill) ck_skinny_pack(job->x, job->m, k, kc, xpack);
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t count = row0 + job->rows_per_task < n ? job->rows_per_task : n - row0;
    job->kernels->skinny(job->w, xpack, job->m, kc, row0, count, job->y + row0, n, job->accumulate);
}

// The int8-activation form of X, quantized once per call per thread (ck_thread_x). NULL when out of memory.
static const void *ck_q8act_x(ck_matmul_job *job, int thread) {
    int vnni = job->q8act_kind == CK_Q8ACT_VNNI;
    int64_t bytes = vnni ? job->q8act.bytes : ck_q8act_avx2_bytes(job->m, job->w->cols);
    int fill;
    uint8_t *xq = ck_thread_x(job, thread, (size_t)bytes, &fill);
    if (xq && fill) {
        if (vnni) ck_q8act_quantize_avx512(&job->q8act, job->x, xq);
        else ck_q8act_quantize_avx2(job->x, job->m, job->w->cols, xq);
    }
    return xq;
}

static void ck_q8act_skinny_task(void *raw, int task, int thread) {
    ck_matmul_job *job = raw;
    const void *xq = ck_q8act_x(job, thread);
    if (!xq) return;
    int64_t n = job->w->rows;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t count = row0 + job->rows_per_task < n ? job->rows_per_task : n - row0;
    if (job->q8act_kind == CK_Q8ACT_VNNI) {
        ck_q8act_skinny_avx512(job->w, &job->q8act, xq, row0, count, job->y, n, job->accumulate);
    } else {
        ck_q8act_matmul_avx2(job->w, xq, job->m, row0, count, job->y, n, job->accumulate);
    }
}

// Which int8-activation kernels this call runs on (0: none): FAST precision, quantized weights, and the VNNI
// kernels at CK_LEVEL_AVX512_BF16 and up (which imply VNNI), the AVX2 ones at CK_LEVEL_AVX2 and CK_LEVEL_AVX512
// for M <= CK_Q8ACT_AVX2_MAX_M.
static int ck_q8act_kind_for(const ck_matmul_path *path, ck_level level, const ck_weights *w, int64_t m) {
#if defined(__x86_64__)
    if (path->precision != CK_PRECISION_FAST || (w->format != CK_FORMAT_Q8_0 && w->format != CK_FORMAT_Q4_0)) {
        return 0;
    }
    if (level >= CK_LEVEL_AVX512_BF16 && ck_cpu_detect()->avx512vnni) return CK_Q8ACT_VNNI;
    return level >= CK_LEVEL_AVX2 && m <= CK_Q8ACT_AVX2_MAX_M ? CK_Q8ACT_AVX2 : 0;
#else
    (void)path, (void)level, (void)w, (void)m;
    return 0;
#endif
}

static void ck_gemm_task(void *raw, int task, int thread) {
    ck_matmul_job *job = raw;
    const ck_weights *w = job->w;
    int64_t n = w->rows, k = w->cols, m = job->m;
    int64_t row0 = (int64_t)task * job->rows_per_task;
    int64_t nb = row0 + job->rows_per_task < n ? job->rows_per_task : n - row0;
    float beta = job->accumulate ? 1.0f : 0.0f;
    float *y = job->y + row0;
    if (w->format == CK_FORMAT_F32) {
        const float *b = (const float *)w->data + row0 * k;
        job->sgemm((int)m, (int)nb, (int)k, job->x, (int)k, b, (int)k, beta, y, (int)n);
        return;
    }
    float *panel = ck_pool_scratch(job->pool, thread, (size_t)CK_GEMM_PANEL_ROWS * CK_GEMM_PANEL_COLS * sizeof(float));
    if (!panel) {
        atomic_store(&job->out_of_memory, 1);
        return;
    }
    for (int64_t k0 = 0; k0 < k; k0 += CK_GEMM_PANEL_COLS) {
        int64_t kc = k - k0 < CK_GEMM_PANEL_COLS ? k - k0 : CK_GEMM_PANEL_COLS;
        job->kernels->decode(w, row0, nb, k0, kc, panel, kc);
        job->sgemm((int)m, (int)nb, (int)kc, job->x + k0, (int)k, panel, (int)kc, k0 == 0 ? beta : 1.0f, y, (int)n);
    }
}

static const ck_matmul_kernels *ck_kernels_for(ck_level level) {
    const ck_matmul_kernels *kernels = NULL;
    if (level >= CK_LEVEL_AVX512) kernels = ck_matmul_kernels_avx512();
    else if (level >= CK_LEVEL_AVX2) kernels = ck_matmul_kernels_avx2();
    return kernels ? kernels : ck_matmul_kernels_scalar();
}

// Rows per task: about `per_thread` tasks per thread, a multiple of `multiple`, at most `most` (if > 0).
static int64_t ck_rows_per_task(int64_t n, int threads, int64_t per_thread, int64_t multiple, int64_t most) {
    int64_t parts = (int64_t)threads * per_thread;
    int64_t rows = (n + parts - 1) / parts;
    rows = (rows + multiple - 1) / multiple * multiple;
    if (most > 0 && rows > most) rows = most;
    return rows;
}

ck_precision ck_active_precision(void) {
    int precision = atomic_load(&g_precision);
    if (precision < 0) {
        const char *env = getenv("INTERNVL_PRECISION");
        precision = env && strcmp(env, "fast") == 0 ? CK_PRECISION_FAST : CK_PRECISION_EXACT;
        atomic_store(&g_precision, precision);
    }
    return (ck_precision)precision;
}

ck_precision ck_set_precision(ck_precision precision) {
    atomic_store(&g_precision, precision == CK_PRECISION_FAST ? CK_PRECISION_FAST : CK_PRECISION_EXACT);
    return ck_active_precision();
}

const char *ck_precision_name(ck_precision precision) { return precision == CK_PRECISION_FAST ? "fast" : "exact"; }

ck_matmul_path ck_matmul_path_default(void) {
    ck_matmul_path path = {ck_active_level(), CK_MATMUL_GEMM_MIN_ROWS, CK_MATMUL_SKINNY_MAX_ROWS,
                           ck_active_precision(), CK_MATMUL_BF16_GEMM_MIN_ROWS};
    return path;
}

ck_matmul_status ck_matmul_on_path(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                   int accumulate, const ck_matmul_path *path) {
    if (!pool || !w || !w->data || !path || m < 0 || w->rows < 1 || w->cols < 1) return CK_MATMUL_BAD_SHAPE;
    int quantized = w->format == CK_FORMAT_Q8_0 || w->format == CK_FORMAT_Q4_0;
    if (quantized && (w->cols % CK_QBLOCK != 0 || !w->scales)) return CK_MATMUL_BAD_SHAPE;
    if (m == 0) return CK_MATMUL_OK;
    ck_level level = path->level;
    ck_level max = ck_cpu_max_level();
    if (level > max) level = max;
    int64_t gemm_min_rows = path->gemm_min_rows > 0 ? path->gemm_min_rows : CK_MATMUL_GEMM_MIN_ROWS;
    int64_t skinny_max_rows = path->skinny_max_rows < CK_SKINNY_MAX_M ? path->skinny_max_rows : CK_SKINNY_MAX_M;

    // bf16 weights at large M: our own bf16 GEMM where the level has one (AMX tiles), else decode + sgemm below.
    int64_t bf16_gemm_min_rows = path->bf16_gemm_min_rows > 0 ? path->bf16_gemm_min_rows : gemm_min_rows;
    if (w->format == CK_FORMAT_BF16 && m >= bf16_gemm_min_rows && m > 1 &&
        ck_gemm_bf16_available(level, path->precision)) {
        return ck_gemm_bf16(pool, x, m, w, y, accumulate, level, path->precision);
    }

    // bf16 (without AMX), q8_0 and q4_0 weights at large M: our f32 GEMM, which decodes W while packing it for its
    // AVX-512 micro-kernel (ck_gemm_f32_avx512.c). f32 weights (nothing to decode) and levels below AVX-512 keep
    // decode + sgemm below.
    if (m > 1 && m >= gemm_min_rows && w->format != CK_FORMAT_F32 && ck_gemm_f32_available(level)) {
        return ck_gemm_f32(pool, x, m, w, y, accumulate);
    }

    ck_matmul_job job;
    job.kernels = ck_kernels_for(level);
    job.w = w;
    job.x = x;
    job.y = y;
    job.m = m;
    job.accumulate = accumulate;
    job.pool = pool;
    job.sgemm = atomic_load(&g_sgemm);
    atomic_init(&job.out_of_memory, 0);
    int threads = ck_pool_size(pool);
    int64_t n = w->rows;
    int gemm = m >= gemm_min_rows && job.sgemm;
    ck_task_fn fn;
    int q8act = !gemm && (m == 1 || m <= skinny_max_rows) ? ck_q8act_kind_for(path, level, w, m) : 0;
    job.q8act_kind = q8act;
    job.gemv_q4x = 0;
    if (q8act) {
        job.q8act = ck_q8act_layout_for(w->format, m, w->cols);
        job.call_id = atomic_fetch_add(&g_call_id, 1) + 1;
    }
    if (q8act && !(q8act == CK_Q8ACT_VNNI && m == 1)) {
        fn = ck_q8act_skinny_task;
        job.rows_per_task = ck_rows_per_task(n, threads, 4, CK_SKINNY_ROWS, 0);
    } else if (m == 1) {
        fn = ck_gemv_task;
        job.gemv_q4x = !q8act && w->format == CK_FORMAT_Q4_0 && level >= CK_LEVEL_AVX512 &&
                       job.kernels == ck_matmul_kernels_avx512();
        if (job.gemv_q4x) job.call_id = atomic_fetch_add(&g_call_id, 1) + 1;
        job.rows_per_task = ck_rows_per_task(n, threads, 8, CK_GEMV_ROWS, 0);
    } else if (!gemm && m <= skinny_max_rows && job.kernels->skinny) {
        job.skinny_chunk = ck_skinny_chunk_cols(m);
        job.call_id = atomic_fetch_add(&g_call_id, 1) + 1;
        fn = ck_skinny_task;
        job.rows_per_task = ck_rows_per_task(n, threads, 4, CK_SKINNY_ROWS, 0);
    } else if (!gemm) {
        fn = ck_small_task;
        job.rows_per_task = ck_rows_per_task(n, threads, 8, CK_PANEL_ROWS, 0);
    } else {
        fn = ck_gemm_task;
        if (w->format == CK_FORMAT_F32) {
            // As few calls as CK_GEMM_F32_TASK_ROWS allows, in a multiple of the thread count (balanced).
            int64_t most = (int64_t)threads * CK_GEMM_F32_TASK_ROWS;
            int64_t per_thread = (n + most - 1) / most;
            job.rows_per_task = ck_rows_per_task(n, threads, per_thread, 16, 0);
        } else {
            job.rows_per_task = ck_rows_per_task(n, threads, 1, 16, CK_GEMM_PANEL_ROWS);
        }
    }
    int ntasks = (int)((n + job.rows_per_task - 1) / job.rows_per_task);
    ck_pool_run(pool, fn, &job, ntasks);
    return atomic_load(&job.out_of_memory) ? CK_MATMUL_OUT_OF_MEMORY : CK_MATMUL_OK;
}

ck_matmul_status ck_matmul_with_path(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                     int accumulate, ck_level level, int64_t gemm_min_rows) {
    ck_matmul_path path = {level, gemm_min_rows, CK_MATMUL_SKINNY_MAX_ROWS, ck_active_precision(), 0};
    return ck_matmul_on_path(pool, x, m, w, y, accumulate, &path);
}

ck_matmul_status ck_matmul(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y, int accumulate) {
    ck_matmul_path path = ck_matmul_path_default();
    return ck_matmul_on_path(pool, x, m, w, y, accumulate, &path);
}
