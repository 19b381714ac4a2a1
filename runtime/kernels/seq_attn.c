/* seq_attn.c — scaled dot-product attention, forward and backward, a block
 * of NNR_ATTN_ROWS queries at a time: the block's scores S = Q·Kᵀ (one
 * GEMM), a softmax per row (keys past the query masked when causal, and
 * not even multiplied: a causal block stops at its last query's key), then
 * Y = P·V (one GEMM). The log-sum-exp of each row is kept, so the backward
 * recomputes P block by block instead of storing it (FlashAttention's
 * scheme): dP = dY·Vᵀ, dS = P ∘ (dP - rowsum(dY ∘ Y)), dQ = dS·K·scale,
 * dK += dSᵀ·Q·scale, dV += Pᵀ·dY. Scratch: two blocks of scores.
 * Multi-head attention reads each head in place by its strides (no split
 * or merge copies), and self-attention projects q, k, v by one GEMM. */
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

/* One head's operands: rows of ld floats (a head of a [t, heads·d] tensor
 * is its d columns at h·d, ld = heads·d; a fused [t, 3e] projection's
 * q, k, v have ld = 3e). */
typedef struct head_io {
    const float *q, *k, *v;
    int ldq, ldk, ldv;
} head_io;

/* One head's forward: y [tq, ev] (rows of ldy), lse [tq] or NULL; s:
 * scratch of NNR_ATTN_ROWS x tk floats. */
static void head_forward(int tq, int tk, int e, int ev, int causal, head_io in, float *y, int ldy,
                         float *lse, float *s)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
        int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
        int kn = block_keys(tk, causal, i0, r);
        nnr_gemm_f32(0, 1, r, kn, e, in.q + (size_t)i0 * in.ldq, in.ldq, in.k, in.ldk, s, kn, 0);
        for (int a = 0; a < r; a++)
            softmax_row(s + (size_t)a * kn, row_keys(tk, causal, i0 + a), kn, scale,
                        lse ? lse + i0 + a : NULL);
        nnr_gemm_f32(0, 0, r, ev, kn, s, kn, in.v, in.ldv, y + (size_t)i0 * ldy, ldy, 0);
    }
}

void nnr_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                  const float *k, const float *v, float *y, float *lse)
{
    float *s = attn_scratch((size_t)NNR_ATTN_ROWS * (size_t)tk);
    for (int h = 0; h < bh; h++) {
        head_io in = {q + (size_t)h * tq * e, k + (size_t)h * tk * e, v + (size_t)h * tk * ev, e, e, ev};
        head_forward(tq, tk, e, ev, causal, in, y + (size_t)h * tq * ev, ev,
                     lse ? lse + (size_t)h * tq : NULL, s);
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

/* One head's gradients (a block's dS in dp): dq, dk, dv (each may be NULL)
 * with the strides of in; y, dy rows of ldy. s, dp: scratch of
 * NNR_ATTN_ROWS x tk floats each. */
static void head_backward(int tq, int tk, int e, int ev, int causal, head_io in, const float *y,
                          const float *dy, int ldy, const float *lse, float *dq, float *dk, float *dv,
                          float *s, float *dp)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    for (int j = 0; j < tk; j++) {
        if (dk) memset(dk + (size_t)j * in.ldk, 0, (size_t)e * sizeof *dk);
        if (dv) memset(dv + (size_t)j * in.ldv, 0, (size_t)ev * sizeof *dv);
    }
    for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
        int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
        int kn = block_keys(tk, causal, i0, r);
        const float *qb = in.q + (size_t)i0 * in.ldq, *dyb = dy + (size_t)i0 * ldy;
        nnr_gemm_f32(0, 1, r, kn, e, qb, in.ldq, in.k, in.ldk, s, kn, 0);
        block_probs(s, r, kn, tk, causal, i0, scale, lse);
        if (dv) nnr_gemm_f32(1, 0, kn, ev, r, s, kn, dyb, ldy, dv, in.ldv, 1);
        if (!dq && !dk)
            continue;
        nnr_gemm_f32(0, 1, r, kn, ev, dyb, ldy, in.v, in.ldv, dp, kn, 0);
        for (int a = 0; a < r; a++) {
            const float *ya = y + (size_t)(i0 + a) * ldy, *ga = dyb + (size_t)a * ldy;
            double dd = 0.0;
            for (int c = 0; c < ev; c++) dd += (double)ga[c] * ya[c];
            float *pr = s + (size_t)a * kn, *dr = dp + (size_t)a * kn;
            for (int j = 0; j < kn; j++) dr[j] = pr[j] * (dr[j] - (float)dd) * scale;
        }
        if (dq) nnr_gemm_f32(0, 0, r, e, kn, dp, kn, in.k, in.ldk, dq + (size_t)i0 * in.ldq, in.ldq, 0);
        if (dk) nnr_gemm_f32(1, 0, kn, e, r, dp, kn, qb, in.ldq, dk, in.ldk, 1);
    }
}

