/* sema_fwd.c — the statements and expressions of a forward block
 * (LANGUAGE.md §7): values by name (re-assignment allowed, as in Python),
 * calls of declared layers and of functions (ops bound against their
 * schema, value slots first), the operators + - * / @ and unary minus
 * (add, sub, mul, div, matmul; with a number, the *_scalar ops), split and
 * chunk (one slice node per piece), and return. Warnings for a value never
 * used; errors for an undefined value, a call of an undeclared name (with
 * a did-you-mean), an operation on the batch dimension, return missing or
 * twice, and a value named as a layer. */
#include <stdint.h>
#include <string.h>

#include "sema_graph.h"

typedef struct Var {
    const char *name;
    FVal val;
    Span span;
    int used;
    int input;
} Var;

typedef struct Fx {
    GL *gl;
    Inst *self;             /* the layers declared in this body */
    const Decl *body;
    StrMap vars;            /* name -> Var */
    Var **all;              /* every assignment, in order (warnings) */
    int nall;
} Fx;

static FVal fe(Fx *fx, const Expr *e);

static FVal fv_const(Value *c)
{
    FVal f = {0};
    f.kind = c->kind == V_ERROR ? FV_ERROR : FV_CONST;
    f.c = c;
    f.span = c->span;
    return f;
}

static Value *int_value(int64_t i, Span at)
{
    Value *v = sema_new_value(V_INT, at);
    v->i = i;
    return v;
}

/* An FVal as an argument Value: tensor values become V_VALUE. */
static Value *as_value(Fx *fx, const FVal *f)
{
    Value *v;
    switch (f->kind) {
    case FV_CONST:
        return f->c;
    case FV_VALUE:
        v = int_value(f->v, f->span);
        v->kind = V_VALUE;
        return v;
    case FV_VLIST:
        v = sema_new_value(V_LIST, f->span);
        v->items = xcalloc((size_t)f->n + 1, sizeof *v->items);
        for (int k = 0; k < f->n; k++) {
            v->items[k] = int_value(f->vs[k], f->span);
            v->items[k]->kind = V_VALUE;
        }
        v->n = f->n;
        return v;
    case FV_TUPLE:
        diag_error(fx->gl->s->d, f->span, "this gives %d values; assign them to names first (a, b = ...)", f->n);
        return sema_new_value(V_ERROR, f->span);
    default:
        return sema_new_value(V_ERROR, f->span);
    }
}

/* The closest name among the layers here, the values, the functions. */
static const char *nearest(Fx *fx, const char *name, int values, int layers, int functions)
{
    const char *best = NULL;
    int len = (int)strlen(name);
    int bd = len < 3 ? len : 3;     /* "b" is not a typo of "x" */
#define TRY_(cand) do { int dd_ = sema_edit_distance(name, cand); if (dd_ < bd) { bd = dd_; best = cand; } } while (0)
    for (int k = 0; values && k < fx->nall; k++)
        TRY_(fx->all[k]->name);
    for (int k = 0; layers && k < fx->self->nkids; k++)
        TRY_(fx->self->kids[k]->name);
    for (int k = 0; functions && k < OP__COUNT; k++)
        if (!(op_info[k].flags & (OPF_PARAMS | OPF_TRAIN)))
            TRY_(op_info[k].name);
    if (functions) {
        TRY_("split");
        TRY_("chunk");
    }
#undef TRY_
    return best;
}

