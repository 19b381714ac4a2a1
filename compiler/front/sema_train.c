/* sema_train.c — a train block to a TrainCfg: data sources, loss,
 * optimizer and its hyperparameters (torch.optim's checks), the integer
 * and boolean settings, paths, frozen layers; defaults applied. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

/* The path of a string value, relative to the folder of the .nnet file;
 * NULL, with an error, for an empty string (it would name that folder). */
static const char *resolve_path(Sema *s, const Value *v)
{
    const char *p = v->s;
    if (!p[0]) {
        diag_error(s->d, v->span, "the path is empty");
        return NULL;
    }
    if (p[0] == '/' || !s->base_dir || !s->base_dir[0] || strcmp(s->base_dir, ".") == 0)
        return p;
    return xasprintf("%s/%s", s->base_dir, p);
}

/* A bare name that is not a `let` (allowed for loss = mse) where a value
 * was wanted is an undefined name. */
static int undefined_symbol(Sema *s, const Value *v)
{
    if (v->kind != V_CALL || v->nargs >= 0)
        return 0;
    if (sema_defined_later(s, v->fn))
        diag_error(s->d, v->span, "'%s' is used before its definition", v->fn);
    else if (!strcmp(v->fn, "True") || !strcmp(v->fn, "False"))
        diag_error(s->d, v->span, "undefined name '%s' (booleans are written '%s')", v->fn,
                   v->fn[0] == 'T' ? "true" : "false");
    else
        diag_error(s->d, v->span, "undefined name '%s'", v->fn);
    return 1;
}

static int expect_kind(Sema *s, const Value *v, ValueKind k, const char *key)
{
    if (v->kind == V_ERROR || undefined_symbol(s, v))
        return -1;
    if (k == V_INT && v->inexact) {
        diag_error(s->d, v->span, "'%s' must be an integer, but a division in it does not divide exactly", key);
        return -1;
    }
    if (v->kind == k || (k == V_REAL && v->kind == V_INT))
        return 0;
    diag_error(s->d, v->span, "'%s' must be %s, not %s", key, sema_kind_name(k), sema_kind_name(v->kind));
    return -1;
}

