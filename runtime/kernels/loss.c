/* loss.c — the training losses with reduction = 'mean' exactly as PyTorch
 * (mse, l1, bce, bce_with_logits over all n*k elements; cross_entropy and
 * nll over the n samples) and their gradient with respect to pred. Sums are
 * accumulated in double. A class label outside [0, k) makes the loss NaN
 * (its dpred row is zero). nll with a target row instead of labels is
 * -Σ t·pred (the soft-label form of cross_entropy without the log_softmax).
 *
 * cross_entropy with class labels and at most CE_KMAX classes runs on groups
 * of CE_L rows, one row per vector lane: the row maximum, exp(x - max)
 * (simd.h's nnr_vexp, within NNR_VMATH_EXP_ERR of the correctly rounded
 * value), the sum of the exponentials in double in class order and the
 * gradient are computed lane by lane, so a row's values do not depend on the
 * rows beside it. The log of the sums is taken once, of their product. A
 * group holding a non-finite value or a label out of range goes row by row
 * (libm's expf and log), as does every other case.
 *
 * label_smoothing is cross_entropy on target rows (1 - eps) onehot + eps/k,
 * which nnr_smooth_labels makes: PyTorch's smoothed loss term for term. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../nnr.h"
#include "../simd.h"

#define CE_L 16     /* rows per group: a multiple of every NNR_VEC_WIDTH */
#define CE_KMAX 64  /* the most classes the grouped form takes */

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

/* log Σ exp(row), the row maximum subtracted for stability. */
static double row_lse(const float *x, int k)
{
    float m = row_max(x, k);
    return (double)m + log(row_sumexp(x, k, m, NULL));
}

/* One row of cross_entropy with a class label: lse(x) - x[c], d (may be
 * NULL) the gradient scaled by sc; NaN (d zero) for a label out of range. */
static double ce_row(const float *x, int k, int32_t c, float *d, double sc)
{
    if (c < 0 || c >= k) {
        if (d)
            for (int j = 0; j < k; j++) d[j] = 0.0f;
        return NAN;
    }
    float m = row_max(x, k);
    double s = row_sumexp(x, k, m, d);
    double v = ((double)m + log(s)) - x[c];
    if (d) {
        /* softmax_j = e_j / Σe (the same value as exp(x_j - lse) to within
         * an ulp of float) */
        const double ec = d[c], r = sc / s;
        for (int j = 0; j < k; j++) d[j] = (float)(d[j] * r);
        d[c] = (float)((ec / s - 1.0) * sc);
    }
    return v;
}

/* cross_entropy with class labels for k <= CE_KMAX: the mean over the n rows,
 * dpred (may be NULL) its gradient. See the top of the file. */
static double ce_grouped(int n, int k, const float *pred, const int32_t *labels, float *dpred,
                         double sc)
{
    _Alignas(64) float t[CE_KMAX][CE_L]; /* t[j][l]: class j of row i0 + l */
    _Alignas(64) float mx[CE_L];
    double s[CE_L], r[CE_L];
    double acc = 0.0, prod = 1.0; /* Σ (max - x[c]) and Π Σe, times 2^e2 */
    long e2 = 0;
    for (int i0 = 0; i0 < n; i0 += CE_L) {
        const int nr = n - i0 < CE_L ? n - i0 : CE_L;
        const float *x = pred + (size_t)i0 * (size_t)k;
        int ok = 1;
        for (int l = 0; l < nr; l++)
            ok &= labels[i0 + l] >= 0 && labels[i0 + l] < k;
        for (int l = 0; l < nr; l++)
            for (int j = 0; j < k; j++) t[j][l] = x[(size_t)l * (size_t)k + (size_t)j];
        for (int l = nr; l < CE_L; l++)
            for (int j = 0; j < k; j++) t[j][l] = 0.0f;
        /* x·0 is 0 for finite x, NaN for inf or NaN */
        float z[CE_L] = {0};
        for (int j = 0; j < k; j++)
            for (int l = 0; l < CE_L; l++) z[l] += t[j][l] * 0.0f;
        for (int l = 0; l < CE_L; l++) ok &= z[l] == 0.0f;
        if (!ok) {
            for (int l = 0; l < nr; l++)
                acc += ce_row(x + (size_t)l * (size_t)k, k, labels[i0 + l],
                              dpred ? dpred + (size_t)(i0 + l) * (size_t)k : NULL, sc);
            continue;
        }
        /* the first maximum, as row_max finds it */
        for (int l = 0; l < CE_L; l++) mx[l] = t[0][l];
        for (int j = 1; j < k; j++)
            for (int l = 0; l < CE_L; l++) mx[l] = t[j][l] > mx[l] ? t[j][l] : mx[l];
        for (int j = 0; j < k; j++)
            for (int l = 0; l < CE_L; l += NNR_VEC_WIDTH)
                NNR_VEC_STORE(&t[j][l], nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(&t[j][l]),
                                                             NNR_VEC_LOAD(mx + l))));
        for (int l = 0; l < CE_L; l++) s[l] = 0.0;
        for (int j = 0; j < k; j++)
            for (int l = 0; l < CE_L; l++) s[l] += t[j][l];
        for (int l = 0; l < nr; l++) {
            int32_t c = labels[i0 + l];
            acc += (double)mx[l] - x[(size_t)l * (size_t)k + (size_t)c];
            prod *= s[l]; /* 1 <= s <= k */
            if (prod > 0x1p512) {
                prod *= 0x1p-512;
                e2 += 512;
            }
        }
        if (!dpred) continue;
        for (int l = 0; l < CE_L; l++) r[l] = sc / s[l];
        for (int l = 0; l < nr; l++) {
            float *d = dpred + (size_t)(i0 + l) * (size_t)k;
            int32_t c = labels[i0 + l];
            for (int j = 0; j < k; j++) d[j] = (float)(t[j][l] * r[l]);
            d[c] = (float)((t[c][l] / s[l] - 1.0) * sc);
        }
    }
    return (acc + (log(prod) + (double)e2 * 0.69314718055994530942)) * sc;
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
        if (loss == NNR_LOSS_CROSS_ENTROPY && labels && k >= 1 && k <= CE_KMAX)
            return ce_grouped(n, k, pred, labels, dpred, sc);
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
            if (labels) {
                acc += ce_row(x, k, labels[i], d, sc);
                continue;
            }
            /* a target row (one-hot or probabilities) */
            double lse = row_lse(x, k), tsum = 0.0;
            for (int j = 0; j < k; j++) {
                acc -= (double)t[j] * ((double)x[j] - lse);
                tsum += t[j];
            }
            if (d)
                for (int j = 0; j < k; j++) d[j] = (float)((exp(x[j] - lse) * tsum - t[j]) * sc);
        }
        return acc * sc;
    }
    }
    return NAN;
}

void nnr_smooth_labels(int n, int k, const int32_t *labels, double eps, float *out)
{
    const float off = (float)(eps / (double)k), on = (float)(1.0 - eps + eps / (double)k);
    for (int i = 0; i < n; i++) {
        float *t = out + (size_t)i * (size_t)k;
        const int32_t c = labels[i];
        for (int j = 0; j < k; j++)
            t[j] = c < 0 || c >= k ? NAN : j == c ? on : off;
    }
}
