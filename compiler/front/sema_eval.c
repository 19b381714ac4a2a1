/* sema_eval.c — values of expressions (exact integer arithmetic, `let`
 * names) and the binding of call arguments to a schema (ArgSpec): the
 * layer arguments, the optimizers and the data sources share it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"

Value *sema_new_value(ValueKind k, Span sp)
{
    Value *v = xnew(sizeof *v);
    v->kind = k;
    v->span = sp;
    return v;
}

const char *sema_kind_name(ValueKind k)
{
    switch (k) {
    case V_INT: return "an integer";
    case V_REAL: return "a real number";
    case V_STR: return "a string";
    case V_BOOL: return "a boolean";
    case V_LIST: return "a list";
    case V_CALL: return "a call";
    case V_VALUE: return "a tensor value";
    default: return "an invalid value";
    }
}

Value *sema_lookup_let(Sema *s, const char *name)
{
    Value *v = s->scope ? strmap_get(s->scope, name) : NULL;
    if (v)
        return v;
    v = strmap_get(&s->lets, name);
    return v == &sema_let_later ? NULL : v;
}

Value sema_let_later = {.kind = V_ERROR};

int sema_defined_later(Sema *s, const char *name)
{
    return strmap_get(&s->lets, name) == &sema_let_later;
}

const Value *sema_list_item(const Value *v, int i)
{
    if (!v->nums)
        return v->items[i];
    int fl = (v->numflags[i >> 2] >> ((i & 3) * 2)) & 3;
    Value *it = sema_new_value(fl & AST_NUM_INT ? V_INT : V_REAL, v->span);
    if (fl & AST_NUM_INT)
        it->i = (int64_t)v->nums[i];
    else
        it->r = v->nums[i];
    return it;
}

/* lhs op rhs: integers stay exact (overflow is an error), an integer
 * division that does not divide exactly gives an inexact real. */
/* An operand of a binop: a literal number or a `let` name is read where it
 * is (tmp, or the name's value) rather than copied into a new Value, so a
 * file of a million `let`s allocates one Value per line. */
static const Value *operand(Sema *s, const Expr *e, Value *tmp)
{
    if (e->kind == EX_INT || e->kind == EX_REAL) {
        memset(tmp, 0, sizeof *tmp);
        tmp->kind = e->kind == EX_INT ? V_INT : V_REAL;
        tmp->span = e->span;
        if (e->kind == EX_INT)
            tmp->i = e->ival;
        else
            tmp->r = e->rval;
        return tmp;
    }
    if (e->kind == EX_IDENT) {
        const Value *b = sema_lookup_let(s, e->name);
        if (b && (b->kind == V_INT || b->kind == V_REAL))
            return b;
    }
    return sema_eval(s, e, 0);
}

