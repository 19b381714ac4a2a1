/* emit_c_train.c — the C backend's training step: NAME_train_step and
 * NAME_train_arena, the walk of the training graph (train_walk.c) printed
 * as C: each plan buffer declared where it is first written, each step
 * commented with its source location. The optimizer update, the plan's
 * last step, is the driver's flat loop over the trainable tensors
 * (runtime/prog_train.c), so that a non-finite loss can be rolled back
 * before any parameter moves. */
#include <string.h>

#include "emit_c.h"
#include "train_walk.h"
#include "nnr_prog.h"

typedef struct CTrain {
    FILE *out;
    char *declared;         /* [buffer] its C name is declared */
} CTrain;

static const char *buf_expr(const TrainPlan *tp, int b)
{
    const TBuf *t = &tp->bufs[b];   /* a buffer is per sample or fixed, never both */
    if (t->per_sample)
        return t->off_ps ? xasprintf("arena + (size_t)n * %lld", (long long)t->off_ps) : "arena";
    return t->off_fx ? xasprintf("fixed + %lld", (long long)t->off_fx) : "fixed";
}

/* A buffer's C name, declared where it is first written. */
static void c_decl(TrainWalk *w, int b, const Shape *shape)
{
    CTrain *c = w->ctx;
    if (b < 0 || c->declared[b])
        return;
    static const char *what[128] = {['d'] = "a gradient", ['s'] = "kept for the backward",
                                    ['e'] = "a further reader's share of a gradient",
                                    ['p'] = "parameter gradients of an earlier call, kept"};
    c->declared[b] = 1;
    fprintf(c->out, "    float *%s = %s; ", train_buf_name(w->tp, b), buf_expr(w->tp, b));
    if (shape)
        emit_c_shape_comment(c->out, shape);
    else
        fprintf(c->out, "/* %s */", what[(unsigned char)w->tp->bufs[b].kind]);
    fprintf(c->out, "\n");
}

static void c_comment(TrainWalk *w, const char *text)
{
    CTrain *c = w->ctx;
    if (*text == '\n')
        fputc(*text++, c->out);
    fprintf(c->out, "    /* %s */\n", text);
}

static void c_loss(TrainWalk *w, const TStep *st)
{
    FILE *out = ((CTrain *)w->ctx)->out;
    int o = st->node;
    const Shape *os = ir_value_shape(w->g, o);
    const char *dy = st->dy >= 0 ? train_buf_name(w->tp, st->dy) : "NULL", *y = VAL(&w->e, o);
    if (os->ndim == 2) {
        /* a sequence output [T, C]: class labels are T per sample (ignore_index -100),
         * F.cross_entropy(out.view(-1, C), y.view(-1)) (LANGUAGE.md §10) */
        /* label_smoothing: the program gives the labels (which positions count) and
         * a target row per position */
        fprintf(out, "    if (labels && targets && loss_kind == NNR_LOSS_CROSS_ENTROPY)\n"
                     "        loss = nnr_seq_loss_soft_f32((size_t)n * %lld, %lld, %s, labels, targets, NNR_IGNORE_INDEX, %s);\n"
                     "    else if (labels && (loss_kind == NNR_LOSS_CROSS_ENTROPY || loss_kind == NNR_LOSS_NLL))\n"
                     "        loss = nnr_seq_loss_f32(loss_kind, (size_t)n * %lld, %lld, %s, labels, NNR_IGNORE_INDEX, %s);\n"
                     "    else\n    ",
                (long long)os->d[0], (long long)os->d[1], y, dy, (long long)os->d[0], (long long)os->d[1], y, dy);
    }
    fprintf(out, "    loss = nnr_loss_f32(loss_kind, n, %lld, %s, labels, targets, %s);\n",
            (long long)shape_numel(os), y, dy);
}

/* "G + state_at.NAME": parameter k's gradient */
static const char *gexpr(const TrainWalk *w, int k)
{
    return w->e.poff ? xasprintf("G + %s", w->e.poff[k]) : op_pexpr("G", w->g, k);
}

static void c_zero_param(TrainWalk *w, int k)
{
    const Param *p = &w->g->params[k];
    fprintf(((CTrain *)w->ctx)->out, "    memset(%s, 0, %lld * sizeof(float)); /* %s: no gradient reaches it */\n",
            gexpr(w, k), (long long)p->numel, p->name);
}

static void c_keep_param(TrainWalk *w, int k, int b, int save)
{
    const Param *p = &w->g->params[k];
    FILE *out = ((CTrain *)w->ctx)->out;
    if (save)
        fprintf(out, "    memcpy(%s, %s, %lld * sizeof(float)); /* %s: an earlier call's gradient */\n",
                train_buf_name(w->tp, b), gexpr(w, k), (long long)p->numel, p->name);
    else
        fprintf(out, "    nnr_acc_f32(%lld, %s, %s); /* the layer's calls summed */\n", (long long)p->numel,
                train_buf_name(w->tp, b), gexpr(w, k));
}

