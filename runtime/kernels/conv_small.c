/* conv_small.c — direct 2-D convolution for few channels and small planes
 * (W7's 16/32 channels on 8x8 and 4x4): no im2col, no GEMM. Output channels
 * are vectorised (NNR_VEC_WIDTH of them in one register), the weight is
 * packed per call as wt[tap][ocp] (ocp: oc rounded up to a vector, zeros
 * past oc), each sample is copied once into a zero-padded plane, and a tile
 * of SC_P output positions x SC_NB channel vectors is accumulated in
 * registers over the taps (ci, ki, kj) with one broadcast input value per
 * position: y = act(Σ_t w[o][t]·x_t + b[o]), one FMA chain from zero per
 * element in tap order, then the bias, then the activation (the order of the
 * GEMM path). The tile goes out through a small transposing buffer.
 * Backward: the data gradient is the same kernel run on dy padded by
 * k - 1 - p, with the weight flipped and its channels swapped (dx[c] sums
 * over (oc, ki, kj): a different order of the same products than the GEMM +
 * col2im path); at stride 2 it runs once per phase of the input positions
 * (row and column parity) with only the taps that reach that phase, and the
 * phases are interleaved into dx (no products with a spread dy's zeros); the
 * weight gradient
 * accumulates dWᵀ[tap][oc] over the samples and their positions (dy moved
 * to [position][oc] per sample), one FMA chain per element in sample then
 * position order. Chosen by nnr_kern_conv2d_f32 / nnr_kern_conv2d_backward_f32
 * (conv.c) through nnr_conv_small_ok. The backward kernels are in
 * conv_small_bwd.c, what both share in conv_small.h. */
#include <stddef.h>
#include <string.h>

#include "conv_small.h"

/* GCC's predictive commoning carries the input values of one tap over to
 * the next (stride 1: x[o + q + 1] is the next tap's x[o + q]) in
 * registers, and broadcasts them from there: a shuffle per FMA, where a
 * broadcast straight from memory ({1to16}) costs a load, not a shuffle
 * (more uops on the shuffle port than the FMAs leave it). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-predictive-commoning")
#endif


int nnr_conv_small_ok(const nnr_kconv *s)
{
    return s->groups == 1 && s->dh == 1 && s->dw == 1 && s->c >= 1 && s->c <= SC_MAXC &&
           s->oc >= 1 && s->oc <= SC_MAXC && s->h <= SC_MAXHW && s->w <= SC_MAXHW &&
           s->kh == s->kw && (s->kh == 1 || s->kh == 3) && s->sh == s->sw &&
           (s->sh == 1 || s->sh == 2) && s->ph >= 0 && s->pw >= 0 && s->ph < s->kh &&
           s->pw < s->kw && s->oh > 0 && s->ow > 0 &&
           s->oh == (s->h + 2 * s->ph - s->kh) / s->sh + 1 &&
           s->ow == (s->w + 2 * s->pw - s->kw) / s->sw + 1;
}


size_t nnr_conv_small_scratch(const nnr_kconv *s)
{
    const int k = s->c * s->kh * s->kw, kb = s->oc * s->kh * s->kw;
    const size_t fwd = pad16(s->c, s->h + 2 * s->ph, s->w + 2 * s->pw) +
                       (size_t)k * up16(s->oc) + tb_floats(s->oh * s->ow, s->oc);
    /* data gradient: dy padded, the flipped weight (stride 2: by phases) */
    const size_t bx = s->sh == 1 ? pad16(s->oc, s->h + s->kh - 1, s->w + s->kw - 1) +
                                       (size_t)kb * up16(s->c) + tb_floats(s->h * s->w, s->c)
                                 : nnr_sc_data_grad_st_scratch(s);
    /* weight gradient: padded x, dy as [position][ocp], dWᵀ */
    const size_t bw = pad16(s->c, s->h + 2 * s->ph, s->w + 2 * s->pw) +
                      (size_t)s->oh * s->ow * up16(s->oc) + (size_t)k * up16(s->oc);
    size_t m = fwd > bx ? fwd : bx;
    return m > bw ? m : bw;
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* r[i][j] -> r[j][i] (16 x 16) */
static inline void tr16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
    }
}

static __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
#endif

/* d[jj][i] = s[i][j] for i < rows, j < cols, with jj = j, or cols - 1 - j
 * when flip; with pad, d[jj][rows .. ceil_v(rows)) = 0 too */
void nnr_sc_transpose(const float *s, int rows, int cols, size_t lds, float *d, size_t ldd,
                      int flip, int pad)
{
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16) {
            __m512 r[16];
            const __mmask16 mj = lanes(cols - j0), mi = lanes(pad ? 16 : rows - i0);
            for (int i = 0; i < 16; i++)
                r[i] = i0 + i < rows ? _mm512_maskz_loadu_ps(mj, s + (size_t)(i0 + i) * lds + j0)
                                     : _mm512_setzero_ps();
            tr16(r);
            for (int j = 0; j < 16 && j0 + j < cols; j++) {
                const int jj = flip ? cols - 1 - (j0 + j) : j0 + j;
                _mm512_mask_storeu_ps(d + (size_t)jj * ldd + i0, mi, r[j]);
            }
        }
#else
    const int re = pad ? ceil_v(rows) : rows;
    for (int j = 0; j < cols; j++) {
        float *dr = d + (size_t)(flip ? cols - 1 - j : j) * ldd;
        for (int i = 0; i < re; i++) dr[i] = i < rows ? s[(size_t)i * lds + j] : 0.0f;
    }
#endif
}

