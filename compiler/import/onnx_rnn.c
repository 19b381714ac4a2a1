/* onnx_rnn.c — ONNX LSTM and GRU as torch.onnx.export writes them, imported
 * as nnc's lstm and gru layers (one layer per node, PyTorch's parameters):
 *
 *   - ONNX's recurrent nodes read and write time-major tensors ([T, batch,
 *     in] in, Y [T, dirs, batch, H], Y_h / Y_c [dirs, batch, H]) where nnc
 *     keeps the batch first. Those tensors are IV_VIEW values: the batch-first
 *     value nnc computes seen through a layout (LAY_*). The nodes torch writes
 *     around the recurrent ones move between the layouts without a statement
 *     (Transpose [1, 0, 2], Squeeze of the one direction, Transpose [0, 2, 1,
 *     3] + Reshape [0, 0, -1] of two), or make one on the batch-first value
 *     (Concat of the layers' final states, Gather of one of them: h[-1],
 *     Squeeze of the one: h.squeeze(0)).
 *   - the initial states torch writes are zeros sized by the batch
 *     (ConstantOfShape of a shape holding it, Sliced per layer): IV_ZERO.
 *   - weights: W [dirs, G·H, in], R [dirs, G·H, H], B [dirs, 2·G·H] (Wb then
 *     Rb) in ONNX's gate order (i, o, f, c / z, r, h) become weight_ih_l0,
 *     weight_hh_l0, bias_ih_l0, bias_hh_l0 (and _reverse) in PyTorch's order
 *     (i, f, g, o / r, z, n).
 * What nnc's layers cannot do (other activations, clip, input_forget,
 * peepholes, sequence_lens, non-zero initial states, GRU's
 * linear_before_reset = 0, layout 1, direction reverse) is an error naming
 * the node and the attribute or input. */
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* A view named name of the batch-first value base, ONNX shape d. */
static IVal *new_view(Imp *c, const char *name, const IVal *base, int lay, int ndim,
                      const int64_t *d)
{
    int bi = (int)(base - c->val);
    IVal *v = imp_const(c, name, NULL);
    v->kind = IV_VIEW;
    v->base = bi;
    v->lay = lay;
    v->ndim = ndim;
    memcpy(v->d, d, (size_t)ndim * sizeof *d);
    return v;
}

/* A batch-first result of statement st standing behind the view `name`. */
static IVal *hidden_run(Imp *c, const char *name, int st, int r, int ndim, const int64_t *d)
{
    return imp_run(c, xasprintf("%s@nnc", name), st, r, ndim, d);
}

static int is_perm(const OxNode *n, const int64_t *want, int len)
{
    int64_t p[OX_MAX_DIMS];
    if (aints(n, "perm", p, OX_MAX_DIMS) != len)
        return 0;
    for (int i = 0; i < len; i++)
        if (p[i] != want[i])
            return 0;
    return 1;
}

static const int64_t SWAP01[OX_MAX_DIMS] = {1, 0, 2, 3, 4, 5, 6, 7};

static int rnn_transpose(Imp *c, const OxNode *n, IVal *x)
{
    if (check_attrs(c, n, "perm"))
        return -1;
    if (x->kind == IV_RUN) {            /* batch-first -> time-major */
        int64_t d[OX_MAX_DIMS];
        memcpy(d, x->d, sizeof d);
        d[0] = x->d[1], d[1] = 0;
        new_view(c, n->out[0], x, LAY_TB, x->ndim, d);
        return 0;
    }
    if (x->lay == LAY_TB && is_perm(n, SWAP01, x->ndim)) {
        imp_alias(c, n->out[0], &c->val[x->base]);
        return 0;
    }
    static const int64_t p0213[4] = {0, 2, 1, 3};
    if (x->lay == LAY_TDBH && is_perm(n, p0213, 4)) {
        int64_t d[4] = {x->d[0], 0, x->d[1], x->d[3]};
        new_view(c, n->out[0], &c->val[x->base], LAY_TBDH, 4, d);
        return 0;
    }
    return imp_fail(c, "this perm of a time-major LSTM/GRU tensor is not one torch.onnx.export "
                    "writes for nnc's layers (batch first)");
}

