/* seq_rnn.c — nn.LSTM and nn.GRU (batch first), forward and backward.
 *
 * Per layer and direction: the input projections of every step at once
 * (one GEMM, x·W_ihᵀ + b_ih over n·t rows), then the steps in order, each a
 * GEMM of the previous hidden states against W_hh and the element-wise
 * gates. The training forward keeps, per layer and direction, the gates
 * after their activations [n, t, gates·hidden] and an auxiliary [n, t,
 * hidden] (LSTM: the cell states; GRU: W_hn·h + b_hn, which r scales), and
 * between layers each layer's output, the next layer's (dropped-out) input
 * and the dropout mask. The backward runs the steps in reverse (backprop
 * through time) and finishes each layer with two GEMMs for W_ih and the
 * layer's input. See nnr.h for the parameter and result layouts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"

static float *rnn_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fputs("nnr: out of memory in a recurrent layer\n", stderr);
        abort();
    }
    return p;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static size_t in_of(const nnr_krnn *s, int l)
{
    return l ? (size_t)s->hidden * (size_t)s->dirs : (size_t)s->in;
}

/* Floats of one direction's tensors of layer l. */
static size_t dir_params(const nnr_krnn *s, int l)
{
    size_t gh = (size_t)s->gates * (size_t)s->hidden;
    return gh * in_of(s, l) + gh * (size_t)s->hidden + (s->bias ? 2 * gh : 0);
}

size_t nnr_kern_rnn_params(const nnr_krnn *s)
{
    size_t t = 0;
    for (int l = 0; l < s->layers; l++) t += (size_t)s->dirs * dir_params(s, l);
    return t;
}

size_t nnr_kern_rnn_packed(const nnr_krnn *s)
{
    size_t dh = (size_t)s->dirs * (size_t)s->hidden;
    return (size_t)s->t * dh + (size_t)s->layers * dh * (s->gates == 4 ? 2 : 1);
}

size_t nnr_kern_rnn_saved(const nnr_krnn *s)
{
    size_t t = (size_t)s->t, h = (size_t)s->hidden, dh = (size_t)s->dirs * h;
    return (size_t)s->layers * (size_t)s->dirs * t * ((size_t)s->gates * h + h)
         + (size_t)(s->layers - 1) * t * dh * 3;
}

/* One direction's tensors: weight_ih, weight_hh, bias_ih, bias_hh (NULL). */
typedef struct rnn_w { const float *ih, *hh, *bih, *bhh; } rnn_w;

static rnn_w dir_weights(const nnr_krnn *s, const float *p, int l, int d, size_t *off)
{
    size_t o = 0, gh = (size_t)s->gates * (size_t)s->hidden;
    for (int k = 0; k < l * s->dirs + d; k++) o += dir_params(s, k / s->dirs);
    rnn_w w;
    w.ih = p + o;
    w.hh = w.ih + gh * in_of(s, l);
    w.bih = s->bias ? w.hh + gh * (size_t)s->hidden : NULL;
    w.bhh = s->bias ? w.bih + gh : NULL;
    if (off) *off = o;
    return w;
}

/* Where a direction's hidden states go: out + b·os + t·dirs·hidden + d·hidden. */
typedef struct rnn_io {
    float *out;
    size_t os;
    float *gates, *aux;     /* [n, t, gates·hidden], [n, t, hidden] */
    float *hn, *cn;         /* this (layer, direction)'s final-state rows, per sample ps */
    size_t ps;
} rnn_io;

/* One step's gates for every sample from the input projections g, the
 * hidden projections hg and the previous states. */
