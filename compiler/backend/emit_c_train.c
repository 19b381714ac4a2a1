/* emit_c_train.c — the C backend's training step: NAME_train_step and
 * NAME_train_arena, following the training graph of the autodiff pass (its
 * steps in order: the forward in training mode, the loss, the backward by
 * each op's gradient rule with the shares of a value read several times
 * summed) over the buffers the training memory plan placed. The optimizer update,
 * the plan's last step, is the driver's flat loop over the trainable
 * tensors (runtime/prog_train.c), so that a non-finite loss can be rolled
 * back before any parameter moves. */
#include <string.h>

#include "emit_c.h"
#include "../ops/ops.h"
#include "../passes/autodiff.h"
#include "nnr_prog.h"

static const char *tbuf_expr(const TrainPlan *tp, int b)
{
    const TBuf *t = &tp->bufs[b];   /* a buffer is per sample or fixed, never both */
    if (t->per_sample)
        return xasprintf("(arena + (size_t)n * %lld)", (long long)t->off_ps);
    return xasprintf("(fixed + %lld)", (long long)t->off_fx);
}

/* "t5" (value of node 5), "d5" (its gradient), "s5" (saved); shares and
 * kept parameter gradients are numbered by buffer ("e5_12", "p7_13"). */
static const char *tbuf_name(const TrainPlan *tp, int b)
{
    const TBuf *t = &tp->bufs[b];
    if (t->kind == 'e' || t->kind == 'p')
        return xasprintf("%c%d_%d", t->kind, t->node, b);
    return xasprintf("%c%d", t->kind == 'v' ? 't' : t->kind, t->node);
}

/* The C expression of a plan buffer or graph input. */
static const char *tbuf_c(const Graph *g, const TrainPlan *tp, int b)
{
    if (b <= TB_INPUT(0))
        return emit_c_input_name(g, -2 - b);
    return b >= 0 ? tbuf_name(tp, b) : NULL;
}

typedef struct TrainEmit {
    FILE *out;
    const Graph *g;         /* the training graph */
    const TrainPlan *tp;
    EmitCtx e;
    char *declared;         /* [buffer] its C name is declared */
    int *fused;             /* [relu node] 1: run by the linear before it */
} TrainEmit;

/* A buffer's C name, declared where it is first written. */
static void decl(TrainEmit *te, int b, const Shape *shape)
{
    if (b < 0 || te->declared[b])
        return;
    static const char *what[128] = {['d'] = "a gradient", ['s'] = "kept for the backward",
                                    ['e'] = "a further reader's share of a gradient",
                                    ['p'] = "parameter gradients of an earlier call, kept"};
    te->declared[b] = 1;
    fprintf(te->out, "    float *%s = %s; ", tbuf_name(te->tp, b), tbuf_expr(te->tp, b));
    if (shape)
        emit_c_shape_comment(te->out, shape);
    else
        fprintf(te->out, "/* %s */", what[(unsigned char)te->tp->bufs[b].kind]);
    fprintf(te->out, "\n");
}

static void forward_step(TrainEmit *te, int s)
{
    const TrainPlan *tp = te->tp;
    const TStep *st = &tp->steps[s];
    const Node *nd = &te->g->nodes[st->node];
    const char *file = emit_c_relpath(te->g->file);
    if (te->fused[st->node])
        return;     /* run by the linear before it */
    if (nd->fused_act >= 0) {  /* the node after it: the relu it runs (fuse-act) */
        const Node *nr = &te->g->nodes[tp->steps[s + 1].node];
        decl(te, tp->steps[s + 1].y, &nr->shape);
        fprintf(te->out, "    /* %s:%d:%d: %s + %s:%d:%d: %s */\n", file, nd->span.line, nd->span.col,
                op_info[nd->op].name, file, nr->span.line, nr->span.col, op_info[nr->op].name);
        op_hooks[nd->op].emit_train(&te->e, nd);
        return;
    }
    decl(te, st->y, &nd->shape);
    decl(te, st->saved, NULL);
    fprintf(te->out, "    /* %s:%d:%d: %s */\n", file, nd->span.line, nd->span.col, op_info[nd->op].name);
    op_hooks[nd->op].emit_train(&te->e, nd);
}