static int rnn_squeeze(Imp *c, const OxNode *n, IVal *x)
{
    int64_t ax[OX_MAX_DIMS];
    int na = aints(n, "axes", ax, OX_MAX_DIMS);
    if (check_attrs(c, n, "axes"))
        return -1;
    if (na < 0 && ox_in(n, 1)[0]) {
        OxTensor *t = in_const(c, n, 1, "the axes");
        if (!t)
            return -1;
        na = (int)(t->numel < OX_MAX_DIMS ? t->numel : OX_MAX_DIMS);
        for (int i = 0; i < na; i++)
            ax[i] = (int64_t)t->v[i];
    }
    if (!strcmp(n->op, "Squeeze") && x->lay == LAY_TB && na == 1 && ax[0] == 0 && x->d[0] == 1 &&
        x->ndim >= 3) {                 /* h_n.squeeze(0) of one layer and direction */
        IVal *b = &c->val[x->base];
        int64_t d[OX_MAX_DIMS] = {0};
        for (int k = 2; k < b->ndim; k++)
            d[k - 1] = b->d[k];
        IStmt *s = stmt1(c, n, b, b->ndim - 1, d);
        s->fwd = xasprintf("reshape($0, %s)", ilist(d + 1, b->ndim - 2));
        return 0;
    }
    if (strcmp(n->op, "Squeeze") || x->lay != LAY_TDBH || na != 1 || (ax[0] != 1 && ax[0] != -3) ||
        x->d[1] != 1)
        return imp_fail(c, "nnc squeezes a time-major LSTM/GRU output along its one direction "
                        "(axis 1), or one layer's final state along axis 0, only");
    int64_t d[3] = {x->d[0], 0, x->d[3]};
    new_view(c, n->out[0], &c->val[x->base], LAY_TB, 3, d);
    return 0;
}

static int rnn_reshape(Imp *c, const OxNode *n, IVal *x)
{
    if (check_attrs(c, n, "allowzero"))
        return -1;
    OxTensor *t = in_const(c, n, 1, "the shape");
    if (!t)
        return -1;
    int64_t T = x->d[0], F = x->lay == LAY_TBDH ? x->d[2] * x->d[3] : -2;
    int ok = x->lay == LAY_TBDH && t->numel == 3 && ai(n, "allowzero", 0) == 0 &&
             (t->v[0] == 0 || t->v[0] == T) && (t->v[1] == 0 || t->v[1] == OX_BATCH ||
                                                (t->v[1] == -1 && t->v[2] == F)) &&
             (t->v[2] == -1 || t->v[2] == F);
    if (!ok)
        return imp_fail(c, "nnc takes a time-major LSTM/GRU output through a Reshape to "
                        "[T, batch, directions * hidden] only");
    int64_t d[3] = {T, 0, F};
    new_view(c, n->out[0], &c->val[x->base], LAY_TB, 3, d);
    return 0;
}

/* Concat of time-major views along ONNX's axis 0 (the layers' final
 * states): cat of the batch-first values along 1. */
