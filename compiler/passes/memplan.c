/* memplan.c — the static memory plan of the inference forward.
 *
 * Views (flatten, identity, inference dropout) share their input's buffer.
 * Every other value gets a buffer of numel(shape) floats per sample, placed
 * first-fit among the buffers still live (a buffer dies after its last
 * reader, over every value each node reads: the graph is a DAG). Offsets
 * are per sample, so the plan holds for any batch size: the emitted code
 * multiplies them by n. An element-wise operator (a residual add, a
 * scalar op) writes in place into an operand of its own shape whose buffer
 * dies at it (in_place). With one output, the node that computes it writes
 * straight to the caller's y and takes no arena; with several, every
 * output gets a buffer live to the end, and the forward joins them into
 * y's rows. */
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "../ops/ops.h"

typedef struct Block {
    int64_t off, size;
    int dies;       /* node index after which it is free */
} Block;

/* [value] the last node that reads it (nn: a graph output). */
static int *last_uses(const Graph *g)
{
    int *lu = xcalloc((size_t)g->nnodes + 1, sizeof *lu);
    for (int i = 0; i < g->nnodes; i++) {
        lu[i] = i;
        for (int k = 0; !g->nodes[i].dead && k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] >= 0)
                lu[g->nodes[i].in[k]] = i;
    }
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] >= 0)
            lu[g->outputs[k]] = g->nnodes;
    return lu;
}

/* The buffer node i writes: an operand's, in place, when i is an
 * element-wise operator (the residual add, a scalar op) whose output has
 * that operand's shape and every value held in that buffer (the operand,
 * the views of it, earlier in-place results) is read last by i; else i's
 * own. last[r]: the last reader so far of buffer r's values. */
static int in_place(const Graph *g, const int *root, const int *lastuse, const int *last, int i)
{
    const Node *n = &g->nodes[i];
    if (n->op != OP_ADD && n->op != OP_SUB && n->op != OP_MUL && n->op != OP_DIV && n->op != OP_ADD_SCALAR &&
        n->op != OP_RSUB_SCALAR && n->op != OP_MUL_SCALAR && n->op != OP_DIV_SCALAR && n->op != OP_RDIV_SCALAR)
        return i;
    for (int k = 0; k < n->nin; k++) {
        int v = n->in[k], r = v >= 0 ? root[v] : -1;
        const Shape *s = ir_value_shape(g, v);
        if (r < 0 || s->ndim != n->shape.ndim || memcmp(s->d, n->shape.d, sizeof(int64_t) * (size_t)s->ndim))
            continue;
        int dies = 1;   /* every value whose buffer is r: read last here */
        for (int j = r; j < i && dies; j++)
            if (!g->nodes[j].dead && root[j] == r && lastuse[j] > i)
                dies = 0;
        if (dies && last[r] <= i)
            return r;
    }
    return i;
}

void memplan_inference(const Graph *g, MemPlan *mp)
{
    int nn = g->nnodes;
    mp->root = xcalloc((size_t)nn + 1, sizeof *mp->root);
    mp->offset = xcalloc((size_t)nn + 1, sizeof *mp->offset);
    mp->per_sample = 0;
    mp->unplanned = 0;
    mp->fixed_bound = 0;
    int *last = xcalloc((size_t)nn + 1, sizeof *last);
    int *lastuse = g->planned ? last_uses(g) : NULL;
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        mp->root[i] = op_is_alias(n->op, 0) ? (n->in[0] < 0 ? n->in[0] : mp->root[n->in[0]]) : i;
        if (lastuse && mp->root[i] == i)
            mp->root[i] = in_place(g, mp->root, lastuse, last, i);
        last[i] = i;
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v >= 0 && mp->root[v] >= 0 && last[mp->root[v]] < i)
                last[mp->root[v]] = i;
        }
        int64_t s = op_scratch(g, n);
        if (s > mp->fixed_bound)
            mp->fixed_bound = s;
    }
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] >= 0 && mp->root[g->outputs[k]] >= 0)
            last[mp->root[g->outputs[k]]] = nn;
    int out = ir_output(g);
    int out_root = g->noutputs == 1 && out >= 0 ? mp->root[out] : -1;
    mp->y_root = out_root >= 0 ? out_root : -1;
    Block *live = xcalloc((size_t)nn + 1, sizeof *live);
    int nlive = 0;
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || mp->root[i] != i || i == out_root)
            continue;
        int64_t size = shape_numel(&n->shape);
        mp->unplanned += size;
        int64_t off = 0;
        if (g->planned) {
            /* drop blocks whose last reader ran before this node */
            int k = 0;
            for (int j = 0; j < nlive; j++)
                if (live[j].dies >= i)
                    live[k++] = live[j];
            nlive = k;
            /* first fit: lowest offset that overlaps no live block */
            for (;;) {
                int moved = 0;
                for (int j = 0; j < nlive; j++)
                    if (off < live[j].off + live[j].size && live[j].off < off + size) {
                        off = live[j].off + live[j].size;
                        moved = 1;
                    }
                if (!moved)
                    break;
            }
        } else {
            off = mp->per_sample;
        }
        mp->offset[i] = off;
        live[nlive++] = (Block){off, size, last[i]};
        if (off + size > mp->per_sample)
            mp->per_sample = off + size;
    }
    free(live);
    free(last);
    free(lastuse);
}
