/* onnx_ops3.c — ONNX operators that nnc has no layer for, lowered at import
 * onto relu and arithmetic (exact where one operand is returned: max(x, lo)
 * is x + relu(lo - x)): Abs, Clip, HardSigmoid, HardSwish, Softsign,
 * Reciprocal, Max, Min, Mean, ThresholdedRelu, Shrink; the element-wise functions (Exp, Log, Sqrt, Sin,
 * ..., Pow with a constant exponent, Mish); and Slice of a run-time value as nnc's slice
 * (narrow) along each sliced dimension. imp_node3 is the last dispatcher:
 * an operator none of onnx_ops*.c translates is an error naming it. */
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* A unary lowering of the node's input 0: tmpl with $0 the input. */
static int unary(Imp *c, const OxNode *n, const char *tmpl)
{
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    s->fwd = tmpl;
    return 0;
}

/* max(X, lo) and min(X, hi) of the expression X (a number as text, or NULL). */
static const char *clamp_lo(const char *x, const char *lo)
{
    return lo ? xasprintf("(%s + relu(%s - %s))", x, lo, x) : x;
}

static const char *clamp_hi(const char *x, const char *hi)
{
    return hi ? xasprintf("(%s - relu(%s - %s))", x, x, hi) : x;
}

/* One number of a constant input k of the node (NULL when absent), as text. */
static int scalar_in(Imp *c, const OxNode *n, int k, const char *what, const char **out)
{
    *out = NULL;
    if (!ox_in(n, k)[0])
        return 0;
    OxTensor *t = in_const(c, n, k, what);
    if (!t)
        return -1;
    if (t->numel != 1)
        return imp_fail(c, "%s must be one number", what);
    *out = xasprintf("(%s)", fnum(t->v[0]));
    return 0;
}

static int op_clip(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "min,max"))
        return -1;
    const char *lo = NULL, *hi = NULL;
    if (ox_attr(n, "min"))
        lo = xasprintf("(%s)", fnum(af(n, "min", 0)));
    if (ox_attr(n, "max"))
        hi = xasprintf("(%s)", fnum(af(n, "max", 0)));
    if ((!lo && scalar_in(c, n, 1, "the minimum", &lo)) ||
        (!hi && scalar_in(c, n, 2, "the maximum", &hi)))
        return -1;
    if (!lo && !hi) {
        IVal *x = in_run(c, n, 0);
        if (!x)
            return -1;
        imp_alias(c, n->out[0], x);
        return 0;
    }
    return unary(c, n, clamp_hi(clamp_lo("$0", lo), hi));
}

/* clip(alpha * x + beta, 0, 1), times x for HardSwish. */
static int op_hardsigmoid(Imp *c, const OxNode *n)
{
    int swish = !strcmp(n->op, "HardSwish");
    if (check_attrs(c, n, swish ? "" : "alpha,beta"))
        return -1;
    double a = swish ? 1.0 / 6 : af(n, "alpha", 0.2), b = swish ? 0.5 : af(n, "beta", 0.5);
    const char *y = xasprintf("relu(%s * $0 + %s)", fnum(a), fnum(b));
    const char *h = clamp_hi(y, "1.0");
    return unary(c, n, swish ? xasprintf("$0 * %s", h) : h);
}

/* Shrink: x - bias where x > lambd, x + bias where x < -lambd, else 0. */
static int op_shrink(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "bias,lambd"))
        return -1;
    const char *b = fnum(af(n, "bias", 0)), *l = fnum(af(n, "lambd", 0.5));
    return unary(c, n, xasprintf("($0 - (%s)) * relu(sign($0 - (%s))) + ($0 + (%s)) * "
                                 "relu(sign(-$0 - (%s)))", b, l, b, l));
}

/* Max, Min, Mean of 1 to 8 values (broadcast), or one value and numbers. */
static int op_variadic(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, ""))
        return -1;
    if (n->nin < 1 || n->nin > IMP_MAX_IN)
        return imp_fail(c, "nnc takes 1 to %d inputs here", IMP_MAX_IN);
    IVal *x = NULL;
    int64_t d[OX_MAX_DIMS] = {0};
    for (int k = 0; k < n->nin && !x; k++) {
        IVal *v = imp_val(c, n->in[k]);
        if (v && v->kind == IV_RUN)
            x = v, memcpy(d, v->d, sizeof d);
    }
    if (!x)
        return in_run(c, n, 0) ? 0 : -1;
    const char *e = NULL, *arg[IMP_MAX_IN];
    int nrun = 0;
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    int si = (int)(s - c->st);
    c->st[si].nin = 0;
    x->readers--;
    for (int k = 0; k < n->nin; k++) {
        IVal *v = imp_val(c, n->in[k]);
        if (!v)
            return imp_fail(c, "input %d is missing", k);
        if (v->kind == IV_CONST) {
            if (v->c->numel != 1 || v->c->ndim >= x->ndim)
                return imp_fail(c, "a constant operand of shape %s: nnc combines a value "
                                "with one number only", ilist(v->c->dims, v->c->ndim));
            arg[k] = xasprintf("(%s)", fnum(v->c->v[0]));
            continue;
        }
        if (v->ndim != x->ndim)
            return imp_fail(c, "operands of ranks %d and %d: nnc broadcasts values of the "
                            "same rank only", x->ndim, v->ndim);
        for (int i = 1; i < x->ndim; i++) {
            if (v->d[i] != d[i] && v->d[i] != 1 && d[i] != 1)
                return imp_fail(c, "shapes %s and %s do not broadcast",
                                ilist(d + 1, x->ndim - 1), ilist(v->d + 1, v->ndim - 1));
            d[i] = v->d[i] > d[i] ? v->d[i] : d[i];
        }
        arg[k] = xasprintf("$%d", nrun);
        c->st[si].in[nrun++] = (int)(v - c->val);
        c->st[si].nin = nrun;
        v->readers++;
    }
    memcpy(c->val[c->st[si].out[0]].d, d, sizeof d);
    char op = n->op[1];     /* Max, Min, Mean */
    for (int k = 0; k < n->nin; k++)
        e = !e ? arg[k] : op == 'a' ? clamp_lo(e, arg[k])
          : op == 'i' ? clamp_hi(e, arg[k]) : xasprintf("%s + %s", e, arg[k]);
    if (op == 'e' && n->nin > 1)
        e = xasprintf("(%s) / %s", e, fnum(n->nin));
    c->st[si].fwd = e;
    return 0;
}

