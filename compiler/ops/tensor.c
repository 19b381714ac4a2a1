/* tensor.c — data movement of `forward`: cat(tensors, dim) (variadic),
 * slice(x, dim, start, end) (torch.narrow; split and chunk lower to it),
 * transpose(x, dim0, dim1) and permute(x, dims). Every dim counts the
 * batch as 0, as PyTorch does, and the batch itself cannot be moved or
 * cut. Kernels: nnr_place_f32 / nnr_narrow_f32 / nnr_permute_f32
 * (runtime/kernels/tensor.c); each one's backward is the other, or the
 * inverse permutation.
 *
 * Attributes: cat dim; slice dim, start, end; transpose dim0, dim1 (ATTR
 * rows, normalised to positive by the shape rule); permute keeps its dims
 * after the batch's in permute.dims[0..rank-1] (normalised likewise) and their
 * count in permute.ndims (printed dims=0,2,1 with the batch). */
#include <string.h>

#include "ops.h"

static const ArgSpec cat_spec[] = {{"tensors", AT_VALUES, 1}, {"dim", AT_INT, 0}, {NULL, 0, 0}};
static const ArgSpec slice_spec[] = {{"input", AT_VALUE, 1}, {"dim", AT_INT, 1}, {"start", AT_INT, 1},
                                     {"end", AT_INT, 1}, {NULL, 0, 0}};
static const ArgSpec transpose_spec[] = {{"input", AT_VALUE, 1}, {"dim0", AT_INT, 1}, {"dim1", AT_INT, 1},
                                         {NULL, 0, 0}};
static const ArgSpec permute_spec[] = {{"input", AT_VALUE, 1}, {"dims", AT_LIST, 1}, {NULL, 0, 0}};

const ArgSpec *tensor_args(Op op)
{
    switch (op) {
    case OP_CAT: return cat_spec;
    case OP_SLICE: return slice_spec;
    case OP_TRANSPOSE: return transpose_spec;
    default: return permute_spec;
    }
}

int op_axis(Diag *d, Span sp, const char *what, int64_t dim, int rank)
{
    int64_t r = rank + 1, v = dim < 0 ? dim + r : dim;
    if (v == 0) {
        diag_error(d, sp, "%s: dim %lld is the batch dimension (an operation on the batch dimension is not allowed)",
                   what, (long long)dim);
        return -1;
    }
    if (v < 0 || v >= r) {
        diag_error(d, sp, "%s: dim %lld is out of range for a value of %lld dimensions (batch included)", what,
                   (long long)dim, (long long)r);
        return -1;
    }
    return (int)v - 1;
}

int tensor_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    switch (n->op) {
    case OP_CAT:
        n->attr[0] = (double)arg_int(cx, 1, 0);
        if (!arg_given(cx, 1)) {
            diag_error(cx->d, cx->layer_span, "cat: dim must be given (the batch, dim 0, cannot be concatenated)");
            return -1;
        }
        return 0;
    case OP_SLICE:
    case OP_TRANSPOSE:
        for (int k = 0; k < op_nattr(n->op); k++)
            n->attr[k] = (double)arg_int(cx, 1 + k, 0);
        return 0;
    default: {
        int64_t v[NNC_MAX_DIMS + 2];
        int c = arg_ints(cx, 1, v, NNC_MAX_DIMS + 1, "permute: dims");
        if (c < 0)
            return -1;
        if (c < 2 || (v[0] != 0 && v[0] != -c)) {
            diag_error(cx->d, arg_span(cx, 1), "permute: the batch (dim 0) must stay first");
            return -1;
        }
        /* as written (PyTorch numbering); tensor_shape checks them against the rank */
        n->permute.ndims = c - 1;
        for (int j = 1; j < c; j++)
            n->permute.dims[j - 1] = (double)v[j];
        return 0;
    }
    }
}

/* [outer, rows, inner] around axis of shape s */
static void around(const Shape *s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int j = 0; j < axis; j++)
        *outer *= s->d[j];
    for (int j = axis + 1; j < s->ndim; j++)
        *inner *= s->d[j];
}

static int cat_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    int axis = op_axis(d, n->span, "cat", (int64_t)n->attr[0], a->ndim);
    if (axis < 0)
        return -1;
    Shape s = *a;
    for (int k = 1; k < n->nin; k++) {
        const Shape *b = ir_value_shape(g, n->in[k]);
        int ok = b->ndim == a->ndim;
        for (int j = 0; ok && j < a->ndim; j++)
            ok = j == axis || b->d[j] == a->d[j];
        if (!ok) {
            char b1[64], b2[64];
            diag_error(d, n->span, "cat: shapes [N, %s and [N, %s differ outside dim %d", shape_str(a, b1, sizeof b1) + 1,
                       shape_str(b, b2, sizeof b2) + 1, axis + 1);
            return -1;
        }
        s.d[axis] += b->d[axis];
    }
    n->attr[0] = axis + 1;
    n->shape = s;
    return 0;
}

