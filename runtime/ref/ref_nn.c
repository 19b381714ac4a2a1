/* ref_nn.c — naive reference versions of the layer kernels: activations,
 * GEMM, linear, conv2d (direct convolution, gather-form backward), pooling,
 * softmax, batchnorm. Double arithmetic throughout; test oracle only. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "ref.h"

static double act1(nnr_act act, double p, double p1, double x)
{
    switch (act) {
    case NNR_ACT_NONE: return x;
    case NNR_ACT_RELU: return x > 0 ? x : 0;
    case NNR_ACT_LEAKY_RELU: return x > 0 ? x : x * p;
    case NNR_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case NNR_ACT_TANH: return tanh(x);
    case NNR_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case NNR_ACT_SILU: return x / (1.0 + exp(-x));
    case NNR_ACT_ELU: return x > 0 ? x : p * (exp(x) - 1.0);
    case NNR_ACT_SOFTPLUS: return x * p > p1 ? x : log(1.0 + exp(x * p)) / p;
    case NNR_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case NNR_ACT_EXP: return exp(x);
    case NNR_ACT_LOG: return log(x);
    case NNR_ACT_SQRT: return sqrt(x);
    case NNR_ACT_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case NNR_ACT_FLOOR: return floor(x);
    case NNR_ACT_CEIL: return ceil(x);
    case NNR_ACT_ROUND: {
        double f = floor(x), r = x - f;   /* half to even */
        return r > 0.5 || (r == 0.5 && fmod(f, 2.0) != 0.0) ? f + 1.0 : f;
    }
    case NNR_ACT_ERF: return erf(x);
    case NNR_ACT_SIN: return sin(x);
    case NNR_ACT_COS: return cos(x);
    case NNR_ACT_TAN: return tan(x);
    case NNR_ACT_ASIN: return asin(x);
    case NNR_ACT_ACOS: return acos(x);
    case NNR_ACT_ATAN: return atan(x);
    case NNR_ACT_SINH: return sinh(x);
    case NNR_ACT_COSH: return cosh(x);
    case NNR_ACT_ASINH: return asinh(x);
    case NNR_ACT_ACOSH: return acosh(x);
    case NNR_ACT_ATANH: return atanh(x);
    case NNR_ACT_POW: return pow(x, p);
    }
    return NAN;
}

void nnr_ref_act2_f32(nnr_act act, float p0, float p1, size_t len, const float *x, float *y)
{
    for (size_t i = 0; i < len; i++) y[i] = (float)act1(act, p0, p1, x[i]);
}

void nnr_ref_act_f32(nnr_act act, float param, size_t len, const float *x, float *y)
{
    nnr_ref_act2_f32(act, param, 0.0f, len, x, y);
}

void nnr_ref_act_backward_f32(nnr_act act, float param, size_t len, const float *x,
                              const float *y, const float *dy, float *dx)
{
    nnr_ref_act2_backward_f32(act, param, 0.0f, len, x, y, dy, dx);
}

