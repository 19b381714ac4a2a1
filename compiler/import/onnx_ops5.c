/* onnx_ops5.c — ONNX's index-valued operators, lowered at import onto nnc's
 * reductions and element-wise functions, indices carried as floats holding
 * exact integers (as nnc's `int` values):
 *   ArgMax/ArgMin   the first (last) index i along the axis where x is
 *                   extreme: amin(i + n s²) (amax(i - n s²)), s = sign(x -
 *                   amax(x)) (amin for ArgMin) being 0 exactly there;
 *                   Hardmax the one-hot [i = ArgMax];
 *   Trilu           x times a constant triangle of 0s and 1s;
 *   NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss (log_softmax first,
 *                   its log_prob the second output), reduction "none":
 *                   -Σ_k x[:, k] w[k] [t = k], the one-hot [t = k] being
 *                   1 - sign(t - k)², ignore_index's weight 0 (mean and sum
 *                   reduce over the batch, nnc's implicit dimension);
 *   GatherElements  Σ_k x[.., k, ..] [idx = k], along a new dimension (the
 *                   axis itself for one index along it) (and
 *                   Gather of a constant vector by run-time indices alike);
 *   Cast            of a run-time value to an integer type: sign(x) floor|x|;
 *   Pow             with a run-time exponent (or a constant of several
 *                   values): exp(y log|x|), negated where x < 0 and y odd;
 *   Gather          of a run-time value by constant indices: slices, cat;
 *   Dropout         its mask output (all 1s in inference). */
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* The constant [v(0), ..., v(len - 1)] along the dimension `at` of a value
 * of rank `rank` (1s after it), made a run-time value computed from the
 * value xi: its index; *shape is the reshape giving that form. */
static int along(Imp *c, int xi, int rank, int at, int64_t len, const double *v,
                 const char **shape)
{
    int64_t dims[OX_MAX_DIMS];
    int nd = rank - at;
    for (int i = 0; i < nd; i++)
        dims[i] = i ? 1 : len;
    OxTensor *t = imp_tensor(OX_FLOAT, nd, dims);
    for (int64_t k = 0; k < len; k++)
        t->v[k] = v ? v[k] : (double)k;
    return imp_const_value(c, xi, t, rank, shape);
}

/* Adds the value vi as the next input of statement si ("$k"). */
static const char *stmt_in(Imp *c, int si, int vi)
{
    IStmt *s = &c->st[si];
    s->in[s->nin++] = vi;
    c->val[vi].readers++;
    return xasprintf("$%d", s->nin - 1);
}

/* The per-sample shape of the rank-`rank` shape d with a 1 inserted at `at`. */
static const char *unsqueezed(const int64_t *d, int rank, int at)
{
    int64_t e[OX_MAX_DIMS + 1];
    int o = 0;
    for (int i = 1; i <= rank; i++) {
        if (i == at)
            e[o++] = 1;
        if (i < rank)
            e[o++] = d[i];
    }
    return ilist(e, o);
}

/* The one-hot [i = k]: 1 - sign(i - k)² of the expressions i and k, each
 * reshaped (to broadcast against each other). */
static const char *one_hot(const char *i, const char *ishape, const char *k, const char *kshape)
{
    return xasprintf("(1.0 - pow(sign(reshape(%s, %s) - reshape(%s, %s)), 2.0))", i, ishape, k,
                     kshape);
}

/* The index of the first extreme of $0 along ax, of the index expression
 * idx (0..len-1 along ax): amin(idx + len s²) (amax(idx - len s²) for the
 * last). */
static const char *first_index(const char *ext, int ax, int64_t len, const char *idx, int last,
                               int keep)
{
    const char *s2 = xasprintf("pow(sign($0 - %s($0, %d, keepdim = true)), 2.0)", ext, ax);
    return xasprintf("%s(%s %c %lld.0 * %s, %d%s)", last ? "amax" : "amin", idx,
                     last ? '-' : '+', (long long)len, s2, ax, keep ? ", keepdim = true" : "");
}