static int rnn_concat(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    if (n->nin > 8)
        return imp_fail(c, "nnc concatenates at most 8 values");
    IVal *x0 = imp_val(c, ox_in(n, 0));
    int64_t ax = ai(n, "axis", 0), r = x0 ? x0->ndim : 0;
    ax += ax < 0 ? r : 0;
    int64_t d[OX_MAX_DIMS];
    IStmt *s = imp_stmt(c);
    char *list = xstrdup("");
    for (int k = 0; k < n->nin; k++) {
        IVal *x = imp_val(c, ox_in(n, k));
        if (!x || x->kind != IV_VIEW || x->lay != LAY_TB || x->ndim != r)
            return imp_fail(c, "input %d: nnc concatenates time-major LSTM/GRU tensors only "
                            "with others of the same form", k);
        if (ax != 0 && ax < 2)
            return imp_fail(c, "axis %lld is the batch", (long long)ax);
        IVal *b = &c->val[x->base];
        if (k == 0)
            memcpy(d, b->d, sizeof d), d[ax ? ax : 1] = 0;
        for (int i = 1; i < r; i++)
            if (i != (ax ? ax : 1) && b->d[i] != d[i])
                return imp_fail(c, "inputs of different shapes");
        d[ax ? ax : 1] += b->d[ax ? ax : 1];
        s->in[s->nin++] = x->base;
        b->readers++;
        list = xasprintf("%s%s$%d", list, k ? ", " : "", k);
    }
    int si = (int)(s - c->st);
    s->fwd = xasprintf("cat([%s], dim = %lld)", list, (long long)(ax ? ax : 1));
    IVal *o = hidden_run(c, n->out[0], si, 0, (int)r, d);
    int64_t od[OX_MAX_DIMS];
    memcpy(od, o->d, sizeof od);
    od[0] = o->d[1], od[1] = 0;
    IVal *v = new_view(c, n->out[0], o, LAY_TB, (int)r, od);
    v->state = 1;
    for (int k = 0; k < n->nin; k++)
        v->state &= imp_val(c, ox_in(n, k))->state;
    return 0;
}

/* Gather of one index along ONNX's axis 0 of a time-major view (h[-1]):
 * a batch-first value. */
static int rnn_gather(Imp *c, const OxNode *n, IVal *x)
{
    if (check_attrs(c, n, "axis"))
        return -1;
    OxTensor *t = in_const(c, n, 1, "the indices");
    if (!t)
        return -1;
    if (x->lay != LAY_TB || ai(n, "axis", 0) != 0 || t->ndim != 0 || x->ndim < 3)
        return imp_fail(c, "nnc gathers one index along dimension 0 of a time-major "
                        "LSTM/GRU tensor only");
    IVal *b = &c->val[x->base];
    int64_t i = (int64_t)t->v[0], len = b->d[1];
    if (i < -len || i >= len)
        return imp_fail(c, "index %lld is out of range for a dimension of %lld",
                        (long long)i, (long long)len);
    i += i < 0 ? len : 0;
    int64_t d[OX_MAX_DIMS];
    d[0] = 0;
    for (int k = 2; k < b->ndim; k++)
        d[k - 1] = b->d[k];
    IStmt *s = stmt1(c, n, b, b->ndim - 1, d);
    s->fwd = xasprintf("reshape(slice($0, 1, %lld, %lld), %s)", (long long)i, (long long)i + 1,
                       ilist(d + 1, b->ndim - 2));
    return 0;
}

/* ConstantOfShape: folded, or zeros sized by the batch (IV_ZERO). */
static int rnn_const_of_shape(Imp *c, const OxNode *n)
{
    if (check_attrs(c, n, "value"))
        return -1;
    OxTensor *sh = in_const(c, n, 0, "the shape");
    if (!sh)
        return -1;
    const OxAttr *va = ox_attr(n, "value");
    double v = va && va->t && va->t->numel ? va->t->v[0] : 0;
    int dt = va && va->t ? va->t->dtype : OX_FLOAT;
    int64_t d[OX_MAX_DIMS];
    int nb = 0;
    if (sh->numel > OX_MAX_DIMS)
        return imp_fail(c, "too many dimensions");
    for (int k = 0; k < sh->numel; k++) {
        nb += sh->v[k] == OX_BATCH;
        d[k] = sh->v[k] == OX_BATCH ? -1 : (int64_t)sh->v[k];
        if (sh->v[k] != OX_BATCH && d[k] < 0)
            return imp_fail(c, "a dimension of %lld", (long long)d[k]);
    }
    if (nb == 0) {
        OxTensor *t = imp_tensor(dt, (int)sh->numel, d);
        for (int64_t i = 0; i < t->numel; i++)
            t->v[i] = v;
        imp_const(c, n->out[0], t);
        return 0;
    }
    if (nb > 1 || v != 0)
        return imp_fail(c, "a tensor sized by the batch: nnc takes one only as zeros, the "
                        "initial state of LSTM or GRU");
    IVal *z = imp_const(c, n->out[0], NULL);
    z->kind = IV_ZERO;
    z->ndim = (int)sh->numel;
    memcpy(z->d, d, sizeof d);
    return 0;
}

