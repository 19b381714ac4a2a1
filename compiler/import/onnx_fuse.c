/* onnx_fuse.c — the decompositions torch.onnx.export writes for layers that
 * older opsets lack, imported as the layer: GELU as Div(x, sqrt 2), Erf,
 * Add 1, Mul x, Mul 0.5 -> gelu; LayerNorm as ReduceMean, Sub, Pow 2,
 * ReduceMean, Add eps, Sqrt, Div (then Mul by a scale and Add a bias) ->
 * layernorm. A pattern matches only when each intermediate value is read
 * by the pattern alone; the nodes it takes in are marked consumed. */
#include <math.h>
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* The only node after the current one reading name (-1: none, several, or
 * a graph output reads it). */
static int sole_reader(Imp *c, const char *name)
{
    const OxModel *m = c->m;
    int found = -1;
    for (int k = 0; k < m->noutputs; k++)
        if (!strcmp(m->outputs[k].name, name))
            return -1;
    for (int i = 0; i < m->nnodes; i++)
        for (int k = 0; k < m->nodes[i].nin; k++)
            if (!strcmp(m->nodes[i].in[k], name)) {
                if (found >= 0 || i <= c->node)
                    return -1;
                found = i;
                break;
            }
    return found;
}

/* The one number that name holds: a constant, or a Constant node's value. */
static int scalar_of(Imp *c, const char *name, double *v)
{
    IVal *iv = imp_val(c, name);
    if (iv)
        return iv->kind == IV_CONST && iv->c->numel == 1 ? (*v = iv->c->v[0], 1) : 0;
    const OxModel *m = c->m;
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].nout >= 1 && !strcmp(m->nodes[i].out[0], name)) {
            const OxAttr *a = strcmp(m->nodes[i].op, "Constant") ? NULL
                              : ox_attr(&m->nodes[i], "value");
            if (!a || !a->t || a->t->numel != 1)
                return 0;
            *v = a->t->v[0];
            return 1;
        }
    return 0;
}

/* Node k if it is op with two inputs, one of them name; its other input. */
static const char *other_in(Imp *c, int k, const char *op, const char *name)
{
    if (k < 0)
        return NULL;
    const OxNode *n = &c->m->nodes[k];
    if (strcmp(n->op, op) || n->nin != 2 || n->nattr)
        return NULL;
    return !strcmp(n->in[0], name) ? n->in[1] : !strcmp(n->in[1], name) ? n->in[0] : NULL;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fabs(b); }

static int fuse_gelu(Imp *c, const OxNode *n)
{
    IVal *x = imp_val(c, n->in[0]);
    double v;
    if (n->nin != 2 || n->nattr || !x || x->kind != IV_RUN || !scalar_of(c, n->in[1], &v) ||
        !near(v, sqrt(2.0)))
        return 0;
    int e = sole_reader(c, n->out[0]);
    if (e < 0 || strcmp(c->m->nodes[e].op, "Erf"))
        return 0;
    int a = sole_reader(c, c->m->nodes[e].out[0]);
    const char *one = other_in(c, a, "Add", c->m->nodes[e].out[0]);
    if (!one || !scalar_of(c, one, &v) || v != 1.0)
        return 0;
    int m1 = sole_reader(c, c->m->nodes[a].out[0]);
    const char *xs = other_in(c, m1, "Mul", c->m->nodes[a].out[0]);
    if (!xs || strcmp(xs, n->in[0]))
        return 0;
    int m2 = sole_reader(c, c->m->nodes[m1].out[0]);
    const char *half = other_in(c, m2, "Mul", c->m->nodes[m1].out[0]);
    if (!half || !scalar_of(c, half, &v) || v != 0.5)
        return 0;
    IStmt *s = imp_stmt(c);
    int si = (int)(s - c->st);
    s->in[s->nin++] = (int)(x - c->val);
    x->readers++;
    s->seq = "gelu";
    s->fwd = "gelu($0)";
    imp_run(c, c->m->nodes[m2].out[0], si, 0, x->ndim, x->d);
    c->consumed[e] = c->consumed[a] = c->consumed[m1] = c->consumed[m2] = 1;
    return 1;
}