static Value *eval_binop(Sema *s, const Expr *e)
{
    Value ta, tb, *v;
    const Value *a = operand(s, e->lhs, &ta), *b = operand(s, e->rhs, &tb);
    if (a->kind == V_ERROR || b->kind == V_ERROR) {
        return sema_new_value(V_ERROR, e->span);
    }
    int numa = a->kind == V_INT || a->kind == V_REAL, numb = b->kind == V_INT || b->kind == V_REAL;
    if (!numa || !numb) {
        diag_error(s->d, e->span, "operator '%c' needs numbers, not %s and %s", e->op,
                   sema_kind_name(a->kind), sema_kind_name(b->kind));
        return sema_new_value(V_ERROR, e->span);
    }
    if (a->kind == V_INT && b->kind == V_INT) {
        v = sema_new_value(V_INT, e->span);
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
        v = sema_new_value(V_REAL, e->span);
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
    return v;
}

/* Evaluate an expression. Bare identifiers that are not `let` names become
 * symbols (a V_CALL with nargs = -1) when allow_sym is set: `loss = mse`. */
Value *sema_eval(Sema *s, const Expr *e, int allow_sym)
{
    Value *v;
    if (++s->depth > 200) {
        s->depth--;
        diag_error(s->d, e->span, "expression nested too deeply");
        return sema_new_value(V_ERROR, e->span);
    }
    switch (e->kind) {
    case EX_INT:
        v = sema_new_value(V_INT, e->span);
        v->i = e->ival;
        break;
    case EX_REAL:
        v = sema_new_value(V_REAL, e->span);
        v->r = e->rval;
        break;
    case EX_STRING:
        v = sema_new_value(V_STR, e->span);
        v->s = e->sval;
        break;
    case EX_BOOL:
        v = sema_new_value(V_BOOL, e->span);
        v->i = e->ival;
        break;
    case EX_IDENT: {
        Value *b = sema_lookup_let(s, e->name);
        if (b) {
            v = xnew(sizeof *v);
            *v = *b;
            v->span = e->span;
        } else if (allow_sym) {
            v = sema_new_value(V_CALL, e->span);
            v->fn = e->name;
            v->nargs = -1;
        } else {
            if (sema_defined_later(s, e->name))
                diag_error(s->d, e->span, "'%s' is used before its definition", e->name);
            else
                diag_error(s->d, e->span, "undefined name '%s'", e->name);
            v = sema_new_value(V_ERROR, e->span);
        }
        break;
    }
    case EX_CALL: {
        v = sema_new_value(V_CALL, e->span);
        v->fn = e->name;
        v->args = xcalloc((size_t)e->nargs + 1, sizeof *v->args);
        for (const Arg *a = e->args; a; a = a->next) {
            ValueArg *va = &v->args[v->nargs++];
            va->name = a->name;
            va->name_span = a->name_span;
            va->v = sema_eval(s, a->value, 0);
        }
        break;
    }
    case EX_LIST:
        v = sema_new_value(V_LIST, e->span);
        if (e->nums) {  /* numbers only: shared, not copied */
            v->nums = e->nums;
            v->numflags = e->numflags;
            v->n = e->nitems;
            break;
        }
        v->items = xcalloc((size_t)e->nitems + 1, sizeof *v->items);
        for (int i = 0; i < e->nitems; i++) {
            v->items[i] = sema_eval(s, e->items[i], 0);
            if (v->items[i]->kind == V_ERROR)
                v->kind = V_ERROR;
        }
        v->n = e->nitems;
        break;
    case EX_NEG: {
        Value *a = sema_eval(s, e->lhs, 0);
        v = sema_new_value(a->kind, e->span);
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
            diag_error(s->d, e->span, "cannot negate %s", sema_kind_name(a->kind));
            v->kind = V_ERROR;
        }
        break;
    }
    case EX_BINOP:
        if (e->op == '@') {
            diag_error(s->d, e->span, "operator '@' multiplies tensor values (in forward), not numbers");
            v = sema_new_value(V_ERROR, e->span);
            break;
        }
        v = eval_binop(s, e);
        break;
    case EX_ATTR:
        diag_error(s->d, e->span, "a layer's parameter ('%s') can only be a layer's weight or bias argument "
                   "(weight = wte.weight)", e->name);
        v = sema_new_value(V_ERROR, e->span);
        break;
    default:
        NNC_ICE("unknown expression kind %d", e->kind);
    }
    s->depth--;
    return v;
}

/* Edit distance, for "did you mean". */
int sema_edit_distance(const char *a, const char *b)
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
    case V_LIST:
        if (v->n > 0 && v->items && v->items[0]->kind == V_VALUE)
            return (types & AT_VALUES) != 0;
        return (types & AT_LIST) != 0;
    case V_STR: return (types & AT_STR) != 0;
    case V_VALUE: return (types & AT_VALUE) != 0;
    case V_ERROR: return 1;
    default: return 0;
    }
}

static const char *types_name(int types)
{
    static char buf[160];
    buf[0] = '\0';
    const char *names[] = {"an integer", "a number", "true or false", "a list", "a string",
                           "a tensor value", "a list of tensor values"};
    int first = 1;
    for (int i = 0; i < 7; i++) {
        if (!(types & (1 << i)) || (i == 0 && (types & AT_REAL)))
            continue;
        strcat(buf, first ? "" : " or ");
        strcat(buf, names[i]);
        first = 0;
    }
    return buf;
}

/* Bind a call's arguments to a schema. Returns 0 when all is well. */
int sema_bind_args(Sema *s, const char *what, Span at, const ArgSpec *spec, ValueArg *args,
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
        if (a->v->kind == V_CALL && a->v->nargs < 0 && strcmp(a->v->fn, "none") == 0) {
            /* PyTorch's None, where it is the default: the argument stays not given */
            if (strcmp(spec[k].name, "padding_idx") != 0) {
                diag_error(s->d, a->v->span, "%s: argument '%s' cannot be none", what, spec[k].name);
                bad = 1;
            }
            continue;
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
                       types_name(spec[k].types), sema_kind_name(a->v->kind));
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

ValueArg *sema_eval_args(Sema *s, const Arg *args, int *nargs)
{
    int n = 0;
    for (const Arg *a = args; a; a = a->next)
        n++;
    ValueArg *va = xcalloc((size_t)n + 1, sizeof *va);
    n = 0;
    for (const Arg *a = args; a; a = a->next, n++) {
        va[n].name = a->name;
        va[n].name_span = a->name_span;
        if (a->value->kind == EX_IDENT && strcmp(a->value->name, "none") == 0 && !sema_lookup_let(s, "none")) {
            va[n].v = sema_new_value(V_CALL, a->value->span);     /* `none`: bound by sema_bind_args */
            va[n].v->fn = a->value->name;
            va[n].v->nargs = -1;
        } else {
            va[n].v = sema_eval(s, a->value, 0);
        }
    }
    *nargs = n;
    return va;
}