/* ArgMax, ArgMin (the index), Hardmax (the one-hot of ArgMax's index). */
static int op_argext(Imp *c, const OxNode *n)
{
    int hard = !strcmp(n->op, "Hardmax");
    if (check_attrs(c, n, hard ? "axis" : "axis,keepdims,select_last_index"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int xi = (int)(x - c->val), rank = x->ndim;
    int ax = norm_axis(c, ai(n, "axis", hard ? -1 : 0), rank, 0);
    if (ax < 0)
        return -1;
    int keep = hard || ai(n, "keepdims", 1) != 0, last = ai(n, "select_last_index", 0) != 0;
    int64_t len = x->d[ax], d[OX_MAX_DIMS];
    int o = 0;
    for (int i = 0; i < rank; i++)
        if (i != ax || keep)
            d[o++] = i == ax && !hard ? 1 : x->d[i];
    const char *shape;
    int ii = along(c, xi, rank, ax, len, NULL, &shape);
    int si = (int)(stmt1(c, n, &c->val[xi], o, d) - c->st);
    const char *idx = xasprintf("reshape(%s, %s)", stmt_in(c, si, ii), shape);
    const char *ext = !strcmp(n->op, "ArgMin") ? "amin" : "amax";
    const char *e = first_index(ext, ax, len, idx, last, keep);
    c->st[si].fwd = hard ? xasprintf("1.0 - pow(sign(%s - %s), 2.0)", idx, e) : e;
    return 0;
}

/* Trilu(x, k): x times the constant triangle j - i >= k (upper) or j - i <= k
 * over its last two dimensions. */
static int op_trilu(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "upper"))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    int64_t k = 0;
    if (ox_in(n, 1)[0]) {
        OxTensor *t = in_const(c, n, 1, "k");
        if (!t)
            return -1;
        if (t->numel != 1)
            return imp_fail(c, "k must be one number");
        k = (int64_t)t->v[0];
    }
    int xi = (int)(x - c->val), rank = x->ndim;
    if (rank < 3)
        return imp_fail(c, "an input of rank %d: the triangle would span the batch "
                        "(nnc's implicit dimension)", rank);
    int64_t r = x->d[rank - 2], m = x->d[rank - 1], up = ai(n, "upper", 1);
    if (r < 1 || m < 1)
        return imp_fail(c, "an empty matrix");
    OxTensor *t = imp_tensor(OX_FLOAT, 2, (int64_t[]){r, m});
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < m; j++)
            t->v[i * m + j] = up ? j - i >= k : j - i <= k;
    const char *shape;
    int mi = imp_const_value(c, xi, t, rank, &shape);
    int si = (int)(stmt1(c, n, &c->val[xi], rank, c->val[xi].d) - c->st);
    c->st[si].fwd = xasprintf("$0 * reshape(%s, %s)", stmt_in(c, si, mi), shape);
    return 0;
}

/* The weight of each class for a loss: w (or 1), 0 at ignore_index. */
static double *class_weights(Imp *c, const OxNode *n, int64_t nc)
{
    double *w = xcalloc((size_t)nc, sizeof *w);
    OxTensor *t = NULL;
    if (ox_in(n, 2)[0]) {
        t = in_const(c, n, 2, "the class weights");
        if (!t)
            return NULL;
        if (t->numel != nc)
            return imp_fail(c, "%lld class weights for %lld classes", (long long)t->numel,
                            (long long)nc), NULL;
    }
    for (int64_t k = 0; k < nc; k++)
        w[k] = t ? t->v[k] : 1.0;
    if (ox_attr(n, "ignore_index")) {
        int64_t ig = ai(n, "ignore_index", 0);
        if (ig >= 0 && ig < nc)
            w[ig] = 0;
    }
    return w;
}

/* The log_softmax of SoftmaxCrossEntropyLoss's scores x: the value's index
 * (named as output 1 when the graph has it). */
static int log_prob(Imp *c, const OxNode *n, int xi)
{
    IVal *x = &c->val[xi];
    const char *name = n->nout > 1 && n->out[1][0] ? n->out[1]
                                                   : xasprintf("%s::log_prob", n->out[0]);
    int si = (int)(imp_stmt(c) - c->st);
    int rank = x->ndim;
    int64_t d[OX_MAX_DIMS];
    memcpy(d, x->d, sizeof d);
    stmt_in(c, si, xi);
    c->st[si].fwd = "log_softmax($0, dim = 1)";
    return (int)(imp_run(c, name, si, 0, rank, d) - c->val);
}

