/* ir.c — graph construction, shapes, parameter layout, the text form and
 * the default initialisation of the state block. */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

const OpInfo op_info[OP__COUNT] = {
#define OP(id, name, fam, nin, flags) {name, nin, flags},
#include "ops.def"
#undef OP
};

const OpAttr op_attr[OP__COUNT][NNC_MAX_NODE_ATTRS] = {
#define OP(id, name, fam, nin, flags)
#define ATTR(id, k, name, dflt) [OP_##id][k] = {name, dflt},
#include "ops.def"
#undef ATTR
#undef OP
};

/* Ops whose attributes IR text prints only when they differ from the default
 * (flatten's dims, the pools' ceil_mode). */
static int ir_attr_quiet(Op op)
{
    return op == OP_FLATTEN || op == OP_MAXPOOL2D || op == OP_AVGPOOL2D || op == OP_MAXPOOL1D ||
           op == OP_AVGPOOL1D;
}

/* attr[k] and a family's ATTR rows are the same storage; the weight
 * layers' first members are WeightAttrs' */
_Static_assert(offsetof(Node, pool.ceil_mode) == offsetof(Node, attr[0]), "pool: ceil_mode is attr[0]");
_Static_assert(offsetof(Node, reduce.keepdim) == offsetof(Node, attr[0]), "reduce: keepdim is attr[0]");
_Static_assert(offsetof(Node, permute.dims) == offsetof(Node, attr[0]), "permute: dims are attr[]");
_Static_assert(offsetof(Node, embedding.padding_idx) == offsetof(Node, attr[2]), "embedding: its ATTR rows");
_Static_assert(offsetof(Node, rnn.bidirectional) == offsetof(Node, attr[5]), "lstm, gru: their ATTR rows");
_Static_assert(offsetof(Node, mha.is_causal) == offsetof(Node, attr[3]), "multihead_attention: its ATTR rows");
_Static_assert(offsetof(LinearAttrs, bias) == offsetof(WeightAttrs, bias) &&
               offsetof(ConvAttrs, bias) == offsetof(WeightAttrs, bias) &&
               offsetof(ConvAttrs, out_channels) == offsetof(WeightAttrs, out), "weight layers");

int op_nattr(int op)
{
    int k = 0;
    while (op >= 0 && op < OP__COUNT && k < NNC_MAX_NODE_ATTRS && op_attr[op][k].name)
        k++;
    return k;
}

int op_lookup_ir(const char *name)
{
    for (int i = 0; i < OP__COUNT; i++)
        if (strcmp(op_info[i].name, name) == 0)
            return i;
    return -1;
}

int op_lookup(const char *name)
{
    int op = op_lookup_ir(name);
    return op >= 0 && (op_info[op].flags & OPF_TRAIN) ? -1 : op;
}

int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->d[i];
    return n;
}

const char *shape_str(const Shape *s, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < s->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%" PRId64, i ? ", " : "", s->d[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

Graph *ir_new_graph(const char *name, const char *file)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->name = name;
    g->file = file;
    return g;
}

/* Room for cap nodes. A new array, not realloc: a large one is asked for
 * in huge pages before the nodes are copied into it (a model of 10^6
 * layers has 10^6 nodes). */
void ir_reserve_nodes(Graph *g, int cap)
{
    if (cap <= g->capnodes)
        return;
    size_t bytes = (size_t)cap * sizeof *g->nodes;
    Node *nodes = xmalloc(bytes);
    xhuge(nodes, bytes);
    if (g->nnodes)
        memcpy(nodes, g->nodes, (size_t)g->nnodes * sizeof *nodes);
    free(g->nodes);
    g->nodes = nodes;
    g->capnodes = cap;
}

/* PyTorch's defaults of op's attributes (IR text leaves them out). */
static void node_defaults(Node *n)
{
    for (int k = 0; k < op_nattr(n->op); k++)
        n->attr[k] = op_attr[n->op][k].dflt;
    switch (n->op) {
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_CONV_TRANSPOSE2D:
        for (int k = 0; k < 2; k++)
            n->conv.kernel_size[k] = n->conv.stride[k] = n->conv.dilation[k] = 1;
        n->conv.groups = 1;
        break;
    case OP_MAXPOOL2D:
    case OP_AVGPOOL2D:
    case OP_MAXPOOL1D:
    case OP_AVGPOOL1D:
        for (int k = 0; k < 2; k++)
            n->pool.kernel_size[k] = n->pool.stride[k] = 1;
        break;
    case OP_DROPOUT: n->dropout.p = 0.5; break;
    case OP_BATCHNORM1D:
    case OP_BATCHNORM2D:
        n->batchnorm.eps = 1e-5;
        n->batchnorm.momentum = 0.1;
        break;
    case OP_LAYERNORM: n->layernorm.eps = 1e-5; break;
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX: n->softmax.dim = -1; break;
    default: break;
    }
}