int op_slice_run(Imp *c, const OxNode *n, IVal *x)
{
    if (check_attrs(c, n, "starts,ends,axes"))
        return -1;
    int64_t lo[OX_MAX_DIMS], step[OX_MAX_DIMS], d[OX_MAX_DIMS];
    if (slice_plan(c, n, x->ndim, x->d, 1, lo, step, d))
        return -1;
    const char *e = "$0";
    for (int k = 1; k < x->ndim; k++) {
        if (d[k] == x->d[k] && lo[k] == 0 && step[k] == 1)
            continue;
        if (step[k] != 1)
            return imp_fail(c, "a step of %lld: nnc slices with step 1", (long long)step[k]);
        if (d[k] <= 0)
            return imp_fail(c, "the result would be empty");
        e = xasprintf("slice(%s, %d, %lld, %lld)", e, k, (long long)lo[k],
                      (long long)(lo[k] + d[k]));
    }
    if (e[0] == '$') {
        imp_alias(c, n->out[0], x);
        return 0;
    }
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    s->fwd = e;
    return 0;
}

/* The ONNX operators that are one element-wise function of nnc. */
static const char *const MATH1[][2] = {
    {"Exp", "exp"}, {"Log", "log"}, {"Sqrt", "sqrt"}, {"Sign", "sign"}, {"Floor", "floor"},
    {"Ceil", "ceil"}, {"Round", "round"}, {"Erf", "erf"}, {"Sin", "sin"}, {"Cos", "cos"},
    {"Tan", "tan"}, {"Asin", "asin"}, {"Acos", "acos"}, {"Atan", "atan"}, {"Sinh", "sinh"},
    {"Cosh", "cosh"}, {"Asinh", "asinh"}, {"Acosh", "acosh"}, {"Atanh", "atanh"},
};

/* Pow with a constant exponent (one number, or a tensor of one value). */
static int op_pow(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, ""))
        return -1;
    OxTensor *e = in_const(c, n, 1, "the exponent");
    if (!e)
        return -1;
    for (int64_t i = 1; i < e->numel; i++)
        if (e->v[i] != e->v[0])
            return imp_fail(c, "an exponent of shape %s with different values: nnc raises "
                            "to one number", ilist(e->dims, e->ndim));
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    if (e->numel < 1 || e->ndim >= x->ndim)
        return imp_fail(c, "the exponent would add dimensions");
    return unary(c, n, xasprintf("pow($0, %s)", fnum(e->v[0])));
}

int imp_node3(Imp *c, const OxNode *n)
{
    const char *op = n->op;
    int rc;
    if (imp_node4(c, n, &rc) || imp_node5(c, n, &rc))
        return rc;
    for (size_t k = 0; k < sizeof MATH1 / sizeof MATH1[0]; k++)
        if (!strcmp(op, MATH1[k][0]))
            return check_attrs(c, n, "") ? -1 : unary(c, n, xasprintf("%s($0)", MATH1[k][1]));
    if (!strcmp(op, "Pow"))
        return op_pow(c, n);
    if (!strcmp(op, "Mish"))
        return check_attrs(c, n, "") ? -1 : unary(c, n, "$0 * tanh(softplus($0))");
    if (!strcmp(op, "Abs"))
        return check_attrs(c, n, "") ? -1 : unary(c, n, "relu($0) + relu(-$0)");
    if (!strcmp(op, "Softsign"))
        return check_attrs(c, n, "") ? -1 : unary(c, n, "$0 / (1.0 + relu($0) + relu(-$0))");
    if (!strcmp(op, "ThresholdedRelu"))   /* x where x > alpha, else 0 */
        return check_attrs(c, n, "alpha") ? -1
             : unary(c, n, xasprintf("$0 * relu(sign($0 - (%s)))", fnum(af(n, "alpha", 1.0))));
    if (!strcmp(op, "Shrink"))
        return op_shrink(c, n);
    if (!strcmp(op, "Reciprocal"))
        return check_attrs(c, n, "") ? -1 : unary(c, n, "1.0 / $0");
    if (!strcmp(op, "Clip")) return op_clip(c, n);
    if (!strcmp(op, "HardSigmoid") || !strcmp(op, "HardSwish")) return op_hardsigmoid(c, n);
    if (!strcmp(op, "Max") || !strcmp(op, "Min") || !strcmp(op, "Mean"))
        return op_variadic(c, n);
    return imp_fail(c, "operator %s is not supported by nnc", op);
}
