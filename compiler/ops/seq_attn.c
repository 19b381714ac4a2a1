/* seq_attn.c — the `attn` family: scaled_dot_product_attention (a
 * function of three values, F.scaled_dot_product_attention without mask or
 * dropout) and multihead_attention (nn.MultiheadAttention, batch first,
 * called as mha(q, k, v, is_causal)). Attributes (ATTR rows): sdpa
 * is_causal; mha embed_dim, num_heads, bias, is_causal. Both read three
 * inputs (query, key, value: the same value may be given three times); the
 * training forward keeps what the backward recomputes the softmax from. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { S_Q, S_K, S_V, S_CAUSAL };
static const ArgSpec sdpa_spec[] = {
    {"query", AT_VALUE, 1},
    {"key", AT_VALUE, 1},
    {"value", AT_VALUE, 1},
    {"is_causal", AT_BOOL, 0},
    {NULL, 0, 0},
};
enum { M_Q, M_K, M_V, M_E, M_HEADS, M_DROPOUT, M_BIAS, M_BATCH_FIRST, M_CAUSAL };
static const ArgSpec mha_spec[] = {
    {"query", AT_VALUE, 1},
    {"key", AT_VALUE, 1},
    {"value", AT_VALUE, 1},
    {"embed_dim", AT_INT, 1},
    {"num_heads", AT_INT, 1},
    {"dropout", AT_REAL, 0},
    {"bias", AT_BOOL, 0},
    {"batch_first", AT_BOOL, 0},
    {"is_causal", AT_BOOL, 0},
    {NULL, 0, 0},
};
const ArgSpec *attn_args(Op op) { return op == OP_MHA ? mha_spec : sdpa_spec; }

int attn_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_SDPA) {
        n->attr[0] = arg_bool(cx, S_CAUSAL, 0);
        return 0;
    }
    int64_t e = arg_int(cx, M_E, 0), h = arg_int(cx, M_HEADS, 0);
    if (arg_given(cx, M_BATCH_FIRST) && !arg_bool(cx, M_BATCH_FIRST, 1)) {
        diag_error(cx->d, arg_span(cx, M_BATCH_FIRST), "multihead_attention: batch_first = false is not supported: in nnc the batch is always dimension 0");
        return -1;
    }
    if (e <= 0 || h <= 0 || e % h) {
        diag_error(cx->d, cx->layer_span, "multihead_attention: embed_dim (%lld) must be a positive multiple of num_heads (%lld)",
                   (long long)e, (long long)h);
        return -1;
    }
    if (arg_real(cx, M_DROPOUT, 0.0) != 0.0) {
        diag_error(cx->d, arg_span(cx, M_DROPOUT), "multihead_attention: attention dropout is not supported (dropout = 0)");
        return -1;
    }
    int bias = arg_bool(cx, M_BIAS, 1);
    n->mha.embed_dim = (double)e, n->mha.num_heads = (double)h, n->mha.bias = bias;
    n->mha.is_causal = arg_bool(cx, M_CAUSAL, 0);
    /* PyTorch: xavier_uniform_ in_proj_weight, zero biases, out_proj as a Linear's weight */
    int64_t win[2] = {3 * e, e}, wout[2] = {e, e}, b3 = 3 * e;
    op_param(cx, "in_proj_weight", 2, win, NNR_T_PARAM, INIT_UNIFORM, (float)sqrt(6.0 / (double)(4 * e)));
    if (bias)
        op_param(cx, "in_proj_bias", 1, &b3, NNR_T_PARAM, INIT_ZEROS, 0);
    op_param(cx, "out_proj.weight", 2, wout, NNR_T_PARAM, INIT_UNIFORM, (float)(1.0 / sqrt((double)e)));
    if (bias)
        op_param(cx, "out_proj.bias", 1, &e, NNR_T_PARAM, INIT_ZEROS, 0);
    return 0;
}

