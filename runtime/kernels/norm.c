/* norm.c — batch normalisation over [n, c, spatial]: inference with running
 * statistics, training with batch statistics (double accumulation, biased
 * variance to normalise, unbiased variance into running_var, as PyTorch),
 * the training forward followed by relu in its one pass over y (fuse-act
 * in training), and the training-mode backward. gamma/beta may be NULL
 * (1 and 0). The training sums run in BN_L double lanes (element j of a
 * row into lane j % BN_L, rows in order; then the lanes pairwise):
 * independent chains instead of one add's latency per element. With AVX-512 and rows a
 * multiple of BN_L long, BN_B channels run side by side (each with its own
 * lanes, the same additions in the same order: the same bits), so that
 * the chains of different channels overlap. */
#include <math.h>
#include <stddef.h>

#include "../nnr.h"
#include "../simd.h"

#define BN_L 8
#define BN_B 4 /* channels side by side */

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

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* Can channels [ch, ch + BN_B) run side by side? */
static int bn_block(int ch, int c, size_t sp) { return ch + BN_B <= c && sp % BN_L == 0; }

/* For the BN_B channels from x (channel b at x + b·sp, row i at + i·cs):
 * what lanes_sum (m == NULL) or lanes_sumsq (about m[b]) gives, into a[b] */
static void block_sums(double a[][BN_L], const float *x, size_t cs, size_t sp, int n,
                       const double *m)
{
    __m512d v[BN_B], mv[BN_B];
    for (int b = 0; b < BN_B; b++) {
        v[b] = _mm512_setzero_pd();
        mv[b] = _mm512_set1_pd(m ? m[b] : 0.0);
    }
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < sp; j += BN_L)
            for (int b = 0; b < BN_B; b++) {
                const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(x + (size_t)i * cs + b * sp + j));
                if (m) {
                    const __m512d e = _mm512_sub_pd(d, mv[b]);
                    v[b] = _mm512_add_pd(v[b], _mm512_mul_pd(e, e));
                } else {
                    v[b] = _mm512_add_pd(v[b], d);
                }
            }
    for (int b = 0; b < BN_B; b++) _mm512_storeu_pd(a[b], v[b]);
}

/* what lanes_dot gives for the BN_B channels from dy and x, into a[b], g[b] */
static void block_dots(double a[][BN_L], double g[][BN_L], const float *dy, const float *x,
                       size_t cs, size_t sp, int n, const double *m)
{
    __m512d va[BN_B], vb[BN_B], mv[BN_B];
    for (int b = 0; b < BN_B; b++) {
        va[b] = vb[b] = _mm512_setzero_pd();
        mv[b] = _mm512_set1_pd(m[b]);
    }
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < sp; j += BN_L)
            for (int b = 0; b < BN_B; b++) {
                const size_t at = (size_t)i * cs + b * sp + j;
                const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + at));
                const __m512d xc = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + at)), mv[b]);
                va[b] = _mm512_add_pd(va[b], d);
                vb[b] = _mm512_add_pd(vb[b], _mm512_mul_pd(d, xc));
            }
    for (int b = 0; b < BN_B; b++) {
        _mm512_storeu_pd(a[b], va[b]);
        _mm512_storeu_pd(g[b], vb[b]);
    }
}
#else
static int bn_block(int ch, int c, size_t sp)
{
    (void)ch, (void)c, (void)sp;
    return 0;
}
#endif

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

/* channel ch of the training forward once its sum and sum of squares
 * about the mean are known: the statistics, then y */
static void train_channel(int n, int ch, size_t cs, size_t sp, const float *x,
                          const float *gamma, const float *beta, float *running_mean,
                          float *running_var, float eps, float momentum, float *save_mean,
                          float *save_invstd, float *y, double mean, double ss, int relu)
{
    const size_t count = (size_t)n * sp;
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
        if (relu)
            for (size_t j = 0; j < sp; j++) {
                const float v = xr[j] * alpha + shift;
                yr[j] = 0.0f > v ? 0.0f : v;   /* NaN passes, as nnr_act_f32's relu */
            }
        else
            for (size_t j = 0; j < sp; j++) yr[j] = xr[j] * alpha + shift;
    }
}