void nnr_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                           const float *q, const float *k, const float *v, const float *y,
                           const float *lse, const float *dy, float *dq, float *dk, float *dv)
{
    const size_t blk = (size_t)NNR_ATTN_ROWS * (size_t)tk;
    float *s = attn_scratch(2 * blk);
    for (int h = 0; h < bh; h++) {
        head_io in = {q + (size_t)h * tq * e, k + (size_t)h * tk * e, v + (size_t)h * tk * ev, e, e, ev};
        head_backward(tq, tk, e, ev, causal, in, y + (size_t)h * tq * ev, dy + (size_t)h * tq * ev, ev,
                      lse + (size_t)h * tq, dq ? dq + (size_t)h * tq * e : NULL,
                      dk ? dk + (size_t)h * tk * e : NULL, dv ? dv + (size_t)h * tk * ev : NULL, s, s + blk);
    }
    free(s);
}

/* ---------------------------------------------------------------- multi-head */

size_t nnr_kern_mha_saved(const nnr_kmha *s)
{
    return 2 * (size_t)s->tq * s->e + 2 * (size_t)s->tk * s->e + (size_t)s->heads * s->tq;
}

/* Self-attention (one tensor as q, k and v, tq = tk): its three projections
 * are one [n·t, 3e] GEMM (in_proj_weight is [3e, e]) and its three input
 * gradients one. */
static int mha_fused(const nnr_kmha *s, const float *q, const float *k, const float *v)
{
    return q == k && k == v && s->tq == s->tk;
}

/* Where the parameters and the saved buffers are. The projections are
 * kept unsplit, [n, t, e] (or one [n, t, 3e] when fused: q at column 0, k
 * at e, v at 2e), a head being hd columns of them; o [n, tq, e] is the
 * heads' output, merged by its strides; lse [n, heads, tq]. */
typedef struct mha_at {
    const float *w[3], *b[3], *wo, *bo;
    float *qp, *kp, *vp, *o, *lse;
    int ldq, ldk, ldv;
} mha_at;

static mha_at mha_layout(const nnr_kmha *s, int n, const float *p, float *sv, int fused)
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
    if (fused) {
        a.qp = sv, a.kp = sv + e, a.vp = sv + 2 * e;
        a.ldq = a.ldk = a.ldv = 3 * s->e;
    } else {
        a.qp = sv, a.kp = a.qp + nq, a.vp = a.kp + nk;
        a.ldq = a.ldk = a.ldv = s->e;
    }
    a.o = sv + nq + 2 * nk;
    a.lse = a.o + nq;
    return a;
}

/* Head h of sample b of the projections a holds. */
static head_io mha_head(const nnr_kmha *s, const mha_at *a, int b, int h)
{
    const int hd = s->e / s->heads;
    head_io in = {a->qp + (size_t)b * s->tq * a->ldq + (size_t)h * hd,
                  a->kp + (size_t)b * s->tk * a->ldk + (size_t)h * hd,
                  a->vp + (size_t)b * s->tk * a->ldv + (size_t)h * hd, a->ldq, a->ldk, a->ldv};
    return in;
}