static FVal ident(Fx *fx, const Expr *e)
{
    Sema *s = fx->gl->s;
    Var *v = strmap_get(&fx->vars, e->name);
    if (v) {
        v->used = 1;
        FVal f = v->val;    /* an error already reported stays silent */
        f.span = e->span;
        return f;
    }
    if (strmap_get(&fx->self->byname, e->name)) {
        diag_error(s->d, e->span, "'%s' is a layer; call it on a value: %s(x)", e->name, e->name);
        return fv_error(e->span);
    }
    if (sema_lookup_let(s, e->name))
        return fv_const(sema_eval(s, e, 0));
    const char *best = nearest(fx, e->name, 1, 0, 0);
    int later = 0;
    for (const Stmt *st = fx->body->stmts; st && !later; st = st->next)
        for (int k = 0; st->kind == ST_ASSIGN && k < st->nnames; k++)
            later |= !strcmp(st->names[k], e->name);
    if (later)
        diag_error(s->d, e->span, "value '%s' is used before it is assigned", e->name);
    else if (op_lookup(e->name) >= 0)
        diag_error(s->d, e->span, "'%s' is a function; call it on a value: %s(x)", e->name, e->name);
    else if (best)
        diag_error(s->d, e->span, "undefined value '%s' (did you mean '%s'?)", e->name, best);
    else
        diag_error(s->d, e->span, "undefined value '%s'", e->name);
    return fv_error(e->span);
}

/* Slot of spec called name, -1 when none. */
static int slot_named(const ArgSpec *spec, const char *name)
{
    for (int k = 0; spec[k].name; k++)
        if (!strcmp(spec[k].name, name))
            return k;
    return -1;
}

/* A node of the op called name (an operator's), reading a (and b when
 * b_given) with its "other" argument set to other when has_other. */
static FVal op_named(Fx *fx, const char *name, int a, int b, int nin, double other, int has_other,
                     Span at, const char *sym)
{
    Sema *s = fx->gl->s;
    int op = op_lookup(name);
    if (op < 0) {
        diag_error(s->d, at, "operator '%s' needs the op '%s', which this nnc does not have", sym, name);
        return fv_error(at);
    }
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int nspec = 0;
    while (spec[nspec].name)
        nspec++;
    Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
    int k = slot_named(spec, "other");
    if (has_other) {
        if (k < 0)
            NNC_ICE("op %s has no argument 'other'", name);
        slot[k] = sema_new_value(V_REAL, at);
        slot[k]->r = other;
    }
    int ins[2] = {a, b};
    return gl_node(fx->gl, op, ins, nin, slot, at, name);
}

static int is_number(const FVal *f)
{
    return f->kind == FV_CONST && (f->c->kind == V_INT || f->c->kind == V_REAL);
}

static double num(const FVal *f)
{
    return f->c->kind == V_INT ? (double)f->c->i : f->c->r;
}

static FVal binop(Fx *fx, const Expr *e)
{
    Sema *s = fx->gl->s;
    FVal a = fe(fx, e->lhs), b = fe(fx, e->rhs);
    if (a.kind == FV_ERROR || b.kind == FV_ERROR)
        return fv_error(e->span);
    if (a.kind == FV_CONST && b.kind == FV_CONST)
        return fv_const(sema_eval(s, e, 0));
    char sym[2] = {(char)e->op, 0};
    static const char *const vv[] = {"add", "sub", "mul", "div", "matmul"};
    int which = e->op == '+' ? 0 : e->op == '-' ? 1 : e->op == '*' ? 2 : e->op == '/' ? 3 : 4;
    if (a.kind == FV_VALUE && b.kind == FV_VALUE)
        return op_named(fx, vv[which], a.v, b.v, 2, 0, 0, e->span, sym);
    const FVal *x = a.kind == FV_VALUE ? &a : &b, *c = a.kind == FV_VALUE ? &b : &a;
    if (x->kind != FV_VALUE || !is_number(c) || e->op == '@') {
        if (e->op == '@')
            diag_error(s->d, e->span, "operator '@' multiplies two tensor values");
        else
            diag_error(s->d, e->span, "operator '%c' takes tensor values or numbers, not %s", e->op,
                       x->kind == FV_VALUE ? sema_kind_name(c->c ? c->c->kind : V_LIST) : "several values");
        return fv_error(e->span);
    }
    double k = num(c);
    int left = a.kind == FV_VALUE;     /* x op c, else c op x */
    switch (e->op) {
    case '+': return op_named(fx, "add_scalar", x->v, 0, 1, k, 1, e->span, sym);
    case '-': return left ? op_named(fx, "add_scalar", x->v, 0, 1, -k, 1, e->span, sym)
                          : op_named(fx, "rsub_scalar", x->v, 0, 1, k, 1, e->span, sym);
    case '*': return op_named(fx, "mul_scalar", x->v, 0, 1, k, 1, e->span, sym);
    default:  return left ? op_named(fx, "div_scalar", x->v, 0, 1, k, 1, e->span, sym)
                          : op_named(fx, "rdiv_scalar", x->v, 0, 1, k, 1, e->span, sym);
    }
}

