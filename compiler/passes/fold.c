/* fold.c — inference-only folding of parameters: fold-batchnorm (a batch
 * norm after linear/conv2d becomes part of that layer's weight and bias) and
 * fold-linear (a chain of linear layers with nothing non-linear between them
 * becomes one layer, W = W2·W1, b = W2·b1 + b2).
 *
 * Neither pass computes a number: each records a Fold (ir.h) whose derived
 * parameters the inference block holds; the values are made from the state
 * block by the runtime's nnr_fold_*_f32, at compile time when the state is
 * known and in the emitted prepare() otherwise. The model graph that
 * training uses is never folded (driver.c runs the pipeline on a clone), so
 * the state_dict keeps PyTorch's names and shapes.
 *
 * Guards, shared by both rules: every value between the two layers has
 * exactly one reader and is not the model's output; only views that compute
 * nothing in inference stand between them (identity, dropout, and for
 * fold-linear a flatten of an already flat value); the first layer has no
 * fused epilogue (an activation between them is not "nothing"). */
#include <string.h>

#include "pass.h"
#include "../ops/ops.h"

/* The one live reader of value v (reading it once), or -1 (none, several). */
static int only_user(const Graph *g, int v)
{
    return ir_readers(g, v) == 1 ? ir_reader(g, v) : -1;
}

/* Follows the readers of value v through "nothing" views to the next real
 * node; checks that every value on the way (v included) has one reader and
 * is not the output. Returns that node, or -1 with *why set. */
static int next_real(const Graph *g, int v, const char **why)
{
    for (;;) {
        if (ir_is_output(g, v)) {
            *why = "it is a graph output";
            return -1;
        }
        int u = only_user(g, v);
        if (u < 0) {
            *why = ir_readers(g, v) ? "it has more than one reader" : "nothing reads it";
            return -1;
        }
        if (g->nodes[u].nin != 1 || !op_is_nothing(g, &g->nodes[u]))
            return u;
        v = u;
    }
}

/* Node `keep` takes over the path to node `last` (the one-reader path
 * next_real followed): the nodes on it die, last's readers read keep. */
static void absorb(Graph *g, int keep, int last)
{
    for (int v = keep; v != last;) {
        v = only_user(g, v);
        ir_kill(g, v);
    }
    ir_replace_uses(g, last, keep);
}

/* ------------------------------------------------------------ fold-batchnorm */

int pass_fold_bn(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *k = &g->nodes[i];
        if (k->dead || (k->op != OP_LINEAR && k->op != OP_CONV2D))
            continue;
        const char *why = NULL;
        int b = next_real(g, i, &why);
        if (b < 0 || (g->nodes[b].op != OP_BATCHNORM1D && g->nodes[b].op != OP_BATCHNORM2D))
            continue;
        Node *bn = &g->nodes[b];
        /* linear works on the last dimension, batch norm on the first: they
         * meet only on a flat [features] value; conv2d is [C, H, W] */
        int fits = k->op == OP_CONV2D ? bn->op == OP_BATCHNORM2D
                                      : bn->op == OP_BATCHNORM1D && k->shape.ndim == 1;
        if (!fits || k->fused_act >= 0 || bn->batchnorm.num_features != k->weight.out) {
            if (cx->verbose)
                fprintf(cx->log, "fold-batchnorm: %%%d (%s) not folded into %%%d (%s): %s\n", b,
                        op_info[bn->op].name, i, op_info[k->op].name,
                        k->fused_act >= 0 ? "an activation stands between them"
                                          : "it normalises another axis than the layer's outputs");
            continue;
        }
        Fold f;
        memset(&f, 0, sizeof f);
        f.kind = FOLD_BN;
        f.n = 1;
        f.w[0] = k->param[0];
        f.b[0] = k->weight.bias ? k->param[1] : -1;
        for (int j = 0; j < 4; j++)
            f.bn[j] = bn->param[j];
        f.eps = bn->batchnorm.eps;
        f.rows = k->weight.out;
        f.cols = g->params[k->param[0]].numel / k->weight.out;
        ir_add_fold(g, &f);
        ir_param_reserve(g, i, 2);
        k = &g->nodes[i];
        k->param[0] = f.out_w;
        k->param[1] = f.out_b;
        k->nparam = 2;
        k->weight.bias = 1;
        absorb(g, i, b);
        if (cx->verbose)
            fprintf(cx->log, "fold-batchnorm: %%%d (%s) folded into %%%d (%s): %s\n", b,
                    op_info[bn->op].name, i, op_info[k->op].name, g->params[f.out_w].name);
        changed = 1;
    }
    return changed;
}

/* ------------------------------------------------------------ fold-linear */

/* Floats of a linear layer in -> out (weight and optional bias): also its
 * cost, since a GEMM reads each weight once per row. */
static int64_t lin_size(int64_t in, int64_t out, int bias)
{
    return in * out + (bias ? out : 0);
}

/* Cost-aware segmentation of a run of foldable linear layers c[0..m-1]:
 * the split into consecutive segments (each folded into one layer) with
 * the fewest floats of weights, ties to fewer layers. A 784 -> 16 -> 784
 * bottleneck stays two layers: one [784, 784] matrix is larger than its
 * parts. seg_end[s] is the last index of segment s; returns the count. */
