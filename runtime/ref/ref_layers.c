/* ref_layers.c — naive references of the version-2 layer kernels:
 * conv_transpose2d by its definition (each input value scatters its
 * weights), adaptive average pooling, nearest upsampling and layer
 * normalisation, all with double accumulation. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

#define X4(p, i, c, y, x, C, H, W) (p)[(((size_t)(i) * (C) + (c)) * (H) + (y)) * (W) + (x)]

size_t nnr_ref_conv_transpose2d_scratch(const nnr_conv2d_shape *s)
{
    (void)s;
    return 0;
}

static int g_of(const nnr_conv2d_shape *s) { return s->groups > 0 ? s->groups : 1; }
static int dh_of(const nnr_conv2d_shape *s) { return s->dilation_h > 0 ? s->dilation_h : 1; }
static int dw_of(const nnr_conv2d_shape *s) { return s->dilation_w > 0 ? s->dilation_w : 1; }

/* Output position that input (iy, ix) reaches at tap (ki, kj); 0 outside. */
static int reach(const nnr_conv2d_shape *s, int iy, int ix, int ki, int kj, int *oy, int *ox)
{
    *oy = iy * s->stride_h - s->padding_h + ki * dh_of(s);
    *ox = ix * s->stride_w - s->padding_w + kj * dw_of(s);
    return *oy >= 0 && *oy < s->out_h && *ox >= 0 && *ox < s->out_w;
}

void nnr_ref_conv_transpose2d_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                  const float *w, const float *b, float *y, float *scratch)
{
    (void)scratch;
    const int cg = s->in_channels / g_of(s), og = s->out_channels / g_of(s);
    size_t len = (size_t)n * s->out_channels * s->out_h * s->out_w;
    double *acc = calloc(len ? len : 1, sizeof *acc);
    if (!acc) abort();
    for (int i = 0; i < n; i++)
        for (int c = 0; c < s->in_channels; c++)
            for (int iy = 0; iy < s->in_h; iy++)
                for (int ix = 0; ix < s->in_w; ix++)
                    for (int o = 0; o < og; o++)
                        for (int ki = 0; ki < s->kernel_h; ki++)
                            for (int kj = 0; kj < s->kernel_w; kj++) {
                                int oy, ox;
                                if (!reach(s, iy, ix, ki, kj, &oy, &ox)) continue;
                                X4(acc, i, c / cg * og + o, oy, ox, s->out_channels, s->out_h, s->out_w) +=
                                    (double)X4(x, i, c, iy, ix, s->in_channels, s->in_h, s->in_w) *
                                    X4(w, c, o, ki, kj, og, s->kernel_h, s->kernel_w);
                            }
    for (int i = 0; i < n; i++)
        for (int o = 0; o < s->out_channels; o++)
            for (int k = 0; k < s->out_h * s->out_w; k++) {
                size_t at = ((size_t)i * s->out_channels + o) * s->out_h * s->out_w + k;
                y[at] = (float)(acc[at] + (b ? b[o] : 0.0));
            }
    free(acc);
}