static FVal list(Fx *fx, const Expr *e)
{
    if (e->nums || e->nitems == 0)
        return fv_const(sema_eval(fx->gl->s, e, 0));
    FVal *it = xcalloc((size_t)e->nitems, sizeof *it);
    int nval = 0, bad = 0;
    for (int k = 0; k < e->nitems; k++) {
        it[k] = fe(fx, e->items[k]);
        bad |= it[k].kind == FV_ERROR;
        nval += it[k].kind == FV_VALUE;
    }
    if (bad)
        return fv_error(e->span);
    if (nval == 0)
        return fv_const(sema_eval(fx->gl->s, e, 0));
    if (nval != e->nitems) {
        diag_error(fx->gl->s->d, e->span, "a list holds tensor values or numbers, not both");
        return fv_error(e->span);
    }
    FVal f = {0};
    f.kind = FV_VLIST;
    f.span = e->span;
    f.n = nval;
    f.vs = xcalloc((size_t)nval, sizeof *f.vs);
    for (int k = 0; k < nval; k++)
        f.vs[k] = it[k].v;
    return f;
}

/* The call's arguments evaluated: tensor values as V_VALUE. */
static ValueArg *call_args(Fx *fx, const Expr *e, FVal **fvs, int *bad)
{
    ValueArg *va = xcalloc((size_t)e->nargs + 1, sizeof *va);
    *fvs = xcalloc((size_t)e->nargs + 1, sizeof **fvs);
    int n = 0;
    for (const Arg *a = e->args; a; a = a->next, n++) {
        (*fvs)[n] = fe(fx, a->value);
        va[n].name = a->name;
        va[n].name_span = a->name_span;
        va[n].v = as_value(fx, &(*fvs)[n]);
        *bad |= va[n].v->kind == V_ERROR;
    }
    return va;
}

static const char *const batch_dims[] = {"dim", "dim0", "dim1", "start_dim", NULL};

/* A dim argument naming the batch (0, or -rank) is an error. */
static int batch_dim(Fx *fx, const char *what, const ArgSpec *spec, Value **slot, int rank)
{
    for (int k = 0; spec[k].name; k++) {
        int named = 0;
        for (int j = 0; batch_dims[j]; j++)
            named |= !strcmp(spec[k].name, batch_dims[j]);
        if (!named || !slot[k])
            continue;
        const Value *v = slot[k];
        int n = v->kind == V_LIST ? v->n : 1;
        for (int i = 0; i < n; i++) {
            const Value *d = v->kind == V_LIST ? sema_list_item(v, i) : v;
            if (d->kind == V_INT && (d->i == 0 || d->i == -rank)) {
                diag_error(fx->gl->s->d, d->span, "%s: %s = %lld is the batch dimension (dim 0); "
                           "an operation on the batch dimension is not allowed", what, spec[k].name,
                           (long long)d->i);
                return 1;
            }
        }
    }
    return 0;
}