static int data_source(Sema *s, const Value *v, DataSrc *ds, const char *key)
{
    memset(ds, 0, sizeof *ds);
    ds->span = v->span;
    if (v->kind != V_CALL || v->nargs < 0 || (strcmp(v->fn, "csv") && strcmp(v->fn, "idx") && strcmp(v->fn, "text"))) {
        if (v->kind != V_ERROR && !undefined_symbol(s, v))
            diag_error(s->d, v->span, "'%s' must be a data source: csv(path, ...), idx(images, labels, ...) or text(path, context)", key);
        return -1;
    }
    Value *slot[4];
    if (strcmp(v->fn, "text") == 0) {
        /* text(path, context): bytes as tokens (LANGUAGE.md §10) */
        static const ArgSpec spec[] = {{"path", AT_STR, 1}, {"context", AT_INT, 1}, {NULL, 0, 0}};
        if (sema_bind_args(s, "text", v->span, spec, v->args, v->nargs, slot))
            return -1;
        ds->kind = NNR_DATA_TEXT;
        if (!(ds->path = resolve_path(s, slot[0])))
            return -1;
        if (slot[1]->i < 1 || slot[1]->i > 1000000) {
            diag_error(s->d, slot[1]->span, "text: context must be a positive number of tokens");
            return -1;
        }
        ds->context = (int)slot[1]->i;
        ds->has_label = 1;
        return 0;
    }
    if (strcmp(v->fn, "csv") == 0) {
        static const ArgSpec spec[] = {{"path", AT_STR, 1}, {"label", AT_INT, 0}, {"targets", AT_INT, 0},
                                       {"header", AT_BOOL, 0}, {NULL, 0, 0}};
        if (sema_bind_args(s, "csv", v->span, spec, v->args, v->nargs, slot))
            return -1;
        ds->kind = NNR_DATA_CSV;
        ds->path = resolve_path(s, slot[0]);
        if (!ds->path)
            return -1;
        ds->has_label = 1;
        ds->label = -1;
        if (slot[1])
            ds->label = (int)slot[1]->i;
        if (slot[2]) {
            if (slot[2]->i < 0 || slot[2]->i > 1000000) {
                diag_error(s->d, slot[2]->span, "csv: targets must be a count of columns (0 or more)");
                return -1;
            }
            ds->targets = (int)slot[2]->i;
            if (ds->targets > 0 && !slot[1])
                ds->has_label = 0;
            if (ds->targets > 0 && slot[1]) {
                diag_error(s->d, slot[2]->span, "csv: give either label or targets, not both");
                return -1;
            }
        }
        if (slot[1] && (slot[1]->i > 1000000 || slot[1]->i < -1000000)) {
            diag_error(s->d, slot[1]->span, "csv: label column %lld is out of range", (long long)slot[1]->i);
            return -1;
        }
        ds->header = slot[3] ? (int)slot[3]->i : 0;
        return 0;
    }
    /* idx(images, labels, scale = 1.0) */
    for (int i = 0, npos = 0; i < v->nargs; i++)
        if (v->args[i].name ? strcmp(v->args[i].name, "scale") != 0 : npos++ < 2) {
            if (v->args[i].v->kind != V_STR) {
                diag_error(s->d, v->args[i].v->span, "idx: file names must be strings");
                return -1;
            }
        }
    ds->kind = NNR_DATA_IDX;
    ds->scale = 1.0;
    int npos = 0;
    for (int i = 0; i < v->nargs; i++) {
        const ValueArg *a = &v->args[i];
        if (!a->name) {
            if (npos == 0) {
                if (!(ds->path = resolve_path(s, a->v)))
                    return -1;
            } else if (npos == 1) {
                if (!(ds->path2 = resolve_path(s, a->v)))
                    return -1;
            } else if (npos == 2) {
                if (a->v->kind != V_REAL && a->v->kind != V_INT) {
                    diag_error(s->d, a->v->span, "idx: scale must be a number");
                    return -1;
                }
                ds->scale = a->v->kind == V_INT ? (double)a->v->i : a->v->r;
            } else {
                diag_error(s->d, a->v->span, "idx takes at most 3 arguments");
                return -1;
            }
            npos++;
        } else if (!strcmp(a->name, "images") || !strcmp(a->name, "labels")) {
            const char *path = resolve_path(s, a->v);
            if (!path)
                return -1;
            if (a->name[0] == 'i') ds->path = path;
            else ds->path2 = path;
        } else if (!strcmp(a->name, "scale")) {
            if (a->v->kind != V_REAL && a->v->kind != V_INT) {
                diag_error(s->d, a->v->span, "idx: scale must be a number");
                return -1;
            }
            ds->scale = a->v->kind == V_INT ? (double)a->v->i : a->v->r;
        } else {
            diag_error(s->d, a->name_span, "idx has no argument '%s'", a->name);
            return -1;
        }
    }
    if (!ds->path) {
        diag_error(s->d, v->span, "idx: missing argument 'images'");
        return -1;
    }
    ds->has_label = ds->path2 != NULL;
    return 0;
}

/* adam's and adamw's `betas = [b1, b2]` (PyTorch's tuple) among args: taken
 * out of args (the others are left in kept[0..*nkept)) into b. 1 when
 * given, 0 when not, -1 after an error. */
