/* seq.c — the small sequence kernels: arange, the embedding lookup and its
 * gradient, and the sequence losses (cross_entropy / nll over [rows, k]
 * with class labels and ignore_index, PyTorch's view(-1, k) form, and
 * cross_entropy against a target row per position, label_smoothing's). Integer
 * values arrive as floats holding exact integers. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../nnr.h"
#include "../simd.h"

void nnr_init_normal(nnr_rng *r, float *p, size_t len, float std, int64_t pad_row, size_t cols)
{
    for (size_t i = 0; i < len; i += 2) {
        double u1 = nnr_rng_uniform(r), u2 = nnr_rng_uniform(r);
        double m = sqrt(-2.0 * log(1.0 - u1)), a = 6.283185307179586 * u2;
        p[i] = (float)(std * m * cos(a));
        if (i + 1 < len) p[i + 1] = (float)(std * m * sin(a));
    }
    if (pad_row > 0 && (size_t)pad_row * cols <= len)
        memset(p + (size_t)(pad_row - 1) * cols, 0, cols * sizeof *p);
}

void nnr_arange_f32(int n, int len, float *y)
{
    for (int b = 0; b < n; b++)
        for (int i = 0; i < len; i++) y[(size_t)b * (size_t)len + (size_t)i] = (float)i;
}

/* The row of index v, or -1 when v is not an integer in [0, num). */
static long emb_row(float v, int num)
{
    if (!(v >= 0.0f) || v >= (float)num || v != floorf(v))
        return -1;
    return (long)v;
}

void nnr_embedding_f32(size_t rows, int num, int dim, const float *idx, const float *w,
                       float *y)
{
    const size_t d = (size_t)dim;
    for (size_t r = 0; r < rows; r++) {
        long i = emb_row(idx[r], num);
        if (i < 0)
            memset(y + r * d, 0, d * sizeof *y);
        else
            memcpy(y + r * d, w + (size_t)i * d, d * sizeof *y);
    }
}

void nnr_embedding_backward_f32(size_t rows, int num, int dim, int padding_idx,
                                const float *idx, const float *dy, float *dw)
{
    const size_t d = (size_t)dim;
    memset(dw, 0, (size_t)num * d * sizeof *dw);
    for (size_t r = 0; r < rows; r++) {
        long i = emb_row(idx[r], num);
        if (i < 0 || i == padding_idx)
            continue;
        float *o = dw + (size_t)i * d;
        const float *g = dy + r * d;
        for (size_t j = 0; j < d; j++) o[j] += g[j];
    }
}

/* The row's largest value (NaN when it holds one, as PyTorch). */
static float row_max(const float *x, int k)
{
    int nan = 0;
    for (int j = 0; j < k; j++) nan |= isnan(x[j]);
    return nan ? NAN : nnr_vrow_max(x, k);
}

/* e[j] = exp(x[j] - m), j < n (simd.h's nnr_vexp, lane by lane; the tail
 * through a padded vector); returns their sum, in SEQ_L independent double
 * accumulators (j % SEQ_L) added in lane order. */
#define SEQ_L 8
static double exp_sum(const float *x, int n, float m, float *e)
{
    const NNR_VEC vm = NNR_VEC_SET1(m);
    int j = 0;
    for (; j + NNR_VEC_WIDTH <= n; j += NNR_VEC_WIDTH)
        NNR_VEC_STORE(e + j, nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(x + j), vm)));
    if (j < n) {
        float t[NNR_VEC_WIDTH] = {0};
        memcpy(t, x + j, (size_t)(n - j) * sizeof *t);
        NNR_VEC_STORE(t, nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(t), vm)));
        memcpy(e + j, t, (size_t)(n - j) * sizeof *t);
    }
    double sl[SEQ_L] = {0}, s = 0.0;
    for (j = 0; j + SEQ_L <= n; j += SEQ_L)
        for (int l = 0; l < SEQ_L; l++) sl[l] += e[j + l];
    for (; j < n; j++) sl[j % SEQ_L] += e[j];
    for (int l = 0; l < SEQ_L; l++) s += sl[l];
    return s;
}

