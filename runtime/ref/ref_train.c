/* ref_train.c — naive reference versions of the training-side kernels:
 * generator, initialisation, dropout, losses (direct formulas in double),
 * optimizers (the torch.optim update written out in double). Test oracle only. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref.h"

void nnr_ref_rng_seed(nnr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += UINT64_C(0x9E3779B97F4A7C15);
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t nnr_ref_rng_next(nnr_rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3];
    uint64_t x = s1 * 5;
    uint64_t out = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 45) | (s3 >> 19);
    r->s[0] = s0; r->s[1] = s1; r->s[2] = s2; r->s[3] = s3;
    return out;
}

double nnr_ref_rng_uniform(nnr_rng *r)
{
    return ldexp((double)(nnr_ref_rng_next(r) >> 11), -53);
}

uint64_t nnr_ref_rng_below(nnr_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* accept x in [2^64 mod n, 2^64): a whole number of copies of [0, n) */
    uint64_t rem = (UINT64_MAX % n + 1) % n;
    for (;;) {
        uint64_t x = nnr_ref_rng_next(r);
        if (x >= rem) return x % n;
    }
}

void nnr_ref_rng_shuffle(nnr_rng *r, int32_t *idx, size_t n)
{
    if (n < 2) return;
    for (size_t i = n - 1; i >= 1; i--) {
        size_t j = (size_t)nnr_ref_rng_below(r, i + 1);
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void nnr_ref_init_uniform(nnr_rng *r, float *p, size_t len, float bound)
{
    for (size_t i = 0; i < len; i++) p[i] = (float)(-(double)bound + 2.0 * bound * nnr_ref_rng_uniform(r));
}

void nnr_ref_dropout_f32(nnr_rng *r, float p, size_t len, const float *x, float *y,
                         float *mask)
{
    for (size_t i = 0; i < len; i++) {
        double m;
        if (p <= 0) m = 1;
        else if (p >= 1) m = 0;
        else m = nnr_ref_rng_uniform(r) < p ? 0.0 : (double)(1.0f / (float)(1.0 - p));
        if (mask) mask[i] = (float)m;
        y[i] = (float)(x[i] * m);
    }
}

double nnr_ref_loss_f32(nnr_loss loss, int n, int k, const float *pred,
                        const int32_t *labels, const float *target, float *dpred)
{
    const double N = (double)n * k;
    double L = 0;
    for (int i = 0; i < n; i++) {
        const float *x = pred + (size_t)i * k;
        const float *t = target ? target + (size_t)i * k : NULL;
        float *d = dpred ? dpred + (size_t)i * k : NULL;
        double m = -INFINITY, s = 0, lse, ts = 0;
        for (int j = 0; j < k; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < k; j++) s += exp(x[j] - m);
        lse = m + log(s);
        if (t)
            for (int j = 0; j < k; j++) ts += t[j];
        for (int j = 0; j < k; j++) {
            double p = x[j], tv = t ? t[j] : 0, g = 0;
            switch (loss) {
            case NNR_LOSS_MSE: L += (p - tv) * (p - tv); g = 2 * (p - tv) / N; break;
            case NNR_LOSS_L1: L += fabs(p - tv); g = (p > tv) - (p < tv); g /= N; break;
            case NNR_LOSS_BCE:
                L -= tv * fmax(log(p), -100) + (1 - tv) * fmax(log(1 - p), -100);
                g = (p - tv) / fmax(p * (1 - p), 1e-12) / N;
                break;
            case NNR_LOSS_BCE_WITH_LOGITS: {
                double sg = 1 / (1 + exp(-p));
                L -= tv * log(sg) + (1 - tv) * log(1 - sg);
                g = (sg - tv) / N;
                break;
            }
            case NNR_LOSS_CROSS_ENTROPY:
                if (labels) {
                    int hit = labels[i] == j;
                    if (hit) L -= p - lse;
                    g = (exp(p - lse) - hit) / n;
                } else {
                    L -= tv * (p - lse);
                    g = (exp(p - lse) * ts - tv) / n;
                }
                break;
            case NNR_LOSS_NLL:
                if (labels) {
                    int hit = labels[i] == j;
                    if (hit) L -= p;
                    g = -(double)hit / n;
                } else {
                    L -= tv * p;
                    g = -tv / n;
                }
                break;
            }
            if (d) d[j] = (float)g;
        }
    }
    if (loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL) return L / n;
    return L / N;
}

/* The user's decimal behind a float hyperparameter: the shortest %g text
 * that reads back as the same float (what Python would have held). */
static double ref_dec(float f)
{
    char buf[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return f;
}

void nnr_ref_optim_step(const nnr_optim *o, size_t len, float *p, const float *g,
                        float *state1, float *state2, long step)
{
    const double lr = ref_dec(o->lr), mom = ref_dec(o->momentum), damp = ref_dec(o->dampening);
    const double wd = ref_dec(o->weight_decay), b1 = ref_dec(o->beta1), b2 = ref_dec(o->beta2);
    const double eps = ref_dec(o->eps);
    for (size_t i = 0; i < len; i++) {
        double pi = p[i], gi = g[i];
        if (o->kind == NNR_OPT_SGD) {
            gi += wd * pi;
            if (mom != 0) {
                double b = step == 1 ? gi : mom * state1[i] + (1.0 - damp) * gi;
                state1[i] = (float)b;
                gi = o->nesterov ? gi + mom * b : b;
            }
            p[i] = (float)(pi - lr * gi);
        } else {
            if (o->kind == NNR_OPT_ADAMW) pi *= 1.0 - lr * wd;
            else gi += wd * pi;
            double m = b1 * state1[i] + (1.0 - b1) * gi;
            double v = b2 * state2[i] + (1.0 - b2) * gi * gi;
            state1[i] = (float)m;
            state2[i] = (float)v;
            double mh = m / (1.0 - pow(b1, (double)step));
            double vh = v / (1.0 - pow(b2, (double)step));
            p[i] = (float)(pi - lr * mh / (sqrt(vh) + eps));
        }
    }
}
