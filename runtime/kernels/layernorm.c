/* layernorm.c — layer normalisation over rows of d floats (PyTorch
 * LayerNorm over the last dimensions): statistics in double, biased
 * variance, y = (x - mean)·rstd·w + b; the training forward keeps mean and
 * rstd per row for the backward. w, b may be NULL (1 and 0). Each row's
 * sums are the same whatever the number of rows or threads. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../nnr.h"

/* LN_L independent double accumulators per sum (j % LN_L), added in lane
 * order at the end: one serial chain of double adds per row ran at the
 * adds' latency (W8: a tenth of its time outside the GEMMs); vectorisable.
 * 16: two vectors of 8 doubles with AVX-512, two chains in flight, not one. */
#define LN_L 16

static double lanes_sum(const double *a)
{
    double s = 0.0;
    for (int l = 0; l < LN_L; l++) s += a[l];
    return s;
}

/* The accumulators start as 0.0 + the first block's terms (the same
 * values as zeros and then one step): zeroing them was a memset that GCC's
 * Zen tuning made a rep stos, a quarter of row_stats' time at d = 128. */
static void row_stats(int d, const float *x, float eps, float *mean, float *rstd)
{
    double sl[LN_L], ql[LN_L];
    const int j0 = d >= LN_L ? LN_L : 0;
    for (int l = 0; l < LN_L; l++) sl[l] = 0.0 + (j0 ? (double)x[l] : 0.0);
    int j = j0;
    for (; j + LN_L <= d; j += LN_L)
        for (int l = 0; l < LN_L; l++) sl[l] += x[j + l];
    for (; j < d; j++) sl[j % LN_L] += x[j];
    const double m = lanes_sum(sl) / d;
    for (int l = 0; l < LN_L; l++) {
        const double t = j0 ? x[l] - m : 0.0;
        ql[l] = 0.0 + (j0 ? t * t : 0.0);
    }
    for (j = j0; j + LN_L <= d; j += LN_L)
        for (int l = 0; l < LN_L; l++) {
            double t = x[j + l] - m;
            ql[l] += t * t;
        }
    for (; j < d; j++) {
        double t = x[j] - m;
        ql[j % LN_L] += t * t;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(lanes_sum(ql) / d + (double)eps));
}

static void row_apply(int d, const float *x, const float *w, const float *b, float mean,
                      float rstd, float *y)
{
    for (int j = 0; j < d; j++) {
        float v = (x[j] - mean) * rstd;
        if (w) v *= w[j];
        if (b) v += b[j];
        y[j] = v;
    }
}

void nnr_layernorm_f32(size_t rows, int d, const float *x, const float *w, const float *b,
                       float eps, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        float m, rs;
        row_stats(d, x + r * d, eps, &m, &rs);
        row_apply(d, x + r * d, w, b, m, rs, y + r * d);
    }
}

void nnr_layernorm_train_f32(size_t rows, int d, const float *x, const float *w,
                             const float *b, float eps, float *save_mean,
                             float *save_rstd, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        row_stats(d, x + r * d, eps, &save_mean[r], &save_rstd[r]);
        row_apply(d, x + r * d, w, b, save_mean[r], save_rstd[r], y + r * d);
    }
}

/* With xh = (x - mean)·rstd and g = dy·w: dx = rstd·(g - mean(g) - xh·mean(g·xh)). */
void nnr_layernorm_backward_f32(size_t rows, int d, const float *x, const float *w,
                                const float *save_mean, const float *save_rstd,
                                const float *dy, float *dx, float *dw, float *db)
{
    if (dw) memset(dw, 0, (size_t)d * sizeof *dw);
    if (db) memset(db, 0, (size_t)d * sizeof *db);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * d, *gr = dy + r * d;
        const float m = save_mean[r], rs = save_rstd[r];
        double sg[LN_L] = {0}, sgx[LN_L] = {0};
        int j = 0;
        if (w)  /* apart, so that each form vectorises (the lanes in a register) */
            for (; j + LN_L <= d; j += LN_L)
                for (int l = 0; l < LN_L; l++) {
                    const float xh = (xr[j + l] - m) * rs, g = gr[j + l] * w[j + l];
                    sg[l] += g;
                    sgx[l] += (double)g * xh;
                }
        else
            for (; j + LN_L <= d; j += LN_L)
                for (int l = 0; l < LN_L; l++) {
                    const float xh = (xr[j + l] - m) * rs, g = gr[j + l];
                    sg[l] += g;
                    sgx[l] += (double)g * xh;
                }
        for (; j < d; j++) {
            const float xh = (xr[j] - m) * rs, g = w ? gr[j] * w[j] : gr[j];
            sg[j % LN_L] += g;
            sgx[j % LN_L] += (double)g * xh;
        }
        if (dw)
            for (j = 0; j < d; j++) dw[j] += gr[j] * ((xr[j] - m) * rs);
        if (db)
            for (j = 0; j < d; j++) db[j] += gr[j];
        if (!dx) continue;
        const float mg = (float)(lanes_sum(sg) / d), mgx = (float)(lanes_sum(sgx) / d);
        float *dr = dx + r * d;
        for (j = 0; j < d; j++) {
            const float xh = (xr[j] - m) * rs, g = w ? gr[j] * w[j] : gr[j];
            dr[j] = rs * (g - mg - xh * mgx);
        }
    }
}
