/* autodiff.c — the autodiff pass, and the training memory plan derived from
 * the nodes it appends.
 *
 * The pass (pass_autodiff) appends to a model's forward graph: the loss on
 * the first output (its value is dloss/dy), then, for the forward nodes in
 * reverse, one backward node per node whose value has a gradient (reading
 * the node and that gradient) with one grad_input node per input slot that
 * needs a gradient (graph inputs, and views of them, need none). All readers
 * of a value come after it, so its gradient is complete before its own rule
 * runs: the first share to reach it (the last reader's) is its gradient,
 * every further share is summed into it by an accum node right after the
 * backward that made it. A view (flatten, reshape, identity) has no
 * backward: its gradient is its input's, or is summed into it. The update
 * node closes the step. A layer called twice has a backward node per call;
 * both write its parameters' gradients, and the plan sums them.
 *
 * The plan (train_plan) walks the training graph in order: a step per
 * forward node that computes (views share their input's buffer), the loss,
 * each backward (its grad_input nodes are the buffers it writes), each
 * accum and the update; a buffer per value, saved buffer and gradient
 * share, with the nodes that first write and last read it (liveness by
 * node order). Parameters no backward reaches get zero gradients. An
 * add's input gradients then take over its own gradient's buffer where that
 * is safe (alias_add_grads), so its backward copies nothing.
 * train_memplan then places the per-sample and fixed parts with the
 * memory planner of memplan.c (memplan_place: first fit among buffers whose
 * lifetimes overlap), so gradients reuse the space of activations whose
 * last reader has run. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

int pass_fuse_act(Graph *g, PassCtx *cx);

int ir_is_training(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && (op_info[g->nodes[i].op].flags & OPF_TRAIN))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- the pass */

/* Value v is a graph input or a view of one: no gradient. */
static int is_input(const Graph *g, int v)
{
    while (v >= 0 && op_is_alias(g->nodes[v].op, 1))
        v = g->nodes[v].in[0];
    return v < 0;
}

/* A node of op reading a (and b), of shape *s (NULL: none). s may point
 * into g->nodes, which adding the node moves: it is copied first. */
static int append(Graph *g, Op op, int a, int b, const Shape *s)
{
    Shape nothing = {0, {0}}, shape = s ? *s : nothing;
    int i = ir_add_node(g, op);
    if (op_info[op].nin > 0)
        ir_read(g, i, a);
    if (op_info[op].nin > 1)
        ir_read(g, i, b);
    Node *n = &g->nodes[i];
    n->shape = shape;
    n->layer = -1;
    return i;
}

/* grad[v]: the node holding value v's gradient so far; a further share
 * gets summed in. */
static void add_share(Graph *g, int *grad, int v, int share)
{
    if (grad[v] < 0)
        grad[v] = share;
    else
        grad[v] = append(g, OP_ACCUM, grad[v], share, &g->nodes[grad[v]].shape);
}

/* Slot k > 0 of node n needs no grad_input of its own: self-attention
 * (multihead_attention reading one value as q, k and v), whose kernel puts
 * the whole gradient of that value (the sum of its three uses) in the
 * first gradient buffer it gets (nnr_mha_backward_f32: NULL for the others,
 * so neither zeros nor sums of zeros). */
static int shares_first_slot(const Node *n, int k)
{
    return n->op == OP_MHA && k > 0 && n->nin == 3 && n->in[0] == n->in[1] && n->in[1] == n->in[2];
}

/* The backward of forward node i (not a view): its grad_input nodes, then
 * the sums of the shares that were not the first of their value. */
static void backward(Graph *g, int *grad, int i)
{
    int b = append(g, OP_BACKWARD, i, grad[i], NULL);
    int share[NNC_MAX_NODE_INPUTS], nin = g->nodes[i].nin;
    for (int k = 0; k < nin; k++) {
        int in = g->nodes[i].in[k];
        share[k] = -1;
        if (is_input(g, in) || shares_first_slot(&g->nodes[i], k))
            continue;
        int s = append(g, OP_GRAD_INPUT, b, -1, &g->nodes[in].shape);
        g->nodes[s].attr[0] = k;
        if (grad[in] < 0)
            grad[in] = s;
        else
            share[k] = s;
    }
    for (int k = 0; k < nin; k++)
        if (share[k] >= 0)
            add_share(g, grad, g->nodes[i].in[k], share[k]);
}