int attn_shape(Graph *g, Node *n, Diag *d)
{
    char b1[64], b2[64], b3[64];
    const Shape *q = ir_value_shape(g, n->in[0]), *k = ir_value_shape(g, n->in[1]), *v = ir_value_shape(g, n->in[2]);
    const char *name = op_info[n->op].name;
    int ok = q->ndim >= 2 && k->ndim == q->ndim && v->ndim == q->ndim && q->d[q->ndim - 1] == k->d[k->ndim - 1] &&
             k->d[k->ndim - 2] == v->d[v->ndim - 2];
    for (int i = 0; ok && i < q->ndim - 2; i++)
        ok = q->d[i] == k->d[i] && q->d[i] == v->d[i];
    if (n->op == OP_MHA)
        ok = ok && q->ndim == 2 && q->d[1] == (int64_t)n->mha.embed_dim && v->d[1] == q->d[1];
    if (!ok) {
        diag_error(d, n->span, n->op == OP_MHA ? "%s(%g, ...) expects query [L, %g], key and value [S, %g], but got %s, %s and %s"
                                               : "%s expects query [..., L, E], key [..., S, E] and value [..., S, Ev] with the same leading dimensions%.0g%.0g%.0g, but got %s, %s and %s",
                   name, n->mha.embed_dim, n->mha.embed_dim, n->mha.embed_dim, shape_str(q, b1, sizeof b1), shape_str(k, b2, sizeof b2),
                   shape_str(v, b3, sizeof b3));
        return -1;
    }
    n->shape = *q;
    n->shape.d[q->ndim - 1] = v->d[v->ndim - 1];
    return 0;
}

/* sdpa's sizes: heads per sample (the leading dimensions), tq, tk, e, ev. */
static void sdpa_dims(const Graph *g, const Node *n, int64_t dm[5])
{
    const Shape *q = ir_value_shape(g, n->in[0]), *k = ir_value_shape(g, n->in[1]), *v = ir_value_shape(g, n->in[2]);
    dm[0] = 1;
    for (int i = 0; i < q->ndim - 2; i++) dm[0] *= q->d[i];
    dm[1] = q->d[q->ndim - 2], dm[2] = k->d[k->ndim - 2], dm[3] = q->d[q->ndim - 1], dm[4] = v->d[v->ndim - 1];
}

static nnr_mha_shape mha_of(const Graph *g, const Node *n)
{
    nnr_mha_shape s = {(int)ir_value_shape(g, n->in[0])->d[0], (int)ir_value_shape(g, n->in[1])->d[0],
                       (int)n->mha.embed_dim, (int)n->mha.num_heads, n->mha.bias != 0, n->mha.is_causal != 0};
    return s;
}

static const char *const mha_fields[] = {"tgt_len", "src_len", "embed_dim", "num_heads",
                                        "bias", "is_causal"};

static void emit_call(EmitCtx *e, const Node *n, int train)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    if (n->op == OP_SDPA) {
        int64_t dm[5];
        sdpa_dims(e->g, n, dm);
        kcall_init(&c, "nnr_sdpa_f32");
        kcall_arg(&c, KA_N, dm[0], 0);
        for (int i = 1; i < 5; i++) kcall_arg(&c, KA_INT, dm[i], 0);
        kcall_arg(&c, KA_INT, n->attr[0] != 0, 0);
        for (int i = 0; i < 3; i++) kcall_arg(&c, KA_VAL, n->in[i], 0);
        kcall_arg(&c, KA_VAL, self, 0);
        if (train)
            kcall_saved(&c, KA_SAVED, self, 0);     /* the log-sum-exps, for the backward */
        else
            kcall_arg(&c, KA_PARAM, -1, 0);     /* no log-sum-exps kept */
        op_emit_call(e, n, &c);
        return;
    }
    nnr_mha_shape s = mha_of(e->g, n);
    int64_t v[6] = {s.tgt_len, s.src_len, s.embed_dim, s.num_heads, s.bias, s.is_causal};
    kcall_init(&c, "nnr_mha_f32");
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_mha_shape", mha_fields, v, 6);
    kcall_arg(&c, KA_N, 1, 0);
    for (int i = 0; i < 3; i++) kcall_arg(&c, KA_VAL, n->in[i], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    if (train)
        kcall_saved(&c, KA_SAVED, self, 0);     /* what the backward reads */
    else
        kcall_arg(&c, KA_PARAM, -1, 0);         /* the kernel's own scratch */
    op_emit_call(e, n, &c);
}

