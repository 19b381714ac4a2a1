/* driver_summary.c — nnc summary: per layer its output shape, parameters
 * and FLOPs; what the passes and the memory planner did; training memory. */
#include <stdio.h>
#include <stdlib.h>

#include "driver_int.h"
#include "passes/autodiff.h"
#include "ops/ops.h"
#include "nnr_prog.h"

static int live_nodes(const Graph *g)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        c += !g->nodes[i].dead;
    return c;
}

/* Is layer position k frozen by the train block? */
static int frozen(const TrainCfg *t, int k)
{
    for (int i = 0; t->present && i < t->nfreeze; i++)
        if (t->freeze[i] == k)
            return 1;
    return 0;
}

int driver_summary(const DriverOpts *o)
{
    Unit u;
    if (driver_load(o, &u))
        return 1;
    Graph *g = u.g;
    char b[64];
    if (g->ninputs <= 1) {
        printf("model %s (%s): input %s\n\n", g->name, g->file, shape_str(&g->input, b, sizeof b));
    } else {    /* several inputs (§7): each named, in declaration order */
        printf("model %s (%s): inputs", g->name, g->file);
        for (int i = 0; i < g->ninputs; i++)
            printf("%s %s %s%s", i ? "," : "", g->input_name[i] ? g->input_name[i] : "?",
                   shape_str(&g->inputs[i], b, sizeof b), g->input_int[i] ? " int" : "");
        printf("\n\n");
    }
    printf("%-4s %-14s %-12s %-18s %12s %14s\n", "#", "layer", "op", "output shape", "parameters", "FLOPs/sample");
    int64_t tp = 0, tf = 0, fz = 0; /* trainable, FLOPs, frozen */
    /* each tensor counted once, as sum(p.numel() for p in model.parameters()):
     * a layer called again, or tied to another's tensor, adds none */
    char *seen = xcalloc((size_t)g->nparams + 1, 1);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        int64_t np = 0;
        for (int k = 0; k < n->nparam; k++) {
            const Param *p = &g->params[n->param[k]];
            if (p->kind != NNR_T_PARAM)
                continue;
            np += p->numel;
            if (seen[n->param[k]])
                continue;
            seen[n->param[k]] = 1;
            if (frozen(u.train, n->layer) ||
                (u.train->present && ir_param_frozen(g, n->param[k], u.train->freeze, u.train->nfreeze)))
                fz += p->numel;
            else
                tp += p->numel;
        }
        int64_t fl = op_hooks[n->op].flops(g, n);
        tf += fl;
        printf("%-4d %-14s %-12s %-18s %12lld %14lld\n", n->layer, n->label ? n->label : xasprintf("%d", n->layer),
               op_info[n->op].name, shape_str(&n->shape, b, sizeof b), (long long)np, (long long)fl);
    }
    free(seen);
    printf("\ntotal: %lld trainable parameters", (long long)tp);
    if (fz)
        printf(" (and %lld frozen by the train block)", (long long)fz);
    printf(", %lld floats of state (%lld bytes), %lld FLOPs per sample\n",
           (long long)g->state_size, (long long)g->state_size * 4, (long long)tf);
    MemPlan before, after;
    memplan_inference(g, &before);
    Graph *og = ir_clone(u.g);
    unsigned changed = 0;
    if (pipeline_run_report(og, &o->pipe, &u.diag, &changed))
        return 1;
    memplan_inference(og, &after);
    int64_t of = 0;
    for (int i = 0; i < og->nnodes; i++)
        if (!og->nodes[i].dead)
            of += op_hooks[og->nodes[i].op].flops(og, &og->nodes[i]);
    printf("inference at -O%d: %d ops before the passes, %d after; %lld FLOPs per sample after; "
           "%lld floats of inference parameters\n",
           o->pipe.opt_level, live_nodes(g), live_nodes(og), (long long)of, (long long)og->infer_size);
    printf("arena per sample: %lld bytes before planning, %lld bytes after\n",
           (long long)before.unplanned * 4, (long long)after.per_sample * 4);
    printf("passes that changed the graph:");
    int any = 0;
    for (int i = 0; i < nnc_npasses; i++)
        if (changed & (1u << i)) {
            printf("%s %s", any ? "," : "", nnc_passes[i].name);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    if (u.train->present) {
        TrainPlan tp;
        if (train_plan(train_graph(g, u.train->freeze, u.train->nfreeze, og->planned), &tp))
            NNC_ICE("the training graph of %s: %s", g->name, tp.error);
        int64_t opt = u.train->optim == NNR_OPT_SGD ? (u.train->momentum != 0 ? 1 : 0) : 2;
        printf("training: state %lld bytes, gradients %lld bytes, optimizer state %lld bytes;\n"
               "          arena %lld bytes per sample + %lld bytes (%lld + %lld before planning)\n",
               (long long)g->state_size * 4, (long long)g->state_size * 4, (long long)(opt * g->state_size * 4),
               (long long)tp.per_sample * 4, (long long)tp.fixed * 4, (long long)tp.unplanned_ps * 4,
               (long long)tp.unplanned_fx * 4);
    }
    return driver_finish(&u, 0);
}
