/* onnx_ops2.c — the ONNX operators without parameters: activations,
 * element-wise arithmetic (with a number: nnc's *_scalar), Softmax,
 * Flatten, Reshape, (Un)Squeeze, Transpose, Concat, Split, ReduceMean, Sum,
 * SumSquare, L1, L2, LogSum, LogSumExp, Max, Min, Prod,
 * Identity and Dropout; and the folding at import of what is constant
 * (Constant, Shape, Gather, Concat, Slice, Cast, Unsqueeze, arithmetic):
 * the shape computations that torch.onnx.export writes. */
#include <math.h>
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* ---- folding ---- */

static int64_t numel_of(const int64_t *d, int n)
{
    int64_t m = 1;
    for (int i = 0; i < n; i++)
        m *= d[i];
    return m;
}

static int fold_binary(Imp *c, const OxNode *n, OxTensor *a, OxTensor *b)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t d[OX_MAX_DIMS], da[OX_MAX_DIMS], db[OX_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        da[i] = i < r - a->ndim ? 1 : a->dims[i - (r - a->ndim)];
        db[i] = i < r - b->ndim ? 1 : b->dims[i - (r - b->ndim)];
        if (da[i] != db[i] && da[i] != 1 && db[i] != 1)
            return imp_fail(c, "constant shapes %s and %s do not broadcast",
                            ilist(a->dims, a->ndim), ilist(b->dims, b->ndim));
        d[i] = da[i] > db[i] ? da[i] : db[i];
    }
    OxTensor *t = imp_tensor(a->dtype, r, d);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int k = r - 1; k >= 0; k--) {
            int64_t x = rem % d[k];
            rem /= d[k];
            ia += (da[k] == 1 ? 0 : x) * sa;
            ib += (db[k] == 1 ? 0 : x) * sb;
            sa *= da[k];
            sb *= db[k];
        }
        double x = a->v[ia], y = b->v[ib];
        if (x == OX_BATCH || y == OX_BATCH)
            return imp_fail(c, "arithmetic on the batch size, which nnc chooses at run time");
        int isint = a->dtype != OX_FLOAT && a->dtype != OX_DOUBLE && a->dtype != OX_FLOAT16;
        switch (n->op[0]) {
        case 'A': t->v[i] = x + y; break;
        case 'S': t->v[i] = x - y; break;
        case 'M': t->v[i] = x * y; break;
        default:
            if (isint && y == 0)
                return imp_fail(c, "integer division by zero");
            t->v[i] = isint ? trunc(x / y) : x / y;
        }
    }
    imp_const(c, n->out[0], t);
    return 0;
}

static int fold_gather(Imp *c, const OxNode *n, OxTensor *d, OxTensor *ix)
{
    int ax = d->ndim ? norm_axis(c, ai(n, "axis", 0), d->ndim, 1) : -1;
    if (ax < 0)
        return -1;
    int r = d->ndim - 1 + ix->ndim;
    if (r > OX_MAX_DIMS)
        return imp_fail(c, "the result has too many dimensions");
    int64_t od[OX_MAX_DIMS], outer = numel_of(d->dims, ax), inner = numel_of(d->dims + ax + 1,
                                                                          d->ndim - ax - 1);
    memcpy(od, d->dims, (size_t)ax * 8);
    memcpy(od + ax, ix->dims, (size_t)ix->ndim * 8);
    memcpy(od + ax + ix->ndim, d->dims + ax + 1, (size_t)(d->ndim - ax - 1) * 8);
    OxTensor *t = imp_tensor(d->dtype, r, od);
    int64_t o = 0;
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < ix->numel; j++) {
            int64_t k = (int64_t)ix->v[j];
            if (k < 0)
                k += d->dims[ax];
            if (k < 0 || k >= d->dims[ax])
                return imp_fail(c, "index %lld is out of range", (long long)ix->v[j]);
            for (int64_t e = 0; e < inner; e++)
                t->v[o++] = d->v[(i * d->dims[ax] + k) * inner + e];
        }
    imp_const(c, n->out[0], t);
    return 0;
}

static int fold_concat(Imp *c, const OxNode *n)
{
    OxTensor *t0 = in_const(c, n, 0, "a constant");
    if (!t0)
        return -1;
    int ax = norm_axis(c, ai(n, "axis", 0), t0->ndim, 1);
    if (ax < 0)
        return -1;
    int64_t d[OX_MAX_DIMS];
    memcpy(d, t0->dims, sizeof d);
    d[ax] = 0;
    for (int k = 0; k < n->nin; k++) {
        OxTensor *t = in_const(c, n, k, "a constant");
        if (!t)
            return -1;
        if (t->ndim != t0->ndim)
            return imp_fail(c, "inputs of different ranks");
        d[ax] += t->dims[ax];
    }
    OxTensor *r = imp_tensor(t0->dtype, t0->ndim, d);
    int64_t outer = numel_of(d, ax), o = 0;
    for (int64_t i = 0; i < outer; i++)
        for (int k = 0; k < n->nin; k++) {
            OxTensor *t = in_const(c, n, k, "a constant");
            int64_t chunk = numel_of(t->dims + ax, t->ndim - ax);
            memcpy(r->v + o, t->v + i * chunk, (size_t)chunk * sizeof(double));
            o += chunk;
        }
    imp_const(c, n->out[0], r);
    return 0;
}

