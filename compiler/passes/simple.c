/* simple.c — small passes: dce (views that compute nothing are dropped,
 * and so is every node no graph output depends on), fuse-act (an
 * activation right after linear/conv2d becomes the kernel's epilogue; on a
 * training graph, a relu after a linear or conv2d), memplan (switch the arena plan to liveness reuse),
 * prepack (weight layout for the kernels) and layout (the inference block). */
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "autodiff.h"
#include "../ops/ops.h"
#include "nnr.h"

/* Remove a one-input node: its readers (and the graph's outputs) read its
 * input instead. */
static void unlink_node(Graph *g, int i)
{
    ir_kill(g, i);
    ir_replace_uses(g, i, g->nodes[i].in[0]);
}

/* Nodes no output depends on: marks what the outputs reach, backwards over
 * the DAG (a node's inputs come before it), and removes the rest. */
static int drop_unreached(Graph *g, PassCtx *cx)
{
    char *need = xcalloc((size_t)g->nnodes + 1, 1);
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] >= 0)
            need[g->outputs[k]] = 1;
    int changed = 0;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (!need[i]) {
            if (cx->verbose)
                fprintf(cx->log, "dce: %%%d (%s) removed: no output depends on it\n", i, op_info[n->op].name);
            ir_kill(g, i);
            changed = 1;
            continue;
        }
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                need[n->in[k]] = 1;
    }
    free(need);
    return changed;
}

int pass_dce(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->nin != 1 || !op_is_nothing(g, n))
            continue;
        if (ir_is_output(g, i) && n->in[0] < 0)
            continue;   /* it returns an input: keep a value to return */
        if (cx->verbose)
            fprintf(cx->log, "dce: %%%d (%s) removed: it computes nothing in inference\n", i, op_info[n->op].name);
        unlink_node(g, i);
        changed = 1;
    }
    return drop_unreached(g, cx) | changed;
}

/* The next node after l that computes in the training forward (not a view,
 * not a training step), or -1. */
static int next_computing(const Graph *g, int l)
{
    for (int i = l + 1; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || op_is_alias(n->op, 1))
            continue;
        return op_info[n->op].flags & OPF_TRAIN ? -1 : i;
    }
    return -1;
}

/* [value] its readers among the forward nodes (the training steps aside). */
static int *forward_readers(const Graph *g)
{
    int *c = xcalloc((size_t)g->nnodes + 1, sizeof *c);
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; !g->nodes[i].dead && !(op_info[g->nodes[i].op].flags & OPF_TRAIN) && k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] >= 0)
                c[g->nodes[i].in[k]]++;
    return c;
}

/* fuse-act on a training graph: a linear or conv2d whose value only the
 * relu right after it reads (not an output; neither keeps a saved buffer;
 * their backward rules do not read the layer's own output) runs that
 * relu in its kernel's epilogue (the same bits: bias, then max(0, v)) and
 * writes the relu's buffer, so the relu costs no pass of its own. The relu
 * node stays, for its backward: relu is idempotent, so reading the fused
 * value it computes the same value, and for relu y > 0 exactly where x > 0,
 * so its gradient rule may read its output as its input. A batchnorm's
 * statistics (its saved buffer) are its input's, which the relu leaves
 * alone: it runs the relu too (nnr_batchnorm_train_relu_f32). */
static int fuse_act_train(Graph *g, PassCtx *cx)
{
    int changed = 0;
    int *readers = forward_readers(g);  /* the pass changes no node's inputs */
    for (int l = 0; l < g->nnodes; l++) {
        Node *nl = &g->nodes[l];
        const int bn = nl->op == OP_BATCHNORM1D || nl->op == OP_BATCHNORM2D;
        if (nl->dead || (nl->op != OP_LINEAR && !(nl->op == OP_CONV2D && nl->nin == 1) && !bn) ||
            nl->fused_act >= 0 || nl->packed || ir_is_output(g, l))
            continue;
        int r = next_computing(g, l);
        int64_t ps, fx, rps, rfx;
        if (r < 0 || g->nodes[r].op != OP_RELU || g->nodes[r].in[0] != l || readers[l] != 1)
            continue;
        op_saved_size(g, nl, &ps, &fx);
        op_saved_size(g, &g->nodes[r], &rps, &rfx);
        if ((!bn && (ps || fx)) || rps || rfx)
            continue;
        nl->fused_act = OP_RELU;
        nl->fused_param = 0;
        if (cx && cx->verbose)
            fprintf(cx->log, "fuse-act: relu %%%d runs in the epilogue of %%%d (%s) in training\n", r, l,
                    op_info[nl->op].name);
        changed = 1;
    }
    free(readers);
    return changed;
}