static int optimizer_betas(Sema *s, const nnr_optim_spec *spec, const Value *v, ValueArg *kept,
                           int *nkept, double b[2])
{
    int found = 0;
    *nkept = 0;
    for (int i = 0; i < (v->nargs < 0 ? 0 : v->nargs); i++) {
        const ValueArg *a = &v->args[i];
        if (!a->name || strcmp(a->name, "betas") || spec->kind == NNR_OPT_SGD) {
            kept[(*nkept)++] = *a;
            continue;
        }
        const Value *l = a->v;
        if (found) {
            diag_error(s->d, a->name_span, "%s: argument 'betas' is given twice", spec->name);
            return -1;
        }
        found = 1;
        if (l->kind == V_ERROR)
            return -1;
        const Value *x = l->kind == V_LIST && l->n == 2 ? sema_list_item(l, 0) : NULL;
        const Value *y = x ? sema_list_item(l, 1) : NULL;
        if (!x || (x->kind != V_INT && x->kind != V_REAL) || (y->kind != V_INT && y->kind != V_REAL)) {
            diag_error(s->d, l->span, "%s: 'betas' must be a list of two numbers, as "
                       "betas = [0.9, 0.999]", spec->name);
            return -1;
        }
        b[0] = x->kind == V_INT ? (double)x->i : x->r;
        b[1] = y->kind == V_INT ? (double)y->i : y->r;
    }
    return found;
}

/* optimizer = sgd(...) | adam(...) | adamw(...): arguments, defaults and
 * ranges from the one table of training rules that a program's --optimizer
 * uses too (nnr_optim_specs, runtime/io/optspec.c); adam's betas = [b1, b2]
 * means beta1 = b1, beta2 = b2. */
static int optimizer(Sema *s, const Value *v, TrainCfg *t)
{
    if (v->kind != V_CALL) {
        if (v->kind != V_ERROR)
            diag_error(s->d, v->span, "'optimizer' must be sgd(...), adam(...) or adamw(...)");
        return -1;
    }
    const nnr_optim_spec *spec = nnr_optim_find(v->fn, strlen(v->fn));
    if (!spec) {
        diag_error(s->d, v->span, "unknown optimizer '%s' (expected sgd, adam or adamw)", v->fn);
        return -1;
    }
    t->optim = spec->kind;
    t->has_optim = 1;
    ArgSpec as[NNR_OPTIM_NARGS + 1];
    for (int i = 0; i < NNR_OPTIM_NARGS; i++)
        as[i] = (ArgSpec){spec->args[i].name, spec->args[i].is_bool ? AT_BOOL : AT_REAL,
                          spec->args[i].required};
    as[NNR_OPTIM_NARGS] = (ArgSpec){NULL, 0, 0};
    Value *slot[NNR_OPTIM_NARGS + 1];
    ValueArg *kept = xcalloc((size_t)(v->nargs > 0 ? v->nargs : 0) + 1, sizeof *kept);
    double betas[2] = {0, 0};
    int nkept, has_betas = optimizer_betas(s, spec, v, kept, &nkept, betas);
    if (has_betas < 0 || sema_bind_args(s, spec->name, v->span, as, kept, nkept, slot))
        return -1;
    if (has_betas && (slot[1] || slot[2])) {
        diag_error(s->d, (slot[1] ? slot[1] : slot[2])->span, "%s: betas and %s are both given",
                   spec->name, slot[1] ? "beta1" : "beta2");
        return -1;
    }
    BuildCtx cx = {0};
    cx.arg = slot;
    double val[NNR_OPTIM_NARGS];
    int given[NNR_OPTIM_NARGS];
    for (int i = 0; i < NNR_OPTIM_NARGS; i++) {
        given[i] = slot[i] != NULL;
        val[i] = spec->args[i].is_bool ? arg_bool(&cx, i, 0) : arg_real(&cx, i, 0);
    }
    if (has_betas) {    /* adam, adamw: slots 1 and 2 are beta1 and beta2 */
        val[1] = betas[0];
        val[2] = betas[1];
        given[1] = given[2] = 1;
    }
    nnr_optim o;
    char err[256];
    if (nnr_optim_make(spec, val, given, &o, err, sizeof err)) {
        diag_error(s->d, v->span, "%s", err);
        return -1;
    }
    t->lr = o.lr;
    t->momentum = o.momentum;
    t->dampening = o.dampening;
    t->weight_decay = o.weight_decay;
    t->nesterov = o.nesterov;
    t->beta1 = o.beta1;
    t->beta2 = o.beta2;
    t->eps = o.eps;
    return 0;
}