static FVal split(Fx *fx, const Expr *e, int is_chunk)
{
    Sema *s = fx->gl->s;
    static const ArgSpec sp_split[] = {{"tensor", AT_VALUE, 1}, {"split_size_or_sections", AT_INT | AT_LIST, 1},
                                       {"dim", AT_INT, 1}, {NULL, 0, 0}};
    static const ArgSpec sp_chunk[] = {{"input", AT_VALUE, 1}, {"chunks", AT_INT, 1},
                                       {"dim", AT_INT, 1}, {NULL, 0, 0}};
    const ArgSpec *spec = is_chunk ? sp_chunk : sp_split;
    FVal *fvs;
    int bad = 0;
    ValueArg *va = call_args(fx, e, &fvs, &bad);
    Value *slot[3];
    if (bad || sema_bind_args(s, e->name, e->span, spec, va, e->nargs, slot))
        return fv_error(e->span);
    int x = (int)slot[0]->i;
    const Shape *sh = ir_value_shape(fx->gl->g, x);
    int rank = sh->ndim + 1;
    int64_t dim = slot[2]->i < 0 ? slot[2]->i + rank : slot[2]->i;
    if (batch_dim(fx, e->name, spec, slot, rank))
        return fv_error(e->span);
    if (dim < 1 || dim >= rank) {
        diag_error(s->d, slot[2]->span, "%s: dim %lld is out of range for a value of %d dimensions (with the batch)",
                   e->name, (long long)slot[2]->i, rank);
        return fv_error(e->span);
    }
    int64_t len = sh->d[dim - 1];
    const Value *sz = slot[1];
    int64_t cap = sz->kind == V_LIST ? sz->n : len;
    if (cap > 4096) {
        diag_error(s->d, e->span, "%s: more than 4096 pieces", e->name);
        return fv_error(e->span);
    }
    int64_t *sizes = xcalloc((size_t)cap + 1, sizeof *sizes);
    int n = 0;
    if (sz->kind == V_LIST) {
        int64_t tot = 0;
        for (int i = 0; i < sz->n && n < cap; i++) {
            const Value *it = sema_list_item(sz, i);
            if (it->kind != V_INT || it->i < 0) {
                diag_error(s->d, it->span, "split: a section size must be a non-negative integer");
                return fv_error(e->span);
            }
            sizes[n++] = it->i;
            tot += it->i;
        }
        if (tot != len) {
            diag_error(s->d, sz->span, "split: the sections sum to %lld, but dimension %lld has %lld",
                       (long long)tot, (long long)dim, (long long)len);
            return fv_error(e->span);
        }
    } else {
        if (sz->i <= 0) {
            diag_error(s->d, sz->span, "%s: %s must be positive", e->name, spec[1].name);
            return fv_error(e->span);
        }
        int64_t piece = is_chunk ? (len + sz->i - 1) / sz->i : sz->i;
        for (int64_t at = 0; at < len && n < cap; at += piece)
            sizes[n++] = at + piece <= len ? piece : len - at;
    }
    int op = op_lookup("slice");
    if (op < 0) {
        diag_error(s->d, e->span, "%s needs the op 'slice', which this nnc does not have", e->name);
        return fv_error(e->span);
    }
    const ArgSpec *ss = op_hooks[op].args((Op)op);
    int nss = 0;
    while (ss[nss].name)
        nss++;
    FVal r = {0};
    r.kind = FV_TUPLE;
    r.span = e->span;
    r.vs = xcalloc((size_t)n + 1, sizeof *r.vs);
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        Value **sl = xcalloc((size_t)nss + 1, sizeof *sl);
        sl[slot_named(ss, "dim")] = int_value(dim, e->span);
        sl[slot_named(ss, "start")] = int_value(start, e->span);
        sl[slot_named(ss, "end")] = int_value(start + sizes[i], e->span);
        start += sizes[i];
        FVal p = gl_node(fx->gl, op, &x, 1, sl, e->span, e->name);
        if (p.kind != FV_VALUE)
            return fv_error(e->span);
        r.vs[r.n++] = p.v;
    }
    return r;
}

/* A function: an op without parameters, its arguments bound to its
 * schema (value slots first; an op whose schema names none takes its
 * values as the first positional arguments). */
