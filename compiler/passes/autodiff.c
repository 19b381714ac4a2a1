/* autodiff.c — derive the training step of a model graph.
 *
 * Forward: every non-view node in order, writing its own value buffer (views
 * — flatten, identity — share their input's). Then the loss, which writes
 * the gradient of the output. Backward: the nodes in reverse; a node whose
 * input needs a gradient (the input is a node, not the model input) gets a
 * gradient buffer for it; a view passes its gradient buffer through. The
 * optimizer update closes the step. Liveness then lets gradient buffers
 * reuse the space of activations whose last reader has run.
 *
 * The ops of the table read one value each; a value that needs a gradient
 * must have one reader (summing the gradients of a value read twice is not
 * derived yet), which every graph the front end lowers satisfies. */
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

static void add_step(TrainPlan *tp, TStepKind k, int node, int x, int y, int dx, int dy, int saved)
{
    int s = tp->nsteps++;
    tp->steps[s] = (TStep){k, node, x, y, dx, dy, saved};
    if (x >= 0) use(tp, x, s);
    use(tp, y, s);
    use(tp, dx, s);
    use(tp, dy, s);
    use(tp, saved, s);
}

void autodiff(const Graph *g, const int *freeze, int nfreeze, TrainPlan *tp)
{
    int nn = g->nnodes;
    memset(tp, 0, sizeof *tp);
    tp->steps = xcalloc((size_t)(2 * nn + 3), sizeof *tp->steps);
    tp->bufs = xcalloc((size_t)(3 * nn + 3), sizeof *tp->bufs);
    tp->vbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->dbuf = xcalloc((size_t)nn + 1, sizeof(int));
    tp->sbuf = xcalloc((size_t)nn + 1, sizeof(int));
    for (int i = 0; i < nn; i++)
        tp->vbuf[i] = tp->dbuf[i] = tp->sbuf[i] = -1;

    /* forward, training mode */
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (n->nin != 1)
            NNC_ICE("autodiff: node %%%d (%s) reads %d values", i, op_info[n->op].name, n->nin);
        if (n->in[0] >= 0 && ir_readers(g, n->in[0]) != 1)
            NNC_ICE("autodiff: %%%d has %d readers; summing their gradients is not derived yet", n->in[0],
                    ir_readers(g, n->in[0]));
        int x = n->in[0] < 0 ? -2 : tp->vbuf[n->in[0]];
        if (op_is_alias(n->op, 1)) {
            tp->vbuf[i] = x < 0 ? -2 : x;   /* a view of its input */
            continue;
        }
        tp->vbuf[i] = add_buf(tp, 'v', i, shape_numel(&n->shape), 0);
        int64_t ps, fx;
        op_saved_size(g, n, &ps, &fx);
        if (ps || fx)
            tp->sbuf[i] = add_buf(tp, 's', i, ps, fx);
        add_step(tp, TS_FORWARD, i, x, tp->vbuf[i], -1, -1, tp->sbuf[i]);
    }
    /* the loss: reads the output, writes its gradient */
    int out = ir_output(g);
    int yo = out >= 0 ? tp->vbuf[out] : -2;
    int dyo = -1;
    if (out >= 0 && yo >= 0) {
        int root = tp->bufs[yo].node;
        dyo = add_buf(tp, 'd', root, tp->bufs[yo].per_sample, 0);
        tp->dbuf[out] = dyo;
    }
    add_step(tp, TS_LOSS, out, yo, -1, -1, dyo, -1);
    /* backward, in reverse */
    for (int i = nn - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        if (n->dead || tp->dbuf[i] < 0)
            continue;
        int in = n->in[0];
        int wants = in >= 0 && tp->vbuf[in] >= 0;
        if (op_is_alias(n->op, 1)) {
            if (wants)
                tp->dbuf[in] = tp->dbuf[i];
            continue;
        }
        if (wants && tp->dbuf[in] < 0)
            tp->dbuf[in] = add_buf(tp, 'd', in, tp->bufs[tp->vbuf[in]].per_sample, 0);
        add_step(tp, TS_BACKWARD, i, in < 0 ? -2 : tp->vbuf[in], tp->vbuf[i], wants ? tp->dbuf[in] : -1,
                 tp->dbuf[i], tp->sbuf[i]);
    }
    /* the update: trainable parameters of layers that are not frozen */
    tp->updated = xcalloc((size_t)g->nparams + 1, 1);
    for (int k = 0; k < g->nparams; k++) {
        const Param *p = &g->params[k];
        int frozen = 0;
        for (int f = 0; f < nfreeze; f++)
            frozen |= freeze[f] == p->layer;
        tp->updated[k] = p->kind == NNR_T_PARAM && !frozen;
    }
    add_step(tp, TS_UPDATE, -1, -1, -1, -1, -1, -1);
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
    if (b == -2)
        fprintf(out, "%%in");
    else if (b < 0)
        fprintf(out, "-");
    else
        fprintf(out, "%c%d", tp->bufs[b].kind, tp->bufs[b].node);
}

void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out)
{
    static const char *kinds[] = {"forward", "loss", "backward", "update"};
    fprintf(out, "# training step of %s: %d steps; arena %lld floats per sample + %lld fixed "
                 "(%lld + %lld with one buffer each)\n", g->name, tp->nsteps, (long long)tp->per_sample,
            (long long)tp->fixed, (long long)tp->unplanned_ps, (long long)tp->unplanned_fx);
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        fprintf(out, "%-8s", kinds[st->kind]);
        if (st->node >= 0 && st->kind != TS_LOSS)
            fprintf(out, " %%%d %-12s", st->node, op_info[g->nodes[st->node].op].name);
        if (st->kind == TS_FORWARD) {
            fprintf(out, " ");
            pbuf(out, tp, st->y);
            fprintf(out, " = f(");
            pbuf(out, tp, st->x);
            fprintf(out, ")");
        } else if (st->kind == TS_LOSS) {
            fprintf(out, " ");
            pbuf(out, tp, st->dy);
            fprintf(out, " = dloss/d(");
            pbuf(out, tp, st->x);
            fprintf(out, ")");
        } else if (st->kind == TS_BACKWARD) {
            fprintf(out, " ");
            pbuf(out, tp, st->dx);
            fprintf(out, ", dparams = grad(");
            pbuf(out, tp, st->dy);
            fprintf(out, "; ");
            pbuf(out, tp, st->x);
            fprintf(out, ", ");
            pbuf(out, tp, st->y);
            fprintf(out, ")");
        } else {
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