/* the training forward, then relu when asked (one pass writes y) */
static void batchnorm_train(int n, int c, int spatial, const float *x, const float *gamma,
                            const float *beta, float *running_mean, float *running_var, float eps,
                            float momentum, float *save_mean, float *save_invstd, float *y, int relu)
{
    const size_t sp = (size_t)spatial, cs = (size_t)c * sp;
    const size_t count = (size_t)n * sp;
    for (int ch = 0; ch < c;) {
        const int nb = bn_block(ch, c, sp) ? BN_B : 1;
        const float *xc = x + (size_t)ch * sp;
        double a[BN_B][BN_L] = {{0}}, mean[BN_B];
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
        if (nb > 1) block_sums(a, xc, cs, sp, n, NULL);
#endif
        if (nb == 1)
            for (int i = 0; i < n; i++) lanes_sum(a[0], xc + (size_t)i * cs, sp);
        for (int b = 0; b < nb; b++) {
            mean[b] = count ? lanes_total(a[b]) / (double)count : 0.0;
            for (int l = 0; l < BN_L; l++) a[b][l] = 0.0;
        }
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
        if (nb > 1) block_sums(a, xc, cs, sp, n, mean);
#endif
        if (nb == 1)
            for (int i = 0; i < n; i++) lanes_sumsq(a[0], xc + (size_t)i * cs, sp, mean[0]);
        for (int b = 0; b < nb; b++)
            train_channel(n, ch + b, cs, sp, x, gamma, beta, running_mean, running_var, eps,
                          momentum, save_mean, save_invstd, y, mean[b], lanes_total(a[b]), relu);
        ch += nb;
    }
}

void nnr_batchnorm_train_f32(int n, int c, int spatial, const float *x,
                             const float *gamma, const float *beta,
                             float *running_mean, float *running_var, float eps,
                             float momentum, float *save_mean, float *save_invstd,
                             float *y)
{
    batchnorm_train(n, c, spatial, x, gamma, beta, running_mean, running_var, eps, momentum,
                    save_mean, save_invstd, y, 0);
}

void nnr_batchnorm_train_relu_f32(int n, int c, int spatial, const float *x,
                                  const float *gamma, const float *beta,
                                  float *running_mean, float *running_var, float eps,
                                  float momentum, float *save_mean, float *save_invstd,
                                  float *y)
{
    batchnorm_train(n, c, spatial, x, gamma, beta, running_mean, running_var, eps, momentum,
                    save_mean, save_invstd, y, 1);
}

void nnr_batchnorm_backward_f32(int n, int c, int spatial, const float *x,
                                const float *gamma, const float *save_mean,
                                const float *save_invstd, const float *dy, float *dx,
                                float *dgamma, float *dbeta)
{
    const size_t sp = (size_t)spatial, cs = (size_t)c * sp;
    const size_t count = (size_t)n * sp;
    for (int c0 = 0; c0 < c;) {
        const int nb = bn_block(c0, c, sp) ? BN_B : 1;
        double la[BN_B][BN_L] = {{0}}, lb[BN_B][BN_L] = {{0}}, m[BN_B];
        for (int b = 0; b < nb; b++) m[b] = save_mean[c0 + b];
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
        if (nb > 1) block_dots(la, lb, dy + (size_t)c0 * sp, x + (size_t)c0 * sp, cs, sp, n, m);
#endif
        if (nb == 1)
            for (int i = 0; i < n; i++)
                lanes_dot(la[0], lb[0], dy + (size_t)i * cs + (size_t)c0 * sp,
                          x + (size_t)i * cs + (size_t)c0 * sp, sp, m[0]);
        for (int b = 0; b < nb; b++) {
            const int ch = c0 + b;
            const double mean = m[b], invstd = save_invstd[ch];
            const double sdy = lanes_total(la[b]), sdyx = lanes_total(lb[b]);
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
        c0 += nb;
    }
}
