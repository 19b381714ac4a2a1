/* pipeline.c — the pass table and its driver.
 *
 * Passes are rows {name, function, flags}; -O0 runs the required ones, -O1
 * adds the cheap clean-ups, -O2 everything. ORDER below lists the ordering
 * constraints with their reasons and is checked before anything runs. The
 * verifier runs after every pass when asked (always in tests). */
#include <string.h>
#include <time.h>

#include "pass.h"
#include "../ops/ops.h"
#include "nnr.h"

int pass_dce(Graph *g, PassCtx *cx);
int pass_fold_bn(Graph *g, PassCtx *cx);
int pass_fold_linear(Graph *g, PassCtx *cx);
int pass_fuse_act(Graph *g, PassCtx *cx);
int pass_fuse_add(Graph *g, PassCtx *cx);
int pass_prepack(Graph *g, PassCtx *cx);
int pass_bf16(Graph *g, PassCtx *cx);
int pass_memplan(Graph *g, PassCtx *cx);
int pass_layout(Graph *g, PassCtx *cx);
int pass_autodiff(Graph *g, PassCtx *cx);
int ir_is_training(const Graph *g);

/* The table runs top to bottom. On a training graph (autodiff appended the
 * training step to the model as written) only the passes marked PASS_TRAIN
 * run; the others work on the inference graph. autodiff itself runs only
 * when named (--passes=autodiff). */
const Pass nnc_passes[] = {
    {"autodiff", pass_autodiff, PASS_TRAIN, "append the training step: loss, backward nodes, gradient sums, update"},
    {"dce", pass_dce, PASS_O1 | PASS_O2, "remove identity, inference dropout and flatten of a flat value"},
    {"fold-batchnorm", pass_fold_bn, PASS_O2, "batch norm after linear/conv2d folds into its weight and bias"},
    {"fold-linear", pass_fold_linear, PASS_O2, "a chain of linear layers becomes one (when that is not larger)"},
    {"fuse-add", pass_fuse_add, PASS_O2, "a residual add into the conv2d computing one operand (its epilogue)"},
    {"fuse-act", pass_fuse_act, PASS_O2 | PASS_TRAIN, "activations after linear/conv become the kernel's epilogue"},
    {"prepack", pass_prepack, PASS_O2, "weights laid out in the order the kernels read them"},
    {"bf16-weights", pass_bf16, PASS_BF16, "linear weights stored as bfloat16 (--dtype bf16)"},
    {"memplan", pass_memplan, PASS_O1 | PASS_O2 | PASS_TRAIN, "reuse activation buffers by liveness"},
    {"layout", pass_layout, PASS_REQUIRED | PASS_TRAIN, "lay out the inference parameter block (what prepare() fills)"},
};
const int nnc_npasses = (int)(sizeof nnc_passes / sizeof nnc_passes[0]);

/* {before, after, why} — checked before anything runs. */
static const struct { const char *before, *after, *why; } order[] = {
    {"dce", "fuse-act", "an identity between a linear and its activation hides the pair"},
    {"fold-batchnorm", "fold-linear",
     "a batch norm between two linear layers blocks the chain; folded into the first, the chain goes through"},
    {"fold-batchnorm", "fuse-act",
     "in linear, batchnorm, relu the relu follows the batch norm: it can be fused only once the batch norm is gone, "
     "and a fused epilogue would block the batch norm's fold"},
    {"fold-linear", "fuse-act",
     "a fused epilogue in the middle of a chain blocks folding; folded first, the chain keeps one epilogue at its end"},
    {"fold-linear", "prepack", "prepack lays out the folded weights, not the ones folded away"},
    {"fuse-act", "memplan", "fusion removes values the plan would otherwise place"},
    {"fold-batchnorm", "fuse-add", "a batch norm between a conv2d and the add hides the pair"},
    {"fuse-add", "fuse-act", "the activation after a residual add fuses into the conv2d once the add is in it"},
    {"fuse-add", "memplan", "fusion removes values the plan would otherwise place"},
    {"fold-linear", "layout", "the inference block holds the derived parameters the folds create"},
    {"prepack", "layout", "the block is laid out after the weights' layout is decided"},
    {"prepack", "bf16-weights", "bf16-weights replaces the fp32 pack of a weight, made from the weight before it"},
    {"fold-linear", "bf16-weights", "the folded weight is the one rounded to bf16"},
    {"bf16-weights", "layout", "the block holds the bf16 weights, not the fp32 ones they replace"},
};

