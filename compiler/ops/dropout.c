/* dropout.c — dropout: identity in inference; in training a mask drawn from
 * the seeded generator, scaled by 1/(1-p), kept for the backward pass. */
#include <string.h>

#include "ops.h"

static const ArgSpec spec[] = {{"p", AT_REAL, 0}, {NULL, 0, 0}};

const ArgSpec *dropout_args(Op op) { (void)op; return spec; }

int dropout_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    n->dropout.p = arg_real(cx, 0, 0.5);
    if (n->dropout.p < 0.0 || n->dropout.p > 1.0) {
        diag_error(cx->d, arg_span(cx, 0), "dropout probability has to be between 0 and 1, but got %g", n->dropout.p);
        return -1;
    }
    return 0;
}

int dropout_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    n->shape = *ir_value_shape(g, n->in[0]);
    return 0;
}

void dropout_emit(EmitCtx *e, const Node *n) { (void)e; (void)n; }

void dropout_emit_train(EmitCtx *e, const Node *n)
{
    KCall c;
    int i = (int)(n - e->g->nodes);
    kcall_init(&c, "nnr_dropout_f32");
    kcall_arg(&c, KA_RNG, 0, 0);
    kcall_arg(&c, KA_F32, 0, n->dropout.p);
    kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, i, 0);
    kcall_saved(&c, KA_SAVED, i, 0);
    op_emit_call(e, n, &c);
}

/* dx = dy * mask (the mask holds 0 or 1/(1-p)) */
void dropout_grad(EmitCtx *e, const Node *n)
{
    int i = (int)(n - e->g->nodes);
    if (!DVAL(e, n->in[0]))
        return;
    KCall c;
    kcall_builtin(&c, KB_MUL);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    kcall_arg(&c, KA_DVAL, i, 0);
    kcall_saved(&c, KA_SAVED, i, 0);
    kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
    op_emit_call(e, n, &c);
}

int64_t dropout_flops(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

void dropout_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)fixed;
    *per_sample = shape_numel(&n->shape);   /* the mask */
}

void dropout_print(FILE *out, const Node *n)
{
    fprintf(out, " p=%.9g", n->dropout.p);
}

int dropout_parse(IrLx *x, Node *n, const char *key)
{
    if (strcmp(key, "p"))
        return 0;
    return ir_lx_num(x, &n->dropout.p) ? -1 : 1;
}

int dropout_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    (void)g;
    if (!(n->dropout.p >= 0 && n->dropout.p <= 1)) {
        snprintf(why, len, "p=%.9g is not a probability", n->dropout.p);
        return 1;
    }
    return 0;
}
