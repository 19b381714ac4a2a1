/* act.c — element-wise activations: relu, leaky_relu, sigmoid, tanh, gelu
 * (exact erf form). Each is also a possible fused epilogue (fuse-act). */
#include "ops.h"

static const ArgSpec none[] = {{NULL, 0, 0}};
static const ArgSpec leaky[] = {{"negative_slope", AT_REAL, 0}, {NULL, 0, 0}};

const ArgSpec *act_args(Op op) { return op == OP_LEAKY_RELU ? leaky : none; }

int act_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_LEAKY_RELU)
        n->negative_slope = arg_real(cx, 0, 0.01);
    return 0;
}

int act_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    n->shape = *ir_value_shape(g, n->in[0]);
    return 0;
}

static const char *len(const Node *n)
{
    return xasprintf("(size_t)n * %lld", (long long)shape_numel(&n->shape));
}

void act_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_act_f32");
    kcall_arg(&c, KA_ACT, n->op, 0);
    kcall_arg(&c, KA_F32, 0, n->negative_slope);
    kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void act_emit_train(EmitCtx *e, const Node *n) { act_emit(e, n); }

void act_grad(EmitCtx *e, const Node *n)
{
    char a[48];
    if (!DVAL(e, n->in[0]))
        return;
    fprintf(e->out, "    nnr_act_backward_f32(%s, %s, %s, %s, %s, %s, %s);\n", op_act_c(n->op),
            c_float(n->negative_slope, a, sizeof a), len(n), VAL(e, n->in[0]), VAL(e, n - e->g->nodes),
            DVAL(e, n - e->g->nodes), DVAL(e, n->in[0]));
}

int64_t act_flops(const Graph *g, const Node *n)
{
    (void)g;
    return shape_numel(&n->shape);
}

void act_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