static int pass_index(const char *name, size_t len)
{
    for (int i = 0; i < nnc_npasses; i++)
        if (strlen(nnc_passes[i].name) == len && strncmp(nnc_passes[i].name, name, len) == 0)
            return i;
    return -1;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int check_list(const char *list, const char *opt, Diag *d)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (pass_index(p, len) < 0 && !(len == 3 && strncmp(p, "all", 3) == 0)) {
            diag_error_nopos(d, "%s: unknown pass '%.*s'", opt, (int)len, p);
            return -1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Value v, read by node `reader` (g->nnodes: a graph output), must be a
 * graph input or a live node before it: the graph is a DAG in order. */
static void verify_read(const Graph *g, int reader, int v)
{
    const char *who = reader < g->nnodes ? xasprintf("node %%%d", reader) : "the graph's output";
    if (v < 0 && ir_input_index(v) >= g->ninputs)
        NNC_ICE("%s reads input %d of %d", who, ir_input_index(v), g->ninputs);
    if (v >= 0 && (v >= reader || g->nodes[v].dead))
        NNC_ICE("%s reads %%%d, which is %s", who, v, v >= reader ? "not before it" : "removed");
}

void ir_verify(const Graph *g, const char *after)
{
    const char *saved = nnc_current_pass;
    nnc_current_pass = after;
    if (g->ninputs < 1 || g->noutputs < 1)
        NNC_ICE("the graph has %d inputs and %d outputs", g->ninputs, g->noutputs);
    for (int k = 0; k < g->noutputs; k++)
        verify_read(g, g->nnodes, g->outputs[k]);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (n->op < 0 || n->op >= OP__COUNT)
            NNC_ICE("node %%%d has an invalid op %d", i, n->op);
        if (op_info[n->op].nin >= 0 ? n->nin != op_info[n->op].nin &&
                                          !(op_info[n->op].flags & OPF_RESIDUAL && n->nin == op_info[n->op].nin + 1)
                                    : n->nin < 1)
            NNC_ICE("node %%%d (%s) reads %d values, not %d", i, op_info[n->op].name, n->nin, op_info[n->op].nin);
        for (int k = 0; k < n->nin; k++)
            verify_read(g, i, n->in[k]);
        for (int k = 0; k < n->nparam; k++)
            if (n->param[k] < 0 || n->param[k] >= g->nparams)
                NNC_ICE("node %%%d refers to parameter %d of %d", i, n->param[k], g->nparams);
        if (n->shape.ndim < !(op_info[n->op].flags & OPF_TRAIN) || n->shape.ndim > NNC_MAX_DIMS)
            NNC_ICE("node %%%d has rank %d", i, n->shape.ndim);
        Node copy = *n;
        Diag quiet = {0};
        quiet.max_errors = 0;
        if (op_hooks[n->op].shape((Graph *)g, &copy, &quiet) || memcmp(&copy.shape, &n->shape, sizeof n->shape))
            NNC_ICE("node %%%d (%s): its shape does not follow from its input", i, op_info[n->op].name);
        if (n->fused_act >= 0 && !(op_info[n->fused_act].flags & OPF_ACT))
            NNC_ICE("node %%%d fuses a non-activation", i);
        char why[256];
        if (op_hooks[n->op].verify(g, n, why, sizeof why))
            NNC_ICE("node %%%d (%s): %s", i, op_info[n->op].name, why);
    }
    /* derived parameters: each made by its fold, from parameters before it */
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (!p->fold)
            continue;
        if (p->fold < 1 || p->fold > g->nfolds)
            NNC_ICE("parameter %s refers to fold %d of %d", p->name, p->fold, g->nfolds);
        const Fold *f = &g->folds[p->fold - 1];
        if (f->out_w != i && f->out_b != i)
            NNC_ICE("parameter %s is not an output of its fold", p->name);
        for (int k = 0; k < f->n; k++)
            if (f->w[k] < 0 || f->w[k] >= f->out_w || f->b[k] >= f->out_w)
                NNC_ICE("fold of %s reads a parameter that does not come before it", p->name);
        if (f->kind == FOLD_LINEAR)
            for (int k = 0; k < f->n; k++)
                if (g->params[f->w[k]].numel != f->dims[k] * f->dims[k + 1])
                    NNC_ICE("fold of %s: layer %d's weight is not %lldx%lld", p->name, k,
                            (long long)f->dims[k + 1], (long long)f->dims[k]);
    }
    ir_uses_check(g);
    nnc_current_pass = saved;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pipeline_run(Graph *g, const PipelineOpts *o, Diag *d)
{
    return pipeline_run_report(g, o, d, NULL);
}

/* Which passes run: --passes=a,b names them exactly, else the -O level
 * picks them; required passes run always and cannot be disabled. */
int pipeline_run_report(Graph *g, const PipelineOpts *o, Diag *d, unsigned *changed_mask)
{
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int a = pass_index(order[i].before, strlen(order[i].before));
        int b = pass_index(order[i].after, strlen(order[i].after));
        if (a < 0 || b < 0 || a > b)
            NNC_ICE("passes %s and %s out of order (%s)", order[i].before, order[i].after, order[i].why);
    }
    if (check_list(o->only, "--passes", d) || check_list(o->disable, "--disable-pass", d) ||
        check_list(o->print_after, "--print-after", d))
        return -1;
    for (int i = 0; i < nnc_npasses; i++)
        if ((nnc_passes[i].flags & PASS_REQUIRED) && o->disable && in_list(o->disable, nnc_passes[i].name)) {
            diag_error_nopos(d, "--disable-pass: '%s' is required and cannot be disabled", nnc_passes[i].name);
            return -1;
        }
    if (changed_mask)
        *changed_mask = 0;
    int level_flag = o->opt_level >= 2 ? PASS_O2 : o->opt_level == 1 ? PASS_O1 : 0;
    FILE *log = o->log ? o->log : stderr;
    PassCtx cx = {d, 0, log, o->bf16};
    if (o->verify)
        ir_verify(g, "the front end");
    for (int i = 0; i < nnc_npasses; i++) {
        const Pass *p = &nnc_passes[i];
        int run = (p->flags & PASS_REQUIRED) || (o->only ? in_list(o->only, p->name) : (p->flags & level_flag) != 0);
        if (o->disable && in_list(o->disable, p->name))  /* never a required one: refused above */
            run = 0;
        if (p->flags & PASS_BF16)
            run = o->bf16;  /* the build's dtype, not an optimisation: not by level, --passes or --disable-pass */
        if (!(p->flags & PASS_TRAIN) && ir_is_training(g))
            run = 0;    /* an inference pass: the training forward is the model as written */
        if (!run)
            continue;
        int print = o->print_after && (in_list(o->print_after, p->name) || in_list(o->print_after, "all"));
        cx.verbose = print || o->explain;
        nnc_current_pass = p->name;
        double t0 = now();
        int changed = p->fn(g, &cx);
        double t1 = now();
        if (o->verify)
            ir_verify(g, p->name);
        nnc_current_pass = "driver";
        if (changed && changed_mask)
            *changed_mask |= 1u << i;
        if (o->time_passes)
            fprintf(log, "pass %-14s %9.3f ms%s\n", p->name, 1e3 * (t1 - t0), changed ? "  (changed)" : "");
        if (print) {
            fprintf(log, "; IR after %s%s\n", p->name, changed ? "" : " (unchanged)");
            ir_print(g, log);
        }
    }
    ir_uses_drop(g);    /* code after the passes may write nodes directly */
    return 0;
}