/* Slice's starts/ends/axes/steps (inputs, or attributes) over a tensor of
 * rank ndim and shape dims: the first index, step and size of the result
 * along each dimension. run: a run-time value, whose batch (dimension 0)
 * cannot be sliced. */
int slice_plan(Imp *c, const OxNode *n, int ndim, const int64_t *dims, int run, int64_t *lo,
               int64_t *step, int64_t *d)
{
    int64_t st[OX_MAX_DIMS], en[OX_MAX_DIMS], ax[OX_MAX_DIMS], sp[OX_MAX_DIMS];
    int na;
    if (ox_attr(n, "starts")) {
        na = aints(n, "starts", st, OX_MAX_DIMS);
        if (aints(n, "ends", en, OX_MAX_DIMS) != na)
            return imp_fail(c, "starts and ends differ in length");
        if (aints(n, "axes", ax, OX_MAX_DIMS) < 0)
            for (int i = 0; i < na; i++)
                ax[i] = i;
        for (int i = 0; i < na; i++)
            sp[i] = 1;
    } else {
        OxTensor *s = in_const(c, n, 1, "starts"), *e = in_const(c, n, 2, "ends");
        if (!s || !e)
            return -1;
        na = (int)s->numel;
        if (e->numel != na || na > OX_MAX_DIMS)
            return imp_fail(c, "starts and ends differ in length");
        OxTensor *a = ox_in(n, 3)[0] ? in_const(c, n, 3, "axes") : NULL;
        OxTensor *p = ox_in(n, 4)[0] ? in_const(c, n, 4, "steps") : NULL;
        if ((ox_in(n, 3)[0] && !a) || (ox_in(n, 4)[0] && !p))
            return -1;
        for (int i = 0; i < na; i++) {
            st[i] = (int64_t)s->v[i], en[i] = e->v[i] > 9e18 ? INT64_MAX
                                              : e->v[i] < -9e18 ? INT64_MIN : (int64_t)e->v[i];
            ax[i] = a && i < a->numel ? (int64_t)a->v[i] : i;
            sp[i] = p && i < p->numel ? (int64_t)p->v[i] : 1;
        }
    }
    for (int k = 0; k < ndim; k++)
        lo[k] = 0, step[k] = 1, d[k] = dims[k];
    for (int i = 0; i < na; i++) {
        int k = norm_axis(c, ax[i], ndim, !run);
        if (k < 0)
            return -1;
        int64_t dim = dims[k], s = st[i], e = en[i];
        if (sp[i] == 0)
            return imp_fail(c, "a step of 0");
        if (s < 0) s += dim;
        if (e < 0 && e != INT64_MIN) e += dim;
        if (sp[i] > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            d[k] = e > s ? (e - s + sp[i] - 1) / sp[i] : 0;
        } else {
            s = s < 0 ? -1 : s >= dim ? dim - 1 : s;
            e = e < -1 ? -1 : e >= dim ? dim - 1 : e;
            d[k] = s > e ? (s - e - sp[i] - 1) / -sp[i] : 0;
        }
        lo[k] = s, step[k] = sp[i];
    }
    return 0;
}

/* Slice of a constant. */
static int fold_slice(Imp *c, const OxNode *n, OxTensor *x)
{
    int64_t lo[OX_MAX_DIMS], step[OX_MAX_DIMS], d[OX_MAX_DIMS];
    if (slice_plan(c, n, x->ndim, x->dims, 0, lo, step, d))
        return -1;
    OxTensor *t = imp_tensor(x->dtype, x->ndim, d);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t rem = i, src = 0, stride = 1;
        for (int k = x->ndim - 1; k >= 0; k--) {
            int64_t j = rem % d[k];
            rem /= d[k];
            src += (lo[k] + j * step[k]) * stride;
            stride *= x->dims[k];
        }
        t->v[i] = x->v[src];
    }
    imp_const(c, n->out[0], t);
    return 0;
}