static FVal function(Fx *fx, const Expr *e, int op)
{
    Sema *s = fx->gl->s;
    FVal *fvs;
    int bad = 0;
    ValueArg *va = call_args(fx, e, &fvs, &bad);
    if (bad)
        return fv_error(e->span);
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int nspec = 0, nval = 0;
    while (spec[nspec].name)
        nspec++;
    while (nval < nspec && (spec[nval].types & (AT_VALUE | AT_VALUES)))
        nval++;
    Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
    int ins[NNC_MAX_NODE_INPUTS], nin = 0;
    if (nval > 0) {
        if (sema_bind_args(s, e->name, e->span, spec, va, e->nargs, slot))
            return fv_error(e->span);
        for (int k = 0; k < nval; k++) {
            const Value *v = slot[k];
            int n = !v ? 0 : v->kind == V_LIST ? v->n : 1;
            for (int i = 0; i < n; i++) {
                if (nin == NNC_MAX_NODE_INPUTS) {
                    diag_error(s->d, v->span, "%s: at most %d tensor values", e->name, NNC_MAX_NODE_INPUTS);
                    return fv_error(e->span);
                }
                ins[nin++] = (int)(v->kind == V_LIST ? v->items[i]->i : v->i);
            }
        }
    } else {
        int want = op_info[op].nin;
        for (; nin < want; nin++) {
            if (nin >= e->nargs || va[nin].name || va[nin].v->kind != V_VALUE) {
                Span at = nin < e->nargs ? va[nin].v->span : e->span;
                diag_error(s->d, at, "%s: argument %d must be a tensor value", e->name, nin + 1);
                return fv_error(e->span);
            }
            ins[nin] = (int)va[nin].v->i;
        }
        if (sema_bind_args(s, e->name, e->span, spec, va + nin, e->nargs - nin, slot))
            return fv_error(e->span);
    }
    if (nin == 0 && op_info[op].nin != 0) {
        diag_error(s->d, e->span, "%s: no tensor value given", e->name);
        return fv_error(e->span);
    }
    if (nin > 0 && batch_dim(fx, e->name, spec, slot, ir_value_shape(fx->gl->g, ins[0])->ndim + 1))
        return fv_error(e->span);
    return gl_node(fx->gl, op, ins, nin, slot, e->span, e->name);
}

static FVal call(Fx *fx, const Expr *e)
{
    Sema *s = fx->gl->s;
    Inst *in = strmap_get(&fx->self->byname, e->name);
    if (in) {
        FVal args[NNC_MAX_NODE_INPUTS];
        int n = 0, bad = 0, causal = -1;
        for (const Arg *a = e->args; a; a = a->next) {
            if (a->name && in->kind == INST_OP && in->op == OP_MHA && !strcmp(a->name, "is_causal")) {
                /* mha(q, k, v, is_causal = true), as nn.MultiheadAttention's forward */
                FVal c = fe(fx, a->value);
                if (c.kind != FV_CONST || c.c->kind != V_BOOL) {
                    diag_error(s->d, a->value->span, "is_causal is true or false");
                    return fv_error(e->span);
                }
                causal = (int)c.c->i;
                continue;
            }
            if (a->name) {
                diag_error(s->d, a->name_span, "'%s' is called with its input values only; its "
                           "arguments are given where it is declared", e->name);
                return fv_error(e->span);
            }
            if (n == NNC_MAX_NODE_INPUTS) {
                diag_error(s->d, a->value->span, "too many values");
                return fv_error(e->span);
            }
            args[n] = fe(fx, a->value);
            bad |= args[n++].kind == FV_ERROR;
        }
        if (bad)
            return fv_error(e->span);
        FVal r = gl_apply(fx->gl, in, args, n, e->span);
        if (causal >= 0 && r.kind == FV_VALUE && fx->gl->g->nodes[r.v].op == OP_MHA)
            fx->gl->g->nodes[r.v].mha.is_causal = causal;
        return r;
    }
    if (strmap_get(&fx->vars, e->name)) {
        diag_error(s->d, e->span, "'%s' is a value, not a layer: it cannot be called", e->name);
        return fv_error(e->span);
    }
    if (!strcmp(e->name, "split") || !strcmp(e->name, "chunk"))
        return split(fx, e, e->name[0] == 'c');
    int op = op_lookup(e->name);
    if (op >= 0 && !(op_info[op].flags & OPF_PARAMS))
        return function(fx, e, op);
    if (op >= 0 || !strcmp(e->name, "sequential") || strmap_get(&s->blocks, e->name)) {
        diag_error(s->d, e->span, "'%s' is a layer with its own state: declare it before forward "
                   "(name = %s(...)) and call it by that name", e->name, e->name);
        return fv_error(e->span);
    }
    const char *best = nearest(fx, e->name, 0, 1, 1);
    if (best)
        diag_error(s->d, e->span, "'%s' is neither a layer declared here nor a function (did you mean '%s'?)",
                   e->name, best);
    else
        diag_error(s->d, e->span, "'%s' is neither a layer declared here nor a function", e->name);
    return fv_error(e->span);
}