/* wt[t][o] = w[o][t] (o < oc), 0 for oc <= o < ocp */
static void pack_wt(const float *w, int oc, int k, int ocp, float *wt)
{
    nnr_sc_transpose(w, oc, k, (size_t)k, wt, (size_t)ocp, 0, 1);
}

/* d[0..n) = s[0..n) in vectors (a memcpy call costs more at these lengths) */
static void copy_row(float *d, const float *s, int n)
{
    int i = 0;
    for (; i + SC_V <= n; i += SC_V) NNR_VEC_STORE(d + i, NNR_VEC_LOAD(s + i));
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    /* 8 and 4 by plain stores (a masked store costs more here) */
    if (i + 8 <= n) {
        _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
        i += 8;
    }
    if (i + 4 <= n) {
        _mm_storeu_ps(d + i, _mm_loadu_ps(s + i));
        i += 4;
    }
#endif
    for (; i < n; i++) d[i] = s[i];
}

/* p[0..len) = 0 by vector stores (a loop of them is not turned into a
 * memset call) */
void nnr_sc_zero_floats(float *p, size_t len)
{
    size_t i = 0;
    for (; i + SC_V <= len; i += SC_V) NNR_VEC_STORE(p + i, NNR_VEC_ZERO());
    for (; i < len; i++) p[i] = 0.0f;
}

/* x [c][h][w] into xp [c][hp][wp] at (py, px), every other position 0
 * (zeroed when zero; the later samples of a call write only the interior) */
void nnr_sc_pad_plane(int c, int h, int w, const float *x, int hp, int wp, int py, int px,
                      float *xp, int zero)
{
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (wp <= 16 && zero) { /* each padded row by one masked load and one masked store
                             * (later samples: only the interior rows, below) */
        const __mmask16 mrow = lanes(wp), min = (__mmask16)(lanes(px + w) & ~lanes(px));
        for (int ci = 0; ci < c; ci++)
            for (int iy = 0; iy < hp; iy++) {
                const int sy = iy - py;
                const __m512 v = sy >= 0 && sy < h
                                     ? _mm512_maskz_loadu_ps(min, x + ((size_t)ci * h + sy) * w - px)
                                     : _mm512_setzero_ps();
                _mm512_mask_storeu_ps(xp + ((size_t)ci * hp + iy) * wp, mrow, v);
            }
        if (zero) nnr_sc_zero_floats(xp + (size_t)c * hp * wp, SC_V);
        return;
    }
#elif SC_AVX2
    if (wp <= 16) { /* each padded row by masked loads and whole stores (rows in order:
                     * a row's stores past wp are overwritten by the next row's, the
                     * last ones land in the zeroed slack of SC_V floats) */
        /* the lanes of columns [px, px + w) of a padded row's two vectors */
        const __m256i m0 = _mm256_andnot_si256(nnr_mask8(px), nnr_mask8(px + w));
        const __m256i m1 = _mm256_andnot_si256(nnr_mask8(px - 8), nnr_mask8(px + w - 8));
        for (int ci = 0; ci < c; ci++)
            for (int iy = 0; iy < hp; iy++) {
                const int sy = iy - py;
                float *d = xp + ((size_t)ci * hp + iy) * wp;
                __m256 v0 = _mm256_setzero_ps(), v1 = v0;
                if (sy >= 0 && sy < h) {
                    const float *r = x + ((size_t)ci * h + sy) * w - px;
                    v0 = _mm256_maskload_ps(r, m0);
                    v1 = _mm256_maskload_ps(r + 8, m1);
                }
                _mm256_storeu_ps(d, v0);
                if (wp > 8) _mm256_storeu_ps(d + 8, v1);
            }
        const size_t len = (size_t)c * hp * wp; /* the slack after the last row */
        for (size_t i = len; i < pad_floats(c, hp, wp); i++) xp[i] = 0.0f;
        (void)zero;
        return;
    }
#endif
    if (zero) nnr_sc_zero_floats(xp, pad_floats(c, hp, wp));
    for (int ci = 0; ci < c; ci++)
        for (int iy = 0; iy < h; iy++)
            copy_row(xp + ((size_t)ci * hp + py + iy) * wp + px, x + ((size_t)ci * h + iy) * w, w);
}

/* The tile's sums, shared by SC_RQ and SC_RT: acc[b·R·Q + r·Q + q] for
 * NB channel vectors from ob and R x Q outputs from (oy0, ox0) at stride
 * ST, over the taps in (ci, ki, kj) order, one FMA chain from zero each;
 * every input address a constant offset from one pointer per row. */
#define SC_TILE_SUMS(NB, R, Q, ST) SC_TILE_SUMS_KW(NB, R, Q, ST, g->kw)
#define SC_TILE_SUMS_KW(NB, R, Q, ST, KW)                                                  \
        NNR_VEC acc[NB * R * Q];                                                            \
        for (int i = 0; i < NB * R * Q; i++) acc[i] = NNR_VEC_ZERO();                       \
        const float *xr[R]; /* one base register per row, the tap an index */            \
        for (int r = 0; r < R; r++)                                                         \
            xr[r] = g->xp + ((size_t)(oy0 + r) * g->wp + ox0) * ST;                         \
        const float *wt = g->wt + (size_t)ob * SC_V;                                        \
        /* the taps in (ci, ki, kj) order, their offsets counted on the way */              \
        for (ptrdiff_t rb = 0, ce = (ptrdiff_t)g->c * g->hp * g->wp; rb < ce;              \
             rb += (ptrdiff_t)(g->hp - g->kh) * g->wp)                                      \
            for (int ki = 0; ki < g->kh; ki++, rb += g->wp)                                 \
                for (int kj = 0; kj < KW; kj++, wt += g->ocp) {                             \
                    const ptrdiff_t o = rb + kj;                                            \
                    NNR_VEC wv[NB];                                                         \
                    for (int b = 0; b < NB; b++) wv[b] = NNR_VEC_LOAD(wt + b * SC_V);       \
                    for (int r = 0; r < R; r++)                                             \
                        for (int q = 0; q < Q; q++) {                                       \
                            NNR_VEC xv = NNR_VEC_SET1(xr[r][o + q * ST]);                   \
                            for (int b = 0; b < NB; b++)                                    \
                                acc[b * R * Q + r * Q + q] =                                \
                                    NNR_VEC_FMA(wv[b], xv, acc[b * R * Q + r * Q + q]);     \
                        }                                                                   \
                }