void nnr_ref_act2_backward_f32(nnr_act act, float p0, float p1, size_t len, const float *x,
                               const float *y, const float *dy, float *dx)
{
    const double param = p0;
    const double pi = 3.14159265358979323846;
    for (size_t i = 0; i < len; i++) {
        double d;
        switch (act) {
        case NNR_ACT_RELU: d = x[i] > 0 ? 1.0 : 0.0; break;
        case NNR_ACT_LEAKY_RELU: d = x[i] > 0 ? 1.0 : param; break;
        case NNR_ACT_SIGMOID: d = (double)y[i] * (1.0 - y[i]); break;
        case NNR_ACT_TANH: d = 1.0 - (double)y[i] * y[i]; break;
        case NNR_ACT_GELU: {
            double v = x[i];
            d = 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * pi);
            break;
        }
        case NNR_ACT_SILU: {
            double s = 1.0 / (1.0 + exp(-(double)x[i]));
            d = s * (1.0 + x[i] * (1.0 - s));
            break;
        }
        case NNR_ACT_ELU: d = x[i] > 0 ? 1.0 : param * exp((double)x[i]); break;
        case NNR_ACT_SOFTPLUS: {
            double z = exp((double)x[i] * param);
            d = x[i] * param > p1 ? 1.0 : z / (z + 1.0);
            break;
        }
        case NNR_ACT_GELU_TANH: {
            double v = x[i], c = sqrt(2.0 / pi), t = tanh(c * (v + 0.044715 * v * v * v));
            d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * v * v);
            break;
        }
        case NNR_ACT_EXP: d = exp((double)x[i]); break;
        case NNR_ACT_LOG: d = 1.0 / x[i]; break;
        case NNR_ACT_SQRT: d = 0.5 / sqrt((double)x[i]); break;
        case NNR_ACT_SIGN: case NNR_ACT_FLOOR: case NNR_ACT_CEIL: case NNR_ACT_ROUND: d = 0.0; break;
        case NNR_ACT_ERF: d = 2.0 / sqrt(pi) * exp(-(double)x[i] * x[i]); break;
        case NNR_ACT_SIN: d = cos((double)x[i]); break;
        case NNR_ACT_COS: d = -sin((double)x[i]); break;
        case NNR_ACT_TAN: d = 1.0 / (cos((double)x[i]) * cos((double)x[i])); break;
        case NNR_ACT_ASIN: d = 1.0 / sqrt(1.0 - (double)x[i] * x[i]); break;
        case NNR_ACT_ACOS: d = -1.0 / sqrt(1.0 - (double)x[i] * x[i]); break;
        case NNR_ACT_ATAN: d = 1.0 / (1.0 + (double)x[i] * x[i]); break;
        case NNR_ACT_SINH: d = cosh((double)x[i]); break;
        case NNR_ACT_COSH: d = sinh((double)x[i]); break;
        case NNR_ACT_ASINH: d = 1.0 / sqrt((double)x[i] * x[i] + 1.0); break;
        case NNR_ACT_ACOSH: d = 1.0 / sqrt((double)x[i] * x[i] - 1.0); break;
        case NNR_ACT_ATANH: d = 1.0 / (1.0 - (double)x[i] * x[i]); break;
        case NNR_ACT_POW: d = param == 0.0 ? 0.0 : param * pow((double)x[i], param - 1.0); break;
        default: d = 1.0; break;
        }
        dx[i] = (float)(dy[i] * d);
    }
}

void nnr_ref_gemm_f32(int trans_a, int trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc, int accumulate)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = accumulate ? c[(size_t)i * ldc + j] : 0.0;
            for (int p = 0; p < k; p++) {
                double av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            c[(size_t)i * ldc + j] = (float)s;
        }
}

void nnr_ref_linear_f32(int n, int in, int out, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int p = 0; p < in; p++) s += (double)x[(size_t)i * in + p] * w[(size_t)o * in + p];
            y[(size_t)i * out + o] = (float)act1(act, act_param, 0.0, (double)(float)s);
        }
}

void nnr_ref_linear_backward_f32(int n, int in, int out, const float *x, const float *w,
                                 const float *dy, float *dx, float *dw, float *db)
{
    if (dx)
        for (int i = 0; i < n; i++)
            for (int p = 0; p < in; p++) {
                double s = 0;
                for (int o = 0; o < out; o++) s += (double)dy[(size_t)i * out + o] * w[(size_t)o * in + p];
                dx[(size_t)i * in + p] = (float)s;
            }
    if (dw)
        for (int o = 0; o < out; o++)
            for (int p = 0; p < in; p++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + p];
                dw[(size_t)o * in + p] = (float)s;
            }
    if (db)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += dy[(size_t)i * out + o];
            db[o] = (float)s;
        }
}

size_t nnr_ref_conv2d_scratch(const nnr_conv2d_shape *s)
{
    (void)s;
    return 0;
}

#define X4(p, i, c, y, x, C, H, W) (p)[(((size_t)(i) * (C) + (c)) * (H) + (y)) * (W) + (x)]

/* Dilation and groups, 0 read as 1. */
static int ref_dh(const nnr_conv2d_shape *s) { return s->dilation_h > 0 ? s->dilation_h : 1; }
static int ref_dw(const nnr_conv2d_shape *s) { return s->dilation_w > 0 ? s->dilation_w : 1; }
static int ref_groups(const nnr_conv2d_shape *s) { return s->groups > 0 ? s->groups : 1; }

