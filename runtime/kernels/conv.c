/* conv.c — 2-D convolution (NCHW, weight [oc, c, kh, kw]) by im2col + GEMM,
 * one sample at a time through a caller-provided scratch of
 * nnr_conv2d_scratch() floats; bias and activation are fused into the GEMM
 * epilogue. A 1x1, stride-1, unpadded convolution skips im2col. Backward:
 * dW += dy_s·colᵀ, dcol = Wᵀ·dy_s then col2im (the same scratch), db = Σ dy. */
#include <stddef.h>
#include <string.h>

#include "kern.h"

static int pointwise(const nnr_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 &&
           s->pw == 0 && s->oh == s->h && s->ow == s->w;
}

size_t nnr_conv2d_scratch(const nnr_conv2d_shape *s)
{
    size_t k = (size_t)s->c * (size_t)s->kh * (size_t)s->kw;
    size_t sz = k * (size_t)s->oh * (size_t)s->ow;
    return sz ? sz : 1;
}

/* im2col of a stride-1 convolution whose output rows are as wide as the
 * input's (ow == w: "same" padding): the block of each (ci, ki, kj) is the
 * input plane shifted by (ki - ph) rows and kj - pw columns, so it is one
 * contiguous copy, then zeros on the rows and edge columns that fall in the
 * padding (a shifted copy wraps the neighbouring row's ends into them). */
static void im2col_same(const nnr_conv2d_shape *s, const float *x, float *col)
{
    const int ow = s->ow, oh = s->oh, ohw = oh * ow;
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                float *d = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * (size_t)ohw;
                const float *xc = x + (size_t)ci * s->h * s->w;
                const int dy = ki - s->ph, dx = kj - s->pw;
                int y0 = dy < 0 ? -dy : 0, y1 = s->h - dy < oh ? s->h - dy : oh;
                if (y1 < y0) y1 = y0;
                memset(d, 0, (size_t)y0 * ow * sizeof *d);
                memset(d + (size_t)y1 * ow, 0, (size_t)(oh - y1) * ow * sizeof *d);
                if (y1 == y0) continue;
                /* d[i] = xc[i + dy*w + dx] for i in [y0*ow, y1*ow), minus the
                 * edge columns (they would read outside the plane) */
                size_t lo = (size_t)y0 * ow + (dx < 0 ? (size_t)-dx : 0);
                size_t hi = (size_t)y1 * ow - (dx > 0 ? (size_t)dx : 0);
                if (hi > lo)
                    memcpy(d + lo, xc + (ptrdiff_t)lo + (ptrdiff_t)dy * s->w + dx,
                           (hi - lo) * sizeof *d);
                if (dx != 0)
                    for (int oy = y0; oy < y1; oy++) {
                        float *r = d + (size_t)oy * ow;
                        if (dx < 0)
                            for (int ox = 0; ox < -dx && ox < ow; ox++) r[ox] = 0.0f;
                        else
                            for (int ox = ow - dx < 0 ? 0 : ow - dx; ox < ow; ox++) r[ox] = 0.0f;
                    }
            }
}

/* col[(ci*kh + ki)*kw + kj][oy*ow + ox] = x[ci][oy*sh - ph + ki][ox*sw - pw + kj] or 0 */
static void im2col(const nnr_conv2d_shape *s, const float *x, float *col)
{
    const int ohw = s->oh * s->ow;
    if (s->sh == 1 && s->sw == 1 && s->ow == s->w) {
        im2col_same(s, x, col);
        return;
    }
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                float *d = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * (size_t)ohw;
                const float *xc = x + (size_t)ci * s->h * s->w;
                for (int oy = 0; oy < s->oh; oy++) {
                    float *dr = d + (size_t)oy * s->ow;
                    int iy = oy * s->sh - s->ph + ki;
                    if (iy < 0 || iy >= s->h) {
                        memset(dr, 0, (size_t)s->ow * sizeof *dr);
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * s->w;
                    int ix = kj - s->pw;
                    if (s->sw == 1) {
                        int ox = 0;
                        for (; ox < s->ow && ix + ox < 0; ox++) dr[ox] = 0.0f;
                        int hi = s->w - ix; /* ox < hi keeps ix + ox < w */
                        if (hi > s->ow) hi = s->ow;
                        if (hi > ox) {
                            memcpy(dr + ox, xr + ix + ox, (size_t)(hi - ox) * sizeof *dr);
                            ox = hi;
                        }
                        for (; ox < s->ow; ox++) dr[ox] = 0.0f;
                    } else {
                        for (int ox = 0; ox < s->ow; ox++, ix += s->sw)
                            dr[ox] = (ix >= 0 && ix < s->w) ? xr[ix] : 0.0f;
                    }
                }
            }
}

/* dx[ci][iy][ix] = Σ col entries that im2col read from there (dx zeroed first). */
static void col2im(const nnr_conv2d_shape *s, const float *col, float *dx)
{
    const int ohw = s->oh * s->ow;
    memset(dx, 0, (size_t)s->c * s->h * s->w * sizeof *dx);
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                const float *d = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * (size_t)ohw;
                float *xc = dx + (size_t)ci * s->h * s->w;
                for (int oy = 0; oy < s->oh; oy++) {
                    int iy = oy * s->sh - s->ph + ki;
                    if (iy < 0 || iy >= s->h) continue;
                    const float *dr = d + (size_t)oy * s->ow;
                    float *xr = xc + (size_t)iy * s->w;
                    int ix = kj - s->pw;
                    for (int ox = 0; ox < s->ow; ox++, ix += s->sw)
                        if (ix >= 0 && ix < s->w) xr[ix] += dr[ox];
                }
            }
}

void nnr_conv2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param,
                    float *scratch)
{
    const int k = s->c * s->kh * s->kw;
    const int ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * ohw;
    const int pw = pointwise(s);
    for (int i = 0; i < n; i++) {
        const float *col = x + i * xs;
        if (!pw) {
            im2col(s, x + i * xs, scratch);
            col = scratch;
        }
        nnr_gemm_ex_f32(0, 0, s->oc, ohw, k, w, k, col, ohw, y + i * ys, ohw, 0, b, NULL,
                        act, act_param);
    }
}

void nnr_conv2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                             const float *w, const float *dy, float *dx, float *dw,
                             float *db, float *scratch)
{
    const int k = s->c * s->kh * s->kw;
    const int ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * ohw;
    const int pw = pointwise(s);
    if (dw && n <= 0) memset(dw, 0, (size_t)s->oc * k * sizeof *dw);
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
    for (int i = 0; i < n; i++) {
        const float *dys = dy + i * ys;
        if (dw) {
            const float *col = x + i * xs;
            if (!pw) {
                im2col(s, x + i * xs, scratch);
                col = scratch;
            }
            nnr_gemm_f32(0, 1, s->oc, k, ohw, dys, ohw, col, ohw, dw, k, i > 0);
        }
        if (dx) {
            if (pw) {
                nnr_gemm_f32(1, 0, k, ohw, s->oc, w, k, dys, ohw, dx + i * xs, ohw, 0);
            } else {
                nnr_gemm_f32(1, 0, k, ohw, s->oc, w, k, dys, ohw, scratch, ohw, 0);
                col2im(s, scratch, dx + i * xs);
            }
        }
    }
}
