/* conv.c — 2-D convolution (NCHW, weight [oc, c/groups, kh, kw], dilation)
 * by im2col + GEMM, one sample and one channel group (or, for few output
 * positions, a block of samples: see "batched") at a time through a
 * caller-provided scratch of nnr_kern_conv2d_scratch() floats; bias and
 * activation are fused into the GEMM epilogue. A 1x1, stride-1, unpadded
 * convolution skips im2col; a stride-1 one with few taps runs a direct
 * kernel instead (see "direct"); a depthwise one (one input channel per
 * group) runs its own direct loops (see "depthwise"). Backward, per group:
 * dW += dy_s·colᵀ, dcol = Wᵀ·dy_s then col2im (the same scratch), db = Σ dy.
 * im2col and col2im themselves are in im2col.c. */
#include <stddef.h>
#include <string.h>

#include "kern.h"
#include "../simd.h"

/* The convolution of one group of normalised t: c/groups channels in,
 * oc/groups out. */
static nnr_kconv group_shape(const nnr_kconv *t)
{
    nnr_kconv g = *t;
    g.c /= t->groups;
    g.oc /= t->groups;
    g.groups = 1;
    return g;
}

static int pointwise(const nnr_kconv *s)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 &&
           s->pw == 0 && s->oh == s->h && s->ow == s->w;
}

/* ---------------------------------------------------------------- direct
 * Stride-1 convolutions with few taps (c·kh·kw <= DC_MAX_K) and a small
 * product skip im2col: the sample is copied once into the scratch with its
 * zero padding (c planes of (h + 2ph) x (w + 2pw), then DC_SLACK zeros), and
 * each output row is covered by vectors of W outputs (the last one moved
 * back to end at ow; one vector with lanes past ow when ow < W). A block of
 * DC_OCB output channels x NV such vectors is accumulated in registers over
 * the taps in (c, ki, kj) order, each tap one load per vector and one
 * broadcast weight per channel — the same order and operations per element
 * as the GEMM (FMA from zero over k, then + bias, then the activation).
 * Lanes past ow spill into the following outputs, which are stored later
 * (rows and vectors go in increasing order); at the end of a plane they go
 * through a small buffer. */
#define DC_MAX_K 128
#define DC_OCB 4
#define DC_SLACK 16 /* >= NNR_VEC_WIDTH - 1: lanes past ow read beyond the plane */
#if NNR_VEC_WIDTH > DC_SLACK
#error "DC_SLACK must cover a vector"
#endif
/* products (multiply-adds per sample) from which the threaded GEMM is kept */
#define DC_MAX_MACS (1L << 20)

static int direct_ok(const nnr_kconv *s)
{
    long k = (long)s->c * s->kh * s->kw;
    return s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 && s->groups == 1 &&
           !pointwise(s) && k >= 1 && k <= DC_MAX_K &&
           s->ph >= 0 && s->pw >= 0 && s->oh == s->h + 2 * s->ph - s->kh + 1 &&
           s->ow == s->w + 2 * s->pw - s->kw + 1 && s->oh > 0 && s->ow > 0 &&
           k * s->oc * s->oh * s->ow < DC_MAX_MACS &&
           2 * s->ow > NNR_VEC_WIDTH; /* rows of at most half a vector: im2col + GEMM
                                         measured faster (AVX-512, ow 6/7 vs 9/10) */
}

static size_t direct_scratch(const nnr_kconv *s)
{
    return (size_t)s->c * (size_t)(s->h + 2 * s->ph) * (size_t)(s->w + 2 * s->pw) + DC_SLACK;
}

static int depthwise(const nnr_kconv *s)
{
    return s->groups > 1 && s->groups == s->c;
}

/* ---------------------------------------------------------------- batched
 * A convolution with few output positions (oh·ow well under the GEMM's
 * column tiles: W6's 7x7, W7's 8x8 and 4x4) leaves most of each tile's
 * lanes idle when it runs one sample at a time. Up to batch_samples() samples
 * then share one GEMM: their column matrices side by side (S·oh·ow columns,
 * rows S·oh·ow apart), so the forward and the data gradient are one product
 * per block of samples, and the weight gradient's product runs over the
 * block's S·oh·ow positions at once. The output (or dy) goes through the
 * scratch in the same [oc][S·oh·ow] layout. The block's column matrix is
 * never whole: the forward and dW take it a slice of taps at a time (im2col
 * of those rows, then their product, accumulating), dx a slice of channels
 * (their rows of dcol, then col2im), each slice about CB_SLICE_FLOATS so
 * that it is still in L2 when the GEMM reads it. Every output element gets
 * the same chain of operations as one sample at a time (FMA from zero over
 * k, then bias, then the activation; dW continuing its chain from the
 * previous samples'): slices start on the GEMM's k blocks and row tiles.
 * Not for groups > 1 nor pointwise convolutions. */