/* Input position read by output (oy, ox) at tap (ki, kj); 0 when in the padding. */
static int ref_tap(const nnr_conv2d_shape *s, int oy, int ox, int ki, int kj, int *iy, int *ix)
{
    *iy = oy * s->stride_h - s->padding_h + ki * ref_dh(s);
    *ix = ox * s->stride_w - s->padding_w + kj * ref_dw(s);
    return *iy >= 0 && *iy < s->in_h && *ix >= 0 && *ix < s->in_w;
}

void nnr_ref_conv2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param,
                        float *scratch)
{
    (void)scratch;
    const int cg = s->in_channels / ref_groups(s), og = s->out_channels / ref_groups(s);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < s->out_channels; o++)
            for (int oy = 0; oy < s->out_h; oy++)
                for (int ox = 0; ox < s->out_w; ox++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < cg; c++)
                        for (int ki = 0; ki < s->kernel_h; ki++)
                            for (int kj = 0; kj < s->kernel_w; kj++) {
                                int iy, ix;
                                if (!ref_tap(s, oy, ox, ki, kj, &iy, &ix)) continue;
                                acc += (double)X4(x, i, o / og * cg + c, iy, ix, s->in_channels, s->in_h, s->in_w) *
                                       X4(w, o, c, ki, kj, cg, s->kernel_h, s->kernel_w);
                            }
                    X4(y, i, o, oy, ox, s->out_channels, s->out_h, s->out_w) =
                        (float)act1(act, act_param, 0.0, (double)(float)acc);
                }
}

void nnr_ref_conv2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *db, float *scratch)
{
    (void)scratch;
    const int cg = s->in_channels / ref_groups(s), og = s->out_channels / ref_groups(s);
    if (db)
        for (int o = 0; o < s->out_channels; o++) {
            double acc = 0;
            for (int i = 0; i < n; i++)
                for (int oy = 0; oy < s->out_h; oy++)
                    for (int ox = 0; ox < s->out_w; ox++)
                        acc += X4(dy, i, o, oy, ox, s->out_channels, s->out_h, s->out_w);
            db[o] = (float)acc;
        }
    if (dw)
        for (int o = 0; o < s->out_channels; o++)
            for (int c = 0; c < cg; c++)
                for (int ki = 0; ki < s->kernel_h; ki++)
                    for (int kj = 0; kj < s->kernel_w; kj++) {
                        double acc = 0;
                        for (int i = 0; i < n; i++)
                            for (int oy = 0; oy < s->out_h; oy++)
                                for (int ox = 0; ox < s->out_w; ox++) {
                                    int iy, ix;
                                    if (!ref_tap(s, oy, ox, ki, kj, &iy, &ix)) continue;
                                    acc += (double)X4(dy, i, o, oy, ox, s->out_channels, s->out_h, s->out_w) *
                                           X4(x, i, o / og * cg + c, iy, ix, s->in_channels, s->in_h, s->in_w);
                                }
                        X4(dw, o, c, ki, kj, cg, s->kernel_h, s->kernel_w) = (float)acc;
                    }
    if (dx) { /* scatter in double: every (output, tap) adds to the input it read */
        size_t len = (size_t)n * s->in_channels * s->in_h * s->in_w;
        double *acc = calloc(len ? len : 1, sizeof *acc);
        if (!acc) abort();
        for (int i = 0; i < n; i++)
            for (int o = 0; o < s->out_channels; o++)
                for (int oy = 0; oy < s->out_h; oy++)
                    for (int ox = 0; ox < s->out_w; ox++)
                        for (int c = 0; c < cg; c++)
                            for (int ki = 0; ki < s->kernel_h; ki++)
                                for (int kj = 0; kj < s->kernel_w; kj++) {
                                    int iy, ix;
                                    if (!ref_tap(s, oy, ox, ki, kj, &iy, &ix)) continue;
                                    X4(acc, i, o / og * cg + c, iy, ix, s->in_channels, s->in_h, s->in_w) +=
                                        (double)X4(dy, i, o, oy, ox, s->out_channels, s->out_h, s->out_w) *
                                        X4(w, o, c, ki, kj, cg, s->kernel_h, s->kernel_w);
                                }
        for (size_t k = 0; k < len; k++) dx[k] = (float)acc[k];
        free(acc);
    }
}

