/* train_walk.c — the training step as a walk over the training graph's
 * steps, shared by the C and LLVM backends (see train_walk.h). */
#include <string.h>

#include "train_walk.h"
#include "emit_c.h"
#include "nnr_prog.h"

const char *train_buf_name(const TrainPlan *tp, int b)
{
    const TBuf *t = &tp->bufs[b];
    if (t->kind == 'e' || t->kind == 'p')
        return xasprintf("%c%d_%d", t->kind, t->node, b);
    return xasprintf("%c%d", t->kind == 'v' ? 't' : t->kind, t->node);
}

/* The C expression of a plan buffer or graph input. */
static const char *buf_c(const Graph *g, const TrainPlan *tp, int b)
{
    if (b <= TB_INPUT(0))
        return emit_c_input_name(g, -2 - b);
    return b >= 0 ? train_buf_name(tp, b) : NULL;
}

static int *value_ints(const Graph *g)
{
    int *a = xcalloc((size_t)g->nnodes + (size_t)g->ninputs + 2, sizeof *a);
    for (int i = 0; i < g->nnodes + g->ninputs + 1; i++)
        a[i] = -1;
    return a + g->ninputs;      /* [v + 1] for v >= -ninputs */
}

void train_walk_init(TrainWalk *w, const Graph *g, const TrainPlan *tp, const TrainWalkOps *ops, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->g = g;
    w->tp = tp;
    w->ops = ops;
    w->ctx = ctx;
    w->vb = value_ints(g);
    w->db = value_ints(g);
    w->sb = value_ints(g);
    w->fused = xcalloc((size_t)g->nnodes + 1, sizeof *w->fused);
    const char **val = emit_c_value_array(g);
    w->e = (EmitCtx){.g = g, .val = val, .dval = emit_c_value_array(g), .saved = emit_c_value_array(g),
                     .training = 1};
    /* each node's gradient buffer, named once (not once per backward step:
     * a training graph of 10^4 layers) */
    w->dname = emit_c_value_array(g);
    for (int i = 0; i < g->nnodes; i++) {
        w->db[i + 1] = tp->dbuf[i];
        w->dname[i + 1] = w->e.dval[i + 1] = tp->dbuf[i] >= 0 ? train_buf_name(tp, tp->dbuf[i]) : NULL;
    }
    for (int k = 0; k < g->ninputs; k++) {
        val[-k] = emit_c_input_name(g, k);
        w->vb[-k] = TB_INPUT(k);
    }
    /* node values: views resolve to their root's buffer */
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead)
            continue;
        w->vb[i + 1] = tp->vbuf[i];
        val[i + 1] = buf_c(g, tp, tp->vbuf[i]);
        w->sb[i + 1] = tp->sbuf[i];
        if (tp->sbuf[i] >= 0)
            w->e.saved[i + 1] = train_buf_name(tp, tp->sbuf[i]);
    }
    /* a linear that runs the relu after it (fuse-act marked it): its value
     * is the relu's buffer, and the relu's step computes nothing */
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        if (st->kind != TS_FORWARD || g->nodes[st->node].fused_act < 0)
            continue;
        int r = s + 1 < tp->nsteps && tp->steps[s + 1].kind == TS_FORWARD ? tp->steps[s + 1].node : -1;
        if (r < 0 || (int)g->nodes[r].op != g->nodes[st->node].fused_act || g->nodes[r].in[0] != st->node)
            NNC_ICE("%%%d fuses %s, but the next step does not compute it", st->node,
                    op_info[g->nodes[st->node].fused_act].name);
        w->fused[r] = 1;
        val[st->node + 1] = val[r + 1];
        w->vb[st->node + 1] = w->vb[r + 1];
    }
}