static void rnn_cell(const nnr_krnn *s, int n, int d, int t, int tp, const rnn_io *io,
                     const float *hg)
{
    const int H = s->hidden, GH = s->gates * H;
    const size_t dh = (size_t)s->dirs * (size_t)H, T = (size_t)s->t;
    for (int b = 0; b < n; b++) {
        float *g = io->gates + ((size_t)b * T + (size_t)t) * (size_t)GH;
        float *a = io->aux + ((size_t)b * T + (size_t)t) * (size_t)H;
        float *h = io->out + (size_t)b * io->os + (size_t)t * dh + (size_t)d * H;
        const float *hgb = hg + (size_t)b * GH;
        const float *ap = tp >= 0 ? io->aux + ((size_t)b * T + (size_t)tp) * (size_t)H : NULL;
        const float *hp = tp >= 0 ? io->out + (size_t)b * io->os + (size_t)tp * dh + (size_t)d * H : NULL;
        for (int j = 0; j < H; j++) {
            if (s->gates == 4) {
                float i = sigm(g[j] + hgb[j]), f = sigm(g[H + j] + hgb[H + j]);
                float gg = tanhf(g[2 * H + j] + hgb[2 * H + j]), o = sigm(g[3 * H + j] + hgb[3 * H + j]);
                float c = f * (ap ? ap[j] : 0.0f) + i * gg;
                g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
                a[j] = c;
                h[j] = o * tanhf(c);
            } else {
                float r = sigm(g[j] + hgb[j]), z = sigm(g[H + j] + hgb[H + j]);
                float hn = hgb[2 * H + j], nn = tanhf(g[2 * H + j] + r * hn);
                g[j] = r, g[H + j] = z, g[2 * H + j] = nn;
                a[j] = hn;
                h[j] = (1.0f - z) * nn + z * (hp ? hp[j] : 0.0f);
            }
        }
    }
}

/* The forward of one direction of layer l over its input xin [n, t, in_l]. */
static void rnn_dir(const nnr_krnn *s, int n, int l, int d, const float *xin, rnn_w w,
                    const rnn_io *io, float *hg)
{
    const int H = s->hidden, GH = s->gates * H, T = s->t;
    const size_t dh = (size_t)s->dirs * (size_t)H;
    nnr_linear_f32(n * T, (int)in_of(s, l), GH, xin, w.ih, w.bih, io->gates, NNR_ACT_NONE, 0.0f);
    for (int st = 0; st < T; st++) {
        int t = d ? T - 1 - st : st, tp = st == 0 ? -1 : d ? t + 1 : t - 1;
        if (tp < 0)
            memset(hg, 0, (size_t)n * GH * sizeof *hg);
        else
            nnr_gemm_f32(0, 1, n, GH, H, io->out + (size_t)tp * dh + (size_t)d * H, (int)io->os,
                         w.hh, H, hg, GH, 0);
        if (w.bhh)
            for (int b = 0; b < n; b++)
                for (int j = 0; j < GH; j++) hg[(size_t)b * GH + j] += w.bhh[j];
        rnn_cell(s, n, d, t, tp, io, hg);
    }
    int tl = d ? 0 : T - 1;
    for (int b = 0; b < n; b++) {
        memcpy(io->hn + (size_t)b * io->ps, io->out + (size_t)b * io->os + (size_t)tl * dh + (size_t)d * H,
               (size_t)H * sizeof(float));
        if (io->cn)
            memcpy(io->cn + (size_t)b * io->ps, io->aux + ((size_t)b * T + (size_t)tl) * (size_t)H,
                   (size_t)H * sizeof(float));
    }
}

/* Where a (layer, direction)'s gates and aux are in the training block of
 * n samples (nnr_kern_rnn_saved per sample). */
static float *saved_gates(const nnr_krnn *s, int n, float *sv, int l, int d, float **aux)
{
    size_t T = (size_t)s->t, H = (size_t)s->hidden, per = (size_t)n * T * ((size_t)s->gates * H + H);
    float *g = sv + (size_t)(l * s->dirs + d) * per;
    *aux = g + (size_t)n * T * (size_t)s->gates * H;
    return g;
}