static void backward_step(TrainEmit *te, const TStep *st)
{
    const Graph *g = te->g;
    const Node *nd = &g->nodes[st->node];
    const char **dval = (const char **)te->e.dval;
    for (int i = 0; i < g->nnodes; i++)
        dval[i + 1] = te->tp->dbuf[i] >= 0 ? tbuf_name(te->tp, te->tp->dbuf[i]) : NULL;
    for (int k = 0; k < nd->nin; k++) {
        int in = nd->in[k];
        decl(te, st->dx[k], in >= 0 ? &g->nodes[in].shape : NULL);
        te->e.din[k] = st->dx[k] >= 0 ? tbuf_name(te->tp, st->dx[k]) : NULL;
    }
    if (nd->nin > 0)
        dval[nd->in[0] + 1] = te->e.din[0];
    fprintf(te->out, "    /* d %s */\n", op_info[nd->op].name);
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++) {
        int b = st->psave[j];
        if (b < 0)
            continue;
        const Param *p = &g->params[nd->param[j]];
        decl(te, b, NULL);
        fprintf(te->out, "    memcpy(%s, %s, %lld * sizeof(float)); /* %s: an earlier call's gradient */\n",
                tbuf_name(te->tp, b), op_pexpr("G", g, nd->param[j]), (long long)p->numel, p->name);
    }
    op_hooks[nd->op].grad(&te->e, nd);
    for (int j = 0; j < NNC_MAX_NODE_PARAMS; j++)
        if (st->psave[j] >= 0)
            fprintf(te->out, "    nnr_acc_f32(%lld, %s, %s); /* the layer's calls summed */\n",
                    (long long)g->params[nd->param[j]].numel, tbuf_name(te->tp, st->psave[j]),
                    op_pexpr("G", g, nd->param[j]));
    for (int k = 0; k < NNC_MAX_NODE_INPUTS; k++)
        te->e.din[k] = NULL;
}

static void loss_step(TrainEmit *te, const TStep *st)
{
    const Graph *g = te->g;
    int o = st->node;
    const Shape *os = ir_value_shape(g, o);
    decl(te, st->dy, o >= 0 ? os : NULL);
    const char *dy = st->dy >= 0 ? tbuf_name(te->tp, st->dy) : "NULL";
    if (os->ndim == 2) {
        /* a sequence output [T, C]: class labels are T per sample (ignore_index -100),
         * F.cross_entropy(out.view(-1, C), y.view(-1)) (LANGUAGE.md §10) */
        /* label_smoothing: the program gives the labels (which positions count) and
         * a target row per position */
        fprintf(te->out, "    if (labels && targets && loss_kind == NNR_LOSS_CROSS_ENTROPY)\n"
                         "        loss = nnr_seq_loss_soft_f32((size_t)n * %lld, %lld, %s, labels, targets, NNR_IGNORE_INDEX, %s);\n"
                         "    else if (labels && (loss_kind == NNR_LOSS_CROSS_ENTROPY || loss_kind == NNR_LOSS_NLL))\n"
                         "        loss = nnr_seq_loss_f32(loss_kind, (size_t)n * %lld, %lld, %s, labels, NNR_IGNORE_INDEX, %s);\n"
                         "    else\n    ",
                (long long)os->d[0], (long long)os->d[1], te->e.val[o + 1], dy,
                (long long)os->d[0], (long long)os->d[1], te->e.val[o + 1], dy);
    }
    fprintf(te->out, "    loss = nnr_loss_f32(loss_kind, n, %lld, %s, labels, targets, %s);\n",
            (long long)shape_numel(os), te->e.val[o + 1], dy);
}

/* Parameters no gradient rule reaches (a layer that feeds only other
 * outputs) get zero gradients, so the update never reads stale ones. */
static void zero_unreached(TrainEmit *te)
{
    const Graph *g = te->g;
    for (int k = 0; k < g->nparams; k++) {
        const Param *p = &g->params[k];
        if (p->kind != NNR_T_PARAM || p->fold || te->tp->pwritten[k])
            continue;
        fprintf(te->out, "    memset(%s, 0, %lld * sizeof(float)); /* %s: no gradient reaches it */\n",
                op_pexpr("G", g, k), (long long)p->numel, p->name);
    }
}

