/* sema.c — from the syntax tree to checked IR.
 *
 * One walk over the declarations in source order: `let` values are
 * evaluated (exact integer arithmetic), each model is lowered layer by
 * layer (argument binding against the op's schema, parameter creation with
 * PyTorch state_dict names, shape inference), each train block becomes a
 * TrainCfg with its defaults. Errors accumulate; a model whose shapes broke
 * keeps being checked for names and arguments, but not for shapes. */
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sema.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

/* Upper bound on parameters + activations of one sample, in floats.
 * Larger models are rejected at compile time (issue: resource limits). */
int64_t nnc_max_floats = (int64_t)1 << 31;

typedef struct Binding {
    const char *name;
    Value *v;
} Binding;

typedef struct Sema {
    Diag *d;
    const Ast *ast;
    const char *base_dir;
    Binding *lets;
    int nlets, caplets;
    int depth;
} Sema;

static Value *new_value(ValueKind k, Span sp)
{
    Value *v = xcalloc(1, sizeof *v);
    v->kind = k;
    v->span = sp;
    return v;
}

static const char *kind_name(ValueKind k)
{
    switch (k) {
    case V_INT: return "an integer";
    case V_REAL: return "a real number";
    case V_STR: return "a string";
    case V_BOOL: return "a boolean";
    case V_LIST: return "a list";
    case V_CALL: return "a call";
    default: return "an invalid value";
    }
}

static Value *lookup_let(Sema *s, const char *name)
{
    for (int i = s->nlets - 1; i >= 0; i--)
        if (strcmp(s->lets[i].name, name) == 0)
            return s->lets[i].v;
    return NULL;
}

static int defined_later(Sema *s, const char *name)
{
    for (const Decl *d = s->ast->decls; d; d = d->next)
        if (d->kind == DECL_LET && strcmp(d->name, name) == 0)
            return 1;
    return 0;
}

/* Evaluate an expression. Bare identifiers that are not `let` names become
 * symbols (a V_CALL with nargs = -1) when allow_sym is set: `loss = mse`. */