/* The node that computes the model's output, looking through flatten,
 * identity and dropout (which do not change what the values are); -1 for
 * the input itself. */
static int last_op(const Graph *g)
{
    int out = ir_output(g);
    while (out >= 0 && (op_info[g->nodes[out].op].flags & OPF_NOOP_INF))
        out = g->nodes[out].in[0];
    return out;
}

/* loss = cross_entropy(label_smoothing = X): X in [0, 1] as PyTorch wants. */
static int loss_args(Sema *s, const Value *v, int loss, TrainCfg *tc)
{
    static const ArgSpec spec[] = {{"label_smoothing", AT_REAL, 0}, {NULL, 0, 0}};
    if (v->nargs <= 0)
        return 0;
    if (loss != NNR_LOSS_CROSS_ENTROPY) {
        diag_error(s->d, v->span, "the loss %s takes no arguments (label_smoothing is "
                   "cross_entropy's)", nnr_loss_names[loss]);
        return -1;
    }
    for (int i = 0; i < v->nargs; i++)
        if (v->args[i].name && strcmp(v->args[i].name, "label_smoothing")) {
            diag_error(s->d, v->args[i].name_span, "cross_entropy has no argument '%s' (its "
                       "only keyword is label_smoothing)", v->args[i].name);
            return -1;
        }
    Value *slot[1];
    if (sema_bind_args(s, "cross_entropy", v->span, spec, v->args, v->nargs, slot))
        return -1;
    if (slot[0]) {
        double e = slot[0]->kind == V_INT ? (double)slot[0]->i : slot[0]->r;
        if (!(e >= 0 && e <= 1)) {
            diag_error(s->d, slot[0]->span, "label_smoothing must be in [0, 1]");
            return -1;
        }
        tc->label_smoothing = e;
    }
    return 0;
}

/* loss = NAME, or cross_entropy(label_smoothing = X) */
static void train_loss(Sema *s, const Value *v, TrainCfg *tc)
{
    int found = v->kind == V_CALL ? nnr_loss_find(v->fn) : -1;
    if (found >= 0 && loss_args(s, v, found, tc))
        return;
    if (found < 0 && v->kind == V_CALL)
        diag_error(s->d, v->span, "unknown loss '%s' (expected %s)", v->fn, nnr_loss_list());
    else if (found < 0 && v->kind != V_ERROR)
        diag_error(s->d, v->span, "'loss' must be the name of a loss (%s), not %s", nnr_loss_list(),
                   sema_kind_name(v->kind));
    tc->loss = found < 0 ? 0 : found;
    tc->has_loss = found >= 0;
}

/* The position of the layer of md called name, -1 when none (the last
 * when several are). An unnamed layer's name is its position, as in the
 * state_dict ("2" for "2.weight"). labels: label -> 1 + position;
 * layers: md's layers by position. */
static int layer_named(const Decl *md, const StrMap *labels, const Layer **layers, const char *name)
{
    int pos = (int)(intptr_t)strmap_get(labels, name) - 1;
    char *end;
    errno = 0;
    long k = strtol(name, &end, 10);
    char num[24];
    if (!errno && !*end && k >= 0 && k < md->nlayers && !layers[k]->label && k > pos) {
        snprintf(num, sizeof num, "%ld", k);
        if (!strcmp(num, name))
            pos = (int)k;
    }
    return pos;
}

/* A layer name of a graph model matches its own layer and every layer
 * under it ("layer1" freezes "layer1.0.conv1"); k is a layer index. */
static int under(const char *label, const char *name)
{
    size_t n = strlen(name);
    return label && !strncmp(label, name, n) && (label[n] == '\0' || label[n] == '.');
}

