/* ref_seq.c — naive references of the sequence kernels (kernels/seq*.c):
 * embedding, scaled dot-product attention with the whole score row in
 * double, LSTM/GRU step by step per sample in double, and the sequence
 * losses row by row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

void nnr_ref_embedding_f32(size_t rows, int num, int dim, const float *idx, const float *w,
                           float *y)
{
    for (size_t r = 0; r < rows; r++) {
        double v = idx[r];
        int ok = v >= 0 && v < num && v == floor(v);
        for (int j = 0; j < dim; j++)
            y[r * (size_t)dim + (size_t)j] = ok ? w[(size_t)v * (size_t)dim + (size_t)j] : 0.0f;
    }
}

void nnr_ref_embedding_backward_f32(size_t rows, int num, int dim, int padding_idx,
                                    const float *idx, const float *dy, float *dw)
{
    for (int i = 0; i < num; i++)
        for (int j = 0; j < dim; j++) {
            double s = 0.0;
            for (size_t r = 0; r < rows; r++)
                if (idx[r] == (float)i && i != padding_idx) s += dy[r * (size_t)dim + (size_t)j];
            dw[(size_t)i * (size_t)dim + (size_t)j] = (float)s;
        }
}

/* One query's probabilities p[0..tk) in double over its first vis keys
 * (the others 0); the log-sum-exp of its scaled scores. */
static double attn_probs(int tk, int e, int vis, const float *qi, const float *kh, double *p)
{
    double m = -INFINITY, sum = 0.0;
    for (int j = 0; j < vis; j++) {
        double s = 0.0;
        for (int c = 0; c < e; c++) s += (double)qi[c] * kh[(size_t)j * e + c];
        p[j] = s / sqrt((double)e);
        m = p[j] > m ? p[j] : m;
    }
    for (int j = 0; j < tk; j++) {
        p[j] = j < vis ? exp(p[j] - m) : 0.0;
        sum += p[j];
    }
    for (int j = 0; j < tk; j++) p[j] /= sum;
    return m + log(sum);
}

static int ref_vis(int tk, int causal, int i) { return causal && i + 1 < tk ? i + 1 : tk; }

void nnr_ref_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                      const float *k, const float *v, float *y, float *lse)
{
    double *p = malloc((size_t)tk * sizeof *p);
    for (int h = 0; h < bh; h++)
        for (int i = 0; i < tq; i++) {
            const float *qi = q + ((size_t)h * tq + i) * e, *kh = k + (size_t)h * tk * e;
            double l = attn_probs(tk, e, ref_vis(tk, causal, i), qi, kh, p);
            for (int c = 0; c < ev; c++) {
                double s = 0.0;
                for (int j = 0; j < tk; j++) s += p[j] * v[((size_t)h * tk + j) * ev + c];
                y[((size_t)h * tq + i) * ev + c] = (float)s;
            }
            if (lse) lse[(size_t)h * tq + i] = (float)l;
        }
    free(p);
}

void nnr_ref_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                               const float *q, const float *k, const float *v, const float *y,
                               const float *lse, const float *dy, float *dq, float *dk, float *dv)
{
    (void)y, (void)lse;
    double *p = malloc((size_t)tk * sizeof *p), *ds = malloc((size_t)tk * sizeof *ds);
    double *gq = calloc((size_t)bh * tq * e, sizeof *gq), *gk = calloc((size_t)bh * tk * e, sizeof *gk);
    double *gv = calloc((size_t)bh * tk * ev, sizeof *gv);
    const double sc = 1.0 / sqrt((double)e);
    for (int h = 0; h < bh; h++)
        for (int i = 0; i < tq; i++) {
            const float *qi = q + ((size_t)h * tq + i) * e, *kh = k + (size_t)h * tk * e;
            const float *vh = v + (size_t)h * tk * ev, *gy = dy + ((size_t)h * tq + i) * ev;
            attn_probs(tk, e, ref_vis(tk, causal, i), qi, kh, p);
            double dd = 0.0;
            for (int j = 0; j < tk; j++) {
                double dpj = 0.0;
                for (int c = 0; c < ev; c++) dpj += (double)gy[c] * vh[(size_t)j * ev + c];
                ds[j] = dpj;
                dd += p[j] * dpj;
            }
            for (int j = 0; j < tk; j++) {
                double g = p[j] * (ds[j] - dd) * sc;
                for (int c = 0; c < e; c++) {
                    gq[((size_t)h * tq + i) * e + c] += g * kh[(size_t)j * e + c];
                    gk[((size_t)h * tk + j) * e + c] += g * qi[c];
                }
                for (int c = 0; c < ev; c++) gv[((size_t)h * tk + j) * ev + c] += p[j] * gy[c];
            }
        }
    for (size_t i = 0; i < (size_t)bh * tq * e; i++) if (dq) dq[i] = (float)gq[i];
    for (size_t i = 0; i < (size_t)bh * tk * e; i++) if (dk) dk[i] = (float)gk[i];
    for (size_t i = 0; i < (size_t)bh * tk * ev; i++) if (dv) dv[i] = (float)gv[i];
    free(p), free(ds), free(gq), free(gk), free(gv);
}

static double sg(double x) { return 1.0 / (1.0 + exp(-x)); }

/* One direction of one layer for one sample: xin [t, in], h written to
 * out[t·ostride + d·hidden], final h and c to hn, cn. */