static int op_loss(Imp *c, const OxNode *n)
{
    int sce = !strcmp(n->op, "SoftmaxCrossEntropyLoss");
    if (check_attrs(c, n, "reduction,ignore_index"))
        return -1;
    const char *red = as(n, "reduction", "mean");
    if (strcmp(red, "none"))
        return imp_fail(c, "reduction '%s' reduces over the batch (nnc's implicit dimension): "
                        "nnc imports reduction 'none' only", red);
    if (!sce && only_first_output(c, n))
        return -1;
    IVal *x = in_run(c, n, 0), *t = x ? in_run(c, n, 1) : NULL;
    if (!t)
        return -1;
    int xi = (int)(x - c->val), ti = (int)(t - c->val), rank = x->ndim;
    if (rank < 2 || t->ndim != rank - 1)
        return imp_fail(c, "scores of rank %d and targets of rank %d", rank, t->ndim);
    for (int i = 1; i < t->ndim; i++)
        if (t->d[i] != x->d[i + 1])
            return imp_fail(c, "targets of shape %s for scores of shape %s",
                            ilist(t->d + 1, t->ndim - 1), ilist(x->d + 1, rank - 1));
    int64_t nc = x->d[1], d[OX_MAX_DIMS];
    double *w = class_weights(c, n, nc);
    if (!w)
        return -1;
    if (sce)
        xi = log_prob(c, n, xi);
    const char *cshape, *wshape;
    int ki = along(c, xi, rank, 1, nc, NULL, &cshape);
    int wi = along(c, xi, rank, 1, nc, w, &wshape);
    d[0] = 0;
    for (int i = 1; i < rank - 1; i++)
        d[i] = x->d[i + 1];
    int si = (int)(stmt1(c, n, &c->val[xi], rank - 1, d) - c->st);
    const char *tv = stmt_in(c, si, ti), *kv = stmt_in(c, si, ki), *wv = stmt_in(c, si, wi);
    const char *hot = one_hot(tv, unsqueezed(c->val[ti].d, rank - 1, 1), kv, cshape);
    c->st[si].fwd = xasprintf("-sum($0 * %s * reshape(%s, %s), 1)", hot, wv, wshape);
    return 0;
}

static int op_gather_elements(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    IVal *x = in_run(c, n, 0), *t = x ? in_run(c, n, 1) : NULL;
    if (!t)
        return -1;
    int xi = (int)(x - c->val), ti = (int)(t - c->val), rank = x->ndim;
    int ax = norm_axis(c, ai(n, "axis", 0), rank, 0);
    if (ax < 0)
        return -1;
    if (t->ndim != rank)
        return imp_fail(c, "indices of rank %d for data of rank %d", t->ndim, rank);
    for (int i = 1; i < rank; i++)
        if (i != ax && t->d[i] != x->d[i])
            return imp_fail(c, "indices of shape %s for data of shape %s: nnc gathers "
                            "indices as large as the data besides the axis",
                            ilist(t->d + 1, rank - 1), ilist(x->d + 1, rank - 1));
    /* one index along the axis: the one-hot along the axis itself; else along a new one */
    int one = t->d[ax] == 1, at = one ? ax : ax + 1;
    if (!one && rank + 1 > 5)
        return imp_fail(c, "data of rank %d and %lld indices along the axis: nnc gathers "
                        "several from at most 3 dimensions of a sample", rank,
                        (long long)t->d[ax]);
    int64_t nc = x->d[ax], d[OX_MAX_DIMS];
    memcpy(d, t->d, sizeof d);
    const char *cshape;
    int ki = along(c, xi, rank + !one, at, nc, NULL, &cshape);
    int si = (int)(stmt1(c, n, &c->val[xi], rank, d) - c->st);
    const char *tv = stmt_in(c, si, ti), *kv = stmt_in(c, si, ki);
    /* a negative index counts from the end */
    const char *idx = xasprintf("(%s + %lld.0 * relu(-sign(%s)))", tv, (long long)nc, tv);
    const char *ishape = one ? ilist(d + 1, rank - 1) : unsqueezed(d, rank, ax + 1);
    const char *hot = one_hot(idx, ishape, kv, cshape);
    const char *xs = one ? "$0" : xasprintf("reshape($0, %s)", unsqueezed(c->val[xi].d, rank, ax));
    c->st[si].fwd = xasprintf("sum(%s * %s, %d%s)", xs, hot, at, one ? ", keepdim = true" : "");
    return 0;
}

