/* fold.c — inference-only parameter folding: a chain of linear layers as
 * one, and batch norm into the linear/conv2d before it (nnr.h, "folding").
 * Runs once at load, so it is written for exactness, not speed: every
 * product is accumulated in double and rounded to float once. */
#include <math.h>
#include <stdlib.h>

#include "../nnr.h"

/* Row r of the folded matrix is Wk[r,:]·W(k-1)·...·W1, computed right to
 * left with one vector v (length dims[j] at level j); the bias of row r
 * gathers bk[r] + v·b(j) at each level on the way down. */
int nnr_fold_linear_f32(int k, const int *dims, const float *const *w,
                        const float *const *b, float *w_out, float *b_out,
                        double *scratch)
{
    int maxd = 1;
    for (int j = 0; j <= k; j++)
        if (dims[j] > maxd)
            maxd = dims[j];
    double *own = NULL;
    if (!scratch) {
        own = malloc(2 * (size_t)maxd * sizeof *own);
        if (!own)
            return -1;
        scratch = own;
    }
    double *v = scratch, *t = scratch + maxd;
    const int out = dims[k], in = dims[0];
    for (int r = 0; r < out; r++) {
        const float *wk = w[k - 1] + (size_t)r * (size_t)dims[k - 1];
        for (int i = 0; i < dims[k - 1]; i++)
            v[i] = wk[i];
        double bias = b[k - 1] ? b[k - 1][r] : 0.0;
        for (int j = k - 1; j >= 1; j--) {
            /* v has length dims[j]; layer j is w[j-1]: [dims[j], dims[j-1]] */
            if (b[j - 1])
                for (int i = 0; i < dims[j]; i++)
                    bias += v[i] * b[j - 1][i];
            for (int c = 0; c < dims[j - 1]; c++)
                t[c] = 0.0;
            for (int i = 0; i < dims[j]; i++) {
                const float *row = w[j - 1] + (size_t)i * (size_t)dims[j - 1];
                for (int c = 0; c < dims[j - 1]; c++)
                    t[c] += v[i] * row[c];
            }
            double *s = v;
            v = t;
            t = s;
        }
        for (int c = 0; c < in; c++)
            w_out[(size_t)r * (size_t)in + (size_t)c] = (float)v[c];
        if (b_out)
            b_out[r] = (float)bias;
        v = scratch;
        t = scratch + maxd;
    }
    free(own);
    return 0;
}

void nnr_fold_bn_f32(int rows, int cols, const float *w, const float *b,
                     const float *gamma, const float *beta, const float *mean,
                     const float *var, float eps, float *w_out, float *b_out)
{
    for (int r = 0; r < rows; r++) {
        double s = (double)gamma[r] / sqrt((double)var[r] + (double)eps);
        for (int c = 0; c < cols; c++)
            w_out[(size_t)r * (size_t)cols + (size_t)c] = (float)(s * w[(size_t)r * (size_t)cols + (size_t)c]);
        b_out[r] = (float)(s * ((b ? (double)b[r] : 0.0) - (double)mean[r]) + (double)beta[r]);
    }
}
