/* seq_rnn.c — the `rnn` family: lstm and gru (nn.LSTM / nn.GRU, batch
 * first) and rnn_result, which reads one of their results.
 *
 * An lstm/gru node's value packs its results per sample (nnr_rnn_packed
 * floats): out [T, dirs·hidden], then h_n [layers·dirs, hidden], then for
 * the LSTM c_n; its shape is that as rows of hidden values. It is read
 * only by rnn_result nodes (index 0: out, 1: h_n, 2: c_n), which copy
 * their part out (and their gradient back in). seq_rnn_result() adds one;
 * a sequence model passes on `out`. Attributes (ATTR rows): input_size,
 * hidden_size, num_layers, bias, dropout, bidirectional; rnn_result index.
 * Parameters: PyTorch's, in state_dict order (weight_ih_l0, weight_hh_l0,
 * bias_ih_l0, bias_hh_l0, then _reverse, then l1, ...), all
 * U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch initialises them. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "nnr_prog.h"

enum { R_IN, R_HID, R_LAYERS, R_BIAS, R_BATCH_FIRST, R_DROPOUT, R_BIDIR };
static const ArgSpec rnn_spec[] = {
    {"input_size", AT_INT, 1},
    {"hidden_size", AT_INT, 1},
    {"num_layers", AT_INT, 0},
    {"bias", AT_BOOL, 0},
    {"batch_first", AT_BOOL, 0},
    {"dropout", AT_REAL, 0},
    {"bidirectional", AT_BOOL, 0},
    {NULL, 0, 0},
};
static const ArgSpec result_spec[] = {{"index", AT_INT, 1}, {NULL, 0, 0}};
const ArgSpec *rnn_args(Op op) { return op == OP_RNN_RESULT ? result_spec : rnn_spec; }

static nnr_rnn_shape rnn_shape_of(const Graph *g, const Node *n)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    nnr_rnn_shape s = {(int)in->d[0], (int)n->rnn.input_size, (int)n->rnn.hidden_size, (int)n->rnn.num_layers,
                       n->rnn.bidirectional != 0 ? 2 : 1, n->rnn.bias != 0, n->op == OP_LSTM ? 4 : 3};
    return s;
}

static int build_rnn(BuildCtx *cx, Node *n)
{
    const char *op = op_info[n->op].name;
    int64_t in = arg_int(cx, R_IN, 0), hid = arg_int(cx, R_HID, 0), layers = arg_int(cx, R_LAYERS, 1);
    int bias = arg_bool(cx, R_BIAS, 1), bidir = arg_bool(cx, R_BIDIR, 0);
    double dropout = arg_real(cx, R_DROPOUT, 0.0);
    if (arg_given(cx, R_BATCH_FIRST) && !arg_bool(cx, R_BATCH_FIRST, 1)) {
        diag_error(cx->d, arg_span(cx, R_BATCH_FIRST), "%s: batch_first = false is not supported: in nnc the batch is always dimension 0", op);
        return -1;
    }
    if (in <= 0 || hid <= 0) {
        diag_error(cx->d, cx->layer_span, "%s: input_size and hidden_size must be positive (got %lld and %lld)", op,
                   (long long)in, (long long)hid);
        return -1;
    }
    int dirs = bidir ? 2 : 1;
    if (layers < 1 || layers * dirs * (bias ? 4 : 2) > NNC_MAX_NODE_PARAMS) {
        diag_error(cx->d, arg_span(cx, R_LAYERS), "%s: num_layers must be between 1 and %d%s, got %lld", op,
                   NNC_MAX_NODE_PARAMS / (dirs * (bias ? 4 : 2)), bidir ? " (bidirectional)" : "", (long long)layers);
        return -1;
    }
    if (dropout < 0.0 || dropout > 1.0) {
        diag_error(cx->d, arg_span(cx, R_DROPOUT), "%s: dropout has to be between 0 and 1, but got %g", op, dropout);
        return -1;
    }
    n->rnn.input_size = (double)in, n->rnn.hidden_size = (double)hid, n->rnn.num_layers = (double)layers;
    n->rnn.bias = bias, n->rnn.dropout = dropout, n->rnn.bidirectional = bidir;
    int64_t gh = (n->op == OP_LSTM ? 4 : 3) * hid;
    float bound = (float)(1.0 / sqrt((double)hid));
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < dirs; d++) {
            const char *sfx = xasprintf("l%d%s", l, d ? "_reverse" : "");
            int64_t wih[2] = {gh, l ? hid * dirs : in}, whh[2] = {gh, hid};
            op_param(cx, xasprintf("weight_ih_%s", sfx), 2, wih, NNR_T_PARAM, INIT_UNIFORM, bound);
            op_param(cx, xasprintf("weight_hh_%s", sfx), 2, whh, NNR_T_PARAM, INIT_UNIFORM, bound);
            if (bias) {
                op_param(cx, xasprintf("bias_ih_%s", sfx), 1, &gh, NNR_T_PARAM, INIT_UNIFORM, bound);
                op_param(cx, xasprintf("bias_hh_%s", sfx), 1, &gh, NNR_T_PARAM, INIT_UNIFORM, bound);
            }
        }
    return 0;
}

int rnn_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op != OP_RNN_RESULT)
        return build_rnn(cx, n);
    int64_t k = arg_int(cx, 0, 0);
    if (k < 0 || k > 2) {
        diag_error(cx->d, arg_span(cx, 0), "rnn_result: index is 0 (out), 1 (h_n) or 2 (c_n), got %lld", (long long)k);
        return -1;
    }
    n->attr[0] = (double)k;
    return 0;
}

/* The part rnn_result k reads: its offset and length per sample, and shape. */
static void result_part(const Graph *g, const Node *r, const Node *src, size_t *off, size_t *len, Shape *sh)
{
    nnr_rnn_shape s = rnn_shape_of(g, src);
    int64_t dh = (int64_t)s.num_directions * s.hidden_size, k = (int64_t)r->attr[0];
    *off = k == 0 ? 0 : (size_t)(s.seq_len * dh + (k - 1) * s.num_layers * dh);
    *sh = k == 0 ? (Shape){2, {s.seq_len, dh}}
                 : (Shape){2, {(int64_t)s.num_layers * s.num_directions, s.hidden_size}};
    *len = (size_t)shape_numel(sh);
}