int imp_gather_vector(Imp *c, const OxNode *n, const OxTensor *w, IVal *idx)
{
    int ii = (int)(idx - c->val), rank = idx->ndim;
    if (rank + 1 > 5)
        return imp_fail(c, "indices of rank %d: nnc gathers by at most 3 dimensions of a "
                        "sample", rank);
    int64_t nc = w->numel, d[OX_MAX_DIMS];
    memcpy(d, idx->d, sizeof d);
    const char *ws, *ks;
    int wi = along(c, ii, rank + 1, rank, nc, w->v, &ws);
    int ki = along(c, ii, rank + 1, rank, nc, NULL, &ks);
    int si = (int)(stmt1(c, n, &c->val[ii], rank, d) - c->st);
    const char *wv = stmt_in(c, si, wi), *kv = stmt_in(c, si, ki);
    /* a negative index counts from the end */
    const char *i = xasprintf("($0 + %lld.0 * relu(-sign($0)))", (long long)nc);
    const char *hot = one_hot(i, unsqueezed(d, rank, rank), kv, ks);
    c->st[si].fwd = xasprintf("sum(%s * reshape(%s, %s), %d)", hot, wv, ws, rank);
    return 0;
}

/* Gather(x, idx) of a run-time value by constant indices along axis a >= 1:
 * the slices x[.., i, ..] joined along a (by cats of at most
 * NNC_MAX_NODE_INPUTS pieces, nested), reshaped to x's dimensions before a,
 * idx's, then x's after a. */
int imp_gather_run(Imp *c, const OxNode *n, IVal *x)
{
    OxTensor *t = in_const(c, n, 1, "the indices");
    if (!t)
        return -1;
    int rank = x->ndim, ax = norm_axis(c, ai(n, "axis", 0), rank, 0);
    if (ax < 0)
        return -1;
    int orank = rank - 1 + t->ndim;
    if (orank < 2 || orank > 5)
        return imp_fail(c, "the result would have rank %d (nnc: the batch and 1 to 4 "
                        "dimensions)", orank);
    if (t->numel < 1 || t->numel > 64)
        return imp_fail(c, "%lld indices: nnc gathers 1 to 64", (long long)t->numel);
    const char *piece[64];
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t i = (int64_t)t->v[k];
        if (i < -x->d[ax] || i >= x->d[ax])
            return imp_fail(c, "index %lld is out of range for a dimension of %lld",
                            (long long)i, (long long)x->d[ax]);
        i += i < 0 ? x->d[ax] : 0;
        piece[k] = xasprintf("slice($0, %d, %lld, %lld)", ax, (long long)i, (long long)i + 1);
    }
    int np = (int)t->numel;
    while (np > 1) {    /* groups of up to 8 joined, until one remains */
        int o = 0;
        for (int k = 0; k < np; k += 8, o++) {
            const char *list = piece[k];
            for (int j = k + 1; j < np && j < k + 8; j++)
                list = xasprintf("%s, %s", list, piece[j]);
            piece[o] = k + 1 < np ? xasprintf("cat([%s], dim = %d)", list, ax) : list;
        }
        np = o;
    }
    int64_t d[OX_MAX_DIMS];
    int o = 0;
    for (int i = 0; i < ax; i++)
        d[o++] = x->d[i];
    for (int i = 0; i < t->ndim; i++)
        d[o++] = t->dims[i];
    for (int i = ax + 1; i < rank; i++)
        d[o++] = x->d[i];
    IStmt *s = stmt1(c, n, x, orank, d);
    s->fwd = xasprintf("reshape(%s, %s)", piece[0], ilist(d + 1, orank - 1));
    return 0;
}