static void freeze_add(TrainCfg *tc, int k)
{
    for (int i = 0; i < tc->nfreeze; i++)
        if (tc->freeze[i] == k)
            return;
    tc->freeze[tc->nfreeze++] = k;
}

/* freeze = [...] of a graph model: names are dotted prefixes, positions
 * the layers' indices (declared layers first, in declaration order). */
static void freeze_graph(Sema *s, const Decl *t, const Value *v, TrainCfg *tc, const Graph *g)
{
    tc->freeze = xcalloc((size_t)(g->nnodes + g->nparams + v->n) + 1, sizeof *tc->freeze);
    tc->nfreeze = 0;
    for (int i = 0; i < v->n; i++) {
        const Value *f = sema_list_item(v, i);
        if (f->kind != V_INT && f->kind != V_STR) {
            diag_error(s->d, f->span, "freeze: expected a layer name (string) or position (integer)");
            continue;
        }
        int found = 0;
        for (int k = 0; k < g->nparams; k++) {
            const Param *p = &g->params[k];
            if (f->kind == V_INT ? p->layer == f->i : under(p->layer_name, f->s)) {
                freeze_add(tc, p->layer);
                found = 1;
            }
        }
        for (int k = 0; k < g->nnodes; k++) {
            const Node *n = &g->nodes[k];
            if (f->kind == V_INT ? n->layer == f->i : under(n->label, f->s)) {
                freeze_add(tc, n->layer);
                found = 1;
            }
        }
        if (found)
            continue;
        if (f->kind == V_INT)
            diag_error(s->d, f->span, "freeze: model '%s' has no layer at position %lld", t->name, (long long)f->i);
        else
            diag_error(s->d, f->span, "freeze: model '%s' has no layer named '%s'", t->name, f->s);
    }
}

/* freeze = [layer names or positions] of the model of train block t. */
static void train_freeze(Sema *s, const Decl *t, const Value *v, TrainCfg *tc)
{
    const Decl *gm = strmap_get(&s->model_decls, t->name);
    intptr_t at = (intptr_t)strmap_get(&s->lowered, t->name);
    if (gm && sema_is_graph_model(s, gm)) {
        if (at && s->prog->models[at - 1])
            freeze_graph(s, t, v, tc, s->prog->models[at - 1]);
        return;
    }
    tc->freeze = xcalloc((size_t)v->n + 1, sizeof *tc->freeze);
    tc->nfreeze = 0; /* a repeated key (already an error) starts over */
    const Decl *md = strmap_get(&s->model_decls, t->name);
    StrMap labels = {0};
    strmap_reserve(&labels, md ? (size_t)md->nlayers : 0);
    const Layer **layers = xcalloc(md ? (size_t)md->nlayers + 1 : 1, sizeof *layers);
    int pos = 0;
    for (const Layer *l = md ? md->layers : NULL; l; l = l->next, pos++) {
        layers[pos] = l;
        if (l->label)
            strmap_put(&labels, l->label, (void *)(intptr_t)(pos + 1));
    }
    for (int i = 0; i < v->n; i++) {
        const Value *f = sema_list_item(v, i);
        int layer = -1;
        if (f->kind == V_INT) {
            if (f->i >= 0 && md && f->i < md->nlayers)
                layer = (int)f->i;
        } else if (f->kind == V_STR && md) {
            layer = layer_named(md, &labels, layers, f->s);
        } else {
            diag_error(s->d, f->span, "freeze: expected a layer name (string) or position (integer)");
            continue;
        }
        if (layer < 0) {
            if (f->kind == V_INT)
                diag_error(s->d, f->span, "freeze: model '%s' has no layer at position %lld", t->name, (long long)f->i);
            else
                diag_error(s->d, f->span, "freeze: model '%s' has no layer named '%s'", t->name, f->s);
            continue;
        }
        tc->freeze[tc->nfreeze++] = layer;
    }
    strmap_free(&labels);
    free(layers);
}

/* A value as the text of the train block's syntax (for nnr_parse_schedule,
 * which the program's --schedule goes through too), appended at b[*at]. */