int rnn_shape(Graph *g, Node *n, Diag *d)
{
    char buf[64];
    const Shape *in = ir_value_shape(g, n->in[0]);
    if (n->op == OP_RNN_RESULT) {
        const Node *src = n->in[0] >= 0 ? &g->nodes[n->in[0]] : NULL;
        if (!src || (src->op != OP_LSTM && src->op != OP_GRU) || (src->op == OP_GRU && n->attr[0] > 1)) {
            diag_error(d, n->span, "rnn_result reads the results of an lstm (0..2) or a gru (0..1)");
            return -1;
        }
        size_t off, len;
        result_part(g, n, src, &off, &len, &n->shape);
        return 0;
    }
    if (in->ndim != 2 || in->d[1] != (int64_t)n->rnn.input_size) {
        diag_error(d, n->span, "%s(%g, %g) expects a [sequence, %g] input, but its input has shape %s",
                   op_info[n->op].name, n->rnn.input_size, n->rnn.hidden_size, n->rnn.input_size,
                   shape_str(in, buf, sizeof buf));
        return -1;
    }
    nnr_rnn_shape s = rnn_shape_of(g, n);
    n->shape = (Shape){2, {(int64_t)(nnr_rnn_packed(&s) / (size_t)s.hidden_size), s.hidden_size}};
    return 0;
}

static const char *const rnn_fields[] = {"seq_len", "input_size", "hidden_size",
                                        "num_layers", "num_directions", "bias", "gates"};

void rnn_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    if (n->op == OP_RNN_RESULT) {
        size_t off, len;
        Shape sh;
        result_part(e->g, n, &e->g->nodes[n->in[0]], &off, &len, &sh);
        kcall_init(&c, "nnr_rnn_result_f32");
        kcall_arg(&c, KA_N, 1, 0);
        kcall_arg(&c, KA_SIZE, shape_numel(ir_value_shape(e->g, n->in[0])), 0);
        kcall_arg(&c, KA_SIZE, (int64_t)off, 0);
        kcall_arg(&c, KA_SIZE, (int64_t)len, 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
    } else {
        nnr_rnn_shape s = rnn_shape_of(e->g, n);
        int64_t v[7] = {s.seq_len, s.input_size, s.hidden_size, s.num_layers, s.num_directions,
                        s.bias, s.gates};
        kcall_init(&c, "nnr_rnn_f32");
        kcall_arg(&c, KA_SHAPE, 0, 0);
        kcall_shape(&c, "nnr_rnn_shape", rnn_fields, v, 7);
        kcall_arg(&c, KA_N, 1, 0);
        kcall_arg(&c, KA_VAL, n->in[0], 0);
        kcall_arg(&c, KA_PARAM, n->param[0], 0);
        kcall_arg(&c, KA_VAL, self, 0);
    }
    op_emit_call(e, n, &c);
}