/* Layer l's output, the next layer's input and the mask (l < layers - 1). */
static float *saved_between(const nnr_krnn *s, int n, float *sv, int l, int which)
{
    size_t T = (size_t)s->t, H = (size_t)s->hidden, dh = (size_t)s->dirs * H;
    size_t per = (size_t)n * T * ((size_t)s->gates * H + H), blk = (size_t)n * T * dh;
    return sv + (size_t)s->layers * (size_t)s->dirs * per + ((size_t)l * 3 + (size_t)which) * blk;
}

static void rnn_forward(const nnr_krnn *s, int n, const float *x, const float *p, float *y,
                        float *sv, nnr_rng *rng, float dropout)
{
    const size_t T = (size_t)s->t, H = (size_t)s->hidden, dh = (size_t)s->dirs * H;
    const size_t ps = nnr_kern_rnn_packed(s), GH = (size_t)s->gates * H;
    /* inference: one direction's gates and aux, two layer outputs */
    float *tmp = sv ? NULL : rnn_alloc((size_t)n * T * (GH + H + 2 * dh));
    float *hg = rnn_alloc((size_t)n * GH);
    const float *xin = x;
    for (int l = 0; l < s->layers; l++) {
        int last = l == s->layers - 1;
        rnn_io io;
        io.out = last ? y : sv ? saved_between(s, n, sv, l, 0) : tmp + (size_t)n * T * (GH + H + (l & 1) * dh);
        io.os = last ? ps : T * dh;
        io.ps = ps;
        for (int d = 0; d < s->dirs; d++) {
            if (sv)
                io.gates = saved_gates(s, n, sv, l, d, &io.aux);
            else
                io.gates = tmp, io.aux = tmp + (size_t)n * T * GH;
            io.hn = y + T * dh + (size_t)(l * s->dirs + d) * H;
            io.cn = s->gates == 4 ? io.hn + (size_t)s->layers * dh : NULL;
            rnn_dir(s, n, l, d, xin, dir_weights(s, p, l, d, NULL), &io, hg);
        }
        if (last)
            break;
        if (sv) {
            float *xn = saved_between(s, n, sv, l, 1), *mask = saved_between(s, n, sv, l, 2);
            nnr_dropout_f32(rng, dropout, (size_t)n * T * dh, io.out, xn, mask);
            xin = xn;
        } else {
            xin = io.out;
        }
    }
    free(hg);
    free(tmp);
}

void nnr_kern_rnn_f32(const nnr_krnn *s, int n, const float *x, const float *p, float *y)
{
    rnn_forward(s, n, x, p, y, NULL, NULL, 0.0f);
}

void nnr_kern_rnn_train_f32(const nnr_krnn *s, int n, const float *x, const float *p,
                       float *y, float *saved, nnr_rng *rng, float dropout)
{
    rnn_forward(s, n, x, p, y, saved, rng, dropout);
}

/* Scratch of the backward of one direction: dG [n, t, gates·hidden] (the
 * pre-activation gradients, for W_ih), dhg [n, gates·hidden] (the hidden
 * projection's, for W_hh), and per sample dh, dc of the next step. */
typedef struct rnn_bw { float *dg, *dhg, *dhn, *dcn, *dhd; } rnn_bw;

/* One step's gradients: dG of step t, dhg, and dcn (LSTM) / dhd (GRU: the
 * direct path h' = ... + z·h). dhn holds dh from the next step. */
