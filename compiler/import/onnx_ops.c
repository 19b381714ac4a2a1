/* onnx_ops.c — the ONNX operators that become nnc layers with parameters or
 * with shapes of their own: Gemm, MatMul (+ Add), Conv, ConvTranspose,
 * BatchNormalization, LayerNormalization, MaxPool, AveragePool,
 * GlobalAveragePool, Gather (embedding), Resize/Upsample (nearest, linear). The
 * element-wise, shape and folding operators are in onnx_ops2.c; imp_node
 * (at the end) dispatches on the op_type. */
#include <math.h>
#include <string.h>

#include "onnx_ops.h"
#include "support/diag.h"

/* ---- helpers shared with onnx_ops2.c ---- */

const char *ox_in(const OxNode *n, int k) { return k < n->nin ? n->in[k] : ""; }

IVal *in_run(Imp *c, const OxNode *n, int k)
{
    const char *nm = ox_in(n, k);
    IVal *v = nm[0] ? imp_val(c, nm) : NULL;
    if (!v) {
        imp_fail(c, "input %d ('%s') is missing", k, nm);
        return NULL;
    }
    if (v->kind != IV_RUN) {
        imp_fail(c, "input %d ('%s') is a constant where nnc needs a value computed at "
                 "run time", k, nm);
        return NULL;
    }
    return v;
}

OxTensor *in_const(Imp *c, const OxNode *n, int k, const char *what)
{
    const char *nm = ox_in(n, k);
    IVal *v = nm[0] ? imp_val(c, nm) : NULL;
    if (!v) {
        if (what)
            imp_fail(c, "input %d ('%s', %s) is missing", k, nm, what);
        return NULL;
    }
    if (v->kind != IV_CONST) {
        if (what)
            imp_fail(c, "input %d ('%s', %s) is computed at run time: nnc needs it to be an "
                     "initialiser or a constant", k, nm, what);
        return NULL;
    }
    return v->c;
}

int64_t ai(const OxNode *n, const char *name, int64_t dflt)
{
    const OxAttr *a = ox_attr(n, name);
    return a ? a->i : dflt;
}

double af(const OxNode *n, const char *name, double dflt)
{
    const OxAttr *a = ox_attr(n, name);
    return a ? a->f : dflt;
}

const char *as(const OxNode *n, const char *name, const char *dflt)
{
    const OxAttr *a = ox_attr(n, name);
    return a && a->s ? a->s : dflt;
}

/* The INTS attribute name into out (at most max); its count, or -1 if absent. */
int aints(const OxNode *n, const char *name, int64_t *out, int max)
{
    const OxAttr *a = ox_attr(n, name);
    if (!a)
        return -1;
    int k = a->n < max ? a->n : max;
    for (int i = 0; i < k; i++)
        out[i] = a->is ? a->is[i] : 0;
    return a->n;
}

int check_attrs(Imp *c, const OxNode *n, const char *known)
{
    for (int k = 0; k < n->nattr; k++) {
        const char *nm = n->attr[k].name;
        size_t l = strlen(nm);
        int ok = 0;
        for (const char *p = known; *p && !ok; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) {
            size_t tl = strcspn(p, ",");
            ok = tl == l && l > 0 && !strncmp(p, nm, l);
        }
        if (!ok)
            return imp_fail(c, "attribute '%s' is not supported by nnc", nm);
    }
    return 0;
}

/* The checks that open most translations: every attribute of n in attrs
 * ("a,b"), no output but the first read (when first_only), and input 0 a
 * run-time value, returned (NULL after imp_fail). */
IVal *node_x(Imp *c, const OxNode *n, const char *attrs, int first_only)
{
    if (check_attrs(c, n, attrs) || (first_only && only_first_output(c, n)))
        return NULL;
    return in_run(c, n, 0);
}

const char *fnum(double x)
{
    char *s = xasprintf("%.9g", x);
    if (!strpbrk(s, ".eEn"))
        s = xasprintf("%s.0", s);
    return s;
}

const char *ilist(const int64_t *v, int n)
{
    char *s = xstrdup("[");
    for (int i = 0; i < n; i++)
        s = xasprintf("%s%s%lld", s, i ? ", " : "", (long long)v[i]);
    return xasprintf("%s]", s);
}

/* "k" when every entry is k, else the list. */
const char *ipair(const int64_t *v, int n)
{
    for (int i = 1; i < n; i++)
        if (v[i] != v[0])
            return ilist(v, n);
    return xasprintf("%lld", (long long)v[0]);
}

const char *init_base(const char *name)
{
    if (!name || !name[0] || strstr(name, "::") || strchr(name, '/') || strchr(name, ':'))
        return NULL;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    return xstrndup(name, (size_t)(dot - name));
}