#if !SC_AVX2
/* SC_P positions from p0 (the last ones repeated past ohw) x NB channel
 * vectors from ob: accumulate, add the bias, relu if asked, and store the
 * positions < np of the channels < oc into y [oc][ohw]. */
#define SC_TILE(NAME, NB)                                                                  \
    static void NAME(const sc_geo *g, const int *toff, int p0, int ob, const float *bias,   \
                     int oc, int relu, float *y)                                            \
    {                                                                                       \
        const int ohw = g->oh * g->ow;                                                      \
        int pofs[SC_P], np = ohw - p0 < SC_P ? ohw - p0 : SC_P;                             \
        for (int p = 0; p < SC_P; p++) {                                                    \
            int q = p0 + (p < np ? p : np - 1), oy = q / g->ow, ox = q % g->ow;             \
            pofs[p] = oy * g->st * g->wp + ox * g->st;                                      \
        }                                                                                   \
        NNR_VEC acc[NB][SC_P];                                                              \
        for (int b = 0; b < NB; b++)                                                        \
            for (int p = 0; p < SC_P; p++) acc[b][p] = NNR_VEC_ZERO();                      \
        const float *wt = g->wt + (size_t)ob * SC_V;                                        \
        for (int t = 0; t < g->k; t++, wt += g->ocp) {                                      \
            const float *xt = g->xp + toff[t];                                              \
            NNR_VEC wv[NB];                                                                 \
            for (int b = 0; b < NB; b++) wv[b] = NNR_VEC_LOAD(wt + b * SC_V);               \
            for (int p = 0; p < SC_P; p++) {                                                \
                NNR_VEC xv = NNR_VEC_SET1(xt[pofs[p]]);                                     \
                for (int b = 0; b < NB; b++) acc[b][p] = NNR_VEC_FMA(wv[b], xv, acc[b][p]); \
            }                                                                               \
        }                                                                                   \
        float tmp[SC_P][SC_V];                                                              \
        const int rl = relu && !g->res; /* with a residual, relu after adding it */         \
        for (int b = 0; b < NB; b++) {                                                      \
            NNR_VEC bv = bias ? NNR_VEC_LOAD(bias + (size_t)(ob + b) * SC_V) : NNR_VEC_ZERO(); \
            for (int p = 0; p < SC_P; p++) {                                                \
                NNR_VEC r = acc[b][p];                                                      \
                if (bias) r = NNR_VEC_ADD(r, bv);                                           \
                if (rl) r = NNR_VEC_MAX(r, NNR_VEC_ZERO());                                 \
                NNR_VEC_STORE(tmp[p], r);                                                   \
            }                                                                               \
            const int o0 = (ob + b) * SC_V, no = oc - o0 < SC_V ? oc - o0 : SC_V;           \
            for (int o = 0; o < no; o++) {                                                  \
                float *yo = y + (size_t)(o0 + o) * ohw + p0;                                \
                if (g->res) {                                                               \
                    const float *ro = g->res + (size_t)(o0 + o) * ohw + p0;                 \
                    for (int p = 0; p < np; p++) {                                          \
                        const float v = tmp[p][o] + ro[p];                                  \
                        yo[p] = relu && !(v > 0.0f) ? 0.0f : v;                             \
                    }                                                                       \
                } else {                                                                    \
                    for (int p = 0; p < np; p++) yo[p] = tmp[p][o];                         \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

SC_TILE(sc_tile1, 1)
SC_TILE(sc_tile2, 2)

/* The tile's epilogue: bias, relu if asked, then the channels < oc of
 * acc [NB][P] (P = R x Q positions from (oy0, ox0), P <= SC_P) stored
 * through tmp into y [oc][oh][ow]. */
static void sc_store(const sc_geo *g, NNR_VEC *acc, int nb, int R, int Q, int oy0, int ox0,
                     int ob, const float *bias, int oc, int relu, float *y)
{
    float tmp[SC_MAXP][SC_V];
    const int P = R * Q, ohw = g->oh * g->ow;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (nb * P == 16) { /* one 16 x 16 transpose: r[o] lane b·P + p = channel (ob + b)·16 + o */
        __m512 r[16];
        for (int b = 0; b < nb; b++) {
            const __m512 bv = bias ? _mm512_loadu_ps(bias + (size_t)(ob + b) * 16) : _mm512_setzero_ps();
            for (int p = 0; p < P; p++) {
                __m512 v = acc[b * P + p];
                if (bias) v = _mm512_add_ps(v, bv);
                if (relu && !g->res) v = _mm512_max_ps(v, _mm512_setzero_ps());
                r[b * P + p] = v;
            }
        }
        tr16(r);
        const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        const int whole = Q == g->ow; /* the tile's rows contiguous in y */
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < 16; o++) {
                const int ch = (ob + b) * 16 + o;
                if (ch >= oc) break;
                const size_t at = (size_t)ch * ohw + (size_t)oy0 * g->ow + ox0;
                float *yo = y + at;
                for (int rr = 0; rr < (whole ? 1 : R); rr++) {
                    const int l0 = b * P + rr * Q;
                    const __mmask16 m = lanes(whole ? P : Q);
                    __m512 v =
                        l0 ? _mm512_permutexvar_ps(_mm512_add_epi32(iota, _mm512_set1_epi32(l0)), r[o])
                           : r[o];
                    if (g->res) { /* the residual, then the relu */
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, g->res + at + (size_t)rr * g->ow));
                        if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
                    }
                    _mm512_mask_storeu_ps(yo + (size_t)rr * g->ow, m, v);
                }
            }
        return;
    }
#endif
    for (int b = 0; b < nb; b++) {
        NNR_VEC bv = bias ? NNR_VEC_LOAD(bias + (size_t)(ob + b) * SC_V) : NNR_VEC_ZERO();
        for (int p = 0; p < P; p++) {
            NNR_VEC r = acc[b * P + p];
            if (bias) r = NNR_VEC_ADD(r, bv);
            if (relu && !g->res) r = NNR_VEC_MAX(r, NNR_VEC_ZERO());
            NNR_VEC_STORE(tmp[p], r);
        }
        const int o0 = (ob + b) * SC_V, no = oc - o0 < SC_V ? oc - o0 : SC_V;
        for (int o = 0; o < no; o++)
            for (int r = 0; r < R; r++) {
                const size_t at = (size_t)(o0 + o) * ohw + (size_t)(oy0 + r) * g->ow + ox0;
                float *yo = y + at;
                for (int q = 0; q < Q; q++) {
                    float v = tmp[r * Q + q][o];
                    if (g->res) { /* the residual, then the relu */
                        v += g->res[at + q];
                        if (relu && !(v > 0.0f)) v = 0.0f;
                    }
                    yo[q] = v;
                }
            }
    }
}

/* R rows x Q columns of outputs from (oy0, ox0) x NB channel vectors from
 * ob, stride ST: every input address a constant offset from one pointer
 * per row */
#define SC_RQ(NAME, NB, R, Q, ST)                                                          \
    static void NAME(const sc_geo *g, int oy0, int ox0, int ob, const float *bias, int oc,  \
                     int relu, float *y)                                                    \
    {                                                                                       \
        if (g->kw == 3) { /* the row of 3 taps unrolled */                                  \
            SC_TILE_SUMS_KW(NB, R, Q, ST, 3);                                               \
            sc_store(g, acc, NB, R, Q, oy0, ox0, ob, bias, oc, relu, y);                    \
            return;                                                                         \
        }                                                                                   \
        SC_TILE_SUMS(NB, R, Q, ST);                                                         \
        sc_store(g, acc, NB, R, Q, oy0, ox0, ob, bias, oc, relu, y);                        \
    }

SC_RQ(sc_rq2_1x8_s1, 2, 1, 8, 1)
SC_RQ(sc_rq2_2x4_s1, 2, 2, 4, 1)
SC_RQ(sc_rq1_2x8_s1, 1, 2, 8, 1)
SC_RQ(sc_rq1_4x4_s1, 1, 4, 4, 1)
SC_RQ(sc_rq2_1x8_s2, 2, 1, 8, 2)
SC_RQ(sc_rq2_2x4_s2, 2, 2, 4, 2)
SC_RQ(sc_rq1_2x8_s2, 1, 2, 8, 2)
SC_RQ(sc_rq1_4x4_s2, 1, 4, 4, 2)

typedef void (*sc_rq_fn)(const sc_geo *, int, int, int, const float *, int, int, float *);

/* the plane in R x Q tiles (the last row and column of tiles moved back to
 * end at oh and ow: overlapping tiles write the same values twice) */
static void sc_plane_rq(const sc_geo *g, const float *bias, int oc, int relu, float *y)
{
    const int nb = g->ocp / SC_V, s2 = g->st == 2, q8 = g->ow >= 8;
    const sc_rq_fn f2 = q8 ? (s2 ? sc_rq2_1x8_s2 : sc_rq2_1x8_s1)
                           : (s2 ? sc_rq2_2x4_s2 : sc_rq2_2x4_s1);
    const sc_rq_fn f1 = q8 ? (s2 ? sc_rq1_2x8_s2 : sc_rq1_2x8_s1)
                           : (s2 ? sc_rq1_4x4_s2 : sc_rq1_4x4_s1);
    const int Q = q8 ? 8 : 4, R2 = q8 ? 1 : 2, R1 = q8 ? 2 : 4;
    for (int ob = 0; ob < nb; ob += ob + 2 <= nb ? 2 : 1) {
        const int two = ob + 2 <= nb, R = two ? R2 : R1;
        const sc_rq_fn f = two ? f2 : f1;
        for (int oy = 0; oy < g->oh; oy += R) {
            const int y0 = oy + R <= g->oh ? oy : g->oh - R;
            for (int ox = 0; ox < g->ow; ox += Q)
                f(g, y0, ox + Q <= g->ow ? ox : g->ow - Q, ob, bias, oc, relu, y);
        }
    }
}

#endif

#if SC_AVX2
/* AVX2 has 16 vector registers (AVX-512 32): the tiles of SC_RQ would keep
 * 16 sums and spill them on every tap. Here a tile holds NB x R x Q <= 12
 * sums, NB weight vectors and one broadcast; it stores its sums as whole
 * vectors into tb [position][ldt] (ldt: the channels rounded up to a
 * vector), and sc_flush moves the plane from there to y [oc][oh][ow] by
 * 8 x 8 transposes. The sums, their order and the epilogue's are those of
 * SC_RQ: the same bits. */

/* r[i][j] -> r[j][i] (8 x 8) */
static inline void tr8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
}