int ir_add_node(Graph *g, Op op)
{
    if (g->nnodes == g->capnodes)
        ir_reserve_nodes(g, g->capnodes ? 2 * g->capnodes : 16);
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->fused_act = -1;
    n->layer = -1;
    node_defaults(n);
    return g->nnodes++;
}

void ir_param_reserve(Graph *g, int i, int count)
{
    Node *n = &g->nodes[i];
    if (count <= n->capparam)
        return;
    if (count > NNC_MAX_NODE_PARAMS)
        NNC_ICE("node %%%d: more than %d parameters", i, NNC_MAX_NODE_PARAMS);
    int cap = n->capparam ? 2 * n->capparam : 4;
    while (cap < count)
        cap *= 2;
    int *p = xnew((size_t)cap * sizeof *p);
    for (int k = 0; k < cap; k++)
        p[k] = k < n->nparam ? n->param[k] : -1;
    n->param = p;   /* the old slots stay in the graph's arena, unused */
    n->capparam = cap;
}

void ir_param_push(Graph *g, int i, int p)
{
    ir_param_reserve(g, i, g->nodes[i].nparam + 1);
    Node *n = &g->nodes[i];
    n->param[n->nparam++] = p;
}

void ir_copy_node(Graph *g, int dst, const Node *src)
{
    Node *n = &g->nodes[dst];
    *n = *src;
    n->param = NULL;
    n->nparam = n->capparam = 0;
    ir_param_reserve(g, dst, src->nparam);
    if (src->nparam)
        memcpy(g->nodes[dst].param, src->param, (size_t)src->nparam * sizeof *src->param);
    g->nodes[dst].nparam = src->nparam;
}

int ir_add_param(Graph *g, const Param *p)
{
    if (g->nparams == g->capparams) {
        g->capparams = g->capparams ? 2 * g->capparams : 16;
        g->params = xrealloc(g->params, (size_t)g->capparams * sizeof *g->params);
    }
    g->params[g->nparams] = *p;
    return g->nparams++;
}

int ir_add_tie(Graph *g, const Tie *t)
{
    if (g->nties == g->capties) {
        g->capties = g->capties ? 2 * g->capties : 4;
        g->ties = xrealloc(g->ties, (size_t)g->capties * sizeof *g->ties);
    }
    g->ties[g->nties] = *t;
    return g->nties++;
}

const Tie *ir_tie_of(const Graph *g, int p, int layer)
{
    for (int i = 0; i < g->nties; i++)
        if (g->ties[i].param == p && g->ties[i].layer == layer && layer >= 0)
            return &g->ties[i];
    return NULL;
}

const char *ir_param_name(const Graph *g, const Node *n, int k)
{
    const Tie *t = ir_tie_of(g, n->param[k], n->layer);
    return t ? t->name : g->params[n->param[k]].name;
}

int ir_param_frozen(const Graph *g, int p, const int *freeze, int nfreeze)
{
    for (int f = 0; f < nfreeze; f++) {
        if (freeze[f] == g->params[p].layer)
            return 1;
        for (int t = 0; t < g->nties; t++)
            if (g->ties[t].param == p && g->ties[t].layer == freeze[f])
                return 1;
    }
    return 0;
}

int ir_add_input(Graph *g, const Shape *s)
{
    if (g->ninputs == NNC_MAX_GRAPH_IO)
        NNC_ICE("more than %d graph inputs", NNC_MAX_GRAPH_IO);
    g->inputs[g->ninputs] = *s;
    return IR_INPUT(g->ninputs++);
}

void ir_add_output(Graph *g, int v)
{
    if (g->noutputs == NNC_MAX_GRAPH_IO)
        NNC_ICE("more than %d graph outputs", NNC_MAX_GRAPH_IO);
    g->outputs[g->noutputs++] = v;
}

int ir_output(const Graph *g)
{
    return g->noutputs ? g->outputs[0] : IR_INPUT(0);
}

int ir_is_output(const Graph *g, int v)
{
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == v)
            return 1;
    return 0;
}

