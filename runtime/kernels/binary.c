/* binary.c — element-wise operators with PyTorch broadcasting (add, sub,
 * mul, div of two values) and with a number (x + c, c - x, x * c, x / c,
 * c / x), forward and backward.
 *
 * The compiler collapses the broadcast to at most four dimensions whose
 * innermost is a row: both operands contiguous along it (the same-shape
 * case: one SIMD loop over the whole batch), or one of them a single
 * number repeated along the row (the channel-broadcast case, a bias per
 * channel of [C, H, W]: a SIMD vector-scalar loop per row). Every output
 * element is the one IEEE operation of its two inputs, as in PyTorch.
 * Backward sums the gradient over the dimensions an operand broadcasts. */
#include <stddef.h>
#include <string.h>

#include "../nnr.h"
#include "../simd.h"

#define W NNR_VEC_WIDTH

static inline float op1(int op, float a, float b)
{
    switch (op) {
    case NNR_BIN_ADD: return a + b;
    case NNR_BIN_SUB: return a - b;
    case NNR_BIN_MUL: return a * b;
    case NNR_BIN_DIV: return a / b;
    case NNR_BIN_RSUB: return b - a;
    default: return (1.0f / a) * b;  /* NNR_BIN_RDIV: PyTorch's reciprocal() * c */
    }
}

static inline NNR_VEC opv(int op, NNR_VEC a, NNR_VEC b)
{
    switch (op) {
    case NNR_BIN_ADD: return NNR_VEC_ADD(a, b);
    case NNR_BIN_SUB: return NNR_VEC_SUB(a, b);
    case NNR_BIN_MUL: return NNR_VEC_MUL(a, b);
    case NNR_BIN_DIV: return NNR_VEC_DIV(a, b);
    case NNR_BIN_RSUB: return NNR_VEC_SUB(b, a);
    default: return NNR_VEC_MUL(NNR_VEC_DIV(NNR_VEC_SET1(1.0f), a), b);
    }
}

/* One row of len: a and b step by sa, sb (0 or 1). */
static void row(int op, size_t len, const float *a, int sa, const float *b, int sb, float *y)
{
    size_t i = 0;
    if (sa && sb) {
        for (; i + W <= len; i += W)
            NNR_VEC_STORE(y + i, opv(op, NNR_VEC_LOAD(a + i), NNR_VEC_LOAD(b + i)));
        for (; i < len; i++)
            y[i] = op1(op, a[i], b[i]);
    } else if (sa) {
        NNR_VEC vb = NNR_VEC_SET1(*b);
        for (; i + W <= len; i += W)
            NNR_VEC_STORE(y + i, opv(op, NNR_VEC_LOAD(a + i), vb));
        for (; i < len; i++)
            y[i] = op1(op, a[i], *b);
    } else if (sb) {
        NNR_VEC va = NNR_VEC_SET1(*a);
        for (; i + W <= len; i += W)
            NNR_VEC_STORE(y + i, opv(op, va, NNR_VEC_LOAD(b + i)));
        for (; i < len; i++)
            y[i] = op1(op, *a, b[i]);
    } else {
        float v = op1(op, *a, *b);
        for (; i < len; i++)
            y[i] = v;
    }
}

/* Floats of one sample of the operand with strides s0..s3. */
static size_t numel(const nnr_bcast_shape *s, int s0, int s1, int s2, int s3)
{
    return (size_t)(s0 ? s->d0 : 1) * (size_t)(s1 ? s->d1 : 1) * (size_t)(s2 ? s->d2 : 1) *
           (size_t)(s3 ? s->d3 : 1);
}

void nnr_binary_f32(int op, int n, const nnr_bcast_shape *s, const float *a, const float *b,
                    float *y)
{
    size_t an = numel(s, s->a0, s->a1, s->a2, s->a3), bn = numel(s, s->b0, s->b1, s->b2, s->b3);
    size_t yn = (size_t)s->d0 * (size_t)s->d1 * (size_t)s->d2 * (size_t)s->d3;
    if (an == yn && bn == yn) {     /* the same shape: one row over the batch */
        row(op, (size_t)n * yn, a, 1, b, 1, y);
        return;
    }
    for (int m = 0; m < n; m++) {
        const float *pa = a + (size_t)m * an, *pb = b + (size_t)m * bn;
        float *py = y + (size_t)m * yn;
        for (int i0 = 0; i0 < s->d0; i0++)
            for (int i1 = 0; i1 < s->d1; i1++)
                for (int i2 = 0; i2 < s->d2; i2++) {
                    size_t oa = (size_t)i0 * s->a0 + (size_t)i1 * s->a1 + (size_t)i2 * s->a2;
                    size_t ob = (size_t)i0 * s->b0 + (size_t)i1 * s->b1 + (size_t)i2 * s->b2;
                    row(op, (size_t)s->d3, pa + oa, s->a3, pb + ob, s->b3, py);
                    py += s->d3;
                }
    }
}