void add_param(IStmt *s, const char *suffix, const OxTensor *t, int transpose2d)
{
    IParam *p = &s->param[s->nparam++];
    p->suffix = suffix;
    p->ndim = t->ndim;
    memcpy(p->shape, t->dims, sizeof p->shape);
    p->data = xcalloc((size_t)(t->numel ? t->numel : 1), sizeof(float));
    if (transpose2d) {
        int64_t r = t->dims[0], cl = t->dims[1];
        p->shape[0] = cl, p->shape[1] = r;
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < cl; j++)
                p->data[j * r + i] = (float)t->v[i * cl + j];
    } else {
        for (int64_t i = 0; i < t->numel; i++)
            p->data[i] = (float)t->v[i];
    }
}

/* A statement reading x, with one result: the node's first output, of shape d. */
IStmt *stmt1(Imp *c, const OxNode *n, IVal *x, int ndim, const int64_t *d)
{
    IStmt *s = imp_stmt(c);
    int si = (int)(s - c->st);
    s->in[s->nin++] = (int)(x - c->val);
    x->readers++;
    imp_run(c, n->out[0], si, 0, ndim, d);
    return &c->st[si];
}

int only_first_output(Imp *c, const OxNode *n)
{
    for (int k = 1; k < n->nout; k++)
        if (n->out[k][0] && node_output_read(c, n->out[k], 0))
            return imp_fail(c, "output %d ('%s') is used, and nnc computes only the first",
                            k, n->out[k]);
    return 0;
}

int node_output_read(Imp *c, const char *name, int skip_consumed)
{
    const OxModel *m = c->m;
    for (int i = 0; i < m->nnodes; i++)
        for (int k = 0; k < m->nodes[i].nin && !(skip_consumed && c->consumed[i]); k++)
            if (!strcmp(m->nodes[i].in[k], name))
                return 1;
    for (int k = 0; k < m->noutputs; k++)
        if (!strcmp(m->outputs[k].name, name))
            return 1;
    return 0;
}

int norm_axis(Imp *c, int64_t axis, int rank, int allow_batch)
{
    if (axis < -rank || axis >= rank) {
        imp_fail(c, "axis %lld is out of range for rank %d", (long long)axis, rank);
        return -1;
    }
    if (axis < 0)
        axis += rank;
    if (axis == 0 && !allow_batch) {
        imp_fail(c, "axis 0 is the batch dimension (nnc's implicit dimension), which this "
                 "operator cannot act on in nnc");
        return -1;
    }
    return (int)axis;
}

/* ---- Gemm, MatMul ---- */

/* A bias of out values from t (shapes [out], [1, out], or one value). */
static OxTensor *bias_vec(Imp *c, const OxTensor *t, int64_t out, double scale)
{
    if (!(t->numel == out || t->numel == 1) || (t->ndim >= 1 && t->dims[t->ndim - 1] != out &&
                                                t->numel != 1)) {
        imp_fail(c, "the bias has shape %s, nnc needs [%lld] (one per output feature)",
                 ilist(t->dims, t->ndim), (long long)out);
        return NULL;
    }
    OxTensor *b = imp_tensor(OX_FLOAT, 1, &out);
    for (int64_t i = 0; i < out; i++)
        b->v[i] = scale * t->v[t->numel == 1 ? 0 : i];
    return b;
}

static int op_gemm(Imp *c, const OxNode *n)
{
    IVal *a = node_x(c, n, "alpha,beta,transA,transB", 0);
    if (!a)
        return -1;
    OxTensor *w = in_const(c, n, 1, "the weight B");
    if (!w)
        return -1;
    if (ai(n, "transA", 0))
        return imp_fail(c, "transA = 1 would transpose the batch dimension away");
    if (a->ndim != 2 || w->ndim != 2)
        return imp_fail(c, "A and B must be matrices");
    int tb = (int)ai(n, "transB", 0);
    int64_t in = tb ? w->dims[1] : w->dims[0], out = tb ? w->dims[0] : w->dims[1];
    if (in != a->d[1])
        return imp_fail(c, "A has %lld features, B expects %lld", (long long)a->d[1],
                        (long long)in);
    double alpha = af(n, "alpha", 1.0), beta = af(n, "beta", 1.0);
    OxTensor *bias = NULL;
    if (ox_in(n, 2)[0]) {
        OxTensor *cb = in_const(c, n, 2, "the bias C");
        if (!cb || !(bias = bias_vec(c, cb, out, beta)))
            return -1;
    }
    int64_t d[2] = {0, out};
    IStmt *s = stmt1(c, n, a, 2, d);
    s->ctor = xasprintf("linear(%lld, %lld%s)", (long long)in, (long long)out,
                        bias ? "" : ", bias = false");
    s->base = init_base(w->name);
    s->kind = "fc";
    if (alpha != 1.0)
        for (int64_t i = 0; i < w->numel; i++)
            w->v[i] *= alpha;
    add_param(s, "weight", w, !tb);
    if (bias)
        add_param(s, "bias", bias, 0);
    return 0;
}