const Shape *ir_value_shape(const Graph *g, int v)
{
    return v < 0 ? &g->inputs[ir_input_index(v)] : &g->nodes[v].shape;
}

void ir_layout_params(Graph *g)
{
    int64_t off = 0;
    for (int i = 0; i < g->nparams; i++) {
        if (g->params[i].fold) {
            g->params[i].offset = -1;
            continue;
        }
        g->params[i].offset = off;
        off += g->params[i].numel;
    }
    g->state_size = off;
}

int ir_count_op(const Graph *g, Op op)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        c += !g->nodes[i].dead && g->nodes[i].op == op;
    return c;
}

void ir_print_value(FILE *out, int v)
{
    if (v == IR_INPUT(0))
        fprintf(out, "%%in");
    else if (v < 0)
        fprintf(out, "%%in%d", ir_input_index(v));
    else
        fprintf(out, "%%%d", v);
}

/* " %a, %b" */
static void print_vals(FILE *out, const int *v, int n)
{
    for (int k = 0; k < n; k++) {
        fprintf(out, k ? ", " : " ");
        ir_print_value(out, v[k]);
    }
}

static const char *param_shape(const Param *p, char *buf, size_t len)
{
    Shape s = {p->ndim, {0}};
    memcpy(s.d, p->shape, sizeof s.d);
    return shape_str(&s, buf, len);
}

void ir_print(const Graph *g, FILE *out)
{
    ir_print_ex(g, out, 0);
}

/* The grammar is in ir_parse.c; printer and parser must agree so that
 * print(parse(print(g))) == print(g). Derived parameters are never printed
 * with values: they follow from their fold line. */
/* The ties whose state_dict place is just before params[at] (at < 0: those
 * past the last state tensor). */
static void print_ties(const Graph *g, FILE *out, int at)
{
    for (int t = 0; t < g->nties; t++) {
        const Tie *ti = &g->ties[t];
        int b = ti->before < g->nparams && !g->params[ti->before].fold ? ti->before : -1;
        if (b == at)
            fprintf(out, "tie %s = %s\n", ti->name, g->params[ti->param].name);
    }
}

void ir_print_ex(const Graph *g, FILE *out, int flags)
{
    char buf[128];
    int nstate = 0;
    for (int i = 0; i < g->nparams; i++)
        nstate += !g->params[i].fold;
    fprintf(out, "# model %s: input %s, %d parameter tensors, %" PRId64 " floats of state\n",
            g->name, shape_str(&g->input, buf, sizeof buf), nstate, g->state_size);
    fprintf(out, "model %s\n", g->name);
    for (int k = 0; k < g->ninputs; k++) {
        fprintf(out, "input %s", shape_str(&g->inputs[k], buf, sizeof buf));
        if (g->input_int[k])
            fprintf(out, " int");
        if (g->input_int[k] && g->input_int_below[k] > 0)
            fprintf(out, " below %" PRId64, g->input_int_below[k]);
        fprintf(out, "\n");
    }
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->fold) {
            const Fold *f = &g->folds[p->fold - 1];
            if (f->out_w != i)
                continue;   /* printed with its weight */
            fprintf(out, "%s %s", f->kind == FOLD_LINEAR ? "fold-linear" : f->kind == FOLD_BN ? "fold-bn"
                                 : f->kind == FOLD_PACK ? "pack-linear" : f->kind == FOLD_PACK_CONV ? "pack-conv"
                                 : f->kind == FOLD_PACK_CONV_PANEL ? "pack-conv-panel"
                                 : "pack-linear-bf16",
                    p->name);
            if (f->out_b >= 0)
                fprintf(out, " %s", g->params[f->out_b].name);
            fprintf(out, " =");
            if (f->kind == FOLD_PACK || f->kind == FOLD_PACK_BF16 || f->kind == FOLD_PACK_CONV ||
                f->kind == FOLD_PACK_CONV_PANEL)
                fprintf(out, " %s", g->params[f->w[0]].name);
            else
                for (int k = 0; k < f->n; k++)
                    fprintf(out, " %s %s", g->params[f->w[k]].name, f->b[k] >= 0 ? g->params[f->b[k]].name : "-");
            if (f->kind == FOLD_BN) {
                for (int k = 0; k < 4; k++)
                    fprintf(out, " %s", g->params[f->bn[k]].name);
                fprintf(out, " eps=%.9g", f->eps);
            }
            fprintf(out, "\n");
            continue;
        }
        print_ties(g, out, i);
        fprintf(out, "param %s %s", p->name, param_shape(p, buf, sizeof buf));
        if (p->kind == NNR_T_BUFFER)
            fprintf(out, " buffer");
        else if (p->kind == NNR_T_COUNTER)
            fprintf(out, " counter");
        if (p->frozen)
            fprintf(out, " frozen");
        if ((flags & IRP_VALUES) && p->data) {
            fprintf(out, " = [");
            for (int64_t k = 0; k < p->numel; k++)
                fprintf(out, "%s%.9g", k ? ", " : "", (double)p->data[k]);
            fprintf(out, "]");
        }
        fprintf(out, "\n");
    }
    print_ties(g, out, -1);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        ir_print_value(out, i);
        fprintf(out, " = %s", op_info[n->op].name);
        print_vals(out, n->in, n->nin);
        for (int k = 0; k < op_nattr(n->op); k++)
            if (!ir_attr_quiet(n->op) || n->attr[k] != op_attr[n->op][k].dflt)
                fprintf(out, " %s=%.9g", op_attr[n->op][k].name, n->attr[k]);
        op_hooks[n->op].print(out, n);
        if (n->fused_act >= 0) {
            fprintf(out, " act=%s", op_info[n->fused_act].name);
            if (op_nattr(n->fused_act) > 0)
                fprintf(out, "(%.9g)", n->fused_param);
        }
        if (n->packed)
            fprintf(out, " packed=%s", n->packed == 5 ? "oi+panel" : n->packed == 4 ? "direct" : n->packed == 3 ? "bf16" : n->packed == 2 ? "panel" : "oi");
        for (int k = 0; k < n->nparam; k++)
            fprintf(out, "%s%s", k ? "," : " params=", g->params[n->param[k]].name);
        fprintf(out, " : %s\n", shape_str(&n->shape, buf, sizeof buf));
    }
    fprintf(out, "output");
    print_vals(out, g->outputs, g->noutputs);
    fprintf(out, "\n");
    if (g->planned)
        fprintf(out, "planned\n");
}