static void value_text(const Value *v, char *b, size_t cap, size_t *at)
{
#define PUT(...) do { if (*at < cap) *at += (size_t)snprintf(b + *at, cap - *at, __VA_ARGS__); } while (0)
    switch (v->kind) {
    case V_INT: PUT("%lld", (long long)v->i); break;
    case V_REAL: PUT("%.17g", v->r); break;
    case V_BOOL: PUT("%s", v->i ? "true" : "false"); break;
    case V_STR: PUT("\"%s\"", v->s); break;
    case V_LIST:
        PUT("[");
        for (int i = 0; i < v->n; i++) {
            PUT("%s", i ? ", " : "");
            value_text(v->items[i], b, cap, at);
        }
        PUT("]");
        break;
    case V_CALL:
        PUT("%s", v->fn);
        if (v->nargs >= 0) {
            PUT("(");
            for (int i = 0; i < v->nargs; i++) {
                PUT("%s", i ? ", " : "");
                if (v->args[i].name) PUT("%s = ", v->args[i].name);
                value_text(v->args[i].v, b, cap, at);
            }
            PUT(")");
        }
        break;
    case V_ERROR: case V_VALUE: PUT("?"); break;
    }
#undef PUT
}

/* The keys of LANGUAGE.md §10: schedule, clip_grad_norm, early_stopping,
 * checkpoint. 0 when k is none of them. */
static int train_item_v2(Sema *s, const char *k, const Value *v, TrainCfg *tc)
{
    if (!strcmp(k, "schedule")) {
        char text[2048], err[256];
        size_t at = 0;
        nnr_sched sc;
        if (v->kind == V_ERROR || undefined_symbol(s, v))
            return 1;
        value_text(v, text, sizeof text, &at);
        if (at >= sizeof text)
            diag_error(s->d, v->span, "schedule: too long");
        else if (nnr_parse_schedule(text, &sc, err, sizeof err))
            diag_error(s->d, v->span, "schedule: %s", err);
        else
            tc->schedule = xasprintf("%s", text);
    } else if (!strcmp(k, "clip_grad_norm")) {
        if (expect_kind(s, v, V_REAL, k) == 0) {
            double x = v->kind == V_INT ? (double)v->i : v->r;
            if (!(x > 0))
                diag_error(s->d, v->span, "'clip_grad_norm' must be a positive number");
            else
                tc->clip_grad_norm = x;
        }
    } else if (!strcmp(k, "early_stopping")) {
        if (expect_kind(s, v, V_INT, k) == 0) {
            if (v->i < 1 || v->i > 1000000000)
                diag_error(s->d, v->span, "'early_stopping' = %lld is out of range (1 to "
                           "1000000000 epochs)", (long long)v->i);
            else
                tc->early_stopping = v->i;
        }
    } else if (!strcmp(k, "checkpoint")) {
        const char *path;
        if (expect_kind(s, v, V_STR, k) == 0 && (path = resolve_path(s, v)) != NULL)
            tc->checkpoint = path;
    } else {
        return 0;
    }
    return 1;
}