static int op_constant(Imp *c, const OxNode *n)
{
    if (n->nattr != 1)
        return imp_fail(c, "a Constant needs exactly one attribute");
    const OxAttr *a = &n->attr[0];
    OxTensor *t;
    int64_t len;
    if (!strcmp(a->name, "value") && a->t) {
        t = a->t;
    } else if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int")) {
        t = imp_tensor(a->name[6] == 'f' ? OX_FLOAT : OX_INT64, 0, NULL);
        t->v[0] = a->name[6] == 'f' ? a->f : (double)a->i;
    } else if (!strcmp(a->name, "value_floats") || !strcmp(a->name, "value_ints")) {
        len = a->n;
        t = imp_tensor(a->name[6] == 'f' ? OX_FLOAT : OX_INT64, 1, &len);
        for (int64_t i = 0; i < len; i++)
            t->v[i] = a->fs ? a->fs[i] : (double)a->is[i];
    } else {
        return imp_fail(c, "attribute '%s' is not supported by nnc", a->name);
    }
    imp_const(c, n->out[0], t);
    return 0;
}

static int op_shape(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "start,end"))
        return -1;
    IVal *x = imp_val(c, ox_in(n, 0));
    if (!x)
        return imp_fail(c, "input 0 is missing");
    int r = x->kind == IV_RUN ? x->ndim : x->c->ndim;
    int64_t s = ai(n, "start", 0), e = ai(n, "end", r);
    s = s < 0 ? s + r : s, e = e < 0 ? e + r : e;
    s = s < 0 ? 0 : s > r ? r : s, e = e < 0 ? 0 : e > r ? r : e;
    int64_t len = e > s ? e - s : 0;
    OxTensor *t = imp_tensor(OX_INT64, 1, &len);
    for (int64_t i = 0; i < len; i++) {
        int64_t k = s + i;
        t->v[i] = x->kind == IV_CONST ? (double)x->c->dims[k] : k == 0 ? OX_BATCH
                                                                       : (double)x->d[k];
    }
    imp_const(c, n->out[0], t);
    return 0;
}

static int op_cast(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "to,saturate"))
        return -1;
    IVal *x = imp_val(c, ox_in(n, 0));
    int to = (int)ai(n, "to", OX_FLOAT);
    int tofloat = to == OX_FLOAT || to == OX_DOUBLE || to == OX_FLOAT16 || to == OX_BFLOAT16;
    if (!x)
        return imp_fail(c, "input 0 is missing");
    if (x->kind == IV_RUN) {
        if (tofloat == !x->is_int && to != OX_BOOL) {
            imp_alias(c, n->out[0], x);
            return 0;
        }
        return imp_cast_run(c, n, x, to);
    }
    OxTensor *t = imp_tensor(to, x->c->ndim, x->c->dims);
    for (int64_t i = 0; i < t->numel; i++) {
        double v = x->c->v[i];
        t->v[i] = tofloat || v == OX_BATCH ? v : to == OX_BOOL ? (v != 0) : trunc(v);
        if (to == OX_FLOAT)
            t->v[i] = (float)t->v[i];
    }
    imp_const(c, n->out[0], t);
    return 0;
}

/* ---- activations and arithmetic ---- */

static int op_act(Imp *c, const OxNode *n)
{
    const char *op = n->op;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    const char *seq = NULL, *fwd = NULL;
    if (!strcmp(op, "Relu") || !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") ||
        !strcmp(op, "Softplus")) {
        if (check_attrs(c, n, ""))
            return -1;
        seq = op[0] == 'R' ? "relu" : op[0] == 'T' ? "tanh" : op[1] == 'i' ? "sigmoid" : "softplus";
        fwd = xasprintf("%s($0)", seq);
    } else if (!strcmp(op, "LeakyRelu") || !strcmp(op, "Elu")) {
        if (check_attrs(c, n, "alpha"))
            return -1;
        int lr = op[0] == 'L';
        double a = af(n, "alpha", lr ? 0.01 : 1.0);
        const char *kw = xasprintf("%s = %s", lr ? "negative_slope" : "alpha", fnum(a));
        seq = xasprintf("%s(%s)", lr ? "leaky_relu" : "elu", kw);
        fwd = xasprintf("%s($0, %s)", lr ? "leaky_relu" : "elu", kw);
    } else if (!strcmp(op, "Gelu")) {
        if (check_attrs(c, n, "approximate"))
            return -1;
        const char *ap = as(n, "approximate", "none");
        if (strcmp(ap, "none") && strcmp(ap, "tanh"))
            return imp_fail(c, "approximate '%s' is not supported by nnc", ap);
        seq = !strcmp(ap, "tanh") ? "gelu(approximate = \"tanh\")" : "gelu";
        fwd = !strcmp(ap, "tanh") ? "gelu($0, approximate = \"tanh\")" : "gelu($0)";
    } else if (!strcmp(op, "Selu")) {
        if (check_attrs(c, n, "alpha,gamma"))
            return -1;
        fwd = xasprintf("%s * elu($0, alpha = %s)", fnum(af(n, "gamma", 1.05070102214813232421875)),
                        fnum(af(n, "alpha", 1.67326319217681884765625)));
    } else { /* Neg */
        if (check_attrs(c, n, ""))
            return -1;
        fwd = "-$0";
    }
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    s->seq = seq;
    s->fwd = fwd;
    return 0;
}

