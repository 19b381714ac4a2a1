/* layernorm.c — layer normalisation over rows of d floats (PyTorch
 * LayerNorm over the last dimensions): statistics in double, biased
 * variance, y = (x - mean)·rstd·w + b; the training forward keeps mean and
 * rstd per row for the backward. w, b may be NULL (1 and 0). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../nnr.h"

static void row_stats(int d, const float *x, float eps, float *mean, float *rstd)
{
    double s = 0.0, q = 0.0;
    for (int j = 0; j < d; j++) s += x[j];
    const double m = s / d;
    for (int j = 0; j < d; j++) {
        double t = x[j] - m;
        q += t * t;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(q / d + (double)eps));
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
        double sg = 0.0, sgx = 0.0;
        for (int j = 0; j < d; j++) {
            const float xh = (xr[j] - m) * rs, g = w ? gr[j] * w[j] : gr[j];
            sg += g;
            sgx += (double)g * xh;
            if (dw) dw[j] += gr[j] * xh;
            if (db) db[j] += gr[j];
        }
        if (!dx) continue;
        const float mg = (float)(sg / d), mgx = (float)(sgx / d);
        float *dr = dx + r * d;
        for (int j = 0; j < d; j++) {
            const float xh = (xr[j] - m) * rs, g = w ? gr[j] * w[j] : gr[j];
            dr[j] = rs * (g - mg - xh * mgx);
        }
    }
}