/* ------------------------------------------------------------ folds */

static const char *fold_layers(const Graph *g, int param)
{
    const Param *p = &g->params[param];
    return p->layer_name ? p->layer_name : "?";
}

int ir_add_fold(Graph *g, Fold *f)
{
    if (g->nfolds == g->capfolds) {
        g->capfolds = g->capfolds ? 2 * g->capfolds : 8;
        g->folds = xrealloc(g->folds, (size_t)g->capfolds * sizeof *g->folds);
    }
    /* the layers it merges, for the derived names: "0,1,2" */
    char *layers = xstrdup(fold_layers(g, f->w[0]));
    for (int k = 1; k < f->n; k++)
        layers = xasprintf("%s,%s", layers, fold_layers(g, f->w[k]));
    if (f->kind == FOLD_BN)
        layers = xasprintf("%s,%s", layers, fold_layers(g, f->bn[0]));
    const Param *w0 = &g->params[f->w[0]];
    Param w;
    memset(&w, 0, sizeof w);
    w.name = xasprintf(f->kind == FOLD_PACK || f->kind == FOLD_PACK_CONV || f->kind == FOLD_PACK_CONV_PANEL
                           ? "pack(%s).weight" : f->kind == FOLD_PACK_BF16 ? "bf16(%s).weight"
                                                                 : "fold(%s).weight", layers);
    w.kind = 0;
    w.layer = w0->layer;
    w.layer_name = layers;
    w.offset = -1;
    w.fold = g->nfolds + 1;
    int has_bias = f->kind == FOLD_BN;
    if (f->kind == FOLD_LINEAR) {
        w.ndim = 2;
        w.shape[0] = f->dims[f->n];
        w.shape[1] = f->dims[0];
        for (int k = 0; k < f->n; k++)
            has_bias |= f->b[k] >= 0;
    } else if (f->kind == FOLD_PACK_CONV) {
        w.ndim = 1;
        w.shape[0] = (int64_t)nnr_conv_packed_size((int)f->cols, (int)f->rows);
    } else if (f->kind == FOLD_PACK_CONV_PANEL) {
        w.ndim = 1;
        w.shape[0] = (int64_t)nnr_conv_panel_size((int)f->cols, (int)f->rows);
    } else if (f->kind == FOLD_PACK || f->kind == FOLD_PACK_BF16) {
        w.ndim = 1;
        w.shape[0] = (int64_t)(f->kind == FOLD_PACK ? nnr_linear_packed_size((int)f->cols, (int)f->rows)
                                                    : nnr_linear_packed_bf16_size((int)f->cols, (int)f->rows));
    } else {
        w.ndim = w0->ndim;
        memcpy(w.shape, w0->shape, sizeof w.shape);
    }
    w.numel = 1;
    for (int k = 0; k < w.ndim; k++)
        w.numel *= w.shape[k];
    f->out_w = ir_add_param(g, &w);
    f->out_b = -1;
    if (has_bias) {
        Param b = w;
        b.name = xasprintf("fold(%s).bias", layers);
        b.ndim = 1;
        b.shape[0] = w.shape[0];
        b.shape[1] = b.shape[2] = b.shape[3] = 0;
        b.numel = w.shape[0];
        f->out_b = ir_add_param(g, &b);
    }
    g->folds[g->nfolds] = *f;
    return g->nfolds++;
}