static void rnn_cell_back(const nnr_krnn *s, int n, int d, int t, int tp, const rnn_io *io,
                          const float *dout, size_t dos, const rnn_bw *bw)
{
    const int H = s->hidden, GH = s->gates * H;
    const size_t dh = (size_t)s->dirs * (size_t)H, T = (size_t)s->t;
    for (int b = 0; b < n; b++) {
        const float *g = io->gates + ((size_t)b * T + (size_t)t) * (size_t)GH;
        const float *a = io->aux + ((size_t)b * T + (size_t)t) * (size_t)H;
        const float *dy = dout + (size_t)b * dos + (size_t)t * dh + (size_t)d * H;
        float *dg = bw->dg + ((size_t)b * T + (size_t)t) * (size_t)GH, *dhg = bw->dhg + (size_t)b * GH;
        float *dhn = bw->dhn + (size_t)b * H, *dcn = bw->dcn + (size_t)b * H, *dhd = bw->dhd + (size_t)b * H;
        const float *ap = tp >= 0 ? io->aux + ((size_t)b * T + (size_t)tp) * (size_t)H : NULL;
        const float *hp = tp >= 0 ? io->out + (size_t)b * io->os + (size_t)tp * dh + (size_t)d * H : NULL;
        for (int j = 0; j < H; j++) {
            float dhj = dy[j] + dhn[j];
            if (s->gates == 4) {
                float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
                float tc = tanhf(a[j]), cp = ap ? ap[j] : 0.0f;
                float dc = dcn[j] + dhj * o * (1.0f - tc * tc);
                dg[j] = dc * gg * i * (1.0f - i);
                dg[H + j] = dc * cp * f * (1.0f - f);
                dg[2 * H + j] = dc * i * (1.0f - gg * gg);
                dg[3 * H + j] = dhj * tc * o * (1.0f - o);
                dcn[j] = dc * f;
                dhg[j] = dg[j], dhg[H + j] = dg[H + j], dhg[2 * H + j] = dg[2 * H + j];
                dhg[3 * H + j] = dg[3 * H + j];
            } else {
                float r = g[j], z = g[H + j], nn = g[2 * H + j], hv = hp ? hp[j] : 0.0f;
                float dn = dhj * (1.0f - z), dz = dhj * (hv - nn);
                float dan = dn * (1.0f - nn * nn);
                dg[j] = dan * a[j] * r * (1.0f - r);
                dg[H + j] = dz * z * (1.0f - z);
                dg[2 * H + j] = dan;
                dhg[j] = dg[j], dhg[H + j] = dg[H + j], dhg[2 * H + j] = dan * r;
                dhd[j] = dhj * z;
            }
        }
    }
}

/* Column sums of m [rows, cols] added to acc. */
static void add_colsum(size_t rows, int cols, const float *m, float *acc)
{
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) acc[j] += m[r * (size_t)cols + j];
}

/* The backward of one direction of layer l: its parameters' gradient dw
 * (overwritten) and dxin (+= when acc, else overwritten; NULL: none). */
static void rnn_dir_back(const nnr_krnn *s, int n, int l, int d, const float *xin, rnn_w w,
                         float *dw, const rnn_io *io, const float *dout, size_t dos,
                         const float *dhn0, const float *dcn0, float *dxin, int acc, const rnn_bw *bw)
{
    const int H = s->hidden, GH = s->gates * H, T = s->t, in = (int)in_of(s, l);
    const size_t dh = (size_t)s->dirs * (size_t)H;
    float *dwih = dw, *dwhh = dw + (size_t)GH * in;
    float *dbih = s->bias ? dwhh + (size_t)GH * H : NULL, *dbhh = s->bias ? dbih + GH : NULL;
    memset(dw, 0, dir_params(s, l) * sizeof *dw);
    for (int b = 0; b < n; b++) {
        memcpy(bw->dhn + (size_t)b * H, dhn0 + (size_t)b * io->ps, (size_t)H * sizeof(float));
        if (dcn0)
            memcpy(bw->dcn + (size_t)b * H, dcn0 + (size_t)b * io->ps, (size_t)H * sizeof(float));
    }
    for (int st = T - 1; st >= 0; st--) {
        int t = d ? T - 1 - st : st, tp = st == 0 ? -1 : d ? t + 1 : t - 1;
        rnn_cell_back(s, n, d, t, tp, io, dout, dos, bw);
        if (dbhh) add_colsum((size_t)n, GH, bw->dhg, dbhh);
        if (tp < 0)
            break;
        const float *hp = io->out + (size_t)tp * dh + (size_t)d * H;
        nnr_gemm_f32(1, 0, GH, H, n, bw->dhg, GH, hp, (int)io->os, dwhh, H, 1);
        nnr_gemm_f32(0, 0, n, H, GH, bw->dhg, GH, w.hh, H, bw->dhn, H, 0);
        if (s->gates == 3)
            for (size_t k = 0; k < (size_t)n * H; k++) bw->dhn[k] += bw->dhd[k];
    }
    nnr_gemm_f32(1, 0, GH, in, n * T, bw->dg, GH, xin, in, dwih, in, 0);
    if (dbih) add_colsum((size_t)n * T, GH, bw->dg, dbih);
    if (dxin) nnr_gemm_f32(0, 0, n * T, in, GH, bw->dg, GH, w.ih, in, dxin, in, acc);
}

