/* softmax.c — softmax and log_softmax over the middle axis of [outer, dim,
 * inner] (max subtracted for stability) and their backward. inner == 1 runs
 * along contiguous rows; inner > 1 works on chunks of the inner axis so that
 * every loop is contiguous. The forward exp is simd.h's nnr_vexp (tails on
 * a padded copy, so each element's exp does not depend on its position);
 * the backward keeps libm. x == y is allowed. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../nnr.h"
#include "../simd.h"

#define CHUNK 64
#define W NNR_VEC_WIDTH

/* Σ exp(x[j] - mx) over a row of n, storing each exp in y unless y is NULL.
 * Fixed summation order: W lane sums, nnr_vsum, then the tail in order. */
static float exp_row(size_t n, const float *x, float mx, float *y)
{
    NNR_VEC m = NNR_VEC_SET1(mx), acc = NNR_VEC_ZERO();
    size_t j = 0;
    for (; j + W <= n; j += W) {
        NNR_VEC e = nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(x + j), m));
        if (y) NNR_VEC_STORE(y + j, e);
        acc = NNR_VEC_ADD(acc, e);
    }
    float s = nnr_vsum(acc);
    if (j < n) {
        float t[W] = {0};
        memcpy(t, x + j, (n - j) * sizeof *t);
        NNR_VEC_STORE(t, nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(t), m)));
        for (size_t k = 0; k < n - j; k++) s += t[k];
        if (y) memcpy(y + j, t, (n - j) * sizeof *t);
    }
    return s;
}

/* out[j] = exp(r[j] - mx[j]) for j < n; out may alias r. */
static void exp_diff(size_t n, const float *r, const float *mx, float *out)
{
    size_t j = 0;
    for (; j + W <= n; j += W)
        NNR_VEC_STORE(out + j, nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(r + j), NNR_VEC_LOAD(mx + j))));
    if (j < n) {
        float t[W] = {0}, u[W] = {0};
        memcpy(t, r + j, (n - j) * sizeof *t);
        memcpy(u, mx + j, (n - j) * sizeof *u);
        NNR_VEC_STORE(t, nnr_vexp(NNR_VEC_SUB(NNR_VEC_LOAD(t), NNR_VEC_LOAD(u))));
        memcpy(out + j, t, (n - j) * sizeof *t);
    }
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* softmax of a row of n <= W without NaN, in masked registers: the same
 * per-element operations and summation order as the general path (the same
 * bits). Returns 0, writing nothing, when the row holds a NaN. */
static int short_row(int n, const float *r, float *w)
{
    const __mmask16 k = (__mmask16)((1u << n) - 1u);
    __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, r);
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) return 0;
    float mx = _mm512_reduce_max_ps(v);
    /* lanes past n: exp(-inf - mx) is never used (zeroed below) */
    __m512 e = _mm512_maskz_mov_ps(k, nnr_vexp(_mm512_sub_ps(v, _mm512_set1_ps(mx))));
    _Alignas(64) float t[W];
    _mm512_store_ps(t, e);
    float s = nnr_vsum(_mm512_setzero_ps());
    for (int j = 0; j < n; j++) s += t[j];
    float inv = 1.0f / s;
    _mm512_mask_storeu_ps(w, k, _mm512_mul_ps(e, _mm512_set1_ps(inv)));
    return 1;
}
#endif

static void fwd(int log, size_t outer, int dim, size_t inner, const float *x, float *y)
{
    if (dim <= 0) return;
    if (inner == 1) {
        for (size_t o = 0; o < outer; o++) {
            const float *r = x + o * (size_t)dim;
            float *w = y + o * (size_t)dim;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
            if (!log && dim <= W && short_row(dim, r, w)) continue;
#endif
            float mx = -INFINITY;
            for (int d = 0; d < dim; d++)
                if (r[d] > mx || isnan(r[d])) mx = r[d];
            float sum = exp_row((size_t)dim, r, mx, log ? NULL : w);
            if (log) {
                float ls = logf(sum);
                for (int d = 0; d < dim; d++) w[d] = r[d] - mx - ls;
            } else {
                float inv = 1.0f / sum;
                for (int d = 0; d < dim; d++) w[d] *= inv;
            }
        }
        return;
    }
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
                float e[CHUNK];
                float *dst = log ? e : w;
                exp_diff(nc, r, mx, dst);
                for (size_t j = 0; j < nc; j++) sum[j] += dst[j];
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
