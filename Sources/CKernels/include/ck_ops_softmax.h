// Softmax over rows (max-subtracted, f32).
#ifndef CK_OPS_SOFTMAX_H
#define CK_OPS_SOFTMAX_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Softmax of rows [r0, r1): `y[r][i] = exp(x[r][i] - max(x[r])) / sum_j exp(x[r][j] - max(x[r]))`.
/// Row r of x starts at `x + r * x_stride`, of y at `y + r * y_stride` (floats). In place is allowed.
/// `-inf` entries get probability 0; a row must hold at least one finite value.
void ck_softmax_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, ptrdiff_t dim,
                    ptrdiff_t r0, ptrdiff_t r1);

#ifdef __cplusplus
}
#endif
#endif
