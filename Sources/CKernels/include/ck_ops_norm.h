// Row normalisations: RMSNorm (InternLM2) and LayerNorm with weight and bias (InternViT, mlp1).
#ifndef CK_OPS_NORM_H
#define CK_OPS_NORM_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// RMSNorm of rows [r0, r1): `y[r] = (x[r] * (1 / sqrt(mean(x[r]^2) + eps))) * w`.
/// Row r of x starts at `x + r * x_stride`, of y at `y + r * y_stride` (strides in floats); `w` has `dim` floats.
/// In place is allowed (x == y with equal strides). No allocation; f32 in and out.
void ck_rmsnorm_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, const float *w,
                    ptrdiff_t dim, float eps, ptrdiff_t r0, ptrdiff_t r1);

/// LayerNorm of rows [r0, r1) with biased variance:
/// `y[r] = ((x[r] - mean) * (1 / sqrt(var + eps))) * w + b`, mean and var over the `dim` values of the row.
/// Same layout rules as ck_rmsnorm_f32; in place is allowed.
void ck_layernorm_f32(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride, const float *w,
                      const float *b, ptrdiff_t dim, float eps, ptrdiff_t r0, ptrdiff_t r1);

#ifdef __cplusplus
}
#endif
#endif