/* R rows x Q columns of outputs from (oy0, ox0) x NB channel vectors from
 * ob, stride ST, into tb (row length ldt): the taps as in SC_RQ (the loop
 * over kj not unrolled: unrolled, GCC shares the broadcasts of taps kj and
 * kj + 1 in registers and spills the sums) */
#define SC_RT(NAME, NB, R, Q, ST)                                                          \
    static void NAME(const sc_geo *g, int oy0, int ox0, int ob, int ldt)                    \
    {                                                                                       \
        SC_TILE_SUMS(NB, R, Q, ST);                                                         \
        for (int r = 0; r < R; r++)                                                         \
            for (int q = 0; q < Q; q++) {                                                   \
                float *t = g->tb + ((size_t)(oy0 + r) * g->ow + ox0 + q) * ldt +            \
                           (size_t)ob * SC_V;                                               \
                for (int b = 0; b < NB; b++) NNR_VEC_STORE(t + b * SC_V, acc[b * R * Q + r * Q + q]); \
            }                                                                               \
    }

#define SC_RT2(NB, R, Q) SC_RT(sc_rt##NB##_##R##x##Q##_s1, NB, R, Q, 1) \
                         SC_RT(sc_rt##NB##_##R##x##Q##_s2, NB, R, Q, 2)

/* P positions from p0 in the plane's row order (a tile that may span rows:
 * no position computed twice but at the plane's end) x NB channel vectors
 * from ob, stride ST, into tb: one pointer per position */
#define SC_FT(NAME, NB, P, ST)                                                              \
    static void NAME(const sc_geo *g, int p0, int unused, int ob, int ldt)                  \
    {                                                                                       \
        (void)unused;                                                                       \
        NNR_VEC acc[NB * P];                                                                \
        for (int i = 0; i < NB * P; i++) acc[i] = NNR_VEC_ZERO();                           \
        const float *xq[P];                                                                 \
        for (int p = 0; p < P; p++)                                                         \
            xq[p] = g->xp + ((size_t)((p0 + p) / g->ow) * g->wp + (p0 + p) % g->ow) * ST;   \
        const float *wt = g->wt + (size_t)ob * SC_V;                                        \
        for (ptrdiff_t rb = 0, ce = (ptrdiff_t)g->c * g->hp * g->wp; rb < ce;              \
             rb += (ptrdiff_t)(g->hp - g->kh) * g->wp)                                      \
            for (int ki = 0; ki < g->kh; ki++, rb += g->wp)                                 \
                for (int kj = 0; kj < g->kw; kj++, wt += g->ocp) {                          \
                    const ptrdiff_t o = rb + kj;                                            \
                    NNR_VEC wv[NB];                                                         \
                    for (int b = 0; b < NB; b++) wv[b] = NNR_VEC_LOAD(wt + b * SC_V);       \
                    for (int p = 0; p < P; p++) {                                           \
                        NNR_VEC xv = NNR_VEC_SET1(xq[p][o]);                                \
                        for (int b = 0; b < NB; b++)                                        \
                            acc[b * P + p] = NNR_VEC_FMA(wv[b], xv, acc[b * P + p]);        \
                    }                                                                       \
                }                                                                           \
        for (int p = 0; p < P; p++) {                                                       \
            float *t = g->tb + (size_t)(p0 + p) * ldt + (size_t)ob * SC_V;                  \
            for (int b = 0; b < NB; b++) NNR_VEC_STORE(t + b * SC_V, acc[b * P + p]);       \
        }                                                                                   \
    }
#define SC_FT2(NB, P) SC_FT(sc_ft##NB##_##P##_s1, NB, P, 1) SC_FT(sc_ft##NB##_##P##_s2, NB, P, 2)
SC_FT2(2, 6)
SC_FT2(2, 5)
SC_RT2(2, 2, 3)
SC_RT2(2, 1, 6)
SC_RT2(2, 3, 2)
SC_RT2(2, 1, 5)
SC_RT2(2, 1, 3)
SC_RT2(2, 1, 2)
SC_RT2(2, 1, 1)
SC_RT2(1, 2, 6)
SC_RT2(1, 3, 4)
SC_RT2(1, 4, 3)
SC_RT2(1, 1, 8)
SC_RT2(1, 2, 5)
SC_RT2(1, 2, 4)
SC_RT2(1, 1, 4)
SC_RT2(1, 2, 2)
SC_RT2(1, 1, 2)
SC_RT2(1, 1, 1)

typedef void (*sc_rt_fn)(const sc_geo *, int, int, int, int);

/* a tile shape: NB channel vectors x R x Q positions, at stride 1 and 2 */
typedef struct {
    int nb, r, q; /* r = 0: q positions in row order (SC_FT) */
    sc_rt_fn s1, s2; /* stride 1, 2 */
} sc_rt;

#define SC_RTE(NB, R, Q) {NB, R, Q, sc_rt##NB##_##R##x##Q##_s1, sc_rt##NB##_##R##x##Q##_s2}
static const sc_rt sc_rts[] = {
    /* two vectors: no 8-sum tiles (1 x 4, 2 x 2): GCC reads their weights
     * from memory in every FMA, and they measured slower than 1 x 3 */
    SC_RTE(2, 2, 3), SC_RTE(2, 1, 6), SC_RTE(2, 3, 2), SC_RTE(2, 1, 5), SC_RTE(2, 1, 3),
    SC_RTE(2, 1, 2), SC_RTE(2, 1, 1), SC_RTE(1, 2, 6), SC_RTE(1, 3, 4), SC_RTE(1, 4, 3),
    SC_RTE(1, 1, 8), SC_RTE(1, 2, 5), SC_RTE(1, 2, 4), SC_RTE(1, 1, 4), SC_RTE(1, 2, 2),
    SC_RTE(1, 1, 2), SC_RTE(1, 1, 1),
    /* two vectors in row order (one vector: 10 or 12 pointers spill, and
     * measured slower than 2 x 4, 2 x 5) */
    {2, 0, 6, sc_ft2_6_s1, sc_ft2_6_s2}, {2, 0, 5, sc_ft2_5_s1, sc_ft2_5_s2},
};

/* the tile of nb channel vectors that covers g's plane in the least time
 * by a model fitted on this core (Zen 3, 2 x 14x14, 8x8, 4x4 shapes): per
 * tap, a pair of channel vectors costs 0.47 ns a position (at least 2.9:
 * smaller tiles wait on their loads and latencies), one vector 0.32 ns (at
 * least 2.0); per tile, 4 ns and 1 ns a stored sum. Tiles that do not divide
 * the plane overlap (their positions are computed twice). */
static const sc_rt *sc_rt_pick(const sc_geo *g, int nb)
{
    const sc_rt *best = NULL;
    double bc = 0.0;
    for (size_t i = 0; i < sizeof sc_rts / sizeof sc_rts[0]; i++) {
        const sc_rt *t = &sc_rts[i];
        if (t->nb != nb || (t->r ? t->r > g->oh || t->q > g->ow : t->q > g->oh * g->ow))
            continue;
        const int P = t->r ? t->r * t->q : t->q;
        double tap = (nb == 2 ? 0.47 : 0.32) * P;
        if (tap < (nb == 2 ? 2.9 : 2.0)) tap = nb == 2 ? 2.9 : 2.0;
        const double tiles = t->r ? (double)((g->oh + t->r - 1) / t->r) * ((g->ow + t->q - 1) / t->q)
                                  : (double)((g->oh * g->ow + P - 1) / P);
        const double c = tiles * (g->k * tap + 4.0 + P * nb);
        if (!best || c < bc) {
            best = t;
            bc = c;
        }
    }
    return best;
}

/* y [oc][oh·ow] = tb [oh·ow][ldt] + bias, + the residual, relu if asked:
 * blocks of 8 positions x 8 channels by a transpose, the last positions
 * one by one */
static void sc_flush(const sc_geo *g, int ldt, const float *bias, int oc, int relu, float *y)
{
    const int ohw = g->oh * g->ow;
    const __m256 z = _mm256_setzero_ps();
    for (int o0 = 0; o0 < oc; o0 += 8) {
        const int no = oc - o0 < 8 ? oc - o0 : 8;
        int p = 0;
        for (; p + 8 <= ohw; p += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(g->tb + (size_t)(p + i) * ldt + o0);
            tr8(r);
            for (int o = 0; o < no; o++) {
                const size_t at = (size_t)(o0 + o) * ohw + p;
                __m256 v = r[o];
                if (bias) v = _mm256_add_ps(v, _mm256_set1_ps(bias[o0 + o]));
                if (g->res) v = _mm256_add_ps(v, _mm256_loadu_ps(g->res + at));
                if (relu) v = _mm256_max_ps(v, z);
                _mm256_storeu_ps(y + at, v);
            }
        }
        for (; p < ohw; p++)
            for (int o = 0; o < no; o++) {
                const size_t at = (size_t)(o0 + o) * ohw + p;
                float v = g->tb[(size_t)p * ldt + o0 + o];
                if (bias) v += bias[o0 + o];
                if (g->res) v += g->res[at];
                if (relu && !(v > 0.0f)) v = 0.0f;
                y[at] = v;
            }
    }
}

/* the epilogue of SC_PV for vector v of row oy of channel o (r: its sums):
 * + bias, + the residual, relu if asked, into y [oc][oh][ow] */
static inline void sc_pv_out(const sc_geo *g, __m256 r, int V, int v, int oy, int o,
                             const float *bias, int relu, float *y)
{
    const int ow = g->ow, tail = ow - 8 * (V - 1), part = v == V - 1 && tail < 8;
    const size_t at = ((size_t)o * g->oh + oy) * ow + 8 * (size_t)v;
    const __m256i mt = nnr_mask8(tail);
    if (bias) r = _mm256_add_ps(r, _mm256_set1_ps(bias[o]));
    if (g->res)
        r = _mm256_add_ps(r, part ? _mm256_maskload_ps(g->res + at, mt) : _mm256_loadu_ps(g->res + at));
    if (relu) r = _mm256_max_ps(r, _mm256_setzero_ps());
    /* masked when the extra lanes would go past the channel's plane (not
     * overwritten later: oy runs outermost), or with a residual (it may be y) */
    if (part && (8 - tail > (g->oh - 1 - oy) * ow || g->res))
        _mm256_maskstore_ps(y + at, mt, r);
    else
        _mm256_storeu_ps(y + at, r);
}

/* One input channel at stride 1 (W4's and W7's first convolutions: 9 taps,
 * too few for the tiles above to pay for their stores and sc_flush's
 * transposes): positions vectorised instead, a tile of O channels from o0
 * x one output row oy as V vectors of 8 positions, each input vector one
 * unaligned load of a padded row (lanes past ow read the next row or the
 * plane's slack, and are not stored), straight into y: the same sums in the
 * same tap order, then bias, residual, relu as sc_flush: the same bits.
 * A row's last vector is stored whole when its extra lanes stay within the
 * channel's plane: oy runs outermost, and the next rows' stores overwrite
 * them. */
#define SC_PV(NAME, O, V)                                                                  \
    static void NAME(const sc_geo *g, int oy, int o0, const float *bias, int relu, float *y) \
    {                                                                                       \
        __m256 acc[O * V];                                                                  \
        for (int i = 0; i < O * V; i++) acc[i] = _mm256_setzero_ps();                       \
        const float *xr = g->xp + (size_t)oy * g->wp, *wt = g->wt + o0;                    \
        for (ptrdiff_t rb = 0, ce = (ptrdiff_t)g->c * g->hp * g->wp; rb < ce;              \
             rb += (ptrdiff_t)(g->hp - g->kh) * g->wp)                                      \
            for (int ki = 0; ki < g->kh; ki++, rb += g->wp)                                 \
                for (int kj = 0; kj < g->kw; kj++, wt += g->ocp) {                          \
                    __m256 wv[O];                                                           \
                    /* set1: by broadcast_ss(wt + o) GCC stores the sums every tap */     \
                    for (int o = 0; o < O; o++) wv[o] = _mm256_set1_ps(wt[o]);              \
                    for (int v = 0; v < V; v++) {                                           \
                        const __m256 xv = _mm256_loadu_ps(xr + rb + kj + 8 * v);            \
                        for (int o = 0; o < O; o++)                                         \
                            acc[o * V + v] = _mm256_fmadd_ps(wv[o], xv, acc[o * V + v]);    \
                    }                                                                       \
                }                                                                           \
        for (int o = 0; o < O; o++)                                                         \
            for (int v = 0; v < V; v++)                                                     \
                sc_pv_out(g, acc[o * V + v], V, v, oy, o0 + o, bias, relu, y);             \
    }

SC_PV(sc_pv1_1, 1, 1) SC_PV(sc_pv2_1, 2, 1) SC_PV(sc_pv3_1, 3, 1) SC_PV(sc_pv4_1, 4, 1)
SC_PV(sc_pv1_2, 1, 2) SC_PV(sc_pv2_2, 2, 2) SC_PV(sc_pv3_2, 3, 2) SC_PV(sc_pv4_2, 4, 2)
SC_PV(sc_pv1_3, 1, 3) SC_PV(sc_pv2_3, 2, 3) SC_PV(sc_pv3_3, 3, 3) SC_PV(sc_pv4_3, 4, 3)
SC_PV(sc_pv1_4, 1, 4) SC_PV(sc_pv2_4, 2, 4) SC_PV(sc_pv3_4, 3, 4)

typedef void (*sc_pv_fn)(const sc_geo *, int, int, const float *, int, float *);

/* SC_PV's tiles of O channels x V vectors: O·V <= 12 sums and O weights
 * in registers (the inputs read by the FMAs) */
static const sc_pv_fn sc_pvs[4][4] = {
    {sc_pv1_1, sc_pv2_1, sc_pv3_1, sc_pv4_1},
    {sc_pv1_2, sc_pv2_2, sc_pv3_2, sc_pv4_2},
    {sc_pv1_3, sc_pv2_3, sc_pv3_3, sc_pv4_3},
    {sc_pv1_4, sc_pv2_4, sc_pv3_4, NULL},
};

/* 1 when g's plane goes through SC_PV: one input channel, stride 1, rows
 * of at most 4 vectors, the padded plane exactly as large as the taps
 * need (reads past a row's end stay within the plane and its slack) */
static int sc_pv_ok(const sc_geo *g)
{
    return g->c == 1 && g->st == 1 && g->ow <= 32 && g->wp == g->ow + g->kw - 1 &&
           g->hp == g->oh + g->kh - 1;
}

/* the plane by SC_PV: rows in order, channels in tiles of 4 (3 for rows of
 * 4 vectors), the last tile what is left */
static void sc_plane_pv(const sc_geo *g, const float *bias, int oc, int relu, float *y)
{
    const int V = (g->ow + 7) / 8, om = V == 4 ? 3 : 4;
    for (int oy = 0; oy < g->oh; oy++)
        for (int o0 = 0; o0 < oc; o0 += om) {
            const int O = oc - o0 < om ? oc - o0 : om;
            sc_pvs[V - 1][O - 1](g, oy, o0, bias, relu, y);
        }
}

/* the plane through tb: pairs of channel vectors (the last one alone), each
 * in the tiles sc_rt_pick chooses (the last row and column of tiles moved
 * back to end at oh and ow), then sc_flush */
static void sc_plane_t(const sc_geo *g, const float *bias, int oc, int relu, float *y)
{
    const int nb = (oc + SC_V - 1) / SC_V, ldt = nb * SC_V;
    for (int ob = 0; ob < nb;) {
        const int two = ob + 2 <= nb ? 2 : 1;
        const sc_rt *t = sc_rt_pick(g, two);
        const sc_rt_fn f = g->st == 2 ? t->s2 : t->s1;
        const int R = t->r, Q = t->q, ohw = g->oh * g->ow;
        if (!R) /* positions in row order, the last tile moved back to end at ohw */
            for (int p = 0; p < ohw; p += Q) f(g, p + Q <= ohw ? p : ohw - Q, 0, ob, ldt);
        for (int oy = 0; R && oy < g->oh; oy += R) {
            const int y0 = oy + R <= g->oh ? oy : g->oh - R;
            for (int ox = 0; ox < g->ow; ox += Q)
                f(g, y0, ox + Q <= g->ow ? ox : g->ow - Q, ob, ldt);
        }
        ob += two;
    }
    sc_flush(g, ldt, bias, oc, relu, y);
}
#endif

/* y [oc][oh][ow] of one plane set; bias: ocp floats or NULL */
void nnr_sc_run(const sc_geo *g, const float *bias, int oc, nnr_act act, float act_param,
                   float *y)
{
    const int ohw = g->oh * g->ow, relu = act == NNR_ACT_RELU;
#if SC_AVX2
    if (sc_pv_ok(g))
        sc_plane_pv(g, bias, oc, relu, y);
    else
        sc_plane_t(g, bias, oc, relu, y);
#else
    const int nb = g->ocp / SC_V;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (nnr_sc_pw_ok(g)) {
        nnr_sc_plane_pw(g, bias, oc, relu, y);
    } else
#endif
    if (g->ow >= 4 && g->oh >= 4 && (g->st == 1 || g->st == 2)) {
        sc_plane_rq(g, bias, oc, relu, y);
    } else {
        int toff[SC_MAXC * 9];
        for (int ci = 0, t = 0; ci < g->c; ci++)
            for (int ki = 0; ki < g->kh; ki++)
                for (int kj = 0; kj < g->kw; kj++) toff[t++] = (ci * g->hp + ki) * g->wp + kj;
        for (int p0 = 0; p0 < ohw; p0 += SC_P) {
            int ob = 0;
            for (; ob + 2 <= nb; ob += 2) sc_tile2(g, toff, p0, ob, bias, oc, relu, y);
            if (ob < nb) sc_tile1(g, toff, p0, ob, bias, oc, relu, y);
        }
    }
#endif
    if (act != NNR_ACT_NONE && !relu) nnr_act_f32(act, act_param, (size_t)oc * ohw, y, y);
}

/* n samples through the direct kernel with the weight packed as wt
 * [k][ocp] (ocp a multiple of SC_V, at least oc); res: n residuals like y,
 * or NULL */
static void sc_forward(int n, const nnr_kconv *s, const float *x, const float *wt, int ocp,
                       const float *b, const float *res, float *y, nnr_act act, float act_param,
                       float *xp)
{
    const int hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw, k = s->c * s->kh * s->kw;
    float bias[SC_MAXC + 16];
    if (b) {
        memcpy(bias, b, (size_t)s->oc * sizeof *b);
        for (int o = s->oc; o < ocp; o++) bias[o] = 0.0f;
    }
    /* tb after the padded plane and a weight packed per call */
    float *tb = xp + pad_floats(s->c, hp, wp) + (size_t)k * ceil_v(s->oc);
    sc_geo g = {xp, wt, s->c, hp, wp, s->kh, s->kw, s->sh, s->oh, s->ow, k, ocp, NULL, tb};
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    for (int i = 0; i < n; i++) {
        if (SC_AVX2 && s->ph == 0 && s->pw == 0 && s->c > 1) /* its tiles read the sample
                                                               * itself (not SC_PV's) */
            g.xp = x + i * xs;
        else
            nnr_sc_pad_plane(s->c, s->h, s->w, x + i * xs, hp, wp, s->ph, s->pw, xp, i == 0);
        g.res = res ? res + i * ys : NULL;
        nnr_sc_run(&g, b ? bias : NULL, s->oc, act, act_param, y + i * ys);
    }
}

void nnr_conv_small_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param,
                        float *scratch)
{
    const int k = s->c * s->kh * s->kw, ocp = ceil_v(s->oc);
    float *wt = scratch + pad_floats(s->c, s->h + 2 * s->ph, s->w + 2 * s->pw);
    pack_wt(w, s->oc, k, ocp, wt);
    sc_forward(n, s, x, wt, ocp, b, NULL, y, act, act_param, scratch);
}

