/* conv_small_pw.c — AVX-512 tiles of conv_small.c's direct convolution with
 * the output positions vectorised instead of the channels: for stride-1
 * planes whose rows hold 9 to 32 outputs (W4's 28x28 and 14x14). A tile is
 * O channels x R rows x V vectors of 16 positions of a row; each input
 * vector is one unaligned load of a padded row (lanes past ow read the next
 * row or the plane's slack, and are never stored), each weight a broadcast
 * shared by the tile's R·V vectors. The sums go straight into y [oc][oh][ow]
 * by masked stores: no 16 x 16 transpose per tile (SC_RQ's epilogue cost
 * about as much as its FMAs on W4's 9-tap and 72-tap planes). Same sums in
 * the same tap order (ci, ki, kj), one FMA chain from zero, then bias,
 * residual, relu as sc_store: the same bits as SC_RQ. */
#include <stddef.h>

#include "conv_small.h"

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)

/* 1 when g's plane goes through the tiles below: stride 1, rows of 9 to 32
 * outputs (at 8 or fewer, half the lanes would idle: SC_RQ's tiles of 8
 * positions fit better), the padded plane exactly as large as the taps
 * need, so that a load past a row's end stays within the plane and its
 * slack of 16 floats (it overshoots by 16·V - ow < 16) */
int nnr_sc_pw_ok(const sc_geo *g)
{
    return g->st == 1 && g->ow >= 9 && g->ow <= 32 && g->wp == g->ow + g->kw - 1 &&
           g->hp == g->oh + g->kh - 1;
}

/* the epilogue of one vector: + bias, + the residual, relu if asked, the
 * lanes < n stored (res may be y: each element is read, then written, once) */
static inline void pw_out(const sc_geo *g, __m512 r, size_t at, int n, float b, int has_b,
                          int relu, float *y)
{
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    if (has_b) r = _mm512_add_ps(r, _mm512_set1_ps(b));
    if (g->res) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, g->res + at));
    if (relu) r = _mm512_max_ps(r, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + at, m, r);
}

/* v in a register: left to itself GCC folds the input load into each of
 * the O FMAs that use it, O loads of 64 bytes where one does (all of them
 * unaligned, across two cache lines) */
#if defined(__GNUC__)
#define PW_REG(v) __asm__("" : "+v"(v))
#else
#define PW_REG(v) (void)0
#endif

/* the sums of SC_PW's tile, KW taps a row */
#define SC_PW_SUMS(O, R, V, KW)                                                            \
        __m512 acc[O * R * V];                                                              \
        for (int i = 0; i < O * R * V; i++) acc[i] = _mm512_setzero_ps();                   \
        const ptrdiff_t wp = g->wp;                                                         \
        const float *xr = g->xp + (size_t)oy * g->wp, *wt = g->wt + o0;                    \
        for (ptrdiff_t rb = 0, ce = (ptrdiff_t)g->c * g->hp * wp; rb < ce;                 \
             rb += (ptrdiff_t)(g->hp - g->kh) * wp)                                         \
            for (int ki = 0; ki < g->kh; ki++, rb += wp)                                    \
                for (int kj = 0; kj < KW; kj++, wt += g->ocp) {                             \
                    __m512 wv[O];                                                           \
                    for (int o = 0; o < O; o++) wv[o] = _mm512_set1_ps(wt[o]);              \
                    for (int r = 0; r < R; r++)                                             \
                        for (int v = 0; v < V; v++) {                                       \
                            __m512 xv = _mm512_loadu_ps(xr + rb + r * wp + kj + 16 * v); \
                            PW_REG(xv);                                                     \
                            for (int o = 0; o < O; o++)                                     \
                                acc[(o * R + r) * V + v] =                                  \
                                    _mm512_fmadd_ps(wv[o], xv, acc[(o * R + r) * V + v]);   \
                        }                                                                   \
                }

/* SC_PW's tile into y */
#define SC_PW_OUT(O, R, V)                                                                 \
        for (int o = 0; o < O; o++)                                                         \
            for (int r = 0; r < R; r++)                                                     \
                for (int v = 0; v < V; v++) {                                               \
                    const size_t at = ((size_t)(o0 + o) * g->oh + oy + r) * g->ow + 16 * v; \
                    pw_out(g, acc[(o * R + r) * V + v], at, g->ow - 16 * v,                 \
                           bias ? bias[o0 + o] : 0.0f, bias != NULL, relu, y);              \
                }

/* O channels from o0 x R rows from oy x V vectors a row: O·R·V <= 16 sums,
 * O weights and R·V inputs in registers (8 loads per 16 FMAs at 4 x 4) */
#define SC_PW(NAME, O, R, V)                                                               \
    static void NAME(const sc_geo *g, int oy, int o0, const float *bias, int relu, float *y) \
    {                                                                                       \
        if (g->kw == 3) { /* the row of 3 taps unrolled */                                  \
            SC_PW_SUMS(O, R, V, 3);                                                         \
            SC_PW_OUT(O, R, V);                                                             \
        } else {                                                                            \
            SC_PW_SUMS(O, R, V, g->kw);                                                     \
            SC_PW_OUT(O, R, V);                                                             \
        }                                                                                   \
    }

#define SC_PW4(R, V)                                                                       \
    SC_PW(sc_pw1_##R##_##V, 1, R, V) SC_PW(sc_pw2_##R##_##V, 2, R, V)                      \
    SC_PW(sc_pw3_##R##_##V, 3, R, V) SC_PW(sc_pw4_##R##_##V, 4, R, V)
SC_PW4(1, 1) SC_PW4(2, 1) SC_PW4(3, 1) SC_PW4(4, 1) SC_PW4(1, 2) SC_PW4(2, 2)

typedef void (*sc_pw_fn)(const sc_geo *, int, int, const float *, int, float *);

#define SC_PWROW(R, V) {sc_pw1_##R##_##V, sc_pw2_##R##_##V, sc_pw3_##R##_##V, sc_pw4_##R##_##V}
/* [V - 1][R - 1][O - 1] */
static const sc_pw_fn sc_pws[2][4][4] = {
    {SC_PWROW(1, 1), SC_PWROW(2, 1), SC_PWROW(3, 1), SC_PWROW(4, 1)},
    {SC_PWROW(1, 2), SC_PWROW(2, 2), {NULL, NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}},
};

/* the plane in tiles of 4 channels x 16 positions (4 rows of one vector or
 * 2 rows of two), the last rows and channels in smaller tiles (no tile
 * computed twice: with a residual, y may be res) */
void nnr_sc_plane_pw(const sc_geo *g, const float *bias, int oc, int relu, float *y)
{
    const int V = g->ow > 16 ? 2 : 1, RM = V == 1 ? 4 : 2;
    for (int oy = 0; oy < g->oh; oy += RM) {
        const int R = g->oh - oy < RM ? g->oh - oy : RM;
        for (int o0 = 0; o0 < oc; o0 += 4) {
            const int O = oc - o0 < 4 ? oc - o0 : 4;
            sc_pws[V - 1][R - 1][O - 1](g, oy, o0, bias, relu, y);
        }
    }
}

#endif
