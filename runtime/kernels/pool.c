/* pool.c — 2-D max and average pooling (NCHW) and their backward, PyTorch
 * semantics: max pooling treats padding as -inf, lets the first maximum in
 * row-major window order win and propagates NaN (the last NaN wins, as
 * PyTorch's update rule `v > max || isnan(v)` does); average pooling uses
 * count_include_pad = True (divisor = window clipped to the padded input). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../nnr.h"

/* Index (within the plane) of the window's maximum, or -1 if the window
 * holds no input element; *out receives the value (-inf for none). */
static ptrdiff_t window_argmax(const nnr_pool2d_shape *s, const float *xp, int oy, int ox,
                               float *out)
{
    int y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
    int y1 = y0 + s->kh, x1 = x0 + s->kw;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > s->h) y1 = s->h;
    if (x1 > s->w) x1 = s->w;
    float m = -INFINITY;
    ptrdiff_t arg = (y0 < y1 && x0 < x1) ? (ptrdiff_t)y0 * s->w + x0 : -1;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            ptrdiff_t j = (ptrdiff_t)iy * s->w + ix;
            float v = xp[j];
            if (v > m || isnan(v)) { /* exactly PyTorch's update rule */
                m = v;
                arg = j;
            }
        }
    *out = m;
    return arg;
}

void nnr_maxpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        float *yp = y + p * on;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                window_argmax(s, xp, oy, ox, &yp[(size_t)oy * s->ow + ox]);
    }
}

void nnr_maxpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *x,
                                const float *dy, float *dx)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    memset(dx, 0, planes * in * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        const float *dyp = dy + p * on;
        float *dxp = dx + p * in;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                float m;
                ptrdiff_t j = window_argmax(s, xp, oy, ox, &m);
                if (j >= 0) dxp[j] += dyp[(size_t)oy * s->ow + ox];
            }
    }
}

/* Window of output (oy, ox) clipped to the input, and PyTorch's divisor. */
static int avg_window(const nnr_pool2d_shape *s, int oy, int ox, int *y0, int *y1, int *x0,
                      int *x1)
{
    int hs = oy * s->sh - s->ph, ws = ox * s->sw - s->pw;
    int he = hs + s->kh, we = ws + s->kw;
    if (he > s->h + s->ph) he = s->h + s->ph;
    if (we > s->w + s->pw) we = s->w + s->pw;
    int div = (he - hs) * (we - ws);
    *y0 = hs < 0 ? 0 : hs;
    *x0 = ws < 0 ? 0 : ws;
    *y1 = he > s->h ? s->h : he;
    *x1 = we > s->w ? s->w : we;
    return div;
}

void nnr_avgpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        float *yp = y + p * on;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                int div = avg_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float acc = 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) acc += xp[(size_t)iy * s->w + ix];
                yp[(size_t)oy * s->ow + ox] = acc / (float)div;
            }
    }
}

void nnr_avgpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *dy,
                                float *dx)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    memset(dx, 0, planes * in * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        const float *dyp = dy + p * on;
        float *dxp = dx + p * in;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                int div = avg_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float g = dyp[(size_t)oy * s->ow + ox] / (float)div;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) dxp[(size_t)iy * s->w + ix] += g;
            }
    }
}