int pass_fuse_act(Graph *g, PassCtx *cx)
{
    if (ir_is_training(g))
        return fuse_act_train(g, cx);
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *a = &g->nodes[i];
        /* an epilogue carries one parameter: activations with more stay apart */
        if (a->dead || !(op_info[a->op].flags & OPF_ACT) || op_nattr(a->op) > 1 || a->nin != 1 ||
            a->in[0] < 0)
            continue;
        Node *k = &g->nodes[a->in[0]];
        if (!(op_info[k->op].flags & OPF_EPILOGUE) || k->fused_act >= 0)
            continue;
        /* the layer's raw output must have no other reader and not be a
         * graph output (then the activation is not its only use) */
        if (ir_readers(g, a->in[0]) != 1 || ir_is_output(g, a->in[0]))
            continue;
        k->fused_act = a->op;
        k->fused_param = a->attr[0];
        if (cx->verbose)
            fprintf(cx->log, "fuse-act: %%%d (%s) fused into %%%d (%s)\n", i, op_info[a->op].name,
                    a->in[0], op_info[k->op].name);
        /* the layer now computes the activation's value: readers of the
         * activation read the layer */
        unlink_node(g, i);
        changed = 1;
    }
    return changed;
}

int pass_memplan(Graph *g, PassCtx *cx)
{
    (void)cx;
    g->planned = 1;
    return 1;
}

/* Per parameter of the graph when a packing pass starts: 1 + the fold
 * that packs it in kind a or b, or 0 (one lookup per layer, not a scan of
 * the folds: a model of 10^4 layers has 10^4 of them). */
static int *pack_map(const Graph *g, FoldKind a, FoldKind b, FoldKind c)
{
    int *map = xcalloc((size_t)g->nparams + 1, sizeof *map);
    for (int k = 0; k < g->nfolds; k++)
        if (g->folds[k].kind == a || g->folds[k].kind == b || g->folds[k].kind == c)
            map[g->folds[k].w[0]] = k + 1;
    return map;
}

/* The param holding the pack of kind of weight param w ([rows, cols]):
 * the one a first call of the layer made (a layer called twice shares
 * it), else a new fold's; *made tells which. g->nodes may move. map is
 * pack_map's, and w one of the parameters it covers. */
static int pack_of(Graph *g, int *map, FoldKind kind, int w, int64_t rows, int64_t cols, int *made)
{
    *made = 0;
    if (map[w] && g->folds[map[w] - 1].kind == kind)
        return g->folds[map[w] - 1].out_w;
    Fold f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.n = 1;
    f.w[0] = w;
    f.b[0] = -1;
    f.rows = rows;
    f.cols = cols;
    map[w] = ir_add_fold(g, &f) + 1;
    *made = 1;
    return f.out_w;
}

/* prepack: weights laid out in the order the runtime's kernels read them.
 * A linear weight becomes a derived parameter, pack(<layer>).weight, made by
 * a FOLD_PACK recipe (nnr_pack_linear_weight_f32: panels of NNR_PACK_NR
 * output columns, [in][NNR_PACK_NR], the layout the GEMM's micro-kernel
 * reads), evaluated once per load by prepare() and at compile time when the
 * weights are known; the node then calls nnr_linear_packed_f32 (printed
 * packed=panel). That pays at every batch size on the measured shapes (the
 * GEMM no longer repacks W on each call, and batch 1 reads the panels
 * contiguously: 784x128 at batch 1 2.7 us packed vs 3.2 us by the GEMV), so
 * the [out, in] copy is not kept. A conv2d weight the direct kernel of few
 * channels reads (conv_packed_ok) is packed once as [c·kh·kw][out] by a
 * FOLD_PACK_CONV (packed=direct: 20% of W7's batch-1 time went to that
 * rearrangement on every call). A conv2d whose batch of one runs as the
 * transposed GEMM yᵀ = colᵀ·Wᵀ (few output positions, many channels:
 * conv_panel_ok) gets a FOLD_PACK_CONV_PANEL: W's panels as the GEMM's B,
 * then W itself for larger batches (packed=oi+panel: the GEMM repacked
 * W6's 4.7 MB 7x7-layer weight on every batch-1 call, 9% of its time).
 * Other conv2d weights stay [out, in] row-major (packed=oi): there W is
 * the GEMM's A, which is read in place. */
