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


/* row[0..kn): the raw scores of one query; its first vis keys become the
 * softmax of their scaled values (the max subtracted, the sum in 8 double
 * lanes), the rest 0. lse, when not NULL, gets the log of the sum of
 * exponentials (the backward's). scale > 0, so the scaled max is the max
 * scaled. */
static void softmax_row(float *row, int vis, int kn, float scale, float *lse)
{
    const float m = nnr_vrow_max(row, vis) * scale;
    exp_shifted(row, vis, scale, m);
    double sl[8] = {0}, sum = 0.0;
    int j = 0;
    for (; j + 8 <= vis; j += 8)
        for (int l = 0; l < 8; l++) sl[l] += row[j + l];
    for (; j < vis; j++) sl[j % 8] += row[j];
    for (int l = 0; l < 8; l++) sum += sl[l];
    const float inv = (float)(1.0 / sum);
    const NNR_VEC vi = NNR_VEC_SET1(inv);
    for (j = 0; j + NNR_VEC_WIDTH <= vis; j += NNR_VEC_WIDTH)
        NNR_VEC_STORE(row + j, NNR_VEC_MUL(NNR_VEC_LOAD(row + j), vi));
    for (; j < vis; j++) row[j] *= inv;
    for (j = vis; j < kn; j++) row[j] = 0.0f;
    if (lse)
        *lse = (float)((double)m + log(sum));
}

/* Keys query i sees. */
static int row_keys(int tk, int causal, int i)
{
    return causal && i + 1 < tk ? i + 1 : tk;
}

/* ---------------------------------------------------------------- one head's tiles */

/* A head whose widths e and ev are whole vectors runs its products with
 * the small register-blocked loops below instead of nnr_gemm_f32 (whose
 * packing cost more than the arithmetic at W8's 64x64x32 per head): MR
 * rows x NV vectors of accumulators, operands from L1. Padded columns of
 * the scores (past tk, up to a whole vector) are computed from zeroed
 * transposed rows and never read as probabilities. */
#define AT_MR 4
#define AT_NV 4
#if defined(__x86_64__) && !defined(__AVX512F__)
/* 16 vector registers (AVX2, SSE2): 4 x 4 accumulators and a broadcast
 * spill, so whole blocks of AT_MR2 rows run as 6 x 2 accumulators, the two
 * vectors of b in registers too, pair of vectors after pair; the blocking
 * changes no sum's order (the same bits) */
#define AT_PAIRS 1
#define AT_MR2 6
#else
/* rows of a block whose columns are at most 2 vectors (W8's heads of 32
 * at W = 16): 8 x 2 accumulators, not 4 x 2, keep both FMA pipes busy */
#define AT_PAIRS 0
#define AT_MR2 8
#endif
/* the blocks are inlined at each call with constant mr, nv (their
 * accumulators then live in registers) */
#if defined(__GNUC__)
#define AT_INLINE static inline __attribute__((always_inline))
#else
#define AT_INLINE static inline
#endif

static int tile_ok(int e, int ev) { return e % NNR_VEC_WIDTH == 0 && ev % NNR_VEC_WIDTH == 0; }

static int vround(int n) { return (n + NNR_VEC_WIDTH - 1) / NNR_VEC_WIDTH * NNR_VEC_WIDTH; }

/* bt[l][j] (rows of ldt = vround(n)) = b[j][l], j < n, l < k; zeros past n. */
static void tile_transpose(int n, int k, const float *b, int ldb, float *bt)
{
    const int ldt = vround(n);
    for (int l = 0; l < k; l++) {
        float *o = bt + (size_t)l * ldt;
        for (int j = 0; j < n; j++) o[j] = b[(size_t)j * ldb + l];
        for (int j = n; j < ldt; j++) o[j] = 0.0f;
    }
}

