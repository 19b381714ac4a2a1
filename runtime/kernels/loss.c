/* loss.c — the training losses with reduction = 'mean' exactly as PyTorch
 * (mse, l1, bce, bce_with_logits over all n*k elements; cross_entropy and
 * nll over the n samples) and their gradient with respect to pred. Sums are
 * accumulated in double. A class label outside [0, k) makes the loss NaN
 * (its dpred row is zero). nll with a target row instead of labels is
 * -Σ t·pred (the soft-label form of cross_entropy without the log_softmax). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../nnr.h"

static float row_max(const float *x, int k)
{
    float m = -INFINITY;
    for (int j = 0; j < k; j++)
        if (x[j] > m || isnan(x[j])) m = x[j];
    return m;
}

/* Σ_j exp(x_j - m) in double, in j order, of float exponentials; e (may be
 * NULL) gets them. */
static double row_sumexp(const float *x, int k, float m, float *e)
{
    double s = 0.0;
    if (e) {
        for (int j = 0; j < k; j++) {
            e[j] = expf(x[j] - m);
            s += e[j];
        }
    } else {
        for (int j = 0; j < k; j++) s += expf(x[j] - m);
    }
    return s;
}

/* log Σ exp(row) and the row maximum. */
static double row_lse(const float *x, int k, float *mx)
{
    float m = row_max(x, k);
    double s = row_sumexp(x, k, m, NULL);
    *mx = m;
    return (double)m + log(s);
}

double nnr_loss_f32(nnr_loss loss, int n, int k, const float *pred,
                    const int32_t *labels, const float *target, float *dpred)
{
    const size_t total = (size_t)n * (size_t)k;
    double acc = 0.0;
    switch (loss) {
    case NNR_LOSS_MSE: {
        const float sc = 2.0f / (float)total;
        for (size_t i = 0; i < total; i++) {
            float d = pred[i] - target[i];
            acc += (double)d * d;
            if (dpred) dpred[i] = sc * d;
        }
        return acc / (double)total;
    }
    case NNR_LOSS_L1: {
        const float sc = 1.0f / (float)total;
        for (size_t i = 0; i < total; i++) {
            float d = pred[i] - target[i];
            acc += fabs((double)d);
            if (dpred) dpred[i] = d > 0.0f ? sc : d < 0.0f ? -sc : 0.0f;
        }
        return acc / (double)total;
    }
    case NNR_LOSS_BCE: {
        const double sc = 1.0 / (double)total;
        for (size_t i = 0; i < total; i++) {
            double p = pred[i], t = target[i];
            double lp = log(p), l1p = log1p(-p);
            if (lp < -100.0) lp = -100.0;
            if (l1p < -100.0) l1p = -100.0;
            acc += -(t * lp + (1.0 - t) * l1p);
            if (dpred) {
                /* PyTorch: (p - t) / max(p (1 - p), 1e-12) */
                double den = p * (1.0 - p);
                if (den < 1e-12) den = 1e-12;
                dpred[i] = (float)((p - t) / den * sc);
            }
        }
        return acc * sc;
    }
    case NNR_LOSS_BCE_WITH_LOGITS: {
        const double sc = 1.0 / (double)total;
        for (size_t i = 0; i < total; i++) {
            double x = pred[i], t = target[i];
            acc += (x > 0.0 ? x : 0.0) - x * t + log1p(exp(-fabs(x)));
            if (dpred) {
                double sg = x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
                dpred[i] = (float)((sg - t) * sc);
            }
        }
        return acc * sc;
    }
    case NNR_LOSS_CROSS_ENTROPY:
    case NNR_LOSS_NLL: {
        const double sc = 1.0 / (double)n;
        for (int i = 0; i < n; i++) {
            const float *x = pred + (size_t)i * k;
            float *d = dpred ? dpred + (size_t)i * k : NULL;
            const float *t = target ? target + (size_t)i * k : NULL;
            if (loss == NNR_LOSS_NLL) {
                if (labels) {
                    int32_t c = labels[i];
                    if (d)
                        for (int j = 0; j < k; j++) d[j] = 0.0f;
                    if (c < 0 || c >= k) {
                        acc = NAN;
                        continue;
                    }
                    acc -= x[c];
                    if (d) d[c] = (float)-sc;
                } else {
                    for (int j = 0; j < k; j++) {
                        acc -= (double)t[j] * x[j];
                        if (d) d[j] = (float)(-(double)t[j] * sc);
                    }
                }
                continue;
            }
            float mx;
            if (labels && d) {
                /* one exp per element: e_j = exp(x_j - max) kept in d, then
                 * softmax_j = e_j / Σe (the same value as exp(x_j - lse) to
                 * within an ulp of float) */
                int32_t c = labels[i];
                if (c < 0 || c >= k) {
                    acc = NAN;
                    for (int j = 0; j < k; j++) d[j] = 0.0f;
                    continue;
                }
                float m = row_max(x, k);
                double s = row_sumexp(x, k, m, d);
                acc += ((double)m + log(s)) - x[c];
                const double ec = d[c], r = sc / s;
                for (int j = 0; j < k; j++) d[j] = (float)(d[j] * r);
                d[c] = (float)((ec / s - 1.0) * sc);
                continue;
            }
            double lse = row_lse(x, k, &mx);
            if (labels) {
                int32_t c = labels[i];
                if (c < 0 || c >= k) {
                    acc = NAN;
                    if (d)
                        for (int j = 0; j < k; j++) d[j] = 0.0f;
                    continue;
                }
                acc += lse - x[c];
                if (d) {
                    for (int j = 0; j < k; j++) d[j] = (float)(exp(x[j] - lse) * sc);
                    d[c] = (float)((exp(x[c] - lse) - 1.0) * sc);
                }
            } else {
                double tsum = 0.0;
                for (int j = 0; j < k; j++) {
                    acc -= (double)t[j] * ((double)x[j] - lse);
                    tsum += t[j];
                }
                if (d)
                    for (int j = 0; j < k; j++)
                        d[j] = (float)((exp(x[j] - lse) * tsum - t[j]) * sc);
            }
        }
        return acc * sc;
    }
    }
    return NAN;
}