void nnr_kern_rnn_backward_f32(const nnr_krnn *s, int n, const float *x, const float *p,
                          const float *y, const float *saved, const float *dy, float *dx,
                          float *dp)
{
    const size_t T = (size_t)s->t, H = (size_t)s->hidden, dh = (size_t)s->dirs * H;
    const size_t ps = nnr_kern_rnn_packed(s), GH = (size_t)s->gates * H, nt = (size_t)n * T;
    float *buf = rnn_alloc(nt * GH + (size_t)n * (GH + 3 * H) + 2 * nt * dh);
    rnn_bw bw = {buf, buf + nt * GH, NULL, NULL, NULL};
    bw.dhn = bw.dhg + (size_t)n * GH, bw.dcn = bw.dhn + (size_t)n * H, bw.dhd = bw.dcn + (size_t)n * H;
    float *dcur = bw.dhd + (size_t)n * H, *dnext = dcur + nt * dh;
    float *sv = (float *)saved;
    for (int l = s->layers - 1; l >= 0; l--) {
        int last = l == s->layers - 1;
        rnn_io io;
        io.out = last ? (float *)y : saved_between(s, n, sv, l, 0);
        io.os = last ? ps : T * dh;
        io.ps = ps;
        const float *dout = last ? dy : dcur;
        const float *xin = l ? saved_between(s, n, sv, l - 1, 1) : x;
        float *dxin = l ? dnext : dx;
        for (int d = 0; d < s->dirs; d++) {
            size_t off;
            rnn_w w = dir_weights(s, p, l, d, &off);
            io.gates = saved_gates(s, n, sv, l, d, &io.aux);
            const float *dhn0 = dy + T * dh + (size_t)(l * s->dirs + d) * H;
            const float *dcn0 = s->gates == 4 ? dhn0 + (size_t)s->layers * dh : NULL;
            if (s->gates != 4)
                memset(bw.dcn, 0, (size_t)n * H * sizeof(float));
            rnn_dir_back(s, n, l, d, xin, w, dp + off, &io, dout, last ? ps : T * dh, dhn0, dcn0,
                         dxin, d > 0, &bw);
        }
        if (l) {
            const float *mask = saved_between(s, n, sv, l - 1, 2);
            for (size_t k = 0; k < nt * dh; k++) dcur[k] = dnext[k] * mask[k];
        }
    }
    free(buf);
}

void nnr_rnn_result_f32(int n, size_t packed, size_t off, size_t len, const float *src, float *y)
{
    for (int b = 0; b < n; b++)
        memcpy(y + (size_t)b * len, src + (size_t)b * packed + off, len * sizeof *y);
}

void nnr_rnn_result_backward_f32(int n, size_t packed, size_t off, size_t len, const float *dy,
                                 float *dsrc)
{
    memset(dsrc, 0, (size_t)n * packed * sizeof *dsrc);
    for (int b = 0; b < n; b++)
        memcpy(dsrc + (size_t)b * packed + off, dy + (size_t)b * len, len * sizeof *dy);
}