/* Slice of zeros sized by the batch (one layer's initial state). */
static int rnn_zero_slice(Imp *c, const OxNode *n, IVal *z)
{
    int64_t lo[OX_MAX_DIMS], step[OX_MAX_DIMS], d[OX_MAX_DIMS], dd[OX_MAX_DIMS];
    memcpy(dd, z->d, sizeof dd);
    int bax = 0;
    while (bax < z->ndim && dd[bax] != -1)
        bax++;
    dd[bax] = 1 << 30;                  /* any slice of it but the whole is refused */
    if (check_attrs(c, n, "starts,ends,axes") || slice_plan(c, n, z->ndim, dd, 0, lo, step, d))
        return -1;
    if (d[bax] != dd[bax])
        return imp_fail(c, "a slice of the batch");
    d[bax] = -1;
    IVal *o = imp_const(c, n->out[0], NULL);
    o->kind = IV_ZERO;
    o->ndim = z->ndim;
    memcpy(o->d, d, sizeof d);
    return 0;
}

/* Input k of a recurrent node, an initial state: absent, or zeros. */
static int zero_state(Imp *c, const OxNode *n, int k, const char *what)
{
    const char *nm = ox_in(n, k);
    IVal *v = nm[0] ? imp_val(c, nm) : NULL;
    if (!nm[0])
        return 0;
    int zero = v && v->kind == IV_ZERO;
    if (v && v->kind == IV_CONST) {
        zero = 1;
        for (int64_t i = 0; i < v->c->numel; i++)
            zero &= v->c->v[i] == 0;
    }
    if (!zero)
        return imp_fail(c, "input %d (%s, '%s') is not zeros: nnc's layers start from zeros",
                        k, what, nm);
    return 0;
}

/* The attributes nnc's layers have only at PyTorch's values. */
static int rnn_attrs(Imp *c, const OxNode *n, int lstm, int dirs)
{
    if (check_attrs(c, n, lstm ? "activation_alpha,activation_beta,activations,clip,"
                                 "direction,hidden_size,input_forget,layout"
                               : "activation_alpha,activation_beta,activations,clip,"
                                 "direction,hidden_size,layout,linear_before_reset"))
        return -1;
    static const char *const fixed[] = {"clip", "activation_alpha", "activation_beta", NULL};
    for (int k = 0; fixed[k]; k++)
        if (ox_attr(n, fixed[k]))
            return imp_fail(c, "attribute '%s' is not supported by nnc (PyTorch's %s has none)",
                            fixed[k], lstm ? "LSTM" : "GRU");
    const OxAttr *a = ox_attr(n, "activations");
    static const char *const dflt[] = {"Sigmoid", "Tanh", "Tanh"};
    int per = lstm ? 3 : 2;
    if (a && a->n != per * dirs)
        return imp_fail(c, "attribute 'activations' has %d entries for %d direction(s)", a->n,
                        dirs);
    for (int k = 0; a && k < a->n; k++)
        if (!a->ss || strcmp(a->ss[k], dflt[k % per]))
            return imp_fail(c, "attribute 'activations': %s where nnc (as PyTorch) uses %s",
                            a->ss ? a->ss[k] : "?", dflt[k % per]);
    if (lstm && ai(n, "input_forget", 0))
        return imp_fail(c, "attribute 'input_forget' = %lld is not supported by nnc",
                        (long long)ai(n, "input_forget", 0));
    if (ai(n, "layout", 0))
        return imp_fail(c, "attribute 'layout' = %lld: nnc reads layout 0 (time first), what "
                        "torch.onnx.export writes", (long long)ai(n, "layout", 0));
    if (!lstm && ai(n, "linear_before_reset", 0) != 1)
        return imp_fail(c, "attribute 'linear_before_reset' = 0: PyTorch's GRU (and nnc's) "
                        "applies the reset gate after the recurrent product (1)");
    if (ai(n, "hidden_size", 0) <= 0)
        return imp_fail(c, "attribute 'hidden_size' is missing or not positive");
    return 0;
}