#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 16
#define TR_MR 8 /* gemm.c's MR: rows per micro-kernel tile */
#else
#define TR_MR 6
#endif
#define CB_COLS 384            /* columns wanted per product */
#define CB_MAX_COLS 1024       /* the most it may take to fill whole vectors */
#define CB_MAX_FLOATS (1L << 22) /* the scratch it may take (16 MiB) */

/* Samples per block: enough for CB_COLS columns, and more (up to
 * CB_MAX_COLS) when that makes S·oh·ow a multiple of the vector width, so
 * that the GEMM's last column panel has no idle lanes (W6's 14x14: 4
 * samples, 784 columns, rather than 196-column products whose 4-column
 * edge costs a whole vector; its 7x7: 16 samples rather than 7, 343). */
static int batch_samples(const nnr_kconv *s)
{
    const long ohw = (long)s->oh * s->ow, kg = (long)s->c * s->kh * s->kw;
    /* (a product too small for a full row tile gains nothing) */
    if (s->groups != 1 || pointwise(s) || ohw <= 0 || s->oc < 8 || kg < 8) return 1;
    /* (rows of whole vectors and enough columns: nothing to gain) */
    if (ohw * 2 > CB_COLS && ohw % NNR_VEC_WIDTH == 0) return 1;
    const long n0 = (CB_COLS + ohw - 1) / ohw, cap = CB_MAX_FLOATS / ((kg + s->oc) * ohw);
    long n = ohw * 2 <= CB_COLS ? n0 : 1;
    for (long t = n0 > 2 ? n0 : 2; t * ohw <= CB_MAX_COLS && t <= cap; t++)
        if (t * ohw % NNR_VEC_WIDTH == 0) {
            n = t;
            break;
        }
    if (n > cap) n = cap;
    return n > 1 ? (int)n : 1;
}

/* Taps (rows of the column matrix) per slice of a block of ld columns: a
 * multiple of the GEMM's k blocking (and so of its column tile, for dW),
 * about CB_SLICE_FLOATS floats. */
#define CB_SLICE_FLOATS (1L << 17) /* 512 KiB */

static int cb_slice(int kg, size_t ld)
{
    const long kc = nnr_gemm_kc();
    long r = CB_SLICE_FLOATS / ((long)ld * kc);
    r = (r < 1 ? 1 : r) * kc;
    return r < kg ? (int)r : kg;
}

/* Channels per slice of the data gradient's column matrix: about
 * CB_SLICE_FLOATS floats, whole row tiles of the GEMM (TR_MR rows). */
static int cb_unit(const nnr_kconv *s)
{
    int a = s->kh * s->kw, b = TR_MR;
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return TR_MR / a; /* lcm(kk, TR_MR) / kk */
}

static int cb_channels(const nnr_kconv *s, size_t ld)
{
    const int kk = s->kh * s->kw, u = cb_unit(s);
    long cs = CB_SLICE_FLOATS / ((long)ld * kk) / u * u;
    if (cs < u) cs = u;
    return cs < s->c ? (int)cs : s->c;
}

/* floats of the column matrix's slices for blocks of up to S samples
 * (each slice at most CB_SLICE_FLOATS, or one k block / channel unit) */
static size_t batch_col(const nnr_kconv *s, int S)
{
    const size_t ld = (size_t)S * s->oh * s->ow, kk = (size_t)s->kh * s->kw;
    size_t r = CB_SLICE_FLOATS, kc = (size_t)nnr_gemm_kc() * ld, cu = cb_unit(s) * kk * ld;
    r = kc > r ? kc : r;
    r = cu > r ? cu : r;
    return r < s->c * kk * ld ? r : s->c * kk * ld;
}

static size_t batch_scratch(const nnr_kconv *s, int sb)
{
    return batch_col(s, sb) + (size_t)s->oc * (size_t)sb * (size_t)s->oh * (size_t)s->ow;
}

/* y of samples [0, sb) (each [oc][ohw], ys apart) from / to the block
 * layout b [oc][sb·ohw] */
static void block_gather(const nnr_kconv *s, int sb, const float *y, size_t ys, float *b)
{
    const size_t ohw = (size_t)s->oh * s->ow, ld = ohw * sb;
    const int nth = nnr_kern_threads((double)ld * s->oc, NNR_COPY_PAR_MIN, s->oc);
    NNR_PAR_FOR(nth)
    for (int o = 0; o < s->oc; o++)
        for (int i = 0; i < sb; i++)
            memcpy(b + o * ld + i * ohw, y + i * ys + o * ohw, ohw * sizeof *b);
}

static void block_scatter(const nnr_kconv *s, int sb, const float *b, float *y, size_t ys)
{
    const size_t ohw = (size_t)s->oh * s->ow, ld = ohw * sb;
    const int nth = nnr_kern_threads((double)ld * s->oc, NNR_COPY_PAR_MIN, s->oc);
    NNR_PAR_FOR(nth)
    for (int o = 0; o < s->oc; o++)
        for (int i = 0; i < sb; i++)
            memcpy(y + i * ys + o * ohw, b + o * ld + i * ohw, ohw * sizeof *b);
}

