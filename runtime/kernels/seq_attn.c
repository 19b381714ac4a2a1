/* seq_attn.c — scaled dot-product attention, forward and backward, a block
 * of NNR_ATTN_ROWS queries at a time: the block's scores S = Q·Kᵀ (one
 * GEMM), a softmax per row (keys past the query masked when causal, and
 * not even multiplied: a causal block stops at its last query's key), then
 * Y = P·V (one GEMM). The log-sum-exp of each row is kept, so the backward
 * recomputes P block by block instead of storing it (FlashAttention's
 * scheme): dP = dY·Vᵀ, dS = P ∘ (dP - rowsum(dY ∘ Y)), dQ = dS·K·scale,
 * dK += dSᵀ·Q·scale, dV += Pᵀ·dY. Scratch: two blocks of scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "../simd.h"

/* row[j] = exp(row[j]·scale - shift), j < n: simd.h's nnr_vexp (within
 * NNR_VMATH_EXP_ERR of the correctly rounded value; libm's scalar expf was
 * a tenth of W8's time outside the GEMMs), lane by lane, so an element's
 * value does not depend on its neighbours; the tail through a padded
 * vector. */
static void exp_shifted(float *row, int n, float scale, float shift)
{
    const NNR_VEC vs = NNR_VEC_SET1(scale), vm = NNR_VEC_SET1(shift);
    int j = 0;
    for (; j + NNR_VEC_WIDTH <= n; j += NNR_VEC_WIDTH)
        NNR_VEC_STORE(row + j, nnr_vexp(NNR_VEC_SUB(NNR_VEC_MUL(NNR_VEC_LOAD(row + j), vs), vm)));
    if (j < n) {
        float t[NNR_VEC_WIDTH] = {0};
        memcpy(t, row + j, (size_t)(n - j) * sizeof *t);
        NNR_VEC_STORE(t, nnr_vexp(NNR_VEC_SUB(NNR_VEC_MUL(NNR_VEC_LOAD(t), vs), vm)));
        memcpy(row + j, t, (size_t)(n - j) * sizeof *t);
    }
}

static float *attn_scratch(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fputs("nnr: out of memory in attention\n", stderr);
        abort();
    }
    return p;
}

/* Keys a query block [i0, i0 + r) reads: all tk, or up to its last query. */
static int block_keys(int tk, int causal, int i0, int r)
{
    return causal && i0 + r < tk ? i0 + r : tk;
}

/* row[0..kn): the scaled scores of one query; its first vis keys become
 * their softmax (max subtracted, the sum in double), the rest 0. lse, when
 * not NULL, gets the log of the sum of exponentials (the backward's). */
static void softmax_row(float *row, int vis, int kn, float scale, float *lse)
{
    float m = -INFINITY;
    for (int j = 0; j < vis; j++) {
        row[j] *= scale;
        if (row[j] > m) m = row[j];
    }
    exp_shifted(row, vis, 1.0f, m);
    double sum = 0.0;
    for (int j = 0; j < vis; j++) sum += row[j];
    const float inv = (float)(1.0 / sum);
    for (int j = 0; j < vis; j++) row[j] *= inv;
    for (int j = vis; j < kn; j++) row[j] = 0.0f;
    if (lse)
        *lse = (float)((double)m + log(sum));
}

/* Keys query i sees. */
static int row_keys(int tk, int causal, int i)
{
    return causal && i + 1 < tk ? i + 1 : tk;
}

void nnr_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                  const float *k, const float *v, float *y, float *lse)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    float *s = attn_scratch((size_t)NNR_ATTN_ROWS * (size_t)tk);
    for (int h = 0; h < bh; h++) {
        const float *qh = q + (size_t)h * tq * e, *kh = k + (size_t)h * tk * e;
        const float *vh = v + (size_t)h * tk * ev;
        float *yh = y + (size_t)h * tq * ev;
        for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
            int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
            int kn = block_keys(tk, causal, i0, r);
            nnr_gemm_f32(0, 1, r, kn, e, qh + (size_t)i0 * e, e, kh, e, s, kn, 0);
            for (int a = 0; a < r; a++)
                softmax_row(s + (size_t)a * kn, row_keys(tk, causal, i0 + a), kn, scale,
                            lse ? lse + (size_t)h * tq + i0 + a : NULL);
            nnr_gemm_f32(0, 0, r, ev, kn, s, kn, vh, ev, yh + (size_t)i0 * ev, ev, 0);
        }
    }
    free(s);
}

