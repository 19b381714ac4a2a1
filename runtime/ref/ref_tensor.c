/* ref_tensor.c — naive references of the tensor-op kernels (binary and
 * scalar operators, matmul, narrow/place, permute, sum/mean): one output
 * element at a time from its multi-index, double arithmetic; test oracle
 * only. */
#include <math.h>
#include <stddef.h>

#include "ref.h"

static double ref_op(int op, double a, double b)
{
    switch (op) {
    case NNR_BIN_ADD: return a + b;
    case NNR_BIN_SUB: return a - b;
    case NNR_BIN_MUL: return a * b;
    case NNR_BIN_DIV: return a / b;
    case NNR_BIN_RSUB: return b - a;
    default: return b / a;
    }
}

/* The multi-index of flat index i of [d0, d1, d2, d3]. */
static void unflat(size_t i, const int d[4], size_t idx[4])
{
    for (int j = 3; j >= 0; j--) {
        idx[j] = i % (size_t)d[j];
        i /= (size_t)d[j];
    }
}

static size_t count_of(const int d[4], const int st[4])
{
    size_t c = 1;
    for (int j = 0; j < 4; j++)
        if (st[j])
            c *= (size_t)d[j];
    return c;
}

void nnr_ref_binary_f32(int op, int n, const nnr_bcast_shape *s, const float *a, const float *b,
                        float *y)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    const int sa[4] = {s->a0, s->a1, s->a2, s->a3}, sb[4] = {s->b0, s->b1, s->b2, s->b3};
    size_t yn = (size_t)d[0] * d[1] * d[2] * d[3], an = count_of(d, sa), bn = count_of(d, sb);
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < yn; i++) {
            size_t idx[4], ia = 0, ib = 0;
            unflat(i, d, idx);
            for (int j = 0; j < 4; j++) {
                ia += idx[j] * (size_t)sa[j];
                ib += idx[j] * (size_t)sb[j];
            }
            y[q * yn + i] = (float)ref_op(op, a[q * an + ia], b[q * bn + ib]);
        }
}

void nnr_ref_binary_backward_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                                 const float *b, const float *dy, float *da, float *db)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    const int sa[4] = {s->a0, s->a1, s->a2, s->a3}, sb[4] = {s->b0, s->b1, s->b2, s->b3};
    size_t yn = (size_t)d[0] * d[1] * d[2] * d[3], an = count_of(d, sa), bn = count_of(d, sb);
    for (int q = 0; q < n; q++) {
        /* each gradient element: the sum over the output elements that read it */
        for (size_t t = 0; da && t < an; t++) {
            double acc = 0;
            for (size_t i = 0; i < yn; i++) {
                size_t idx[4], ia = 0, ib = 0;
                unflat(i, d, idx);
                for (int j = 0; j < 4; j++) {
                    ia += idx[j] * (size_t)sa[j];
                    ib += idx[j] * (size_t)sb[j];
                }
                if (ia != t)
                    continue;
                double bv = b[q * bn + ib], g = dy[q * yn + i];
                acc += op == NNR_BIN_MUL ? g * bv : op == NNR_BIN_DIV ? g / bv : g;
            }
            da[q * an + t] = (float)acc;
        }
        for (size_t t = 0; db && t < bn; t++) {
            double acc = 0;
            for (size_t i = 0; i < yn; i++) {
                size_t idx[4], ia = 0, ib = 0;
                unflat(i, d, idx);
                for (int j = 0; j < 4; j++) {
                    ia += idx[j] * (size_t)sa[j];
                    ib += idx[j] * (size_t)sb[j];
                }
                if (ib != t)
                    continue;
                double av = a[q * an + ia], bv = b[q * bn + ib], g = dy[q * yn + i];
                acc += op == NNR_BIN_ADD ? g : op == NNR_BIN_SUB ? -g : op == NNR_BIN_MUL ? g * av
                     : -g * av / (bv * bv);
            }
            db[q * bn + t] = (float)acc;
        }
    }
}

