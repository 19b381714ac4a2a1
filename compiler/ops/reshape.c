/* reshape.c — flatten and identity: views of their input, no computation
 * (the emitter gives them their input's buffer; see op_is_alias). */
#include "ops.h"

static const ArgSpec none[] = {{NULL, 0, 0}};

const ArgSpec *reshape_args(Op op) { (void)op; return none; }
int reshape_build(BuildCtx *cx) { (void)cx; return 0; }

int reshape_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Shape *in = ir_value_shape(g, n->in[0]);
    if (n->op == OP_FLATTEN) {   /* nn.Flatten(): keeps the batch, flattens the rest */
        n->shape.ndim = 1;
        n->shape.d[0] = shape_numel(in);
    } else {
        n->shape = *in;
    }
    return 0;
}

void reshape_emit(EmitCtx *e, const Node *n) { (void)e; (void)n; }
void reshape_emit_train(EmitCtx *e, const Node *n) { (void)e; (void)n; }
void reshape_grad(EmitCtx *e, const Node *n) { (void)e; (void)n; }
int64_t reshape_flops(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

void reshape_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
