/* onnx_ops4.c — ONNX's logical, comparison and selection operators, lowered
 * at import onto nnc's arithmetic and element-wise functions, their values
 * (bool, or integers) carried as floats holding 0 and 1 or the exact
 * integer: Greater(a, b) is relu(sign(a - b)) (a - b is 0 only where a
 * equals b, gradual underflow included), Equal 1 - |sign(a - b)|, And a * b,
 * Or a + b - a b, Xor (a - b)^2, Not 1 - x, Where c x + (1 - c) y (x and y
 * finite), Mod a - b floor(a / b) (fmod: trunc), PRelu relu(x) - s relu(-x).
 * A constant operand of several numbers (an initialiser, or an input the
 * conformance run folds) is made a value: the bias of a linear layer with a
 * zero weight, read from sign(x) * 0 (0 even where x is infinite or NaN),
 * reshaped to the constant's shape. */
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* The constant t as a run-time value of rank `rank` (the batch, 1s, then
 * t's dimensions), computed from the value xi: the index of the value made
 * (of shape [B, numel]); *shape gets the reshape that gives t's form. */
int imp_const_value(Imp *c, int xi, const OxTensor *t, int rank, const char **shape)
{
    const char *base = xasprintf("%s::const%d", c->m->nodes[c->node].out[0], c->nval);
    int64_t d1[2] = {0, 1}, dn[2] = {0, t->numel ? t->numel : 1};
    int s1 = (int)(imp_stmt(c) - c->st);
    c->st[s1].in[c->st[s1].nin++] = xi;
    c->val[xi].readers++;
    c->st[s1].fwd = c->val[xi].ndim > 2 ? "sign(slice(flatten($0), 1, 0, 1)) * 0.0"
                                         : "sign(slice($0, 1, 0, 1)) * 0.0";
    int zi = (int)(imp_run(c, xasprintf("%s.zero", base), s1, 0, 2, d1) - c->val);
    int s2 = (int)(imp_stmt(c) - c->st);
    IStmt *s = &c->st[s2];
    s->in[s->nin++] = zi;
    c->val[zi].readers++;
    s->ctor = xasprintf("linear(1, %lld)", (long long)dn[1]);
    s->kind = "const";
    OxTensor *w = imp_tensor(OX_FLOAT, 2, (int64_t[]){dn[1], 1});
    OxTensor *b = imp_tensor(OX_FLOAT, 1, &dn[1]);
    for (int64_t i = 0; i < t->numel; i++)
        b->v[i] = t->v[i];
    add_param(s, "weight", w, 0);
    add_param(s, "bias", b, 0);
    int64_t sh[OX_MAX_DIMS];
    for (int i = 0; i < rank - 1; i++)
        sh[i] = i < rank - 1 - t->ndim ? 1 : t->dims[i - (rank - 1 - t->ndim)];
    *shape = ilist(sh, rank - 1);
    return (int)(imp_run(c, xasprintf("%s.value", base), s2, 0, 2, dn) - c->val);
}

/* Operands 0..nop-1 of node n (run-time values of one rank, broadcast, or
 * one-number constants) as text in e[] ("$k" or a number), read by a new
 * statement making the node's first output; the statement, or NULL after
 * imp_fail. */
IStmt *imp_operands(Imp *c, const OxNode *n, int nop, const char **e)
{
    IVal *x = NULL;
    if (n->nin != nop)
        return imp_fail(c, "%d inputs where the operator takes %d", n->nin, nop), NULL;
    for (int k = 0; k < nop && !x; k++) {
        IVal *v = imp_val(c, n->in[k]);
        if (v && v->kind == IV_RUN)
            x = v;
    }
    if (!x)
        return in_run(c, n, 0), NULL;
    int64_t d[OX_MAX_DIMS];
    memcpy(d, x->d, sizeof d);
    for (int k = 0; k < nop; k++) {
        IVal *v = imp_val(c, n->in[k]);
        if (!v)
            return imp_fail(c, "input %d is missing", k), NULL;
        if (v->kind == IV_CONST) {
            if (v->c->ndim >= x->ndim || v->c->numel < 1)
                return imp_fail(c, "a constant operand of shape %s would add dimensions",
                                ilist(v->c->dims, v->c->ndim)), NULL;
            for (int64_t i = 0; i < v->c->numel; i++)
                if (v->c->v[i] == OX_BATCH)
                    return imp_fail(c, "arithmetic with the batch size, which nnc chooses "
                                    "at run time"), NULL;
            for (int i = 0; i < v->c->ndim; i++) {
                int64_t *dd = &d[x->ndim - v->c->ndim + i], cd = v->c->dims[i];
                if (*dd != cd && *dd != 1 && cd != 1)
                    return imp_fail(c, "shapes %s and %s do not broadcast",
                                    ilist(d + 1, x->ndim - 1), ilist(v->c->dims, v->c->ndim)), NULL;
                *dd = cd > *dd ? cd : *dd;
            }
            continue;
        }
        if (v->ndim != x->ndim)
            return imp_fail(c, "operands of ranks %d and %d: nnc broadcasts values of the "
                            "same rank only (the batch would meet a feature dimension)",
                            x->ndim, v->ndim), NULL;
        for (int i = 1; i < x->ndim; i++) {
            if (v->d[i] != d[i] && v->d[i] != 1 && d[i] != 1)
                return imp_fail(c, "shapes %s and %s do not broadcast",
                                ilist(d + 1, x->ndim - 1), ilist(v->d + 1, v->ndim - 1)), NULL;
            d[i] = v->d[i] > d[i] ? v->d[i] : d[i];
        }
    }
    /* the constants of several numbers first, made values (statements before the node's) */
    int xi = (int)(x - c->val), vi[IMP_MAX_IN];
    const char *shape[IMP_MAX_IN] = {0};
    for (int k = 0; k < nop; k++) {
        IVal *v = imp_val(c, n->in[k]);
        vi[k] = (int)(v - c->val);
        if (v->kind == IV_CONST && v->c->numel != 1)
            vi[k] = imp_const_value(c, xi, v->c, c->val[xi].ndim, &shape[k]);
    }
    int si = (int)(stmt1(c, n, &c->val[xi], c->val[xi].ndim, d) - c->st);
    IStmt *s = &c->st[si];
    s->nin = 0;
    c->val[xi].readers--;
    for (int k = 0; k < nop; k++) {
        IVal *v = &c->val[vi[k]];
        if (v->kind == IV_CONST) {
            e[k] = xasprintf("(%s)", fnum(v->c->v[0]));
            continue;
        }
        int j = 0;
        while (j < s->nin && s->in[j] != vi[k])
            j++;
        if (j == s->nin) {
            s->in[s->nin++] = vi[k];
            v->readers++;
        }
        e[k] = shape[k] ? xasprintf("reshape($%d, %s)", j, shape[k]) : xasprintf("$%d", j);
    }
    return s;
}

/* The operands of a node with no attributes (operands' e[]); NULL after imp_fail. */
static IStmt *plain_operands(Imp *c, const OxNode *n, int nop, const char **e)
{
    return check_attrs(c, n, "") ? NULL : imp_operands(c, n, nop, e);
}

static int op_compare(Imp *c, const OxNode *n)
{
    const char *e[2], *op = n->op;
    IStmt *s = plain_operands(c, n, 2, e);
    if (!s)
        return -1;
    const char *gt = xasprintf("relu(sign(%s - %s))", e[0], e[1]);
    const char *lt = xasprintf("relu(sign(%s - %s))", e[1], e[0]);
    if (!strcmp(op, "Greater"))
        s->fwd = gt;
    else if (!strcmp(op, "Less"))
        s->fwd = lt;
    else if (!strcmp(op, "GreaterOrEqual"))
        s->fwd = xasprintf("1.0 - %s", lt);
    else if (!strcmp(op, "LessOrEqual"))
        s->fwd = xasprintf("1.0 - %s", gt);
    else /* Equal */
        s->fwd = xasprintf("1.0 - %s - %s", gt, lt);
    return 0;
}

static int op_logic(Imp *c, const OxNode *n)
{
    const char *e[2], *op = n->op;
    IStmt *s = plain_operands(c, n, 2, e);
    if (!s)
        return -1;
    if (!strcmp(op, "And"))
        s->fwd = xasprintf("%s * %s", e[0], e[1]);
    else if (!strcmp(op, "Or"))
        s->fwd = xasprintf("%s + %s - %s * %s", e[0], e[1], e[0], e[1]);
    else /* Xor */
        s->fwd = xasprintf("(%s - %s) * (%s - %s)", e[0], e[1], e[0], e[1]);
    return 0;
}

static int op_where(Imp *c, const OxNode *n)
{
    const char *e[3];
    IStmt *s = plain_operands(c, n, 3, e);
    if (!s)
        return -1;
    s->fwd = xasprintf("%s * %s + (1.0 - %s) * %s", e[0], e[1], e[0], e[2]);
    return 0;
}

int op_arith_const(Imp *c, const OxNode *n, char sym)
{
    const char *e[2];
    IStmt *s = imp_operands(c, n, 2, e);
    if (!s)
        return -1;
    s->fwd = xasprintf("%s %c %s", e[0], sym, e[1]);
    return 0;
}

/* PRelu(x, slope): x where x >= 0, slope x elsewhere. */
static int op_prelu(Imp *c, const OxNode *n)
{
    const char *e[2];
    if (check_attrs(c, n, ""))
        return -1;
    IVal *x = in_run(c, n, 0);
    if (!x)
        return -1;
    IStmt *s = imp_operands(c, n, 2, e);
    if (!s)
        return -1;
    s->fwd = xasprintf("relu(%s) - %s * relu(-%s)", e[0], e[1], e[0]);
    return 0;
}

static int op_mod(Imp *c, const OxNode *n)
{
    const char *e[2];
    if (check_attrs(c, n, "fmod"))
        return -1;
    int fm = (int)ai(n, "fmod", 0);
    IStmt *s = imp_operands(c, n, 2, e);
    if (!s)
        return -1;
    const char *q = xasprintf("(%s / %s)", e[0], e[1]);
    const char *t = fm ? xasprintf("sign(%s) * floor(relu(%s) + relu(-%s))", q, q, q)
                       : xasprintf("floor(%s)", q);
    s->fwd = xasprintf("%s - %s * (%s)", e[0], e[1], t);
    return 0;
}

/* 1 when n is one of these operators (translated, or -1 after imp_fail, in *rc). */
int imp_node4(Imp *c, const OxNode *n, int *rc)
{
    const char *op = n->op;
    if (!strcmp(op, "Greater") || !strcmp(op, "Less") || !strcmp(op, "GreaterOrEqual") ||
        !strcmp(op, "LessOrEqual") || !strcmp(op, "Equal"))
        *rc = op_compare(c, n);
    else if (!strcmp(op, "And") || !strcmp(op, "Or") || !strcmp(op, "Xor"))
        *rc = op_logic(c, n);
    else if (!strcmp(op, "Not"))
        *rc = check_attrs(c, n, "") || !in_run(c, n, 0) ? -1 : 0;
    else if (!strcmp(op, "Where"))
        *rc = op_where(c, n);
    else if (!strcmp(op, "Mod"))
        *rc = op_mod(c, n);
    else if (!strcmp(op, "PRelu"))
        *rc = op_prelu(c, n);
    else
        return 0;
    if (*rc == 0 && !strcmp(op, "Not")) {
        IVal *x = imp_val(c, n->in[0]);
        IStmt *s = stmt1(c, n, x, x->ndim, x->d);
        s->fwd = "1.0 - $0";
    }
    return 1;
}