static Value *eval(Sema *s, const Expr *e, int allow_sym)
{
    Value *v;
    if (++s->depth > 200) {
        s->depth--;
        diag_error(s->d, e->span, "expression nested too deeply");
        return new_value(V_ERROR, e->span);
    }
    switch (e->kind) {
    case EX_INT:
        v = new_value(V_INT, e->span);
        v->i = e->ival;
        break;
    case EX_REAL:
        v = new_value(V_REAL, e->span);
        v->r = e->rval;
        break;
    case EX_STRING:
        v = new_value(V_STR, e->span);
        v->s = e->sval;
        break;
    case EX_BOOL:
        v = new_value(V_BOOL, e->span);
        v->i = e->ival;
        break;
    case EX_IDENT: {
        Value *b = lookup_let(s, e->name);
        if (b) {
            v = xcalloc(1, sizeof *v);
            *v = *b;
            v->span = e->span;
        } else if (allow_sym) {
            v = new_value(V_CALL, e->span);
            v->fn = e->name;
            v->nargs = -1;
        } else {
            if (defined_later(s, e->name))
                diag_error(s->d, e->span, "'%s' is used before its definition", e->name);
            else
                diag_error(s->d, e->span, "undefined name '%s'", e->name);
            v = new_value(V_ERROR, e->span);
        }
        break;
    }
    case EX_CALL: {
        v = new_value(V_CALL, e->span);
        v->fn = e->name;
        v->args = xcalloc((size_t)e->nargs + 1, sizeof *v->args);
        for (const Arg *a = e->args; a; a = a->next) {
            ValueArg *va = &v->args[v->nargs++];
            va->name = a->name;
            va->name_span = a->name_span;
            va->v = eval(s, a->value, 0);
        }
        break;
    }
    case EX_LIST:
        v = new_value(V_LIST, e->span);
        v->items = xcalloc((size_t)e->nitems + 1, sizeof *v->items);
        for (int i = 0; i < e->nitems; i++) {
            v->items[i] = eval(s, e->items[i], 0);
            if (v->items[i]->kind == V_ERROR)
                v->kind = V_ERROR;
        }
        v->n = e->nitems;
        break;
    case EX_NEG: {
        Value *a = eval(s, e->lhs, 0);
        v = new_value(a->kind, e->span);
        if (a->kind == V_INT) {
            if (a->i == INT64_MIN) {
                diag_error(s->d, e->span, "integer overflow");
                v->kind = V_ERROR;
            }
            else
                v->i = -a->i;
        } else if (a->kind == V_REAL) {
            v->r = -a->r;
            v->inexact = a->inexact;
        } else if (a->kind != V_ERROR) {
            diag_error(s->d, e->span, "cannot negate %s", kind_name(a->kind));
            v->kind = V_ERROR;
        }
        break;
    }
    case EX_BINOP: {
        Value *a = eval(s, e->lhs, 0), *b = eval(s, e->rhs, 0);
        if (a->kind == V_ERROR || b->kind == V_ERROR) {
            v = new_value(V_ERROR, e->span);
            break;
        }
        int numa = a->kind == V_INT || a->kind == V_REAL, numb = b->kind == V_INT || b->kind == V_REAL;
        if (!numa || !numb) {
            diag_error(s->d, e->span, "operator '%c' needs numbers, not %s and %s", e->op,
                       kind_name(a->kind), kind_name(b->kind));
            v = new_value(V_ERROR, e->span);
            break;
        }
        if (a->kind == V_INT && b->kind == V_INT) {
            v = new_value(V_INT, e->span);
            int ovf = 0;
            switch (e->op) {
            case '+': ovf = __builtin_add_overflow(a->i, b->i, &v->i); break;
            case '-': ovf = __builtin_sub_overflow(a->i, b->i, &v->i); break;
            case '*': ovf = __builtin_mul_overflow(a->i, b->i, &v->i); break;
            default:
                if (b->i == 0) {
                    diag_error(s->d, e->span, "division by zero");
                    v->kind = V_ERROR;
                } else if (a->i % b->i != 0) {
                    v->kind = V_REAL;
                    v->r = (double)a->i / (double)b->i;
                    v->inexact = 1;
                } else if (a->i == INT64_MIN && b->i == -1) {
                    ovf = 1;
                } else {
                    v->i = a->i / b->i;
                }
            }
            if (ovf) {
                diag_error(s->d, e->span, "integer overflow in '%c'", e->op);
                v->kind = V_ERROR;
            }
        } else {
            double x = a->kind == V_INT ? (double)a->i : a->r;
            double y = b->kind == V_INT ? (double)b->i : b->r;
            v = new_value(V_REAL, e->span);
            /* a size computed from an inexact division stays an error
             * about that division ("7 / 2 * 2" is not 7) */
            v->inexact = a->inexact || b->inexact;
            switch (e->op) {
            case '+': v->r = x + y; break;
            case '-': v->r = x - y; break;
            case '*': v->r = x * y; break;
            default:
                if (y == 0) {
                    diag_error(s->d, e->span, "division by zero");
                    v->kind = V_ERROR;
                } else {
                    v->r = x / y;
                }
            }
        }
        break;
    }
    default:
        NNC_ICE("unknown expression kind %d", e->kind);
    }
    s->depth--;
    return v;
}