/* One row: the loss term (lse(x) - x[c], or -x[c] for nll) and, when d is
 * given, its gradient scaled by sc: the exponentials written once into d
 * (or a stack chunk when d is NULL), summed, then scaled in place. */
static double seq_row(nnr_loss loss, const float *x, int k, int c, float *d, double sc)
{
    if (loss == NNR_LOSS_NLL) {
        if (d) {
            memset(d, 0, (size_t)k * sizeof *d);
            d[c] = (float)-sc;
        }
        return -(double)x[c];
    }
    const float m = row_max(x, k);
    double s = 0.0;
    if (d) {
        s = exp_sum(x, k, m, d);
    } else {
        float e[256];
        for (int j = 0; j < k; j += 256)
            s += exp_sum(x + j, k - j < 256 ? k - j : 256, m, e);
    }
    if (d) {
        const double ec = d[c], r = sc / s;
        const NNR_VEC vr = NNR_VEC_SET1((float)r);
        int j = 0;
        for (; j + NNR_VEC_WIDTH <= k; j += NNR_VEC_WIDTH)
            NNR_VEC_STORE(d + j, NNR_VEC_MUL(NNR_VEC_LOAD(d + j), vr));
        for (; j < k; j++) d[j] = (float)(d[j] * r);
        d[c] = (float)((ec / s - 1.0) * sc);
    }
    return ((double)m + log(s)) - (double)x[c];
}

double nnr_seq_loss_f32(nnr_loss loss, size_t rows, int k, const float *pred,
                        const int32_t *labels, int ignore_index, float *dpred)
{
    size_t count = 0;
    int bad = 0;
    for (size_t r = 0; r < rows; r++) {
        if (labels[r] == ignore_index)
            continue;
        count++;
        bad |= labels[r] < 0 || labels[r] >= k;
    }
    const double sc = count ? 1.0 / (double)count : 0.0;
    double acc = 0.0;
    for (size_t r = 0; r < rows; r++) {
        float *d = dpred ? dpred + r * (size_t)k : NULL;
        int32_t c = labels[r];
        if (c == ignore_index || c < 0 || c >= k) {
            if (d) memset(d, 0, (size_t)k * sizeof *d);
            continue;
        }
        acc += seq_row(loss, pred + r * (size_t)k, k, c, d, sc);
    }
    if (bad || !count)
        return NAN;
    return acc / (double)count;
}

double nnr_seq_loss_soft_f32(size_t rows, int k, const float *pred, const int32_t *labels,
                             const float *soft, int ignore_index, float *dpred)
{
    size_t count = 0;
    for (size_t r = 0; r < rows; r++)
        count += labels[r] != ignore_index;
    const double sc = count ? 1.0 / (double)count : 0.0;
    double acc = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = pred + r * (size_t)k, *t = soft + r * (size_t)k;
        float *d = dpred ? dpred + r * (size_t)k : NULL;
        if (labels[r] == ignore_index) {
            if (d) memset(d, 0, (size_t)k * sizeof *d);
            continue;
        }
        float m = -INFINITY;
        for (int j = 0; j < k; j++)
            if (x[j] > m || isnan(x[j])) m = x[j];
        double s = 0.0, tsum = 0.0;
        for (int j = 0; j < k; j++) s += expf(x[j] - m);
        const double lse = (double)m + log(s);
        for (int j = 0; j < k; j++) {
            acc -= (double)t[j] * ((double)x[j] - lse);
            tsum += t[j];
        }
        if (d)
            for (int j = 0; j < k; j++) d[j] = (float)((exp((double)x[j] - lse) * tsum - t[j]) * sc);
    }
    return count ? acc * sc : NAN;
}

size_t nnr_seq_correct(size_t rows, int k, const float *pred, const int32_t *labels,
                       int ignore_index, size_t *counted)
{
    size_t good = 0, n = 0;
    for (size_t r = 0; r < rows; r++) {
        if (labels[r] == ignore_index)
            continue;
        n++;
        const float *x = pred + r * (size_t)k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (x[j] > x[best]) best = j;
        good += best == labels[r];
    }
    if (counted) *counted = n;
    return good;
}
