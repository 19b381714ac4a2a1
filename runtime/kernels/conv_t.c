/* conv_t.c — transposed 2-D convolution (PyTorch ConvTranspose2d, NCHW,
 * weight [c, oc/groups, kh, kw]) as the adjoint of the convolution that
 * maps its output back to its input: per sample and group, col = W_gᵀ·x_g
 * then col2im into y (then the bias); backward dx_g = W_g·im2col(dy_g),
 * dW_g += x_g·im2col(dy_g)ᵀ, db = Σ dy. One sample at a time through a
 * scratch of nnr_kern_conv_transpose2d_scratch() floats (the column matrix). */
#include <stddef.h>
#include <string.h>

#include "kern.h"

/* The convolution of one group whose adjoint s is: it reads the transposed
 * convolution's output (oc/groups channels, oh x ow) and gives its input
 * (c/groups channels, h x w). */
static nnr_kconv adjoint_shape(const nnr_kconv *s, int *groups)
{
    int g = s->groups > 0 ? s->groups : 1;
    nnr_kconv a = {s->oc / g, s->oh, s->ow, s->c / g, s->kh, s->kw, s->sh, s->sw,
                          s->ph, s->pw, s->h, s->w, s->dh > 0 ? s->dh : 1,
                          s->dw > 0 ? s->dw : 1, 1};
    *groups = g;
    return a;
}

size_t nnr_kern_conv_transpose2d_scratch(const nnr_kconv *s)
{
    int g;
    nnr_kconv a = adjoint_shape(s, &g);
    size_t sz = (size_t)a.c * a.kh * a.kw * (size_t)a.oh * a.ow;
    return sz ? sz : 1;
}

void nnr_kern_conv_transpose2d_f32(int n, const nnr_kconv *s, const float *x,
                              const float *w, const float *b, float *y, float *scratch)
{
    int G;
    const nnr_kconv a = adjoint_shape(s, &G);
    const int kg = a.c * a.kh * a.kw, hw = s->h * s->w, ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * hw, ys = (size_t)s->oc * ohw;
    for (int i = 0; i < n; i++) {
        for (int gi = 0; gi < G; gi++) {
            /* col [kg, h·w] = W_gᵀ [kg, c/g] · x_g [c/g, h·w] */
            nnr_gemm_f32(1, 0, kg, hw, a.oc, w + (size_t)gi * a.oc * kg, kg,
                         x + i * xs + (size_t)gi * a.oc * hw, hw, scratch, hw, 0);
            nnr_kern_col2im_f32(&a, scratch, y + i * ys + (size_t)gi * a.c * ohw);
        }
        if (b)
            for (int o = 0; o < s->oc; o++) {
                float *yo = y + i * ys + (size_t)o * ohw;
                for (int j = 0; j < ohw; j++) yo[j] += b[o];
            }
    }
}

void nnr_kern_conv_transpose2d_backward_f32(int n, const nnr_kconv *s, const float *x,
                                       const float *w, const float *dy, float *dx,
                                       float *dw, float *db, float *scratch)
{
    int G;
    const nnr_kconv a = adjoint_shape(s, &G);
    const int kg = a.c * a.kh * a.kw, hw = s->h * s->w, ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * hw, ys = (size_t)s->oc * ohw, wg = (size_t)a.oc * kg;
    if (dw && n <= 0) memset(dw, 0, (size_t)s->c * kg * sizeof *dw);
    if (db) {
        memset(db, 0, (size_t)s->oc * sizeof *db);
        for (int i = 0; i < n; i++)
            for (int o = 0; o < s->oc; o++) {
                const float *r = dy + i * ys + (size_t)o * ohw;
                float acc = 0.0f;
                for (int j = 0; j < ohw; j++) acc += r[j];
                db[o] += acc;
            }
    }
    if (!dx && !dw) return;
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < G; gi++) {
            nnr_kern_im2col_f32(&a, dy + i * ys + (size_t)gi * a.c * ohw, scratch);
            const size_t xo = i * xs + (size_t)gi * a.oc * hw;
            if (dx) /* dx_g [c/g, h·w] = W_g [c/g, kg] · col [kg, h·w] */
                nnr_gemm_f32(0, 0, a.oc, hw, kg, w + gi * wg, kg, scratch, hw, dx + xo, hw, 0);
            if (dw) /* dW_g [c/g, kg] (+)= x_g [c/g, h·w] · colᵀ */
                nnr_gemm_f32(0, 1, a.oc, kg, hw, x + xo, hw, scratch, hw, dw + gi * wg, kg, i > 0);
        }
}
