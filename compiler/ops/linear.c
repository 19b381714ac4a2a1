/* linear.c — the linear layer: y = x·Wᵀ + b (PyTorch nn.Linear).
 * Applies to the last dimension of a sample, like PyTorch. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { A_IN, A_OUT, A_BIAS, A_WEIGHT };
static const ArgSpec spec[] = {
    {"in_features", AT_INT, 1},
    {"out_features", AT_INT, 1},
    {"bias", AT_BOOL | AT_LIST, 0},
    {"weight", AT_LIST, 0},
    {NULL, 0, 0},
};

const ArgSpec *linear_args(Op op) { (void)op; return spec; }

int linear_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    LinearAttrs *at = &n->linear;
    at->in_features = arg_int(cx, A_IN, 0);
    at->out_features = arg_int(cx, A_OUT, 0);
    if (at->in_features <= 0 || at->out_features <= 0) {
        diag_error(cx->d, cx->layer_span, "linear: in_features and out_features must be positive (got %lld and %lld)",
                   (long long)at->in_features, (long long)at->out_features);
        return -1;
    }
    /* bias: true (the default), false, or a literal list of values */
    at->bias = !arg_given(cx, A_BIAS) || arg_is_list(cx, A_BIAS) || arg_bool(cx, A_BIAS, 0);
    float bound = (float)(1.0 / sqrt((double)at->in_features));
    int64_t wshape[2] = {at->out_features, at->in_features};
    int w = op_param(cx, "weight", 2, wshape, NNR_T_PARAM, INIT_UNIFORM, bound);
    if (arg_given(cx, A_WEIGHT) && op_param_literal(cx, w, A_WEIGHT, "linear weight"))
        return -1;
    if (at->bias) {
        int b = op_param(cx, "bias", 1, &at->out_features, NNR_T_PARAM, INIT_UNIFORM, bound);
        if (arg_is_list(cx, A_BIAS) && op_param_literal(cx, b, A_BIAS, "linear bias"))
            return -1;
    }
    return 0;
}

int linear_shape(Graph *g, Node *n, Diag *d)
{
    const LinearAttrs *at = &n->linear;
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    if (in->d[in->ndim - 1] != at->in_features) {
        diag_error(d, n->span, "linear(%lld, %lld) expects %lld input features, but its input has shape %s (%lld features)",
                   (long long)at->in_features, (long long)at->out_features, (long long)at->in_features,
                   shape_str(in, buf, sizeof buf), (long long)in->d[in->ndim - 1]);
        return -1;
    }
    n->shape = *in;
    n->shape.d[in->ndim - 1] = at->out_features;
    return 0;
}

void linear_emit(EmitCtx *e, const Node *n)
{
    const LinearAttrs *at = &n->linear;
    KCall c;
    kcall_init(&c, n->packed == 3   ? "nnr_linear_packed_bf16"
                   : n->packed == 2 ? "nnr_linear_packed_f32" : "nnr_linear_f32");
    kcall_arg(&c, KA_N, shape_numel(ir_value_shape(e->g, n->in[0])) / at->in_features, 0);
    kcall_arg(&c, KA_INT, at->in_features, 0);
    kcall_arg(&c, KA_INT, at->out_features, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_PARAM, at->bias ? n->param[1] : -1, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_ACT, n->fused_act, 0);
    kcall_arg(&c, KA_F32, 0, n->fused_param);
    op_emit_call(e, n, &c);
}

void linear_emit_train(EmitCtx *e, const Node *n) { linear_emit(e, n); }

void linear_grad(EmitCtx *e, const Node *n)
{
    const LinearAttrs *at = &n->linear;
    KCall c;
    kcall_init(&c, "nnr_linear_backward_f32");
    kcall_arg(&c, KA_N, shape_numel(ir_value_shape(e->g, n->in[0])) / at->in_features, 0);
    kcall_arg(&c, KA_INT, at->in_features, 0);
    kcall_arg(&c, KA_INT, at->out_features, 0);
    kcall_weight_grad_args(&c, e, n);
    op_emit_call(e, n, &c);
}

int64_t linear_flops(const Graph *g, const Node *n)
{
    const LinearAttrs *at = &n->linear;
    int64_t r = shape_numel(ir_value_shape(g, n->in[0])) / at->in_features;
    return 2 * r * at->in_features * at->out_features;
}

void linear_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

int linear_nparams(const Node *n)
{
    /* weight [out, in] (or packed), bias [out] */
    return 1 + n->linear.bias;
}

void linear_print(FILE *out, const Node *n)
{
    const LinearAttrs *at = &n->linear;
    fprintf(out, " in_features=%lld out_features=%lld bias=%d", (long long)at->in_features,
            (long long)at->out_features, at->bias);
}

/* in_features=, out_features= (in=, out=: the IR text's older spellings), bias= */
int linear_parse(IrLx *x, Node *n, const char *key)
{
    LinearAttrs *at = &n->linear;
    int64_t v = 0;
    if (!strcmp(key, "in_features") || !strcmp(key, "in"))
        return ir_lx_int(x, &at->in_features) ? -1 : 1;
    if (!strcmp(key, "out_features") || !strcmp(key, "out"))
        return ir_lx_int(x, &at->out_features) ? -1 : 1;
    if (!strcmp(key, "bias")) {
        if (ir_lx_int(x, &v))
            return -1;
        at->bias = v != 0;
        return 1;
    }
    return 0;
}

int linear_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    const LinearAttrs *at = &n->linear;
    int64_t want = at->in_features * at->out_features;
    if (n->nparam >= 1 && (n->packed == 2 || n->packed == 3)) {
        /* packed=panel / packed=bf16: param[0] is that pack of a [out, in] weight */
        const Param *pw = &g->params[n->param[0]];
        const Fold *pf = pw->fold ? &g->folds[pw->fold - 1] : NULL;
        FoldKind kind = n->packed == 2 ? FOLD_PACK : FOLD_PACK_BF16;
        if (!pf || pf->kind != kind || pf->rows != at->out_features || pf->cols != at->in_features) {
            snprintf(why, len, "packed=%s, but its weight %s is not that pack of a [%lld, %lld] weight",
                     n->packed == 2 ? "panel" : "bf16", pw->name, (long long)at->out_features, (long long)at->in_features);
            return 1;
        }
        want = n->packed == 2 ? (int64_t)nnr_linear_packed_size((int)at->in_features, (int)at->out_features)
                              : (int64_t)nnr_linear_packed_bf16_size((int)at->in_features, (int)at->out_features);
    }
    return op_verify_weight(g, n, want, why, len);
}
