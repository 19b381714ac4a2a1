/* simple.c — small inference passes: dce (views that compute nothing are
 * dropped), fuse-act (an activation right after linear/conv2d becomes the
 * kernel's epilogue), memplan (switch the arena plan to liveness reuse). */
#include "pass.h"
#include "../ops/ops.h"

/* Remove a node: its reader takes its input instead. The last node is kept
 * (it is the model's output) unless another node stands before it. */
static void unlink_node(Graph *g, int i)
{
    Node *n = &g->nodes[i];
    for (int j = i + 1; j < g->nnodes; j++)
        if (!g->nodes[j].dead && g->nodes[j].input == i)
            g->nodes[j].input = n->input;
    n->dead = 1;
}

int pass_dce(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || !(n->op == OP_IDENTITY || n->op == OP_DROPOUT))
            continue;
        if (i == ir_output(g) && n->input < 0)
            continue;   /* the model is only this: keep a value to return */
        if (cx->verbose)
            fprintf(cx->log, "dce: %%%d (%s) removed: it computes nothing in inference\n", i, op_info[n->op].name);
        unlink_node(g, i);
        changed = 1;
    }
    return changed;
}

int pass_fuse_act(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *a = &g->nodes[i];
        if (a->dead || !(op_info[a->op].flags & OPF_ACT) || a->input < 0)
            continue;
        Node *k = &g->nodes[a->input];
        if ((k->op != OP_LINEAR && k->op != OP_CONV2D) || k->fused_act >= 0)
            continue;
        k->fused_act = a->op;
        k->fused_alpha = a->alpha;
        if (cx->verbose)
            fprintf(cx->log, "fuse-act: %%%d (%s) fused into %%%d (%s)\n", i, op_info[a->op].name,
                    a->input, op_info[k->op].name);
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