void attn_emit(EmitCtx *e, const Node *n) { emit_call(e, n, 0); }

void attn_emit_train(EmitCtx *e, const Node *n) { emit_call(e, n, 1); }

void attn_grad(EmitCtx *e, const Node *n)
{
    int self = (int)(n - e->g->nodes);
    KCall c;
    if (n->op == OP_SDPA) {
        int64_t dm[5];
        sdpa_dims(e->g, n, dm);
        kcall_init(&c, "nnr_sdpa_backward_f32");
        kcall_arg(&c, KA_N, dm[0], 0);
        for (int i = 1; i < 5; i++)
            kcall_arg(&c, KA_INT, dm[i], 0);
        kcall_arg(&c, KA_INT, n->attr[0] != 0, 0);
        for (int i = 0; i < 3; i++)
            kcall_arg(&c, KA_VAL, n->in[i], 0);
        kcall_arg(&c, KA_VAL, self, 0);
        kcall_saved(&c, KA_SAVED, self, 0);
        kcall_arg(&c, KA_DVAL, self, 0);
        for (int i = 0; i < 3; i++)
            kcall_arg(&c, KA_DIN, i, 0);
        c.wrap = 12;
        op_emit_call(e, n, &c);
        return;
    }
    nnr_mha_shape s = mha_of(e->g, n);
    int64_t v[6] = {s.tgt_len, s.src_len, s.embed_dim, s.num_heads, s.bias, s.is_causal};
    kcall_init(&c, "nnr_mha_backward_f32");
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_mha_shape", mha_fields, v, 6);
    kcall_arg(&c, KA_N, 1, 0);
    for (int i = 0; i < 3; i++)
        kcall_arg(&c, KA_VAL, n->in[i], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_saved(&c, KA_SAVED, self, 0);
    kcall_arg(&c, KA_DVAL, self, 0);
    for (int i = 0; i < 3; i++)
        kcall_arg(&c, KA_DIN, i, 0);
    kcall_arg(&c, KA_GPARAM, n->param[0], 0);
    c.wrap = 8;
    op_emit_call(e, n, &c);
}

int64_t attn_flops(const Graph *g, const Node *n)
{
    if (n->op == OP_SDPA) {
        int64_t dm[5];
        sdpa_dims(g, n, dm);
        return 2 * dm[0] * dm[1] * dm[2] * (dm[3] + dm[4]);
    }
    nnr_mha_shape s = mha_of(g, n);
    int64_t e = s.embed_dim;
    return 2 * e * e * (2 * (int64_t)s.tgt_len + 2 * (int64_t)s.src_len) +
           4 * (int64_t)s.tgt_len * s.src_len * e;
}

void attn_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)fixed;
    if (n->op == OP_SDPA) {
        int64_t dm[5];
        sdpa_dims(g, n, dm);
        *per_sample = dm[0] * dm[1];    /* a log-sum-exp per query */
        return;
    }
    nnr_mha_shape s = mha_of(g, n);
    *per_sample = (int64_t)nnr_mha_saved(&s);
}

int attn_nparams(const Node *n)
{
    /* mha: in_proj_weight, out_proj.weight, and their biases when bias */
    return n->op != OP_MHA ? 0 : n->mha.bias != 0 ? 4 : 2;
}