/* forward of n samples, batch_samples(s) = S > 1 at a time: the column
 * matrix a slice of taps at a time, each slice's product accumulating into
 * the block's output (the bias and the activation with the last one) */
static void conv_batched(int n, int S, const nnr_kconv *s, const float *x,
                         const float *w, const float *b, float *y, nnr_act act,
                         float act_param, float *scratch)
{
    const int kg = s->c * s->kh * s->kw;
    const size_t ohw = (size_t)s->oh * s->ow, xs = (size_t)s->c * s->h * s->w;
    const size_t ys = (size_t)s->oc * ohw;
    float *col = scratch, *yb = scratch + batch_col(s, S);
    for (int i0 = 0; i0 < n; i0 += S) {
        const int sb = n - i0 < S ? n - i0 : S;
        const size_t ld = (size_t)sb * ohw;
        const int ks = cb_slice(kg, ld);
        for (int t0 = 0; t0 < kg; t0 += ks) {
            const int t1 = kg - t0 < ks ? kg : t0 + ks, last = t1 == kg;
            const int nth = nnr_kern_threads((double)ld * (t1 - t0), NNR_COPY_PAR_MIN, sb);
            NNR_PAR_FOR(nth)
            for (int i = 0; i < sb; i++)
                nnr_kern_im2col_rows_f32(s, x + (i0 + i) * xs, col + i * ohw, ld, t0, t1);
            nnr_gemm_ex_f32(0, 0, s->oc, (int)ld, t1 - t0, w + t0, kg, col, (int)ld, yb,
                            (int)ld, t0 > 0, last ? b : NULL, NULL, last ? act : NNR_ACT_NONE,
                            act_param);
        }
        block_scatter(s, sb, yb, y + i0 * ys, ys);
    }
}

/* backward of n samples, S > 1 at a time (db done by the caller): dW a
 * slice of taps (its columns) at a time, as the forward */
static void conv_batched_backward(int n, int S, const nnr_kconv *s, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *scratch)
{
    const int kg = s->c * s->kh * s->kw;
    const size_t ohw = (size_t)s->oh * s->ow, xs = (size_t)s->c * s->h * s->w;
    const size_t ys = (size_t)s->oc * ohw;
    float *col = scratch, *dyb = scratch + batch_col(s, S);
    for (int i0 = 0; i0 < n; i0 += S) {
        const int sb = n - i0 < S ? n - i0 : S;
        const size_t ld = (size_t)sb * ohw;
        const int ks = cb_slice(kg, ld);
        block_gather(s, sb, dy + i0 * ys, ys, dyb);
        for (int t0 = 0; dw && t0 < kg; t0 += ks) {
            const int t1 = kg - t0 < ks ? kg : t0 + ks;
            const int nth = nnr_kern_threads((double)ld * (t1 - t0), NNR_COPY_PAR_MIN, sb);
            NNR_PAR_FOR(nth)
            for (int i = 0; i < sb; i++)
                nnr_kern_im2col_rows_f32(s, x + (i0 + i) * xs, col + i * ohw, ld, t0, t1);
            nnr_gemm_f32(0, 1, s->oc, t1 - t0, (int)ld, dyb, (int)ld, col, (int)ld, dw + t0, kg,
                         i0 > 0);
        }
        /* dcol a slice of channels (its rows) at a time, each then
         * scattered into those channels of dx by col2im; slices of whole
         * row tiles of the GEMM */
        const int cs = cb_channels(s, ld);
        for (int c0 = 0; dx && c0 < s->c; c0 += cs) {
            nnr_kconv sc = *s;
            sc.c = s->c - c0 < cs ? s->c - c0 : cs;
            const int kk = s->kh * s->kw;
            nnr_gemm_f32(1, 0, sc.c * kk, (int)ld, s->oc, w + c0 * kk, kg, dyb, (int)ld, col,
                         (int)ld, 0);
            const int nth = nnr_kern_threads((double)ld * sc.c * kk, NNR_COPY_PAR_MIN, sb);
            NNR_PAR_FOR(nth)
            for (int i = 0; i < sb; i++)
                nnr_kern_col2im_ld_f32(&sc, col + i * ohw,
                                       dx + (i0 + i) * xs + (size_t)c0 * s->h * s->w, ld);
        }
    }
}

/* ---------------------------------------------------------------- transposed
 * One sample with few output positions and many output channels (W6's
 * last convolution at batch 1: 49 positions, 512 channels, so 49 columns
 * in tiles of 32): the product runs transposed, yᵀ [ohw x oc] = colᵀ · Wᵀ
 * (positions as rows, the weight packed as a linear layer's), the bias as
 * a column bias and the activation fused, then yᵀ is transposed into y.
 * The rows are padded to a multiple of the micro-kernel's (they read the
 * col slack after the last row; their results are dropped) so that every
 * element is one chain of FMAs from zero over k, then bias, then the
 * activation: the bits of the untransposed product, whose row tiles must
 * then all be full-width (oc % TR_MR 0 or >= 4, see gemm.c's ukr1). */

