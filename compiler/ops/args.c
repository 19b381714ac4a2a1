/* args.c — the accessors behind opargs.h: the one place of compiler/ops/
 * that reads the front end's evaluated values (the arguments bound to a
 * layer's schema), so that the families and ops.h need no front-end
 * header. */
#include <string.h>

#include "ops.h"
#include "../front/sema.h"

int64_t arg_int(const BuildCtx *cx, int slot, int64_t dflt)
{
    const Value *v = cx->arg[slot];
    return v && v->kind == V_INT ? v->i : dflt;
}

double arg_real(const BuildCtx *cx, int slot, double dflt)
{
    const Value *v = cx->arg[slot];
    if (!v)
        return dflt;
    return v->kind == V_INT ? (double)v->i : v->kind == V_REAL ? v->r : dflt;
}

int arg_bool(const BuildCtx *cx, int slot, int dflt)
{
    const Value *v = cx->arg[slot];
    return v && v->kind == V_BOOL ? (int)v->i : dflt;
}

int arg_given(const BuildCtx *cx, int slot)
{
    return cx->arg[slot] != NULL;
}

int arg_is_list(const BuildCtx *cx, int slot)
{
    return cx->arg[slot] && cx->arg[slot]->kind == V_LIST;
}

const char *arg_str(const BuildCtx *cx, int slot)
{
    const Value *v = cx->arg[slot];
    return v && v->kind == V_STR ? v->s : NULL;
}

Span arg_span(const BuildCtx *cx, int slot)
{
    return cx->arg[slot] ? cx->arg[slot]->span : cx->layer_span;
}

int arg_ints(BuildCtx *cx, int slot, int64_t *v, int max, const char *what)
{
    const Value *a = cx->arg[slot];
    if (!a)
        return 0;
    if (a->kind == V_INT) {
        v[0] = a->i;
        return 1;
    }
    int bad = a->kind != V_LIST || a->n > max || a->n < 1;
    for (int i = 0; !bad && i < a->n; i++) {
        const Value *it = sema_list_item(a, i);
        bad = it->kind != V_INT;
        if (!bad)
            v[i] = it->i;
    }
    if (bad) {
        diag_error(cx->d, a->span, "%s must be an integer or a list of 1 to %d integers", what, max);
        return -1;
    }
    return a->n;
}

/* Walk a nested list literal, checking its shape against p->shape. */
static int fill_literal(BuildCtx *cx, const Param *p, const Value *v, int depth, float **dst,
                        const char *what)
{
    if (depth == p->ndim) {
        if (v->kind != V_INT && v->kind != V_REAL) {
            diag_error(cx->d, v->span, "%s: expected a number in the literal", what);
            return -1;
        }
        *(*dst)++ = v->kind == V_INT ? (float)v->i : (float)v->r;
        return 0;
    }
    if (v->kind != V_LIST) {
        diag_error(cx->d, v->span, "%s: expected a list of %lld values at depth %d of a %d-dimensional literal",
                   what, (long long)p->shape[depth], depth + 1, p->ndim);
        return -1;
    }
    if (v->n != p->shape[depth]) {
        char buf[96];
        Shape s = {p->ndim, {0}};
        memcpy(s.d, p->shape, sizeof s.d);
        diag_error(cx->d, v->span, "%s: the literal has %d entries at depth %d, but the parameter has shape %s",
                   what, v->n, depth + 1, shape_str(&s, buf, sizeof buf));
        return -1;
    }
    if (v->nums && depth + 1 == p->ndim) {     /* a flat list of numbers (sema.h) */
        memcpy(*dst, v->nums, (size_t)v->n * sizeof **dst);
        *dst += v->n;
        return 0;
    }
    for (int i = 0; i < v->n; i++)
        if (fill_literal(cx, p, sema_list_item(v, i), depth + 1, dst, what))
            return -1;
    return 0;
}

/* Are the literal's rows flat lists (sema.h) that are one block of numbers
   in order (the parser keeps them so), of the parameter's shape? The first
   number in *start. */
