/* act.c — element-wise activations and their backward (nnr_act_f32,
 * nnr_act_backward_f32): relu, leaky_relu, sigmoid, tanh, exact gelu, silu,
 * elu, softplus, gelu with the tanh approximation; and the element-wise
 * functions of imported models (exp, log, sqrt, sign, floor, ceil, round,
 * erf, the trigonometric and hyperbolic functions and their inverses, pow
 * with a number), through libm.
 * Forward transcendentals use the vector ones of simd.h (a few ulp, bounds
 * there); the tail goes through the same vector code on a zero-padded
 * copy, so every element's result is independent of its position (a row
 * alone equals the row in a batch, whatever the split across threads).
 * Backward keeps libm (expf, erff) as before, but for gelu's tanh form,
 * whose tanh is the forward's (nnr_vtanh: the same t in both). */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../nnr.h"
#include "kern.h"
#include "../simd.h"

/* elements from which relu and its gradient are split across threads
 * (with OpenMP; element-wise, so the bits do not depend on the split) */
#define ACT_PAR_MIN ((size_t)1 << 18)

#define NNR_SQRT1_2 0.70710678118654752440f
#define NNR_INV_SQRT_2PI 0.39894228040143267794f
#define NNR_SQRT_2_PI 0.79788456080286535588f   /* sqrt(2 / pi) */

/* y[i] = f(x[i]) for a vector function f, tail included (padded with 0). */
#define NNR_VMAP(f)                                                     \
    do {                                                                \
        for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH)            \
            NNR_VEC_STORE(y + i, f(NNR_VEC_LOAD(x + i)));               \
        if (i < len) {                                                  \
            float t_[NNR_VEC_WIDTH] = {0};                              \
            memcpy(t_, x + i, (len - i) * sizeof *t_);                  \
            NNR_VEC_STORE(t_, f(NNR_VEC_LOAD(t_)));                     \
            memcpy(y + i, t_, (len - i) * sizeof *t_);                  \
        }                                                               \
    } while (0)

/* gelu(approximate = "tanh"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
 * in the scalar form's order of operations, tanh from nnr_vtanh. */
static inline NNR_VEC vgelu_tanh(NNR_VEC x)
{
    NNR_VEC c3 = NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_SET1(0.044715f), x), x), x);
    NNR_VEC t = nnr_vtanh(NNR_VEC_MUL(NNR_VEC_SET1(NNR_SQRT_2_PI), NNR_VEC_ADD(x, c3)));
    return NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_SET1(0.5f), x), NNR_VEC_ADD(NNR_VEC_SET1(1.0f), t));
}

/* dy·gelu_tanh'(v): tanh(u), u = √(2/π)·(v + 0.044715·v³), then
 * dy·(½(1 + t) + ½v·(1 - t²)·√(2/π)·(1 + 3·0.044715·v²)), the scalar
 * form's operations in its order, none fused. */
static inline NNR_VEC vgelu_tanh_grad(NNR_VEC v, NNR_VEC g)
{
    const NNR_VEC k0 = NNR_VEC_SET1(0.044715f), k3 = NNR_VEC_SET1(3.0f * 0.044715f);
    const NNR_VEC s2p = NNR_VEC_SET1(NNR_SQRT_2_PI), one = NNR_VEC_SET1(1.0f);
    const NNR_VEC half = NNR_VEC_SET1(0.5f);
    const NNR_VEC c3 = NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_MUL(k0, v), v), v);
    const NNR_VEC t = nnr_vtanh(NNR_VEC_MUL(s2p, NNR_VEC_ADD(v, c3)));
    const NNR_VEC dt = NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_SUB(one, NNR_VEC_MUL(t, t)), s2p),
                                   NNR_VEC_ADD(one, NNR_VEC_MUL(NNR_VEC_MUL(k3, v), v)));
    return NNR_VEC_MUL(g, NNR_VEC_ADD(NNR_VEC_MUL(half, NNR_VEC_ADD(one, t)),
                                      NNR_VEC_MUL(NNR_VEC_MUL(half, v), dt)));
}

