/* reduce.c — sum, mean, max and min of one sample over a set of its axes,
 * and their backward (the output gradient spread over the reduced
 * elements; for max and min, shared by the elements equal to the result,
 * as torch.amax).
 * Each output element is accumulated in double over its reduced
 * elements in row-major order, then rounded once (mean: divided first). */
#include <stddef.h>

#include "../nnr.h"

/* Sizes and strides of a sample's axes; kept (k) and reduced (r) extents. */
typedef struct Red {
    size_t st[4], k[4], r[4], numel, count;
} Red;

static void red_init(const nnr_reduce_shape *s, Red *R)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    R->st[3] = 1;
    for (int j = 2; j >= 0; j--)
        R->st[j] = R->st[j + 1] * (size_t)d[j + 1];
    R->numel = R->st[0] * (size_t)d[0];
    R->count = 1;
    for (int j = 0; j < 4; j++) {
        int red = (s->mask >> j) & 1;
        R->k[j] = red ? 1 : (size_t)d[j];
        R->r[j] = red ? (size_t)d[j] : 1;
        R->count *= R->r[j];
    }
}

/* One output element: its reduced elements from b, in row-major order. */
static float red_one(int kind, const float *b, const Red *R)
{
    double acc = 0;
    float m = b[0];
    for (size_t j0 = 0; j0 < R->r[0]; j0++)
        for (size_t j1 = 0; j1 < R->r[1]; j1++)
            for (size_t j2 = 0; j2 < R->r[2]; j2++) {
                const float *c = b + j0 * R->st[0] + j1 * R->st[1] + j2 * R->st[2];
                if (kind == NNR_REDUCE_MAX || kind == NNR_REDUCE_MIN) {
                    for (size_t j3 = 0; j3 < R->r[3]; j3++)   /* NaN wins, as torch.amax */
                        if (m == m && (c[j3] != c[j3] || (kind == NNR_REDUCE_MAX ? c[j3] > m
                                                                                 : c[j3] < m)))
                            m = c[j3];
                } else {
                    for (size_t j3 = 0; j3 < R->r[3]; j3++)
                        acc += c[j3];
                }
            }
    if (kind == NNR_REDUCE_MAX || kind == NNR_REDUCE_MIN)
        return m;
    return (float)(kind == NNR_REDUCE_MEAN ? acc / (double)R->count : acc);
}

void nnr_reduce_f32(int kind, int n, const nnr_reduce_shape *s, const float *x, float *y)
{
    Red R;
    red_init(s, &R);
    for (int q = 0; q < n; q++) {
        const float *px = x + (size_t)q * R.numel;
        for (size_t i0 = 0; i0 < R.k[0]; i0++)
            for (size_t i1 = 0; i1 < R.k[1]; i1++)
                for (size_t i2 = 0; i2 < R.k[2]; i2++)
                    for (size_t i3 = 0; i3 < R.k[3]; i3++)
                        *y++ = red_one(kind, px + i0 * R.st[0] + i1 * R.st[1] + i2 * R.st[2] + i3,
                                       &R);
    }
}

void nnr_reduce_extreme_backward_f32(int n, const nnr_reduce_shape *s, const float *x,
                                     const float *y, const float *dy, float *dx)
{
    Red R;
    red_init(s, &R);
    size_t on = R.numel / R.count;
    for (int q = 0; q < n; q++) {
        const float *px = x + (size_t)q * R.numel;
        float *pd = dx + (size_t)q * R.numel;
        const float *py = y + (size_t)q * on, *pg = dy + (size_t)q * on;
        size_t o = 0;
        for (size_t i0 = 0; i0 < R.k[0]; i0++)
            for (size_t i1 = 0; i1 < R.k[1]; i1++)
                for (size_t i2 = 0; i2 < R.k[2]; i2++)
                    for (size_t i3 = 0; i3 < R.k[3]; i3++, o++) {
                        size_t b = i0 * R.st[0] + i1 * R.st[1] + i2 * R.st[2] + i3, ties = 0;
                        for (int pass = 0; pass < 2; pass++)
                            for (size_t j = 0; j < R.count; j++) {
                                size_t j3 = j % R.r[3], j2 = j / R.r[3] % R.r[2],
                                       j1 = j / R.r[3] / R.r[2] % R.r[1],
                                       j0 = j / R.r[3] / R.r[2] / R.r[1];
                                size_t at = b + j0 * R.st[0] + j1 * R.st[1] + j2 * R.st[2] + j3;
                                int hit = px[at] == py[o];
                                if (pass == 0)
                                    ties += (size_t)hit;
                                else
                                    pd[at] = hit ? (float)((double)pg[o] / (double)ties) : 0.0f;
                            }
                    }
    }
}

void nnr_reduce_backward_f32(int mean, int n, const nnr_reduce_shape *s, const float *dy,
                             float *dx)
{
    Red R;
    red_init(s, &R);
    for (int q = 0; q < n; q++) {
        float *px = dx + (size_t)q * R.numel;
        for (size_t i0 = 0; i0 < R.k[0]; i0++)
            for (size_t i1 = 0; i1 < R.k[1]; i1++)
                for (size_t i2 = 0; i2 < R.k[2]; i2++)
                    for (size_t i3 = 0; i3 < R.k[3]; i3++) {
                        float *b = px + i0 * R.st[0] + i1 * R.st[1] + i2 * R.st[2] + i3;
                        float g = mean ? (float)((double)*dy / (double)R.count) : *dy;
                        dy++;
                        for (size_t j0 = 0; j0 < R.r[0]; j0++)
                            for (size_t j1 = 0; j1 < R.r[1]; j1++)
                                for (size_t j2 = 0; j2 < R.r[2]; j2++) {
                                    float *c = b + j0 * R.st[0] + j1 * R.st[1] + j2 * R.st[2];
                                    for (size_t j3 = 0; j3 < R.r[3]; j3++)
                                        c[j3] = g;
                                }
                    }
    }
}
