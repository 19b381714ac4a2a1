/* norm.c — batch normalisation over [n, c, spatial]: inference with running
 * statistics, training with batch statistics (double accumulation, biased
 * variance to normalise, unbiased variance into running_var, as PyTorch),
 * and the training-mode backward. gamma/beta may be NULL (1 and 0). The
 * training sums run in BN_L double lanes (element j of a row into lane
 * j % BN_L, rows in order; then the lanes pairwise): independent chains
 * instead of one add's latency per element. */
#include <math.h>
#include <stddef.h>

#include "../nnr.h"
#include "../simd.h"

#define BN_L 8

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* a[j % BN_L] += x[j], j < n */
static void lanes_sum(double *a, const float *x, size_t n)
{
    size_t j = 0;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__) /* the same lanes, 8 at once */
    __m512d v = _mm512_loadu_pd(a);
    for (; j + BN_L <= n; j += BN_L) v = _mm512_add_pd(v, _mm512_cvtps_pd(_mm256_loadu_ps(x + j)));
    _mm512_storeu_pd(a, v);
#endif
    for (; j + BN_L <= n; j += BN_L)
        for (int l = 0; l < BN_L; l++) a[l] += x[j + l];
    for (int l = 0; j < n; j++, l++) a[l] += x[j];
}

/* a[j % BN_L] += (x[j] - m)² */
static void lanes_sumsq(double *a, const float *x, size_t n, double m)
{
    size_t j = 0;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    __m512d v = _mm512_loadu_pd(a);
    const __m512d mv = _mm512_set1_pd(m);
    for (; j + BN_L <= n; j += BN_L) {
        const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), mv);
        v = _mm512_add_pd(v, _mm512_mul_pd(d, d));
    }
    _mm512_storeu_pd(a, v);
#endif
    for (; j + BN_L <= n; j += BN_L)
        for (int l = 0; l < BN_L; l++) {
            const double d = x[j + l] - m;
            a[l] += d * d;
        }
    for (int l = 0; j < n; j++, l++) {
        const double d = x[j] - m;
        a[l] += d * d;
    }
}

/* a[j % BN_L] += dy[j], b[j % BN_L] += dy[j]·(x[j] - m) */
static void lanes_dot(double *a, double *b, const float *dy, const float *x, size_t n, double m)
{
    size_t j = 0;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    __m512d va = _mm512_loadu_pd(a), vb = _mm512_loadu_pd(b);
    const __m512d mv = _mm512_set1_pd(m);
    for (; j + BN_L <= n; j += BN_L) {
        const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + j));
        const __m512d xc = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), mv);
        va = _mm512_add_pd(va, d);
        vb = _mm512_add_pd(vb, _mm512_mul_pd(d, xc));
    }
    _mm512_storeu_pd(a, va);
    _mm512_storeu_pd(b, vb);
#endif
    for (; j + BN_L <= n; j += BN_L)
        for (int l = 0; l < BN_L; l++) {
            a[l] += dy[j + l];
            b[l] += (double)dy[j + l] * ((double)x[j + l] - m);
        }
    for (int l = 0; j < n; j++, l++) {
        a[l] += dy[j];
        b[l] += (double)dy[j] * ((double)x[j] - m);
    }
}

void nnr_batchnorm_f32(int n, int c, int spatial, const float *x, const float *gamma,
                       const float *beta, const float *mean, const float *var,
                       float eps, float *y)
{
    const size_t sp = (size_t)spatial, cs = (size_t)c * sp;
    for (int ch = 0; ch < c; ch++) {
        float invstd = (float)(1.0 / sqrt((double)var[ch] + (double)eps));
        float alpha = gamma ? gamma[ch] * invstd : invstd;
        float shift = (beta ? beta[ch] : 0.0f) - mean[ch] * alpha;
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * cs + (size_t)ch * sp;
            float *yr = y + (size_t)i * cs + (size_t)ch * sp;
            for (size_t j = 0; j < sp; j++) yr[j] = xr[j] * alpha + shift;
        }
    }
}

void nnr_batchnorm_train_f32(int n, int c, int spatial, const float *x,
                             const float *gamma, const float *beta,
                             float *running_mean, float *running_var, float eps,
                             float momentum, float *save_mean, float *save_invstd,
                             float *y)
{
    const size_t sp = (size_t)spatial, cs = (size_t)c * sp;
    const size_t count = (size_t)n * sp;
    for (int ch = 0; ch < c; ch++) {
        double a[BN_L] = {0};
        for (int i = 0; i < n; i++) lanes_sum(a, x + (size_t)i * cs + (size_t)ch * sp, sp);
        double mean = count ? lanes_total(a) / (double)count : 0.0;
        for (int l = 0; l < BN_L; l++) a[l] = 0.0;
        for (int i = 0; i < n; i++)
            lanes_sumsq(a, x + (size_t)i * cs + (size_t)ch * sp, sp, mean);
        const double ss = lanes_total(a);
        double var = count ? ss / (double)count : 0.0;
        /* PyTorch refuses a single value per channel; keep the biased 0 there. */
        double uvar = count > 1 ? ss / (double)(count - 1) : var;
        double invstd = 1.0 / sqrt(var + (double)eps);
        if (save_mean) save_mean[ch] = (float)mean;
        if (save_invstd) save_invstd[ch] = (float)invstd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - (double)momentum) * running_mean[ch] +
                                       (double)momentum * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - (double)momentum) * running_var[ch] +
                                      (double)momentum * uvar);
        float m = (float)mean, is = (float)invstd;
        float alpha = gamma ? gamma[ch] * is : is;
        float shift = (beta ? beta[ch] : 0.0f) - m * alpha;
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * cs + (size_t)ch * sp;
            float *yr = y + (size_t)i * cs + (size_t)ch * sp;
            for (size_t j = 0; j < sp; j++) yr[j] = xr[j] * alpha + shift;
        }
    }
}

void nnr_batchnorm_backward_f32(int n, int c, int spatial, const float *x,
                                const float *gamma, const float *save_mean,
                                const float *save_invstd, const float *dy, float *dx,
                                float *dgamma, float *dbeta)
{
    const size_t sp = (size_t)spatial, cs = (size_t)c * sp;
    const size_t count = (size_t)n * sp;
    for (int ch = 0; ch < c; ch++) {
        const double mean = save_mean[ch], invstd = save_invstd[ch];
        double la[BN_L] = {0}, lb[BN_L] = {0};
        for (int i = 0; i < n; i++)
            lanes_dot(la, lb, dy + (size_t)i * cs + (size_t)ch * sp,
                      x + (size_t)i * cs + (size_t)ch * sp, sp, mean);
        const double sdy = lanes_total(la), sdyx = lanes_total(lb);
        if (dbeta) dbeta[ch] = (float)sdy;
        if (dgamma) dgamma[ch] = (float)(sdyx * invstd);
        if (!dx) continue;
        const double g = gamma ? gamma[ch] : 1.0;
        const double mdy = count ? sdy / (double)count : 0.0;
        const double k = count ? sdyx * invstd * invstd / (double)count : 0.0;
        const float a = (float)(g * invstd);
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * cs + (size_t)ch * sp;
            const float *dr = dy + (size_t)i * cs + (size_t)ch * sp;
            float *o = dx + (size_t)i * cs + (size_t)ch * sp;
            for (size_t j = 0; j < sp; j++)
                o[j] = a * (float)((double)dr[j] - mdy - ((double)xr[j] - mean) * k);
        }
    }
}