int pass_autodiff(Graph *g, PassCtx *cx)
{
    (void)cx;
    if (ir_is_training(g))
        return 0;
    int nf = g->nnodes, out = ir_output(g);
    int *grad = xcalloc((size_t)nf + 1, sizeof *grad);
    for (int i = 0; i < nf; i++)
        grad[i] = -1;
    int loss = append(g, OP_LOSS, out, -1, ir_value_shape(g, out));
    if (!is_input(g, out))
        grad[out] = loss;
    for (int i = nf - 1; i >= 0; i--) {
        if (g->nodes[i].dead || grad[i] < 0)
            continue;
        if (!op_is_alias(g->nodes[i].op, 1))
            backward(g, grad, i);
        else if (g->nodes[i].in[0] >= 0)
            add_share(g, grad, g->nodes[i].in[0], grad[i]);
    }
    append(g, OP_UPDATE, -1, -1, NULL);
    free(grad);
    return 1;
}

Graph *train_graph(const Graph *g, const int *freeze, int nfreeze, int planned)
{
    Graph *t = ir_clone(g);
    for (int k = 0; k < t->nparams; k++)
        t->params[k].frozen = t->params[k].kind == NNR_T_PARAM && ir_param_frozen(t, k, freeze, nfreeze);
    pass_autodiff(t, NULL);
    pass_fuse_act(t, NULL);     /* a training graph: relu into the linear before it */
    t->planned = planned;
    return t;
}

/* ---------------------------------------------------------------- the plan */

static int add_buf(TrainPlan *tp, char kind, int node, int64_t ps, int64_t fx)
{
    TBuf *b = &tp->bufs[tp->nbufs];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->node = node;
    b->per_sample = ps;
    b->fixed = fx;
    b->first = b->last = -1;
    return tp->nbufs++;
}

static void use(TrainPlan *tp, int buf, int step)
{
    if (buf < 0)
        return;
    TBuf *b = &tp->bufs[buf];
    if (b->first < 0 || step < b->first)
        b->first = step;
    if (step > b->last)
        b->last = step;
}

/* A new step of kind k for node, nothing read or written yet. */
static TStep *new_step(TrainPlan *tp, TStepKind k, int node, int gnode)
{
    TStep *st = &tp->steps[tp->nsteps++];
    memset(st, 0, sizeof *st);
    st->kind = k;
    st->node = node;
    st->gnode = gnode;
    st->y = st->dy = st->saved = -1;
    for (int j = 0; j < NNC_MAX_NODE_INPUTS; j++)
        st->x[j] = st->dx[j] = -1;
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
        st->psave[j] = -1;
    return st;
}

/* Record the step's buffers in their lifetimes (call once it is filled). */
static void use_step(TrainPlan *tp, const TStep *st)
{
    int s = st->gnode;  /* liveness by node order */
    for (int j = 0; j < st->nin; j++) {
        use(tp, st->x[j], s);
        use(tp, st->dx[j], s);
    }
    use(tp, st->y, s);
    use(tp, st->dy, s);
    use(tp, st->saved, s);
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
        use(tp, st->psave[j], s);
}

/* The value buffer of value v (TB_INPUT(k) for graph input k). */
static int vbuf_of(const TrainPlan *tp, int v)
{
    return v < 0 ? TB_INPUT(ir_input_index(v)) : tp->vbuf[v];
}

static void forward_step(const Graph *g, TrainPlan *tp, int i)
{
    const Node *n = &g->nodes[i];
    if (op_is_alias(n->op, 1)) {
        tp->vbuf[i] = vbuf_of(tp, n->in[0]);   /* a view of its input */
        return;
    }
    tp->vbuf[i] = add_buf(tp, 'v', i, shape_numel(&n->shape), 0);
    int64_t ps, fx;
    op_saved_size(g, n, &ps, &fx);
    if (ps || fx)
        tp->sbuf[i] = add_buf(tp, 's', i, ps, fx);
    TStep *st = new_step(tp, TS_FORWARD, i, i);
    st->nin = n->nin;
    for (int k = 0; k < n->nin; k++)
        st->x[k] = vbuf_of(tp, n->in[k]);
    st->y = tp->vbuf[i];
    st->saved = tp->sbuf[i];
    use_step(tp, st);
}