static int transposed_ok(const nnr_kconv *s)
{
    const long ohw = (long)s->oh * s->ow;
    return s->groups == 1 && !pointwise(s) && ohw > 0 && ohw * 2 <= CB_COLS && s->oc >= 32 &&
           (s->oc % TR_MR == 0 || s->oc % TR_MR >= 4) && s->c * s->kh * s->kw >= 32;
}

static size_t transposed_rows(const nnr_kconv *s)
{
    return ((size_t)s->oh * s->ow + TR_MR - 1) / TR_MR * TR_MR;
}

static size_t transposed_scratch(const nnr_kconv *s)
{
    const size_t kg = (size_t)s->c * s->kh * s->kw, m = transposed_rows(s);
    return kg * (size_t)s->oh * s->ow + m + m * (size_t)s->oc;
}

/* w: the weight [oc, kg] (the GEMM packs its panels on every call), or
 * NULL and wpk: those panels packed once (nnr_pack_linear_weight_f32 of w;
 * the same bits) */
static void conv_transposed(const nnr_kconv *s, const float *x, const float *w,
                            const float *wpk, const float *b, float *y, nnr_act act,
                            float act_param, float *scratch)
{
    const int kg = s->c * s->kh * s->kw, ohw = s->oh * s->ow, m = (int)transposed_rows(s);
    float *col = scratch, *yt = scratch + (size_t)kg * ohw + m;
    nnr_kern_im2col_f32(s, x, col);
    for (int i = 0; i < m; i++) col[(size_t)kg * ohw + i] = 0.0f; /* the padding rows' slack */
    if (w)
        nnr_gemm_ex_f32(1, 1, m, s->oc, kg, col, ohw, w, kg, yt, s->oc, 0, NULL, b, act, act_param);
    else
        nnr_gemm_packed_b_f32(1, m, s->oc, kg, col, ohw, wpk, yt, s->oc, NULL, b, act, act_param);
    for (int o = 0; o < s->oc; o++) {
        float *yo = y + (size_t)o * ohw;
        const float *t = yt + o;
        for (int j = 0; j < ohw; j++) yo[j] = t[(size_t)j * s->oc];
    }
}

/* the weight gradient [oc x kg] of a convolution with few taps and many
 * output channels, as the GEMM's columns, would fill few lanes of its
 * tiles: it runs transposed (oc as columns) when it is not batched */
static int narrow_dw(const nnr_kconv *s)
{
    const int kg = s->c * s->kh * s->kw;
    return s->groups == 1 && kg < 16 && s->oc >= 32 && batch_samples(s) == 1;
}

size_t nnr_kern_conv2d_scratch(const nnr_kconv *s0)
{
    const nnr_kconv t = nnr_kconv_norm(s0), *s = &t;
    size_t k = (size_t)(s->c / s->groups) * (size_t)s->kh * (size_t)s->kw;
    size_t sz = k * (size_t)s->oh * (size_t)s->ow;
    const int S = batch_samples(s);
    if (S > 1 && batch_scratch(s, S) > sz) sz = batch_scratch(s, S);
    if (transposed_ok(s) && transposed_scratch(s) > sz) sz = transposed_scratch(s);
    if (narrow_dw(s) && k * ((size_t)s->oh * s->ow + (size_t)s->oc) > sz) /* col, dWᵀ */
        sz = k * ((size_t)s->oh * s->ow + (size_t)s->oc);
    if (direct_ok(s) && direct_scratch(s) > sz) sz = direct_scratch(s);
    if (nnr_conv_small_ok(s) && nnr_conv_small_scratch(s) > sz) sz = nnr_conv_small_scratch(s);
    if (depthwise(s)) {     /* one padded plane */
        size_t p = (size_t)(s->h + 2 * s->ph) * (size_t)(s->w + 2 * s->pw);
        if (p > sz) sz = p;
    }
    return sz ? sz : 1;
}

/* d[0..n) = s[0..n) in vectors (a memcpy call costs more at these lengths) */
static void copy_row(float *d, const float *s, int n)
{
    int i = 0;
    for (; i + NNR_VEC_WIDTH <= n; i += NNR_VEC_WIDTH) NNR_VEC_STORE(d + i, NNR_VEC_LOAD(s + i));
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
    }
#else
    for (; i < n; i++) d[i] = s[i];
#endif
}