static int literal_block(const Param *p, const Value *v, int depth, const float **start,
                         const float **next)
{
    if (v->kind != V_LIST || v->n != p->shape[depth])
        return 0;
    if (depth + 1 == p->ndim) {
        if (!v->nums || (*next && v->nums != *next))
            return 0;
        if (!*start)
            *start = v->nums;
        *next = v->nums + v->n;
        return 1;
    }
    for (int i = 0; !v->nums && i < v->n; i++)
        if (!literal_block(p, v->items[i], depth + 1, start, next))
            return 0;
    return !v->nums;
}

int op_param_literal(BuildCtx *cx, int param, int slot, const char *what)
{
    const Value *v = cx->arg[slot];
    Param *p = &cx->g->params[param];
    extern int64_t nnc_max_floats;
    if (p->numel < 0 || p->numel > nnc_max_floats) { /* before allocating it */
        diag_error(cx->d, cx->layer_span, "%s: parameter '%s' is too large (%lld floats; the limit is %lld)",
                   what, p->name, (long long)p->numel, (long long)nnc_max_floats);
        return -1;
    }
    const float *start = NULL, *next = NULL;
    if (p->ndim > 0 && p->numel > 0 && literal_block(p, v, 0, &start, &next)) {
        p->data = (float *)start;   /* shared with the syntax tree: a parameter's data is never written */
        p->literal = 1;
        return 0;
    }
    float *data = xcalloc((size_t)p->numel, sizeof(float));
    float *cur = data;
    if (fill_literal(cx, p, v, 0, &cur, what))
        return -1;
    p->data = data;
    p->literal = 1;
    return 0;
}

int arg_pair(BuildCtx *cx, int slot, int64_t dflt, int64_t out[2], const char *what)
{
    const Value *v = cx->arg[slot];
    if (!v) {
        out[0] = out[1] = dflt;
        return 0;
    }
    if (v->kind == V_INT) {
        out[0] = out[1] = v->i;
        return 0;
    }
    if (v->kind == V_LIST && v->n == 2 && v->items[0]->kind == V_INT && v->items[1]->kind == V_INT) {
        out[0] = v->items[0]->i;
        out[1] = v->items[1]->i;
        return 0;
    }
    diag_error(cx->d, v->span, "%s must be an integer or a list of two integers", what);
    return -1;
}

int arg_real_pair(BuildCtx *cx, int slot, double dflt, double out[2], const char *what)
{
    const Value *v = cx->arg[slot];
    if (!v) {
        out[0] = out[1] = dflt;
        return 0;
    }
    if (v->kind == V_INT || v->kind == V_REAL) {
        out[0] = out[1] = v->kind == V_INT ? (double)v->i : v->r;
        return 0;
    }
    if (v->kind == V_LIST && v->n == 2) {
        for (int k = 0; k < 2; k++) {
            const Value *it = sema_list_item(v, k);
            if (it->kind != V_INT && it->kind != V_REAL)
                break;
            out[k] = it->kind == V_INT ? (double)it->i : it->r;
            if (k == 1)
                return 0;
        }
    }
    diag_error(cx->d, v->span, "%s must be a number or a list of two numbers", what);
    return -1;
}

int arg_int_list(BuildCtx *cx, int slot, int64_t *out, int max, const char *what)
{
    const Value *v = cx->arg[slot];
    if (v && v->kind == V_INT) {
        out[0] = v->i;
        return 1;
    }
    if (v && v->kind == V_LIST && v->n >= 1 && v->n <= max) {
        for (int k = 0; k < v->n; k++) {
            const Value *it = sema_list_item(v, k);
            if (it->kind != V_INT)
                goto bad;
            out[k] = it->i;
        }
        return v->n;
    }
bad:
    diag_error(cx->d, v ? v->span : cx->layer_span, "%s must be an integer or a list of 1 to %d integers",
               what, max);
    return -1;
}
