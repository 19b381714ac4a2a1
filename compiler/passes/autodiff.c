/* autodiff.c — derive the training step of a model graph (a DAG).
 *
 * Forward: every non-view node in order, writing its own value buffer (views
 * — flatten, identity — share their input's). Then the loss on the first
 * output, which writes that output's gradient. Backward: the nodes in
 * reverse; a node whose value has a gradient runs its op's gradient rule,
 * which writes a gradient for each input slot that needs one (graph inputs
 * need none). All readers of a value come after it, so its gradient is
 * complete before its own rule runs: the first rule to reach it (the last
 * reader) writes the value's gradient buffer, every other reader writes an
 * 'e' buffer that a TS_ACCUM step adds in right after; a view passes its
 * gradient buffer through the same way. A layer called twice shares its
 * parameters: the second rule to write their gradients runs with the first
 * one's kept aside ('p' buffers) and added back. Parameters no rule reaches
 * get zero gradients. The optimizer update closes the step. Liveness then
 * lets gradient buffers reuse the space of activations whose last reader
 * has run. */
#include <string.h>

#include "autodiff.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

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
static TStep *new_step(TrainPlan *tp, TStepKind k, int node)
{
    TStep *st = &tp->steps[tp->nsteps++];
    memset(st, 0, sizeof *st);
    st->kind = k;
    st->node = node;
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
    int s = (int)(st - tp->steps);
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

static void forward_steps(const Graph *g, TrainPlan *tp)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (op_is_alias(n->op, 1)) {
            tp->vbuf[i] = vbuf_of(tp, n->in[0]);   /* a view of its input */
            continue;
        }
        tp->vbuf[i] = add_buf(tp, 'v', i, shape_numel(&n->shape), 0);
        int64_t ps, fx;
        op_saved_size(g, n, &ps, &fx);
        if (ps || fx)
            tp->sbuf[i] = add_buf(tp, 's', i, ps, fx);
        TStep *st = new_step(tp, TS_FORWARD, i);
        st->nin = n->nin;
        for (int k = 0; k < n->nin; k++)
            st->x[k] = vbuf_of(tp, n->in[k]);
        st->y = tp->vbuf[i];
        st->saved = tp->sbuf[i];
        use_step(tp, st);
    }
}

/* Node i (a view) passes its gradient buffer to its input, or adds it in. */
static void backward_view(const Graph *g, TrainPlan *tp, int i)
{
    int in = g->nodes[i].in[0];
    if (in < 0)
        return;
    if (tp->dbuf[in] < 0) {
        tp->dbuf[in] = tp->dbuf[i];
        return;
    }
    TStep *acc = new_step(tp, TS_ACCUM, in);
    acc->nin = 1;
    acc->dx[0] = tp->dbuf[i];
    acc->dy = tp->dbuf[in];
    use_step(tp, acc);
}

