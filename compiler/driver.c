/* driver.c — the compilation pipeline behind every nnc command:
 * read → parse → check and lower → passes; `check`, `ir` and `opt`.
 * (summary: driver_summary.c; emit: driver_emit.c; build: driver_build.c.) */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdlib.h>
#include <string.h>

#include "driver_int.h"
#include "convert.h"
#include "passes/autodiff.h"
#include "nnr_prog.h"

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    if (!dir[0])
        dir = xstrdup("/");
    char *abs = realpath(dir, NULL);
    return abs ? abs : dir;
}

static void weights_report(void *ctx, const char *kind, const char *path, const char *msg)
{
    (void)kind; /* a strict load has only errors */
    diag_error_file(ctx, path, "%s", msg);
}

/* --weights: every tensor of the model, with its shape; nothing else
 * (nnr_load_state, the programs' loader, over the model's parameters). */
static int load_weights(Graph *g, const char *path, Diag *d)
{
    nnr_tensor_desc *t = xcalloc((size_t)g->nparams + 1, sizeof *t);
    size_t size = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        t[i] = (nnr_tensor_desc){.name = p->name, .ndim = p->ndim, .offset = size,
                                 .numel = (size_t)p->numel, .kind = (nnr_tensor_kind)p->kind};
        _Static_assert(sizeof t[i].shape == sizeof p->shape, "shapes of the same rank");
        memcpy(t[i].shape, p->shape, sizeof p->shape);
        size += (size_t)p->numel;
    }
    nnr_tie_desc *ties = xcalloc((size_t)g->nties + 1, sizeof *ties);
    for (int k = 0; k < g->nties; k++)
        ties[k] = (nnr_tie_desc){.name = g->ties[k].name, .owner = g->ties[k].param,
                                 .pos = g->ties[k].before, .layer = g->ties[k].layer};
    float *state = xcalloc(size + 1, sizeof(float));
    int rc = nnr_load_state_tied(path, t, g->nparams, ties, g->nties, 1, state, weights_report, d);
    free(ties);
    if (rc) {
        free(state);
        free(t);
        return -1;
    }
    for (int i = 0; i < g->nparams; i++) {
        Param *p = &g->params[i];
        p->data = xmalloc(t[i].numel * sizeof(float) + 1);
        memcpy(p->data, state + t[i].offset, t[i].numel * sizeof(float));
        p->literal = 0;
    }
    free(state);
    free(t);
    return 0;
}

/* Load, parse and check; 0 when the model is ready to compile. */
int driver_load(const DriverOpts *o, Unit *u)
{
    memset(u, 0, sizeof *u);
    const char *err;
    size_t len;
    char *text = read_file(o->input, &len, &err);
    u->src.path = o->input;
    u->src.text = text ? text : "";
    u->src.len = text ? len : 0;
    diag_init(&u->diag, &u->src);
    if (!text) {
        diag_error_nopos(&u->diag, "%s: %s", o->input, err);
        return -1;
    }
    if (convert_refuse_foreign(o->input, text, len, &u->diag))
        return -1;
    if (nnc_parse(&u->src, &u->diag, &u->ast))
        return -1;
    if (sema_check(&u->ast, &u->src, dir_of(o->input), &u->diag, &u->prog))
        return -1;
    if (u->prog.nmodels == 0) {
        if (o->no_model_ok)
            return 0;
        diag_error_nopos(&u->diag, "%s: no model in this file (only blocks: a model uses them)", o->input);
        return -1;
    }
    int pick = 0;
    if (o->model) {
        for (pick = 0; pick < u->prog.nmodels; pick++)
            if (strcmp(u->prog.models[pick]->name, o->model) == 0)
                break;
        if (pick == u->prog.nmodels) {
            diag_error_nopos(&u->diag, "%s: no model named '%s'", o->input, o->model);
            return -1;
        }
    }
    u->g = u->prog.models[pick];
    u->train = &u->prog.trains[pick];
    if (o->weights && load_weights(u->g, o->weights, &u->diag))
        return -1;
    return 0;
}

int driver_finish(Unit *u, int status)
{
    return u->diag.nerrors ? 1 : status;
}

int driver_check(const DriverOpts *o)
{
    Unit u;
    DriverOpts co = *o;
    co.no_model_ok = !o->model;
    if (driver_load(&co, &u))
        return 1;
    return driver_finish(&u, 0);
}

/* The inference graph: a copy of the model through the pass pipeline. */
Graph *driver_optimised(const DriverOpts *o, Unit *u)
{
    Graph *g = ir_clone(u->g);
    if (pipeline_run(g, &o->pipe, &u->diag))
        return NULL;
    return g;
}

/* IR text on stdout; a training graph (the autodiff pass ran) after the
 * summary of its memory plan, which follows from its nodes. */
static int driver_print_ir(const Graph *g, int flags, Diag *d)
{
    if (ir_is_training(g)) {
        TrainPlan tp;
        if (train_plan(g, &tp)) {
            diag_error_nopos(d, "%s: not a training step the autodiff pass makes: %s", g->file, tp.error);
            return 1;
        }
        train_plan_print(g, &tp, stdout);
    }
    ir_print_ex(g, stdout, flags);
    return 0;
}

int driver_ir(const DriverOpts *o)
{
    Unit u;
    if (driver_load(o, &u))
        return 1;
    Graph *g = driver_optimised(o, &u);
    if (!g)
        return 1;
    if (o->train) {
        if (!u.train->present) {
            diag_error_nopos(&u.diag, "%s: model '%s' has no train block (add one after the model: "
                             "train %s { data = csv(\"train.csv\", label = -1)  loss = cross_entropy  "
                             "optimizer = sgd(lr = 0.1) }, one key per line)", o->input, u.g->name, u.g->name);
            return 1;
        }
        return driver_finish(&u, driver_print_ir(train_graph(u.g, u.train->freeze, u.train->nfreeze, g->planned), 0,
                                                  &u.diag));
    }
    driver_print_ir(g, 0, &u.diag);
    return driver_finish(&u, 0);
}

/* nnc opt FILE.nir: IR text in, passes, IR text out (with the values of
 * the parameters whose values the file gave). */
Graph *driver_read_nir(const char *path, SrcFile *src, Diag *diag)
{
    const char *err;
    size_t len;
    char *text = read_file(path, &len, &err);
    src->path = path;
    src->text = text ? text : "";
    src->len = text ? len : 0;
    diag_init(diag, src);
    if (!text) {
        diag_error_nopos(diag, "%s: %s", path, err);
        return NULL;
    }
    return ir_parse(src, diag);
}

int driver_opt(const DriverOpts *o)
{
    SrcFile src;
    Diag diag;
    Graph *g = driver_read_nir(o->input, &src, &diag);
    if (!g)
        return 1;
    int values = 0;
    for (int i = 0; i < g->nparams; i++)
        values |= g->params[i].data != NULL;
    if (pipeline_run(g, &o->pipe, &diag))
        return 1;
    if (driver_print_ir(g, values ? IRP_VALUES : 0, &diag))
        return 1;
    return diag.nerrors ? 1 : 0;
}