static int op_binary(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, ""))
        return -1;
    IVal *a = imp_val(c, ox_in(n, 0)), *b = imp_val(c, ox_in(n, 1));
    if (!a || !b)
        return imp_fail(c, "an input is missing");
    if (a->kind == IV_CONST && b->kind == IV_CONST)
        return fold_binary(c, n, a->c, b->c);
    char sym = n->op[0] == 'A' ? '+' : n->op[0] == 'S' ? '-' : n->op[0] == 'M' ? '*' : '/';
    if (a->kind == IV_RUN && b->kind == IV_RUN) {
        if (a->ndim != b->ndim)
            return imp_fail(c, "operands of ranks %d and %d: nnc broadcasts values of the "
                            "same rank only (the batch would meet a feature dimension)",
                            a->ndim, b->ndim);
        int64_t d[OX_MAX_DIMS] = {0};
        for (int k = 1; k < a->ndim; k++) {
            if (a->d[k] != b->d[k] && a->d[k] != 1 && b->d[k] != 1)
                return imp_fail(c, "shapes %s and %s do not broadcast", ilist(a->d + 1,
                                a->ndim - 1), ilist(b->d + 1, b->ndim - 1));
            d[k] = a->d[k] > b->d[k] ? a->d[k] : b->d[k];
        }
        IStmt *s = stmt1(c, n, a, a->ndim, d);
        s->in[s->nin++] = (int)(b - c->val);
        b->readers++;
        s->fwd = xasprintf("$0 %c $1", sym);
        if (sym == '/' && a->is_int && b->is_int)   /* integer division truncates */
            s->fwd = "sign($0 / $1) * floor(relu($0 / $1) + relu(-($0 / $1)))";
        return 0;
    }
    IVal *x = a->kind == IV_RUN ? a : b;
    OxTensor *k = a->kind == IV_CONST ? a->c : b->c;
    if (k->numel != 1)
        return op_arith_const(c, n, sym);
    if (k->ndim >= x->ndim)
        return imp_fail(c, "the constant operand would add dimensions");
    if (k->v[0] == OX_BATCH)
        return imp_fail(c, "arithmetic with the batch size, which nnc chooses at run time");
    const char *num = fnum(k->v[0]);
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    s->fwd = a->kind == IV_RUN ? xasprintf("$0 %c %s", sym, num) : xasprintf("%s %c $0", num, sym);
    return 0;
}

static int op_sum(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, ""))
        return -1;
    if (n->nin < 1 || n->nin > 8)
        return imp_fail(c, "nnc sums 1 to 8 values");
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    if (n->nin == 1) {
        imp_alias(c, n->out[0], x);
        return 0;
    }
    char *fwd = xstrdup("$0");
    for (int k = 1; k < n->nin; k++) {
        IVal *y = in_run(c, n, k);
        if (!y)
            return -1;
        if (y->ndim != x->ndim || memcmp(y->d + 1, x->d + 1, (size_t)(x->ndim - 1) * 8))
            return imp_fail(c, "nnc sums values of one shape only");
    }
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    int si = (int)(s - c->st);
    for (int k = 1; k < n->nin; k++) {
        IVal *y = imp_val(c, n->in[k]);
        c->st[si].in[c->st[si].nin++] = (int)(y - c->val);
        y->readers++;
        fwd = xasprintf("%s + $%d", fwd, k);
    }
    c->st[si].fwd = fwd;
    return 0;
}

/* ---- softmax ---- */

static int op_softmax(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    const char *f = n->op[0] == 'L' ? "log_softmax" : "softmax";
    int ax = norm_axis(c, ai(n, "axis", c->m->opset >= 13 ? -1 : 1), x->ndim, 0);
    if (ax < 0)
        return -1;
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    if (c->m->opset >= 13 || ax == x->ndim - 1) {
        s->seq = xasprintf("%s(dim = %d)", f, ax);
        s->fwd = xasprintf("%s($0, dim = %d)", f, ax);
    } else { /* opset < 13: over the dimensions from axis on, as one */
        s->fwd = xasprintf("reshape(%s(flatten($0, start_dim = %d), dim = %d), %s)", f, ax, ax,
                           ilist(x->d + 1, x->ndim - 1));
    }
    return 0;
}