/* Layout decision: the inference block holds, in parameter order, every
 * tensor a live node reads, plus the derived intermediates a later fold
 * reads (a batch norm folded into a layer that then joins a chain), so that
 * prepare() needs no scratch tensors. State tensors only a fold reads (the
 * layers folded away, batch-norm statistics) are not in it. */
void ir_layout_infer(Graph *g)
{
    char *need = xcalloc((size_t)g->nparams + 1, 1);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nparam; k++)
            need[n->param[k]] = 1;
    }
    /* derived intermediates: a derived param read by a fold of a needed one */
    for (int i = g->nparams - 1; i >= 0; i--) {
        const Param *p = &g->params[i];
        if (!need[i] || !p->fold)
            continue;
        const Fold *f = &g->folds[p->fold - 1];
        for (int k = 0; k < f->n; k++) {
            if (g->params[f->w[k]].fold)
                need[f->w[k]] = 1;
            if (f->b[k] >= 0 && g->params[f->b[k]].fold)
                need[f->b[k]] = 1;
        }
    }
    int64_t off = 0;
    for (int i = 0; i < g->nparams; i++) {
        Param *p = &g->params[i];
        if (need[i]) {
            p->ioffset = off;
            off += p->numel;
        } else {
            p->ioffset = -1;
        }
    }
    g->infer_size = off;
    g->infer_laid_out = 1;
    free(need);
}

/* Where param p is while prepare() runs: derived ones in the inference
 * block, state ones in the state block. */
static const float *src_ptr(const Graph *g, int p, const float *state, const float *infer, int known)
{
    if (p < 0)
        return NULL;
    const Param *q = &g->params[p];
    if (q->fold)
        return infer + q->ioffset;
    return known && q->data ? q->data : state + q->offset;
}

/* known: a parameter with data (p->data) is read there, not in state. */
static void prepare(const Graph *g, const float *state, float *infer, int known)
{
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->ioffset < 0)
            continue;
        if (!p->fold) {
            memcpy(infer + p->ioffset, src_ptr(g, i, state, infer, known), (size_t)p->numel * sizeof(float));
            continue;
        }
        const Fold *f = &g->folds[p->fold - 1];
        if (f->out_w != i)
            continue;   /* computed with its weight */
        float *bo = f->out_b >= 0 ? infer + g->params[f->out_b].ioffset : NULL;
        if (f->kind == FOLD_PACK) {
            nnr_pack_linear_weight_f32((int)f->cols, (int)f->rows, src_ptr(g, f->w[0], state, infer, known),
                                       infer + p->ioffset);
        } else if (f->kind == FOLD_PACK_CONV) {
            nnr_pack_conv_weight_f32((int)f->cols, (int)f->rows, src_ptr(g, f->w[0], state, infer, known),
                                     infer + p->ioffset);
        } else if (f->kind == FOLD_PACK_CONV_PANEL) {
            nnr_pack_conv_panel_f32((int)f->cols, (int)f->rows, src_ptr(g, f->w[0], state, infer, known),
                                    infer + p->ioffset);
        } else if (f->kind == FOLD_PACK_BF16) {
            nnr_pack_linear_weight_bf16((int)f->cols, (int)f->rows, src_ptr(g, f->w[0], state, infer, known),
                                        infer + p->ioffset);
        } else if (f->kind == FOLD_LINEAR) {
            int dims[NNC_MAX_FOLD_CHAIN + 1];
            const float *w[NNC_MAX_FOLD_CHAIN], *b[NNC_MAX_FOLD_CHAIN];
            for (int k = 0; k <= f->n; k++)
                dims[k] = (int)f->dims[k];
            for (int k = 0; k < f->n; k++) {
                w[k] = src_ptr(g, f->w[k], state, infer, known);
                b[k] = src_ptr(g, f->b[k], state, infer, known);
            }
            if (nnr_fold_linear_f32(f->n, dims, w, b, infer + p->ioffset, bo, NULL))
                NNC_ICE("out of memory folding %s", p->name);
        } else {
            const float *bn[4];
            for (int k = 0; k < 4; k++)
                bn[k] = src_ptr(g, f->bn[k], state, infer, known);
            nnr_fold_bn_f32((int)f->rows, (int)f->cols, src_ptr(g, f->w[0], state, infer, known),
                            src_ptr(g, f->b[0], state, infer, known), bn[0], bn[1], bn[2], bn[3],
                            (float)f->eps, infer + p->ioffset, bo);
        }
    }
}