void nnr_kern_mha_f32(const nnr_kmha *s, int n, const float *q, const float *k, const float *v,
                 const float *p, float *y, float *saved)
{
    const int e = s->e, hd = s->e / s->heads, fused = mha_fused(s, q, k, v);
    float *own = saved ? NULL : attn_scratch((size_t)n * nnr_kern_mha_saved(s));
    float *sc = attn_scratch((size_t)NNR_ATTN_ROWS * (size_t)s->tk);
    mha_at a = mha_layout(s, n, p, saved ? saved : own, fused);
    if (fused) {
        nnr_linear_f32(n * s->tq, e, 3 * e, q, a.w[0], a.b[0], a.qp, NNR_ACT_NONE, 0.0f);
    } else {
        const float *in[3] = {q, k, v};
        float *dst[3] = {a.qp, a.kp, a.vp};
        for (int j = 0; j < 3; j++)
            nnr_linear_f32(n * (j ? s->tk : s->tq), e, e, in[j], a.w[j], a.b[j], dst[j], NNR_ACT_NONE, 0.0f);
    }
    for (int b = 0; b < n; b++)
        for (int h = 0; h < s->heads; h++)
            head_forward(s->tq, s->tk, hd, hd, s->causal, mha_head(s, &a, b, h),
                         a.o + (size_t)b * s->tq * e + (size_t)h * hd, e,
                         a.lse + ((size_t)b * s->heads + h) * s->tq, sc);
    nnr_linear_f32(n * s->tq, e, e, a.o, a.wo, a.bo, y, NNR_ACT_NONE, 0.0f);
    free(sc);
    free(own);
}

/* When fused, dq gets the whole gradient of the one input (the sum of its
 * three uses) and dk, dv (when not NULL) zeros. */
void nnr_kern_mha_backward_f32(const nnr_kmha *s, int n, const float *q, const float *k,
                          const float *v, const float *p, const float *saved, const float *dy,
                          float *dq, float *dk, float *dv, float *dp)
{
    const int e = s->e, hd = s->e / s->heads, fused = mha_fused(s, q, k, v) && dq;
    const size_t ee = (size_t)e * e, nq = (size_t)n * s->tq * e, nk = (size_t)n * s->tk * e;
    const size_t blk = (size_t)NNR_ATTN_ROWS * (size_t)s->tk;
    mha_at a = mha_layout(s, n, p, (float *)saved, fused);
    float *dwo = dp + 3 * ee + (s->bias ? 3 * (size_t)e : 0), *dbo = s->bias ? dwo + ee : NULL;
    float *g = attn_scratch(2 * nq + 2 * nk + 2 * blk);
    float *dob = g, *dqp = dob + nq, *dkp = fused ? dqp + e : dqp + nq, *dvp = fused ? dqp + 2 * e : dkp + nk;
    float *sc = g + 2 * nq + 2 * nk;
    nnr_linear_backward_f32(n * s->tq, e, e, a.o, a.wo, dy, dob, dwo, dbo);
    for (int b = 0; b < n; b++)
        for (int h = 0; h < s->heads; h++) {
            head_io in = mha_head(s, &a, b, h);
            const size_t ob = (size_t)b * s->tq * e + (size_t)h * hd;
            const size_t qo = (size_t)b * s->tq * a.ldq + (size_t)h * hd;
            const size_t ko = (size_t)b * s->tk * a.ldk + (size_t)h * hd;
            head_backward(s->tq, s->tk, hd, hd, s->causal, in, a.o + ob, dob + ob, e,
                          a.lse + ((size_t)b * s->heads + h) * s->tq, dqp + qo, dkp + ko, dvp + ko, sc,
                          sc + blk);
        }
    if (fused) {
        nnr_linear_backward_f32(n * s->tq, e, 3 * e, q, a.w[0], dqp, dq, dp, s->bias ? dp + 3 * ee : NULL);
        if (dk && dk != dq) memset(dk, 0, nk * sizeof *dk);
        if (dv && dv != dq && dv != dk) memset(dv, 0, nk * sizeof *dv);
    } else {
        const float *in[3] = {q, k, v}, *dh[3] = {dqp, dkp, dvp};
        float *dx[3] = {dq, dk, dv};
        for (int j = 0; j < 3; j++)
            nnr_linear_backward_f32(n * (j ? s->tk : s->tq), e, e, in[j], a.w[j], dh[j], dx[j],
                                    dp + (size_t)j * ee, s->bias ? dp + 3 * ee + (size_t)j * e : NULL);
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
