/* lnorm.c — layernorm (PyTorch nn.LayerNorm): normalises over the last
 * len(normalized_shape) dimensions of a sample, eps, elementwise_affine
 * (weight = 1, bias = 0 of shape normalized_shape; bias = false leaves the
 * bias out). Training keeps each row's mean and 1/std. Kernels:
 * runtime/kernels/layernorm.c. */
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { A_SHAPE, A_EPS, A_AFFINE, A_BIAS };
static const ArgSpec spec[] = {
    {"normalized_shape", AT_INT | AT_LIST, 1},
    {"eps", AT_REAL, 0},
    {"elementwise_affine", AT_BOOL, 0},
    {"bias", AT_BOOL, 0},
    {NULL, 0, 0},
};

const ArgSpec *lnorm_args(Op op) { (void)op; return spec; }

int lnorm_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    LayerNormAttrs *at = &n->layernorm;
    int k = arg_int_list(cx, A_SHAPE, at->normalized_shape, NNC_MAX_DIMS, "layernorm: normalized_shape");
    if (k < 0)
        return -1;
    at->ndim = k;
    for (int j = 0; j < k; j++)
        if (at->normalized_shape[j] <= 0) {
            diag_error(cx->d, arg_span(cx, A_SHAPE), "layernorm: normalized_shape must hold positive sizes");
            return -1;
        }
    at->eps = arg_real(cx, A_EPS, 1e-5);
    if (!(at->eps > 0)) {
        diag_error(cx->d, arg_span(cx, A_EPS), "layernorm: eps must be positive");
        return -1;
    }
    at->elementwise_affine = arg_bool(cx, A_AFFINE, 1);
    at->bias = at->elementwise_affine && arg_bool(cx, A_BIAS, 1);
    if (at->elementwise_affine) {
        op_param(cx, "weight", k, at->normalized_shape, NNR_T_PARAM, INIT_ONES, 0);
        if (at->bias)
            op_param(cx, "bias", k, at->normalized_shape, NNR_T_PARAM, INIT_ZEROS, 0);
    }
    return 0;
}

/* Floats per normalised row. */
static int64_t row(const Node *n)
{
    int64_t d = 1;
    for (int j = 0; j < n->layernorm.ndim; j++)
        d *= n->layernorm.normalized_shape[j];
    return d;
}

int lnorm_shape(Graph *g, Node *n, Diag *d)
{
    const LayerNormAttrs *at = &n->layernorm;
    const Shape *in = ir_value_shape(g, n->in[0]);
    int ok = at->ndim >= 1 && at->ndim <= in->ndim;
    for (int j = 0; ok && j < at->ndim; j++)
        ok = in->d[in->ndim - at->ndim + j] == at->normalized_shape[j];
    if (!ok) {
        char buf[64], ns[64];
        Shape s = {at->ndim, {0}};
        for (int j = 0; j < at->ndim && j < NNC_MAX_DIMS; j++)
            s.d[j] = at->normalized_shape[j];
        diag_error(d, n->span, "layernorm(%s) normalises the last dimensions %s, but its input has shape %s",
                   shape_str(&s, ns, sizeof ns), ns, shape_str(in, buf, sizeof buf));
        return -1;
    }
    n->shape = *in;
    return 0;
}

/* Rows per sample. */
static long long rows(const Node *n) { return (long long)(shape_numel(&n->shape) / row(n)); }

