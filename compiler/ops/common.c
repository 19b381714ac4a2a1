/* common.c — the per-op dispatch table built from ops.def, and helpers the
 * op families share (argument access, parameter creation, C spelling). */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

/* Families whose ops own no parameters. */
#define NO_PARAMS_(fam) \
    int fam##_nparams(const Node *n) \
    { \
        (void)n; \
        return 0; \
    }
NO_PARAMS_(pool)
NO_PARAMS_(reshape)
NO_PARAMS_(act)
NO_PARAMS_(softmax)
NO_PARAMS_(dropout)
NO_PARAMS_(binary)
NO_PARAMS_(matmul)
NO_PARAMS_(tensor)
NO_PARAMS_(reduce)
NO_PARAMS_(resize)
#undef NO_PARAMS_

/* Families whose ops have no attributes beyond ops.def's ATTR rows and
 * nothing to verify beyond their shape. */
#define NO_ATTRS_(fam) \
    void fam##_print(FILE *out, const Node *n) \
    { \
        (void)out, (void)n; \
    } \
    int fam##_parse(IrLx *x, Node *n, const char *key) \
    { \
        (void)x, (void)n, (void)key; \
        return 0; \
    } \
    int fam##_verify(const Graph *g, const Node *n, char *why, size_t len) \
    { \
        (void)g, (void)n, (void)why, (void)len; \
        return 0; \
    }
NO_ATTRS_(reshape)
NO_ATTRS_(act)
NO_ATTRS_(binary)
NO_ATTRS_(matmul)
NO_ATTRS_(seq)
NO_ATTRS_(rnn)
NO_ATTRS_(attn)
NO_ATTRS_(train)
#undef NO_ATTRS_

/* Families whose attributes the shape hook already checks (softmax's and
 * a reduction's dim, permute's dims): nothing more to verify. */
#define NO_VERIFY_(fam) \
    int fam##_verify(const Graph *g, const Node *n, char *why, size_t len) \
    { \
        (void)g, (void)n, (void)why, (void)len; \
        return 0; \
    }
NO_VERIFY_(softmax)
NO_VERIFY_(reduce)
NO_VERIFY_(tensor)
#undef NO_VERIFY_