/* Flat index in the plane of the first maximum of output (oy, ox)'s window. */
static long ref_argmax(const nnr_pool2d_shape *s, const float *xp, int oy, int ox, float *mv)
{
    long arg = -1;
    float m = -INFINITY;
    for (int ki = 0; ki < s->kernel_h; ki++)
        for (int kj = 0; kj < s->kernel_w; kj++) {
            int iy = oy * s->stride_h - s->padding_h + ki, ix = ox * s->stride_w - s->padding_w + kj;
            if (iy < 0 || iy >= s->in_h || ix < 0 || ix >= s->in_w) continue; /* -inf */
            float v = xp[(size_t)iy * s->in_w + ix];
            if (arg < 0 || v > m) {
                m = v;
                arg = (long)iy * s->in_w + ix;
            }
        }
    *mv = m;
    return arg;
}

void nnr_ref_maxpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    for (int p = 0; p < n * s->channels; p++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++)
                ref_argmax(s, x + (size_t)p * s->in_h * s->in_w, oy, ox,
                           &y[((size_t)p * s->out_h + oy) * s->out_w + ox]);
}

void nnr_ref_maxpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *x,
                                    const float *dy, float *dx)
{
    for (int p = 0; p < n * s->channels; p++) {
        const float *xp = x + (size_t)p * s->in_h * s->in_w;
        for (long j = 0; j < (long)s->in_h * s->in_w; j++) {
            double acc = 0;
            for (int oy = 0; oy < s->out_h; oy++)
                for (int ox = 0; ox < s->out_w; ox++) {
                    float m;
                    if (ref_argmax(s, xp, oy, ox, &m) == j)
                        acc += dy[((size_t)p * s->out_h + oy) * s->out_w + ox];
                }
            dx[(size_t)p * s->in_h * s->in_w + j] = (float)acc;
        }
    }
}

/* count_include_pad: window positions inside the padded input [-p, size + p). */
static int ref_divisor(const nnr_pool2d_shape *s, int oy, int ox)
{
    int cnt = 0;
    for (int ki = 0; ki < s->kernel_h; ki++)
        for (int kj = 0; kj < s->kernel_w; kj++) {
            int iy = oy * s->stride_h - s->padding_h + ki, ix = ox * s->stride_w - s->padding_w + kj;
            if (iy >= -s->padding_h && iy < s->in_h + s->padding_h && ix >= -s->padding_w &&
                ix < s->in_w + s->padding_w)
                cnt++;
        }
    return cnt;
}

void nnr_ref_avgpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    for (int p = 0; p < n * s->channels; p++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++) {
                double acc = 0;
                for (int ki = 0; ki < s->kernel_h; ki++)
                    for (int kj = 0; kj < s->kernel_w; kj++) {
                        int iy = oy * s->stride_h - s->padding_h + ki, ix = ox * s->stride_w - s->padding_w + kj;
                        if (iy < 0 || iy >= s->in_h || ix < 0 || ix >= s->in_w) continue;
                        acc += x[((size_t)p * s->in_h + iy) * s->in_w + ix];
                    }
                y[((size_t)p * s->out_h + oy) * s->out_w + ox] = (float)(acc / ref_divisor(s, oy, ox));
            }
}

void nnr_ref_avgpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *dy,
                                    float *dx)
{
    for (int p = 0; p < n * s->channels; p++)
        for (int iy = 0; iy < s->in_h; iy++)
            for (int ix = 0; ix < s->in_w; ix++) {
                double acc = 0;
                for (int oy = 0; oy < s->out_h; oy++)
                    for (int ox = 0; ox < s->out_w; ox++) {
                        int ty = iy + s->padding_h - oy * s->stride_h, tx = ix + s->padding_w - ox * s->stride_w;
                        if (ty < 0 || ty >= s->kernel_h || tx < 0 || tx >= s->kernel_w) continue;
                        acc += dy[((size_t)p * s->out_h + oy) * s->out_w + ox] / (double)ref_divisor(s, oy, ox);
                    }
                dx[((size_t)p * s->in_h + iy) * s->in_w + ix] = (float)acc;
            }
}

#define AT(o, d, i) (((size_t)(o) * dim + (size_t)(d)) * inner + (i))