/* ---- shapes ---- */

/* x reshaped to the per-sample shape d[1..ndim-1]. */
static int reshape_to(Imp *c, const OxNode *n, IVal *x, int ndim, const int64_t *d)
{
    /* nnc holds a sample of no dimension (full rank 1) as [1] */
    int64_t per = numel_of(x->d + 1, x->ndim - 1);
    int same1 = per == 1 && (ndim == 1 || (ndim == 2 && d[1] == 1)) &&
                (x->ndim == 1 || (x->ndim == 2 && x->d[1] == 1));
    if (same1 || (ndim == x->ndim && !memcmp(d + 1, x->d + 1, (size_t)(ndim - 1) * 8))) {
        imp_alias(c, n->out[0], x);
        return 0;
    }
    if (ndim < 2)
        return imp_fail(c, "one sample of %s cannot become a single number",
                        ilist(x->d + 1, x->ndim - 1));
    IStmt *s = stmt1(c, n, x, ndim, d);
    if (ndim == 2) {
        s->seq = "flatten";
        s->fwd = "flatten($0)";
    } else {
        s->fwd = xasprintf("reshape($0, %s)", ilist(d + 1, ndim - 1));
    }
    return 0;
}

static int op_reshape(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "allowzero,shape"))
        return -1;
    IVal *x = imp_val(c, ox_in(n, 0));
    OxTensor *sh = ox_attr(n, "shape") ? NULL : in_const(c, n, 1, "the shape");
    int64_t t[OX_MAX_DIMS], d[OX_MAX_DIMS];
    int r;
    if (!x)
        return imp_fail(c, "input 0 is missing");
    if (ox_attr(n, "shape")) {
        r = aints(n, "shape", t, OX_MAX_DIMS);
    } else {
        if (!sh)
            return -1;
        r = (int)sh->numel;
        for (int i = 0; i < r && i < OX_MAX_DIMS; i++)
            t[i] = sh->v[i] == OX_BATCH ? INT64_MIN : (int64_t)sh->v[i];
    }
    if (r < 1 || r > OX_MAX_DIMS)
        return imp_fail(c, "a target shape of %d dimensions", r);
    int allowzero = (int)ai(n, "allowzero", 0);
    if (x->kind == IV_CONST) {
        int64_t m = 1, neg = -1;
        for (int i = 0; i < r; i++) {
            d[i] = t[i] == 0 && !allowzero ? x->c->dims[i] : t[i];
            if (d[i] == -1) neg = i;
            else m *= d[i];
        }
        if (neg >= 0)
            d[neg] = m ? x->c->numel / m : 0;
        if (numel_of(d, r) != x->c->numel)
            return imp_fail(c, "cannot reshape %s to %s", ilist(x->c->dims, x->c->ndim),
                            ilist(t, r));
        OxTensor *o = imp_tensor(x->c->dtype, r, d);
        memcpy(o->v, x->c->v, (size_t)o->numel * sizeof(double));
        imp_const(c, n->out[0], o);
        return 0;
    }
    int64_t per = numel_of(x->d + 1, x->ndim - 1), m = 1;
    int neg = -1;
    int first_batch = t[0] == INT64_MIN || (t[0] == 0 && !allowzero) ||
                      (c->batch0 > 0 && t[0] == c->batch0);
    if (!first_batch && t[0] == -1) {
        int64_t rest = numel_of(t + 1, r - 1);
        first_batch = rest == per;
    }
    if (!first_batch)
        return imp_fail(c, "target shape %s: its first dimension must stay the batch",
                        ilist(t, r));
    for (int i = 1; i < r; i++) {
        d[i] = t[i] == 0 && !allowzero ? (i < x->ndim ? x->d[i] : 0) : t[i];
        if (t[i] == INT64_MIN)
            return imp_fail(c, "the batch size may be only the first dimension");
        if (d[i] == -1) {
            if (neg >= 0)
                return imp_fail(c, "two -1 in the target shape");
            neg = i;
        } else if (d[i] <= 0) {
            return imp_fail(c, "a target dimension of %lld", (long long)d[i]);
        } else {
            m *= d[i];
        }
    }
    if (neg >= 0)
        d[neg] = per / m;
    if (numel_of(d + 1, r - 1) != per)
        return imp_fail(c, "cannot reshape one sample of %s to %s", ilist(x->d + 1, x->ndim - 1),
                        ilist(d + 1, r - 1));
    return reshape_to(c, n, x, r, d);
}