static int slice_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    int axis = op_axis(d, n->span, "slice", (int64_t)n->attr[0], a->ndim);
    if (axis < 0)
        return -1;
    int64_t size = a->d[axis], st = (int64_t)n->attr[1], en = (int64_t)n->attr[2];
    st = st < 0 ? st + size : st;
    en = en < 0 ? en + size : en;
    if (st < 0 || en > size || st >= en) {
        diag_error(d, n->span, "slice: [%lld, %lld) is not a non-empty range of dim %d of size %lld",
                   (long long)n->attr[1], (long long)n->attr[2], axis + 1, (long long)size);
        return -1;
    }
    n->attr[0] = axis + 1;
    n->attr[1] = (double)st;
    n->attr[2] = (double)en;
    n->shape = *a;
    n->shape.d[axis] = en - st;
    return 0;
}

/* The per-sample permutation of a transpose or permute node into p. */
static void perm_of(const Graph *g, const Node *n, int p[NNC_MAX_DIMS])
{
    const Shape *a = ir_value_shape(g, n->in[0]);
    for (int j = 0; j < a->ndim; j++)
        p[j] = n->op == OP_PERMUTE ? (int)n->permute.dims[j] - 1 : j;
    if (n->op == OP_TRANSPOSE) {
        int x = (int)n->attr[0] - 1, y = (int)n->attr[1] - 1;
        p[x] = y;
        p[y] = x;
    }
}

int tensor_shape(Graph *g, Node *n, Diag *d)
{
    if (n->op == OP_CAT)
        return cat_shape(g, n, d);
    if (n->op == OP_SLICE)
        return slice_shape(g, n, d);
    const Shape *a = ir_value_shape(g, n->in[0]);
    if (n->op == OP_TRANSPOSE) {
        for (int k = 0; k < 2; k++) {
            int axis = op_axis(d, n->span, "transpose", (int64_t)n->attr[k], a->ndim);
            if (axis < 0)
                return -1;
            n->attr[k] = axis + 1;
        }
    } else {
        if (n->permute.ndims != a->ndim) {
            diag_error(d, n->span, "permute: dims has %d entries, the value has %d dimensions (batch included)",
                       n->permute.ndims + 1, a->ndim + 1);
            return -1;
        }
        int seen = 0;
        for (int j = 0; j < a->ndim; j++) {
            int axis = op_axis(d, n->span, "permute", (int64_t)n->permute.dims[j], a->ndim);
            if (axis < 0)
                return -1;
            if (seen & (1 << axis)) {
                diag_error(d, n->span, "permute: dim %d appears twice", axis + 1);
                return -1;
            }
            seen |= 1 << axis;
            n->permute.dims[j] = axis + 1;
        }
    }
    int p[NNC_MAX_DIMS];
    perm_of(g, n, p);
    Shape s;
    memset(&s, 0, sizeof s);
    s.ndim = a->ndim;
    for (int j = 0; j < a->ndim; j++)
        s.d[j] = a->d[p[j]];
    n->shape = s;
    return 0;
}

static const char *const perm_fields[] = {"d0", "d1", "d2", "d3", "p0", "p1", "p2", "p3"};

/* nnr_permute_shape of x [shape a] permuted by p (rank r), padded to 4. */
static void perm_struct(const Shape *a, const int *p, int64_t f[8])
{
    int pad = 4 - a->ndim;
    for (int j = 0; j < 4; j++) {
        f[j] = j < pad ? 1 : a->d[j - pad];
        f[4 + j] = j < pad ? j : pad + p[j - pad];
    }
}

