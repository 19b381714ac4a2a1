/* reduce.c — sum and mean of one sample over a set of its axes, and their
 * backward (the output gradient spread over the reduced elements).
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

void nnr_reduce_f32(int mean, int n, const nnr_reduce_shape *s, const float *x, float *y)
{
    Red R;
    red_init(s, &R);
    for (int q = 0; q < n; q++) {
        const float *px = x + (size_t)q * R.numel;
        for (size_t i0 = 0; i0 < R.k[0]; i0++)
            for (size_t i1 = 0; i1 < R.k[1]; i1++)
                for (size_t i2 = 0; i2 < R.k[2]; i2++)
                    for (size_t i3 = 0; i3 < R.k[3]; i3++) {
                        const float *b = px + i0 * R.st[0] + i1 * R.st[1] + i2 * R.st[2] + i3;
                        double acc = 0;
                        for (size_t j0 = 0; j0 < R.r[0]; j0++)
                            for (size_t j1 = 0; j1 < R.r[1]; j1++)
                                for (size_t j2 = 0; j2 < R.r[2]; j2++) {
                                    const float *c = b + j0 * R.st[0] + j1 * R.st[1] + j2 * R.st[2];
                                    for (size_t j3 = 0; j3 < R.r[3]; j3++)
                                        acc += c[j3];
                                }
                        *y++ = (float)(mean ? acc / (double)R.count : acc);
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
