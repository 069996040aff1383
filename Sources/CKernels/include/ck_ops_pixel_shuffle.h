// InternVL pixel shuffle, ps_version "v2", scale 0.5: [n, h, w, c] -> [n, h/2, w/2, 4c].
#ifndef CK_OPS_PIXEL_SHUFFLE_H
#define CK_OPS_PIXEL_SHUFFLE_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Pixel shuffle v2 of images [n0, n1): for output cell (i, j) of image n,
/// `y[n, i, j, 0:c] = x[n, 2i, 2j]`, `[c:2c] = x[n, 2i, 2j+1]`, `[2c:3c] = x[n, 2i+1, 2j]`,
/// `[3c:4c] = x[n, 2i+1, 2j+1]`. x is [n, h, w, c] and y [n, h/2, w/2, 4c], both contiguous; h and w even.
/// x and y must not overlap.
void ck_pixel_shuffle_v2_f32(const float *x, float *y, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t n0,
                             ptrdiff_t n1);

#ifdef __cplusplus
}
#endif
#endif
