/* onnx_ops4.c — ONNX's logical, comparison and selection operators, lowered
 * at import onto nnc's arithmetic and element-wise functions, their values
 * (bool, or integers) carried as floats holding 0 and 1 or the exact
 * integer: Greater(a, b) is relu(sign(a - b)) (a - b is 0 only where a
 * equals b, gradual underflow included), Equal 1 - |sign(a - b)|, And a * b,
 * Or a + b - a b, Xor (a - b)^2, Not 1 - x, Where c x + (1 - c) y (x and y
 * finite), Mod a - b floor(a / b) (fmod: trunc). */
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* Operands 0..nop-1 of node n (run-time values of one rank, broadcast, or
 * one-number constants) as text in e[] ("$k" or a number), read by a new
 * statement making the node's first output; the statement, or NULL after
 * imp_fail. */
static IStmt *operands(Imp *c, const OxNode *n, int nop, const char **e)
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
            if (v->c->numel != 1 || v->c->ndim >= x->ndim || v->c->v[0] == OX_BATCH)
                return imp_fail(c, "a constant operand of shape %s: nnc combines a value "
                                "with one number only", ilist(v->c->dims, v->c->ndim)), NULL;
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
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    s->nin = 0;
    x->readers--;
    for (int k = 0; k < nop; k++) {
        IVal *v = imp_val(c, n->in[k]);
        if (v->kind == IV_CONST) {
            e[k] = xasprintf("(%s)", fnum(v->c->v[0]));
            continue;
        }
        int j = 0;
        while (j < s->nin && s->in[j] != (int)(v - c->val))
            j++;
        if (j == s->nin) {
            s->in[s->nin++] = (int)(v - c->val);
            v->readers++;
        }
        e[k] = xasprintf("$%d", j);
    }
    return s;
}

static int op_compare(Imp *c, const OxNode *n)
{
    const char *e[2], *op = n->op;
    if (check_attrs(c, n, ""))
        return -1;
    IStmt *s = operands(c, n, 2, e);
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
    if (check_attrs(c, n, ""))
        return -1;
    IStmt *s = operands(c, n, 2, e);
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
    if (check_attrs(c, n, ""))
        return -1;
    IStmt *s = operands(c, n, 3, e);
    if (!s)
        return -1;
    s->fwd = xasprintf("%s * %s + (1.0 - %s) * %s", e[0], e[1], e[0], e[2]);
    return 0;
}

static int op_mod(Imp *c, const OxNode *n)
{
    const char *e[2];
    if (check_attrs(c, n, "fmod"))
        return -1;
    int fm = (int)ai(n, "fmod", 0);
    IStmt *s = operands(c, n, 2, e);
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
    else
        return 0;
    if (*rc == 0 && !strcmp(op, "Not")) {
        IVal *x = imp_val(c, n->in[0]);
        IStmt *s = stmt1(c, n, x, x->ndim, x->d);
        s->fwd = "1.0 - $0";
    }
    return 1;
}
