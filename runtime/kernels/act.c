/* act.c — element-wise activations and their backward (nnr_act_f32,
 * nnr_act_backward_f32): relu, leaky_relu, sigmoid, tanh, exact gelu.
 * Transcendentals use libm (expf, tanhf, erff) for PyTorch agreement. */
#include <math.h>
#include <string.h>

#include "../nnr.h"
#include "../simd.h"

#define NNR_SQRT1_2 0.70710678118654752440f
#define NNR_INV_SQRT_2PI 0.39894228040143267794f

static float sigmoid1(float x)
{
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void nnr_act_f32(nnr_act act, float param, size_t len, const float *x, float *y)
{
    size_t i = 0;
    switch (act) {
    case NNR_ACT_NONE:
        if (x != y) memmove(y, x, len * sizeof *y);
        return;
    case NNR_ACT_RELU: {
        NNR_VEC z = NNR_VEC_ZERO();
        for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH)
            NNR_VEC_STORE(y + i, NNR_VEC_MAX(z, NNR_VEC_LOAD(x + i)));
        for (; i < len; i++) y[i] = 0.0f > x[i] ? 0.0f : x[i]; /* NaN passes */
        return;
    }
    case NNR_ACT_LEAKY_RELU:
        for (; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * param;
        return;
    case NNR_ACT_SIGMOID:
        for (; i < len; i++) y[i] = sigmoid1(x[i]);
        return;
    case NNR_ACT_TANH:
        for (; i < len; i++) y[i] = tanhf(x[i]);
        return;
    case NNR_ACT_GELU:
        for (; i < len; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * NNR_SQRT1_2));
        return;
    }
}

void nnr_act_backward_f32(nnr_act act, float param, size_t len, const float *x,
                          const float *y, const float *dy, float *dx)
{
    size_t i = 0;
    switch (act) {
    case NNR_ACT_NONE:
        if (dx != dy) memmove(dx, dy, len * sizeof *dx);
        return;
    case NNR_ACT_RELU:
        for (; i < len; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        return;
    case NNR_ACT_LEAKY_RELU:
        for (; i < len; i++) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * param;
        return;
    case NNR_ACT_SIGMOID:
        for (; i < len; i++) dx[i] = dy[i] * (1.0f - y[i]) * y[i];
        return;
    case NNR_ACT_TANH:
        for (; i < len; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        return;
    case NNR_ACT_GELU:
        for (; i < len; i++) {
            float v = x[i];
            float cdf = 0.5f * (1.0f + erff(v * NNR_SQRT1_2));
            float pdf = NNR_INV_SQRT_2PI * expf(-0.5f * v * v);
            dx[i] = dy[i] * (cdf + v * pdf);
        }
        return;
    }
}
