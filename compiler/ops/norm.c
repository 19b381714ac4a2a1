/* norm.c — batchnorm1d ([C] or [C, L] samples) and batchnorm2d ([C, H, W]):
 * running statistics in inference; batch statistics and the running update
 * (momentum, unbiased variance, num_batches_tracked) in training. */
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { A_NF, A_EPS, A_MOM };
static const ArgSpec spec[] = {
    {"num_features", AT_INT, 1},
    {"eps", AT_REAL, 0},
    {"momentum", AT_REAL, 0},
    {NULL, 0, 0},
};

const ArgSpec *norm_args(Op op) { (void)op; return spec; }

int norm_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    BatchNormAttrs *at = &n->batchnorm;
    at->num_features = arg_int(cx, A_NF, 0);
    at->eps = arg_real(cx, A_EPS, 1e-5);
    at->momentum = arg_real(cx, A_MOM, 0.1);
    if (at->num_features <= 0) {
        diag_error(cx->d, cx->layer_span, "%s: num_features must be positive", op_info[n->op].name);
        return -1;
    }
    if (at->eps <= 0) {
        diag_error(cx->d, arg_span(cx, A_EPS), "%s: eps must be positive", op_info[n->op].name);
        return -1;
    }
    int64_t c = at->num_features, none[1] = {0};
    op_param(cx, "weight", 1, &c, NNR_T_PARAM, INIT_ONES, 0);
    op_param(cx, "bias", 1, &c, NNR_T_PARAM, INIT_ZEROS, 0);
    op_param(cx, "running_mean", 1, &c, NNR_T_BUFFER, INIT_ZEROS, 0);
    op_param(cx, "running_var", 1, &c, NNR_T_BUFFER, INIT_ONES, 0);
    op_param(cx, "num_batches_tracked", 0, none, NNR_T_COUNTER, INIT_ZEROS, 0);
    return 0;
}

int norm_shape(Graph *g, Node *n, Diag *d)
{
    const BatchNormAttrs *at = &n->batchnorm;
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    int ok = n->op == OP_BATCHNORM2D ? in->ndim == 3 : (in->ndim == 1 || in->ndim == 2);
    if (!ok) {
        diag_error(d, n->span, "%s expects a %s input, but its input has shape %s", op_info[n->op].name,
                   n->op == OP_BATCHNORM2D ? "[channels, height, width]" : "[features] or [channels, length]",
                   shape_str(in, buf, sizeof buf));
        return -1;
    }
    if (in->d[0] != at->num_features) {
        diag_error(d, n->span, "%s(%lld) expects %lld features, but its input has shape %s (%lld features)",
                   op_info[n->op].name, (long long)at->num_features, (long long)at->num_features,
                   shape_str(in, buf, sizeof buf), (long long)in->d[0]);
        return -1;
    }
    n->shape = *in;
    return 0;
}

static long long spatial(const Node *n) { return (long long)(shape_numel(&n->shape) / n->batchnorm.num_features); }

void norm_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_batchnorm_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_INT, n->batchnorm.num_features, 0);
    kcall_arg(&c, KA_INT, spatial(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    for (int k = 0; k < 4; k++)
        kcall_arg(&c, KA_PARAM, n->param[k], 0);
    kcall_arg(&c, KA_F32, 0, n->batchnorm.eps);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void norm_emit_train(EmitCtx *e, const Node *n)
{
    const BatchNormAttrs *at = &n->batchnorm;
    KCall c;
    int i = (int)(n - e->g->nodes);
    /* a relu after it that only it feeds (fuse-act in training): in the same pass */
    if (n->fused_act >= 0 && n->fused_act != OP_RELU)
        NNC_ICE("%%%d: a batchnorm runs a relu after it, not %s", i, op_info[n->fused_act].name);
    kcall_init(&c, n->fused_act == OP_RELU ? "nnr_batchnorm_train_relu_f32" : "nnr_batchnorm_train_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_INT, at->num_features, 0);
    kcall_arg(&c, KA_INT, spatial(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    for (int k = 0; k < 4; k++)
        kcall_arg(&c, KA_PARAM, n->param[k], 0);
    kcall_arg(&c, KA_F32, 0, at->eps);
    kcall_arg(&c, KA_F32, 0, at->momentum);
    kcall_saved(&c, KA_SAVED, i, 0);
    kcall_saved(&c, KA_SAVED, i, at->num_features);
    kcall_arg(&c, KA_VAL, i, 0);
    c.wrap = 8;
    op_emit_call(e, n, &c);
    kcall_builtin(&c, KB_INC);
    kcall_arg(&c, KA_PARAM, n->param[4], 0);
    kcall_arg(&c, KA_F32, 0, 1.0);
    c.comment = "num_batches_tracked";
    op_emit_call(e, n, &c);
}

void norm_grad(EmitCtx *e, const Node *n)
{
    KCall c;
    int i = (int)(n - e->g->nodes);
    kcall_init(&c, "nnr_batchnorm_backward_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_INT, n->batchnorm.num_features, 0);
    kcall_arg(&c, KA_INT, spatial(n), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_saved(&c, KA_SAVED, i, 0);
    kcall_saved(&c, KA_SAVED, i, n->batchnorm.num_features);
    kcall_arg(&c, KA_DVAL, i, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    kcall_arg(&c, KA_GPARAM, n->param[0], 0);
    kcall_arg(&c, KA_GPARAM, n->param[1], 0);
    op_emit_call(e, n, &c);
}

int64_t norm_flops(const Graph *g, const Node *n)
{
    (void)g;
    return 2 * shape_numel(&n->shape);
}

void norm_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)per_sample;
    *fixed = 2 * n->batchnorm.num_features;   /* the batch mean and 1/std per channel */
}

int norm_nparams(const Node *n)
{
    /* weight, bias, running_mean, running_var, num_batches_tracked */
    (void)n;
    return 5;
}

void norm_print(FILE *out, const Node *n)
{
    const BatchNormAttrs *at = &n->batchnorm;
    fprintf(out, " num_features=%lld eps=%.9g momentum=%.9g", (long long)at->num_features,
            at->eps, at->momentum);
}

/* num_features= (features=: the IR text's older spelling), eps=, momentum= */
int norm_parse(IrLx *x, Node *n, const char *key)
{
    BatchNormAttrs *at = &n->batchnorm;
    if (!strcmp(key, "num_features") || !strcmp(key, "features"))
        return ir_lx_int(x, &at->num_features) ? -1 : 1;
    if (!strcmp(key, "eps"))
        return ir_lx_num(x, &at->eps) ? -1 : 1;
    if (!strcmp(key, "momentum"))
        return ir_lx_num(x, &at->momentum) ? -1 : 1;
    return 0;
}

/* weight, bias, running_mean, running_var [features] and num_batches_tracked */
int norm_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    for (int k = 0; k < 4 && k < n->nparam; k++)
        if (g->params[n->param[k]].numel != n->batchnorm.num_features) {
            snprintf(why, len, "%s has %lld values, not num_features=%lld", g->params[n->param[k]].name,
                     (long long)g->params[n->param[k]].numel, (long long)n->batchnorm.num_features);
            return 1;
        }
    return 0;
}