/* Walking the backward: the views of forward nodes after `upto` (in
 * reverse) whose gradient is their input's take it over, in the order the
 * pass went; *cursor is the next forward node not yet passed. */
static void pass_views(const Graph *g, TrainPlan *tp, int *cursor, int upto)
{
    for (; *cursor > upto; (*cursor)--) {
        int v = *cursor;
        const Node *n = &g->nodes[v];
        if (n->dead || (op_info[n->op].flags & OPF_TRAIN) || !op_is_alias(n->op, 1) || tp->dbuf[v] < 0)
            continue;
        if (n->in[0] >= 0 && tp->dbuf[n->in[0]] < 0)
            tp->dbuf[n->in[0]] = tp->dbuf[v];
    }
}

/* Backward node b: its step, and the buffers of its grad_input nodes
 * (first shares are their value's gradient, 'd'; further ones 'e'), which
 * gi lists: gi[nn + b] the first, gi[j] the one after node j, -1 the end. */
static int backward_step(const Graph *g, TrainPlan *tp, int b, int *gbuf, const int *gi)
{
    int i = g->nodes[b].in[0];
    const Node *n = &g->nodes[i];
    TStep *st = new_step(tp, TS_BACKWARD, i, b);
    st->nin = n->nin;
    for (int k = 0; k < n->nin; k++)
        st->x[k] = vbuf_of(tp, n->in[k]);
    for (int j = gi[g->nnodes + b]; j >= 0; j = gi[j]) {
        const Node *s = &g->nodes[j];
        int k = (int)s->attr[0], in = n->in[k];
        if (st->dx[k] >= 0) {
            tp->error = xasprintf("%%%d: a second grad_input of slot %d of backward %%%d", j, k, b);
            return -1;
        }
        int64_t ps = shape_numel(&g->nodes[in].shape);
        if (tp->dbuf[in] < 0)
            st->dx[k] = tp->dbuf[in] = add_buf(tp, 'd', in, ps, 0);
        else
            st->dx[k] = add_buf(tp, 'e', in, ps, 0);
        gbuf[j] = st->dx[k];
    }
    if (gbuf[g->nodes[b].in[1]] < 0 || gbuf[g->nodes[b].in[1]] != tp->dbuf[i]) {
        tp->error = xasprintf("backward %%%d reads %%%d, which is not the gradient of %%%d (the sum of its "
                              "readers' shares)", b, g->nodes[b].in[1], i);
        return -1;
    }
    st->y = tp->vbuf[i];
    st->dy = tp->dbuf[i];
    st->saved = tp->sbuf[i];
    for (int j = 0; j < n->nparam; j++) {
        int p = n->param[j];
        if (p < 0 || g->params[p].kind != NNR_T_PARAM)
            continue;
        if (tp->pwritten[p])
            st->psave[j] = add_buf(tp, 'p', i, 0, g->params[p].numel);
        tp->pwritten[p] = 1;
    }
    use_step(tp, st);
    return 0;
}

static void alloc_plan(const Graph *g, TrainPlan *tp)
{
    int nn = g->nnodes, maxin = 0;
    for (int i = 0; i < nn; i++)
        maxin += g->nodes[i].nin;
    memset(tp, 0, sizeof *tp);
    tp->steps = xcalloc((size_t)nn + 1, sizeof *tp->steps);
    tp->bufs = xcalloc((size_t)(3 * nn + maxin + NNC_MAX_NODE_PARAMS * nn + 3), sizeof *tp->bufs);
    tp->vbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->dbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->sbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->pwritten = xcalloc((size_t)g->nparams + 1, 1);
    tp->updated = xcalloc((size_t)g->nparams + 1, 1);
    for (int i = 0; i < nn; i++)
        tp->vbuf[i] = tp->dbuf[i] = tp->sbuf[i] = -1;
}

static void train_memplan(TrainPlan *tp, int reuse);
static void alias_add_grads(const Graph *g, TrainPlan *tp);

