/* conv_small_bwd.c — the gradients of conv_small.c's direct convolution
 * (few channels, small planes): the data gradient as the forward kernel run
 * on dy padded by k - 1 - p with the weight flipped and its channels
 * swapped (at stride 2 once per phase of the input positions), and the
 * weight gradient accumulated as dWᵀ[tap][oc] over samples and positions.
 * See conv_small.c's header for the orders of the sums. */
#include <string.h>

#include "conv_small.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-predictive-commoning")
#endif

/* dx of n samples, stride 1: the forward kernel on dy padded by k - 1 - p,
 * with wf[(o·kh + ki)·kw + kj][ci] = w[o][ci][kh-1-ki][kw-1-kj] */
static void sc_data_grad(int n, const nnr_kconv *s, const float *w, const float *dy,
                         float *dx, float *scratch)
{
    const int hp = s->h + s->kh - 1, wp = s->w + s->kw - 1, kb = s->oc * s->kh * s->kw;
    const int cp = ceil_v(s->c), ks = s->kh * s->kw, py = s->kh - 1 - s->ph,
              px = s->kw - 1 - s->pw;
    float *dp = scratch, *wf = scratch + pad_floats(s->oc, hp, wp);
    for (int o = 0; o < s->oc; o++)
        nnr_sc_transpose(w + (size_t)o * s->c * ks, s->c, ks, (size_t)ks, wf + (size_t)o * ks * cp,
                  (size_t)cp, 1, 1);
    const sc_geo g = {dp, wf, s->oc, hp, wp, s->kh, s->kw, 1, s->h, s->w, kb, cp, NULL,
                      wf + (size_t)kb * cp};
    const size_t xs = (size_t)s->c * s->h * s->w, ohw = (size_t)s->oh * s->ow;
    for (int i = 0; i < n; i++) {
        nnr_sc_pad_plane(s->oc, s->oh, s->ow, dy + i * s->oc * ohw, hp, wp, py, px, dp, i == 0);
        nnr_sc_run(&g, NULL, s->c, NNR_ACT_NONE, 0.0f, dx + i * xs);
    }
}

/* One axis of a strided data gradient, split by phase: the input
 * positions e, e + st, ... (m of them) are reached by the taps kmax,
 * kmax - st, ... (nk of them, kmax the largest ki with ki ≡ e + p mod st),
 * tap j reading dy at position index + d0 + j. */
typedef struct {
    int m, nk, kmax, d0;
} sc_phase;

static sc_phase sc_phase_of(int e, int st, int p, int k, int in)
{
    sc_phase f = {(in - e + st - 1) / st, 0, 0, 0};
    for (int ki = k - 1; ki >= 0; ki--)
        if ((e + p - ki) % st == 0) {
            if (f.nk++ == 0) {
                f.kmax = ki;
                f.d0 = (e + p - ki) / st;
            }
        }
    return f;
}

/* the phases of one axis (st of them) and the padding of dy they read:
 * lo before position 0, and the padded length */
static void sc_phases(int st, int p, int k, int in, int out, sc_phase *f, int *lo, int *len)
{
    int l = 0, h = 0;
    for (int e = 0; e < st; e++) {
        f[e] = sc_phase_of(e, st, p, k, in);
        if (f[e].nk == 0 || f[e].m == 0)
            continue;
        if (-f[e].d0 > l) l = -f[e].d0;
        const int last = f[e].m - 1 + f[e].d0 + f[e].nk - 1 - (out - 1);
        if (last > h) h = last;
    }
    *lo = l;
    *len = l + out + h;
}

/* the strided data gradient's scratch: dy padded, the phases' weights,
 * one sample's phase outputs */
size_t nnr_sc_data_grad_st_scratch(const nnr_kconv *s)
{
    sc_phase fy[2], fx[2];
    int ly, hp, lx, wp;
    sc_phases(s->sh, s->ph, s->kh, s->h, s->oh, fy, &ly, &hp);
    sc_phases(s->sw, s->pw, s->kw, s->w, s->ow, fx, &lx, &wp);
    return pad16(s->oc, hp, wp) + (size_t)s->oc * s->kh * s->kw * up16(s->c) +
           (size_t)s->c * s->h * s->w + 16 + tb_floats(s->h * s->w, s->c);
}

/* dx of n samples, stride 2: per phase (ey, ex) of the input positions, a
 * stride-1 convolution of dy (padded once) with the taps that reach that
 * phase (no products with the zeros a spread dy would hold), then the
 * phases interleaved into dx; wf of phase (ey, ex): [(o·nky + j)·nkx +
 * jx][ci] = w[o][ci][kmaxy - j·st][kmaxx - jx·st] */