/* The probabilities of a query block from its scores and log-sum-exps. */
static void block_probs(float *s, int r, int kn, int tk, int causal, int i0, float scale,
                        const float *lse)
{
    for (int a = 0; a < r; a++) {
        float *row = s + (size_t)a * kn;
        int vis = row_keys(tk, causal, i0 + a);
        exp_shifted(row, vis, scale, lse[i0 + a]);
        for (int j = vis; j < kn; j++) row[j] = 0.0f;
    }
}

void nnr_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                           const float *q, const float *k, const float *v, const float *y,
                           const float *lse, const float *dy, float *dq, float *dk, float *dv)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    const size_t blk = (size_t)NNR_ATTN_ROWS * (size_t)tk;
    float *s = attn_scratch(2 * blk), *dp = s + blk;
    for (int h = 0; h < bh; h++) {
        const float *qh = q + (size_t)h * tq * e, *kh = k + (size_t)h * tk * e;
        const float *vh = v + (size_t)h * tk * ev, *yh = y + (size_t)h * tq * ev;
        const float *dyh = dy + (size_t)h * tq * ev, *lh = lse + (size_t)h * tq;
        float *dqh = dq ? dq + (size_t)h * tq * e : NULL;
        float *dkh = dk ? dk + (size_t)h * tk * e : NULL;
        float *dvh = dv ? dv + (size_t)h * tk * ev : NULL;
        if (dkh) memset(dkh, 0, (size_t)tk * e * sizeof *dkh);
        if (dvh) memset(dvh, 0, (size_t)tk * ev * sizeof *dvh);
        for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
            int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
            int kn = block_keys(tk, causal, i0, r);
            const float *qb = qh + (size_t)i0 * e, *dyb = dyh + (size_t)i0 * ev;
            nnr_gemm_f32(0, 1, r, kn, e, qb, e, kh, e, s, kn, 0);
            block_probs(s, r, kn, tk, causal, i0, scale, lh);
            if (dvh) nnr_gemm_f32(1, 0, kn, ev, r, s, kn, dyb, ev, dvh, ev, 1);
            if (!dqh && !dkh)
                continue;
            nnr_gemm_f32(0, 1, r, kn, ev, dyb, ev, vh, ev, dp, kn, 0);
            for (int a = 0; a < r; a++) {
                const float *ya = yh + (size_t)(i0 + a) * ev, *ga = dyb + (size_t)a * ev;
                double dd = 0.0;
                for (int c = 0; c < ev; c++) dd += (double)ga[c] * ya[c];
                float *pr = s + (size_t)a * kn, *dr = dp + (size_t)a * kn;
                for (int j = 0; j < kn; j++) dr[j] = pr[j] * (dr[j] - (float)dd) * scale;
            }
            if (dqh) nnr_gemm_f32(0, 0, r, e, kn, dp, kn, kh, e, dqh + (size_t)i0 * e, e, 0);
            if (dkh) nnr_gemm_f32(1, 0, kn, e, r, dp, kn, qb, e, dkh, e, 1);
        }
    }
    free(s);
}

/* ---------------------------------------------------------------- multi-head */

size_t nnr_kern_mha_saved(const nnr_kmha *s)
{
    return 3 * (size_t)s->tq * s->e + 2 * (size_t)s->tk * s->e + (size_t)s->heads * s->tq;
}

/* x [n, t, heads·d] <-> xh [n, heads, t, d] */
static void to_heads(int n, int t, int heads, int d, const float *x, float *xh)
{
    for (int b = 0; b < n; b++)
        for (int i = 0; i < t; i++)
            for (int h = 0; h < heads; h++)
                memcpy(xh + (((size_t)b * heads + h) * t + i) * d,
                       x + ((size_t)b * t + i) * (size_t)heads * d + (size_t)h * d, (size_t)d * sizeof *x);
}

