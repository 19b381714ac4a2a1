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
        /* db[j] = Σ_i dy[i][j], summed in row order from 0: 4·W columns at
         * a time in four registers (four independent chains of adds, not
         * one add's latency per row), then W at a time, the last columns
         * one by one (the same bits) */
        int j = 0;
        for (; j + 4 * NNR_VEC_WIDTH <= out; j += 4 * NNR_VEC_WIDTH) {
            NNR_VEC a0 = NNR_VEC_ZERO(), a1 = NNR_VEC_ZERO(), a2 = NNR_VEC_ZERO(), a3 = NNR_VEC_ZERO();
            for (int i = 0; i < n; i++) {
                const float *r = dy + (size_t)i * (size_t)out + j;
                a0 = NNR_VEC_ADD(a0, NNR_VEC_LOAD(r));
                a1 = NNR_VEC_ADD(a1, NNR_VEC_LOAD(r + NNR_VEC_WIDTH));
                a2 = NNR_VEC_ADD(a2, NNR_VEC_LOAD(r + 2 * NNR_VEC_WIDTH));
                a3 = NNR_VEC_ADD(a3, NNR_VEC_LOAD(r + 3 * NNR_VEC_WIDTH));
            }
            NNR_VEC_STORE(db + j, a0);
            NNR_VEC_STORE(db + j + NNR_VEC_WIDTH, a1);
            NNR_VEC_STORE(db + j + 2 * NNR_VEC_WIDTH, a2);
            NNR_VEC_STORE(db + j + 3 * NNR_VEC_WIDTH, a3);
        }
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