static void backward_step(const Graph *g, TrainPlan *tp, int i)
{
    const Node *n = &g->nodes[i];
    TStep *st = new_step(tp, TS_BACKWARD, i);
    int s = (int)(st - tp->steps);
    int extra[NNC_MAX_NODE_INPUTS];
    st->nin = n->nin;
    for (int k = 0; k < n->nin; k++) {
        int in = n->in[k];
        st->x[k] = vbuf_of(tp, in);
        extra[k] = -1;
        if (in < 0 || tp->vbuf[in] < 0)
            continue;   /* a graph input, or a view of one: no gradient */
        int64_t ps = shape_numel(&g->nodes[in].shape);
        if (tp->dbuf[in] < 0)
            st->dx[k] = tp->dbuf[in] = add_buf(tp, 'd', in, ps, 0);
        else
            st->dx[k] = extra[k] = add_buf(tp, 'e', in, ps, 0);
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
    (void)s;
    for (int k = 0; k < n->nin; k++) {
        if (extra[k] < 0)
            continue;
        TStep *acc = new_step(tp, TS_ACCUM, n->in[k]);
        acc->nin = 1;
        acc->dx[0] = extra[k];
        acc->dy = tp->dbuf[n->in[k]];
        use_step(tp, acc);
    }
}

void autodiff(const Graph *g, const int *freeze, int nfreeze, TrainPlan *tp)
{
    int nn = g->nnodes, maxin = 0;
    for (int i = 0; i < nn; i++)
        maxin += g->nodes[i].nin;
    memset(tp, 0, sizeof *tp);
    tp->steps = xcalloc((size_t)(2 * nn + maxin + 3), sizeof *tp->steps);
    tp->bufs = xcalloc((size_t)(3 * nn + maxin + NNC_MAX_NODE_PARAMS * nn + 3), sizeof *tp->bufs);
    tp->vbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->dbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->sbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->pwritten = xcalloc((size_t)g->nparams + 1, 1);
    for (int i = 0; i < nn; i++)
        tp->vbuf[i] = tp->dbuf[i] = tp->sbuf[i] = -1;

    forward_steps(g, tp);
    /* the loss: reads the first output, writes its gradient */
    int out = ir_output(g);
    TStep *ls = new_step(tp, TS_LOSS, out);
    ls->nin = 1;
    ls->x[0] = vbuf_of(tp, out);
    if (out >= 0 && ls->x[0] >= 0) {
        const TBuf *yb = &tp->bufs[ls->x[0]];
        tp->dbuf[out] = ls->dy = add_buf(tp, 'd', yb->node, yb->per_sample, 0);
    }
    use_step(tp, ls);
    /* backward, in reverse */
    for (int i = nn - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        if (n->dead || tp->dbuf[i] < 0)
            continue;
        if (op_is_alias(n->op, 1))
            backward_view(g, tp, i);
        else
            backward_step(g, tp, i);
    }
    /* the update: trainable parameters of layers that are not frozen */
    tp->updated = xcalloc((size_t)g->nparams + 1, 1);
    for (int k = 0; k < g->nparams; k++) {
        const Param *p = &g->params[k];
        tp->updated[k] = p->kind == NNR_T_PARAM && !ir_param_frozen(g, k, freeze, nfreeze);
    }
    TStep *up = new_step(tp, TS_UPDATE, -1);
    use_step(tp, up);
}

void train_memplan(TrainPlan *tp, int reuse)
{
    tp->per_sample = tp->fixed = tp->unplanned_ps = tp->unplanned_fx = 0;
    for (int i = 0; i < tp->nbufs; i++) {
        TBuf *b = &tp->bufs[i];
        tp->unplanned_ps += b->per_sample;
        tp->unplanned_fx += b->fixed;
        /* per-sample and fixed parts are placed in two regions, each first-fit
         * among the buffers whose lifetimes overlap this one's */
        int64_t ps = 0, fx = 0;
        if (reuse) {
            for (int moved = 1; moved;) {
                moved = 0;
                for (int j = 0; j < i; j++) {
                    const TBuf *o = &tp->bufs[j];
                    int overlap = !(o->last < b->first || b->last < o->first);
                    if (!overlap)
                        continue;
                    if (b->per_sample && o->per_sample && ps < o->off_ps + o->per_sample &&
                        o->off_ps < ps + b->per_sample) {
                        ps = o->off_ps + o->per_sample;
                        moved = 1;
                    }
                    if (b->fixed && o->fixed && fx < o->off_fx + o->fixed && o->off_fx < fx + b->fixed) {
                        fx = o->off_fx + o->fixed;
                        moved = 1;
                    }
                }
            }
        } else {
            ps = tp->per_sample;
            fx = tp->fixed;
        }
        b->off_ps = ps;
        b->off_fx = fx;
        if (ps + b->per_sample > tp->per_sample)
            tp->per_sample = ps + b->per_sample;
        if (fx + b->fixed > tp->fixed)
            tp->fixed = fx + b->fixed;
    }
}

static void pbuf(FILE *out, const TrainPlan *tp, int b)
{
    if (b <= TB_INPUT(0)) {
        if (b == TB_INPUT(0))
            fprintf(out, "%%in");
        else
            fprintf(out, "%%in%d", -2 - b);
    } else if (b < 0) {
        fprintf(out, "-");
    } else {
        fprintf(out, "%c%d", tp->bufs[b].kind, tp->bufs[b].node);
    }
}

static void pbufs(FILE *out, const TrainPlan *tp, const int *b, int n)
{
    for (int j = 0; j < n; j++) {
        if (j)
            fprintf(out, ", ");
        pbuf(out, tp, b[j]);
    }
}

static void print_update(const Graph *g, const TrainPlan *tp, FILE *out)
{
    int64_t nt = 0, nf = 0;
    fprintf(out, " optimizer(");
    for (int k = 0; k < g->nparams; k++)
        if (tp->updated[k]) {
            fprintf(out, "%s%s", nt ? ", " : "", g->params[k].name);
            nt++;
            nf += g->params[k].numel;
        }
    fprintf(out, ")  %lld tensors, %lld floats", (long long)nt, (long long)nf);
}

void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out)
{
    static const char *kinds[] = {"forward", "loss", "backward", "update", "accum"};
    fprintf(out, "# training step of %s: %d steps; arena %lld floats per sample + %lld fixed "
                 "(%lld + %lld with one buffer each)\n", g->name, tp->nsteps, (long long)tp->per_sample,
            (long long)tp->fixed, (long long)tp->unplanned_ps, (long long)tp->unplanned_fx);
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        fprintf(out, "%-8s", kinds[st->kind]);
        if (st->node >= 0 && (st->kind == TS_FORWARD || st->kind == TS_BACKWARD))
            fprintf(out, " %%%d %-12s", st->node, op_info[g->nodes[st->node].op].name);
        if (st->kind == TS_FORWARD) {
            fprintf(out, " ");
            pbuf(out, tp, st->y);
            fprintf(out, " = f(");
            pbufs(out, tp, st->x, st->nin);
            fprintf(out, ")");
        } else if (st->kind == TS_LOSS) {
            fprintf(out, " ");
            pbuf(out, tp, st->dy);
            fprintf(out, " = dloss/d(");
            pbuf(out, tp, st->x[0]);
            fprintf(out, ")");
        } else if (st->kind == TS_BACKWARD) {
            fprintf(out, " ");
            pbufs(out, tp, st->dx, st->nin);
            fprintf(out, ", dparams = grad(");
            pbuf(out, tp, st->dy);
            fprintf(out, "; ");
            pbufs(out, tp, st->x, st->nin);
            fprintf(out, ", ");
            pbuf(out, tp, st->y);
            fprintf(out, ")");
            for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
                if (st->psave[j] >= 0)
                    fprintf(out, " summing %s", g->params[g->nodes[st->node].param[j]].name);
        } else if (st->kind == TS_ACCUM) {
            fprintf(out, " ");
            pbuf(out, tp, st->dy);
            fprintf(out, " += ");
            pbuf(out, tp, st->dx[0]);
        } else {
            print_update(g, tp, out);
        }
        if (st->saved >= 0) {
            fprintf(out, " saved ");
            pbuf(out, tp, st->saved);
        }
        fprintf(out, "\n");
    }
    for (int b = 0; b < tp->nbufs; b++) {
        const TBuf *t = &tp->bufs[b];
        fprintf(out, "buffer ");
        pbuf(out, tp, b);
        fprintf(out, " n*%lld+%lld at n*%lld+%lld live %d..%d\n", (long long)t->per_sample, (long long)t->fixed,
                (long long)t->off_ps, (long long)t->off_fx, t->first, t->last);
    }
}