void nnr_ref_conv_transpose2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                           const float *w, const float *dy, float *dx,
                                           float *dw, float *db, float *scratch)
{
    (void)scratch;
    const int cg = s->in_channels / g_of(s), og = s->out_channels / g_of(s);
    if (db)
        for (int o = 0; o < s->out_channels; o++) {
            double a = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s->out_h * s->out_w; k++)
                    a += dy[((size_t)i * s->out_channels + o) * s->out_h * s->out_w + k];
            db[o] = (float)a;
        }
    if (dx)
        for (int i = 0; i < n; i++)
            for (int c = 0; c < s->in_channels; c++)
                for (int iy = 0; iy < s->in_h; iy++)
                    for (int ix = 0; ix < s->in_w; ix++) {
                        double a = 0;
                        for (int o = 0; o < og; o++)
                            for (int ki = 0; ki < s->kernel_h; ki++)
                                for (int kj = 0; kj < s->kernel_w; kj++) {
                                    int oy, ox;
                                    if (!reach(s, iy, ix, ki, kj, &oy, &ox)) continue;
                                    a += (double)X4(dy, i, c / cg * og + o, oy, ox, s->out_channels, s->out_h, s->out_w) *
                                         X4(w, c, o, ki, kj, og, s->kernel_h, s->kernel_w);
                                }
                        X4(dx, i, c, iy, ix, s->in_channels, s->in_h, s->in_w) = (float)a;
                    }
    if (dw)
        for (int c = 0; c < s->in_channels; c++)
            for (int o = 0; o < og; o++)
                for (int ki = 0; ki < s->kernel_h; ki++)
                    for (int kj = 0; kj < s->kernel_w; kj++) {
                        double a = 0;
                        for (int i = 0; i < n; i++)
                            for (int iy = 0; iy < s->in_h; iy++)
                                for (int ix = 0; ix < s->in_w; ix++) {
                                    int oy, ox;
                                    if (!reach(s, iy, ix, ki, kj, &oy, &ox)) continue;
                                    a += (double)X4(dy, i, c / cg * og + o, oy, ox, s->out_channels, s->out_h, s->out_w) *
                                         X4(x, i, c, iy, ix, s->in_channels, s->in_h, s->in_w);
                                }
                        X4(dw, c, o, ki, kj, og, s->kernel_h, s->kernel_w) = (float)a;
                    }
}

void nnr_ref_adaptive_avgpool2d_f32(int n, int c, int h, int w, int oh, int ow, const float *x,
                                    float *y)
{
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int y0 = (int)floor((double)oy * h / oh), y1 = (int)ceil((double)(oy + 1) * h / oh);
                int x0 = (int)floor((double)ox * w / ow), x1 = (int)ceil((double)(ox + 1) * w / ow);
                double a = 0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) a += x[((size_t)p * h + iy) * w + ix];
                y[((size_t)p * oh + oy) * ow + ox] = (float)(a / ((y1 - y0) * (x1 - x0)));
            }
}

void nnr_ref_adaptive_avgpool2d_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                             const float *dy, float *dx)
{
    for (int p = 0; p < n * c; p++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++) {
                double a = 0;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        int y0 = (int)floor((double)oy * h / oh), y1 = (int)ceil((double)(oy + 1) * h / oh);
                        int x0 = (int)floor((double)ox * w / ow), x1 = (int)ceil((double)(ox + 1) * w / ow);
                        if (iy >= y0 && iy < y1 && ix >= x0 && ix < x1)
                            a += dy[((size_t)p * oh + oy) * ow + ox] / ((double)(y1 - y0) * (x1 - x0));
                    }
                dx[((size_t)p * h + iy) * w + ix] = (float)a;
            }
}

/* PyTorch's nearest source index (ATen nearest_idx). */
static int src_of(int o, int in, int out, float r)
{
    if (out == in) return o;
    if (out == 2 * in) return o / 2;
    long s = (long)floorf((float)o * r);
    return s < in - 1 ? (int)s : in - 1;
}

void nnr_ref_upsample_nearest_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                  float rw, const float *x, float *y)
{
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                y[((size_t)p * oh + oy) * ow + ox] =
                    x[((size_t)p * h + src_of(oy, h, oh, rh)) * w + src_of(ox, w, ow, rw)];
}

void nnr_ref_upsample_nearest_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                           float rh, float rw, const float *dy, float *dx)
{
    for (int p = 0; p < n * c; p++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++) {
                double a = 0;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        if (src_of(oy, h, oh, rh) == iy && src_of(ox, w, ow, rw) == ix)
                            a += dy[((size_t)p * oh + oy) * ow + ox];
                dx[((size_t)p * h + iy) * w + ix] = (float)a;
            }
}

/* Bilinear as a tent: the weight of input index i in output index o is
 * max(0, 1 - |s - i|), s PyTorch's source coordinate (float) within
 * [0, in - 1]; an unchanged size copies. */