/* Edit distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int prev[41], cur[41];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c) c = prev[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            cur[j] = c;
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[lb];
}

static int type_ok(const Value *v, int types)
{
    switch (v->kind) {
    case V_INT: return (types & (AT_INT | AT_REAL)) != 0;
    case V_REAL: return (types & AT_REAL) != 0;
    case V_BOOL: return (types & AT_BOOL) != 0;
    case V_LIST: return (types & AT_LIST) != 0;
    case V_STR: return (types & AT_STR) != 0;
    case V_ERROR: return 1;
    default: return 0;
    }
}

static const char *types_name(int types)
{
    static char buf[96];
    buf[0] = '\0';
    const char *names[] = {"an integer", "a number", "true or false", "a list", "a string"};
    int first = 1;
    for (int i = 0; i < 5; i++) {
        if (!(types & (1 << i)) || (i == 0 && (types & AT_REAL)))
            continue;
        strcat(buf, first ? "" : " or ");
        strcat(buf, names[i]);
        first = 0;
    }
    return buf;
}

/* Bind a call's arguments to a schema. Returns 0 when all is well. */
static int bind_args(Sema *s, const char *what, Span at, const ArgSpec *spec, ValueArg *args,
                     int nargs, Value **slot)
{
    int nspec = 0, bad = 0;
    while (spec[nspec].name)
        nspec++;
    for (int i = 0; i < nspec; i++)
        slot[i] = NULL;
    int pos = 0, seen_kw = 0;
    for (int i = 0; i < nargs; i++) {
        ValueArg *a = &args[i];
        int k;
        if (a->name) {
            seen_kw = 1;
            for (k = 0; k < nspec; k++)
                if (strcmp(spec[k].name, a->name) == 0)
                    break;
            if (k == nspec) {
                diag_error(s->d, a->name_span, "%s has no argument '%s'", what, a->name);
                bad = 1;
                continue;
            }
        } else {
            if (seen_kw) {
                diag_error(s->d, a->v->span, "%s: a positional argument cannot follow a keyword argument", what);
                bad = 1;
                continue;
            }
            k = pos++;
            if (k >= nspec) {
                if (nspec == 0)
                    diag_error(s->d, a->v->span, "%s takes no arguments", what);
                else
                    diag_error(s->d, a->v->span, "%s takes at most %d argument%s, but %d were given", what,
                               nspec, nspec == 1 ? "" : "s", nargs);
                bad = 1;
                break;
            }
        }
        if (slot[k]) {
            diag_error(s->d, a->name ? a->name_span : a->v->span, "%s: argument '%s' is given twice", what,
                       spec[k].name);
            bad = 1;
            continue;
        }
        if (a->v->inexact && (spec[k].types & AT_INT) && !(spec[k].types & AT_REAL)) {
            diag_error(s->d, a->v->span, "%s: argument '%s' must be an integer, but a division in it does not divide exactly",
                       what, spec[k].name);
            bad = 1;
            continue;
        }
        if (!type_ok(a->v, spec[k].types)) {
            diag_error(s->d, a->v->span, "%s: argument '%s' must be %s, not %s", what, spec[k].name,
                       types_name(spec[k].types), kind_name(a->v->kind));
            bad = 1;
            continue;
        }
        if (a->v->kind == V_ERROR)
            bad = 1;
        slot[k] = a->v;
    }
    for (int k = 0; k < nspec; k++)
        if (spec[k].required && !slot[k] && !bad) {
            diag_error(s->d, at, "%s: missing argument '%s'", what, spec[k].name);
            bad = 1;
        }
    return bad ? -1 : 0;
}

static ValueArg *eval_args(Sema *s, const Arg *args, int *nargs)
{
    int n = 0;
    for (const Arg *a = args; a; a = a->next)
        n++;
    ValueArg *va = xcalloc((size_t)n + 1, sizeof *va);
    n = 0;
    for (const Arg *a = args; a; a = a->next, n++) {
        va[n].name = a->name;
        va[n].name_span = a->name_span;
        va[n].v = eval(s, a->value, 0);
    }
    *nargs = n;
    return va;
}

