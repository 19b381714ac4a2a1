/* softmax.c — softmax and log_softmax over one dimension of a sample.
 * `dim` counts as PyTorch does with the batch as dimension 0; the IR keeps
 * the axis within a sample (0-based). */
#include <string.h>

#include "ops.h"

static const ArgSpec spec[] = {{"dim", AT_INT, 0}, {NULL, 0, 0}};

const ArgSpec *softmax_args(Op op) { (void)op; return spec; }

int softmax_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    /* dim as written (PyTorch numbering, batch = 0); softmax_shape
     * resolves it against the input rank into n->softmax.axis */
    int64_t dim = arg_int(cx, 0, -1);
    n->softmax.dim = dim < -64 ? -64 : dim > 64 ? 64 : (int)dim;
    return 0;
}

int softmax_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    int rank = in->ndim + 1; /* with the batch */
    int dim = n->softmax.dim;
    if (dim < 0)
        dim += rank;
    if (dim == 0) {
        diag_error(d, n->span, "%s: dim %d is the batch dimension; softmax over the batch is not allowed",
                   op_info[n->op].name, n->softmax.dim);
        return -1;
    }
    if (dim < 0 || dim >= rank) {
        diag_error(d, n->span, "%s: dim %d is out of range for an input of %d dimensions (batch included)",
                   op_info[n->op].name, n->softmax.dim, rank);
        return -1;
    }
    n->softmax.axis = dim - 1;
    n->softmax.dim = dim;   /* normalised: later re-checks see a valid positive dim */
    n->shape = *in;
    return 0;
}

static void split(const Node *n, long long *outer, long long *dimsz, long long *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < n->softmax.axis; i++)
        *outer *= n->shape.d[i];
    *dimsz = n->shape.d[n->softmax.axis];
    for (int i = n->softmax.axis + 1; i < n->shape.ndim; i++)
        *inner *= n->shape.d[i];
}

void softmax_emit(EmitCtx *e, const Node *n)
{
    long long o, k, i;
    split(n, &o, &k, &i);
    KCall c;
    kcall_init(&c, xasprintf("nnr_%s_f32", op_info[n->op].name));
    kcall_arg(&c, KA_NSIZE, o, 0);
    kcall_arg(&c, KA_INT, k, 0);
    kcall_arg(&c, KA_SIZE, i, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void softmax_emit_train(EmitCtx *e, const Node *n) { softmax_emit(e, n); }

void softmax_grad(EmitCtx *e, const Node *n)
{
    long long o, k, i;
    if (!DVAL(e, n->in[0]))
        return;
    split(n, &o, &k, &i);
    KCall c;
    kcall_init(&c, xasprintf("nnr_%s_backward_f32", op_info[n->op].name));
    kcall_arg(&c, KA_NSIZE, o, 0);
    kcall_arg(&c, KA_INT, k, 0);
    kcall_arg(&c, KA_SIZE, i, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_DVAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    op_emit_call(e, n, &c);
}

int64_t softmax_flops(const Graph *g, const Node *n)
{
    (void)g;
    return 3 * shape_numel(&n->shape);
}

void softmax_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

/* dim printed as resolved (the axis of one sample, + 1 for the batch) */
void softmax_print(FILE *out, const Node *n)
{
    fprintf(out, " dim=%d", n->softmax.axis + 1);
}

int softmax_parse(IrLx *x, Node *n, const char *key)
{
    int64_t v = 0;
    if (strcmp(key, "dim"))
        return 0;
    if (ir_lx_int(x, &v))
        return -1;
    n->softmax.dim = v < -64 ? -64 : v > 64 ? 64 : (int)v; /* resolved by softmax_shape */
    return 1;
}