/* The Add node reading only value name with a constant bias of out values: its
 * index, or -1. */
static int fusable_add(Imp *c, const char *name, int64_t out)
{
    const OxModel *m = c->m;
    int found = -1, readers = 0;
    for (int i = c->node + 1; i < m->nnodes; i++)
        for (int k = 0; k < m->nodes[i].nin; k++)
            if (!strcmp(m->nodes[i].in[k], name))
                readers++, found = i;
    for (int k = 0; k < m->noutputs; k++)
        if (!strcmp(m->outputs[k].name, name))
            readers++;
    if (readers != 1 || strcmp(m->nodes[found].op, "Add") || m->nodes[found].nin != 2)
        return -1;
    const OxNode *ad = &m->nodes[found];
    const char *other = !strcmp(ad->in[0], name) ? ad->in[1] : ad->in[0];
    IVal *b = imp_val(c, other);
    if (!b || b->kind != IV_CONST || b->c->numel != out || b->c->dims[b->c->ndim - 1] != out)
        return -1;
    return found;
}

/* a @ b of run-time values (torch.matmul): the result's full shape into d. */
static int matmul_shape(Imp *c, const IVal *a, const IVal *b, int64_t *d)
{
    if (a->ndim < 3 || b->ndim < 3 || a->ndim != b->ndim)
        return imp_fail(c, "nnc multiplies two run-time values of the same rank >= 3 "
                        "(batch, then matrices); these have ranks %d and %d", a->ndim, b->ndim);
    int r = a->ndim;
    for (int k = 1; k < r - 2; k++) {
        if (a->d[k] != b->d[k] && a->d[k] != 1 && b->d[k] != 1)
            return imp_fail(c, "the leading dimensions %s and %s do not broadcast",
                            ilist(a->d + 1, r - 1), ilist(b->d + 1, r - 1));
        d[k] = a->d[k] > b->d[k] ? a->d[k] : b->d[k];
    }
    if (a->d[r - 1] != b->d[r - 2])
        return imp_fail(c, "inner dimensions differ (%lld and %lld)", (long long)a->d[r - 1],
                        (long long)b->d[r - 2]);
    d[r - 2] = a->d[r - 2];
    d[r - 1] = b->d[r - 1];
    return 0;
}

static int op_matmul(Imp *c, const OxNode *n)
{
    IVal *a = node_x(c, n, "", 0);
    if (!a)
        return -1;
    IVal *bv = imp_val(c, ox_in(n, 1));
    if (bv && bv->kind == IV_RUN) {
        int64_t d[OX_MAX_DIMS] = {0};
        if (matmul_shape(c, a, bv, d))
            return -1;
        IStmt *s = stmt1(c, n, a, a->ndim, d);
        s->in[s->nin++] = (int)(bv - c->val);
        bv->readers++;
        s->fwd = "$0 @ $1";
        return 0;
    }
    OxTensor *w = in_const(c, n, 1, "the weight");
    if (!w)
        return -1;
    if (w->ndim != 2)
        return imp_fail(c, "a constant right operand must be a matrix (it has shape %s)",
                        ilist(w->dims, w->ndim));
    if (a->ndim < 2 || a->d[a->ndim - 1] != w->dims[0])
        return imp_fail(c, "the input's last dimension is %lld, the weight expects %lld",
                        (long long)a->d[a->ndim - 1], (long long)w->dims[0]);
    int64_t in = w->dims[0], out = w->dims[1];
    int add = fusable_add(c, n->out[0], out);
    int64_t d[OX_MAX_DIMS];
    memcpy(d, a->d, sizeof d);
    d[a->ndim - 1] = out;
    IStmt *s = stmt1(c, n, a, a->ndim, d);
    int si = (int)(s - c->st);
    s->ctor = xasprintf("linear(%lld, %lld%s)", (long long)in, (long long)out,
                        add >= 0 ? "" : ", bias = false");
    s->base = init_base(w->name);
    s->kind = "fc";
    add_param(s, "weight", w, 1);
    if (add >= 0) {
        const OxNode *ad = &c->m->nodes[add];
        IVal *b = imp_val(c, !strcmp(ad->in[0], n->out[0]) ? ad->in[1] : ad->in[0]);
        OxTensor *bt = bias_vec(c, b->c, out, 1.0);
        add_param(&c->st[si], "bias", bt, 0);
        c->consumed[add] = 1;
        imp_alias(c, ad->out[0], imp_val(c, n->out[0]));
    }
    return 0;
}

/* ---- convolutions ---- */

/* Symmetric padding of a conv or pool node (pads, auto_pad) into p[0..ns-1].
 * in: spatial sizes; k: effective kernel extents; s: strides. */