int train_plan(const Graph *g, TrainPlan *tp)
{
    alloc_plan(g, tp);
    int nn = g->nnodes, cursor = -1;
    int *gbuf = xcalloc((size_t)nn + 1, sizeof *gbuf);   /* [gradient node] its buffer */
    for (int i = 0; i < nn; i++)
        gbuf[i] = -1;
    /* the grad_input nodes of each backward node, in order (one walk, not
     * one per backward node: a training graph of 10^4 layers) */
    int *gi = xcalloc(2 * (size_t)nn + 1, sizeof *gi);
    for (int j = 0; j < 2 * nn; j++)
        gi[j] = -1;
    for (int j = nn - 1; j >= 0; j--) {
        const Node *s = &g->nodes[j];
        if (!s->dead && s->op == OP_GRAD_INPUT && s->in[0] >= 0 && s->in[0] < j) {
            gi[j] = gi[nn + s->in[0]];
            gi[nn + s->in[0]] = j;
        }
    }
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (!(op_info[n->op].flags & OPF_TRAIN)) {
            forward_step(g, tp, i);
            cursor = i;
            continue;
        }
        if (n->op == OP_LOSS) {
            int out = n->in[0];
            TStep *ls = new_step(tp, TS_LOSS, out, i);
            ls->nin = 1;
            ls->x[0] = vbuf_of(tp, out);
            if (out >= 0 && ls->x[0] >= 0) {
                const TBuf *yb = &tp->bufs[ls->x[0]];
                gbuf[i] = tp->dbuf[out] = ls->dy = add_buf(tp, 'd', yb->node, yb->per_sample, 0);
            }
            use_step(tp, ls);
        } else if (n->op == OP_BACKWARD) {
            pass_views(g, tp, &cursor, n->in[0]);
            if (backward_step(g, tp, i, gbuf, gi))
                break;
        } else if (n->op == OP_ACCUM) {
            int d = gbuf[n->in[0]];
            if (d < 0 || gbuf[n->in[1]] < 0) {
                tp->error = xasprintf("accum %%%d: it adds a gradient the training step does not compute", i);
                break;
            }
            TStep *acc = new_step(tp, TS_ACCUM, tp->bufs[d].node, i);
            acc->nin = 1;
            acc->dx[0] = gbuf[n->in[1]];
            acc->dy = gbuf[i] = d;
            use_step(tp, acc);
        } else if (n->op == OP_UPDATE) {
            pass_views(g, tp, &cursor, -1);
            for (int k = 0; k < g->nparams; k++)
                tp->updated[k] = g->params[k].kind == NNR_T_PARAM && !g->params[k].frozen;
            use_step(tp, new_step(tp, TS_UPDATE, -1, i));
        }
    }
    free(gbuf);
    free(gi);
    if (tp->error)
        return -1;
    alias_add_grads(g, tp);
    train_memplan(tp, g->planned);
    return 0;
}

/* ------------------------------------------- an add's gradients aliased */

static int rep_of(const int *rep, int b)
{
    while (b >= 0 && rep[b] != b)
        b = rep[b];
    return b;
}

/* The node order of the first step after step s that writes buffer b (a
 * sum into it, a backward or the loss writing it), INT_MAX when none does
 * while b lives. */
static int first_write_after(const TrainPlan *tp, const int *rep, int s, int b)
{
    for (int t = s + 1; t < tp->nsteps && tp->steps[t].gnode <= tp->bufs[b].last; t++) {
        const TStep *st = &tp->steps[t];
        if ((st->kind == TS_ACCUM || st->kind == TS_LOSS) && rep_of(rep, st->dy) == b)
            return st->gnode;
        for (int k = 0; st->kind == TS_BACKWARD && k < st->nin; k++)
            if (rep_of(rep, st->dx[k]) == b)
                return st->gnode;
    }
    return INT_MAX;
}

/* Every buffer of the plan renamed to its representative, the others
 * dropped (indices renumbered). */
static void apply_aliases(const Graph *g, TrainPlan *tp, const int *rep)
{
    int *to = xcalloc((size_t)tp->nbufs + 1, sizeof *to), nb = 0;
    for (int b = 0; b < tp->nbufs; b++)
        if (rep[b] == b) {
            tp->bufs[nb] = tp->bufs[b];
            to[b] = nb++;
        }
#define REMAP(v) ((v) = (v) >= 0 ? to[rep_of(rep, (v))] : (v))
    for (int t = 0; t < tp->nsteps; t++) {
        TStep *st = &tp->steps[t];
        for (int k = 0; k < NNC_MAX_NODE_INPUTS; k++) {
            REMAP(st->x[k]);
            REMAP(st->dx[k]);
        }
        REMAP(st->y);
        REMAP(st->dy);
        REMAP(st->saved);
        for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
            REMAP(st->psave[j]);
    }
    for (int i = 0; i < g->nnodes; i++) {
        REMAP(tp->vbuf[i]);
        REMAP(tp->dbuf[i]);
        REMAP(tp->sbuf[i]);
    }
#undef REMAP
    tp->nbufs = nb;
    free(to);
}