const OpHooks op_hooks[OP__COUNT] = {
#define OP(id, name, fam, nin, flags) \
    {fam##_args, fam##_build, fam##_shape, fam##_emit, fam##_emit_train, fam##_grad, fam##_flops, fam##_saved, \
     fam##_nparams, fam##_print, fam##_parse, fam##_verify},
#include "../ir/ops.def"
#undef OP
};

int op_verify_weight(const Graph *g, const Node *n, int64_t want, char *why, size_t len)
{
    if (n->nparam != 1 + (n->weight.bias != 0)) {
        snprintf(why, len, "%d parameters with bias=%d", n->nparam, n->weight.bias);
        return 1;
    }
    const Param *w = &g->params[n->param[0]];
    if (w->numel != want) {
        snprintf(why, len, "its weight %s has %lld values, not %lld", w->name, (long long)w->numel,
                 (long long)want);
        return 1;
    }
    if (n->weight.bias && g->params[n->param[1]].numel != n->weight.out) {
        snprintf(why, len, "its bias %s has %lld values, not %lld", g->params[n->param[1]].name,
                 (long long)g->params[n->param[1]].numel, (long long)n->weight.out);
        return 1;
    }
    return 0;
}

int op_param(BuildCtx *cx, const char *suffix, int ndim, const int64_t *shape, int kind,
             InitKind init, float bound)
{
    Param p;
    memset(&p, 0, sizeof p);
    p.name = xasprintf("%s.%s", cx->pname, suffix);
    p.ndim = ndim;
    p.numel = 1;
    for (int i = 0; i < ndim; i++) {
        p.shape[i] = shape[i];
        if (__builtin_mul_overflow(p.numel, shape[i], &p.numel))
            p.numel = INT64_MAX; /* sema reports it as too large */
    }
    p.kind = kind;
    p.init = init;
    p.bound = bound;
    p.layer = cx->g->nodes[cx->node].layer;
    p.layer_name = cx->pname;
    int idx = ir_add_param(cx->g, &p);
    ir_param_push(cx->g, cx->node, idx);
    return idx;
}

const char *op_act_c(int op)
{
    switch (op) {
#define ACT_C_(id) case OP_##id: return "NNR_ACT_" #id;
    NNR_ACTS(ACT_C_)
#undef ACT_C_
    default: return "NNR_ACT_NONE";
    }
}

int op_act_value(int op)
{
    switch (op) {
#define ACT_V_(id) case OP_##id: return NNR_ACT_##id;
    NNR_ACTS(ACT_V_)
#undef ACT_V_
    default: return NNR_ACT_NONE;
    }
}

void kcall_init(KCall *c, const char *fn)
{
    memset(c, 0, sizeof *c);
    c->fn = fn;
}

void kcall_arg(KCall *c, KArgKind kind, int64_t i, double f)
{
    if (c->nargs >= KCALL_MAX_ARGS)
        NNC_ICE("%s: more than %d kernel arguments", c->fn, KCALL_MAX_ARGS);
    c->a[c->nargs++] = (KArg){.kind = kind, .i = i, .f = f};
}

void kcall_weight_grad_args(KCall *c, const EmitCtx *e, const Node *n)
{
    kcall_arg(c, KA_VAL, n->in[0], 0);
    kcall_arg(c, KA_PARAM, n->param[0], 0);
    kcall_arg(c, KA_DVAL, n - e->g->nodes, 0);
    kcall_arg(c, KA_DVAL, n->in[0], 0);
    kcall_arg(c, KA_GPARAM, n->param[0], 0);
    kcall_arg(c, KA_GPARAM, n->weight.bias ? n->param[1] : -1, 0);
}

void kcall_saved(KCall *c, KArgKind kind, int node, int64_t off)
{
    kcall_arg(c, kind, node, 0);
    c->a[c->nargs - 1].j = off;
}

void kcall_enum(KCall *c, int v, const char *cname)
{
    kcall_arg(c, KA_ENUM, v, 0);
    c->a[c->nargs - 1].c = cname;
}

void kcall_builtin(KCall *c, KBuiltin b)
{
    kcall_init(c, "");
    c->builtin = b;
}

const char *kcall_shape_c(const KCall *c)
{
    size_t len = strlen(c->shape_type) + 16;
    for (int j = 0; j < c->nshape; j++)
        len += strlen(c->shape_fields[j]) + 32;
    char *s = xcalloc(len, 1);
    int k = snprintf(s, len, "&(const %s){", c->shape_type);
    for (int j = 0; j < c->nshape; j++)
        k += snprintf(s + k, len - (size_t)k, "%s.%s = %lld", j ? ", " : "", c->shape_fields[j],
                      (long long)c->shape[j]);
    snprintf(s + k, len - (size_t)k, "}");
    return s;
}

void kcall_shape(KCall *c, const char *type, const char *const *fields, const int64_t *v, int nv)
{
    if (nv > KCALL_MAX_ARGS)
        NNC_ICE("%s: more than %d shape fields", type, KCALL_MAX_ARGS);
    c->shape_type = type;
    c->shape_fields = fields;
    c->nshape = nv;
    memcpy(c->shape, v, (size_t)nv * sizeof *v);
}

void kcall_keep(void *ctx, const EmitCtx *e, const Node *n, const KCall *c)
{
    (void)e, (void)n;
    *(KCall *)ctx = *c;
}

/* One argument spelled in C, in the context of the C emitter. */
static const char *karg_c(const EmitCtx *e, const KCall *c, const KArg *a)
{
    char b[48];
    switch (a->kind) {
    case KA_INT:
    case KA_SIZE: return xasprintf("%lld", (long long)a->i);
    case KA_N: return a->i == 1 ? "n" : xasprintf("n * %lld", (long long)a->i);
    case KA_NSIZE: return xasprintf("(size_t)n * %lld", (long long)a->i);
    case KA_F32: return xstrdup(c_float(a->f, b, sizeof b));
    case KA_ACT: return op_act_c((int)a->i);
    case KA_VAL: return e->val[a->i + 1];
    case KA_PARAM:
        if (a->i < 0)
            return "NULL";
        if (e->pexpr)
            return e->pexpr[a->i];
        return e->poff ? xasprintf("%s + %s", e->P, e->poff[a->i]) : op_pexpr(e->P, e->g, (int)a->i);
    case KA_SCRATCH: return e->scratch;
    case KA_SHAPE: return c->shape_c ? c->shape_c : kcall_shape_c(c);
    case KA_ENUM: return a->c;
    case KA_DVAL: return e->dval[a->i + 1] ? e->dval[a->i + 1] : "NULL";
    case KA_DIN: return e->din[a->i] ? e->din[a->i] : "NULL";
    case KA_GPARAM:
        if (a->i < 0)
            return "NULL";
        return e->poff ? xasprintf("%s + %s", e->G, e->poff[a->i]) : op_pexpr(e->G, e->g, (int)a->i);
    case KA_SAVED:
        return a->j ? xasprintf("%s + %lld", e->saved[a->i + 1], (long long)a->j) : e->saved[a->i + 1];
    case KA_SAVED_N: return xasprintf("%s + (size_t)n * %lld", e->saved[a->i + 1], (long long)a->j);
    case KA_RNG: return e->rng;
    }
    NNC_ICE("kernel argument kind %d", (int)a->kind);
}

/* A KB_* statement spelled in C. */
static void builtin_c(const EmitCtx *e, const KCall *c)
{
    const char *a[4];
    for (int j = 0; j < c->nargs && j < 4; j++)
        a[j] = karg_c(e, c, &c->a[j]);
    switch (c->builtin) {
    case KB_ZERO: fprintf(e->out, "    memset(%s, 0, %s * sizeof(float));", a[0], a[1]); break;
    case KB_COPY: fprintf(e->out, "    memcpy(%s, %s, %s * sizeof(float));", a[0], a[1], a[2]); break;
    case KB_MUL:
        fprintf(e->out, "    for (size_t i = 0; i < %s; i++)\n        %s[i] = %s[i] * %s[i];", a[3], a[0], a[1], a[2]);
        break;
    case KB_INC:
        if (e->poff)
            fprintf(e->out, "    %s[%s] += %s;", e->P, e->poff[c->a[0].i], a[1]);
        else
            fprintf(e->out, "    %s[%lld] += %s;", e->P, (long long)op_poffset(e->g, (int)c->a[0].i), a[1]);
        break;
    case KB_CALL: NNC_ICE("builtin_c of a call");
    }
}

void op_emit_call(EmitCtx *e, const Node *n, const KCall *c)
{
    if (e->sink) {
        e->sink(e->sink_ctx, e, n, c);
        return;
    }
    if (c->builtin != KB_CALL) {
        builtin_c(e, c);
    } else {
        fprintf(e->out, "    %s(", c->fn);
        for (int j = 0; j < c->nargs; j++) {
            if (j && j == c->wrap)
                fprintf(e->out, ",\n%*s", c->wrap_indent ? c->wrap_indent : (int)strlen(c->fn) + 5, "");
            else if (j)
                fprintf(e->out, ", ");
            fputs(karg_c(e, c, &c->a[j]), e->out);
        }
        fprintf(e->out, ");");
    }
    if (c->comment)
        fprintf(e->out, " /* %s */", c->comment);
    fprintf(e->out, "\n");
}

const char *c_float(double v, char *buf, size_t len)
{
    float f = (float)v;
    if (f == 0.0f)
        snprintf(buf, len, "%s0.0f", signbit(f) ? "-" : "");
    else
        snprintf(buf, len, "%.9gf", (double)f);
    /* "1f" is not a C float constant: make it "1.0f" */
    if (!strpbrk(buf, ".eEn")) {
        size_t k = strlen(buf);
        if (k + 2 < len) {
            buf[k - 1] = '\0';
            strcat(buf, ".0f");
        }
    }
    return buf;
}

/* The inference graph (after ir_layout_infer) reads the inference block;
 * the model graph (training) reads the state block. */
int64_t op_poffset(const Graph *g, int param)
{
    const Param *p = &g->params[param];
    if (g->infer_laid_out && p->ioffset < 0)
        NNC_ICE("parameter %s is read but not in the inference block", p->name);
    return g->infer_laid_out ? p->ioffset : p->offset;
}

const char *op_pexpr(const char *base, const Graph *g, int param)
{
    return xasprintf("%s + %lld", base, (long long)op_poffset(g, param));
}

const char *op_din(const EmitCtx *e, const Node *n, int k)
{
    (void)n;
    return e->din[k];
}

int op_is_alias(Op op, int training)
{
    int f = op_info[op].flags;
    return (f & OPF_VIEW) || (!training && (f & OPF_NOOP_INF));
}

int op_is_nothing(const Graph *g, const Node *n)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    return (op_info[n->op].flags & OPF_NOOP_INF) && in->ndim == n->shape.ndim &&
           memcmp(in->d, n->shape.d, (size_t)in->ndim * sizeof in->d[0]) == 0;
}

void op_saved_size(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    *per_sample = 0;
    *fixed = 0;
    op_hooks[n->op].saved(g, n, per_sample, fixed);
}