static void forward_step(TrainWalk *w, int s)
{
    const TrainPlan *tp = w->tp;
    const TStep *st = &tp->steps[s];
    const Node *nd = &w->g->nodes[st->node];
    const char *file = emit_c_relpath(w->g->file);
    if (w->fused[st->node])
        return;     /* run by the linear before it */
    if (nd->fused_act >= 0) {  /* the node after it: the relu it runs (fuse-act) */
        const Node *nr = &w->g->nodes[tp->steps[s + 1].node];
        w->ops->decl(w, tp->steps[s + 1].y, &nr->shape);
        w->ops->decl(w, st->saved, NULL);   /* a batchnorm's statistics */
        w->ops->comment(w, xasprintf("%s:%d:%d: %s + %s:%d:%d: %s", file, nd->span.line, nd->span.col,
                                     op_info[nd->op].name, file, nr->span.line, nr->span.col, op_info[nr->op].name));
        op_hooks[nd->op].emit_train(&w->e, nd);
        return;
    }
    w->ops->decl(w, st->y, &nd->shape);
    w->ops->decl(w, st->saved, NULL);
    w->ops->comment(w, xasprintf("%s:%d:%d: %s", file, nd->span.line, nd->span.col, op_info[nd->op].name));
    op_hooks[nd->op].emit_train(&w->e, nd);
}

static void backward_step(TrainWalk *w, const TStep *st)
{
    const Graph *g = w->g;
    const TrainPlan *tp = w->tp;
    const Node *nd = &g->nodes[st->node];
    const char **dval = (const char **)w->e.dval;
    if (w->dover > 0) {     /* the node gradient the step before renamed: its own again */
        w->db[w->dover] = tp->dbuf[w->dover - 1];
        dval[w->dover] = w->dname[w->dover];
    }
    w->dover = 0;
    for (int k = 0; k < nd->nin; k++) {
        int in = nd->in[k];
        w->ops->decl(w, st->dx[k], in >= 0 ? &g->nodes[in].shape : NULL);
        w->dinb[k] = st->dx[k];
        w->e.din[k] = st->dx[k] >= 0 ? train_buf_name(tp, st->dx[k]) : NULL;
    }
    if (nd->nin > 0) {
        dval[nd->in[0] + 1] = w->e.din[0];
        w->db[nd->in[0] + 1] = w->dinb[0];
        w->dover = nd->in[0] + 1;   /* > 0 for a node; an input's stays renamed, as before */
    }
    w->ops->comment(w, xasprintf("d %s", op_info[nd->op].name));
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++) {
        if (st->psave[j] < 0)
            continue;
        w->ops->decl(w, st->psave[j], NULL);
        w->ops->keep_param(w, nd->param[j], st->psave[j], 1);
    }
    op_hooks[nd->op].grad(&w->e, nd);
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
        if (st->psave[j] >= 0)
            w->ops->keep_param(w, nd->param[j], st->psave[j], 0);
    for (int k = 0; k < NNC_MAX_NODE_INPUTS; k++) {
        w->e.din[k] = NULL;
        w->dinb[k] = -1;
    }
}

/* Parameters no gradient rule reaches (a layer that feeds only other
 * outputs) get zero gradients, so the update never reads stale ones. */
static void zero_unreached(TrainWalk *w)
{
    const Graph *g = w->g;
    for (int k = 0; k < g->nparams; k++) {
        const Param *p = &g->params[k];
        if (p->kind == NNR_T_PARAM && !p->fold && !w->tp->pwritten[k])
            w->ops->zero_param(w, k);
    }
}

void train_walk(TrainWalk *w)
{
    const TrainPlan *tp = w->tp;
    int phase = -1;
    for (int k = 0; k < NNC_MAX_NODE_INPUTS; k++)
        w->dinb[k] = -1;
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        if (st->kind == TS_UPDATE)
            continue;   /* the program's */
        int ph = st->kind == TS_ACCUM ? TS_BACKWARD : (int)st->kind;
        if (ph != phase) {
            static const char *title[] = {"\nforward, training mode", "\nloss",
                                          "\nbackward: each node's gradient rule, in reverse"};
            w->ops->comment(w, title[ph]);
            if (ph == TS_BACKWARD)
                zero_unreached(w);
            phase = ph;
        }
        if (st->kind == TS_FORWARD) {
            forward_step(w, s);
        } else if (st->kind == TS_LOSS) {
            w->ops->decl(w, st->dy, st->node >= 0 ? ir_value_shape(w->g, st->node) : NULL);
            w->ops->loss(w, st);
        } else if (st->kind == TS_BACKWARD) {
            backward_step(w, st);
        } else {
            w->ops->acc(w, st->dy, st->dx[0], tp->bufs[st->dx[0]].per_sample);
        }
    }
}