static void ref_rnn_dir(const nnr_rnn_shape *s, int in, const float *xin, const float *w,
                        int d, float *out, int ostride, float *hn, float *cn)
{
    const int H = s->hidden_size, G = s->gates, T = s->seq_len;
    const float *wih = w, *whh = w + (size_t)G * H * in;
    const float *bih = s->bias ? whh + (size_t)G * H * H : NULL, *bhh = bih ? bih + G * H : NULL;
    double *h = calloc((size_t)H, sizeof *h), *c = calloc((size_t)H, sizeof *c);
    double *a = malloc((size_t)G * H * sizeof *a), *bb = malloc((size_t)G * H * sizeof *bb);
    for (int st = 0; st < T; st++) {
        int t = d ? T - 1 - st : st;
        for (int r = 0; r < G * H; r++) {
            double si = bih ? bih[r] : 0.0, sh = bhh ? bhh[r] : 0.0;
            for (int j = 0; j < in; j++) si += (double)wih[(size_t)r * in + j] * xin[(size_t)t * in + j];
            for (int j = 0; j < H; j++) sh += (double)whh[(size_t)r * H + j] * h[j];
            a[r] = si, bb[r] = sh;
        }
        for (int j = 0; j < H; j++) {
            if (G == 4) {
                double i = sg(a[j] + bb[j]), f = sg(a[H + j] + bb[H + j]);
                double g = tanh(a[2 * H + j] + bb[2 * H + j]), o = sg(a[3 * H + j] + bb[3 * H + j]);
                c[j] = f * c[j] + i * g;
                h[j] = o * tanh(c[j]);
            } else {
                double r = sg(a[j] + bb[j]), z = sg(a[H + j] + bb[H + j]);
                double nn = tanh(a[2 * H + j] + r * bb[2 * H + j]);
                h[j] = (1.0 - z) * nn + z * h[j];
            }
            out[(size_t)t * ostride + (size_t)d * H + j] = (float)h[j];
        }
    }
    for (int j = 0; j < H; j++) {
        hn[j] = (float)h[j];
        if (cn) cn[j] = (float)c[j];
    }
    free(h), free(c), free(a), free(bb);
}

void nnr_ref_rnn_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p, float *y)
{
    const int H = s->hidden_size, D = s->num_directions, T = s->seq_len, G = s->gates;
    const size_t ps = nnr_rnn_packed(s);
    float *buf = malloc((size_t)T * D * H * sizeof *buf), *nx = malloc((size_t)T * D * H * sizeof *nx);
    for (int b = 0; b < n; b++) {
        const float *xin = x + (size_t)b * T * s->input_size;
        float *yb = y + (size_t)b * ps;
        const float *w = p;
        for (int l = 0; l < s->num_layers; l++) {
            int in = l ? D * H : s->input_size;
            float *out = l == s->num_layers - 1 ? yb : buf;
            for (int d = 0; d < D; d++) {
                float *hn = yb + (size_t)T * D * H + (size_t)(l * D + d) * H;
                ref_rnn_dir(s, in, xin, w, d, out, D * H, hn, G == 4 ? hn + (size_t)s->num_layers * D * H : NULL);
                w += (size_t)G * H * in + (size_t)G * H * H + (s->bias ? 2u * G * H : 0u);
            }
            memcpy(nx, out, (size_t)T * D * H * sizeof *nx);
            xin = nx;
        }
    }
    free(buf), free(nx);
}

double nnr_ref_seq_loss_f32(nnr_loss loss, size_t rows, int k, const float *pred,
                            const int32_t *labels, int ignore_index, float *dpred)
{
    size_t count = 0;
    double acc = 0.0;
    for (size_t r = 0; r < rows; r++)
        count += labels[r] != ignore_index;
    for (size_t r = 0; r < rows; r++) {
        const float *x = pred + r * (size_t)k;
        int c = labels[r];
        double m = -INFINITY, s = 0.0;
        for (int j = 0; j < k; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < k; j++) s += exp((double)x[j] - m);
        for (int j = 0; j < k && dpred; j++) {
            double g = 0.0;
            if (c != ignore_index) {
                if (loss == NNR_LOSS_NLL) g = j == c ? -1.0 : 0.0;
                else g = exp((double)x[j] - m) / s - (j == c);
                g /= (double)count;
            }
            dpred[r * (size_t)k + (size_t)j] = (float)g;
        }
        if (c == ignore_index)
            continue;
        if (c < 0 || c >= k)
            return NAN;
        acc += loss == NNR_LOSS_NLL ? -(double)x[c] : m + log(s) - x[c];
    }
    return count ? acc / (double)count : NAN;
}

double nnr_ref_seq_loss_soft_f32(size_t rows, int k, const float *pred, const int32_t *labels,
                                 const float *soft, int ignore_index, float *dpred)
{
    size_t count = 0;
    double acc = 0.0;
    for (size_t r = 0; r < rows; r++)
        count += labels[r] != ignore_index;
    for (size_t r = 0; r < rows; r++) {
        const float *x = pred + r * (size_t)k, *t = soft + r * (size_t)k;
        int skip = labels[r] == ignore_index;
        double m = -INFINITY, s = 0.0, tsum = 0.0;
        for (int j = 0; j < k; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < k; j++) s += exp((double)x[j] - m);
        for (int j = 0; j < k; j++) tsum += t[j];
        for (int j = 0; j < k; j++) {
            double logp = (double)x[j] - m - log(s);
            if (!skip) acc -= (double)t[j] * logp;
            if (dpred)
                dpred[r * (size_t)k + (size_t)j] = skip ? 0.0f : (float)((exp(logp) * tsum - t[j]) / (double)count);
        }
    }
    return count ? acc / (double)count : NAN;
}
