// Y[M, N] = X[M, K] · W[N, K]^T for every weight format, on a ck_pool, with run-time CPU dispatch.
#ifndef CK_MATMUL_H
#define CK_MATMUL_H

#include <stdint.h>

#include "ck_cpu.h"
#include "ck_pool.h"
#include "ck_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Row-major single-precision GEMM with B transposed: C[m, n] = A[m, k] · B[n, k]^T + beta · C.
/// `lda`, `ldb`, `ldc` are row strides in floats. Supplied by the caller (OpenBLAS's cblas_sgemm, run with one
/// thread) so this C target does not link a BLAS itself.
typedef void (*ck_sgemm_nt_fn)(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                               float beta, float *c, int ldc);

/// Installs the GEMM used for large M (thread-safe; last call wins). Without one, large M runs on this
/// library's own small-M kernels, which are correct but slower.
void ck_matmul_set_sgemm(ck_sgemm_nt_fn fn);

/// Default smallest M that goes to the panel + GEMM path.
#define CK_MATMUL_GEMM_MIN_ROWS 32

/// Result codes of ck_matmul.
typedef enum {
    CK_MATMUL_OK = 0,
    CK_MATMUL_BAD_SHAPE = -1,     ///< m < 0, rows or cols < 1, or cols % 32 != 0 for a quantized format
    CK_MATMUL_OUT_OF_MEMORY = -2  ///< a per-thread scratch buffer could not be allocated
} ck_matmul_status;

/// Y = X · W^T (or Y += X · W^T when `accumulate` is nonzero). X is float[m * w->cols], Y is
/// float[m * w->rows], both row-major and dense. Uses the code path of ck_active_level() and the precision of
/// ck_active_precision(). bf16 weights at M >= the GEMM threshold run our own bf16 GEMM at CK_LEVEL_AMX (AMX
/// tiles; X as three bf16 terms in exact precision, one in fast); every other case above CK_LEVEL_AVX512 runs
/// the AVX-512 kernels and, for large M, our f32 GEMM with W decoded while it is packed (f32 weights: sgemm;
/// AVX512-BF16's vdpbf16ps peaks no higher than f32 FMA on the CPUs measured). `pool` must not be NULL.
ck_matmul_status ck_matmul(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y, int accumulate);

/// ck_matmul with an explicit code path: `level` (clamped to the machine's maximum) and the smallest M that
/// uses the panel + GEMM path (`gemm_min_rows`; <= 0 means the default). For tests and benchmarks.
ck_matmul_status ck_matmul_with_path(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                     int accumulate, ck_level level, int64_t gemm_min_rows);

/// Default largest M that runs on the fused small-M ("skinny") kernels (M = 2 up to this, below the GEMM
/// threshold): each thread streams its weight rows once and applies them to every row of X. Measured on an
/// AVX-512 Xeon (K = N = 4096, one thread): the skinny kernels beat decode-panel + OpenBLAS sgemm at every M up
/// to 32 (M = 24: 11.4 ms vs 27 ms bf16), so they take every M below the GEMM threshold.
#define CK_MATMUL_SKINNY_MAX_ROWS 32

/// How exactly a matmul treats X. Weights are always used exactly as stored (bf16, f32, or q8_0/q4_0 blocks).
typedef enum {
    /// X is used in full f32 precision: the result equals decode-then-multiply in f32 up to float rounding, which
    /// is what the golden fixtures (a float32 reference) require. Kernels that compute in bf16 carry X as a sum
    /// of bf16 terms that together hold its f32 value. The default.
    CK_PRECISION_EXACT = 0,
    /// X may be rounded to a lower precision where that is faster (as a bf16 or int8-activation deployment does):
    /// bf16 GEMMs round X to bf16; quantized weights may meet X quantized to int8 blocks of 32. Results differ
    /// from the f32 reference by about that rounding; opt-in.
    CK_PRECISION_FAST = 1
} ck_precision;

/// The precision matmuls use by default: CK_PRECISION_EXACT unless the environment variable INTERNVL_PRECISION
/// is "fast" or ck_set_precision() chose otherwise.
ck_precision ck_active_precision(void);

/// Sets the default precision (process-wide; thread-safe). Returns it.
ck_precision ck_set_precision(ck_precision precision);

/// "exact" or "fast".
const char *ck_precision_name(ck_precision precision);

/// Every choice of a matmul's code path (for tests and benchmarks; ck_matmul_path_default() is what ck_matmul
/// uses).
typedef struct {
    ck_level level;             ///< CPU level, clamped to the machine's maximum
    int64_t gemm_min_rows;      ///< smallest M on the GEMM path (decode + sgemm, or the bf16 GEMM for bf16
                                ///< weights where the level has one); <= 0 means CK_MATMUL_GEMM_MIN_ROWS
    int64_t skinny_max_rows;    ///< largest M (>= 2) on the skinny kernels; 0 or less turns them off; at most 32
    ck_precision precision;     ///< how exactly X is used
    /// smallest M on the bf16 GEMM (bf16 weights where the level has one, see ck_matmul); <= 0 means
    /// gemm_min_rows
    int64_t bf16_gemm_min_rows;
} ck_matmul_path;

/// Default smallest M on the bf16 GEMM where the level has one. Measured on a Sapphire Rapids Xeon with AMX
/// (K = N = 4096, exact precision, 1 and 2 threads, machine loaded): the skinny kernels win at M <= 8
/// (M = 4: 1.8 ms vs 7 ms), M = 12-16 are even, and AMX wins from M = 24 (M = 32: 4.6-7.8 ms vs 11-16 ms).
#define CK_MATMUL_BF16_GEMM_MIN_ROWS 16

/// The default path: the active level, CK_MATMUL_GEMM_MIN_ROWS, CK_MATMUL_SKINNY_MAX_ROWS, the active precision,
/// CK_MATMUL_BF16_GEMM_MIN_ROWS.
ck_matmul_path ck_matmul_path_default(void);

/// ck_matmul on an explicit path. `path` must not be NULL.
ck_matmul_status ck_matmul_on_path(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                                   int accumulate, const ck_matmul_path *path);

/// The bf16 multiply-add peak of a level, for benchmarks: runs `iterations` rounds of the level's bf16 GEMM
/// instruction from registers only (AMX TDPBF16PS at CK_LEVEL_AMX, vdpbf16ps at CK_LEVEL_AVX512_BF16; no memory
/// traffic) on every thread of `pool` and returns the floating-point operations done (0 if `level`, clamped to
/// the machine, has no bf16 instruction). Time the call to get the rate.
double ck_bf16_peak_run(ck_pool *pool, ck_level level, int64_t iterations);

#ifdef __cplusplus
}
#endif
#endif