static void pad_copy(const nnr_kconv *s, const float *x, float *xp)
{
    const int hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw;
    const size_t len = (size_t)s->c * hp * wp + DC_SLACK;
    /* zeros everywhere first (vector stores: a loop of them is not turned
     * into a memset call), then the rows */
    size_t i = 0;
    for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH) NNR_VEC_STORE(xp + i, NNR_VEC_ZERO());
    for (; i < len; i++) xp[i] = 0.0f;
    for (int ci = 0; ci < s->c; ci++) {
        const float *xc = x + (size_t)ci * s->h * s->w;
        float *d = xp + ((size_t)ci * hp + s->ph) * wp + s->pw;
        for (int iy = 0; iy < s->h; iy++, d += wp) copy_row(d, xc + (size_t)iy * s->w, s->w);
    }
}

typedef struct {
    const float *xp;     /* padded input */
    const int *off;      /* [k] tap offsets into xp */
    int k, ow, nvr, wp;  /* taps, output width, vectors per row, padded width */
    size_t ohw;
} dc_ctx;

/* Vector j of the plane: its first input (padded) and output positions. */
static void dc_pos(const dc_ctx *c, int j, ptrdiff_t *pin, ptrdiff_t *pout)
{
    int oy = j / c->nvr, jj = j % c->nvr, ox0 = 0;
    if (c->ow >= NNR_VEC_WIDTH) {
        ox0 = jj * NNR_VEC_WIDTH;
        if (ox0 > c->ow - NNR_VEC_WIDTH) ox0 = c->ow - NNR_VEC_WIDTH;
    }
    *pin = (ptrdiff_t)oy * c->wp + ox0;
    *pout = (ptrdiff_t)oy * c->ow + ox0;
}

static void dc_store(float *yo, ptrdiff_t pout, size_t ohw, const float *t)
{
    size_t len = ohw - (size_t)pout;
    memcpy(yo + pout, t, (len < NNR_VEC_WIDTH ? len : NNR_VEC_WIDTH) * sizeof *t);
}

/* DC_OCB channels (wr: their weight rows; only the first ocb are stored) x
 * NV vectors from vector j0. relu: fused; other activations come after. */
#define DC_KERNEL(NAME, NV)                                                              \
    static void NAME(const dc_ctx *c, const float *const *wr, const float *bias, int ocb, \
                     int j0, int relu, float *const *yo)                                 \
    {                                                                                    \
        ptrdiff_t pin[NV], pout[NV];                                                     \
        NNR_VEC acc[DC_OCB][NV];                                                         \
        for (int v = 0; v < NV; v++) dc_pos(c, j0 + v, &pin[v], &pout[v]);              \
        for (int o = 0; o < DC_OCB; o++)                                                 \
            for (int v = 0; v < NV; v++) acc[o][v] = NNR_VEC_ZERO();                     \
        const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];                  \
        for (int t = 0; t < c->k; t++) {                                                 \
            const float *xt = c->xp + c->off[t];                                         \
            NNR_VEC b0 = NNR_VEC_SET1(w0[t]), b1 = NNR_VEC_SET1(w1[t]);                  \
            NNR_VEC b2 = NNR_VEC_SET1(w2[t]), b3 = NNR_VEC_SET1(w3[t]);                  \
            for (int v = 0; v < NV; v++) {                                               \
                NNR_VEC xv = NNR_VEC_LOAD(xt + pin[v]);                                  \
                acc[0][v] = NNR_VEC_FMA(b0, xv, acc[0][v]);                              \
                acc[1][v] = NNR_VEC_FMA(b1, xv, acc[1][v]);                              \
                acc[2][v] = NNR_VEC_FMA(b2, xv, acc[2][v]);                              \
                acc[3][v] = NNR_VEC_FMA(b3, xv, acc[3][v]);                              \
            }                                                                            \
        }                                                                                \
        if (bias)                                                                        \
            for (int o = 0; o < DC_OCB; o++) {                                           \
                NNR_VEC bv = NNR_VEC_SET1(bias[o < ocb ? o : ocb - 1]);                  \
                for (int v = 0; v < NV; v++) acc[o][v] = NNR_VEC_ADD(acc[o][v], bv);     \
            }                                                                            \
        if (relu)                                                                        \
            for (int o = 0; o < DC_OCB; o++)                                             \
                for (int v = 0; v < NV; v++)                                             \
                    acc[o][v] = NNR_VEC_MAX(NNR_VEC_ZERO(), acc[o][v]);                  \
        if (ocb == DC_OCB && (size_t)pout[NV - 1] + NNR_VEC_WIDTH <= c->ohw) {           \
            for (int o = 0; o < DC_OCB; o++)                                             \
                for (int v = 0; v < NV; v++) NNR_VEC_STORE(yo[o] + pout[v], acc[o][v]);  \
            return;                                                                      \
        }                                                                                \
        /* (constant indices only, so that acc stays in registers) */                    \
        float t[DC_OCB][NV][NNR_VEC_WIDTH];                                              \
        for (int o = 0; o < DC_OCB; o++)                                                 \
            for (int v = 0; v < NV; v++) NNR_VEC_STORE(t[o][v], acc[o][v]);              \
        for (int o = 0; o < ocb; o++)                                                    \
            for (int v = 0; v < NV; v++) dc_store(yo[o], pout[v], c->ohw, t[o][v]);      \
    }