static double tent(int o, int i, int in, int out, float r, int align)
{
    float s = in == out ? (float)o : align ? r * (float)o : r * ((float)o + 0.5f) - 0.5f;
    double t = s < 0 ? 0 : s > in - 1 ? in - 1 : s;
    double wgt = 1 - fabs(t - i);
    return wgt > 0 ? wgt : 0;
}

void nnr_ref_upsample_linear_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                                 int align, const float *x, float *y)
{
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double a = 0;
                for (int iy = 0; iy < h; iy++)
                    for (int ix = 0; ix < w; ix++)
                        a += tent(oy, iy, h, oh, rh, align) * tent(ox, ix, w, ow, rw, align) *
                             x[((size_t)p * h + iy) * w + ix];
                y[((size_t)p * oh + oy) * ow + ox] = (float)a;
            }
}

void nnr_ref_upsample_linear_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                          float rw, int align, const float *dy, float *dx)
{
    for (int p = 0; p < n * c; p++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++) {
                double a = 0;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        a += tent(oy, iy, h, oh, rh, align) * tent(ox, ix, w, ow, rw, align) *
                             dy[((size_t)p * oh + oy) * ow + ox];
                dx[((size_t)p * h + iy) * w + ix] = (float)a;
            }
}

static void ref_stats(int d, const float *x, float eps, double *mean, double *rstd)
{
    double s = 0, q = 0;
    for (int j = 0; j < d; j++) s += x[j];
    *mean = s / d;
    for (int j = 0; j < d; j++) q += (x[j] - *mean) * (x[j] - *mean);
    *rstd = 1.0 / sqrt(q / d + eps);
}

void nnr_ref_layernorm_f32(size_t rows, int d, const float *x, const float *w, const float *b,
                           float eps, float *y)
{
    nnr_ref_layernorm_train_f32(rows, d, x, w, b, eps, NULL, NULL, y);
}

void nnr_ref_layernorm_train_f32(size_t rows, int d, const float *x, const float *w,
                                 const float *b, float eps, float *save_mean,
                                 float *save_rstd, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        double m, rs;
        ref_stats(d, x + r * d, eps, &m, &rs);
        if (save_mean) save_mean[r] = (float)m;
        if (save_rstd) save_rstd[r] = (float)rs;
        for (int j = 0; j < d; j++)
            y[r * d + j] = (float)((x[r * d + j] - m) * rs * (w ? w[j] : 1.0) + (b ? b[j] : 0.0));
    }
}

/* By the chain rule on the definition, in double: the mean from x, 1/std
 * from save_rstd (the signature carries no eps); save_mean unused. */
void nnr_ref_layernorm_backward_f32(size_t rows, int d, const float *x, const float *w,
                                    const float *save_mean, const float *save_rstd,
                                    const float *dy, float *dx, float *dw, float *db)
{
    (void)save_mean;
    double *gw = calloc((size_t)d, sizeof *gw), *gb = calloc((size_t)d, sizeof *gb);
    if (!gw || !gb) abort();
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * d, *gr = dy + r * d;
        double m = 0, rs = save_rstd[r], sg = 0, sgx = 0;
        for (int j = 0; j < d; j++) m += xr[j];
        m /= d;
        for (int j = 0; j < d; j++) {
            double xh = (xr[j] - m) * rs, g = gr[j] * (w ? w[j] : 1.0);
            sg += g;
            sgx += g * xh;
            gw[j] += gr[j] * xh;
            gb[j] += gr[j];
        }
        if (dx)
            for (int j = 0; j < d; j++) {
                double xh = (xr[j] - m) * rs, g = gr[j] * (w ? w[j] : 1.0);
                dx[r * d + j] = (float)(rs * (g - sg / d - xh * sgx / d));
            }
    }
    for (int j = 0; j < d; j++) {
        if (dw) dw[j] = (float)gw[j];
        if (db) db[j] = (float)gb[j];
    }
    free(gw);
    free(gb);
}