/* The axes of Squeeze/Unsqueeze/Reduce*: attribute, or input 1 (opset 13+). */
static int axes_of(Imp *c, const OxNode *n, int64_t *ax, int *have)
{
    int na = aints(n, "axes", ax, OX_MAX_DIMS);
    *have = na >= 0;
    if (na >= 0)
        return na;
    if (!ox_in(n, 1)[0])
        return 0;
    OxTensor *t = in_const(c, n, 1, "the axes");
    if (!t)
        return -1;
    if (t->numel > OX_MAX_DIMS)
        return imp_fail(c, "too many axes");
    for (int i = 0; i < t->numel; i++)
        ax[i] = (int64_t)t->v[i];
    *have = 1;
    return (int)t->numel;
}

static int op_squeeze(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axes"))
        return -1;
    int un = n->op[0] == 'U', have;
    int64_t ax[OX_MAX_DIMS];
    int na = axes_of(c, n, ax, &have);
    IVal *x = imp_val(c, ox_in(n, 0));
    if (na < 0)
        return -1;
    if (!x)
        return imp_fail(c, "input 0 is missing");
    int r0 = x->kind == IV_RUN ? x->ndim : x->c->ndim;
    int64_t d0[OX_MAX_DIMS], d[OX_MAX_DIMS];
    memcpy(d0, x->kind == IV_RUN ? x->d : x->c->dims, sizeof d0);
    int r = un ? r0 + na : r0, mark[OX_MAX_DIMS] = {0};
    if (r > OX_MAX_DIMS)
        return imp_fail(c, "too many dimensions");
    for (int i = 0; i < na; i++) {
        int k = norm_axis(c, ax[i], r, x->kind == IV_CONST);
        if (k < 0)
            return -1;
        mark[k] = 1;
    }
    int o = 0;
    if (un) {
        for (int i = 0, j = 0; i < r; i++)
            d[o++] = mark[i] ? 1 : d0[j++];
    } else {
        for (int i = 0; i < r0; i++) {
            if ((have && na ? mark[i] : d0[i] == 1) && (x->kind == IV_CONST || i > 0)) {
                if (d0[i] != 1)
                    return imp_fail(c, "dimension %d has size %lld, not 1", i, (long long)d0[i]);
                continue;
            }
            d[o++] = d0[i];
        }
    }
    if (x->kind == IV_CONST) {
        OxTensor *t = imp_tensor(x->c->dtype, o, d);
        memcpy(t->v, x->c->v, (size_t)t->numel * sizeof(double));
        imp_const(c, n->out[0], t);
        return 0;
    }
    return reshape_to(c, n, x, o, d);
}

static int op_flatten(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int ax = norm_axis(c, ai(n, "axis", 1), x->ndim + 1, 1);
    if (ax < 0)
        return -1;
    for (int k = 1; k < ax; k++)
        if (x->d[k] != 1)
            return imp_fail(c, "axis %d would merge the batch with dimension %d", ax, k);
    if (ax == 0)
        return imp_fail(c, "axis 0 would merge the batch into the features");
    int64_t d[2] = {0, numel_of(x->d + 1, x->ndim - 1)};
    return reshape_to(c, n, x, 2, d);
}

static int op_transpose(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "perm"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int64_t p[OX_MAX_DIMS], d[OX_MAX_DIMS];
    int np = aints(n, "perm", p, OX_MAX_DIMS);
    if (np < 0)
        for (int i = 0; i < x->ndim; i++)
            p[i] = x->ndim - 1 - i;
    else if (np != x->ndim)
        return imp_fail(c, "perm has %d entries for rank %d", np, x->ndim);
    if (p[0] != 0)
        return imp_fail(c, "perm %s moves the batch dimension (nnc keeps it first)",
                        ilist(p, x->ndim));
    int moved[2], nm = 0, seen[OX_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        if (p[i] < 0 || p[i] >= x->ndim || seen[p[i]]++)
            return imp_fail(c, "perm %s is not a permutation", ilist(p, x->ndim));
        d[i] = x->d[p[i]];
        if (p[i] != i && nm < 2)
            moved[nm] = i;
        nm += p[i] != i;
    }
    if (nm == 0) {
        imp_alias(c, n->out[0], x);
        return 0;
    }
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    s->fwd = nm == 2 ? xasprintf("transpose($0, %d, %d)", moved[0], moved[1])
                     : xasprintf("permute($0, %s)", ilist(p, x->ndim));
    return 0;
}