/* An unknown key: the nearest known one, or the list of them. */
static void unknown_key(Sema *s, const TrainItem *it)
{
    static const char *keys[] = {"data", "validation", "loss", "optimizer", "epochs", "batch",
                                 "shuffle", "seed", "init", "strict", "freeze", "save", "log",
                                 "schedule", "clip_grad_norm", "early_stopping", "checkpoint"};
    static const char *optim_args[] = {"lr", "learning_rate", "momentum", "dampening", "nesterov",
                                       "weight_decay", "betas", "beta1", "beta2", "eps"};
    for (size_t i = 0; i < sizeof optim_args / sizeof *optim_args; i++)
        if (!strcmp(it->key, optim_args[i])) {
            diag_error(s->d, it->key_span, "unknown train setting '%s': the optimizer takes it, as "
                       "in optimizer = %s", it->key, !strcmp(it->key, "betas")
                       ? "adam(lr = 0.001, betas = [0.9, 0.999])"
                       : "sgd(lr = 0.1, momentum = 0.9) or adam(lr = 0.001, beta1 = 0.9, beta2 = "
                         "0.999)");
            return;
        }
    const int nk = (int)(sizeof keys / sizeof *keys);
    int best = -1, bd = 3;
    for (int i = 0; i < nk; i++) {
        int d = sema_edit_distance(it->key, keys[i]);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    if (best >= 0) {
        diag_error(s->d, it->key_span, "unknown train setting '%s' (did you mean '%s'?)", it->key,
                   keys[best]);
        return;
    }
    char list[512];
    size_t at = 0;
    for (int i = 0; i < nk && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", keys[i]);
    diag_error(s->d, it->key_span, "unknown train setting '%s' (the settings are %s)", it->key,
               list);
}

/* One `key = value` of train block t into tc; *loss_span: where the loss is. */
static void train_item(Sema *s, const Decl *t, const TrainItem *it, TrainCfg *tc, Span *loss_span)
{
    Value *v = sema_eval(s, it->value, 1);
    const char *k = it->key;
    if (!strcmp(k, "data")) {
        data_source(s, v, &tc->data, k);
    } else if (!strcmp(k, "validation")) {
        data_source(s, v, &tc->validation, k);
    } else if (!strcmp(k, "loss")) {
        *loss_span = v->span;
        train_loss(s, v, tc);
    } else if (!strcmp(k, "optimizer")) {
        optimizer(s, v, tc);
    } else if (!strcmp(k, "epochs") || !strcmp(k, "batch") || !strcmp(k, "seed")) {
        if (expect_kind(s, v, V_INT, k) == 0) {
            int64_t lo = !strcmp(k, "batch") ? 1 : 0;
            int64_t hi = !strcmp(k, "seed") ? INT64_MAX : 1000000000;
            if (v->i < lo || v->i > hi)
                diag_error(s->d, v->span, "'%s' = %lld is out of range (%lld to %lld)", k, (long long)v->i,
                           (long long)lo, (long long)hi);
            else if (!strcmp(k, "epochs")) tc->epochs = v->i;
            else if (!strcmp(k, "batch")) tc->batch = v->i;
            else tc->seed = (uint64_t)v->i;
        }
    } else if (!strcmp(k, "shuffle") || !strcmp(k, "strict")) {
        if (expect_kind(s, v, V_BOOL, k) == 0) {
            if (!strcmp(k, "shuffle")) tc->shuffle = (int)v->i;
            else tc->strict = (int)v->i;
        }
    } else if (!strcmp(k, "init") || !strcmp(k, "save") || !strcmp(k, "log")) {
        const char *path;
        if (expect_kind(s, v, V_STR, k) == 0 && (path = resolve_path(s, v)) != NULL) {
            if (!strcmp(k, "init")) tc->init = path;
            else if (!strcmp(k, "save")) tc->save = path;
            else tc->log = path;
        }
    } else if (!strcmp(k, "freeze")) {
        if (expect_kind(s, v, V_LIST, k) == 0)
            train_freeze(s, t, v, tc);
    } else if (!train_item_v2(s, k, v, tc)) {
        unknown_key(s, it);
    }
}

/* The loss against the model g's output: its shape, and the warnings
 * about a softmax or a missing sigmoid in front of it. */
static void train_loss_vs_model(Sema *s, const Graph *g, const TrainCfg *tc, Span loss_span)
{
    if (tc->loss == NNR_LOSS_CROSS_ENTROPY || tc->loss == NNR_LOSS_NLL) {
        /* PyTorch takes the classes from dim 1 of a [N, C, d1, ...] output
         * (with targets [N, d1, ...]); a CSV row has one label, so the
         * output must be one vector of class scores per sample, or a
         * sequence [T, C] of them with T labels (LANGUAGE.md §10). */
        const Shape *os = ir_value_shape(g, ir_output(g));
        if (os->ndim != 1 && os->ndim != 2) {
            char sb[64];
            diag_error(s->d, loss_span, "%s needs one vector of class scores per sample (or a sequence "
                       "[T, C] of them), but the model's output has shape %s (add flatten)",
                       tc->loss == NNR_LOSS_NLL ? "nll" : "cross_entropy", shape_str(os, sb, sizeof sb));
        }
    }
    if (tc->loss == NNR_LOSS_CROSS_ENTROPY) {
        int out = last_op(g);
        if (out >= 0 && g->nodes[out].op == OP_SOFTMAX)
            diag_warning(s->d, loss_span, "the model ends in softmax and cross_entropy applies log_softmax "
                                          "itself: the softmax is applied twice (use the logits, or nll after log_softmax)");
    }
    if (tc->loss == NNR_LOSS_BCE) {
        /* bce takes probabilities (PyTorch refuses anything outside [0, 1]) */
        int out = last_op(g);
        if (out < 0 || (g->nodes[out].op != OP_SIGMOID && g->nodes[out].op != OP_SOFTMAX))
            diag_warning(s->d, loss_span, "bce takes probabilities, but the model does not end in sigmoid or "
                                          "softmax: an output outside [0, 1] is an error when training (end "
                                          "the model in sigmoid, or use bce_with_logits)");
    }
}

/* A freeze list that leaves no trainable parameter of a model that has
 * some: PyTorch's optimizer refuses an empty parameter list. */
static void train_freeze_vs_model(Sema *s, const Graph *g, const TrainCfg *tc, Span at)
{
    if (!tc->nfreeze || !tc->has_optim)
        return;
    int any = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        int frozen = ir_param_frozen(g, i, tc->freeze, tc->nfreeze);
        if (p->kind != NNR_T_PARAM || p->numel <= 0)
            continue;
        if (!frozen)
            return;
        any = 1;
    }
    if (any)
        diag_error(s->d, at, "freeze leaves nothing to train: every layer with parameters is "
                   "frozen (PyTorch's optimizer refuses an empty parameter list)");
}

void sema_check_train(Sema *s, const Decl *t, Program *p)
{
    intptr_t at = (intptr_t)strmap_get(&s->lowered, t->name);
    int mi = at ? (int)at - 1 : p->nmodels;
    if (!strmap_get(&s->model_decls, t->name)) {
        diag_error(s->d, t->name_span, "train block for unknown model '%s'", t->name);
        return;
    }
    TrainCfg tc;
    memset(&tc, 0, sizeof tc);
    tc.present = 1;
    tc.model = t->name;
    tc.epochs = 1;
    tc.batch = 32;
    tc.shuffle = 1;
    tc.strict = 1;
    Graph *g = mi < p->nmodels ? p->models[mi] : NULL;
    Span loss_span = t->span, freeze_span = t->span;
    StrMap keys = {0};
    for (const TrainItem *it = t->items; it; it = it->next) {
        if (strmap_put(&keys, it->key, (void *)it))
            diag_error(s->d, it->key_span, "'%s' is given twice in this train block", it->key);
        train_item(s, t, it, &tc, &loss_span);
        if (!strcmp(it->key, "freeze"))
            freeze_span = it->value->span;
    }
    strmap_free(&keys);
    if (!tc.has_loss && s->d->nerrors == 0)
        diag_error(s->d, t->name_span, "train block for '%s' has no 'loss'", t->name);
    /* no optimizer: the program evaluates (eval needs none) but refuses to train */
    if (g && tc.has_loss)
        train_loss_vs_model(s, g, &tc, loss_span);
    if (g)
        train_freeze_vs_model(s, g, &tc, freeze_span);
    if (mi < p->nmodels) {
        if (p->trains[mi].present)
            diag_error(s->d, t->name_span, "model '%s' has two train blocks", t->name);
        p->trains[mi] = tc;
    }
}
