/* act.c — element-wise activations (the OPF_ACT rows of ops.def), all
 * through the runtime's nnr_act kernels: nothing here names an op. An
 * activation's arguments are its ATTR rows of ops.def (PyTorch's names and
 * defaults), kept in Node.attr; one with at most one can also be a fused
 * epilogue (fuse-act). */
#include <string.h>

#include "ops.h"

/* [op][k]: the layer's argument schema, from op_attr; NULL-name terminated */
static ArgSpec schema[OP__COUNT][NNC_MAX_NODE_ATTRS + 1];

/* gelu's approximate = "none" | "tanh" (the second makes the node gelu_tanh) */
static const ArgSpec gelu_spec[] = {{"approximate", AT_STR, 0}, {NULL, 0, 0}};

const ArgSpec *act_args(Op op)
{
    if (op == OP_GELU)
        return gelu_spec;
    for (int k = 0; k < op_nattr(op); k++)
        schema[op][k] = (ArgSpec){op_attr[op][k].name, AT_REAL, 0};
    return schema[op];
}

int act_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_GELU && arg_given(cx, 0)) {
        const char *a = arg_str(cx, 0);
        if (!a || (strcmp(a, "none") && strcmp(a, "tanh"))) {
            diag_error(cx->d, arg_span(cx, 0), "gelu: approximate is \"none\" or \"tanh\"");
            return -1;
        }
        if (!strcmp(a, "tanh"))
            n->op = OP_GELU_TANH;
        return 0;
    }
    for (int k = 0; k < op_nattr(n->op); k++)
        n->attr[k] = arg_real(cx, k, op_attr[n->op][k].dflt);
    return 0;
}

int act_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    n->shape = *ir_value_shape(g, n->in[0]);   /* [same as the input] */
    return 0;
}

/* nnr_act_f32 (at most one attribute) or nnr_act2_f32 (two) */
void act_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    int two = op_nattr(n->op) > 1;
    kcall_init(&c, two ? "nnr_act2_f32" : "nnr_act_f32");
    kcall_arg(&c, KA_ACT, n->op, 0);
    kcall_arg(&c, KA_F32, 0, n->attr[0]);
    if (two)
        kcall_arg(&c, KA_F32, 0, n->attr[1]);
    kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void act_emit_train(EmitCtx *e, const Node *n) { act_emit(e, n); }

void act_grad(EmitCtx *e, const Node *n)
{
    if (!DVAL(e, n->in[0]))
        return;
    KCall c;
    int two = op_nattr(n->op) > 1, self = (int)(n - e->g->nodes);
    kcall_init(&c, two ? "nnr_act2_backward_f32" : "nnr_act_backward_f32");
    kcall_arg(&c, KA_ACT, n->op, 0);
    kcall_arg(&c, KA_F32, 0, n->attr[0]);
    if (two)
        kcall_arg(&c, KA_F32, 0, n->attr[1]);
    kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    op_emit_call(e, n, &c);
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
