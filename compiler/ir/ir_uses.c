/* ir_uses.c — who reads a value: the reads of node inputs (ir_read), the
 * rewiring of readers (ir_replace_uses), removing a node (ir_kill), and the
 * queries the passes ask (ir_readers, ir_reader).
 *
 * The passes ask "how many live nodes read %v" and "replace every read of
 * %a by %b" once per candidate; by scanning the graph each time, a model
 * of 10^4 blocks took minutes to optimise. So the first query builds an
 * index of the readers of every node value, and ir_read, ir_kill and
 * ir_replace_uses keep it exact while it exists: per value the count of
 * live reads and a list of nodes that read it or once did (entries whose
 * node died or no longer reads the value are skipped when walked). The
 * pass pipeline drops the index when it ends (ir_uses_drop), so code
 * outside it may keep writing nodes directly; ir_verify checks the counts
 * against a recount after every pass when asked. Graph inputs (negative
 * values) have few readers and are counted by a scan. */
#include <stdlib.h>

#include "ir.h"

struct IrUses {
    int cap;            /* values 0..cap-1 are covered */
    int *count;         /* [cap] live reads of the value */
    int *head;          /* [cap] its first list entry, -1: none */
    int *enode, *enext; /* [nedge] an entry: the reading node, the next entry */
    int nedge, capedge;
};

static void uses_grow(IrUses *u, int v)
{
    if (v < u->cap)
        return;
    int cap = u->cap ? u->cap : 64;
    while (cap <= v)
        cap *= 2;
    u->count = xrealloc(u->count, (size_t)cap * sizeof *u->count);
    u->head = xrealloc(u->head, (size_t)cap * sizeof *u->head);
    for (int k = u->cap; k < cap; k++) {
        u->count[k] = 0;
        u->head[k] = -1;
    }
    u->cap = cap;
}

/* Node `reader` reads value v `times` times more. */
static void uses_add(IrUses *u, int v, int reader, int times)
{
    if (v < 0 || times == 0)
        return;
    uses_grow(u, v);
    u->count[v] += times;
    if (u->nedge == u->capedge) {
        u->capedge = u->capedge ? 2 * u->capedge : 256;
        u->enode = xrealloc(u->enode, (size_t)u->capedge * sizeof *u->enode);
        u->enext = xrealloc(u->enext, (size_t)u->capedge * sizeof *u->enext);
    }
    u->enode[u->nedge] = reader;
    u->enext[u->nedge] = u->head[v];
    u->head[v] = u->nedge++;
}

static int reads_of(const Node *n, int v)
{
    int c = 0;
    for (int k = 0; k < n->nin && !n->dead; k++)
        c += n->in[k] == v;
    return c;
}

static IrUses *uses_of(Graph *g)
{
    if (g->uses)
        return g->uses;
    IrUses *u = xcalloc(1, sizeof *u);
    uses_grow(u, g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin && !n->dead; k++)
            uses_add(u, n->in[k], i, 1);
    }
    g->uses = u;
    return u;
}

void ir_uses_drop(Graph *g)
{
    IrUses *u = g->uses;
    if (!u)
        return;
    free(u->count);
    free(u->head);
    free(u->enode);
    free(u->enext);
    free(u);
    g->uses = NULL;
}

void ir_read(Graph *g, int i, int v)
{
    Node *n = &g->nodes[i];
    if (n->nin == NNC_MAX_NODE_INPUTS)
        NNC_ICE("node %%%d reads more than %d values", i, NNC_MAX_NODE_INPUTS);
    n->in[n->nin++] = v;
    if (g->uses && !n->dead)
        uses_add(g->uses, v, i, 1);
}

void ir_kill(Graph *g, int i)
{
    Node *n = &g->nodes[i];
    if (n->dead)
        return;
    if (g->uses)
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && n->in[k] < g->uses->cap)
                g->uses->count[n->in[k]]--;
    n->dead = 1;
}

int ir_readers(const Graph *g, int v)
{
    if (v < 0) {
        int c = 0;
        for (int i = 0; i < g->nnodes; i++)
            c += reads_of(&g->nodes[i], v);
        return c;
    }
    const IrUses *u = uses_of((Graph *)g);
    return v < u->cap ? u->count[v] : 0;
}

int ir_reader(const Graph *g, int v)
{
    if (v < 0) {
        for (int i = 0; i < g->nnodes; i++)
            if (reads_of(&g->nodes[i], v))
                return i;
        return -1;
    }
    const IrUses *u = uses_of((Graph *)g);
    for (int e = v < u->cap ? u->head[v] : -1; e >= 0; e = u->enext[e])
        if (reads_of(&g->nodes[u->enode[e]], v))
            return u->enode[e];
    return -1;
}

/* Node i reads `to` wherever it read `from`; the number of reads moved. */
static int rewire(Node *n, int from, int to)
{
    int c = 0;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] == from) {
            n->in[k] = to;
            c++;
        }
    return c;
}

void ir_replace_uses(Graph *g, int from, int to)
{
    IrUses *u = g->uses;
    if (u && from >= 0) {
        /* the list may hold a node twice; after its first visit it no
         * longer reads `from`, so it moves once */
        for (int e = from < u->cap ? u->head[from] : -1; e >= 0; e = u->enext[e]) {
            Node *n = &g->nodes[u->enode[e]];
            if (n->dead || from == to)
                continue;
            uses_add(u, to, u->enode[e], rewire(n, from, to));
        }
        if (from < u->cap && from != to) {
            u->count[from] = 0;
            u->head[from] = -1;
        }
    } else {
        for (int i = 0; i < g->nnodes; i++) {
            Node *n = &g->nodes[i];
            if (!n->dead) {
                int moved = rewire(n, from, to);
                if (u)
                    uses_add(u, to, i, moved);
            }
        }
    }
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == from)
            g->outputs[k] = to;
}

void ir_uses_check(const Graph *g)
{
    const IrUses *u = g->uses;
    if (!u)
        return;
    int *count = xcalloc((size_t)g->nnodes + 1, sizeof *count);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin && !n->dead; k++)
            if (n->in[k] >= 0 && n->in[k] < g->nnodes)
                count[n->in[k]]++;
    }
    for (int v = 0; v < g->nnodes; v++)
        if (count[v] != (v < u->cap ? u->count[v] : 0))
            NNC_ICE("the readers index counts %d reads of %%%d, the graph has %d", v < u->cap ? u->count[v] : 0, v,
                    count[v]);
    free(count);
}