static Graph *lower_model(Sema *s, const Decl *m, const SrcFile *src)
{
    Graph *g = ir_new_graph(m->name, src->path);
    int broken = 0;
    char buf[64];

    if (m->ninput < 1 || m->ninput > NNC_MAX_DIMS) {
        diag_error(s->d, m->input_span, "input must have between 1 and %d dimensions, not %d",
                   NNC_MAX_DIMS, m->ninput);
        broken = 1;
    }
    g->input.ndim = m->ninput > NNC_MAX_DIMS ? NNC_MAX_DIMS : m->ninput;
    g->ninputs = 1;     /* a v1 model: one input, %in */
    int64_t numel = 1;
    for (int i = 0; i < g->input.ndim; i++) {
        Value *v = eval(s, m->input[i], 0);
        if (v->kind == V_ERROR) {
            broken = 1;
            continue;
        }
        if (v->inexact) {
            diag_error(s->d, v->span, "an input dimension must be an integer, but a division in it does not divide exactly");
            broken = 1;
            continue;
        }
        if (v->kind != V_INT || v->i <= 0) {
            diag_error(s->d, v->span, "an input dimension must be a positive integer");
            broken = 1;
            continue;
        }
        g->input.d[i] = v->i;
        if (__builtin_mul_overflow(numel, v->i, &numel) || numel > nnc_max_floats) {
            diag_error(s->d, v->span, "the input has too many values per sample (limit %lld)",
                       (long long)nnc_max_floats);
            broken = 1;
            numel = 1;
        }
    }

    int pos = 0;
    for (const Layer *l = m->layers; l; l = l->next, pos++) {
        for (const Layer *p = m->layers; p != l; p = p->next)
            if (l->label && p->label && strcmp(l->label, p->label) == 0) {
                diag_error(s->d, l->label_span, "layer name '%s' is used twice in model '%s'", l->label, m->name);
                broken = 1;
            }
        int op = op_lookup(l->op);
        if (op < 0) {
            const char *best = NULL;
            int bestd = 3;
            for (int k = 0; k < OP__COUNT; k++) {
                int dd = edit_distance(l->op, op_info[k].name);
                if (dd < bestd) {
                    bestd = dd;
                    best = op_info[k].name;
                }
            }
            if (best)
                diag_error(s->d, l->op_span, "unknown layer '%s' (did you mean '%s'?)", l->op, best);
            else
                diag_error(s->d, l->op_span, "unknown layer '%s'", l->op);
            broken = 1;
            continue;
        }
        int nargs;
        ValueArg *args = eval_args(s, l->args, &nargs);
        const ArgSpec *spec = op_hooks[op].args((Op)op);
        int nspec = 0;
        while (spec[nspec].name)
            nspec++;
        Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
        if (bind_args(s, l->op, l->op_span, spec, args, nargs, slot)) {
            broken = 1;
            continue;
        }
        if (broken)
            continue;
        int ni = ir_add_node(g, (Op)op);
        ir_read(g, ni, ni - 1);     /* a v1 model is a sequence: a layer reads the one before */
        Node *n = &g->nodes[ni];
        n->span = l->op_span;
        n->layer = pos;
        n->label = l->label;
        BuildCtx cx = {g, s->d, ni, slot, l->op_span,
                       l->label ? l->label : xasprintf("%d", pos)};
        int first_param = g->nparams;
        if (op_hooks[op].build(&cx)) {
            broken = 1;
            continue;
        }
        int64_t total = 0;
        for (int k = first_param; k < g->nparams; k++) {
            Param *p = &g->params[k];
            int64_t ne = 1;
            int ovf = 0;
            for (int d = 0; d < p->ndim; d++)
                ovf |= __builtin_mul_overflow(ne, p->shape[d], &ne);
            p->numel = ne;
            if (ovf || ne > nnc_max_floats || (total += ne) > nnc_max_floats) {
                diag_error(s->d, l->op_span, "%s: parameter '%s' is too large (%s%lld floats; the limit is %lld)",
                           l->op, p->name, ovf ? "more than " : "", (long long)(ovf ? INT64_MAX : ne),
                           (long long)nnc_max_floats);
                broken = 1;
                break;
            }
        }
        if (broken)
            continue;
        g->nodes[ni].span = l->op_span;
        if (op_hooks[op].shape(g, &g->nodes[ni], s->d)) {
            broken = 1;
            continue;
        }
        int64_t ne = 1;
        const Shape *sh = &g->nodes[ni].shape;
        for (int d = 0; d < sh->ndim; d++)
            if (sh->d[d] <= 0 || __builtin_mul_overflow(ne, sh->d[d], &ne) || ne > nnc_max_floats) {
                diag_error(s->d, l->op_span, "%s: output shape %s is empty or too large", l->op,
                           shape_str(sh, buf, sizeof buf));
                broken = 1;
                break;
            }
    }
    if (broken)
        return NULL;
    ir_add_output(g, g->nnodes - 1);
    int64_t total = 0;
    for (int k = 0; k < g->nparams; k++)
        total += g->params[k].numel;
    if (total > nnc_max_floats) {
        diag_error(s->d, m->name_span, "model '%s' has %lld parameters; the limit is %lld floats", m->name,
                   (long long)total, (long long)nnc_max_floats);
        return NULL;
    }
    /* The arena: every activation of one sample, as training keeps them
     * (and -O0 lays them out), the input included. */
    int64_t acts = numel;
    int acts_ovf = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t ne = 1;
        for (int d = 0; d < g->nodes[i].shape.ndim; d++)
            acts_ovf |= __builtin_mul_overflow(ne, g->nodes[i].shape.d[d], &ne);
        acts_ovf |= __builtin_add_overflow(acts, ne, &acts);
    }
    if (acts_ovf || acts > nnc_max_floats) {
        diag_error(s->d, m->name_span, "model '%s' needs %s%lld floats of activations per sample "
                   "(its arena); the limit is %lld floats", m->name, acts_ovf ? "more than " : "",
                   (long long)(acts_ovf ? INT64_MAX : acts), (long long)nnc_max_floats);
        return NULL;
    }
    ir_layout_params(g);
    return g;
}

