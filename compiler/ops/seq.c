/* seq.c — the `seq` family: embedding (nn.Embedding: a lookup of integer
 * indices carried as floats) and arange (the positions 0..end-1, the same
 * for every sample). Attributes are the ATTR rows of ops.def:
 * embedding num_embeddings, embedding_dim, padding_idx (-1: none, resolved
 * to 0..num-1 when given); arange end. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { E_NUM, E_DIM, E_PAD };     /* embedding's schema slots */
static const ArgSpec emb_spec[] = {
    {"num_embeddings", AT_INT, 1},
    {"embedding_dim", AT_INT, 1},
    {"padding_idx", AT_INT, 0},
    {NULL, 0, 0},
};
static const ArgSpec arange_spec[] = {{"end", AT_INT, 1}, {NULL, 0, 0}};

const ArgSpec *seq_args(Op op) { return op == OP_ARANGE ? arange_spec : emb_spec; }

static int build_embedding(BuildCtx *cx, Node *n)
{
    int64_t num = arg_int(cx, E_NUM, 0), dim = arg_int(cx, E_DIM, 0);
    if (num <= 0 || dim <= 0) {
        diag_error(cx->d, cx->layer_span, "embedding: num_embeddings and embedding_dim must be positive (got %lld and %lld)",
                   (long long)num, (long long)dim);
        return -1;
    }
    int64_t pad = -1;
    if (arg_given(cx, E_PAD)) {
        pad = arg_int(cx, E_PAD, 0);
        if (pad < -num || pad >= num) {
            diag_error(cx->d, arg_span(cx, E_PAD), "embedding: padding_idx must be within num_embeddings (-%lld..%lld), got %lld",
                       (long long)num, (long long)num - 1, (long long)pad);
            return -1;
        }
        if (pad < 0)
            pad += num;
    }
    n->embedding.num_embeddings = (double)num;
    n->embedding.embedding_dim = (double)dim;
    n->embedding.padding_idx = (double)pad;
    int64_t ws[2] = {num, dim};
    int w = op_param(cx, "weight", 2, ws, NNR_T_PARAM, INIT_NORMAL, 1.0f);
    cx->g->params[w].pad_row = pad + 1;
    return 0;
}

int seq_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_EMBEDDING)
        return build_embedding(cx, n);
    int64_t end = arg_int(cx, 0, 0);
    if (end <= 0) {
        diag_error(cx->d, arg_span(cx, 0), "arange: end must be positive, got %lld", (long long)end);
        return -1;
    }
    n->attr[0] = (double)end;
    return 0;
}

int seq_shape(Graph *g, Node *n, Diag *d)
{
    char buf[64];
    if (n->op == OP_ARANGE) {
        n->shape = (Shape){1, {(int64_t)n->attr[0]}};
        return 0;
    }
    const Shape *in = ir_value_shape(g, n->in[0]);
    if (in->ndim >= NNC_MAX_DIMS) {
        diag_error(d, n->span, "embedding: its input has shape %s; an embedding adds a dimension and at most %d are allowed",
                   shape_str(in, buf, sizeof buf), NNC_MAX_DIMS);
        return -1;
    }
    /* positions known at compile time must be rows of the table */
    const EmbeddingAttrs *a = &n->embedding;
    if (n->in[0] >= 0 && g->nodes[n->in[0]].op == OP_ARANGE && g->nodes[n->in[0]].attr[0] > a->num_embeddings) {
        diag_error(d, n->span, "embedding(%g, %g) has %g rows, but its input arange(%g) reaches index %g",
                   a->num_embeddings, a->embedding_dim, a->num_embeddings, g->nodes[n->in[0]].attr[0],
                   g->nodes[n->in[0]].attr[0] - 1);
        return -1;
    }
    if (n->in[0] < 0) {
        /* an int input read as indices: the program checks them against the table */
        int k = ir_input_index(n->in[0]);
        int64_t num = (int64_t)n->embedding.num_embeddings;
        if (g->input_int[k] && (g->input_int_below[k] <= 0 || g->input_int_below[k] > num))
            g->input_int_below[k] = num;
    }
    n->shape = *in;
    n->shape.d[n->shape.ndim++] = (int64_t)n->embedding.embedding_dim;
    return 0;
}

void seq_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    if (n->op == OP_ARANGE) {
        kcall_init(&c, "nnr_arange_f32");
        kcall_arg(&c, KA_N, 1, 0);
        kcall_arg(&c, KA_INT, (int64_t)n->attr[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
    } else {
        kcall_init(&c, "nnr_embedding_f32");
        kcall_arg(&c, KA_NSIZE, shape_numel(ir_value_shape(e->g, n->in[0])), 0);
        kcall_arg(&c, KA_INT, (int64_t)n->embedding.num_embeddings, 0);
        kcall_arg(&c, KA_INT, (int64_t)n->embedding.embedding_dim, 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_PARAM, n->param[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
    }
    op_emit_call(e, n, &c);
}

void seq_emit_train(EmitCtx *e, const Node *n) { seq_emit(e, n); }

void seq_grad(EmitCtx *e, const Node *n)
{
    int self = (int)(n - e->g->nodes);
    if (n->op == OP_ARANGE)
        return;     /* reads nothing */
    int64_t rows = shape_numel(ir_value_shape(e->g, n->in[0]));
    KCall c;
    kcall_init(&c, "nnr_embedding_backward_f32");
    kcall_arg(&c, KA_NSIZE, rows, 0);
    kcall_arg(&c, KA_INT, (int64_t)n->embedding.num_embeddings, 0);
    kcall_arg(&c, KA_INT, (int64_t)n->embedding.embedding_dim, 0);
    kcall_arg(&c, KA_INT, (int64_t)n->embedding.padding_idx, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_GPARAM, n->param[0], 0);
    op_emit_call(e, n, &c);
    /* indices have no gradient */
    if (DVAL(e, n->in[0])) {
        kcall_builtin(&c, KB_ZERO);
        kcall_arg(&c, KA_DVAL, n->in[0], 0);
        kcall_arg(&c, KA_NSIZE, rows, 0);
        op_emit_call(e, n, &c);
    }
}

int64_t seq_flops(const Graph *g, const Node *n)
{
    (void)g, (void)n;
    return 0;   /* copies */
}

void seq_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

int seq_nparams(const Node *n)
{
    /* embedding: weight [num, dim]; arange: none */
    return n->op == OP_EMBEDDING;
}