/* The trailing axes of a ReduceMean node with keepdims over x: the first, or -1. */
static int trailing_axes(const OxNode *n, const IVal *x)
{
    int64_t ax[OX_MAX_DIMS];
    int na = aints(n, "axes", ax, OX_MAX_DIMS);
    if (na < 1 || na >= x->ndim || n->nin != 1 || ai(n, "keepdims", 1) != 1)
        return -1;
    int mark[OX_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int64_t k = ax[i] < 0 ? ax[i] + x->ndim : ax[i];
        if (k < 1 || k >= x->ndim)
            return -1;
        mark[k] = 1;
    }
    for (int k = x->ndim - na; k < x->ndim; k++)
        if (!mark[k])
            return -1;
    return x->ndim - na;
}

static int fuse_layernorm(Imp *c, const OxNode *n)
{
    const OxModel *m = c->m;
    IVal *x = imp_val(c, n->in[0]);
    if (!x || x->kind != IV_RUN)
        return 0;
    int ax = trailing_axes(n, x), sub = sole_reader(c, n->out[0]);
    if (ax < 0 || sub < 0 || strcmp(m->nodes[sub].op, "Sub") || m->nodes[sub].nin != 2 ||
        strcmp(m->nodes[sub].in[0], n->in[0]) || strcmp(m->nodes[sub].in[1], n->out[0]))
        return 0;
    const char *d = m->nodes[sub].out[0];
    int pw = -1, dv = -1, readers = 0;
    for (int i = c->node + 1; i < m->nnodes; i++)
        for (int k = 0; k < m->nodes[i].nin; k++)
            if (!strcmp(m->nodes[i].in[k], d)) {
                readers++;
                if (!strcmp(m->nodes[i].op, "Pow") && k == 0) pw = i;
                if (!strcmp(m->nodes[i].op, "Div") && k == 0) dv = i;
            }
    double v, eps;
    if (readers != 2 || pw < 0 || dv < 0 || !scalar_of(c, m->nodes[pw].in[1], &v) || v != 2.0)
        return 0;
    int r2 = sole_reader(c, m->nodes[pw].out[0]);
    if (r2 < 0 || strcmp(m->nodes[r2].op, "ReduceMean") || trailing_axes(&m->nodes[r2], x) != ax)
        return 0;
    int add = sole_reader(c, m->nodes[r2].out[0]);
    const char *e = other_in(c, add, "Add", m->nodes[r2].out[0]);
    if (!e || !scalar_of(c, e, &eps))
        return 0;
    int sq = sole_reader(c, m->nodes[add].out[0]);
    if (sq < 0 || strcmp(m->nodes[sq].op, "Sqrt") || sole_reader(c, m->nodes[sq].out[0]) != dv ||
        strcmp(m->nodes[dv].in[1], m->nodes[sq].out[0]))
        return 0;
    /* an affine scale and shift by constants, when they follow */
    const char *out = m->nodes[dv].out[0], *wn, *bn;
    int mul = sole_reader(c, out), badd = -1;
    OxTensor *w = NULL, *b = NULL;
    IVal *wv = (wn = other_in(c, mul, "Mul", out)) ? imp_val(c, wn) : NULL;
    if (wv && wv->kind == IV_CONST) {
        w = wv->c;
        out = m->nodes[mul].out[0];
        badd = sole_reader(c, out);
        IVal *bv = (bn = other_in(c, badd, "Add", out)) ? imp_val(c, bn) : NULL;
        if (bv && bv->kind == IV_CONST)
            b = bv->c, out = m->nodes[badd].out[0];
        else
            badd = -1;
    } else {
        mul = -1;
    }
    if (!w) {
        w = imp_tensor(OX_FLOAT, x->ndim - ax, x->d + ax);
        for (int64_t i = 0; i < w->numel; i++)
            w->v[i] = 1.0;
    }
    if (ln_layer(c, x, ax, eps, w, b, out))
        return -1;
    int taken[8] = {sub, pw, r2, add, sq, dv, mul, badd};
    for (int i = 0; i < 8; i++)
        if (taken[i] >= 0)
            c->consumed[taken[i]] = 1;
    return 1;
}

int imp_fuse(Imp *c, const OxNode *n)
{
    if (!strcmp(n->op, "Div"))
        return fuse_gelu(c, n);
    if (!strcmp(n->op, "ReduceMean"))
        return fuse_layernorm(c, n);
    return 0;
}