static int conv_pads(Imp *c, const OxNode *n, int ns, const int64_t *in, const int64_t *k,
                     const int64_t *s, int64_t *p)
{
    int64_t pads[2 * OX_MAX_DIMS] = {0};
    const char *ap = as(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET") || !strcmp(ap, "VALID")) {
        if (!strcmp(ap, "NOTSET") && aints(n, "pads", pads, 2 * OX_MAX_DIMS) >= 0 &&
            aints(n, "pads", pads, 2 * OX_MAX_DIMS) != 2 * ns)
            return imp_fail(c, "pads has %d values, %d expected",
                            aints(n, "pads", pads, 2 * OX_MAX_DIMS), 2 * ns);
        for (int i = 0; i < ns; i++) {
            if (pads[i] != pads[i + ns])
                return imp_fail(c, "asymmetric padding %s: nnc pads both sides alike",
                                ilist(pads, 2 * ns));
            p[i] = pads[i];
        }
        return 0;
    }
    if (strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return imp_fail(c, "auto_pad '%s' is not supported by nnc", ap);
    for (int i = 0; i < ns; i++) {
        int64_t out = (in[i] + s[i] - 1) / s[i];
        int64_t total = (out - 1) * s[i] + k[i] - in[i];
        if (total < 0)
            total = 0;
        if (total % 2)
            return imp_fail(c, "auto_pad %s needs asymmetric padding here (%lld in all): "
                            "nnc pads both sides alike", ap, (long long)total);
        p[i] = total / 2;
    }
    return 0;
}

static int ints_or(const OxNode *n, const char *name, int64_t *v, int ns, int64_t dflt)
{
    for (int i = 0; i < ns; i++)
        v[i] = dflt;
    int got = aints(n, name, v, ns);
    return got < 0 || got == ns ? 0 : -1;
}

static int op_conv(Imp *c, const OxNode *n)
{
    int tr = !strcmp(n->op, "ConvTranspose");
    IVal *x = node_x(c, n, tr ? "auto_pad,dilations,group,kernel_shape,output_padding,pads,strides"
                             : "auto_pad,dilations,group,kernel_shape,pads,strides", 0);
    if (!x)
        return -1;
    OxTensor *w = in_const(c, n, 1, "the weight");
    if (!w)
        return -1;
    int ns = x->ndim - 2;
    if ((ns != 1 && ns != 2) || (tr && ns != 2))
        return imp_fail(c, "nnc has %s over %s; this input has %d spatial dimensions",
                        tr ? "conv_transpose2d" : "conv1d and conv2d",
                        tr ? "2 spatial dimensions" : "1 or 2", ns);
    if (w->ndim != ns + 2)
        return imp_fail(c, "the weight has shape %s", ilist(w->dims, w->ndim));
    int64_t g = ai(n, "group", 1), k[2], s[2], dl[2], p[2], op[2] = {0, 0}, ke[2];
    if (ints_or(n, "strides", s, ns, 1) || ints_or(n, "dilations", dl, ns, 1) ||
        (tr && ints_or(n, "output_padding", op, ns, 0)))
        return imp_fail(c, "strides, dilations or output_padding has the wrong length");
    for (int i = 0; i < ns; i++) {
        k[i] = w->dims[2 + i];
        ke[i] = (k[i] - 1) * dl[i] + 1;
    }
    int64_t ks[2];
    if (aints(n, "kernel_shape", ks, 2) == ns && (ks[0] != k[0] || (ns == 2 && ks[1] != k[1])))
        return imp_fail(c, "kernel_shape disagrees with the weight's shape");
    if (tr && strcmp(as(n, "auto_pad", "NOTSET"), "NOTSET"))
        return imp_fail(c, "auto_pad is not supported on ConvTranspose by nnc");
    if (ox_attr(n, "output_shape"))
        return imp_fail(c, "attribute 'output_shape' is not supported by nnc");
    if (conv_pads(c, n, ns, x->d + 2, ke, s, p))
        return -1;
    int64_t cin = x->d[1];
    int64_t cout = tr ? w->dims[1] * g : w->dims[0];
    if (g <= 0 || cin % g || (tr ? w->dims[0] != cin : w->dims[1] * g != cin))
        return imp_fail(c, "the weight %s does not fit %lld input channels in %lld groups",
                        ilist(w->dims, w->ndim), (long long)cin, (long long)g);
    int64_t d[4] = {0, cout, 0, 0};
    for (int i = 0; i < ns; i++) {
        d[2 + i] = tr ? (x->d[2 + i] - 1) * s[i] - 2 * p[i] + ke[i] + op[i]
                      : (x->d[2 + i] + 2 * p[i] - ke[i]) / s[i] + 1;
        if (d[2 + i] <= 0)
            return imp_fail(c, "the output would be empty");
    }
    OxTensor *b = NULL;
    if (ox_in(n, 2)[0] && !(b = in_const(c, n, 2, "the bias")))
        return -1;
    if (b && b->numel != cout)
        return imp_fail(c, "the bias has %lld values for %lld channels", (long long)b->numel,
                        (long long)cout);
    IStmt *st = stmt1(c, n, x, x->ndim, d);
    const char *ctor = xasprintf("%s(%lld, %lld, %s", tr ? "conv_transpose2d"
                                 : ns == 1 ? "conv1d" : "conv2d", (long long)cin,
                                 (long long)cout, ipair(k, ns));
    int64_t one[2] = {1, 1};
    if (memcmp(s, one, (size_t)ns * 8))
        ctor = xasprintf("%s, stride = %s", ctor, ipair(s, ns));
    if (p[0] || (ns == 2 && p[1]))
        ctor = xasprintf("%s, padding = %s", ctor, ipair(p, ns));
    if (tr && (op[0] || op[1]))
        ctor = xasprintf("%s, output_padding = %s", ctor, ipair(op, ns));
    if (memcmp(dl, one, (size_t)ns * 8))
        ctor = xasprintf("%s, dilation = %s", ctor, ipair(dl, ns));
    if (g != 1)
        ctor = xasprintf("%s, groups = %lld", ctor, (long long)g);
    st->ctor = xasprintf("%s%s)", ctor, b ? "" : ", bias = false");
    st->base = init_base(w->name);
    st->kind = "conv";
    add_param(st, "weight", w, 0);
    if (b) {
        b->ndim = 1, b->dims[0] = cout;
        add_param(st, "bias", b, 0);
    }
    return 0;
}

/* ---- normalisation ---- */

static int op_batchnorm(Imp *c, const OxNode *n)
{
    IVal *x = node_x(c, n, "epsilon,momentum,training_mode,spatial,is_test,consumed_inputs", 1);
    if (!x)
        return -1;
    if (ai(n, "training_mode", 0))
        return imp_fail(c, "training_mode = 1 (batch statistics) is not supported: nnc "
                        "imports models for inference");
    if (!ai(n, "spatial", 1))
        return imp_fail(c, "spatial = 0 is not supported by nnc");
    static const char *const what[4] = {"the scale", "the bias", "the mean", "the variance"};
    OxTensor *t[4];
    for (int k = 0; k < 4; k++)
        if (!(t[k] = in_const(c, n, k + 1, what[k])))
            return -1;
    if (x->ndim < 2 || x->ndim > 4)
        return imp_fail(c, "nnc normalises inputs of rank 2 to 4, this one has rank %d",
                        x->ndim);
    int64_t ch = x->d[1];
    for (int k = 0; k < 4; k++)
        if (t[k]->numel != ch)
            return imp_fail(c, "%s has %lld values for %lld channels", what[k],
                            (long long)t[k]->numel, (long long)ch);
    IStmt *s = stmt1(c, n, x, x->ndim, x->d);
    double eps = af(n, "epsilon", 1e-5), mom = 1.0 - af(n, "momentum", 0.9);
    const char *ctor = xasprintf("%s(%lld", x->ndim == 4 ? "batchnorm2d" : "batchnorm1d",
                                 (long long)ch);
    if (fabs(eps - 1e-5) > 1e-12)
        ctor = xasprintf("%s, eps = %s", ctor, fnum(eps));
    if (fabs(mom - 0.1) > 1e-6)
        ctor = xasprintf("%s, momentum = %s", ctor, fnum(mom));
    s->ctor = xasprintf("%s)", ctor);
    s->base = init_base(t[0]->name);
    s->kind = "bn";
    static const char *const suf[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) {
        t[k]->ndim = 1, t[k]->dims[0] = ch;
        add_param(s, suf[k], t[k], 0);
    }
    OxTensor *nbt = imp_tensor(OX_INT64, 0, NULL);
    add_param(s, "num_batches_tracked", nbt, 0);
    s->param[s->nparam - 1].is_int = 1;
    return 0;
}

/* LayerNormalization's outputs 1 and 2 (when read): the mean and 1 / std
 * over the dimensions from ax on, kept as 1s. */
static int ln_stats(Imp *c, const OxNode *n, int xi, int ax, double eps)
{
    int64_t d[OX_MAX_DIMS], axes[OX_MAX_DIMS];
    int nd = c->val[xi].ndim;
    for (int k = 0; k < nd; k++)
        d[k] = k < ax ? c->val[xi].d[k] : 1;
    for (int k = ax; k < nd; k++)
        axes[k - ax] = k;
    const char *on = xasprintf("%s, keepdim = true", ilist(axes, nd - ax));
    const char *m = xasprintf("mean($0, %s)", on);
    for (int o = 1; o < n->nout && o < 3; o++) {
        if (!n->out[o][0] || !node_output_read(c, n->out[o], 0))
            continue;
        IStmt *s = imp_stmt(c);
        int si = (int)(s - c->st);
        s->in[s->nin++] = xi;
        c->val[xi].readers++;
        s->fwd = o == 1 ? m : xasprintf("1.0 / sqrt(mean(($0 - %s) * ($0 - %s), %s) + %s)", m,
                                        m, on, fnum(eps));
        imp_run(c, n->out[o], si, 0, nd, d);
    }
    return 0;
}

static int op_layernorm(Imp *c, const OxNode *n)
{
    IVal *x = node_x(c, n, "axis,epsilon,stash_type", 0);
    if (!x)
        return -1;
    int ax = norm_axis(c, ai(n, "axis", -1), x->ndim, 0);
    if (ax < 0)
        return -1;
    OxTensor *w = in_const(c, n, 1, "the scale"), *b = NULL;
    if (!w)
        return -1;
    if (ox_in(n, 2)[0] && !(b = in_const(c, n, 2, "the bias")))
        return -1;
    int xi = (int)(x - c->val);
    if (ln_layer(c, x, ax, af(n, "epsilon", 1e-5), w, b, n->out[0]))
        return -1;
    return ln_stats(c, n, xi, ax, af(n, "epsilon", 1e-5));
}

int ln_layer(Imp *c, IVal *x, int ax, double eps, OxTensor *w, OxTensor *b, const char *out)
{
    int64_t numel = 1;
    for (int k = ax; k < x->ndim; k++)
        numel *= x->d[k];
    if (w->numel != numel || (b && b->numel != numel))
        return imp_fail(c, "the scale and bias must hold the %lld normalised values",
                        (long long)numel);
    IStmt *s = imp_stmt(c);
    int si = (int)(s - c->st);
    s->in[s->nin++] = (int)(x - c->val);
    x->readers++;
    imp_run(c, out, si, 0, x->ndim, x->d);
    s = &c->st[si];
    s->ctor = xasprintf("layernorm(%s%s%s%s)", x->ndim - ax == 1
                        ? xasprintf("%lld", (long long)x->d[ax]) : ilist(x->d + ax, x->ndim - ax),
                        fabs(eps - 1e-5) > 1e-12 ? ", eps = " : "",
                        fabs(eps - 1e-5) > 1e-12 ? fnum(eps) : "", b ? "" : ", bias = false");
    s->base = init_base(w->name);
    s->kind = "ln";
    w->ndim = x->ndim - ax;
    memcpy(w->dims, x->d + ax, (size_t)w->ndim * 8);
    add_param(s, "weight", w, 0);
    if (b) {
        b->ndim = w->ndim;
        memcpy(b->dims, w->dims, sizeof b->dims);
        add_param(s, "bias", b, 0);
    }
    return 0;
}

/* ---- pooling ---- */

static int op_pool(Imp *c, const OxNode *n)
{
    int avg = !strcmp(n->op, "AveragePool");
    IVal *x = node_x(c, n, avg ? "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides"
                              : "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides", 1);
    if (!x)
        return -1;
    int ns = x->ndim - 2;
    if (ns != 1 && ns != 2)
        return imp_fail(c, "nnc pools over 1 or 2 spatial dimensions; this input has %d", ns);
    int64_t k[2], s[2], dl[2], p[2];
    if (aints(n, "kernel_shape", k, 2) != ns)
        return imp_fail(c, "kernel_shape must have %d values", ns);
    if (ints_or(n, "strides", s, ns, 1) || ints_or(n, "dilations", dl, ns, 1))
        return imp_fail(c, "strides or dilations has the wrong length");
    for (int i = 0; i < ns; i++)
        if (dl[i] != 1)
            return imp_fail(c, "dilations other than 1 are not supported by nnc's pooling");
    if (conv_pads(c, n, ns, x->d + 2, k, s, p))
        return -1;
    int64_t d[4] = {0, x->d[1], 0, 0};
    int ceil = (int)ai(n, "ceil_mode", 0);
    for (int i = 0; i < ns; i++) {
        if (2 * p[i] > k[i])
            return imp_fail(c, "padding %lld is more than half the kernel %lld (PyTorch's "
                            "limit, and nnc's)", (long long)p[i], (long long)k[i]);
        int64_t span = x->d[2 + i] + 2 * p[i] - k[i];
        d[2 + i] = span / s[i] + 1;
        if (ceil && span % s[i] && (d[2 + i]) * s[i] < x->d[2 + i] + p[i])
            return imp_fail(c, "ceil_mode = 1 adds a window here, which nnc's pooling "
                            "does not compute");
        if (d[2 + i] <= 0)
            return imp_fail(c, "the output would be empty");
    }
    if (avg && !ai(n, "count_include_pad", 0) && (p[0] || (ns == 2 && p[1])))
        return imp_fail(c, "count_include_pad = 0 with padding: nnc's avgpool counts the "
                        "padding (PyTorch's default)");
    IStmt *st = stmt1(c, n, x, x->ndim, d);
    const char *ctor = xasprintf("%s%s(%s", avg ? "avgpool" : "maxpool", ns == 1 ? "1d" : "2d",
                                 ipair(k, ns));
    if (memcmp(s, k, (size_t)ns * sizeof *k))  /* PyTorch's stride defaults to the kernel */
        ctor = xasprintf("%s, stride = %s", ctor, ipair(s, ns));
    if (p[0] || (ns == 2 && p[1]))
        ctor = xasprintf("%s, padding = %s", ctor, ipair(p, ns));
    st->ctor = xasprintf("%s)", ctor);
    st->kind = "pool";
    return 0;
}

static int op_global_pool(Imp *c, const OxNode *n)
{
    IVal *x = node_x(c, n, "", 0);
    if (!x)
        return -1;
    if (x->ndim != 4 && x->ndim != 3)
        return imp_fail(c, "nnc pools over 1 or 2 spatial dimensions; this input has %d",
                        x->ndim - 2);
    int64_t d[4] = {0, x->d[1], 1, 1};
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    if (x->ndim == 4) {
        s->ctor = "adaptive_avg_pool2d(1)";
        s->kind = "pool";
    } else {
        s->fwd = "mean($0, 2, keepdim = true)";
    }
    return 0;
}

/* ---- Gather as embedding ---- */

static int op_gather_embed(Imp *c, const OxNode *n, OxTensor *w, IVal *idx)
{
    if (ai(n, "axis", 0) == 0 && w->ndim == 1)
        return imp_gather_vector(c, n, w, idx);
    if (ai(n, "axis", 0) != 0 || w->ndim != 2)
        return imp_fail(c, "nnc reads a run-time Gather as an embedding: rows (axis 0) of "
                        "a constant matrix or vector");
    if (!idx->is_int || idx->ndim < 2)
        return imp_fail(c, "the indices must be an integer input of the model, with "
                        "dimensions besides the batch");
    if (idx->ndim + 1 > OX_MAX_DIMS)
        return imp_fail(c, "the indices have too many dimensions");
    int64_t d[OX_MAX_DIMS];
    memcpy(d, idx->d, sizeof d);
    d[idx->ndim] = w->dims[1];
    IStmt *s = stmt1(c, n, idx, idx->ndim + 1, d);
    s->ctor = xasprintf("embedding(%lld, %lld)", (long long)w->dims[0], (long long)w->dims[1]);
    s->base = init_base(w->name);
    s->kind = "emb";
    add_param(s, "weight", w, 0);
    return 0;
}

/* ---- Resize / Upsample, nearest ---- */

/* Resize / Upsample mode "linear" of [N, C, H, W] or [N, C, L] by the
 * scales sc (PyTorch's bilinear / linear upsample, align_corners from the
 * coordinate transformation); sizes: the ONNX node gave sizes, which the
 * scales must reproduce. */
static int resize_linear(Imp *c, const OxNode *n, IVal *x, const double *sc, int sizes)
{
    const char *ctm = as(n, "coordinate_transformation_mode", "half_pixel");
    int align = !strcmp(ctm, "align_corners");
    if (!align && strcmp(ctm, "half_pixel") && strcmp(ctm, "pytorch_half_pixel"))
        return imp_fail(c, "coordinate_transformation_mode '%s' with mode 'linear' is not "
                        "PyTorch's (bi)linear upsampling", ctm);
    if ((x->ndim != 4 && x->ndim != 3) || sc[0] != 1 || sc[1] != 1)
        return imp_fail(c, "nnc upsamples (bi)linearly [N, C, H, W] or [N, C, L] inputs, "
                        "with the scales of N and C 1");
    int64_t d[4] = {0, x->d[1], 0, 0};
    const char *sf = "";
    for (int k = 2; k < x->ndim; k++) {
        d[k] = (int64_t)floor((double)x->d[k] * sc[k]);
        if (!(sc[k] > 0) || d[k] < 1 || (sizes && fabs(d[k] - x->d[k] * sc[k]) > 1e-6))
            return imp_fail(c, "a scale of %s for a dimension of %lld", fnum(sc[k]),
                            (long long)x->d[k]);
        sf = xasprintf("%s%s%s", sf, k > 2 ? ", " : "",
                       sc[k] == floor(sc[k]) ? xasprintf("%lld", (long long)sc[k]) : fnum(sc[k]));
    }
    IStmt *s = stmt1(c, n, x, x->ndim, d);
    int pair = x->ndim == 4 && sc[2] != sc[3];
    if (x->ndim == 4 && !pair)
        sf = sc[2] == floor(sc[2]) ? xasprintf("%lld", (long long)sc[2]) : fnum(sc[2]);
    s->ctor = xasprintf("upsample(scale_factor = %s%s%s, mode = \"%s\"%s)",
                        pair ? "[" : "", sf, pair ? "]" : "",
                        x->ndim == 4 ? "bilinear" : "linear",
                        align ? ", align_corners = true" : "");
    s->kind = "up";
    return 0;
}

static int op_resize(Imp *c, const OxNode *n)
{
    int up = !strcmp(n->op, "Upsample");
    IVal *x = node_x(c, n, up ? "mode,scales,height_scale,width_scale"
                             : "mode,coordinate_transformation_mode,nearest_mode,"
                               "cubic_coeff_a,exclude_outside,extrapolation_value", 0);
    if (!x)
        return -1;
    const char *mode = as(n, "mode", "nearest");
    int linear = !strcmp(mode, "linear") || (up && !strcmp(mode, "bilinear"));
    if (strcmp(mode, "nearest") && !linear)
        return imp_fail(c, "mode '%s': nnc upsamples by nearest neighbour or (bi)linearly", mode);
    const char *ctm = as(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = as(n, "nearest_mode", "round_prefer_floor");
    int floor_ok = !strcmp(ctm, "asymmetric") && !strcmp(nm, "floor");
    int half_ok = (!strcmp(ctm, "half_pixel") || !strcmp(ctm, "pytorch_half_pixel")) &&
                  (!strcmp(nm, "round_prefer_floor") || !strcmp(nm, "round_prefer_ceil"));
    if (!up && !linear && !floor_ok && !half_ok)
        return imp_fail(c, "coordinate_transformation_mode '%s' with nearest_mode '%s' is "
                        "not PyTorch's nearest upsampling", ctm, nm);
    double sc[OX_MAX_DIMS];
    int nsc = 0;
    const OxAttr *sa = ox_attr(n, "scales");
    OxTensor *st = NULL, *sz = NULL;
    if (up && sa) {
        nsc = sa->n;
        for (int k = 0; k < nsc && k < OX_MAX_DIMS; k++)
            sc[k] = sa->fs[k];
    } else {
        st = in_const(c, n, up ? 1 : 2, NULL);
        sz = up ? NULL : in_const(c, n, 3, NULL);
        if (st && st->numel) {
            nsc = (int)st->numel;
            for (int k = 0; k < nsc && k < OX_MAX_DIMS; k++)
                sc[k] = st->v[k];
        } else if (sz) {
            nsc = (int)sz->numel;
            for (int k = 1; k < nsc && k < x->ndim; k++)
                sc[k] = sz->v[k] / (double)x->d[k];
            sc[0] = 1;
        } else {
            return imp_fail(c, "nnc needs constant scales or sizes");
        }
    }
    if (nsc != x->ndim)
        return imp_fail(c, "%d scales for a rank-%d input", nsc, x->ndim);
    if (linear)
        return resize_linear(c, n, x, sc, !(st && st->numel) && !sa);
    if (x->ndim != 4)
        return imp_fail(c, "nnc upsamples 4-D (NCHW) inputs, with a scale per dimension");
    if (sc[0] != 1 || sc[1] != 1 || sc[2] != sc[3] || sc[2] < 1 || sc[2] != floor(sc[2]))
        return imp_fail(c, "scales %s: nnc upsamples height and width by one integer factor",
                        fnum(sc[2]));
    int64_t f = (int64_t)sc[2];
    int64_t d[4] = {0, x->d[1], x->d[2] * f, x->d[3] * f};
    IStmt *s = stmt1(c, n, x, 4, d);
    s->ctor = xasprintf("upsample(scale_factor = %lld)", (long long)f);
    s->kind = "up";
    return 0;
}

/* ---- dispatch ---- */

int imp_node(Imp *c, const OxNode *n)
{
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return imp_fail(c, "operator domain '%s' is not supported by nnc", n->domain);
    const char *op = n->op;
    int rc;
    if (imp_rnn(c, n, &rc))
        return rc;
    int fused = imp_fuse(c, n);
    if (fused)
        return fused < 0 ? -1 : 0;
    if (!strcmp(op, "Gemm")) return op_gemm(c, n);
    if (!strcmp(op, "MatMul")) return op_matmul(c, n);
    if (!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) return op_conv(c, n);
    if (!strcmp(op, "BatchNormalization")) return op_batchnorm(c, n);
    if (!strcmp(op, "LayerNormalization")) return op_layernorm(c, n);
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) return op_pool(c, n);
    if (!strcmp(op, "GlobalAveragePool")) return op_global_pool(c, n);
    if (!strcmp(op, "Resize") || !strcmp(op, "Upsample")) return op_resize(c, n);
    if (!strcmp(op, "Gather")) {
        IVal *d = imp_val(c, ox_in(n, 0)), *i = imp_val(c, ox_in(n, 1));
        if (d && i && d->kind == IV_CONST && i->kind == IV_RUN) {
            if (check_attrs(c, n, "axis"))
                return -1;
            return op_gather_embed(c, n, d->c, i);
        }
    }
    return imp_node2(c, n);
}