static void from_heads(int n, int t, int heads, int d, const float *xh, float *x)
{
    for (int b = 0; b < n; b++)
        for (int i = 0; i < t; i++)
            for (int h = 0; h < heads; h++)
                memcpy(x + ((size_t)b * t + i) * (size_t)heads * d + (size_t)h * d,
                       xh + (((size_t)b * heads + h) * t + i) * d, (size_t)d * sizeof *x);
}

/* Where the parameters and the saved buffers are. */
typedef struct mha_at {
    const float *w[3], *b[3], *wo, *bo;
    float *qh, *kh, *vh, *oh, *o, *lse;
} mha_at;

static mha_at mha_layout(const nnr_kmha *s, int n, const float *p, float *sv)
{
    mha_at a;
    const size_t e = (size_t)s->e, ee = e * e;
    for (int j = 0; j < 3; j++) {
        a.w[j] = p + (size_t)j * ee;
        a.b[j] = s->bias ? p + 3 * ee + (size_t)j * e : NULL;
    }
    a.wo = p + 3 * ee + (s->bias ? 3 * e : 0);
    a.bo = s->bias ? a.wo + ee : NULL;
    const size_t nq = (size_t)n * s->tq * e, nk = (size_t)n * s->tk * e;
    a.qh = sv, a.kh = a.qh + nq, a.vh = a.kh + nk, a.oh = a.vh + nk, a.o = a.oh + nq;
    a.lse = a.o + nq;
    return a;
}

void nnr_kern_mha_f32(const nnr_kmha *s, int n, const float *q, const float *k, const float *v,
                 const float *p, float *y, float *saved)
{
    const int e = s->e, hd = s->e / s->heads, tmax = s->tq > s->tk ? s->tq : s->tk;
    float *own = saved ? NULL : attn_scratch((size_t)n * nnr_kern_mha_saved(s));
    float *tmp = attn_scratch((size_t)n * tmax * e);
    mha_at a = mha_layout(s, n, p, saved ? saved : own);
    const float *in[3] = {q, k, v};
    float *dst[3] = {a.qh, a.kh, a.vh};
    for (int j = 0; j < 3; j++) {
        int t = j ? s->tk : s->tq;
        nnr_linear_f32(n * t, e, e, in[j], a.w[j], a.b[j], tmp, NNR_ACT_NONE, 0.0f);
        to_heads(n, t, s->heads, hd, tmp, dst[j]);
    }
    nnr_sdpa_f32(n * s->heads, s->tq, s->tk, hd, hd, s->causal, a.qh, a.kh, a.vh, a.oh, a.lse);
    from_heads(n, s->tq, s->heads, hd, a.oh, a.o);
    nnr_linear_f32(n * s->tq, e, e, a.o, a.wo, a.bo, y, NNR_ACT_NONE, 0.0f);
    free(tmp);
    free(own);
}

void nnr_kern_mha_backward_f32(const nnr_kmha *s, int n, const float *q, const float *k,
                          const float *v, const float *p, const float *saved, const float *dy,
                          float *dq, float *dk, float *dv, float *dp)
{
    const int e = s->e, hd = s->e / s->heads, tmax = s->tq > s->tk ? s->tq : s->tk;
    const size_t ee = (size_t)e * e, nq = (size_t)n * s->tq * e, nk = (size_t)n * s->tk * e;
    mha_at a = mha_layout(s, n, p, (float *)saved);
    float *dwo = dp + 3 * ee + (s->bias ? 3 * (size_t)e : 0), *dbo = s->bias ? dwo + ee : NULL;
    float *g = attn_scratch(2 * nq + 2 * nk + (size_t)n * tmax * e);
    float *dqh = g, *dkh = dqh + nq, *dvh = dkh + nk, *doh = dvh + nk, *flat = doh + nq;
    nnr_linear_backward_f32(n * s->tq, e, e, a.o, a.wo, dy, flat, dwo, dbo);
    to_heads(n, s->tq, s->heads, hd, flat, doh);
    nnr_sdpa_backward_f32(n * s->heads, s->tq, s->tk, hd, hd, s->causal, a.qh, a.kh, a.vh, a.oh, a.lse,
                          doh, dqh, dkh, dvh);
    const float *in[3] = {q, k, v}, *dh[3] = {dqh, dkh, dvh};
    float *dx[3] = {dq, dk, dv};
    for (int j = 0; j < 3; j++) {
        int t = j ? s->tk : s->tq;
        from_heads(n, t, s->heads, hd, dh[j], flat);
        nnr_linear_backward_f32(n * t, e, e, in[j], a.w[j], flat, dx[j], dp + (size_t)j * ee,
                                s->bias ? dp + 3 * ee + (size_t)j * e : NULL);
    }
    free(g);
}