/* The backward of an add copies its gradient dy to both inputs' gradients
 * (or shares). Where no operand broadcasts, dy's buffer dies with that
 * step: the first input's buffer becomes dy's (nothing copied), and the
 * second's as well when neither input's gradient is written (a further
 * reader's share summed in) before the other's last read. The kernel
 * (nnr_binary_backward_f32) copies nothing where a gradient is dy. */
static void alias_add_grads(const Graph *g, TrainPlan *tp)
{
    int *rep = xcalloc((size_t)tp->nbufs + 1, sizeof *rep), any = 0;
    for (int b = 0; b < tp->nbufs; b++)
        rep[b] = b;
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        if (st->kind != TS_BACKWARD || g->nodes[st->node].op != OP_ADD)
            continue;
        const Node *n = &g->nodes[st->node];
        int64_t numel = shape_numel(&n->shape);
        int d = rep_of(rep, st->dy), merged = 0;
        if (d < 0 || tp->bufs[d].last != st->gnode || shape_numel(ir_value_shape(g, n->in[0])) != numel ||
            shape_numel(ir_value_shape(g, n->in[1])) != numel)
            continue;
        for (int k = 0; k < 2; k++) {
            int x = rep_of(rep, st->dx[k]);
            TBuf *bx = x >= 0 ? &tp->bufs[x] : NULL, *bd = &tp->bufs[d];
            if (!bx || x == d || bx->per_sample != bd->per_sample || bx->fixed || bd->fixed)
                continue;
            if (bx->first != st->gnode)
                continue;   /* (its share is made here) */
            if (merged && (first_write_after(tp, rep, s, d) <= bx->last ||
                           first_write_after(tp, rep, s, x) <= bd->last))
                continue;
            rep[x] = d;
            if (bx->last > bd->last)
                bd->last = bx->last;
            merged = any = 1;
        }
    }
    if (any)
        apply_aliases(g, tp, rep);
    free(rep);
}

/* The arena: the per-sample and the fixed parts of the buffers, each
 * placed by the memory planner (memplan_place) over their lifetimes. */
static void train_memplan(TrainPlan *tp, int reuse)
{
    MemBlock *ps = xcalloc((size_t)tp->nbufs + 1, sizeof *ps), *fx = xcalloc((size_t)tp->nbufs + 1, sizeof *fx);
    tp->unplanned_ps = tp->unplanned_fx = 0;
    for (int i = 0; i < tp->nbufs; i++) {
        const TBuf *b = &tp->bufs[i];
        ps[i] = (MemBlock){b->per_sample, b->first, b->last, 0};
        fx[i] = (MemBlock){b->fixed, b->first, b->last, 0};
        tp->unplanned_ps += b->per_sample;
        tp->unplanned_fx += b->fixed;
    }
    tp->per_sample = memplan_place(ps, tp->nbufs, reuse);
    tp->fixed = memplan_place(fx, tp->nbufs, reuse);
    for (int i = 0; i < tp->nbufs; i++) {
        tp->bufs[i].off_ps = ps[i].off;
        tp->bufs[i].off_fx = fx[i].off;
    }
    free(ps);
    free(fx);
}

void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out)
{
    fprintf(out, "# training step of %s: %d steps; arena %lld floats per sample + %lld fixed "
                 "(%lld + %lld with one buffer each)\n", g->name, tp->nsteps, (long long)tp->per_sample,
            (long long)tp->fixed, (long long)tp->unplanned_ps, (long long)tp->unplanned_fx);
    for (int b = 0; b < tp->nbufs; b++) {
        const TBuf *t = &tp->bufs[b];
        fprintf(out, "# buffer %c%d n*%lld+%lld at n*%lld+%lld live %d..%d\n", t->kind, t->node,
                (long long)t->per_sample, (long long)t->fixed, (long long)t->off_ps, (long long)t->off_fx,
                t->first, t->last);
    }
}