/* c[i][j0 + v·W ..] = Σ_l a[i][l]·bt[l][j0 + v·W ..] for mr rows, nv vectors. */
AT_INLINE void abt_block(int mr, int nv, int k, const float *a, int lda, const float *bt, int ldt,
                             float *c, int ldc)
{
    NNR_VEC acc[AT_MR2][AT_NV];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = NNR_VEC_ZERO();
    for (int l = 0; l < k; l++) {
        const float *b = bt + (size_t)l * ldt;
        NNR_VEC bv[AT_NV];
        for (int v = 0; v < nv; v++) bv[v] = NNR_VEC_LOAD(b + v * NNR_VEC_WIDTH);
        for (int i = 0; i < mr; i++) {
            const NNR_VEC ai = NNR_VEC_SET1(a[(size_t)i * lda + l]);
            for (int v = 0; v < nv; v++) acc[i][v] = NNR_VEC_FMA(ai, bv[v], acc[i][v]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) NNR_VEC_STORE(c + (size_t)i * ldc + v * NNR_VEC_WIDTH, acc[i][v]);
}

/* c [m, vround(n)] = a [m, k]·bᵀ with bt = tile_transpose(b) (rows of ldt); causal:
 * row i needs only columns < off + i + 1 (the rest are left unwritten or
 * hold products the caller masks). */
static void tile_abt(int m, int n, int k, const float *a, int lda, const float *bt, int ldt, float *c,
                     int ldc, int causal, int off)
{
    for (int i0 = 0; i0 < m;) {
        int mr = m - i0 < AT_MR ? m - i0 : AT_MR;
        int nn = causal && off + i0 + mr < n ? off + i0 + mr : n;
        if (m - i0 >= AT_MR2) {     /* AT_MR2 rows when their columns are at most 2
                                     * vectors (any number, by pairs, with AT_PAIRS) */
            const int nn8 = causal && off + i0 + AT_MR2 < n ? off + i0 + AT_MR2 : n;
            const int nv8 = vround(nn8) / NNR_VEC_WIDTH;
            if (nv8 >= 1 && (nv8 <= 2 || AT_PAIRS)) {
                const float *ai = a + (size_t)i0 * lda;
                for (int v0 = 0; v0 < nv8; v0 += 2) {
                    float *ci = c + (size_t)i0 * ldc + v0 * NNR_VEC_WIDTH;
                    const float *bj = bt + v0 * NNR_VEC_WIDTH;
                    if (nv8 - v0 >= 2) abt_block(AT_MR2, 2, k, ai, lda, bj, ldt, ci, ldc);
                    else abt_block(AT_MR2, 1, k, ai, lda, bj, ldt, ci, ldc);
                }
                i0 += AT_MR2;
                continue;
            }
        }
        const int nvec = vround(nn) / NNR_VEC_WIDTH;
        for (int v0 = 0; v0 < nvec; v0 += AT_NV) {
            const int nv = nvec - v0 < AT_NV ? nvec - v0 : AT_NV;
            const float *ai = a + (size_t)i0 * lda;
            float *ci = c + (size_t)i0 * ldc + v0 * NNR_VEC_WIDTH;
            const float *bj = bt + v0 * NNR_VEC_WIDTH;
            switch (mr < AT_MR ? 0 : nv) {
            case 4: abt_block(AT_MR, 4, k, ai, lda, bj, ldt, ci, ldc); break;
            case 3: abt_block(AT_MR, 3, k, ai, lda, bj, ldt, ci, ldc); break;
            case 2: abt_block(AT_MR, 2, k, ai, lda, bj, ldt, ci, ldc); break;
            case 1: abt_block(AT_MR, 1, k, ai, lda, bj, ldt, ci, ldc); break;
            default:
                for (int i = 0; i < mr; i++)   /* the last rows, one at a time */
                    abt_block(1, nv, k, ai + (size_t)i * lda, lda, bj, ldt, ci + (size_t)i * ldc, ldc);
            }
        }
        i0 += mr;
    }
}

/* c[i][w0 ..] (+)= Σ_{l in [lo, hi)} p(i, l)·b[l][w0 ..], p(i, l) = p[i·prs + l·pcs]. */
AT_INLINE void pb_block(int mr, int nv, int lo, int hi, const float *p, int prs, int pcs,
                            const float *b, int ldb, float *c, int ldc, int accumulate)
{
    NNR_VEC acc[AT_MR2][AT_NV];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = accumulate ? NNR_VEC_LOAD(c + (size_t)i * ldc + v * NNR_VEC_WIDTH) : NNR_VEC_ZERO();
    for (int l = lo; l < hi; l++) {
        const float *bl = b + (size_t)l * ldb;
        NNR_VEC bv[AT_NV];
        for (int v = 0; v < nv; v++) bv[v] = NNR_VEC_LOAD(bl + v * NNR_VEC_WIDTH);
        for (int i = 0; i < mr; i++) {
            const NNR_VEC pi = NNR_VEC_SET1(p[(size_t)i * prs + (size_t)l * pcs]);
            for (int v = 0; v < nv; v++) acc[i][v] = NNR_VEC_FMA(pi, bv[v], acc[i][v]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) NNR_VEC_STORE(c + (size_t)i * ldc + v * NNR_VEC_WIDTH, acc[i][v]);
}

/* c [m, w] (+)= P·b, P(i, l) = p[i·prs + l·pcs], l < n, b [n, w] (rows of
 * ldb, w whole vectors). The terms P is 0 at are skipped by rows: lower
 * (P(i, l) = 0 for l > off + i: a causal P·V) or upper (P(i, l) = 0 for
 * l < i - off: a causal Pᵀ·dY, rows being keys). */
enum { PB_FULL, PB_LOWER, PB_UPPER };
static void tile_pb(int m, int n, int w, const float *p, int prs, int pcs, const float *b, int ldb,
                    float *c, int ldc, int accumulate, int tri, int off)
{
    const int nvec = w / NNR_VEC_WIDTH;
    for (int i0 = 0; i0 < m;) {
        /* AT_MR2 rows when w is at most 2 vectors (any number, by pairs, with
         * AT_PAIRS), else (and for the last rows) AT_MR */
        const int mr = nvec >= 1 && (nvec <= 2 || AT_PAIRS) && m - i0 >= AT_MR2 ? AT_MR2
                       : m - i0 < AT_MR ? m - i0 : AT_MR;
        int lo = 0, hi = n;
        if (tri == PB_LOWER && off + i0 + mr < n) hi = off + i0 + mr;
        if (tri == PB_UPPER && i0 - off > 0) lo = i0 - off < n ? i0 - off : n;
        const float *pi = p + (size_t)i0 * prs;
        if (mr == AT_MR2) {
            for (int v0 = 0; v0 < nvec; v0 += 2) {
                float *ci = c + (size_t)i0 * ldc + v0 * NNR_VEC_WIDTH;
                const float *bj = b + v0 * NNR_VEC_WIDTH;
                if (nvec - v0 >= 2) pb_block(AT_MR2, 2, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate);
                else pb_block(AT_MR2, 1, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate);
            }
            i0 += mr;
            continue;
        }
        for (int v0 = 0; v0 < nvec; v0 += AT_NV) {
            const int nv = nvec - v0 < AT_NV ? nvec - v0 : AT_NV;
            float *ci = c + (size_t)i0 * ldc + v0 * NNR_VEC_WIDTH;
            const float *bj = b + v0 * NNR_VEC_WIDTH;
            switch (mr < AT_MR ? 0 : nv) {
            case 4: pb_block(AT_MR, 4, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate); break;
            case 3: pb_block(AT_MR, 3, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate); break;
            case 2: pb_block(AT_MR, 2, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate); break;
            case 1: pb_block(AT_MR, 1, lo, hi, pi, prs, pcs, bj, ldb, ci, ldc, accumulate); break;
            default:
                for (int i = 0; i < mr; i++)   /* the last rows, one at a time */
                    pb_block(1, nv, lo, hi, pi + (size_t)i * prs, prs, pcs, bj, ldb, ci + (size_t)i * ldc, ldc,
                             accumulate);
            }
        }
        i0 += mr;
    }
}

/* One head's operands: rows of ld floats (a head of a [t, heads·d] tensor
 * is its d columns at h·d, ld = heads·d; a fused [t, 3e] projection's
 * q, k, v have ld = 3e). */
typedef struct head_io {
    const float *q, *k, *v;
    int ldq, ldk, ldv;
} head_io;

/* Floats of one head's scratch: two blocks of scores (rows of
 * vround(tk)), the transposed keys and values. */
static size_t head_scratch(int tk, int e, int ev)
{
    return (2 * (size_t)NNR_ATTN_ROWS + (size_t)e + (size_t)ev) * (size_t)vround(tk);
}

/* One head's forward: y [tq, ev] (rows of ldy), lse [tq] or NULL; s:
 * head_scratch floats. */
static void head_forward(int tq, int tk, int e, int ev, int causal, head_io in, float *y, int ldy,
                         float *lse, float *s)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    const int tile = tile_ok(e, ev), ldt = vround(tk);
    float *kt = s + (size_t)2 * NNR_ATTN_ROWS * ldt;
    if (tile) tile_transpose(tk, e, in.k, in.ldk, kt);
    for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
        int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
        int kn = block_keys(tk, causal, i0, r), lds = tile ? ldt : kn;
        const float *qb = in.q + (size_t)i0 * in.ldq;
        if (tile) tile_abt(r, kn, e, qb, in.ldq, kt, ldt, s, lds, causal, i0);
        else nnr_gemm_f32(0, 1, r, kn, e, qb, in.ldq, in.k, in.ldk, s, kn, 0);
        for (int a = 0; a < r; a++)
            softmax_row(s + (size_t)a * lds, row_keys(tk, causal, i0 + a), kn, scale,
                        lse ? lse + i0 + a : NULL);
        if (tile)
            tile_pb(r, kn, ev, s, lds, 1, in.v, in.ldv, y + (size_t)i0 * ldy, ldy, 0,
                    causal ? PB_LOWER : PB_FULL, i0);
        else
            nnr_gemm_f32(0, 0, r, ev, kn, s, kn, in.v, in.ldv, y + (size_t)i0 * ldy, ldy, 0);
    }
}

void nnr_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                  const float *k, const float *v, float *y, float *lse)
{
    float *s = attn_scratch(head_scratch(tk, e, ev));
    for (int h = 0; h < bh; h++) {
        head_io in = {q + (size_t)h * tq * e, k + (size_t)h * tk * e, v + (size_t)h * tk * ev, e, e, ev};
        head_forward(tq, tk, e, ev, causal, in, y + (size_t)h * tq * ev, ev,
                     lse ? lse + (size_t)h * tq : NULL, s);
    }
    free(s);
}

/* The probabilities of a query block from its scores and log-sum-exps. */
static void block_probs(float *s, int lds, int r, int kn, int tk, int causal, int i0, float scale,
                        const float *lse)
{
    for (int a = 0; a < r; a++) {
        float *row = s + (size_t)a * lds;
        int vis = row_keys(tk, causal, i0 + a);
        exp_shifted(row, vis, scale, lse[i0 + a]);
        for (int j = vis; j < kn; j++) row[j] = 0.0f;
    }
}

/* One head's gradients (a block's dS in dp): dq, dk, dv (each may be NULL)
 * with the strides of in; y, dy rows of ldy. s: head_scratch floats. */
static void head_backward(int tq, int tk, int e, int ev, int causal, head_io in, const float *y,
                          const float *dy, int ldy, const float *lse, float *dq, float *dk, float *dv,
                          float *s)
{
    const float scale = (float)(1.0 / sqrt((double)e));
    const int tile = tile_ok(e, ev), ldt = vround(tk);
    float *dp = s + (size_t)NNR_ATTN_ROWS * ldt, *kt = dp + (size_t)NNR_ATTN_ROWS * ldt;
    float *vt = kt + (size_t)e * ldt;
    if (tile) {
        tile_transpose(tk, e, in.k, in.ldk, kt);
        tile_transpose(tk, ev, in.v, in.ldv, vt);
    }
    for (int j = 0; j < tk; j++) {
        if (dk) memset(dk + (size_t)j * in.ldk, 0, (size_t)e * sizeof *dk);
        if (dv) memset(dv + (size_t)j * in.ldv, 0, (size_t)ev * sizeof *dv);
    }
    for (int i0 = 0; i0 < tq; i0 += NNR_ATTN_ROWS) {
        int r = tq - i0 < NNR_ATTN_ROWS ? tq - i0 : NNR_ATTN_ROWS;
        int kn = block_keys(tk, causal, i0, r), lds = tile ? ldt : kn;
        const int up = causal ? PB_UPPER : PB_FULL, low = causal ? PB_LOWER : PB_FULL;
        const float *qb = in.q + (size_t)i0 * in.ldq, *dyb = dy + (size_t)i0 * ldy;
        if (tile) tile_abt(r, kn, e, qb, in.ldq, kt, ldt, s, lds, causal, i0);
        else nnr_gemm_f32(0, 1, r, kn, e, qb, in.ldq, in.k, in.ldk, s, kn, 0);
        block_probs(s, lds, r, kn, tk, causal, i0, scale, lse);
        if (dv && tile) tile_pb(kn, r, ev, s, 1, lds, dyb, ldy, dv, in.ldv, 1, up, i0);
        else if (dv) nnr_gemm_f32(1, 0, kn, ev, r, s, kn, dyb, ldy, dv, in.ldv, 1);
        if (!dq && !dk)
            continue;
        if (tile) tile_abt(r, kn, ev, dyb, ldy, vt, ldt, dp, lds, causal, i0);
        else nnr_gemm_f32(0, 1, r, kn, ev, dyb, ldy, in.v, in.ldv, dp, kn, 0);
        for (int a = 0; a < r; a++) {
            const float *ya = y + (size_t)(i0 + a) * ldy, *ga = dyb + (size_t)a * ldy;
            const int vis = row_keys(tk, causal, i0 + a);
            double dl[8] = {0}, dd = 0.0;     /* rowsum(dY ∘ Y) in 8 double lanes */
            int c = 0;
            for (; c + 8 <= ev; c += 8)
                for (int l = 0; l < 8; l++) dl[l] += (double)ga[c + l] * ya[c + l];
            for (; c < ev; c++) dl[c % 8] += (double)ga[c] * ya[c];
            for (int l = 0; l < 8; l++) dd += dl[l];
            float *pr = s + (size_t)a * lds, *dr = dp + (size_t)a * lds;
            for (int j = 0; j < vis; j++) dr[j] = pr[j] * (dr[j] - (float)dd) * scale;
            for (int j = vis; j < kn; j++) dr[j] = 0.0f;
        }
        if (dq && tile) tile_pb(r, kn, e, dp, lds, 1, in.k, in.ldk, dq + (size_t)i0 * in.ldq, in.ldq, 0, low, i0);
        else if (dq) nnr_gemm_f32(0, 0, r, e, kn, dp, kn, in.k, in.ldk, dq + (size_t)i0 * in.ldq, in.ldq, 0);
        if (dk && tile) tile_pb(kn, r, e, dp, 1, lds, qb, in.ldq, dk, in.ldk, 1, up, i0);
        else if (dk) nnr_gemm_f32(1, 0, kn, e, r, dp, kn, qb, in.ldq, dk, in.ldk, 1);
    }
}

void nnr_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                           const float *q, const float *k, const float *v, const float *y,
                           const float *lse, const float *dy, float *dq, float *dk, float *dv)
{
    float *s = attn_scratch(head_scratch(tk, e, ev));
    for (int h = 0; h < bh; h++) {
        head_io in = {q + (size_t)h * tq * e, k + (size_t)h * tk * e, v + (size_t)h * tk * ev, e, e, ev};
        head_backward(tq, tk, e, ev, causal, in, y + (size_t)h * tq * ev, dy + (size_t)h * tq * ev, ev,
                      lse + (size_t)h * tq, dq ? dq + (size_t)h * tq * e : NULL,
                      dk ? dk + (size_t)h * tk * e : NULL, dv ? dv + (size_t)h * tk * ev : NULL, s);
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
    float *sc = attn_scratch(head_scratch(s->tk, hd, hd));
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

/* When fused, the first of dq, dk, dv that is not NULL gets the whole
 * gradient of the one input (the sum of its three uses), the others zeros. */
void nnr_kern_mha_backward_f32(const nnr_kmha *s, int n, const float *q, const float *k,
                          const float *v, const float *p, const float *saved, const float *dy,
                          float *dq, float *dk, float *dv, float *dp)
{
    const int e = s->e, hd = s->e / s->heads, fused = mha_fused(s, q, k, v);
    const size_t ee = (size_t)e * e, nq = (size_t)n * s->tq * e, nk = (size_t)n * s->tk * e;
    const size_t blk = head_scratch(s->tk, hd, hd);
    mha_at a = mha_layout(s, n, p, (float *)saved, fused);
    float *dwo = dp + 3 * ee + (s->bias ? 3 * (size_t)e : 0), *dbo = s->bias ? dwo + ee : NULL;
    float *g = attn_scratch(2 * nq + 2 * nk + blk);
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
                          a.lse + ((size_t)b * s->heads + h) * s->tq, dqp + qo, dkp + ko, dvp + ko, sc);
        }
    if (fused) {
        float *dx = dq ? dq : dk ? dk : dv;
        nnr_linear_backward_f32(n * s->tq, e, 3 * e, q, a.w[0], dqp, dx, dp, s->bias ? dp + 3 * ee : NULL);
        if (dk && dk != dx) memset(dk, 0, nk * sizeof *dk);
        if (dv && dv != dx && dv != dk) memset(dv, 0, nk * sizeof *dv);
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