/* vectors per block: 4 x 4 accumulators with 32 vector registers, 4 x 2
 * with 16 */
#if NNR_VEC_WIDTH >= 16
#define DC_NV 4
DC_KERNEL(dc_kernel6, 6)
DC_KERNEL(dc_kernel4, 4)
#else
#define DC_NV 2
#endif
DC_KERNEL(dc_kernel2, 2)
DC_KERNEL(dc_kernel1, 1)

static void conv_direct(const nnr_kconv *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param, float *scratch)
{
    const int k = s->c * s->kh * s->kw, hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw;
    int off[DC_MAX_K];
    for (int ci = 0, t = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) off[t++] = (ci * hp + ki) * wp + kj;
    pad_copy(s, x, scratch);
    dc_ctx c = {scratch, off, k, s->ow, 1, wp, (size_t)s->oh * s->ow};
    if (s->ow >= NNR_VEC_WIDTH) c.nvr = (s->ow + NNR_VEC_WIDTH - 1) / NNR_VEC_WIDTH;
    const int nv = s->oh * c.nvr, relu = act == NNR_ACT_RELU;
    for (int o0 = 0; o0 < s->oc; o0 += DC_OCB) {
        const int ocb = s->oc - o0 < DC_OCB ? s->oc - o0 : DC_OCB;
        const float *wr[DC_OCB];
        float *yo[DC_OCB];
        for (int o = 0; o < DC_OCB; o++) {
            int oo = o0 + (o < ocb ? o : ocb - 1);
            wr[o] = w + (size_t)oo * k;
            yo[o] = y + (size_t)oo * c.ohw;
        }
        const float *bo = b ? b + o0 : NULL;
        int j = 0;
#if DC_NV >= 4
        for (; j + 6 <= nv; j += 6) dc_kernel6(&c, wr, bo, ocb, j, relu, yo);
        for (; j + 4 <= nv; j += 4) dc_kernel4(&c, wr, bo, ocb, j, relu, yo);
#endif
        for (; j + 2 <= nv; j += 2) dc_kernel2(&c, wr, bo, ocb, j, relu, yo);
        for (; j < nv; j++) dc_kernel1(&c, wr, bo, ocb, j, relu, yo);
    }
    if (act != NNR_ACT_NONE && !relu)
        nnr_act_f32(act, act_param, (size_t)s->oc * c.ohw, y, y);
}

/* ---------------------------------------------------------------- depthwise
 * One input channel per group (groups == c; oc = m·c): each input plane is
 * copied once with its zero padding into the scratch, then each of its m
 * output planes is accumulated row by row, tap by tap (ki, kj order, as the
 * GEMM's k), a contiguous run of the padded row per tap when the stride is
 * 1 (vectorised by the compiler); then the bias and the activation. */
static void depthwise_plane(const nnr_kconv *s, const float *xp, const float *wo,
                            float bias, float *yo)
{
    const int wp = s->w + 2 * s->pw;
    for (int oy = 0; oy < s->oh; oy++) {
        float *yr = yo + (size_t)oy * s->ow;
        for (int ox = 0; ox < s->ow; ox++) yr[ox] = 0.0f;
        for (int ki = 0; ki < s->kh; ki++) {
            const float *xr = xp + (size_t)(oy * s->sh + ki * s->dh) * wp;
            for (int kj = 0; kj < s->kw; kj++) {
                const float wv = wo[ki * s->kw + kj];
                const float *xt = xr + kj * s->dw;
                if (s->sw == 1)
                    for (int ox = 0; ox < s->ow; ox++) yr[ox] += wv * xt[ox];
                else
                    for (int ox = 0; ox < s->ow; ox++) yr[ox] += wv * xt[ox * s->sw];
            }
        }
        if (bias != 0.0f)
            for (int ox = 0; ox < s->ow; ox++) yr[ox] += bias;
    }
}

static void conv_depthwise(const nnr_kconv *s, const float *x, const float *w,
                           const float *b, float *y, nnr_act act, float act_param,
                           float *scratch)
{
    const int m = s->oc / s->c, hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    for (int ci = 0; ci < s->c; ci++) {
        memset(scratch, 0, (size_t)hp * wp * sizeof *scratch);
        for (int iy = 0; iy < s->h; iy++)
            memcpy(scratch + (size_t)(iy + s->ph) * wp + s->pw, x + ci * hw + (size_t)iy * s->w,
                   (size_t)s->w * sizeof *x);
        for (int j = 0; j < m; j++) {
            const int o = ci * m + j;
            float *yo = y + (size_t)o * ohw;
            depthwise_plane(s, scratch, w + (size_t)o * s->kh * s->kw, b ? b[o] : 0.0f, yo);
            if (act != NNR_ACT_NONE) nnr_act_f32(act, act_param, ohw, yo, yo);
        }
    }
}