/* ---------------------------------------------------------------- train */

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
    if (defined_later(s, v->fn))
        diag_error(s->d, v->span, "'%s' is used before its definition", v->fn);
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
    diag_error(s->d, v->span, "'%s' must be %s, not %s", key, kind_name(k), kind_name(v->kind));
    return -1;
}

static int data_source(Sema *s, const Value *v, DataSrc *ds, const char *key)
{
    memset(ds, 0, sizeof *ds);
    ds->span = v->span;
    if (v->kind != V_CALL || v->nargs < 0 || (strcmp(v->fn, "csv") && strcmp(v->fn, "idx"))) {
        if (v->kind != V_ERROR && !undefined_symbol(s, v))
            diag_error(s->d, v->span, "'%s' must be a data source: csv(path, ...) or idx(images, labels, ...)", key);
        return -1;
    }
    Value *slot[4];
    if (strcmp(v->fn, "csv") == 0) {
        static const ArgSpec spec[] = {{"path", AT_STR, 1}, {"label", AT_INT, 0}, {"targets", AT_INT, 0},
                                       {"header", AT_BOOL, 0}, {NULL, 0, 0}};
        if (bind_args(s, "csv", v->span, spec, v->args, v->nargs, slot))
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

static int optimizer(Sema *s, const Value *v, TrainCfg *t)
{
    static const char *names[] = {"sgd", "adam", "adamw"};
    if (v->kind != V_CALL) {
        if (v->kind != V_ERROR)
            diag_error(s->d, v->span, "'optimizer' must be sgd(...), adam(...) or adamw(...)");
        return -1;
    }
    int k;
    for (k = 0; k < 3; k++)
        if (strcmp(v->fn, names[k]) == 0)
            break;
    if (k == 3) {
        diag_error(s->d, v->span, "unknown optimizer '%s' (expected sgd, adam or adamw)", v->fn);
        return -1;
    }
    t->optim = k;
    t->has_optim = 1;
    Value *slot[6];
    if (k == NNR_OPT_SGD) {
        static const ArgSpec spec[] = {{"lr", AT_REAL, 1}, {"momentum", AT_REAL, 0}, {"dampening", AT_REAL, 0},
                                       {"weight_decay", AT_REAL, 0}, {"nesterov", AT_BOOL, 0}, {NULL, 0, 0}};
        if (bind_args(s, "sgd", v->span, spec, v->args, v->nargs < 0 ? 0 : v->nargs, slot))
            return -1;
        BuildCtx cx = {0};
        cx.arg = slot;
        t->lr = arg_real(&cx, 0, 0);
        t->momentum = arg_real(&cx, 1, 0);
        t->dampening = arg_real(&cx, 2, 0);
        t->weight_decay = arg_real(&cx, 3, 0);
        t->nesterov = arg_bool(&cx, 4, 0);
        if (t->nesterov && (t->momentum <= 0 || t->dampening != 0)) {
            diag_error(s->d, v->span, "sgd: nesterov momentum requires a momentum and zero dampening");
            return -1;
        }
        if (t->momentum < 0) { /* torch.optim's checks */
            diag_error(s->d, v->span, "sgd: momentum must not be negative");
            return -1;
        }
    } else {
        static const ArgSpec spec[] = {{"lr", AT_REAL, 0}, {"beta1", AT_REAL, 0}, {"beta2", AT_REAL, 0},
                                       {"eps", AT_REAL, 0}, {"weight_decay", AT_REAL, 0}, {NULL, 0, 0}};
        if (bind_args(s, names[k], v->span, spec, v->args, v->nargs < 0 ? 0 : v->nargs, slot))
            return -1;
        BuildCtx cx = {0};
        cx.arg = slot;
        t->lr = arg_real(&cx, 0, 1e-3);
        t->beta1 = arg_real(&cx, 1, 0.9);
        t->beta2 = arg_real(&cx, 2, 0.999);
        t->eps = arg_real(&cx, 3, 1e-8);
        t->weight_decay = arg_real(&cx, 4, k == NNR_OPT_ADAMW ? 0.01 : 0.0);
        if (t->beta1 < 0 || t->beta1 >= 1 || t->beta2 < 0 || t->beta2 >= 1) {
            diag_error(s->d, v->span, "%s: beta1 and beta2 must be in [0, 1)", names[k]);
            return -1;
        }
        if (t->eps < 0) {
            diag_error(s->d, v->span, "%s: eps must not be negative", names[k]);
            return -1;
        }
    }
    if (t->lr < 0) {
        diag_error(s->d, v->span, "the learning rate must not be negative");
        return -1;
    }
    if (t->weight_decay < 0) {
        diag_error(s->d, v->span, "%s: weight_decay must not be negative", names[k]);
        return -1;
    }
    return 0;
}

static const char *loss_names[] = {"mse", "l1", "bce", "bce_with_logits", "cross_entropy", "nll"};

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

static void check_train(Sema *s, const Decl *t, Program *p)
{
    int mi;
    for (mi = 0; mi < p->nmodels; mi++)
        if (p->models[mi] && strcmp(p->models[mi]->name, t->name) == 0)
            break;
    int known = 0;
    for (const Decl *d = s->ast->decls; d; d = d->next)
        if (d->kind == DECL_MODEL && strcmp(d->name, t->name) == 0)
            known = 1;
    if (!known) {
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
    Span loss_span = t->span;
    for (const TrainItem *it = t->items; it; it = it->next) {
        for (const TrainItem *q = t->items; q != it; q = q->next)
            if (strcmp(q->key, it->key) == 0) {
                diag_error(s->d, it->key_span, "'%s' is given twice in this train block", it->key);
                break;
            }
        Value *v = eval(s, it->value, 1);
        const char *k = it->key;
        if (!strcmp(k, "data")) {
            data_source(s, v, &tc.data, k);
        } else if (!strcmp(k, "validation")) {
            data_source(s, v, &tc.validation, k);
        } else if (!strcmp(k, "loss")) {
            loss_span = v->span;
            int found = -1;
            if (v->kind == V_CALL && v->nargs <= 0)
                for (int i = 0; i < 6; i++)
                    if (!strcmp(v->fn, loss_names[i]))
                        found = i;
            if (found < 0 && v->kind == V_CALL)
                diag_error(s->d, v->span, "unknown loss '%s' (expected mse, l1, bce, bce_with_logits, cross_entropy or nll)", v->fn);
            else if (found < 0 && v->kind != V_ERROR)
                diag_error(s->d, v->span, "'loss' must be the name of a loss (mse, l1, bce, bce_with_logits, cross_entropy or nll), not %s",
                           kind_name(v->kind));
            tc.loss = found < 0 ? 0 : found;
            tc.has_loss = found >= 0;
        } else if (!strcmp(k, "optimizer")) {
            optimizer(s, v, &tc);
        } else if (!strcmp(k, "epochs") || !strcmp(k, "batch") || !strcmp(k, "seed")) {
            if (expect_kind(s, v, V_INT, k) == 0) {
                int64_t lo = !strcmp(k, "batch") ? 1 : 0;
                int64_t hi = !strcmp(k, "seed") ? INT64_MAX : 1000000000;
                if (v->i < lo || v->i > hi)
                    diag_error(s->d, v->span, "'%s' = %lld is out of range (%lld to %lld)", k, (long long)v->i,
                               (long long)lo, (long long)hi);
                else if (!strcmp(k, "epochs")) tc.epochs = v->i;
                else if (!strcmp(k, "batch")) tc.batch = v->i;
                else tc.seed = (uint64_t)v->i;
            }
        } else if (!strcmp(k, "shuffle") || !strcmp(k, "strict")) {
            if (expect_kind(s, v, V_BOOL, k) == 0) {
                if (!strcmp(k, "shuffle")) tc.shuffle = (int)v->i;
                else tc.strict = (int)v->i;
            }
        } else if (!strcmp(k, "init") || !strcmp(k, "save") || !strcmp(k, "log")) {
            const char *path;
            if (expect_kind(s, v, V_STR, k) == 0 && (path = resolve_path(s, v)) != NULL) {
                if (!strcmp(k, "init")) tc.init = path;
                else if (!strcmp(k, "save")) tc.save = path;
                else tc.log = path;
            }
        } else if (!strcmp(k, "freeze")) {
            if (expect_kind(s, v, V_LIST, k) == 0) {
                tc.freeze = xcalloc((size_t)v->n + 1, sizeof *tc.freeze);
                tc.nfreeze = 0; /* a repeated key (already an error) starts over */
                for (int i = 0; i < v->n; i++) {
                    const Value *f = v->items[i];
                    int layer = -1;
                    const Decl *md = NULL;
                    for (const Decl *d = s->ast->decls; d; d = d->next)
                        if (d->kind == DECL_MODEL && strcmp(d->name, t->name) == 0)
                            md = d;
                    if (f->kind == V_INT) {
                        if (f->i >= 0 && md && f->i < md->nlayers)
                            layer = (int)f->i;
                    } else if (f->kind == V_STR && md) {
                        int pos = 0;
                        /* An unnamed layer's name is its position, as
                         * in the state_dict ("2" for "2.weight"). */
                        char num[24];
                        for (const Layer *l = md->layers; l; l = l->next, pos++) {
                            snprintf(num, sizeof num, "%d", pos);
                            if (!strcmp(l->label ? l->label : num, f->s))
                                layer = pos;
                        }
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
                    tc.freeze[tc.nfreeze++] = layer;
                }
            }
        } else {
            diag_error(s->d, it->key_span, "unknown train setting '%s'", k);
        }
    }
    if (!tc.has_loss && s->d->nerrors == 0)
        diag_error(s->d, t->name_span, "train block for '%s' has no 'loss'", t->name);
    if (!tc.has_optim && s->d->nerrors == 0)
        diag_error(s->d, t->name_span, "train block for '%s' has no 'optimizer'", t->name);
    if (g && tc.has_loss && (tc.loss == NNR_LOSS_CROSS_ENTROPY || tc.loss == NNR_LOSS_NLL)) {
        /* PyTorch takes the classes from dim 1 of a [N, C, d1, ...] output
         * (with targets [N, d1, ...]); a CSV row has one label, so the
         * output must be one vector of class scores per sample. */
        const Shape *os = ir_value_shape(g, ir_output(g));
        if (os->ndim != 1) {
            char sb[64];
            diag_error(s->d, loss_span, "%s needs one vector of class scores per sample, but the "
                       "model's output has shape %s (add flatten)",
                       tc.loss == NNR_LOSS_NLL ? "nll" : "cross_entropy", shape_str(os, sb, sizeof sb));
        }
    }
    if (g && tc.has_loss && tc.loss == NNR_LOSS_CROSS_ENTROPY) {
        int out = last_op(g);
        if (out >= 0 && g->nodes[out].op == OP_SOFTMAX)
            diag_warning(s->d, loss_span, "the model ends in softmax and cross_entropy applies log_softmax "
                                          "itself: the softmax is applied twice (use the logits, or nll after log_softmax)");
    }
    if (g && tc.has_loss && tc.loss == NNR_LOSS_BCE) {
        /* bce takes probabilities (PyTorch refuses anything outside [0, 1]) */
        int out = last_op(g);
        if (out < 0 || (g->nodes[out].op != OP_SIGMOID && g->nodes[out].op != OP_SOFTMAX))
            diag_warning(s->d, loss_span, "bce takes probabilities, but the model does not end in sigmoid or "
                                          "softmax: an output outside [0, 1] is an error when training (end "
                                          "the model in sigmoid, or use bce_with_logits)");
    }
    if (mi < p->nmodels) {
        if (p->trains[mi].present)
            diag_error(s->d, t->name_span, "model '%s' has two train blocks", t->name);
        p->trains[mi] = tc;
    }
}

/* NNC_MAX_FLOATS overrides nnc_max_floats (parameters, one sample's
 * shapes, and its arena); 0 when unset or valid. */
static int read_max_floats(Diag *d)
{
    const char *e = getenv("NNC_MAX_FLOATS");
    if (!e || !*e)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(e, &end, 10);
    if (errno || *end || v < 1) {
        diag_error_nopos(d, "NNC_MAX_FLOATS='%s' is not a positive integer (a number of floats)", e);
        return -1;
    }
    nnc_max_floats = v;
    return 0;
}

int sema_check(const Ast *ast, const SrcFile *src, const char *base_dir, Diag *d, Program *out)
{
    Sema s = {0};
    s.d = d;
    s.ast = ast;
    s.base_dir = base_dir;
    memset(out, 0, sizeof *out);
    if (read_max_floats(d))
        return 1;
    int nm = 0;
    for (const Decl *x = ast->decls; x; x = x->next)
        nm += x->kind == DECL_MODEL;
    out->models = xcalloc((size_t)nm + 1, sizeof *out->models);
    out->trains = xcalloc((size_t)nm + 1, sizeof *out->trains);
    const char **model_names = xcalloc((size_t)nm + 1, sizeof *model_names);

    for (const Decl *x = ast->decls; x; x = x->next) {
        switch (x->kind) {
        case DECL_LET: {
            if (lookup_let(&s, x->name))
                diag_error(d, x->name_span, "'%s' is already defined", x->name);
            Value *v = eval(&s, x->value, 0);
            if (s.nlets == s.caplets) {
                s.caplets = s.caplets ? 2 * s.caplets : 8;
                s.lets = xrealloc(s.lets, (size_t)s.caplets * sizeof *s.lets);
            }
            s.lets[s.nlets++] = (Binding){x->name, v};
            break;
        }
        case DECL_MODEL:
            for (int i = 0; i < out->nmodels; i++)
                if (!strcmp(model_names[i], x->name))
                    diag_error(d, x->name_span, "model '%s' is defined twice", x->name);
            model_names[out->nmodels] = x->name;
            out->models[out->nmodels++] = lower_model(&s, x, src);
            break;
        case DECL_TRAIN:
            break;
        }
    }
    /* train blocks after all models, so a train block may come first */
    for (const Decl *x = ast->decls; x; x = x->next)
        if (x->kind == DECL_TRAIN)
            check_train(&s, x, out);
    if (out->nmodels == 0 && d->nerrors == 0)
        diag_error_nopos(d, "%s: no model in this file", src->path);
    return d->nerrors ? -1 : 0;
}
