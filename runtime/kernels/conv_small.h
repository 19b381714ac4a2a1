/* conv_small.h — what conv_small.c (the forward kernel and its tiles) and
 * conv_small_bwd.c (the data and weight gradients) share: the limits, the
 * tile geometry, the scratch sizes, and the helpers both call. Internal to
 * the runtime's kernels. */
#ifndef NNR_CONV_SMALL_H
#define NNR_CONV_SMALL_H

#include <stddef.h>

#include "kern.h"
#include "../simd.h"

/* AVX2 (and not AVX-512): the forward's tiles of at most 12 sums (below) */
#if !defined(NNR_SIMD_SCALAR) && !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
#define SC_AVX2 1
#else
#define SC_AVX2 0
#endif

#define SC_V NNR_VEC_WIDTH
#define SC_MAXC 64  /* channels in and out */
#define SC_MAXHW 32 /* plane height and width */
#define SC_P 12     /* output positions per tile */
#define SC_MAXP 16  /* positions of an R x Q tile */

static inline int ceil_v(int n) { return (n + SC_V - 1) / SC_V * SC_V; }

/* one plane set's geometry for the tile kernel */
typedef struct {
    const float *xp; /* padded input [c][hp][wp] */
    const float *wt; /* packed weight [k][ocp] */
    int c, hp, wp, kh, kw, st, oh, ow, k, ocp;
    const float *res; /* added before the activation: [oc][oh][ow], or NULL */
    float *tb;        /* AVX2: the tiles' sums [oh·ow][ceil_v(oc)] before they go to y */
} sc_geo;

static inline size_t pad_floats(int c, int hp, int wp) { return (size_t)c * hp * wp + SC_V; }

/* The scratch sizes below are the same on every ISA, the largest any
 * needs (vectors of up to 16 floats): the compiler, a baseline build,
 * writes them into the emitted header's ARENA_SIZE bound. */
static inline int up16(int n) { return (n + 15) / 16 * 16; }
static inline size_t pad16(int c, int hp, int wp) { return (size_t)c * hp * wp + 16; }

/* sc_geo.tb of a plane of ohw positions and oc channels (used on AVX2) */
static inline size_t tb_floats(int ohw, int oc) { return (size_t)ohw * up16(oc); }


/* d[jj][i] = s[i][j] for i < rows, j < cols, with jj = j, or cols - 1 - j
 * when flip; with pad, d[jj][rows .. ceil_v(rows)) = 0 too */
void nnr_sc_transpose(const float *s, int rows, int cols, size_t lds, float *d, size_t ldd,
                      int flip, int pad);
/* p[0..len) = 0 */
void nnr_sc_zero_floats(float *p, size_t len);
/* x [c][h][w] into xp [c][hp][wp] at (py, px), every other position 0
 * (zeroed when zero; the later samples of a call write only the interior) */
void nnr_sc_pad_plane(int c, int h, int w, const float *x, int hp, int wp, int py, int px,
                      float *xp, int zero);
/* y [oc][oh][ow] of one plane set; bias: ocp floats or NULL */
void nnr_sc_run(const sc_geo *g, const float *bias, int oc, nnr_act act, float act_param,
                float *y);
/* AVX-512 only (conv_small_pw.c; nnr_sc_run calls them under the same
 * #if): 1 when g's plane goes through the position-vectorised tiles, and
 * the plane through them */
int nnr_sc_pw_ok(const sc_geo *g);
void nnr_sc_plane_pw(const sc_geo *g, const float *bias, int oc, int relu, float *y);
/* the scratch of the stride-2 data gradient (conv_small_bwd.c) */
size_t nnr_sc_data_grad_st_scratch(const nnr_kconv *s);

#endif