static void emit_steps(TrainEmit *te)
{
    const TrainPlan *tp = te->tp;
    int phase = -1;
    for (int s = 0; s < tp->nsteps; s++) {
        const TStep *st = &tp->steps[s];
        if (st->kind == TS_UPDATE)
            continue;   /* the driver's */
        int ph = st->kind == TS_ACCUM ? TS_BACKWARD : (int)st->kind;
        if (ph != phase) {
            static const char *title[] = {"forward, training mode", "loss",
                                          "backward: each node's gradient rule, in reverse"};
            fprintf(te->out, "\n    /* %s */\n", title[ph]);
            if (ph == TS_BACKWARD)
                zero_unreached(te);
            phase = ph;
        }
        if (st->kind == TS_FORWARD) {
            forward_step(te, s);
        } else if (st->kind == TS_LOSS) {
            loss_step(te, st);
        } else if (st->kind == TS_BACKWARD) {
            backward_step(te, st);
        } else {
            const TBuf *b = &tp->bufs[st->dx[0]];
            fprintf(te->out, "    nnr_acc_f32((size_t)n * %lld, %s, %s); /* the readers' gradients summed */\n",
                    (long long)b->per_sample, tbuf_name(tp, st->dx[0]), tbuf_name(tp, st->dy));
        }
    }
}

void emit_c_train(const Graph *g, const TrainCfg *t, int reuse, FILE *out)
{
    const char *n = g->name;
    const Graph *model = g;
    g = train_graph(model, t->freeze, t->nfreeze, reuse);
    int nn = g->nnodes;
    TrainPlan tp;
    if (train_plan(g, &tp))
        NNC_ICE("the training graph of %s: %s", g->name, tp.error);
    int64_t xs = emit_c_inputs_size(model), ps = tp.per_sample + xs;

    emit_c_scratch_fn(model, NULL, out, xasprintf("%s_train_scratch", n), ps, 1);
    fprintf(out, "/* Floats of the training arena for a batch of n: activations, gradients\n"
                 " * and saved buffers as planned (n * %lld + %lld), ", (long long)tp.per_sample,
            (long long)tp.fixed);
    if (xs)
        fprintf(out, "the inputs' buffers (n * %lld),\n * ", (long long)xs);
    fprintf(out, "then the conv2d scratch. */\n");
    fprintf(out, "size_t %s_train_arena(int n)\n{\n    return %s_train_scratch(n) + %lldu;\n}\n\n",
            n, n, (long long)tp.fixed);

    TrainEmit te = {.out = out, .g = g, .tp = &tp};
    const char **val = emit_c_value_array(g), **dval = emit_c_value_array(g);
    const char **saved = emit_c_value_array(g);
    te.declared = xcalloc((size_t)tp.nbufs + 1, 1);
    te.fused = xcalloc((size_t)nn + 1, sizeof *te.fused);
    for (int k = 0; k < g->ninputs; k++)
        val[-k] = emit_c_input_name(g, k);
    fprintf(out, "double %s_train_step(float *S, float *G, int n, const float *x, const int32_t *labels,\n"
                 "                    const float *targets, float *arena, nnr_rng *rng, nnr_loss loss_kind)\n{\n", n);
    fprintf(out, "    float *fixed = arena + (size_t)n * %lld;\n", (long long)ps);
    fprintf(out, "    float *scratch = fixed + %lld; /* conv2d im2col, per sample */\n", (long long)tp.fixed);
    fprintf(out, "    double loss = 0;\n");
    fprintf(out, "    (void)scratch;\n    (void)rng;\n    (void)fixed;\n");
    emit_c_take_inputs(g, "arena", tp.per_sample, out);
    te.e = (EmitCtx){.out = out, .g = g, .val = val, .dval = dval, .P = "S", .G = "G", .scratch = "scratch",
                     .saved = saved, .rng = "rng", .training = 1};
    /* node values: views resolve to their root's buffer */
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].dead)
            continue;
        val[i + 1] = tbuf_c(g, &tp, tp.vbuf[i]);
        if (tp.sbuf[i] >= 0)
            saved[i + 1] = tbuf_name(&tp, tp.sbuf[i]);
    }
    /* a linear that runs the relu after it (fuse-act marked it): its value
     * is the relu's buffer, and the relu's step computes nothing */
    for (int s = 0; s < tp.nsteps; s++) {
        const TStep *st = &tp.steps[s];
        if (st->kind != TS_FORWARD || g->nodes[st->node].fused_act < 0)
            continue;
        int r = s + 1 < tp.nsteps && tp.steps[s + 1].kind == TS_FORWARD ? tp.steps[s + 1].node : -1;
        if (r < 0 || (int)g->nodes[r].op != g->nodes[st->node].fused_act || g->nodes[r].in[0] != st->node)
            NNC_ICE("%%%d fuses %s, but the next step does not compute it", st->node,
                    op_info[g->nodes[st->node].fused_act].name);
        te.fused[r] = 1;
        val[st->node + 1] = val[r + 1];
    }
    emit_steps(&te);
    fprintf(out, "    return loss;\n}\n\n");
}
