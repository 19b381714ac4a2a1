/* linear.c — fully connected layer: forward as one GEMM against the
 * [out, in] weight with the bias and activation fused into its epilogue;
 * backward as two GEMMs (dx = dy·W, dW = dyᵀ·x) and a column sum (db). */
#include <stddef.h>
#include <string.h>

#include "kern.h"

void nnr_linear_f32(int n, int in, int out, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param)
{
    nnr_gemm_ex_f32(0, 1, n, out, in, x, in, w, in, y, out, 0, NULL, b, act, act_param);
}

void nnr_linear_backward_f32(int n, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db)
{
    if (dx) nnr_gemm_f32(0, 0, n, in, out, dy, out, w, in, dx, in, 0);
    if (dw) {
        if (n > 0)
            nnr_gemm_f32(1, 0, out, in, n, dy, out, x, in, dw, in, 0);
        else
            memset(dw, 0, (size_t)out * (size_t)in * sizeof *dw);
    }
    if (db) {
        memset(db, 0, (size_t)out * sizeof *db);
        for (int i = 0; i < n; i++) {
            const float *r = dy + (size_t)i * (size_t)out;
            for (int j = 0; j < out; j++) db[j] += r[j];
        }
    }
}
