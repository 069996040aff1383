// Internal: the per-CPU-level kernel table behind ck_matmul (one implementation file per level).
#ifndef CK_MATMUL_KERNELS_H
#define CK_MATMUL_KERNELS_H

#include <stdint.h>

#include "ck_quant.h"

/// Rows of W one GEMV step reads at once (interleaved streams) and rows per small-M panel.
#define CK_GEMV_ROWS 8
/// Columns per decoded panel in the small-M path (multiple of 32).
#define CK_PANEL_COLS 512
/// Rows of X per small-M micro-kernel step.
#define CK_DOT_MR 4
/// Panel rows per small-M micro-kernel step.
#define CK_DOT_NR 4

typedef struct {
    /// Decodes rows [row0, row0 + nrows) and columns [k0, k0 + kb) of W to dst[r * ldd + k - k0].
    /// For quantized formats k0 % 32 == 0 and kb % 32 == 0.
    void (*decode)(const ck_weights *w, int64_t row0, int64_t nrows, int64_t k0, int64_t kb, float *dst,
                   int64_t ldd);
    /// out[r] = dot(x, W[row0 + r]) over all columns, for r < nrows (any count).
    void (*gemv)(const ck_weights *w, const float *x, int64_t row0, int64_t nrows, float *out);
    /// acc[i * ldacc + j] += dot(x[i * ldx ..< i * ldx + kb], panel[j * ldp ..< j * ldp + kb]) for
    /// i < m (<= CK_DOT_MR), j < n (<= CK_DOT_NR).
    void (*dot)(const float *x, int64_t ldx, int m, const float *panel, int64_t ldp, int n, int64_t kb,
                float *acc, int64_t ldacc);
} ck_matmul_kernels;

const ck_matmul_kernels *ck_matmul_kernels_scalar(void);
/// NULL when the target is not x86-64.
const ck_matmul_kernels *ck_matmul_kernels_avx2(void);
/// NULL when the target is not x86-64.
const ck_matmul_kernels *ck_matmul_kernels_avx512(void);

#endif