void nnr_act2_f32(nnr_act act, float p0, float p1, size_t len, const float *x, float *y)
{
    float param = p0;
    size_t i = 0;
    switch (act) {
    case NNR_ACT_NONE:
        if (x != y) memmove(y, x, len * sizeof *y);
        return;
    case NNR_ACT_RELU: {
        const size_t nv = len / NNR_VEC_WIDTH;
        const NNR_VEC z = NNR_VEC_ZERO();
        /* a parallel region only when it splits: with a false if clause it
         * would still start a team of one (~0.7 us per call on Zen 3) */
#ifdef _OPENMP
        const int nth = nnr_kern_threads((double)len, (double)ACT_PAR_MIN, (long)nv);
        if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
            for (size_t v = 0; v < nv; v++)
                NNR_VEC_STORE(y + v * NNR_VEC_WIDTH, NNR_VEC_MAX(z, NNR_VEC_LOAD(x + v * NNR_VEC_WIDTH)));
        } else
#endif
            for (size_t v = 0; v < nv; v++)
                NNR_VEC_STORE(y + v * NNR_VEC_WIDTH, NNR_VEC_MAX(z, NNR_VEC_LOAD(x + v * NNR_VEC_WIDTH)));
        for (i = nv * NNR_VEC_WIDTH; i < len; i++) y[i] = 0.0f > x[i] ? 0.0f : x[i]; /* NaN passes */
        return;
    }
    case NNR_ACT_LEAKY_RELU:
        for (; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * param;
        return;
    case NNR_ACT_SIGMOID:
        NNR_VMAP(nnr_vsigmoid);
        return;
    case NNR_ACT_TANH:
        NNR_VMAP(nnr_vtanh);
        return;
    case NNR_ACT_GELU:
        NNR_VMAP(nnr_vgelu);
        return;
    case NNR_ACT_SILU:
        for (; i < len; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    case NNR_ACT_ELU:
        for (; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : param * expm1f(x[i]);
        return;
    case NNR_ACT_SOFTPLUS:
        for (; i < len; i++) y[i] = x[i] * p0 > p1 ? x[i] : log1pf(expf(x[i] * p0)) / p0;
        return;
    case NNR_ACT_GELU_TANH:
        NNR_VMAP(vgelu_tanh);
        return;
    case NNR_ACT_EXP: for (; i < len; i++) y[i] = expf(x[i]); return;
    case NNR_ACT_LOG: for (; i < len; i++) y[i] = logf(x[i]); return;
    case NNR_ACT_SQRT: for (; i < len; i++) y[i] = sqrtf(x[i]); return;
    case NNR_ACT_SIGN: for (; i < len; i++) y[i] = (float)((x[i] > 0.0f) - (x[i] < 0.0f)); return;
    case NNR_ACT_FLOOR: for (; i < len; i++) y[i] = floorf(x[i]); return;
    case NNR_ACT_CEIL: for (; i < len; i++) y[i] = ceilf(x[i]); return;
    case NNR_ACT_ROUND: for (; i < len; i++) y[i] = nearbyintf(x[i]); return;
    case NNR_ACT_ERF: for (; i < len; i++) y[i] = erff(x[i]); return;
    case NNR_ACT_SIN: for (; i < len; i++) y[i] = sinf(x[i]); return;
    case NNR_ACT_COS: for (; i < len; i++) y[i] = cosf(x[i]); return;
    case NNR_ACT_TAN: for (; i < len; i++) y[i] = tanf(x[i]); return;
    case NNR_ACT_ASIN: for (; i < len; i++) y[i] = asinf(x[i]); return;
    case NNR_ACT_ACOS: for (; i < len; i++) y[i] = acosf(x[i]); return;
    case NNR_ACT_ATAN: for (; i < len; i++) y[i] = atanf(x[i]); return;
    case NNR_ACT_SINH: for (; i < len; i++) y[i] = sinhf(x[i]); return;
    case NNR_ACT_COSH: for (; i < len; i++) y[i] = coshf(x[i]); return;
    case NNR_ACT_ASINH: for (; i < len; i++) y[i] = asinhf(x[i]); return;
    case NNR_ACT_ACOSH: for (; i < len; i++) y[i] = acoshf(x[i]); return;
    case NNR_ACT_ATANH: for (; i < len; i++) y[i] = atanhf(x[i]); return;
    case NNR_ACT_POW: for (; i < len; i++) y[i] = powf(x[i], p0); return;
    }
}

void nnr_act2_backward_f32(nnr_act act, float p0, float p1, size_t len, const float *x,
                           const float *y, const float *dy, float *dx)
{
    float param = p0;
    size_t i = 0;
    switch (act) {
    case NNR_ACT_NONE:
        if (dx != dy) memmove(dx, dy, len * sizeof *dx);
        return;
    case NNR_ACT_RELU:
#ifdef _OPENMP
        if (nnr_kern_threads((double)len, (double)ACT_PAR_MIN, (long)len) > 1) { /* as the forward */
#pragma omp parallel for schedule(static)
            for (size_t j = 0; j < len; j++) dx[j] = x[j] > 0.0f ? dy[j] : 0.0f;
        } else
#endif
            for (size_t j = 0; j < len; j++) dx[j] = x[j] > 0.0f ? dy[j] : 0.0f;
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
    case NNR_ACT_SILU:
        for (; i < len; i++) {
            float s = 1.0f / (1.0f + expf(-x[i]));
            dx[i] = dy[i] * (s * (1.0f + x[i] * (1.0f - s)));
        }
        return;
    case NNR_ACT_ELU:
        for (; i < len; i++) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * (param * expf(x[i]));
        return;
    case NNR_ACT_SOFTPLUS:
        for (; i < len; i++) {
            float z = expf(x[i] * p0);
            dx[i] = x[i] * p0 > p1 ? dy[i] : dy[i] * z / (z + 1.0f);
        }
        return;
    case NNR_ACT_GELU_TANH: {
        /* in vectors (a zero-padded one for the tail), the scalar form's
         * operations in its order, none fused (vgelu_tanh_grad) */
        for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH)
            NNR_VEC_STORE(dx + i, vgelu_tanh_grad(NNR_VEC_LOAD(x + i), NNR_VEC_LOAD(dy + i)));
        if (i < len) {
            float tx[NNR_VEC_WIDTH] = {0}, tdy[NNR_VEC_WIDTH] = {0}, tdx[NNR_VEC_WIDTH];
            memcpy(tx, x + i, (len - i) * sizeof *tx);
            memcpy(tdy, dy + i, (len - i) * sizeof *tdy);
            NNR_VEC_STORE(tdx, vgelu_tanh_grad(NNR_VEC_LOAD(tx), NNR_VEC_LOAD(tdy)));
            memcpy(dx + i, tdx, (len - i) * sizeof *tdx);
        }
        return;
    }
    case NNR_ACT_EXP: for (; i < len; i++) dx[i] = dy[i] * y[i]; return;
    case NNR_ACT_LOG: for (; i < len; i++) dx[i] = dy[i] / x[i]; return;
    case NNR_ACT_SQRT: for (; i < len; i++) dx[i] = dy[i] * 0.5f / y[i]; return;
    case NNR_ACT_SIGN:
    case NNR_ACT_FLOOR:
    case NNR_ACT_CEIL:
    case NNR_ACT_ROUND: for (; i < len; i++) dx[i] = 0.0f; return;
    case NNR_ACT_ERF:
        for (; i < len; i++) dx[i] = dy[i] * 1.12837916709551257390f * expf(-x[i] * x[i]);
        return;
    case NNR_ACT_SIN: for (; i < len; i++) dx[i] = dy[i] * cosf(x[i]); return;
    case NNR_ACT_COS: for (; i < len; i++) dx[i] = -dy[i] * sinf(x[i]); return;
    case NNR_ACT_TAN: for (; i < len; i++) dx[i] = dy[i] * (1.0f + y[i] * y[i]); return;
    case NNR_ACT_ASIN: for (; i < len; i++) dx[i] = dy[i] / sqrtf(1.0f - x[i] * x[i]); return;
    case NNR_ACT_ACOS: for (; i < len; i++) dx[i] = -dy[i] / sqrtf(1.0f - x[i] * x[i]); return;
    case NNR_ACT_ATAN: for (; i < len; i++) dx[i] = dy[i] / (1.0f + x[i] * x[i]); return;
    case NNR_ACT_SINH: for (; i < len; i++) dx[i] = dy[i] * coshf(x[i]); return;
    case NNR_ACT_COSH: for (; i < len; i++) dx[i] = dy[i] * sinhf(x[i]); return;
    case NNR_ACT_ASINH: for (; i < len; i++) dx[i] = dy[i] / sqrtf(x[i] * x[i] + 1.0f); return;
    case NNR_ACT_ACOSH: for (; i < len; i++) dx[i] = dy[i] / sqrtf(x[i] * x[i] - 1.0f); return;
    case NNR_ACT_ATANH: for (; i < len; i++) dx[i] = dy[i] / (1.0f - x[i] * x[i]); return;
    case NNR_ACT_POW:
        for (; i < len; i++) dx[i] = p0 == 0.0f ? 0.0f : dy[i] * p0 * powf(x[i], p0 - 1.0f);
        return;
    }
}

void nnr_act_f32(nnr_act act, float param, size_t len, const float *x, float *y)
{
    nnr_act2_f32(act, param, 0.0f, len, x, y);
}

void nnr_act_backward_f32(nnr_act act, float param, size_t len, const float *x,
                          const float *y, const float *dy, float *dx)
{
    nnr_act2_backward_f32(act, param, 0.0f, len, x, y, dy, dx);
}