static int op_concat(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    IVal *x0 = imp_val(c, ox_in(n, 0));
    if (!x0)
        return imp_fail(c, "input 0 is missing");
    if (x0->kind == IV_CONST)
        return fold_concat(c, n);
    if (n->nin > 8)
        return imp_fail(c, "nnc concatenates at most 8 values");
    int ax = norm_axis(c, ai(n, "axis", 0), x0->ndim, 0);
    if (ax < 0)
        return -1;
    int64_t d[OX_MAX_DIMS];
    memcpy(d, x0->d, sizeof d);
    d[ax] = 0;
    char *list = xstrdup("");
    for (int k = 0; k < n->nin; k++) {
        IVal *x = in_run(c, n, k);
        if (!x)
            return -1;
        for (int i = 1; i < x0->ndim; i++)
            if (x->ndim != x0->ndim || (i != ax && x->d[i] != x0->d[i]))
                return imp_fail(c, "inputs of shapes %s and %s", ilist(x0->d + 1, x0->ndim - 1),
                                ilist(x->d + 1, x->ndim - 1));
        d[ax] += x->d[ax];
        list = xasprintf("%s%s$%d", list, k ? ", " : "", k);
    }
    IStmt *s = stmt1(c, n, x0, x0->ndim, d);
    int si = (int)(s - c->st);
    for (int k = 1; k < n->nin; k++) {
        IVal *x = imp_val(c, n->in[k]);
        c->st[si].in[c->st[si].nin++] = (int)(x - c->val);
        x->readers++;
    }
    c->st[si].fwd = xasprintf("cat([%s], dim = %d)", list, ax);
    return 0;
}

static int op_split(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis,split,num_outputs"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int ax = norm_axis(c, ai(n, "axis", 0), x->ndim, 0);
    if (ax < 0)
        return -1;
    int64_t sz[IMP_MAX_OUT];
    int no = n->nout;
    if (no < 1 || no > IMP_MAX_OUT)
        return imp_fail(c, "nnc splits into 1 to %d pieces", IMP_MAX_OUT);
    int ns = aints(n, "split", sz, IMP_MAX_OUT);
    if (ns < 0 && ox_in(n, 1)[0]) {
        OxTensor *t = in_const(c, n, 1, "the sizes");
        if (!t)
            return -1;
        ns = (int)t->numel;
        for (int i = 0; i < ns && i < IMP_MAX_OUT; i++)
            sz[i] = (int64_t)t->v[i];
    }
    int64_t piece = (x->d[ax] + no - 1) / no;
    if (ns < 0)
        for (int i = 0; i < no; i++)
            sz[i] = i < no - 1 ? piece : x->d[ax] - piece * (no - 1);
    else if (ns != no)
        return imp_fail(c, "%d sizes for %d outputs", ns, no);
    int64_t tot = 0;
    for (int i = 0; i < no; i++) {
        tot += sz[i];
        if (sz[i] <= 0 || (i < no - 1 && sz[i] != sz[0]) || sz[i] > sz[0])
            return imp_fail(c, "pieces of sizes %s: nnc's split makes pieces of one size "
                            "(the last may be smaller)", ilist(sz, no));
    }
    if (tot != x->d[ax])
        return imp_fail(c, "the sizes add up to %lld, the dimension is %lld", (long long)tot,
                        (long long)x->d[ax]);
    IStmt *s = imp_stmt(c);
    int si = (int)(s - c->st);
    s->in[s->nin++] = (int)(x - c->val);
    x->readers++;
    s->fwd = xasprintf("split($0, %lld, dim = %d)", (long long)sz[0], ax);
    for (int i = 0; i < no; i++) {
        int64_t d[OX_MAX_DIMS];
        memcpy(d, x->d, sizeof d);
        d[ax] = sz[i];
        imp_run(c, n->out[i], si, i, x->ndim, d);
    }
    return 0;
}