/* ---------------------------------------------------------------- entry points */

/* Σ r[0..n): two vector accumulators, their lanes summed, then the scalar
 * tail (one scalar chain was the bias gradient's whole cost: a 4-cycle add
 * per element) */
static float row_sum(const float *r, int n)
{
    NNR_VEC a0 = NNR_VEC_ZERO(), a1 = NNR_VEC_ZERO();
    int j = 0;
    for (; j + 2 * NNR_VEC_WIDTH <= n; j += 2 * NNR_VEC_WIDTH) {
        a0 = NNR_VEC_ADD(a0, NNR_VEC_LOAD(r + j));
        a1 = NNR_VEC_ADD(a1, NNR_VEC_LOAD(r + j + NNR_VEC_WIDTH));
    }
    for (; j + NNR_VEC_WIDTH <= n; j += NNR_VEC_WIDTH) a0 = NNR_VEC_ADD(a0, NNR_VEC_LOAD(r + j));
    float acc = nnr_vsum(NNR_VEC_ADD(a0, a1));
    for (; j < n; j++) acc += r[j];
    return acc;
}

void nnr_kern_conv2d_f32(int n, const nnr_kconv *s0, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param,
                    float *scratch)
{
    const nnr_kconv t = nnr_kconv_norm(s0), *s = &t, gs = group_shape(s);
    const int G = s->groups, kg = gs.c * s->kh * s->kw, ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * ohw;
    const size_t xg = (size_t)gs.c * s->h * s->w, yg = (size_t)gs.oc * ohw;
    const int pw = pointwise(&gs), S = batch_samples(s);
    if (nnr_conv_small_ok(s)) { /* few channels, small planes: conv_small.c */
        nnr_conv_small_f32(n, s, x, w, b, y, act, act_param, scratch);
        return;
    }
    if (direct_ok(s)) { /* ranges of samples across threads, each its own scratch */
        const size_t ds = (direct_scratch(s) + 15) / 16 * 16, room = nnr_kern_conv2d_scratch(s);
        const long most = (long)(room / ds);
        const int nth = nnr_kern_threads((double)n * kg * ys, NNR_MAC_PAR_MIN, n < most ? n : most);
        NNR_PAR_FOR(nth)
        for (int t = 0; t < nth; t++)
            for (int i = (int)((long)n * t / nth); i < (int)((long)n * (t + 1) / nth); i++)
                conv_direct(s, x + i * xs, w, b, y + i * ys, act, act_param, scratch + t * ds);
        return;
    }
    if (depthwise(s)) {
        for (int i = 0; i < n; i++)
            conv_depthwise(s, x + i * xs, w, b, y + i * ys, act, act_param, scratch);
        return;
    }
    if (S > 1 && n > 1) {
        conv_batched(n, S, s, x, w, b, y, act, act_param, scratch);
        return;
    }
    if (n == 1 && transposed_ok(s)) {
        conv_transposed(s, x, w, NULL, b, y, act, act_param, scratch);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < G; gi++) {
            const float *col = x + i * xs + gi * xg;
            if (!pw) {
                nnr_kern_im2col_f32(&gs, col, scratch);
                col = scratch;
            }
            nnr_gemm_ex_f32(0, 0, gs.oc, ohw, kg, w + (size_t)gi * gs.oc * kg, kg, col, ohw,
                            y + i * ys + gi * yg, ohw, 0, b ? b + gi * gs.oc : NULL, NULL, act,
                            act_param);
        }
}