void nnr_ref_scalar_f32(int op, float c, size_t len, const float *x, float *y)
{
    for (size_t i = 0; i < len; i++)
        y[i] = (float)ref_op(op, x[i], c);
}

void nnr_ref_scalar_backward_f32(int op, float c, size_t len, const float *x, const float *y,
                                 const float *dy, float *dx)
{
    (void)y;
    for (size_t i = 0; i < len; i++) {
        double g = dy[i], xv = x[i];
        dx[i] = (float)(op == NNR_BIN_ADD ? g : op == NNR_BIN_RSUB ? -g : op == NNR_BIN_MUL ? g * c
                        : op == NNR_BIN_DIV ? g / c : -g * c / (xv * xv));
    }
}

void nnr_ref_matmul_f32(int n, const nnr_matmul_shape *s, const float *a, const float *b, float *y)
{
    for (int q = 0; q < n; q++)
        for (int i0 = 0; i0 < s->l0; i0++)
            for (int i1 = 0; i1 < s->l1; i1++) {
                const float *A = a + (size_t)q * s->an + (size_t)(i0 * s->a0 + i1 * s->a1) * s->m * s->k;
                const float *B = b + (size_t)q * s->bn + (size_t)(i0 * s->b0 + i1 * s->b1) * s->k * s->n;
                float *Y = y + (((size_t)q * s->l0 + i0) * s->l1 + i1) * s->m * s->n;
                for (int r = 0; r < s->m; r++)
                    for (int c = 0; c < s->n; c++) {
                        double acc = 0;
                        for (int t = 0; t < s->k; t++)
                            acc += (double)A[r * s->k + t] * B[t * s->n + c];
                        Y[r * s->n + c] = (float)acc;
                    }
            }
}

void nnr_ref_matmul_backward_f32(int n, const nnr_matmul_shape *s, const float *a,
                                 const float *b, const float *dy, float *da, float *db)
{
    size_t ma = (size_t)s->m * s->k, mb = (size_t)s->k * s->n;
    for (size_t i = 0; da && i < (size_t)n * s->an; i++)
        da[i] = 0;
    for (size_t i = 0; db && i < (size_t)n * s->bn; i++)
        db[i] = 0;
    for (int q = 0; q < n; q++)
        for (int i0 = 0; i0 < s->l0; i0++)
            for (int i1 = 0; i1 < s->l1; i1++) {
                size_t ja = (size_t)q * s->an + (size_t)(i0 * s->a0 + i1 * s->a1) * ma;
                size_t jb = (size_t)q * s->bn + (size_t)(i0 * s->b0 + i1 * s->b1) * mb;
                const float *G = dy + (((size_t)q * s->l0 + i0) * s->l1 + i1) * s->m * s->n;
                for (int r = 0; r < s->m; r++)
                    for (int t = 0; t < s->k; t++) {
                        double ga = 0;
                        for (int c = 0; c < s->n; c++)
                            ga += (double)G[r * s->n + c] * b[jb + (size_t)t * s->n + c];
                        if (da)
                            da[ja + (size_t)r * s->k + t] += (float)ga;
                    }
                for (int t = 0; db && t < s->k; t++)
                    for (int c = 0; c < s->n; c++) {
                        double gb = 0;
                        for (int r = 0; r < s->m; r++)
                            gb += (double)a[ja + (size_t)r * s->k + t] * G[r * s->n + c];
                        db[jb + (size_t)t * s->n + c] += (float)gb;
                    }
            }
}

void nnr_ref_narrow_f32(size_t outer, int xrows, int start, int rows, size_t inner, const float *x,
                        float *y)
{
    for (size_t o = 0; o < outer; o++)
        for (int r = 0; r < rows; r++)
            for (size_t i = 0; i < inner; i++)
                y[(o * rows + r) * inner + i] = x[(o * xrows + start + r) * inner + i];
}