void ir_prepare(const Graph *g, const float *state, float *infer)
{
    prepare(g, state, infer, 0);
}

/* ir_init_state, leaving out the parameters with data when only_unknown. */
static void init_state(const Graph *g, uint64_t seed, float *state, int only_unknown);

void ir_init_state(const Graph *g, uint64_t seed, float *state)
{
    init_state(g, seed, state, 0);
}

/* The known parameters are read where they are, not copied into a state
   block (whose pages for them calloc leaves untouched): a literal of 10^7
   numbers costs 40 MB less to emit. */
void ir_prepare_initial(const Graph *g, uint64_t seed, float *infer)
{
    float *state = xcalloc((size_t)g->state_size + 1, sizeof(float));
    init_state(g, seed, state, 1);
    prepare(g, state, infer, 1);
    free(state);
}

void ir_compiled_blocks(const Graph *g, int state_given, uint64_t seed, float **state, float **infer)
{
    *state = NULL;
    *infer = xcalloc((size_t)g->infer_size + 1, sizeof(float));
    if (state_given) {
        *state = xcalloc((size_t)g->state_size + 1, sizeof(float));
        ir_init_state(g, seed, *state);
        ir_prepare(g, *state, *infer);
    } else {
        ir_prepare_initial(g, seed, *infer);
    }
}

static void init_state(const Graph *g, uint64_t seed, float *state, int only_unknown)
{
    nnr_rng rng;
    nnr_rng_seed(&rng, seed);
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->fold)
            continue;   /* derived for inference: not in the state block */
        float *dst = state + p->offset;
        if (p->data) {
            if (!only_unknown)
                memcpy(dst, p->data, (size_t)p->numel * sizeof(float));
            continue;
        }
        switch (p->init) {
        case INIT_UNIFORM:
            nnr_init_uniform(&rng, dst, (size_t)p->numel, p->bound);
            break;
        case INIT_ONES:
            for (int64_t k = 0; k < p->numel; k++)
                dst[k] = 1.0f;
            break;
        case INIT_ZEROS:
            memset(dst, 0, (size_t)p->numel * sizeof(float));
            break;
        case INIT_NORMAL:
            nnr_init_normal(&rng, dst, (size_t)p->numel, p->bound, p->pad_row,
                            (size_t)(p->numel / (p->shape[0] ? p->shape[0] : 1)));
            break;
        }
    }
}

Graph *ir_clone(const Graph *g)
{
    Graph *c = xcalloc(1, sizeof *c);
    *c = *g;
    c->uses = NULL;   /* the copy builds its own on its first query */
    c->nodes = xcalloc((size_t)g->capnodes + 1, sizeof *c->nodes);
    for (int i = 0; i < g->nnodes; i++)
        ir_copy_node(c, i, &g->nodes[i]);
    c->params = xcalloc((size_t)g->capparams + 1, sizeof *c->params);
    if (g->nparams)
        memcpy(c->params, g->params, (size_t)g->nparams * sizeof *c->params);
    c->ties = xcalloc((size_t)g->capties + 1, sizeof *c->ties);
    if (g->nties)
        memcpy(c->ties, g->ties, (size_t)g->nties * sizeof *c->ties);
    c->folds = xcalloc((size_t)g->capfolds + 1, sizeof *c->folds);
    if (g->nfolds)
        memcpy(c->folds, g->folds, (size_t)g->nfolds * sizeof *c->folds);
    return c;
}

char *ir_print_string(const Graph *g, int flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        NNC_ICE("open_memstream failed");
    ir_print_ex(g, f, flags);
    fclose(f);
    return buf;
}