void nnr_kern_conv2d_backward_f32(int n, const nnr_kconv *s0, const float *x,
                             const float *w, const float *dy, float *dx, float *dw,
                             float *db, float *scratch)
{
    const nnr_kconv t = nnr_kconv_norm(s0), *s = &t, gs = group_shape(s);
    const int G = s->groups, kg = gs.c * s->kh * s->kw, ohw = s->oh * s->ow;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * ohw;
    const size_t xg = (size_t)gs.c * s->h * s->w, yg = (size_t)gs.oc * ohw;
    const size_t wg = (size_t)gs.oc * kg;
    const int pw = pointwise(&gs), S = batch_samples(s);
    if (dw && n <= 0) memset(dw, 0, (size_t)s->oc * kg * sizeof *dw);
    if (db) { /* channels across threads; each sums its samples in order */
        const int nth = nnr_kern_threads((double)n * ys, NNR_COPY_PAR_MIN, s->oc);
        NNR_PAR_FOR(nth)
        for (int o = 0; o < s->oc; o++) {
            float acc = 0.0f;
            for (int i = 0; i < n; i++) acc += row_sum(dy + i * ys + (size_t)o * ohw, ohw);
            db[o] = acc;
        }
    }
    if (nnr_conv_small_ok(s)) {
        nnr_conv_small_backward_f32(n, s, x, w, dy, dx, dw, scratch);
        return;
    }
    if (S > 1 && n > 1) {
        conv_batched_backward(n, S, s, x, w, dy, dx, dw, scratch);
        return;
    }
    /* a weight gradient only a few columns wide (W6's first conv: 128 x 9)
     * runs transposed, dWᵀ [kg x oc] in the scratch, then copied to dw */
    float *dwt = narrow_dw(s) ? scratch + (size_t)kg * ohw : NULL;
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < G; gi++) {
            const float *dys = dy + i * ys + gi * yg, *xgp = x + i * xs + gi * xg;
            if (dw) {
                const float *col = xgp;
                if (!pw) {
                    nnr_kern_im2col_f32(&gs, xgp, scratch);
                    col = scratch;
                }
                if (dwt)
                    nnr_gemm_f32(0, 1, kg, gs.oc, ohw, col, ohw, dys, ohw, dwt, gs.oc, i > 0);
                else
                    nnr_gemm_f32(0, 1, gs.oc, kg, ohw, dys, ohw, col, ohw, dw + gi * wg, kg,
                                 i > 0);
            }
            if (dx) {
                float *dxg = dx + i * xs + gi * xg;
                if (pw) {
                    nnr_gemm_f32(1, 0, kg, ohw, gs.oc, w + gi * wg, kg, dys, ohw, dxg, ohw, 0);
                } else {
                    nnr_gemm_f32(1, 0, kg, ohw, gs.oc, w + gi * wg, kg, dys, ohw, scratch, ohw, 0);
                    nnr_kern_col2im_f32(&gs, scratch, dxg);
                }
            }
        }
    if (dw && dwt && n > 0)
        for (int o = 0; o < s->oc; o++)
            for (int t = 0; t < kg; t++) dw[(size_t)o * kg + t] = dwt[(size_t)t * s->oc + o];
}

/* ---------------------------------------------------------------- panels
 * Pre-packed weights for the batch-1 transposed product (nnr.h, nnc's
 * prepack, packed=oi+panel): [the GEMM's B panels of w (nnr_pack_linear_
 * weight_f32 of w as [oc][kg]) | w itself]. A batch of one sample runs
 * conv_transposed on the panels, which the GEMM would otherwise repack on
 * every call (9% of W6's batch-1 inference: 4.7 MB for its 7x7 layer);
 * larger batches run nnr_kern_conv2d_f32 on w. The bits are those of
 * nnr_kern_conv2d_f32 at every n. nnr_kern_conv2d_panel_ok is the same for
 * every ISA (the compiler asks it): whether some ISA's batch of one may run
 * transposed; panels_taken is this ISA's answer, the one
 * nnr_kern_conv2d_f32 gives. */
static int panels_taken(const nnr_kconv *s)
{
    return !nnr_conv_small_ok(s) && !direct_ok(s) && !depthwise(s) && transposed_ok(s);
}

int nnr_kern_conv2d_panel_ok(const nnr_kconv *s0)
{
    const nnr_kconv t = nnr_kconv_norm(s0), *s = &t;
    const long ohw = (long)s->oh * s->ow;
    const int r8 = s->oc % 8, r6 = s->oc % 6; /* gemm.c's MR on each ISA */
    return !nnr_conv_small_ok(s) && s->groups == 1 && !pointwise(s) && ohw > 0 &&
           ohw * 2 <= CB_COLS && s->oc >= 32 && (r8 == 0 || r8 >= 4 || r6 == 0 || r6 >= 4) &&
           s->c * s->kh * s->kw >= 32;
}

size_t nnr_conv_panel_size(int k, int oc)
{
    return nnr_linear_packed_size(k, oc) + (size_t)(k > 0 ? k : 0) * (size_t)(oc > 0 ? oc : 0);
}

void nnr_pack_conv_panel_f32(int k, int oc, const float *w, float *wp)
{
    const size_t z = nnr_linear_packed_size(k, oc);
    nnr_pack_linear_weight_f32(k, oc, w, wp);
    if (k > 0 && oc > 0) memcpy(wp + z, w, (size_t)k * (size_t)oc * sizeof *w);
}

void nnr_kern_conv2d_panel_f32(int n, const nnr_kconv *s0, const float *x, const float *wp,
                               const float *b, float *y, nnr_act act, float act_param,
                               float *scratch)
{
    const nnr_kconv t = nnr_kconv_norm(s0);
    const int k = t.c * t.kh * t.kw;
    if (n == 1 && panels_taken(&t))
        conv_transposed(&t, x, NULL, wp, b, y, act, act_param, scratch);
    else
        nnr_kern_conv2d_f32(n, s0, x, wp + nnr_linear_packed_size(k, t.oc), b, y, act, act_param,
                            scratch);
}
