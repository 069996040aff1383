// Pixel shuffle v2 (MODEL.md section 5): a pure copy, one memcpy per input cell.
#include "ck_ops_pixel_shuffle.h"

#include <string.h>

void ck_pixel_shuffle_v2_f32(const float *x, float *y, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t n0,
                             ptrdiff_t n1) {
    ptrdiff_t oh = h / 2, ow = w / 2;
    size_t cell = (size_t)c * sizeof(float);
    for (ptrdiff_t n = n0; n < n1; n++) {
        const float *xi = x + n * h * w * c;
        float *yi = y + n * oh * ow * 4 * c;
        for (ptrdiff_t i = 0; i < oh; i++) {
            for (ptrdiff_t j = 0; j < ow; j++) {
                float *out = yi + (i * ow + j) * 4 * c;
                memcpy(out, xi + ((2 * i) * w + 2 * j) * c, cell);
                memcpy(out + c, xi + ((2 * i) * w + 2 * j + 1) * c, cell);
                memcpy(out + 2 * c, xi + ((2 * i + 1) * w + 2 * j) * c, cell);
                memcpy(out + 3 * c, xi + ((2 * i + 1) * w + 2 * j + 1) * c, cell);
            }
        }
    }
}
