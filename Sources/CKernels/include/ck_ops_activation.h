// Elementwise activations and adds: exact GELU (erf), SiLU(gate) * up, bias add, residual add with optional
// layer scale, plain add.
#ifndef CK_OPS_ACTIVATION_H
#define CK_OPS_ACTIVATION_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// `y[i] = erf(x[i])` for i in [begin, end). Vector paths are accurate to 1e-7 relative. In place allowed.
void ck_erf_f32(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end);

/// Exact GELU, `y[i] = (x[i] * 0.5) * (1 + erf(x[i] / sqrt(2)))`, for i in [begin, end). In place allowed.
void ck_gelu_f32(const float *x, float *y, ptrdiff_t begin, ptrdiff_t end);

/// SwiGLU gate: `out[i] = (gate[i] / (1 + exp(-gate[i]))) * up[i]` for i in [begin, end).
/// `out` may alias `gate` or `up`.
void ck_silu_mul_f32(const float *gate, const float *up, float *out, ptrdiff_t begin, ptrdiff_t end);

/// `x[r][c] += bias[c]` for rows [r0, r1), c < dim; row r starts at `x + r * x_stride`.
void ck_bias_add_f32(float *x, ptrdiff_t x_stride, const float *bias, ptrdiff_t dim, ptrdiff_t r0, ptrdiff_t r1);

/// Residual add for rows [r0, r1): `x[r][c] += scale[c] * y[r][c]`, or `x[r][c] += y[r][c]` when `scale` is NULL
/// (the product is rounded before the add, as in PyTorch's `x + ls * y`).
void ck_residual_add_f32(float *x, ptrdiff_t x_stride, const float *y, ptrdiff_t y_stride, const float *scale,
                         ptrdiff_t dim, ptrdiff_t r0, ptrdiff_t r1);

/// `out[i] = a[i] + b[i]` for i in [begin, end). `out` may alias `a` or `b`.
void ck_add_f32(const float *a, const float *b, float *out, ptrdiff_t begin, ptrdiff_t end);

#ifdef __cplusplus
}
#endif
#endif