static int segment(const Graph *g, const int *c, int m, int *seg_end)
{
    int64_t best[NNC_MAX_FOLD_CHAIN + 1];
    int nseg[NNC_MAX_FOLD_CHAIN + 1], from[NNC_MAX_FOLD_CHAIN + 1];
    best[0] = 0;
    nseg[0] = 0;
    for (int j = 1; j <= m; j++) {
        best[j] = -1;
        int bias = 0;
        for (int i = j - 1; i >= 0; i--) {
            const Node *a = &g->nodes[c[i]], *z = &g->nodes[c[j - 1]];
            bias |= g->nodes[c[i]].linear.bias;
            int64_t cost = best[i] + lin_size(a->linear.in_features, z->linear.out_features, bias);
            if (best[j] < 0 || cost < best[j] || (cost == best[j] && nseg[i] + 1 < nseg[j])) {
                best[j] = cost;
                nseg[j] = nseg[i] + 1;
                from[j] = i;
            }
        }
    }
    int ns = nseg[m];
    for (int j = m, s = ns - 1; j > 0; j = from[j], s--)
        seg_end[s] = j - 1;
    return ns;
}

int pass_fold_linear(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead || g->nodes[i].op != OP_LINEAR)
            continue;
        /* the run of linear layers that starts here */
        int c[NNC_MAX_FOLD_CHAIN];
        int m = 1;
        c[0] = i;
        while (m < NNC_MAX_FOLD_CHAIN) {
            const Node *cur = &g->nodes[c[m - 1]];
            const char *why = NULL;
            int u = next_real(g, c[m - 1], &why);
            if (u < 0 || g->nodes[u].op != OP_LINEAR)
                break;
            if (cur->fused_act >= 0) {
                if (cx->verbose)
                    fprintf(cx->log, "fold-linear: %%%d and %%%d not folded: %s stands between them\n",
                            c[m - 1], u, op_info[cur->fused_act].name);
                break;
            }
            c[m++] = u;
        }
        if (m < 2)
            continue;
        int seg_end[NNC_MAX_FOLD_CHAIN];
        int ns = segment(g, c, m, seg_end);
        for (int s = 0, start = 0; s < ns; start = seg_end[s] + 1, s++) {
            int end = seg_end[s];
            if (s + 1 < ns && cx->verbose) {
                const Node *a = &g->nodes[c[end]], *z = &g->nodes[c[end + 1]];
                const LinearAttrs *la = &a->linear, *lz = &z->linear;
                int64_t merged = lin_size(la->in_features, lz->out_features, la->bias || lz->bias);
                int64_t parts = lin_size(la->in_features, la->out_features, la->bias) +
                                lin_size(lz->in_features, lz->out_features, lz->bias);
                if (merged > parts)
                    fprintf(cx->log, "fold-linear: %%%d (linear %lld->%lld) and %%%d (linear %lld->%lld) not folded: "
                                     "one %lldx%lld layer (%lld floats) would be larger than the parts (%lld floats)\n",
                            c[end], (long long)la->in_features, (long long)la->out_features, c[end + 1],
                            (long long)lz->in_features, (long long)lz->out_features, (long long)lz->out_features,
                            (long long)la->in_features, (long long)merged,
                            (long long)parts);
                else
                    fprintf(cx->log, "fold-linear: %%%d and %%%d not folded: the chain costs fewer floats "
                                     "split between them\n", c[end], c[end + 1]);
            }
            if (end == start)
                continue;
            Fold f;
            memset(&f, 0, sizeof f);
            f.kind = FOLD_LINEAR;
            f.n = end - start + 1;
            f.dims[0] = g->nodes[c[start]].linear.in_features;
            for (int k = 0; k < f.n; k++) {
                const Node *l = &g->nodes[c[start + k]];
                f.w[k] = l->param[0];
                f.b[k] = l->linear.bias ? l->param[1] : -1;
                f.dims[k + 1] = l->linear.out_features;
            }
            ir_add_fold(g, &f);
            ir_param_reserve(g, c[start], 2);
            Node *first = &g->nodes[c[start]];
            const Node *last = &g->nodes[c[end]];
            first->linear.out_features = last->linear.out_features;
            first->shape = last->shape;
            first->fused_act = last->fused_act;
            first->fused_param = last->fused_param;
            first->param[0] = f.out_w;
            first->param[1] = f.out_b;
            first->linear.bias = f.out_b >= 0;
            first->nparam = f.out_b >= 0 ? 2 : 1;
            absorb(g, c[start], c[end]);
            if (cx->verbose) {
                fprintf(cx->log, "fold-linear: %d linear layers folded into %%%d:", f.n, c[start]);
                for (int k = 0; k < f.n; k++)
                    fprintf(cx->log, " %%%d", c[start + k]);
                fprintf(cx->log, " -> %s\n", g->params[f.out_w].name);
            }
            changed = 1;
        }
    }
    return changed;
}