static FVal fe(Fx *fx, const Expr *e)
{
    Sema *s = fx->gl->s;
    if (++s->depth > 200) {
        s->depth--;
        diag_error(s->d, e->span, "expression nested too deeply");
        return fv_error(e->span);
    }
    FVal r;
    switch (e->kind) {
    case EX_IDENT:
        r = ident(fx, e);
        break;
    case EX_CALL:
        r = call(fx, e);
        break;
    case EX_LIST:
        r = list(fx, e);
        break;
    case EX_BINOP:
        r = binop(fx, e);
        break;
    case EX_NEG:
        r = fe(fx, e->lhs);
        if (r.kind == FV_VALUE)
            r = op_named(fx, "mul_scalar", r.v, 0, 1, -1.0, 1, e->span, "-");
        else if (r.kind == FV_CONST)
            r = fv_const(sema_eval(s, e, 0));
        else if (r.kind != FV_ERROR) {
            diag_error(s->d, e->span, "cannot negate several values");
            r = fv_error(e->span);
        }
        break;
    default:
        r = fv_const(sema_eval(s, e, 0));
        break;
    }
    s->depth--;
    return r;
}

/* A name that starts with '_' (Python's "unused" convention: `out, _h, _c =
 * lstm1(x)`) is a value the author means to drop: no never-used warning. */
static int discarded(const char *name)
{
    return name[0] == '_';
}

static void assign(Fx *fx, const char *name, Span at, FVal v, int input)
{
    Sema *s = fx->gl->s;
    if (strmap_get(&fx->self->byname, name)) {
        diag_error(s->d, at, "'%s' is a layer; a value cannot take its name", name);
        return;
    }
    Var *old = strmap_get(&fx->vars, name);
    if (old && !old->used && old->val.kind != FV_ERROR && v.kind != FV_ERROR && !discarded(name))
        gl_warn_once(fx->gl, old->span, old->input ? "input '%s' is never used%s"
                     : "value '%s' is assigned but never used%s", name, "");
    Var *nv = xcalloc(1, sizeof *nv);
    nv->name = name;
    nv->val = v;
    nv->span = at;
    nv->input = input;
    strmap_put(&fx->vars, name, nv);
    if ((fx->nall & (fx->nall - 1)) == 0)     /* 0 or a power of two: full; doubling keeps it linear */
        fx->all = xrealloc(fx->all, (size_t)(fx->nall ? 2 * fx->nall : 1) * sizeof *fx->all);
    fx->all[fx->nall++] = nv;
}

static void stmt_assign(Fx *fx, const Stmt *st)
{
    Sema *s = fx->gl->s;
    FVal r = fe(fx, st->exprs[0]);
    if (r.kind == FV_ERROR) {
        for (int k = 0; k < st->nnames; k++)     /* later uses stay silent */
            assign(fx, st->names[k], st->name_spans[k], r, 0);
        return;
    }
    if (r.kind == FV_VALUE && r.n > 1 && st->nnames == r.n)
        r.kind = FV_TUPLE;  /* an lstm/gru's results: out, h_n (, c_n) */
    int got = r.kind == FV_TUPLE ? r.n : 1;
    if (r.kind == FV_VLIST) {
        diag_error(s->d, st->exprs[0]->span, "a list of values can only be an argument (cat([a, b], dim))");
        r = fv_error(r.span);
        got = st->nnames;
    }
    if (got != st->nnames && r.kind == FV_VALUE && r.n > 1) {  /* an lstm (3) or a gru (2) */
        diag_error(s->d, st->exprs[0]->span, "%s gives 1 value (its output sequence) or %d (%s), but %d names are assigned",
                   r.n == 3 ? "lstm" : "gru", r.n, r.n == 3 ? "out, h, c" : "out, h", st->nnames);
        r = fv_error(r.span);
    } else if (got != st->nnames) {
        diag_error(s->d, st->exprs[0]->span, "this gives %d value%s, but %d name%s assigned", got,
                   got == 1 ? "" : "s", st->nnames, st->nnames == 1 ? " is" : "s are");
        r = fv_error(r.span);
    }
    for (int k = 0; k < st->nnames; k++)
        assign(fx, st->names[k], st->name_spans[k], r.kind == FV_TUPLE ? fv_value(r.vs[k], r.span) : r, 0);
}