static int op_reduce(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axes,keepdims,noop_with_empty_axes"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int64_t ax[OX_MAX_DIMS], d[OX_MAX_DIMS];
    int have, na = axes_of(c, n, ax, &have), mark[OX_MAX_DIMS] = {0};
    if (na < 0)
        return -1;
    if (na == 0) {
        if (ai(n, "noop_with_empty_axes", 0) && strcmp(n->op, "ReduceSum") &&
            strcmp(n->op, "ReduceMean") && strcmp(n->op, "ReduceMax") && strcmp(n->op, "ReduceMin"))
            return imp_fail(c, "noop_with_empty_axes = 1 with no axes is not supported "
                            "by nnc for %s", n->op);
        if (ai(n, "noop_with_empty_axes", 0)) {
            imp_alias(c, n->out[0], x);
            return 0;
        }
        return imp_fail(c, "reducing over every dimension would reduce the batch");
    }
    int keep = (int)ai(n, "keepdims", 1), o = 0;
    for (int i = 0; i < na; i++) {
        int k = norm_axis(c, ax[i], x->ndim, 0);
        if (k < 0)
            return -1;
        ax[i] = k;
        mark[k] = 1;
    }
    for (int i = 0; i < x->ndim; i++)
        if (!mark[i] || keep)
            d[o++] = mark[i] ? 1 : x->d[i];
    if (o < 2)
        return imp_fail(c, "the result would have no dimension besides the batch");
    IStmt *s = stmt1(c, n, x, o, d);
    /* f(sum(g(x))): L2 sqrt and x², LogSum log, LogSumExp log and exp */
    const char *op = n->op + 6;
    const char *arg = !strcmp(op, "SumSquare") || !strcmp(op, "L2") ? "$0 * $0"
                    : !strcmp(op, "L1") ? "relu($0) + relu(-$0)"
                    : !strcmp(op, "LogSumExp") ? "exp($0)" : "$0";
    const char *f = !strcmp(op, "L2") ? "sqrt" : !strncmp(op, "LogSum", 6) ? "log" : NULL;
    const char *red = !strcmp(op, "Mean") ? "mean" : !strcmp(op, "Max") ? "amax"
                    : !strcmp(op, "Min") ? "amin" : "sum";
    s->fwd = xasprintf("%s(%s, %s%s)", red, arg,
                       na == 1 ? xasprintf("%lld", (long long)ax[0]) : ilist(ax, na),
                       keep ? ", keepdim = true" : "");
    if (f)
        s->fwd = xasprintf("%s(%s)", f, s->fwd);
    if (!strcmp(op, "Prod")) {  /* exp(Σ log|x|), its sign from the count of negatives */
        const char *on = xasprintf("%s%s", na == 1 ? xasprintf("%lld", (long long)ax[0])
                                                   : ilist(ax, na), keep ? ", keepdim = true" : "");
        const char *neg = xasprintf("sum(relu(-sign($0)), %s)", on);
        s->fwd = xasprintf("exp(sum(log(relu($0) + relu(-$0)), %s)) * (1.0 - 2.0 * (%s - 2.0 * "
                           "floor(%s * 0.5)))", on, neg, neg);
    }
    return 0;
}

/* ---- dispatch ---- */

int imp_node2(Imp *c, const OxNode *n)
{
    const char *op = n->op;
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        IVal *x = imp_val(c, ox_in(n, 0));
        if (!x)
            return imp_fail(c, "input 0 is missing");
        if (op[0] == 'D')
            return imp_dropout(c, n, x);
        imp_alias(c, n->out[0], x);
        return 0;
    }
    if (!strcmp(op, "Constant")) return op_constant(c, n);
    if (!strcmp(op, "Shape")) return op_shape(c, n);
    if (!strcmp(op, "Cast")) return op_cast(c, n);
    if (!strcmp(op, "Gather")) {
        if (check_attrs(c, n, "axis"))
            return -1;
        IVal *xv = imp_val(c, ox_in(n, 0));
        if (xv && xv->kind == IV_RUN)
            return imp_gather_run(c, n, xv);
        OxTensor *d = in_const(c, n, 0, "the data"), *i = d ? in_const(c, n, 1, "the indices") : NULL;
        return i ? fold_gather(c, n, d, i) : -1;
    }
    if (!strcmp(op, "Slice")) {
        if (check_attrs(c, n, "starts,ends,axes"))
            return -1;
        IVal *xv = imp_val(c, ox_in(n, 0));
        if (xv && xv->kind == IV_RUN)
            return op_slice_run(c, n, xv);
        OxTensor *x = in_const(c, n, 0, "the data");
        return x ? fold_slice(c, n, x) : -1;
    }
    if (!strcmp(op, "Relu") || !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") ||
        !strcmp(op, "Softplus") || !strcmp(op, "LeakyRelu") || !strcmp(op, "Elu") ||
        !strcmp(op, "Gelu") || !strcmp(op, "Selu") || !strcmp(op, "Neg"))
        return op_act(c, n);
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div"))
        return op_binary(c, n);
    if (!strcmp(op, "Sum")) return op_sum(c, n);
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) return op_softmax(c, n);
    if (!strcmp(op, "Reshape")) return op_reshape(c, n);
    if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) return op_squeeze(c, n);
    if (!strcmp(op, "Flatten")) return op_flatten(c, n);
    if (!strcmp(op, "Transpose")) return op_transpose(c, n);
    if (!strcmp(op, "Concat")) return op_concat(c, n);
    if (!strcmp(op, "Split")) return op_split(c, n);
    if (!strcmp(op, "ReduceMean") || !strcmp(op, "ReduceSum") ||
        !strcmp(op, "ReduceSumSquare") || !strcmp(op, "ReduceL1") ||
        !strcmp(op, "ReduceL2") || !strcmp(op, "ReduceLogSum") || !strcmp(op, "ReduceLogSumExp") ||
        !strcmp(op, "ReduceMax") || !strcmp(op, "ReduceMin") || !strcmp(op, "ReduceProd"))
        return op_reduce(c, n);
    return imp_node3(c, n);
}