/* src [dirs, G·H, cols] (or [dirs, 2·G·H] when cols is 0, half = 0/1 the
 * Wb/Rb part) direction dir, gates reordered by order, as a parameter. */
static void add_gates(IStmt *s, const char *suffix, const OxTensor *src, int dir, int G,
                      int64_t H, int64_t cols, int half, const int *order)
{
    int64_t dims[2] = {G * H, cols ? cols : 1};
    OxTensor *t = imp_tensor(OX_FLOAT, cols ? 2 : 1, dims);
    int64_t per = cols ? cols : 1, dstride = cols ? G * H * cols : 2 * G * H;
    const double *from = src->v + dir * dstride + (cols ? 0 : half * G * H);
    for (int g = 0; g < G; g++)
        memcpy(t->v + g * H * per, from + order[g] * H * per, (size_t)(H * per) * sizeof(double));
    add_param(s, suffix, t, 0);
}

static int rnn_node(Imp *c, const OxNode *n)
{
    int lstm = n->op[0] == 'L', G = lstm ? 4 : 3;
    const char *dir = as(n, "direction", "forward");
    int dirs = !strcmp(dir, "bidirectional") ? 2 : 1;
    if (strcmp(dir, "forward") && dirs == 1)
        return imp_fail(c, "attribute 'direction' = '%s': nnc runs forward or bidirectional",
                        dir);
    if (rnn_attrs(c, n, lstm, dirs))
        return -1;
    int64_t H = ai(n, "hidden_size", 0);
    if (ox_in(n, 4)[0])
        return imp_fail(c, "input 4 (sequence_lens) is not supported by nnc: every sequence "
                        "has the model's length");
    if (lstm && ox_in(n, 7)[0])
        return imp_fail(c, "input 7 (P, peepholes) is not supported by nnc");
    if (zero_state(c, n, 5, "initial_h") || (lstm && zero_state(c, n, 6, "initial_c")))
        return -1;
    IVal *x = imp_val(c, ox_in(n, 0));
    if (!x || x->kind != IV_VIEW || x->lay != LAY_TB || x->ndim != 3)
        return imp_fail(c, "input 0 is not a batch-first sequence made time-major (Transpose "
                        "[1, 0, 2]): nnc's batch is dimension 0 (batch_first = true)");
    IVal *b = &c->val[x->base];
    int64_t T = b->d[1], in = b->d[2];
    OxTensor *W = in_const(c, n, 1, "W"), *R = W ? in_const(c, n, 2, "R") : NULL;
    OxTensor *B = ox_in(n, 3)[0] ? in_const(c, n, 3, "B") : NULL;
    if (!R || (ox_in(n, 3)[0] && !B))
        return -1;
    if (W->ndim != 3 || W->dims[0] != dirs || W->dims[1] != G * H || W->dims[2] != in ||
        R->ndim != 3 || R->dims[0] != dirs || R->dims[1] != G * H || R->dims[2] != H ||
        (B && (B->ndim != 2 || B->dims[0] != dirs || B->dims[1] != 2 * G * H)))
        return imp_fail(c, "W, R or B does not have the shape of %d direction(s), hidden size "
                        "%lld and input size %lld", dirs, (long long)H, (long long)in);
    IStmt *s = stmt1(c, n, b, 3, (int64_t[]){0, T, dirs * H});
    int si = (int)(s - c->st);
    s->kind = "rnn";
    s->ctor = xasprintf("%s(%lld, %lld%s%s)", lstm ? "lstm" : "gru", (long long)in,
                        (long long)H, B ? "" : ", bias = false",
                        dirs == 2 ? ", bidirectional = true" : "");
    static const int lstm_order[4] = {0, 2, 3, 1}, gru_order[3] = {1, 0, 2};
    const int *order = lstm ? lstm_order : gru_order;
    for (int d = 0; d < dirs; d++) {
        const char *rev = d ? "_reverse" : "";
        add_gates(s, xasprintf("weight_ih_l0%s", rev), W, d, G, H, in, 0, order);
        add_gates(s, xasprintf("weight_hh_l0%s", rev), R, d, G, H, H, 0, order);
        if (B) {
            add_gates(s, xasprintf("bias_ih_l0%s", rev), B, d, G, H, 0, 0, order);
            add_gates(s, xasprintf("bias_hh_l0%s", rev), B, d, G, H, 0, 1, order);
        }
    }
    /* Y: the statement's first result, renamed; Y_h, Y_c when read */
    IVal *y = &c->val[c->st[si].out[0]];
    y->name = xasprintf("%s@nnc", n->out[0]);
    imp_alias(c, y->name, y);
    new_view(c, n->out[0], y, LAY_TDBH, 4, (int64_t[]){T, dirs, 0, H});
    int nres = 1;
    for (int k = 1; k < n->nout && k < (lstm ? 3 : 2); k++)
        if (n->out[k][0] && node_output_read(c, n->out[k], 0))
            nres = k + 1;
    if (lstm && nres == 2)
        nres = 3;                       /* nnc's lstm gives out or out, h, c */
    for (int k = 1; k < nres; k++) {
        const char *nm = n->out[k][0] ? n->out[k] : xasprintf("%s@%d", n->out[0], k);
        IVal *h = hidden_run(c, nm, si, k, 3, (int64_t[]){0, dirs, H});
        new_view(c, nm, h, LAY_TB, 3, (int64_t[]){dirs, 0, H})->state = 1;
    }
    return 0;
}