static void sc_data_grad_st(int n, const nnr_kconv *s, const float *w, const float *dy,
                            float *dx, float *scratch)
{
    sc_phase fy[2], fx[2];
    int ly, hp, lx, wp;
    sc_phases(s->sh, s->ph, s->kh, s->h, s->oh, fy, &ly, &hp);
    sc_phases(s->sw, s->pw, s->kw, s->w, s->ow, fx, &lx, &wp);
    const int cp = ceil_v(s->c), st = s->sh, ks = s->kh * s->kw;
    float *dp = scratch, *wf = dp + pad_floats(s->oc, hp, wp);
    float *yq = wf + (size_t)s->oc * ks * cp; /* one phase's [c][my][mx] */
    float *tb = yq + (size_t)s->c * s->h * s->w + SC_V;
    sc_geo g[2][2];
    float *wq = wf;
    for (int ey = 0; ey < st; ey++)
        for (int ex = 0; ex < st; ex++) {
            const sc_phase *a = &fy[ey], *b = &fx[ex];
            const int k = a->m > 0 && b->m > 0 ? s->oc * a->nk * b->nk : 0;
            g[ey][ex] = (sc_geo){k ? dp + (size_t)(ly + a->d0) * wp + lx + b->d0 : dp, wq, s->oc,
                                 hp, wp, a->nk, b->nk, 1, a->m, b->m, k, cp, NULL, tb};
            for (int o = 0; o < s->oc; o++)
                for (int j = 0; j < a->nk; j++)
                    for (int jx = 0; jx < b->nk; jx++, wq += cp) {
                        const float *wo = w + ((size_t)o * s->c * s->kh + a->kmax - j * st) * s->kw +
                                          b->kmax - jx * st;
                        for (int ci = 0; ci < cp; ci++) wq[ci] = ci < s->c ? wo[(size_t)ci * ks] : 0.0f;
                    }
        }
    const size_t xs = (size_t)s->c * s->h * s->w, ohw = (size_t)s->oh * s->ow;
    for (int i = 0; i < n; i++) {
        nnr_sc_pad_plane(s->oc, s->oh, s->ow, dy + i * s->oc * ohw, hp, wp, ly, lx, dp, i == 0);
        float *dxi = dx + i * xs;
        for (int ey = 0; ey < st; ey++)
            for (int ex = 0; ex < st; ex++) {
                const sc_geo *q = &g[ey][ex];
                const int my = q->oh, mx = q->ow;
                if (my == 0 || mx == 0)
                    continue;
                if (q->k > 0)
                    nnr_sc_run(q, NULL, s->c, NNR_ACT_NONE, 0.0f, yq);
                else
                    nnr_sc_zero_floats(yq, (size_t)s->c * my * mx);
                /* yq [c][my][mx] -> dx[ci][ey + st·a][ex + st·b] */
                for (int ci = 0; ci < s->c; ci++)
                    for (int a = 0; a < my; a++) {
                        float *d = dxi + ((size_t)ci * s->h + ey + st * a) * s->w + ex;
                        const float *r = yq + ((size_t)ci * my + a) * mx;
                        for (int b = 0; b < mx; b++) d[st * b] = r[b];
                    }
            }
    }
}

/* dWᵀ rows of input channels [ci0, ci0 + CI) (KS x KS taps each), channel
 * vectors [ob, ob + NB): += Σ_p dyT[p] · x_t(p) over one sample's positions
 * (from 0 when first); a row pointer per (ci, ki), the position an index,
 * kj a constant offset */
#define SC_WG(NAME, KS, CI, NB)                                                              \
    static void NAME(const float *xp, size_t plane, int wp, const float *dyT,               \
                     const int *pofs, int ohw, int ci0, int ocp, int ob, float *dwt,         \
                     int first)                                                             \
    {                                                                                       \
        enum { T = CI * KS * KS };                                                          \
        NNR_VEC acc[NB][T];                                                                 \
        const float *xr[CI * KS];                                                           \
        float *d0 = dwt + (size_t)ci0 * KS * KS * ocp + (size_t)ob * SC_V;                  \
        for (int b = 0; b < NB; b++)                                                        \
            for (int j = 0; j < T; j++)                                                     \
                acc[b][j] = first ? NNR_VEC_ZERO()                                          \
                                  : NNR_VEC_LOAD(d0 + (size_t)j * ocp + b * SC_V);          \
        for (int c = 0; c < CI; c++)                                                        \
            for (int ki = 0; ki < KS; ki++)                                                 \
                xr[c * KS + ki] = xp + (size_t)(ci0 + c) * plane + (size_t)ki * wp;         \
        const float *dp = dyT + (size_t)ob * SC_V;                                          \
        for (int p = 0; p < ohw; p++, dp += ocp) {                                          \
            const ptrdiff_t q = pofs[p];                                                    \
            NNR_VEC dv[NB];                                                                 \
            for (int b = 0; b < NB; b++) dv[b] = NNR_VEC_LOAD(dp + b * SC_V);               \
            for (int r = 0; r < CI * KS; r++)                                               \
                for (int kj = 0; kj < KS; kj++) {                                           \
                    const NNR_VEC xv = NNR_VEC_SET1(xr[r][q + kj]);                         \
                    for (int b = 0; b < NB; b++)                                            \
                        acc[b][r * KS + kj] = NNR_VEC_FMA(dv[b], xv, acc[b][r * KS + kj]);  \
                }                                                                           \
        }                                                                                   \
        for (int b = 0; b < NB; b++)                                                        \
            for (int j = 0; j < T; j++) NNR_VEC_STORE(d0 + (size_t)j * ocp + b * SC_V, acc[b][j]); \
    }