static void ref_sm(int log_, size_t outer, int dim, size_t inner, const float *x, float *y)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double m = -INFINITY, s = 0;
            for (int d = 0; d < dim; d++)
                if (x[AT(o, d, i)] > m) m = x[AT(o, d, i)];
            for (int d = 0; d < dim; d++) s += exp(x[AT(o, d, i)] - m);
            for (int d = 0; d < dim; d++)
                y[AT(o, d, i)] = (float)(log_ ? x[AT(o, d, i)] - m - log(s)
                                              : exp(x[AT(o, d, i)] - m) / s);
        }
}

void nnr_ref_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y)
{
    ref_sm(0, outer, dim, inner, x, y);
}

void nnr_ref_log_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y)
{
    ref_sm(1, outer, dim, inner, x, y);
}

void nnr_ref_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                  const float *dy, float *dx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0;
            for (int d = 0; d < dim; d++) s += (double)dy[AT(o, d, i)] * y[AT(o, d, i)];
            for (int d = 0; d < dim; d++)
                dx[AT(o, d, i)] = (float)(y[AT(o, d, i)] * (dy[AT(o, d, i)] - s));
        }
}

void nnr_ref_log_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                      const float *dy, float *dx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0;
            for (int d = 0; d < dim; d++) s += dy[AT(o, d, i)];
            for (int d = 0; d < dim; d++)
                dx[AT(o, d, i)] = (float)(dy[AT(o, d, i)] - exp((double)y[AT(o, d, i)]) * s);
        }
}

#define BN(i, ch, j) (((size_t)(i) * c + (size_t)(ch)) * spatial + (size_t)(j))

void nnr_ref_batchnorm_f32(int n, int c, int spatial, const float *x, const float *gamma,
                           const float *beta, const float *mean, const float *var,
                           float eps, float *y)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < spatial; j++) {
                double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
                y[BN(i, ch, j)] = (float)(((double)x[BN(i, ch, j)] - mean[ch]) /
                                              sqrt((double)var[ch] + eps) * g + b);
            }
}

void nnr_ref_batchnorm_train_f32(int n, int c, int spatial, const float *x,
                                 const float *gamma, const float *beta,
                                 float *running_mean, float *running_var, float eps,
                                 float momentum, float *save_mean, float *save_invstd,
                                 float *y)
{
    const double cnt = (double)n * spatial;
    for (int ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < spatial; j++) s += x[BN(i, ch, j)];
        double mean = s / cnt;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < spatial; j++)
                ss += (x[BN(i, ch, j)] - mean) * (x[BN(i, ch, j)] - mean);
        double var = ss / cnt, invstd = 1.0 / sqrt(var + eps);
        double uvar = cnt > 1 ? ss / (cnt - 1) : var;
        if (save_mean) save_mean[ch] = (float)mean;
        if (save_invstd) save_invstd[ch] = (float)invstd;
        if (running_mean) running_mean[ch] = (float)((1 - momentum) * (double)running_mean[ch] + momentum * mean);
        if (running_var) running_var[ch] = (float)((1 - momentum) * (double)running_var[ch] + momentum * uvar);
        double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < spatial; j++)
                y[BN(i, ch, j)] = (float)((x[BN(i, ch, j)] - mean) * invstd * g + b);
    }
}

void nnr_ref_batchnorm_backward_f32(int n, int c, int spatial, const float *x,
                                    const float *gamma, const float *save_mean,
                                    const float *save_invstd, const float *dy, float *dx,
                                    float *dgamma, float *dbeta)
{
    const double cnt = (double)n * spatial;
    for (int ch = 0; ch < c; ch++) {
        double mean = save_mean[ch], is = save_invstd[ch], g = gamma ? gamma[ch] : 1.0;
        double sdxh = 0, sdxh_xh = 0, sdy = 0, sdy_xh = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < spatial; j++) {
                double xh = (x[BN(i, ch, j)] - mean) * is, d = dy[BN(i, ch, j)];
                sdy += d;
                sdy_xh += d * xh;
                sdxh += d * g;
                sdxh_xh += d * g * xh;
            }
        if (dbeta) dbeta[ch] = (float)sdy;
        if (dgamma) dgamma[ch] = (float)sdy_xh;
        if (dx)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < spatial; j++) {
                    double xh = (x[BN(i, ch, j)] - mean) * is;
                    double dxh = dy[BN(i, ch, j)] * g;
                    dx[BN(i, ch, j)] = (float)(is / cnt * (cnt * dxh - sdxh - xh * sdxh_xh));
                }
    }
}