/* The kernels' nnr_rnn_shape of node n, set on call c (as its first argument). */
static void rnn_kshape(const Graph *g, const Node *n, KCall *c)
{
    nnr_rnn_shape s = rnn_shape_of(g, n);
    int64_t v[7] = {s.seq_len, s.input_size, s.hidden_size, s.num_layers, s.num_directions,
                    s.bias, s.gates};
    kcall_arg(c, KA_SHAPE, 0, 0);
    kcall_shape(c, "nnr_rnn_shape", rnn_fields, v, 7);
}

void rnn_emit_train(EmitCtx *e, const Node *n)
{
    if (n->op == OP_RNN_RESULT) {
        rnn_emit(e, n);
        return;
    }
    KCall c;
    int self = (int)(n - e->g->nodes);
    kcall_init(&c, "nnr_rnn_train_f32");
    rnn_kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    kcall_saved(&c, KA_SAVED, self, 0);
    kcall_arg(&c, KA_RNG, 0, 0);
    kcall_arg(&c, KA_F32, 0, n->rnn.dropout);
    op_emit_call(e, n, &c);
}

void rnn_grad(EmitCtx *e, const Node *n)
{
    KCall c;
    int self = (int)(n - e->g->nodes);
    if (n->op == OP_RNN_RESULT) {
        if (!DVAL(e, n->in[0]))
            return;
        size_t off, len;
        Shape sh;
        result_part(e->g, n, &e->g->nodes[n->in[0]], &off, &len, &sh);
        kcall_init(&c, "nnr_rnn_result_backward_f32");
        kcall_arg(&c, KA_N, 1, 0);
        kcall_arg(&c, KA_SIZE, shape_numel(ir_value_shape(e->g, n->in[0])), 0);
        kcall_arg(&c, KA_SIZE, (int64_t)off, 0);
        kcall_arg(&c, KA_SIZE, (int64_t)len, 0);
        kcall_arg(&c, KA_DVAL, self, 0);
        kcall_arg(&c, KA_DVAL, n->in[0], 0);
        op_emit_call(e, n, &c);
        return;
    }
    kcall_init(&c, "nnr_rnn_backward_f32");
    rnn_kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_VAL, self, 0);
    kcall_saved(&c, KA_SAVED, self, 0);
    kcall_arg(&c, KA_DVAL, self, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    kcall_arg(&c, KA_GPARAM, n->param[0], 0);
    op_emit_call(e, n, &c);
}

int64_t rnn_flops(const Graph *g, const Node *n)
{
    if (n->op == OP_RNN_RESULT)
        return 0;
    nnr_rnn_shape s = rnn_shape_of(g, n);
    int64_t gh = (int64_t)s.gates * s.hidden_size, f = 0;
    for (int l = 0; l < s.num_layers; l++) {
        int64_t in = l ? (int64_t)s.hidden_size * s.num_directions : s.input_size;
        f += (int64_t)s.num_directions * s.seq_len * (2 * gh * (in + s.hidden_size) + 4 * gh);
    }
    return f;
}

void rnn_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)fixed;
    if (n->op == OP_RNN_RESULT)
        return;
    nnr_rnn_shape s = rnn_shape_of(g, n);
    *per_sample = (int64_t)nnr_rnn_saved(&s);
}

int seq_rnn_result(Graph *g, int node, int index, Diag *d)
{
    int r = ir_add_node(g, OP_RNN_RESULT);
    ir_read(g, r, node);
    Node *n = &g->nodes[r];
    const Node *src = &g->nodes[node];
    n->span = src->span;
    n->layer = src->layer;
    n->label = src->label;
    n->attr[0] = index;
    return rnn_shape(g, n, d) ? -1 : r;
}

int rnn_nparams(const Node *n)
{
    /* per layer and direction: weight_ih, weight_hh, and bias_ih, bias_hh when bias */
    if (n->op == OP_RNN_RESULT)
        return 0;
    return (int)n->rnn.num_layers * (n->rnn.bidirectional != 0 ? 2 : 1) * (n->rnn.bias != 0 ? 4 : 2);
}
