/* binary.c — the operators of `forward`: add, sub, mul, div between two
 * values with PyTorch's broadcasting over the per-sample dimensions (the
 * batch is never broadcast: both operands carry it), and add_scalar,
 * rsub_scalar, mul_scalar, div_scalar, rdiv_scalar with a number
 * (attribute `other`). Kernels: nnr_binary_f32 / nnr_scalar_f32
 * (runtime/kernels/binary.c), whose broadcast shape the compiler collapses
 * here so that the same-shape and channel-broadcast cases run as rows. */
#include <string.h>

#include "ops.h"
#include "nnr.h"

static const ArgSpec two[] = {{"input", AT_VALUE, 1}, {"other", AT_VALUE, 1}, {NULL, 0, 0}};
static const ArgSpec one[] = {{"input", AT_VALUE, 1}, {"other", AT_REAL, 1}, {NULL, 0, 0}};

static int is_scalar(Op op) { return op_info[op].nin == 1; }

const ArgSpec *binary_args(Op op) { return is_scalar(op) ? one : two; }

int binary_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (is_scalar(n->op))
        n->attr[0] = arg_real(cx, 1, 0.0);
    return 0;
}

/* The runtime's nnr_binop of op. */
static int binop(Op op)
{
    switch (op) {
    case OP_ADD: case OP_ADD_SCALAR: return NNR_BIN_ADD;
    case OP_SUB: return NNR_BIN_SUB;
    case OP_MUL: case OP_MUL_SCALAR: return NNR_BIN_MUL;
    case OP_DIV: case OP_DIV_SCALAR: return NNR_BIN_DIV;
    case OP_RSUB_SCALAR: return NNR_BIN_RSUB;
    default: return NNR_BIN_RDIV;
    }
}

static const char *binop_c(Op op)
{
    static const char *names[] = {"NNR_BIN_ADD", "NNR_BIN_SUB", "NNR_BIN_MUL", "NNR_BIN_DIV",
                                  "NNR_BIN_RSUB", "NNR_BIN_RDIV"};
    return names[binop(op)];
}

int binary_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    if (is_scalar(n->op)) {
        n->shape = *a;
        return 0;
    }
    const Shape *b = ir_value_shape(g, n->in[1]);
    char b1[64], b2[64];
    if (a->ndim != b->ndim) {
        diag_error(d, n->span, "%s: shapes [N, %s and [N, %s do not broadcast: their per-sample ranks "
                   "differ (%d and %d), so the batch would broadcast against a feature dimension",
                   op_info[n->op].name, shape_str(a, b1, sizeof b1) + 1, shape_str(b, b2, sizeof b2) + 1,
                   a->ndim, b->ndim);
        return -1;
    }
    Shape s;
    memset(&s, 0, sizeof s);
    s.ndim = a->ndim;
    for (int j = 0; j < a->ndim; j++) {
        if (a->d[j] != b->d[j] && a->d[j] != 1 && b->d[j] != 1) {
            diag_error(d, n->span, "%s: shapes [N, %s and [N, %s do not broadcast (dimension %d: %lld and %lld)",
                       op_info[n->op].name, shape_str(a, b1, sizeof b1) + 1, shape_str(b, b2, sizeof b2) + 1,
                       j + 1, (long long)a->d[j], (long long)b->d[j]);
            return -1;
        }
        s.d[j] = a->d[j] == 1 ? b->d[j] : a->d[j];
    }
    n->shape = s;
    return 0;
}

/* The broadcast collapsed: runs of dimensions with the same pattern (which
 * operand spans them) merged, dimensions of size 1 dropped, leading 1s. */
static void bcast(const Graph *g, const Node *n, int64_t f[12])
{
    const Shape *a = ir_value_shape(g, n->in[0]), *b = ir_value_shape(g, n->in[1]);
    int64_t sz[NNC_MAX_DIMS];
    int pa[NNC_MAX_DIMS], pb[NNC_MAX_DIMS], k = 0;
    for (int j = 0; j < n->shape.ndim; j++) {
        int64_t o = n->shape.d[j];
        if (o == 1)
            continue;
        int ia = a->d[j] == o, ib = b->d[j] == o;
        if (k && pa[k - 1] == ia && pb[k - 1] == ib) {
            sz[k - 1] *= o;
        } else {
            sz[k] = o;
            pa[k] = ia;
            pb[k] = ib;
            k++;
        }
    }
    if (!k) {
        sz[0] = 1;
        pa[0] = pb[0] = 1;
        k = 1;
    }
    for (int j = 0; j < 12; j++)
        f[j] = j < 4 ? 1 : 0;
    int64_t sa = 1, sb = 1;
    for (int j = k - 1, t = 3; j >= 0; j--, t--) {
        f[t] = sz[j];
        if (pa[j]) {
            f[4 + t] = sa;
            sa *= sz[j];
        }
        if (pb[j]) {
            f[8 + t] = sb;
            sb *= sz[j];
        }
    }
}

static const char *const bcast_fields[] = {"d0", "d1", "d2", "d3", "a0", "a1", "a2", "a3",
                                           "b0", "b1", "b2", "b3"};

void binary_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    if (is_scalar(n->op)) {
        kcall_init(&c, "nnr_scalar_f32");
        kcall_arg(&c, KA_INT, binop(n->op), 0);
        kcall_arg(&c, KA_F32, 0, n->attr[0]);
        kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
        op_emit_call(e, n, &c);
        return;
    }
    int64_t f[12];
    bcast(e->g, n, f);
    kcall_init(&c, "nnr_binary_f32");
    kcall_arg(&c, KA_INT, binop(n->op), 0);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n->in[1], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    kcall_shape(&c, "nnr_bcast_shape", bcast_fields, f, 12);
    c.wrap = 3;
    op_emit_call(e, n, &c);
}

void binary_emit_train(EmitCtx *e, const Node *n) { binary_emit(e, n); }

void binary_grad(EmitCtx *e, const Node *n)
{
    int self = (int)(n - e->g->nodes);
    const char *d0 = op_din(e, n, 0), *d1 = is_scalar(n->op) ? NULL : op_din(e, n, 1);
    if (!d0 && !d1)
        return;
    KCall c;
    if (is_scalar(n->op)) {
        kcall_init(&c, "nnr_scalar_backward_f32");
        kcall_enum(&c, binop(n->op), binop_c(n->op));
        kcall_arg(&c, KA_F32, 0, n->attr[0]);
        kcall_arg(&c, KA_NSIZE, shape_numel(&n->shape), 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
        kcall_arg(&c, KA_DVAL, self, 0);
        kcall_arg(&c, KA_DIN, 0, 0);
        op_emit_call(e, n, &c);
        return;
    }
    int64_t f[12];
    bcast(e->g, n, f);
    kcall_init(&c, "nnr_binary_backward_f32");
    kcall_enum(&c, binop(n->op), binop_c(n->op));
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_bcast_shape", bcast_fields, f, 12);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n->in[1], 0);
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_DIN, 0, 0);
    kcall_arg(&c, KA_DIN, 1, 0);
    c.wrap = 3;
    op_emit_call(e, n, &c);
}

int64_t binary_flops(const Graph *g, const Node *n)
{
    (void)g;
    return shape_numel(&n->shape);
}

void binary_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