void tensor_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    int64_t outer, inner;
    if (n->op == OP_CAT) {
        int axis = (int)n->attr[0] - 1;
        around(&n->shape, axis, &outer, &inner);
        int64_t start = 0;
        for (int k = 0; k < n->nin; k++) {
            int64_t rows = ir_value_shape(e->g, n->in[k])->d[axis];
            kcall_init(&c, "nnr_place_f32");
            kcall_arg(&c, KA_NSIZE, outer, 0);
            kcall_arg(&c, KA_INT, n->shape.d[axis], 0);
            kcall_arg(&c, KA_INT, start, 0);
            kcall_arg(&c, KA_INT, rows, 0);
            kcall_arg(&c, KA_SIZE, inner, 0);
            kcall_arg(&c, KA_VAL, n->in[k], 0);
            kcall_arg(&c, KA_VAL, self, 0);
            op_emit_call(e, n, &c);
            start += rows;
        }
        return;
    }
    if (n->op == OP_SLICE) {
        const Shape *a = ir_value_shape(e->g, n->in[0]);
        int axis = (int)n->attr[0] - 1;
        around(a, axis, &outer, &inner);
        kcall_init(&c, "nnr_narrow_f32");
        kcall_arg(&c, KA_NSIZE, outer, 0);
        kcall_arg(&c, KA_INT, a->d[axis], 0);
        kcall_arg(&c, KA_INT, (int64_t)n->attr[1], 0);
        kcall_arg(&c, KA_INT, n->shape.d[axis], 0);
        kcall_arg(&c, KA_SIZE, inner, 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
        op_emit_call(e, n, &c);
        return;
    }
    int p[NNC_MAX_DIMS];
    int64_t f[8];
    perm_of(e->g, n, p);
    perm_struct(ir_value_shape(e->g, n->in[0]), p, f);
    kcall_init(&c, "nnr_permute_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    kcall_shape(&c, "nnr_permute_shape", perm_fields, f, 8);
    op_emit_call(e, n, &c);
}

void tensor_emit_train(EmitCtx *e, const Node *n) { tensor_emit(e, n); }

void tensor_grad(EmitCtx *e, const Node *n)
{
    int self = (int)(n - e->g->nodes);
    int64_t outer, inner;
    KCall c;
    if (n->op == OP_CAT) {
        int axis = (int)n->attr[0] - 1;
        around(&n->shape, axis, &outer, &inner);
        int64_t start = 0;
        for (int k = 0; k < n->nin; k++) {
            int64_t rows = ir_value_shape(e->g, n->in[k])->d[axis];
            if (op_din(e, n, k)) {
                kcall_init(&c, "nnr_narrow_f32");
                kcall_arg(&c, KA_NSIZE, outer, 0);
                kcall_arg(&c, KA_INT, n->shape.d[axis], 0);
                kcall_arg(&c, KA_INT, start, 0);
                kcall_arg(&c, KA_INT, rows, 0);
                kcall_arg(&c, KA_SIZE, inner, 0);
                kcall_arg(&c, KA_DVAL, self, 0);
                kcall_arg(&c, KA_DIN, k, 0);
                op_emit_call(e, n, &c);
            }
            start += rows;
        }
        return;
    }
    if (!op_din(e, n, 0))
        return;
    const Shape *a = ir_value_shape(e->g, n->in[0]);
    if (n->op == OP_SLICE) {
        int axis = (int)n->attr[0] - 1;
        around(a, axis, &outer, &inner);
        kcall_builtin(&c, KB_ZERO);
        kcall_arg(&c, KA_DIN, 0, 0);
        kcall_arg(&c, KA_NSIZE, shape_numel(a), 0);
        op_emit_call(e, n, &c);
        kcall_init(&c, "nnr_place_f32");
        kcall_arg(&c, KA_NSIZE, outer, 0);
        kcall_arg(&c, KA_INT, a->d[axis], 0);
        kcall_arg(&c, KA_INT, (int64_t)n->attr[1], 0);
        kcall_arg(&c, KA_INT, n->shape.d[axis], 0);
        kcall_arg(&c, KA_SIZE, inner, 0);
        kcall_arg(&c, KA_DVAL, self, 0);
        kcall_arg(&c, KA_DIN, 0, 0);
        op_emit_call(e, n, &c);
        return;
    }
    /* the inverse permutation, applied to the output's shape */
    int p[NNC_MAX_DIMS], inv[NNC_MAX_DIMS];
    int64_t f[8];
    perm_of(e->g, n, p);
    for (int j = 0; j < a->ndim; j++)
        inv[p[j]] = j;
    perm_struct(&n->shape, inv, f);
    kcall_init(&c, "nnr_permute_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_permute_shape", perm_fields, f, 8);
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_DIN, 0, 0);
    op_emit_call(e, n, &c);
}

int64_t tensor_flops(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

void tensor_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

/* permute: dims=0,... with the batch first; the rest are permute.dims[0..ndims) */
void tensor_print(FILE *out, const Node *n)
{
    if (n->op != OP_PERMUTE)
        return;
    fprintf(out, " dims=0");
    for (int k = 0; k < n->permute.ndims && k < NNC_MAX_NODE_ATTRS; k++)
        fprintf(out, ",%.9g", n->permute.dims[k]);
}

int tensor_parse(IrLx *x, Node *n, const char *key)
{
    int64_t v[NNC_MAX_DIMS + 1];
    if (n->op != OP_PERMUTE || strcmp(key, "dims"))
        return 0;
    int c = ir_lx_list(x, ',', v, NNC_MAX_DIMS + 1);
    if (c < 2 || v[0] != 0 || c - 1 > NNC_MAX_NODE_ATTRS)
        return -1;
    for (int k = 1; k < c; k++)
        n->permute.dims[k - 1] = (double)v[k];
    n->permute.ndims = c - 1;
    return 1;
}