/* conv2d node i on the direct kernel: its weight [out, c·kh·kw] packed by
 * a FOLD_PACK_CONV (nnr_pack_conv_weight_f32), shared by a second call of
 * the layer (packed=direct); or (kind FOLD_PACK_CONV_PANEL) a conv2d whose
 * batch of one runs as the transposed GEMM: its weight made the GEMM's
 * panels, then itself for larger batches (packed=oi+panel). */
static void prepack_conv(Graph *g, PassCtx *cx, int *map, int i, FoldKind kind)
{
    const int w = g->nodes[i].param[0];
    int made;
    const int shared = pack_of(g, map, kind, w, g->params[w].shape[0],
                               g->params[w].numel / g->params[w].shape[0], &made);
    Node *n = &g->nodes[i];
    n->param[0] = shared;
    n->packed = kind == FOLD_PACK_CONV ? 4 : 5;
    if (cx->verbose)
        fprintf(cx->log, "prepack: %%%d (%s) weight packed %s: %s\n", i, op_info[n->op].name,
                kind == FOLD_PACK_CONV ? "for the direct kernel" : "in panels for a batch of one",
                g->params[shared].name);
}

int pass_prepack(Graph *g, PassCtx *cx)
{
    int changed = 0;
    int *map = pack_map(g, FOLD_PACK, FOLD_PACK_CONV, FOLD_PACK_CONV_PANEL);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || (n->op != OP_LINEAR && n->op != OP_CONV2D) || n->packed)
            continue;
        if (n->op == OP_LINEAR && cx->bf16)
            continue;   /* packed in bf16 by bf16-weights */
        if (n->op == OP_CONV2D) {
            changed = 1;
            if (!conv_packed_ok(g, n) && n->nin == 1 && conv_panel_ok(g, n)) {
                prepack_conv(g, cx, map, i, FOLD_PACK_CONV_PANEL);
                continue;
            }
            if (!conv_packed_ok(g, n)) {
                n->packed = 1;
                if (cx->verbose)
                    fprintf(cx->log, "prepack: %%%d (%s) weight stays [out, in] row-major: the layout the GEMM reads\n",
                            i, op_info[n->op].name);
                continue;
            }
            prepack_conv(g, cx, map, i, FOLD_PACK_CONV);
            continue;
        }
        int made;
        const int shared = pack_of(g, map, FOLD_PACK, n->param[0], n->linear.out_features, n->linear.in_features, &made);
        n = &g->nodes[i];
        n->param[0] = shared;
        n->packed = 2;
        changed = 1;
        if (!made)
            continue;
        if (cx->verbose)
            fprintf(cx->log, "prepack: %%%d (%s) weight packed into panels of %d columns: %s\n", i,
                    op_info[n->op].name, NNR_PACK_NR, g->params[shared].name);
    }
    free(map);
    return changed;
}

/* bf16-weights (only with --dtype bf16, then at every -O level): every
 * linear layer's weight becomes bf16(<layer>).weight, a FOLD_PACK_BF16 of
 * its [out, in] fp32 weight (rounded to nearest even, two per float of
 * storage, in the panels of nnr_pack_linear_weight_bf16), and the node
 * calls nnr_linear_packed_bf16 (printed packed=bf16): half the bytes of the
 * weights read per call, fp32 arithmetic on the rounded weights. A weight
 * prepack already packed is taken from before its fp32 pack (which nothing
 * reads then: the layout leaves it out). conv2d weights stay fp32. */
int pass_bf16(Graph *g, PassCtx *cx)
{
    int changed = 0;
    int *map = pack_map(g, FOLD_PACK_BF16, FOLD_PACK_BF16, FOLD_PACK_BF16);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_LINEAR || n->packed == 3)
            continue;
        int src = n->param[0];
        if (n->packed == 2)
            src = g->folds[g->params[src].fold - 1].w[0];
        int made;
        const int shared = pack_of(g, map, FOLD_PACK_BF16, src, n->linear.out_features, n->linear.in_features, &made);
        n = &g->nodes[i];
        n->param[0] = shared;
        n->packed = 3;
        if (cx->verbose)
            fprintf(cx->log, "bf16-weights: %%%d (%s) weight rounded to bf16 and packed: %s\n", i,
                    op_info[n->op].name, g->params[shared].name);
        changed = 1;
    }
    free(map);
    return changed;
}

/* layout (required): the inference block, from the parameters live nodes
 * read (ir_layout_infer). It does not change the graph. */
int pass_layout(Graph *g, PassCtx *cx)
{
    (void)cx;
    ir_layout_infer(g);
    return 0;
}
