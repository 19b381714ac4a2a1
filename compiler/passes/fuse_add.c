/* fuse_add.c — the fuse-add pass: a residual add whose one operand is a
 * conv2d (its only reader, not a graph output, no activation fused yet)
 * and whose other operand is computed before that conv2d and has its
 * shape becomes the conv2d's epilogue: the conv2d reads the other operand
 * as a second input (OPF_RESIDUAL; IR text "conv2d %a, %r") and its kernel
 * adds it after the bias and before the activation, so y = act(conv(x) + b
 * + r) in one pass over memory. The relu after the add then fuses into the
 * conv2d by fuse-act. Same order of the sums as the separate add (conv and
 * bias first, then the residual), so the results are the same bits. */
#include <stdio.h>
#include <string.h>

#include "pass.h"
#include "../ops/ops.h"

/* Can the conv2d value c take o as its residual, the add i reading both? */
static int fusable(const Graph *g, int i, int c, int o)
{
    if (c < 0 || c == o)
        return 0;
    const Node *k = &g->nodes[c], *a = &g->nodes[i];
    if (k->dead || !(op_info[k->op].flags & OPF_RESIDUAL) || k->nin != op_info[k->op].nin ||
        k->fused_act >= 0 || ir_readers(g, c) != 1 || ir_is_output(g, c))
        return 0;
    if (o >= c)
        return 0;   /* the conv runs before its residual is ready */
    const Shape *so = ir_value_shape(g, o);
    return so->ndim == k->shape.ndim && a->shape.ndim == k->shape.ndim &&
           !memcmp(so->d, k->shape.d, sizeof(int64_t) * (size_t)so->ndim) &&
           !memcmp(a->shape.d, k->shape.d, sizeof(int64_t) * (size_t)so->ndim);
}

int pass_fuse_add(Graph *g, PassCtx *cx)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *a = &g->nodes[i];
        if (a->dead || a->op != OP_ADD || a->nin != 2)
            continue;
        int c = -1, o = -1;
        for (int side = 0; side < 2 && c < 0; side++)
            if (fusable(g, i, a->in[side], a->in[1 - side])) {
                c = a->in[side];
                o = a->in[1 - side];
            }
        if (c < 0)
            continue;
        ir_read(g, c, o);
        ir_kill(g, i);
        ir_replace_uses(g, i, c);
        if (cx && cx->verbose)
        {
            fprintf(cx->log, "fuse-add: %%%d (add) fused into %%%d (%s), which adds ", i, c,
                    op_info[g->nodes[c].op].name);
            ir_print_value(cx->log, o);
            fputc('\n', cx->log);
        }
        changed = 1;
    }
    return changed;
}
