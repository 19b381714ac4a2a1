/* softmax.c — softmax and log_softmax over the middle axis of [outer, dim,
 * inner] (max subtracted for stability) and their backward. inner == 1 runs
 * along contiguous rows; inner > 1 works on chunks of the inner axis so that
 * every loop is contiguous. */
#include <math.h>
#include <stddef.h>

#include "../nnr.h"

#define CHUNK 64

static void fwd(int log, size_t outer, int dim, size_t inner, const float *x, float *y)
{
    if (dim <= 0) return;
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * (size_t)dim * inner;
        float *yo = y + o * (size_t)dim * inner;
        for (size_t i0 = 0; i0 < inner; i0 += CHUNK) {
            size_t nc = inner - i0 < CHUNK ? inner - i0 : CHUNK;
            float mx[CHUNK], sum[CHUNK];
            for (size_t j = 0; j < nc; j++) {
                mx[j] = -INFINITY;
                sum[j] = 0.0f;
            }
            for (int d = 0; d < dim; d++) {
                const float *r = xo + (size_t)d * inner + i0;
                for (size_t j = 0; j < nc; j++)
                    if (r[j] > mx[j] || isnan(r[j])) mx[j] = r[j];
            }
            for (int d = 0; d < dim; d++) {
                const float *r = xo + (size_t)d * inner + i0;
                float *w = yo + (size_t)d * inner + i0;
                if (log) {
                    for (size_t j = 0; j < nc; j++) sum[j] += expf(r[j] - mx[j]);
                } else {
                    for (size_t j = 0; j < nc; j++) {
                        float e = expf(r[j] - mx[j]);
                        w[j] = e;
                        sum[j] += e;
                    }
                }
            }
            if (log) {
                for (size_t j = 0; j < nc; j++) sum[j] = logf(sum[j]);
                for (int d = 0; d < dim; d++) {
                    const float *r = xo + (size_t)d * inner + i0;
                    float *w = yo + (size_t)d * inner + i0;
                    for (size_t j = 0; j < nc; j++) w[j] = r[j] - mx[j] - sum[j];
                }
            } else {
                for (size_t j = 0; j < nc; j++) sum[j] = 1.0f / sum[j];
                for (int d = 0; d < dim; d++) {
                    float *w = yo + (size_t)d * inner + i0;
                    for (size_t j = 0; j < nc; j++) w[j] *= sum[j];
                }
            }
        }
    }
}

void nnr_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y)
{
    fwd(0, outer, dim, inner, x, y);
}

void nnr_log_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y)
{
    fwd(1, outer, dim, inner, x, y);
}

static void bwd(int log, size_t outer, int dim, size_t inner, const float *y,
                const float *dy, float *dx)
{
    for (size_t o = 0; o < outer; o++) {
        size_t base = o * (size_t)dim * inner;
        for (size_t i0 = 0; i0 < inner; i0 += CHUNK) {
            size_t nc = inner - i0 < CHUNK ? inner - i0 : CHUNK;
            float s[CHUNK];
            for (size_t j = 0; j < nc; j++) s[j] = 0.0f;
            for (int d = 0; d < dim; d++) {
                size_t off = base + (size_t)d * inner + i0;
                if (log)
                    for (size_t j = 0; j < nc; j++) s[j] += dy[off + j];
                else
                    for (size_t j = 0; j < nc; j++) s[j] += dy[off + j] * y[off + j];
            }
            for (int d = 0; d < dim; d++) {
                size_t off = base + (size_t)d * inner + i0;
                if (log)
                    for (size_t j = 0; j < nc; j++)
                        dx[off + j] = dy[off + j] - expf(y[off + j]) * s[j];
                else
                    for (size_t j = 0; j < nc; j++)
                        dx[off + j] = y[off + j] * (dy[off + j] - s[j]);
            }
        }
    }
}

void nnr_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                              const float *dy, float *dx)
{
    bwd(0, outer, dim, inner, y, dy, dx);
}

void nnr_log_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                  const float *dy, float *dx)
{
    bwd(1, outer, dim, inner, y, dy, dx);
}
