/* reduce.c — mean(x, dim, keepdim = false), sum(x, dim, keepdim = false),
 * and amax, amin (torch.amax/amin, for imported models): dim an integer or
 * a list, counted with the batch as 0, which cannot be reduced. Kernel:
 * nnr_reduce_f32 (runtime/kernels/reduce.c).
 *
 * Node.reduce.dims holds the dims as a bit set: bit d for dim d >= 0 and, before
 * the shape rule resolves them against the rank, bit 8 + k for dim -1 - k;
 * reduce.keepdim is its ATTR row. A sample reduced to no dimension at
 * all is [1] (torch's [N] seen with the batch). */
#include <string.h>

#include "ops.h"

static const ArgSpec spec[] = {{"input", AT_VALUE, 1}, {"dim", AT_INT | AT_LIST, 0},
                               {"keepdim", AT_BOOL, 0}, {NULL, 0, 0}};

const ArgSpec *reduce_args(Op op) { (void)op; return spec; }

int reduce_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    const char *name = op_info[n->op].name;
    if (!arg_given(cx, 1)) {
        diag_error(cx->d, cx->layer_span, "%s: dim must be given (reducing over the batch, dim 0, is not allowed)", name);
        return -1;
    }
    int64_t v[NNC_MAX_DIMS + 2];
    int c = arg_ints(cx, 1, v, NNC_MAX_DIMS + 1, xasprintf("%s: dim", name));
    if (c < 0)
        return -1;
    n->reduce.dims = 0;
    for (int k = 0; k < c; k++) {
        if (v[k] < -(NNC_MAX_DIMS + 1) || v[k] > NNC_MAX_DIMS) {
            diag_error(cx->d, arg_span(cx, 1), "%s: dim %lld is out of range", name, (long long)v[k]);
            return -1;
        }
        int bit = v[k] >= 0 ? (int)v[k] : 8 + (int)(-1 - v[k]);
        if (n->reduce.dims & (1 << bit)) {
            diag_error(cx->d, arg_span(cx, 1), "%s: dim %lld appears twice in the list of dims", name, (long long)v[k]);
            return -1;
        }
        n->reduce.dims |= 1 << bit;
    }
    n->reduce.keepdim = arg_bool(cx, 2, 0);
    return 0;
}

int reduce_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    const char *name = op_info[n->op].name;
    int mask = 0;
    for (int bit = 0; bit < 16; bit++) {
        if (!(n->reduce.dims & (1 << bit)))
            continue;
        int64_t dim = bit < 8 ? bit : -1 - (bit - 8);
        int axis = op_axis(d, n->span, name, dim, a->ndim);
        if (axis < 0)
            return -1;
        if (mask & (1 << (axis + 1))) {
            diag_error(d, n->span, "%s: dim %d appears twice in the list of dims", name, axis + 1);
            return -1;
        }
        mask |= 1 << (axis + 1);
    }
    if (!mask) {
        diag_error(d, n->span, "%s: no dim to reduce over", name);
        return -1;
    }
    n->reduce.dims = mask;
    Shape s;
    memset(&s, 0, sizeof s);
    for (int j = 0; j < a->ndim; j++) {
        if (mask & (1 << (j + 1))) {
            if (n->reduce.keepdim != 0)
                s.d[s.ndim++] = 1;
        } else {
            s.d[s.ndim++] = a->d[j];
        }
    }
    if (!s.ndim)
        s.d[s.ndim++] = 1;
    n->shape = s;
    return 0;
}

static const char *const fields[] = {"d0", "d1", "d2", "d3", "mask"};

/* nnr_reduce_f32's kind (NNR_REDUCE_*) */
static int kind(Op op)
{
    return op == OP_MEAN ? 1 : op == OP_AMAX ? 2 : op == OP_AMIN ? 3 : 0;
}

/* nnr_reduce_shape: the input padded to four dimensions, the mask moved with it. */
static void rshape(const Graph *g, const Node *n, int64_t f[5])
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    int pad = 4 - a->ndim;
    f[4] = 0;
    for (int j = 0; j < 4; j++) {
        f[j] = j < pad ? 1 : a->d[j - pad];
        if (j >= pad && (n->reduce.dims & (1 << (j - pad + 1))))
            f[4] |= 1 << j;
    }
}

void reduce_emit(EmitCtx *e, const Node *n)
{
    int64_t f[5];
    rshape(e->g, n, f);
    KCall c;
    kcall_init(&c, "nnr_reduce_f32");
    kcall_arg(&c, KA_INT, kind(n->op), 0);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_shape(&c, "nnr_reduce_shape", fields, f, 5);
    op_emit_call(e, n, &c);
}

void reduce_emit_train(EmitCtx *e, const Node *n) { reduce_emit(e, n); }

void reduce_grad(EmitCtx *e, const Node *n)
{
    if (!op_din(e, n, 0))
        return;
    int64_t f[5];
    rshape(e->g, n, f);
    int self = (int)(n - e->g->nodes);
    int extreme = n->op == OP_AMAX || n->op == OP_AMIN;
    KCall c;
    if (extreme) {     /* the slope goes to the maxima (minima), shared by ties */
        kcall_init(&c, "nnr_reduce_extreme_backward_f32");
    } else {
        kcall_init(&c, "nnr_reduce_backward_f32");
        kcall_arg(&c, KA_INT, n->op == OP_MEAN, 0);
    }
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_reduce_shape", fields, f, 5);
    if (extreme) {
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
    }
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_DIN, 0, 0);
    op_emit_call(e, n, &c);
}

int64_t reduce_flops(const Graph *g, const Node *n)
{
    return shape_numel(ir_value_shape(g, n->in[0])) + (n->op == OP_MEAN ? shape_numel(&n->shape) : 0);
}

void reduce_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

/* dim: the set of PyTorch dims in Node.reduce.dims, bit d for d >= 0 and bit
 * 8 + k for -1 - k, printed as a list "1,2" / "-1" */
void reduce_print(FILE *out, const Node *n)
{
    fprintf(out, " dim=");
    for (int b = 0, first = 1; b < 16; b++)
        if (n->reduce.dims & (1 << b)) {
            fprintf(out, "%s%d", first ? "" : ",", b < 8 ? b : -1 - (b - 8));
            first = 0;
        }
}

int reduce_parse(IrLx *x, Node *n, const char *key)
{
    int64_t v[NNC_MAX_DIMS + 1];
    if (strcmp(key, "dim"))
        return 0;
    int c = ir_lx_list(x, ',', v, NNC_MAX_DIMS + 1);
    if (c < 0)
        return -1;
    n->reduce.dims = 0;
    for (int k = 0; k < c; k++) {
        if (v[k] < -(NNC_MAX_DIMS + 1) || v[k] > NNC_MAX_DIMS)
            return -1;
        n->reduce.dims |= 1 << (v[k] >= 0 ? (int)v[k] : 8 + (int)(-1 - v[k]));
    }
    return 1;
}
