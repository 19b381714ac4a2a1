/* linear.c — fully connected layer: forward as one GEMM against the
 * [out, in] weight with the bias and activation fused into its epilogue;
 * backward as two GEMMs (dx = dy·W, dW = dyᵀ·x) and a column sum (db). */
#include <stddef.h>
#include <string.h>

#include "kern.h"
#include "../simd.h"

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
        /* db[j] = Σ_i dy[i][j], summed in row order from 0: W columns at a
         * time in a register, the last columns one by one (the same bits) */
        int j = 0;
        for (; j + NNR_VEC_WIDTH <= out; j += NNR_VEC_WIDTH) {
            NNR_VEC acc = NNR_VEC_ZERO();
            for (int i = 0; i < n; i++)
                acc = NNR_VEC_ADD(acc, NNR_VEC_LOAD(dy + (size_t)i * (size_t)out + j));
            NNR_VEC_STORE(db + j, acc);
        }
        for (; j < out; j++) {
            float acc = 0.0f;
            for (int i = 0; i < n; i++) acc += dy[(size_t)i * (size_t)out + j];
            db[j] = acc;
        }
    }
}