void lnorm_emit(EmitCtx *e, const Node *n)
{
    const LayerNormAttrs *at = &n->layernorm;
    KCall c;
    kcall_init(&c, "nnr_layernorm_f32");
    kcall_arg(&c, KA_NSIZE, rows(n), 0);
    kcall_arg(&c, KA_INT, row(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, at->elementwise_affine ? n->param[0] : -1, 0);
    kcall_arg(&c, KA_PARAM, at->bias ? n->param[1] : -1, 0);
    kcall_arg(&c, KA_F32, 0, at->eps);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void lnorm_emit_train(EmitCtx *e, const Node *n)
{
    const LayerNormAttrs *at = &n->layernorm;
    KCall c;
    int i = (int)(n - e->g->nodes);
    kcall_init(&c, "nnr_layernorm_train_f32");
    kcall_arg(&c, KA_NSIZE, rows(n), 0);
    kcall_arg(&c, KA_INT, row(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, at->elementwise_affine ? n->param[0] : -1, 0);
    kcall_arg(&c, KA_PARAM, at->bias ? n->param[1] : -1, 0);
    kcall_arg(&c, KA_F32, 0, at->eps);
    kcall_saved(&c, KA_SAVED, i, 0);
    kcall_saved(&c, KA_SAVED_N, i, rows(n));
    kcall_arg(&c, KA_VAL, i, 0);
    c.wrap = 6;
    op_emit_call(e, n, &c);
}

void lnorm_grad(EmitCtx *e, const Node *n)
{
    const LayerNormAttrs *at = &n->layernorm;
    KCall c;
    int i = (int)(n - e->g->nodes);
    kcall_init(&c, "nnr_layernorm_backward_f32");
    kcall_arg(&c, KA_NSIZE, rows(n), 0);
    kcall_arg(&c, KA_INT, row(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, at->elementwise_affine ? n->param[0] : -1, 0);
    kcall_saved(&c, KA_SAVED, i, 0);
    kcall_saved(&c, KA_SAVED_N, i, rows(n));
    kcall_arg(&c, KA_DVAL, i, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    kcall_arg(&c, KA_GPARAM, at->elementwise_affine ? n->param[0] : -1, 0);
    kcall_arg(&c, KA_GPARAM, at->bias ? n->param[1] : -1, 0);
    c.wrap = 6;
    op_emit_call(e, n, &c);
}

int64_t lnorm_flops(const Graph *g, const Node *n)
{
    (void)g;
    return 8 * shape_numel(&n->shape);
}

void lnorm_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)fixed;
    *per_sample = 2 * rows(n);     /* each row's mean and 1/std */
}

int lnorm_nparams(const Node *n)
{
    /* weight and bias [normalized_shape], when elementwise_affine */
    return n->layernorm.elementwise_affine ? 1 + n->layernorm.bias : 0;
}

void lnorm_print(FILE *out, const Node *n)
{
    const LayerNormAttrs *at = &n->layernorm;
    fprintf(out, " normalized_shape=");
    for (int k = 0; k < at->ndim; k++)
        fprintf(out, "%s%lld", k ? "x" : "", (long long)at->normalized_shape[k]);
    fprintf(out, " eps=%.9g elementwise_affine=%d bias=%d", at->eps, at->elementwise_affine,
            at->bias);
}

/* normalized_shape=, eps=, elementwise_affine= (affine=: the IR text's older
 * spelling), bias= */
int lnorm_parse(IrLx *x, Node *n, const char *key)
{
    LayerNormAttrs *at = &n->layernorm;
    int64_t v = 0;
    if (!strcmp(key, "normalized_shape")) {
        at->ndim = ir_lx_list(x, 'x', at->normalized_shape, NNC_MAX_DIMS);
        return at->ndim < 0 ? (at->ndim = 0, -1) : 1;
    }
    if (!strcmp(key, "eps"))
        return ir_lx_num(x, &at->eps) ? -1 : 1;
    if (!strcmp(key, "elementwise_affine") || !strcmp(key, "affine") || !strcmp(key, "bias")) {
        if (ir_lx_int(x, &v))
            return -1;
        *(strcmp(key, "bias") ? &at->elementwise_affine : &at->bias) = v != 0;
        return 1;
    }
    return 0;
}

int lnorm_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    const LayerNormAttrs *at = &n->layernorm;
    (void)g;
    if (at->ndim < 1 || (at->bias && !at->elementwise_affine)) {
        snprintf(why, len, "normalized_shape of rank %d, elementwise_affine=%d bias=%d", at->ndim,
                 at->elementwise_affine, at->bias);
        return 1;
    }
    return 0;
}
