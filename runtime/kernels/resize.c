/* resize.c — adaptive average pooling (PyTorch adaptive_avg_pool2d: each
 * output cell averages its window [floor(i·in/out), ceil((i+1)·in/out))) and
 * nearest and (bi)linear upsampling (PyTorch Upsample(mode = "nearest",
 * "linear", "bilinear"), align_corners either way), with their backward
 * passes. Planes are [h, w]; a sample is c planes. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../nnr.h"

static int win_start(int i, int in, int out) { return (int)(((long long)i * in) / out); }
static int win_end(int i, int in, int out)
{
    return (int)(((long long)(i + 1) * in + out - 1) / out);
}

void nnr_adaptive_avgpool2d_f32(int n, int c, int h, int w, int oh, int ow, const float *x,
                                float *y)
{
    const size_t planes = (size_t)n * c;
    size_t p = 0;
    if (oh == 1 && ow == 1) { /* global: a plane's sum in index order, as below, but 8 planes
                               * side by side (one chain of adds is one add's latency an input) */
        const size_t hw = (size_t)h * w;
        const float div = (float)(h * w);
        for (; p + 8 <= planes; p += 8) {
            float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            for (size_t i = 0; i < hw; i++)
                for (int j = 0; j < 8; j++) acc[j] += x[(p + j) * hw + i];
            for (int j = 0; j < 8; j++) y[p + j] = acc[j] / div;
        }
    }
    for (; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = win_start(oy, h, oh), y1 = win_end(oy, h, oh);
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = win_start(ox, w, ow), x1 = win_end(ox, w, ow);
                float acc = 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) acc += xp[(size_t)iy * w + ix];
                yp[(size_t)oy * ow + ox] = acc / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
}

void nnr_adaptive_avgpool2d_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                         const float *dy, float *dx)
{
    const size_t planes = (size_t)n * c;
    memset(dx, 0, planes * h * w * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        float *xp = dx + p * h * w;
        const float *yp = dy + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = win_start(oy, h, oh), y1 = win_end(oy, h, oh);
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = win_start(ox, w, ow), x1 = win_end(ox, w, ow);
                const float g = yp[(size_t)oy * ow + ox] / (float)((y1 - y0) * (x1 - x0));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) xp[(size_t)iy * w + ix] += g;
            }
        }
    }
}

/* PyTorch's nearest_idx: the source index of output index o. */
static int nearest_src(int o, int in, int out, float r)
{
    if (out == in) return o;
    if (out == 2 * in) return o >> 1;
    int s = (int)floorf((float)o * r);
    return s < in - 1 ? s : in - 1;
}

void nnr_upsample_nearest_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                              const float *x, float *y)
{
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *xr = xp + (size_t)nearest_src(oy, h, oh, rh) * w;
            float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) yr[ox] = xr[nearest_src(ox, w, ow, rw)];
        }
    }
}

void nnr_upsample_nearest_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                       float rw, const float *dy, float *dx)
{
    const size_t planes = (size_t)n * c;
    memset(dx, 0, planes * h * w * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        float *xp = dx + p * h * w;
        const float *yp = dy + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            float *xr = xp + (size_t)nearest_src(oy, h, oh, rh) * w;
            const float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) xr[nearest_src(ox, w, ow, rw)] += yr[ox];
        }
    }
}

/* PyTorch's linear source (ATen compute_source_index_and_lambda): output
 * index o reads i0 and i1 = i0 + 1 (i0 at the edge) with weights 1 - l, l;
 * the source coordinate is r·o (align_corners) or r·(o + 0.5) - 0.5,
 * at least 0, in float. */
static void linear_src(int o, int in, int out, float r, int align, int *i0, int *i1, float *l)
{
    if (in == out) {
        *i0 = *i1 = o, *l = 0;
        return;
    }
    float s = align ? r * (float)o : r * ((float)o + 0.5f) - 0.5f;
    s = s < 0 ? 0 : s;
    int i = (int)floorf(s);
    i = i < in - 1 ? i : in - 1;
    float f = s - (float)i;
    *l = f < 0 ? 0 : f > 1 ? 1 : f;
    *i0 = i;
    *i1 = i + (i < in - 1);
}

void nnr_upsample_linear_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                             int align, const float *x, float *y)
{
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            float ly;
            linear_src(oy, h, oh, rh, align, &y0, &y1, &ly);
            const float *r0 = xp + (size_t)y0 * w, *r1 = xp + (size_t)y1 * w;
            float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                float lx;
                linear_src(ox, w, ow, rw, align, &x0, &x1, &lx);
                yr[ox] = (1 - ly) * ((1 - lx) * r0[x0] + lx * r0[x1]) +
                         ly * ((1 - lx) * r1[x0] + lx * r1[x1]);
            }
        }
    }
}

void nnr_upsample_linear_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                      float rw, int align, const float *dy, float *dx)
{
    const size_t planes = (size_t)n * c;
    memset(dx, 0, planes * h * w * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        float *xp = dx + p * h * w;
        const float *yp = dy + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            float ly;
            linear_src(oy, h, oh, rh, align, &y0, &y1, &ly);
            float *r0 = xp + (size_t)y0 * w, *r1 = xp + (size_t)y1 * w;
            const float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                float lx;
                linear_src(ox, w, ow, rw, align, &x0, &x1, &lx);
                const float g = yr[ox];
                r0[x0] += (1 - ly) * (1 - lx) * g;
                r0[x1] += (1 - ly) * lx * g;
                r1[x0] += ly * (1 - lx) * g;
                r1[x1] += ly * lx * g;
            }
        }
    }
}