SC_WG(sc_wg3_1_2, 3, 1, 2)
SC_WG(sc_wg3_2_1, 3, 2, 1)
SC_WG(sc_wg3_1_1, 3, 1, 1)
SC_WG(sc_wg1_4_2, 1, 4, 2)
SC_WG(sc_wg1_4_1, 1, 4, 1)
SC_WG(sc_wg1_1_2, 1, 1, 2)
SC_WG(sc_wg1_1_1, 1, 1, 1)

/* one sample's contribution to dWᵀ [k][ocp] */
static void sc_wgrad_sample(const nnr_kconv *s, const float *xp, int hp, int wp,
                            const float *dyT, const int *pofs, int ocp, float *dwt, int first)
{
    const size_t plane = (size_t)hp * wp;
    const int nb = ocp / SC_V, ohw = s->oh * s->ow;
    for (int ob = 0; ob < nb;) {
        const int two = ob + 2 <= nb;
        for (int ci = 0; ci < s->c;) {
            if (s->kh == 3) {
                if (two) {
                    sc_wg3_1_2(xp, plane, wp, dyT, pofs, ohw, ci, ocp, ob, dwt, first);
                    ci++;
                } else if (ci + 2 <= s->c) {
                    sc_wg3_2_1(xp, plane, wp, dyT, pofs, ohw, ci, ocp, ob, dwt, first);
                    ci += 2;
                } else {
                    sc_wg3_1_1(xp, plane, wp, dyT, pofs, ohw, ci, ocp, ob, dwt, first);
                    ci++;
                }
            } else if (ci + 4 <= s->c) {
                (two ? sc_wg1_4_2 : sc_wg1_4_1)(xp, plane, wp, dyT, pofs, ohw, ci, ocp, ob, dwt,
                                                first);
                ci += 4;
            } else {
                (two ? sc_wg1_1_2 : sc_wg1_1_1)(xp, plane, wp, dyT, pofs, ohw, ci, ocp, ob, dwt,
                                                first);
                ci++;
            }
        }
        ob += two ? 2 : 1;
    }
}

/* dw [oc][k] = Σ over samples and positions of dy·x_t */
static void sc_weight_grad(int n, const nnr_kconv *s, const float *x, const float *dy,
                           float *dw, float *scratch)
{
    const int hp = s->h + 2 * s->ph, wp = s->w + 2 * s->pw, k = s->c * s->kh * s->kw;
    const int ocp = ceil_v(s->oc), ohw = s->oh * s->ow;
    float *xp = scratch, *dyT = xp + pad_floats(s->c, hp, wp), *dwt = dyT + (size_t)ohw * ocp;
    int pofs[SC_MAXHW * SC_MAXHW];
    for (int p = 0; p < ohw; p++) pofs[p] = (p / s->ow) * s->sh * wp + (p % s->ow) * s->sw;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * ohw;
    for (int i = 0; i < n; i++) {
        nnr_sc_pad_plane(s->c, s->h, s->w, x + i * xs, hp, wp, s->ph, s->pw, xp, i == 0);
        nnr_sc_transpose(dy + i * ys, s->oc, ohw, (size_t)ohw, dyT, (size_t)ocp, 0, 1);
        sc_wgrad_sample(s, xp, hp, wp, dyT, pofs, ocp, dwt, i == 0);
    }
    if (n > 0)
        nnr_sc_transpose(dwt, k, s->oc, (size_t)ocp, dw, (size_t)k, 0, 0);
    else
        nnr_sc_zero_floats(dw, (size_t)s->oc * k);
}

void nnr_conv_small_backward_f32(int n, const nnr_kconv *s, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *scratch)
{
    if (dw) sc_weight_grad(n, s, x, dy, dw, scratch);
    if (dx) (s->sh == 1 ? sc_data_grad : sc_data_grad_st)(n, s, w, dy, dx, scratch);
}