/* ---------------------------------------------------------------- cached step */

/* One head of n new queries at positions pos.. against cached keys and
 * values (rows of ld floats), as nnr_sdpa_f32 computes a row: the scores
 * by GEMM, the softmax in the same order, P·V by GEMM. s: scratch of
 * NNR_ATTN_ROWS x (pos + n) floats. */
static void attend_cached(int pos, int n, int e, int ev, const float *q, int ldq, const float *kc,
                          int ldk, const float *vc, int ldv, float *y, int ldy, float *s)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    for (int i0 = 0; i0 < n; i0 += NNR_ATTN_ROWS) {
        int r = n - i0 < NNR_ATTN_ROWS ? n - i0 : NNR_ATTN_ROWS, kn = pos + i0 + r;
        nnr_gemm_f32(0, 1, r, kn, e, q + (size_t)i0 * ldq, ldq, kc, ldk, s, kn, 0);
        for (int a = 0; a < r; a++)
            softmax_row(s + (size_t)a * kn, pos + i0 + a + 1, kn, scale, NULL);
        nnr_gemm_f32(0, 0, r, ev, kn, s, kn, vc, ldv, y + (size_t)i0 * ldy, ldy, 0);
    }
}

void nnr_sdpa_step_f32(int pos, int n, int e, int ev, const float *q, const float *k,
                       const float *v, float *kc, float *vc, float *y)
{
    memcpy(kc + (size_t)pos * e, k, (size_t)n * e * sizeof *k);
    memcpy(vc + (size_t)pos * ev, v, (size_t)n * ev * sizeof *v);
    float *s = attn_scratch((size_t)NNR_ATTN_ROWS * (size_t)(pos + n));
    attend_cached(pos, n, e, ev, q, e, kc, e, vc, ev, y, ev, s);
    free(s);
}

void nnr_kern_mha_step_f32(const nnr_kmha *s, int pos, int n, const float *q, const float *k,
                      const float *v, const float *p, float *kc, float *vc, float *y)
{
    const int e = s->e, hd = s->e / s->heads;
    const size_t ee = (size_t)e * e, ne = (size_t)n * e;
    const float *wo = p + 3 * ee + (s->bias ? 3 * (size_t)e : 0);
    float *qp = attn_scratch(2 * ne + (size_t)NNR_ATTN_ROWS * (size_t)(pos + n)), *o = qp + ne, *sc = o + ne;
    const float *in[3] = {q, k, v};
    float *dst[3] = {qp, kc + (size_t)pos * e, vc + (size_t)pos * e};
    for (int j = 0; j < 3; j++)
        nnr_linear_f32(n, e, e, in[j], p + (size_t)j * ee, s->bias ? p + 3 * ee + (size_t)j * e : NULL, dst[j],
                       NNR_ACT_NONE, 0.0f);
    for (int h = 0; h < s->heads; h++)
        attend_cached(pos, n, hd, hd, qp + (size_t)h * hd, e, kc + (size_t)h * hd, e, vc + (size_t)h * hd, e,
                      o + (size_t)h * hd, e, sc);
    nnr_linear_f32(n, e, e, o, wo, s->bias ? wo + ee : NULL, y, NNR_ACT_NONE, 0.0f);
    free(qp);
}