static FVal stmt_return(Fx *fx, const Stmt *st)
{
    FVal r = {0};
    r.kind = FV_TUPLE;
    r.span = st->span;
    r.vs = xcalloc((size_t)st->nexprs + 1, sizeof *r.vs);
    for (int k = 0; k < st->nexprs; k++) {
        FVal v = fe(fx, st->exprs[k]);
        if (v.kind == FV_ERROR)
            return v;
        if (v.kind == FV_TUPLE) {
            diag_error(fx->gl->s->d, st->exprs[k]->span, "this gives %d values; assign them to names first "
                       "(a, b = ...) and return those", v.n);
            return fv_error(st->span);
        }
        if (v.kind != FV_VALUE) {
            diag_error(fx->gl->s->d, st->exprs[k]->span, "return gives tensor values, one per expression");
            return fv_error(st->span);
        }
        r.vs[r.n++] = v.v;
    }
    if (r.n > NNC_MAX_GRAPH_IO) {
        diag_error(fx->gl->s->d, st->span, "at most %d values can be returned", NNC_MAX_GRAPH_IO);
        return fv_error(st->span);
    }
    return r.n == 1 ? fv_value(r.vs[0], st->span) : r;
}

FVal fwd_run(GL *gl, const Decl *body, Inst *self, const FVal *args, int nargs, Span at)
{
    Sema *s = gl->s;
    Fx fx = {0};
    fx.gl = gl;
    fx.self = self;
    fx.body = body;
    if (nargs != body->ninputs) {
        diag_error(s->d, at, "'%s' takes %d input value%s, but %d %s given", self->name, body->ninputs,
                   body->ninputs == 1 ? "" : "s", nargs, nargs == 1 ? "was" : "were");
        return fv_error(at);
    }
    StrMap *saved = s->scope;
    s->scope = self->scope;
    int k = 0, errors = s->d->nerrors;
    for (const Input *in = body->inputs; in; in = in->next, k++)
        assign(&fx, in->name, in->name_span, args[k], 1);
    FVal ret = {0};
    int returned = 0;
    for (const Stmt *st = body->stmts; st; st = st->next) {
        if (returned) {
            diag_error(s->d, st->span, st->kind == ST_RETURN ? "'return' appears twice in forward"
                       : "a statement after 'return' is never run");
            ret = fv_error(st->span);
            break;
        }
        if (st->kind == ST_ASSIGN) {
            stmt_assign(&fx, st);
        } else {
            ret = stmt_return(&fx, st);
            returned = 1;
        }
    }
    if (!returned) {
        diag_error(s->d, body->forward_span, "forward has no 'return': say which value%s the %s gives",
                   "(s)", body->kind == DECL_BLOCK ? "block" : "model");
        ret = fv_error(at);
    }
    for (int i = 0; s->d->nerrors == errors && i < fx.nall; i++)
        if (!fx.all[i]->used && strmap_get(&fx.vars, fx.all[i]->name) == fx.all[i] &&
            !discarded(fx.all[i]->name))
            gl_warn_once(gl, fx.all[i]->span, fx.all[i]->input ? "input '%s' is never used%s"
                         : "value '%s' is assigned but never used%s", fx.all[i]->name, "");
    strmap_free(&fx.vars);
    s->scope = saved;
    return ret;
}