void nnr_ref_place_f32(size_t outer, int yrows, int start, int rows, size_t inner, const float *x,
                       float *y)
{
    for (size_t o = 0; o < outer; o++)
        for (int r = 0; r < rows; r++)
            for (size_t i = 0; i < inner; i++)
                y[(o * yrows + start + r) * inner + i] = x[(o * rows + r) * inner + i];
}

void nnr_ref_permute_f32(int n, const nnr_permute_shape *s, const float *x, float *y)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3}, p[4] = {s->p0, s->p1, s->p2, s->p3};
    const int od[4] = {d[p[0]], d[p[1]], d[p[2]], d[p[3]]};
    size_t numel = (size_t)d[0] * d[1] * d[2] * d[3];
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < numel; i++) {
            size_t oi[4], ii[4], src = 0;
            unflat(i, od, oi);
            for (int j = 0; j < 4; j++)
                ii[p[j]] = oi[j];
            for (int j = 0; j < 4; j++)
                src = src * (size_t)d[j] + ii[j];
            y[q * numel + i] = x[q * numel + src];
        }
}

/* The output index of input element i (flat, one sample). */
static size_t red_out(const nnr_reduce_shape *s, size_t i, size_t *count)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    size_t idx[4], o = 0;
    unflat(i, d, idx);
    *count = 1;
    for (int j = 0; j < 4; j++) {
        if ((s->mask >> j) & 1)
            *count *= (size_t)d[j];
        else
            o = o * (size_t)d[j] + idx[j];
    }
    return o;
}

void nnr_ref_reduce_f32(int kind, int n, const nnr_reduce_shape *s, const float *x, float *y)
{
    size_t numel = (size_t)s->d0 * s->d1 * s->d2 * s->d3, count = 1;
    red_out(s, 0, &count);
    size_t on = numel / count;
    for (int q = 0; q < n; q++)
        for (size_t o = 0; o < on; o++) {
            double acc = 0;
            int first = 1, nan = 0;
            for (size_t i = 0; i < numel; i++) {
                if (red_out(s, i, &count) != o)
                    continue;
                double v = x[q * numel + i];
                nan |= isnan(v);
                if (kind < NNR_REDUCE_MAX)
                    acc += v;
                else if (first || (kind == NNR_REDUCE_MAX ? v > acc : v < acc))
                    acc = v;
                first = 0;
            }
            y[q * on + o] = kind >= NNR_REDUCE_MAX && nan ? NAN
                          : (float)(kind == NNR_REDUCE_MEAN ? acc / (double)count : acc);
        }
}

void nnr_ref_reduce_extreme_backward_f32(int n, const nnr_reduce_shape *s, const float *x,
                                         const float *y, const float *dy, float *dx)
{
    size_t numel = (size_t)s->d0 * s->d1 * s->d2 * s->d3, count = 1;
    red_out(s, 0, &count);
    size_t on = numel / count;
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < numel; i++) {
            size_t o = red_out(s, i, &count), ties = 0;
            for (size_t j = 0; j < numel; j++)
                ties += red_out(s, j, &count) == o && x[q * numel + j] == y[q * on + o];
            dx[q * numel + i] = x[q * numel + i] == y[q * on + o]
                              ? (float)((double)dy[q * on + o] / (double)ties) : 0.0f;
        }
}

void nnr_ref_reduce_backward_f32(int mean, int n, const nnr_reduce_shape *s, const float *dy,
                                 float *dx)
{
    size_t numel = (size_t)s->d0 * s->d1 * s->d2 * s->d3, count = 1;
    red_out(s, 0, &count);
    size_t on = numel / count;
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < numel; i++) {
            double g = dy[q * on + red_out(s, i, &count)];
            dx[q * numel + i] = (float)(mean ? g / (double)count : g);
        }
}
