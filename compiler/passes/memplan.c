/* memplan.c — the memory planner: memplan_place, first-fit placement of
 * buffers by their lifetimes (the inference forward's values here, the
 * training arena's buffers in autodiff.c's train_plan), and the static
 * memory plan of the inference forward.
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

/* With reuse, block i goes at the lowest offset that overlaps none of the
 * earlier blocks live with it. The placed blocks are kept sorted by
 * offset, and one sweep upwards from 0 finds that offset: each block live
 * with i that overlaps the candidate moves it to its end, and the first
 * block starting above the candidate's end leaves room (the blocks after
 * it start higher still). A training graph of 10^4 layers has 10^5
 * buffers, many live at once: a sweep per block, not a search repeated
 * after every move. */
int64_t memplan_place(MemBlock *b, int n, int reuse)
{
    int64_t total = 0;
    const MemBlock **placed = reuse ? xcalloc((size_t)n + 1, sizeof *placed) : NULL;
    int np = 0;
    for (int i = 0; i < n; i++) {
        int64_t off = reuse ? 0 : total;
        if (reuse && b[i].size > 0) {
            for (int k = 0; k < np && placed[k]->off < off + b[i].size; k++) {
                const MemBlock *o = placed[k];
                if (o->last >= b[i].first && b[i].last >= o->first && o->off + o->size > off)
                    off = o->off + o->size;
            }
            int lo = 0, hi = np;    /* insert after the blocks at offsets <= off */
            while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (placed[mid]->off <= off)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memmove(placed + lo + 1, placed + lo, (size_t)(np - lo) * sizeof *placed);
            placed[lo] = &b[i];
            np++;
        }
        b[i].off = off;
        if (off + b[i].size > total)
            total = off + b[i].size;
    }
    free(placed);
    return total;
}

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
    MemBlock *blk = xcalloc((size_t)nn + 1, sizeof *blk);
    int *of = xcalloc((size_t)nn + 1, sizeof *of);
    int nb = 0;
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || mp->root[i] != i || i == out_root)
            continue;
        int64_t size = shape_numel(&n->shape);
        mp->unplanned += size;
        of[nb] = i;
        blk[nb++] = (MemBlock){size, i, last[i], 0};
    }
    mp->per_sample = memplan_place(blk, nb, g->planned);
    for (int k = 0; k < nb; k++)
        mp->offset[of[k]] = blk[k].off;
    free(blk);
    free(of);
    free(last);
    free(lastuse);
}