/* The gradient dy carries to a (wrt = 0) or b (1) through a op b. */
static inline float deriv(int op, int wrt, float a, float b, float dy)
{
    switch (op) {
    case NNR_BIN_ADD: return dy;
    case NNR_BIN_SUB: return wrt ? -dy : dy;
    case NNR_BIN_MUL: return dy * (wrt ? a : b);
    default: return wrt ? -dy * (a / b / b) : dy / b;  /* NNR_BIN_DIV, as PyTorch */
    }
}

/* Same-shape backward, element by element (SIMD for add, sub and mul). */
static void same_backward(int op, size_t len, const float *a, const float *b, const float *dy,
                          float *da, float *db)
{
    for (int wrt = 0; wrt < 2; wrt++) {
        float *d = wrt ? db : da;
        if (!d)
            continue;
        size_t i = 0;
        if (op == NNR_BIN_ADD || (op == NNR_BIN_SUB && !wrt)) {
            if (d != dy)    /* the training plan may make the gradient dy itself */
                memmove(d, dy, len * sizeof *d);
            continue;
        }
        if (op == NNR_BIN_SUB) {
            NNR_VEC z = NNR_VEC_ZERO();
            for (; i + W <= len; i += W)
                NNR_VEC_STORE(d + i, NNR_VEC_SUB(z, NNR_VEC_LOAD(dy + i)));
        } else if (op == NNR_BIN_MUL) {
            const float *o = wrt ? a : b;
            for (; i + W <= len; i += W)
                NNR_VEC_STORE(d + i, NNR_VEC_MUL(NNR_VEC_LOAD(dy + i), NNR_VEC_LOAD(o + i)));
        }
        for (; i < len; i++)
            d[i] = deriv(op, wrt, a[i], b[i], dy[i]);
    }
}

void nnr_binary_backward_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                             const float *b, const float *dy, float *da, float *db)
{
    size_t an = numel(s, s->a0, s->a1, s->a2, s->a3), bn = numel(s, s->b0, s->b1, s->b2, s->b3);
    size_t yn = (size_t)s->d0 * (size_t)s->d1 * (size_t)s->d2 * (size_t)s->d3;
    if (an == yn && bn == yn) {
        same_backward(op, (size_t)n * yn, a, b, dy, da, db);
        return;
    }
    if (da)
        memset(da, 0, (size_t)n * an * sizeof *da);
    if (db)
        memset(db, 0, (size_t)n * bn * sizeof *db);
    for (int m = 0; m < n; m++) {
        const float *pa = a + (size_t)m * an, *pb = b + (size_t)m * bn;
        const float *py = dy + (size_t)m * yn;
        float *qa = da ? da + (size_t)m * an : NULL, *qb = db ? db + (size_t)m * bn : NULL;
        for (int i0 = 0; i0 < s->d0; i0++)
            for (int i1 = 0; i1 < s->d1; i1++)
                for (int i2 = 0; i2 < s->d2; i2++) {
                    size_t oa = (size_t)i0 * s->a0 + (size_t)i1 * s->a1 + (size_t)i2 * s->a2;
                    size_t ob = (size_t)i0 * s->b0 + (size_t)i1 * s->b1 + (size_t)i2 * s->b2;
                    for (int i3 = 0; i3 < s->d3; i3++, py++) {
                        size_t ja = oa + (size_t)i3 * s->a3, jb = ob + (size_t)i3 * s->b3;
                        if (qa)
                            qa[ja] += deriv(op, 0, pa[ja], pb[jb], *py);
                        if (qb)
                            qb[jb] += deriv(op, 1, pa[ja], pb[jb], *py);
                    }
                }
    }
}

void nnr_scalar_f32(int op, float c, size_t len, const float *x, float *y)
{
    row(op, len, x, 1, &c, 0, y);
}

void nnr_scalar_backward_f32(int op, float c, size_t len, const float *x, const float *y,
                             const float *dy, float *dx)
{
    size_t i = 0;
    switch (op) {
    case NNR_BIN_ADD:
        memmove(dx, dy, len * sizeof *dx);
        break;
    case NNR_BIN_RSUB:
        row(NNR_BIN_RSUB, len, dy, 1, &(float){0.0f}, 0, dx);    /* 0 - dy */
        break;
    case NNR_BIN_MUL:
    case NNR_BIN_DIV:
        row(op, len, dy, 1, &c, 0, dx);     /* dy * c, dy / c */
        break;
    default:    /* RDIV: y = c / x, dy/dx = -c / x² = -y / x */
        for (; i < len; i++)
            dx[i] = -dy[i] * (y[i] / x[i]);
        break;
    }
}