static void c_acc(TrainWalk *w, int dy, int dx, int64_t per_sample)
{
    fprintf(((CTrain *)w->ctx)->out, "    nnr_acc_f32((size_t)n * %lld, %s, %s); /* the readers' gradients summed */\n",
            (long long)per_sample, train_buf_name(w->tp, dx), train_buf_name(w->tp, dy));
}

static const TrainWalkOps c_ops = {c_decl, c_comment, c_loss, c_zero_param, c_keep_param, c_acc};

/* A walk that emits nothing and notes which of the step's scratch and
 * generator the kernel calls take (so the step declares only what it uses). */
typedef struct Uses {
    int scratch, rng;
} Uses;

static void use_sink(void *ctx, const EmitCtx *e, const Node *n, const KCall *c)
{
    (void)e, (void)n;
    Uses *u = ctx;
    for (int k = 0; k < c->nargs; k++) {
        u->scratch |= c->a[k].kind == KA_SCRATCH;
        u->rng |= c->a[k].kind == KA_RNG;
    }
}

static void nop_decl(TrainWalk *w, int b, const Shape *s) { (void)w, (void)b, (void)s; }
static void nop_text(TrainWalk *w, const char *t) { (void)w, (void)t; }
static void nop_loss(TrainWalk *w, const TStep *st) { (void)w, (void)st; }
static void nop_param(TrainWalk *w, int p) { (void)w, (void)p; }
static void nop_keep(TrainWalk *w, int p, int b, int s) { (void)w, (void)p, (void)b, (void)s; }
static void nop_acc(TrainWalk *w, int dy, int dx, int64_t ps) { (void)w, (void)dy, (void)dx, (void)ps; }
static const TrainWalkOps nop_ops = {nop_decl, nop_text, nop_loss, nop_param, nop_keep, nop_acc};

static Uses step_uses(const Graph *g, const TrainPlan *tp)
{
    Uses u = {0};
    TrainWalk w;
    train_walk_init(&w, g, tp, &nop_ops, NULL);
    w.e.P = w.e.G = w.e.scratch = w.e.rng = "";
    w.e.sink = use_sink;
    w.e.sink_ctx = &u;
    train_walk(&w);
    return u;
}

void emit_c_train(const Graph *model, const Graph *g, const char **poff, FILE *out)
{
    const char *n = model->name;
    if (!g)
        NNC_ICE("the training step of %s without its training graph", n);
    TrainPlan tp;
    if (train_plan(g, &tp))
        NNC_ICE("the training graph of %s: %s", g->name, tp.error);
    int64_t xs = emit_c_inputs_size(model), ps = tp.per_sample + xs;

    emit_c_scratch_fn(model, NULL, out, xasprintf("%s_train_scratch", n), ps, 1);
    fprintf(out, "/* Floats of the training arena for a batch of n: activations, gradients\n"
                 " * and saved buffers as planned (n * %lld%s), ", (long long)tp.per_sample,
            tp.fixed ? xasprintf(" + %lld", (long long)tp.fixed) : "");
    if (xs)
        fprintf(out, "the inputs' buffers (n * %lld),\n * ", (long long)xs);
    fprintf(out, "then the conv2d scratch. */\n");
    fprintf(out, "size_t %s_train_arena(int n)\n{\n    return %s_train_scratch(n)", n, n);
    if (tp.fixed)
        fprintf(out, " + %lld", (long long)tp.fixed);
    fprintf(out, ";\n}\n\n");

    CTrain c = {.out = out, .declared = xcalloc((size_t)tp.nbufs + 1, 1)};
    TrainWalk w;
    train_walk_init(&w, g, &tp, &c_ops, &c);
    w.e.out = out;
    w.e.P = "S";
    w.e.G = "G";
    w.e.scratch = "scratch";
    w.e.rng = "rng";
    w.e.poff = poff;
    Uses u = step_uses(g, &tp);
    fprintf(out, "double %s_train_step(const nnr_ctx *ctx, const float *x, const int32_t *labels,\n"
                 "                    const float *targets, nnr_loss loss_kind)\n{\n", n);
    int fixed = u.scratch, per_sample = xs > 0;
    for (int b = 0; b < tp.nbufs; b++) {
        fixed |= !tp.bufs[b].per_sample;
        per_sample |= tp.bufs[b].per_sample;
    }
    fprintf(out, "    const int n = ctx->n;\n    float *S = ctx->state, *G = ctx->grad;\n");
    if (fixed || per_sample)
        fprintf(out, "    float *arena = ctx->arena;\n");
    if (u.rng)
        fprintf(out, "    nnr_rng *rng = ctx->rng; /* dropout */\n");
    if (fixed)
        fprintf(out, "    float *fixed = arena + (size_t)n * %lld; /* buffers of a size of their own */\n",
                (long long)ps);
    if (u.scratch && tp.fixed)
        fprintf(out, "    float *scratch = fixed + %lld; /* conv2d im2col, per sample */\n", (long long)tp.fixed);
    else if (u.scratch)
        fprintf(out, "    float *scratch = fixed; /* conv2d im2col, per sample */\n");
    fprintf(out, "    double loss = 0;\n");
    emit_c_take_inputs(g, "arena", tp.per_sample, out);
    train_walk(&w);
    fprintf(out, "    return loss;\n}\n\n");
}