/* ---- the pre-packed weight and the residual epilogue (nnr.h) ---- */

/* the output channels of the packed weight: the same for every ISA */
static int pack_oc(int oc) { return (oc + 15) / 16 * 16; }

int nnr_kern_conv2d_packed_ok(const nnr_kconv *s)
{
    const nnr_kconv t = nnr_kconv_norm(s);
    return nnr_conv_small_ok(&t);
}

size_t nnr_conv_packed_size(int k, int oc)
{
    const size_t z = (size_t)k * pack_oc(oc);
    return z ? z : 1;
}

void nnr_pack_conv_weight_f32(int k, int oc, const float *w, float *wp)
{
    const int ocp = pack_oc(oc);
    nnr_sc_zero_floats(wp, (size_t)k * ocp);
    nnr_sc_transpose(w, oc, k, (size_t)k, wp, (size_t)ocp, 0, 0);
}

void nnr_kern_conv2d_packed_f32(int n, const nnr_kconv *s0, const float *x, const float *wp,
                           const float *b, const float *r, float *y, nnr_act act,
                           float act_param, float *scratch)
{
    const nnr_kconv s = nnr_kconv_norm(s0);
    sc_forward(n, &s, x, wp, pack_oc(s.oc), b, r, y, act, act_param, scratch);
}

void nnr_kern_conv2d_add_f32(int n, const nnr_kconv *s0, const float *x, const float *w,
                        const float *b, const float *r, float *y, nnr_act act, float act_param,
                        float *scratch)
{
    const nnr_kconv s = nnr_kconv_norm(s0);
    if (nnr_conv_small_ok(&s)) {
        const int k = s.c * s.kh * s.kw, ocp = ceil_v(s.oc);
        float *wt = scratch + pad_floats(s.c, s.h + 2 * s.ph, s.w + 2 * s.pw);
        pack_wt(w, s.oc, k, ocp, wt);
        sc_forward(n, &s, x, wt, ocp, b, r, y, act, act_param, scratch);
        return;
    }
    /* any other convolution: the bias, the residual, then the activation */
    nnr_kern_conv2d_f32(n, s0, x, w, b, y, NNR_ACT_NONE, 0.0f, scratch);
    const size_t len = (size_t)n * s.oc * s.oh * s.ow;
    for (size_t i = 0; i < len; i++) y[i] += r[i];
    if (act != NNR_ACT_NONE) nnr_act_f32(act, act_param, len, y, y);
}
