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

int pass_dce(Graph *g, PassCtx *cx);
int pass_fuse_act(Graph *g, PassCtx *cx);
int pass_memplan(Graph *g, PassCtx *cx);

const Pass nnc_passes[] = {
    {"dce", pass_dce, PASS_O1 | PASS_O2, "remove identity and inference dropout"},
    {"fuse-act", pass_fuse_act, PASS_O2, "activations after linear/conv become the kernel's epilogue"},
    {"memplan", pass_memplan, PASS_O1 | PASS_O2, "reuse activation buffers by liveness"},
};
const int nnc_npasses = (int)(sizeof nnc_passes / sizeof nnc_passes[0]);

/* {before, after, why} */
static const struct { const char *before, *after, *why; } order[] = {
    {"dce", "fuse-act", "an identity between a linear and its activation hides the pair"},
    {"fuse-act", "memplan", "fusion removes values the plan would otherwise place"},
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

void ir_verify(const Graph *g, const char *after)
{
    const char *saved = nnc_current_pass;
    nnc_current_pass = after;
    int last = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (n->op < 0 || n->op >= OP__COUNT)
            NNC_ICE("node %%%d has an invalid op %d", i, n->op);
        if (n->input != last)
            NNC_ICE("node %%%d reads %%%d, but the value before it is %%%d", i, n->input, last);
        for (int k = 0; k < n->nparam; k++)
            if (n->param[k] < 0 || n->param[k] >= g->nparams)
                NNC_ICE("node %%%d refers to parameter %d of %d", i, n->param[k], g->nparams);
        if (n->shape.ndim < 1 || n->shape.ndim > NNC_MAX_DIMS)
            NNC_ICE("node %%%d has rank %d", i, n->shape.ndim);
        Node copy = *n;
        Diag quiet = {0};
        quiet.max_errors = 0;
        if (op_hooks[n->op].shape((Graph *)g, &copy, &quiet) || memcmp(&copy.shape, &n->shape, sizeof n->shape))
            NNC_ICE("node %%%d (%s): its shape does not follow from its input", i, op_info[n->op].name);
        if (n->fused_act >= 0 && !(op_info[n->fused_act].flags & OPF_ACT))
            NNC_ICE("node %%%d fuses a non-activation", i);
        last = i;
    }
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
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int a = pass_index(order[i].before, strlen(order[i].before));
        int b = pass_index(order[i].after, strlen(order[i].after));
        if (a < 0 || b < 0 || a > b)
            NNC_ICE("passes %s and %s out of order (%s)", order[i].before, order[i].after, order[i].why);
    }
    if (check_list(o->only, "--passes", d) || check_list(o->disable, "--disable-pass", d) ||
        check_list(o->print_after, "--print-after", d))
        return -1;
    int level_flag = o->opt_level >= 2 ? PASS_O2 : o->opt_level == 1 ? PASS_O1 : 0;
    PassCtx cx = {d, 0, stderr};
    for (int i = 0; i < nnc_npasses; i++) {
        const Pass *p = &nnc_passes[i];
        int run = o->only ? in_list(o->only, p->name)
                          : (p->flags & PASS_REQUIRED) || (p->flags & level_flag);
        if (o->disable && in_list(o->disable, p->name) && !(p->flags & PASS_REQUIRED))
            run = 0;
        if (!run)
            continue;
        int print = o->print_after && (in_list(o->print_after, p->name) || in_list(o->print_after, "all"));
        cx.verbose = print;
        nnc_current_pass = p->name;
        double t0 = now();
        int changed = p->fn(g, &cx);
        double t1 = now();
        nnc_current_pass = "driver";
        if (o->verify)
            ir_verify(g, p->name);
        if (o->time_passes)
            fprintf(stderr, "pass %-12s %9.3f ms%s\n", p->name, 1e3 * (t1 - t0), changed ? "  (changed)" : "");
        if (print) {
            fprintf(stderr, "; IR after %s%s\n", p->name, changed ? "" : " (unchanged)");
            ir_print(g, stderr);
        }
    }
    return 0;
}
