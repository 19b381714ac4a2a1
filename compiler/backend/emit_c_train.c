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
        return xasprintf("(arena + (size_t)n * %lld)", (long long)t->off_ps);
    return xasprintf("(fixed + %lld)", (long long)t->off_fx);
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

static void c_zero_param(TrainWalk *w, int k)
{
    const Param *p = &w->g->params[k];
    fprintf(((CTrain *)w->ctx)->out, "    memset(%s, 0, %lld * sizeof(float)); /* %s: no gradient reaches it */\n",
            op_pexpr("G", w->g, k), (long long)p->numel, p->name);
}

static void c_keep_param(TrainWalk *w, int k, int b, int save)
{
    const Param *p = &w->g->params[k];
    FILE *out = ((CTrain *)w->ctx)->out;
    if (save)
        fprintf(out, "    memcpy(%s, %s, %lld * sizeof(float)); /* %s: an earlier call's gradient */\n",
                train_buf_name(w->tp, b), op_pexpr("G", w->g, k), (long long)p->numel, p->name);
    else
        fprintf(out, "    nnr_acc_f32(%lld, %s, %s); /* the layer's calls summed */\n", (long long)p->numel,
                train_buf_name(w->tp, b), op_pexpr("G", w->g, k));
}

static void c_acc(TrainWalk *w, int dy, int dx, int64_t per_sample)
{
    fprintf(((CTrain *)w->ctx)->out, "    nnr_acc_f32((size_t)n * %lld, %s, %s); /* the readers' gradients summed */\n",
            (long long)per_sample, train_buf_name(w->tp, dx), train_buf_name(w->tp, dy));
}

static const TrainWalkOps c_ops = {c_decl, c_comment, c_loss, c_zero_param, c_keep_param, c_acc};

void emit_c_train(const Graph *model, const Graph *g, FILE *out)
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
                 " * and saved buffers as planned (n * %lld + %lld), ", (long long)tp.per_sample,
            (long long)tp.fixed);
    if (xs)
        fprintf(out, "the inputs' buffers (n * %lld),\n * ", (long long)xs);
    fprintf(out, "then the conv2d scratch. */\n");
    fprintf(out, "size_t %s_train_arena(int n)\n{\n    return %s_train_scratch(n) + %lldu;\n}\n\n",
            n, n, (long long)tp.fixed);

    CTrain c = {.out = out, .declared = xcalloc((size_t)tp.nbufs + 1, 1)};
    TrainWalk w;
    train_walk_init(&w, g, &tp, &c_ops, &c);
    w.e.out = out;
    w.e.P = "S";
    w.e.G = "G";
    w.e.scratch = "scratch";
    w.e.rng = "rng";
    fprintf(out, "double %s_train_step(float *S, float *G, int n, const float *x, const int32_t *labels,\n"
                 "                    const float *targets, float *arena, nnr_rng *rng, nnr_loss loss_kind)\n{\n", n);
    fprintf(out, "    float *fixed = arena + (size_t)n * %lld;\n", (long long)ps);
    fprintf(out, "    float *scratch = fixed + %lld; /* conv2d im2col, per sample */\n", (long long)tp.fixed);
    fprintf(out, "    double loss = 0;\n");
    fprintf(out, "    (void)scratch;\n    (void)rng;\n    (void)fixed;\n");
    emit_c_take_inputs(g, "arena", tp.per_sample, out);
    train_walk(&w);
    fprintf(out, "    return loss;\n}\n\n");
}