int imp_rnn(Imp *c, const OxNode *n, int *rc)
{
    const char *op = n->op;
    if (!strcmp(op, "LSTM") || !strcmp(op, "GRU")) {
        *rc = rnn_node(c, n);
        return 1;
    }
    IVal *x = imp_val(c, ox_in(n, 0));
    if (!strcmp(op, "ConstantOfShape")) {
        *rc = rnn_const_of_shape(c, n);
        return 1;
    }
    int64_t p[OX_MAX_DIMS];
    if (!strcmp(op, "Transpose") && x && x->kind == IV_RUN && x->ndim >= 3 &&
        aints(n, "perm", p, OX_MAX_DIMS) == x->ndim && is_perm(n, SWAP01, x->ndim)) {
        *rc = rnn_transpose(c, n, x);
        return 1;
    }
    int k = 0;
    for (IVal *v; k < n->nin; k++)
        if ((v = imp_val(c, ox_in(n, k))) && (v->kind == IV_VIEW || v->kind == IV_ZERO))
            break;
    if (k == n->nin)
        return 0;
    *rc = -1;
    if (!strcmp(op, "Identity") && x) {
        imp_alias(c, n->out[0], x);
        *rc = 0;
    } else if (!strcmp(op, "Concat")) {
        *rc = rnn_concat(c, n);
    } else if (k > 0 || !x) {
        imp_fail(c, "input %d is a time-major LSTM/GRU tensor or its initial state, which "
                 "nnc takes only as input 0 of Transpose, Squeeze, Reshape, Gather, Slice", k);
    } else if (x->kind == IV_ZERO) {
        if (strcmp(op, "Slice"))
            imp_fail(c, "input 0 is zeros sized by the batch, which nnc takes only as the "
                     "initial state of LSTM or GRU");
        else
            *rc = rnn_zero_slice(c, n, x);
    } else if (!strcmp(op, "Transpose")) {
        *rc = rnn_transpose(c, n, x);
    } else if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        *rc = rnn_squeeze(c, n, x);
    } else if (!strcmp(op, "Reshape")) {
        *rc = rnn_reshape(c, n, x);
    } else if (!strcmp(op, "Gather")) {
        *rc = rnn_gather(c, n, x);
    } else {
        imp_fail(c, "input 0 is a time-major LSTM/GRU tensor (the batch in dimension %d), "
                 "which nnc takes only through Transpose, Squeeze, Reshape, Gather, Concat",
                 x->lay == LAY_TDBH ? 2 : 1);
    }
    return 1;
}