int imp_dropout(Imp *c, const OxNode *n, IVal *x)
{
    if (check_attrs(c, n, "ratio,seed,is_test"))
        return -1;
    OxTensor *tm = ox_in(n, 2)[0] ? in_const(c, n, 2, "training_mode") : NULL;
    if (ox_in(n, 2)[0] && !tm)
        return -1;
    if (tm && tm->numel && tm->v[0] != 0) {     /* training: the identity only at ratio 0 */
        double ratio = af(n, "ratio", 0.5);
        OxTensor *r = ox_in(n, 1)[0] ? in_const(c, n, 1, "the ratio") : NULL;
        if (ox_in(n, 1)[0] && !r)
            return -1;
        if (r && r->numel)
            ratio = r->v[0];
        if (ratio != 0)
            return imp_fail(c, "training_mode = true with ratio %s: nnc imports for inference "
                            "(or ratio 0)", fnum(ratio));
    }
    int xi = (int)(x - c->val);
    imp_alias(c, n->out[0], x);
    if (n->nout < 2 || !n->out[1][0] || !node_output_read(c, n->out[1], 0))
        return 0;
    if (x->kind != IV_RUN)
        return imp_fail(c, "the mask of a constant: nnc's outputs are computed from the inputs");
    int si = (int)(imp_stmt(c) - c->st);
    stmt_in(c, si, xi);
    c->st[si].fwd = "sign($0) * 0.0 + 1.0";
    imp_run(c, n->out[1], si, 0, c->val[xi].ndim, c->val[xi].d);
    return 0;
}

/* Cast of a run-time value to an integer type (truncation), to bool (x !=
 * 0), or of an `int` input to a float type (a float value from then on). */
int imp_cast_run(Imp *c, const OxNode *n, IVal *x, int to)
{
    int isint = x->is_int;
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    s->fwd = to == OX_BOOL ? "pow(sign($0), 2.0)"
           : isint ? "$0 * 1.0" : "sign($0) * floor(relu($0) + relu(-$0))";
    return 0;
}

/* Pow(x, y) with y a run-time value or a constant of several values:
 * exp(y log(|x| + z)) (1 - z sign(y)²), z = [x = 0] (so 0^0 = 1, 0^y = 0
 * for y > 0), negated where x < 0 and y is odd; plus sqrt(-[x < 0][y not
 * an integer]), NaN there and -0 elsewhere, and minus log(1 - z [y < 0]),
 * +inf for 0^y with y < 0 and 0 elsewhere (both exact no-ops otherwise). */
static int op_pow_run(Imp *c, const OxNode *n)
{
    const char *e[2];
    IStmt *s = check_attrs(c, n, "") ? NULL : imp_operands(c, n, 2, e);
    if (!s)
        return -1;
    const char *x = e[0], *y = e[1];
    const char *z = xasprintf("(1.0 - pow(sign(%s), 2.0))", x);
    const char *ax = xasprintf("(relu(%s) + relu(-%s) + %s)", x, x, z);
    const char *odd = xasprintf("(%s - 2.0 * floor(0.5 * %s))", y, y);
    const char *nan = xasprintf("sqrt(-(relu(-sign(%s)) * pow(sign(%s - floor(%s)), 2.0)))", x, y, y);
    const char *inf = xasprintf("log(1.0 - %s * relu(-sign(%s)))", z, y);
    s->fwd = xasprintf("exp(%s * log(%s)) * (1.0 - %s * pow(sign(%s), 2.0)) * "
                       "(1.0 - 2.0 * relu(-sign(%s)) * %s) + %s - %s", y, ax, z, y, x, odd, nan, inf);
    return 0;
}

/* Pow's exponent: 1 when it is one number (or one value repeated), which
 * onnx_ops3.c raises to. */
static int pow_const(Imp *c, const OxNode *n)
{
    IVal *v = imp_val(c, ox_in(n, 1));
    if (!v || v->kind != IV_CONST)
        return !v;
    for (int64_t i = 1; i < v->c->numel; i++)
        if (v->c->v[i] != v->c->v[0])
            return 0;
    return 1;
}

int imp_node5(Imp *c, const OxNode *n, int *rc)
{
    const char *op = n->op;
    if (!strcmp(op, "ArgMax") || !strcmp(op, "ArgMin") || !strcmp(op, "Hardmax"))
        *rc = op_argext(c, n);
    else if (!strcmp(op, "Trilu"))
        *rc = op_trilu(c, n);
    else if (!strcmp(op, "NegativeLogLikelihoodLoss") || !strcmp(op, "SoftmaxCrossEntropyLoss"))
        *rc = op_loss(c, n);
    else if (!strcmp(op, "GatherElements"))
        *rc = op_gather_elements(c, n);
    else if (!strcmp(op, "Pow") && !pow_const(c, n))
        *rc = op_pow_run(c, n);
    else
        return 0;
    return 1;
}
