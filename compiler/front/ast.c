/* ast.c — builders for the syntax tree (called by grammar/nnet.y) and ast_dump.
 *
 * Nodes are allocated with xnew (a bump allocator) and never freed (diag.h policy). Lists
 * that can be long (list literals: weight tensors) grow by doubling; the
 * others (args, layers, train items) are linked lists appended at the
 * tail, which the head keeps (appending is O(1): a model may have 10^6
 * layers).
 *
 * ast_dump prints one S-expression per declaration, children indented by two
 * spaces on their own line for models and trains:
 *
 *   (let hidden (int 128))
 *   (model digits
 *     (input (int 64))
 *     (layer _ linear (args (int 64) (ident hidden)))
 *     (layer _ relu)                   bare layer, no parentheses
 *     (layer _ relu (args))            relu()
 *     (layer head linear (args (int 64) (kw bias (bool false)))))
 *   (train digits
 *     (item data (call csv (str "a.csv") (kw label (neg (int 1)))))
 *     (item lr (real 0.05)))
 *
 * Version 2 (LANGUAGE.md §7-§8): (block NAME (param P [DEFAULT])... ...),
 * named inputs (input NAME DIMS... [int]), and a forward block
 * (forward (= NAMES... E) (return E...)) after the layers.
 *
 * Expressions: (int N) (real X) (str "...") (bool true|false) (ident NAME)
 * (call NAME ARG...) (list E...) (+ A B) (- A B) (* A B) (/ A B) (@ A B)
 * (neg E) (. E NAME);
 * a keyword argument is (kw NAME E). Reals are printed with the fewest
 * digits that read back to the same double (%.15g to %.17g); strings with
 * the escapes \" \\ \n \t and \xNN for other non-printable bytes. Spans
 * are not printed. The recursion depth is the expression depth, which
 * nnc_parse bounds (NNC_MAX_EXPR_DEPTH in parse.c). */
#include "ast.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Number nodes that went into a flat list, for reuse: a literal's parse
   allocates a node per number only until it is flat. Two lists, one per
   node size (a plain number; a negated one). */
static Expr *free_small, *free_pair;

static void arena_reset(void);

void ast_begin(void)
{
    free_small = free_pair = NULL;
    arena_reset();
}

size_t ast_expr_size(ExprKind kind)
{
    switch (kind) {
    case EX_INT: case EX_REAL: case EX_STRING: case EX_BOOL: case EX_IDENT:
        return offsetof(Expr, lhs);
    case EX_CALL: case EX_BINOP: case EX_NEG: case EX_ATTR:
        return offsetof(Expr, rhs) + sizeof(Expr *);
    case EX_LIST:
        break;
    }
    return sizeof(Expr);
}

static void recycle(Expr *e)
{
    if (e->kind == EX_NEG)
        recycle(e->lhs);
    Expr **list = ast_expr_size(e->kind) == ast_expr_size(EX_INT) ? &free_small : &free_pair;
    e->next_free = *list;
    *list = e;
}

/* A node of kind, zeroed, only as large as the kind needs (under
   AddressSanitizer xnew gives every block its own allocation, so reading
   a field of another kind is reported). */
static Expr *new_expr(ExprKind kind, Span sp)
{
    size_t size = ast_expr_size(kind);
    Expr **list = size == ast_expr_size(EX_INT) ? &free_small
                  : size == ast_expr_size(EX_NEG) ? &free_pair : NULL;
    Expr *e;
    if (list && *list) {
        e = *list;
        *list = e->next_free;
        memset(e, 0, size);
    } else {
        e = xnew(size);
    }
    e->kind = kind;
    e->span = sp;
    return e;
}

Expr *ast_int(Span sp, int64_t v)
{
    Expr *e = new_expr(EX_INT, sp);
    e->ival = v;
    return e;
}

Expr *ast_real(Span sp, double v)
{
    Expr *e = new_expr(EX_REAL, sp);
    e->rval = v;
    return e;
}

Expr *ast_string(Span sp, const char *s)
{
    Expr *e = new_expr(EX_STRING, sp);
    e->sval = s;
    return e;
}

Expr *ast_bool(Span sp, int v)
{
    Expr *e = new_expr(EX_BOOL, sp);
    e->ival = v != 0;
    return e;
}

Expr *ast_ident(Span sp, const char *name)
{
    Expr *e = new_expr(EX_IDENT, sp);
    e->name = name;
    return e;
}

Expr *ast_call(Span sp, const char *name, Arg *args)
{
    Expr *e = new_expr(EX_CALL, sp);
    e->name = name;
    e->args = args;
    for (Arg *a = args; a; a = a->next)
        e->nargs++;
    return e;
}

Expr *ast_list(Span sp)
{
    return new_expr(EX_LIST, sp);
}

/* Is e a plain number (INT, REAL, or one of them negated once)? Its
   signed value and flags in *v, *flags. */
static int plain_number(const Expr *e, float *v, int *flags)
{
    int neg = 0;
    if (e->kind == EX_NEG) {
        neg = AST_NUM_NEG;
        e = e->lhs;
    }
    if (e->kind == EX_REAL) {
        *v = (float)(neg ? -e->rval : e->rval);
        *flags = neg;
        return 1;
    }
    if (e->kind == EX_INT && e->ival <= ((int64_t)1 << 24) && e->ival >= -((int64_t)1 << 24)) {
        *v = (float)(neg ? -e->ival : e->ival);
        *flags = neg | AST_NUM_INT;
        return 1;
    }
    return 0;
}

/* The numbers of the flat lists of one parse, one after the other in one
   array (so the rows of a tensor literal are one block, which its
   parameter shares: op_param_literal), growing by doubling. While parsing a
   flat list has numflags, and its numbers are at arena[numoff...]; the
   array may still move, so Expr.nums is set by ast_end. */
static float *arena;
static int64_t arena_n, arena_cap;
static Expr **flats;    /* the lists made flat, for ast_end */
static int64_t nflats, capflats;

static void arena_reset(void)
{
    arena = NULL;       /* an earlier parse's numbers stay where they are */
    arena_n = arena_cap = 0;
    flats = NULL;
    nflats = capflats = 0;
}

static int is_flat(const Expr *list)
{
    return list->numflags != NULL;
}

/* Append number v to the flat list: at the end of the arena (a list that
   is not there any more, as an outer list that gets an inner one, moves). */
static void push_number(Expr *list, float v, int flags)
{
    int n = list->nitems;
    if (n == 0 || (n >= AST_FLAT_MIN && (n & (n - 1)) == 0)) {
        size_t cap = n < AST_FLAT_MIN ? AST_FLAT_MIN : (size_t)n * 2;
        list->numflags = xrealloc(list->numflags, cap / 4);
        memset(list->numflags + (n + 3) / 4, 0, cap / 4 - (size_t)(n + 3) / 4);
    }
    int64_t need = arena_n + 1 + (list->numoff + n == arena_n ? 0 : n);
    if (need > arena_cap) {
        while (arena_cap < need)
            arena_cap = arena_cap ? arena_cap * 2 : 1024;
        arena = xrealloc(arena, (size_t)arena_cap * sizeof *arena);
    }
    if (list->numoff + n != arena_n) {
        memmove(arena + arena_n, arena + list->numoff, (size_t)n * sizeof *arena);
        list->numoff = arena_n;
        arena_n += n;
    }
    arena[arena_n++] = v;
    list->numflags[n >> 2] = (unsigned char)(list->numflags[n >> 2] | (flags << ((n & 3) * 2)));
    list->nitems = n + 1;
}

/* A list of AST_FLAT_MIN plain numbers becomes flat, its nodes recycled. */
static void flatten(Expr *list)
{
    float v[AST_FLAT_MIN];
    int flags[AST_FLAT_MIN];
    for (int i = 0; i < list->nitems; i++)
        if (!plain_number(list->items[i], &v[i], &flags[i]))
            return;
    Expr **items = list->items;
    int n = list->nitems;
    list->items = NULL;
    list->nitems = 0;
    list->numoff = arena_n;
    if (nflats == capflats) {
        capflats = capflats ? capflats * 2 : 64;
        flats = xrealloc(flats, (size_t)capflats * sizeof *flats);
    }
    flats[nflats++] = list;
    for (int i = 0; i < n; i++) {
        push_number(list, v[i], flags[i]);
        recycle(items[i]);
    }
    free(items);
}

/* items has room for max(4, the power of two >= nitems) entries. */
static void push_item(Expr *list, Expr *item)
{
    int n = list->nitems;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {   /* full */
        size_t cap = n ? (size_t)n * 2 : 4;
        list->items = xrealloc(list->items, cap * sizeof *list->items);
    }
    list->items[list->nitems++] = item;
}

void ast_list_push(Expr *list, Expr *item)
{
    float v;
    int flags;
    if (is_flat(list)) {
        if (plain_number(item, &v, &flags)) {
            push_number(list, v, flags);
            recycle(item);
            return;
        }
        ast_list_unflatten(list);       /* [1, 2, ..., x]: nodes again */
    }
    push_item(list, item);
    if (list->nitems == AST_FLAT_MIN)
        flatten(list);
}

void ast_list_unflatten(Expr *list)
{
    if (!is_flat(list))
        return;
    int parsing = list->nums == NULL;
    const float *nums = parsing ? arena + list->numoff : list->nums;
    unsigned char *flags = list->numflags;
    int n = list->nitems;
    list->nums = NULL;
    list->numflags = NULL;
    list->nitems = 0;
    for (int i = 0; i < n; i++) {
        int f = (flags[i >> 2] >> ((i & 3) * 2)) & 3;
        double x = f & AST_NUM_NEG ? -(double)nums[i] : (double)nums[i];
        Expr *e = f & AST_NUM_INT ? ast_int(list->span, (int64_t)x) : ast_real(list->span, x);
        push_item(list, f & AST_NUM_NEG ? ast_neg(list->span, e) : e);
    }
    if (parsing && list->numoff + n == arena_n)
        arena_n = list->numoff;         /* the last list: its room is free again */
    free(flags);
}

void ast_end(void)
{
    if (arena_n == 0) {
        free(arena);
    } else {
        if (arena_n < arena_cap)
            arena = xrealloc(arena, (size_t)arena_n * sizeof *arena);
        for (int64_t i = 0; i < nflats; i++)
            if (is_flat(flats[i]))
                flats[i]->nums = arena + flats[i]->numoff;
    }
    free(flats);
    arena_reset();
}

Expr *ast_binop(Span sp, int op, Expr *lhs, Expr *rhs)
{
    Expr *e = new_expr(EX_BINOP, sp);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

Expr *ast_neg(Span sp, Expr *operand)
{
    Expr *e = new_expr(EX_NEG, sp);
    e->lhs = operand;
    return e;
}

Arg *ast_arg(Span name_span, const char *name, Expr *value)
{
    Arg *a = xnew(sizeof *a);
    a->name = name;
    a->name_span = name_span;
    a->value = value;
    return a;
}

Arg *ast_args_append(Arg *list, Arg *a)
{
    a->tail = a;
    if (!list)
        return a;
    list->tail->next = a;
    list->tail = a;
    return list;
}

Layer *ast_layer(Span label_span, const char *label, Span op_span, const char *op,
                 int has_parens, Arg *args)
{
    Layer *l = xnew(sizeof *l);
    l->label = label;
    l->label_span = label_span;
    l->op = op;
    l->op_span = op_span;
    l->has_parens = has_parens;
    l->args = args;
    for (Arg *a = args; a; a = a->next)
        l->nargs++;
    return l;
}

Layer *ast_layers_append(Layer *list, Layer *l)
{
    l->tail = l;
    if (!list)
        return l;
    list->tail->next = l;
    list->tail = l;
    return list;
}

static Decl *new_decl(DeclKind kind, Span sp, Span name_span, const char *name)
{
    Decl *d = xnew(kind == DECL_LET || kind == DECL_TRAIN ? offsetof(Decl, input) : sizeof *d);
    d->kind = kind;
    d->span = sp;
    d->name = name;
    d->name_span = name_span;
    return d;
}

Decl *ast_let(Span sp, Span name_span, const char *name, Expr *value)
{
    Decl *d = new_decl(DECL_LET, sp, name_span, name);
    d->value = value;
    return d;
}

/* A model's or block's body; the first input's shape is also kept in
 * input/ninput/input_span (what version-1 code reads). */
static void set_body(Decl *d, Body b)
{
    d->inputs = b.inputs;
    for (Input *in = b.inputs; in; in = in->next)
        d->ninputs++;
    if (b.inputs) {
        d->input = b.inputs->dims;
        d->ninput = b.inputs->ndims;
        d->input_span = b.inputs->span;
    }
    d->layers = b.layers;
    for (Layer *l = b.layers; l; l = l->next)
        d->nlayers++;
    d->has_forward = b.has_forward;
    d->forward_span = b.forward_span;
    d->stmts = b.stmts;
}

Decl *ast_model(Span sp, Span name_span, const char *name, Body body)
{
    Decl *d = new_decl(DECL_MODEL, sp, name_span, name);
    set_body(d, body);
    return d;
}

Decl *ast_block(Span sp, Span name_span, const char *name, BlockParam *params, Body body)
{
    Decl *d = new_decl(DECL_BLOCK, sp, name_span, name);
    set_body(d, body);
    d->params = params;
    for (BlockParam *p = params; p; p = p->next)
        d->nparams++;
    return d;
}

/* The shape's EX_LIST node is dissolved into dims/ndims. */
Input *ast_input(Span sp, const char *name, Span name_span, Expr *shape_list, int is_int)
{
    Input *in = xnew(sizeof *in);
    in->name = name;
    in->span = sp;
    in->name_span = name_span;
    if (shape_list) {
        ast_list_unflatten(shape_list);
        in->dims = shape_list->items;
        in->ndims = shape_list->nitems;
        in->has_shape = 1;
        in->shape_span = shape_list->span;
    }
    in->is_int = is_int;
    return in;
}

Input *ast_inputs_append(Input *list, Input *in)
{
    in->tail = in;
    if (!list)
        return in;
    list->tail->next = in;
    list->tail = in;
    return list;
}

BlockParam *ast_params_append(BlockParam *list, Span sp, const char *name, Expr *dflt)
{
    BlockParam *p = xnew(sizeof *p);
    p->name = name;
    p->span = sp;
    p->dflt = dflt;
    p->tail = p;
    if (!list)
        return p;
    list->tail->next = p;
    list->tail = p;
    return list;
}

Expr *ast_attr(Span sp, Expr *obj, const char *name)
{
    Expr *e = new_expr(EX_ATTR, sp);
    e->lhs = obj;
    e->name = name;
    return e;
}

/* Statements are built in place: names and exprs grow by doubling. */
static void grow(void **arr, int n, size_t elem)
{
    if (n && (n & (n - 1)))
        return;             /* not a power of two: room left */
    void *a = xcalloc((size_t)(n ? 2 * n : 1), elem);
    if (n)
        memcpy(a, *arr, (size_t)n * elem);
    *arr = a;
}

Stmt *ast_names_push(Stmt *st, Span sp, const char *name)
{
    if (!st) {
        st = xnew(sizeof *st);
        st->kind = ST_ASSIGN;
        st->span = sp;
    }
    grow((void **)&st->names, st->nnames, sizeof *st->names);
    grow((void **)&st->name_spans, st->nnames, sizeof *st->name_spans);
    st->names[st->nnames] = name;
    st->name_spans[st->nnames++] = sp;
    return st;
}

Stmt *ast_exprs_push(Stmt *st, Expr *e)
{
    if (!st) {
        st = xnew(sizeof *st);
        st->kind = ST_RETURN;
        st->span = e->span;
    }
    grow((void **)&st->exprs, st->nexprs, sizeof *st->exprs);
    st->exprs[st->nexprs++] = e;
    return st;
}

Stmt *ast_assign(Span sp, Stmt *names, Expr *value)
{
    names->kind = ST_ASSIGN;
    names->span = sp;
    ast_exprs_push(names, value);
    return names;
}

Stmt *ast_return(Span sp, Stmt *exprs)
{
    exprs->kind = ST_RETURN;
    exprs->span = sp;
    return exprs;
}

Stmt *ast_stmts_append(Stmt *list, Stmt *st)
{
    st->tail = st;
    if (!list)
        return st;
    list->tail->next = st;
    list->tail = st;
    return list;
}

Decl *ast_train(Span sp, Span name_span, const char *name, TrainItem *items)
{
    Decl *d = new_decl(DECL_TRAIN, sp, name_span, name);
    d->items = items;
    return d;
}

TrainItem *ast_items_append(TrainItem *list, Span key_span, const char *key, Expr *v)
{
    TrainItem *t = xnew(sizeof *t);
    t->key = key;
    t->key_span = key_span;
    t->value = v;
    t->tail = t;
    if (!list)
        return t;
    list->tail->next = t;
    list->tail = t;
    return list;
}

void ast_push_decl(Ast *ast, Decl *d)
{
    d->next = NULL;
    if (ast->last)
        ast->last->next = d;
    else
        ast->decls = d;
    ast->last = d;
}

/* ---- ast_dump ---- */

static void dump_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Shortest of %.15g, %.16g, %.17g that reads back as the same double. */
static void dump_real(FILE *f, double v)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

/* Shortest of %.6g to %.9g that reads back as the same float. */
static void dump_float(FILE *f, float v)
{
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void dump_expr(FILE *f, const Expr *e);

/* Number i of a flat list, as its node would be printed (a real as the
   float it is kept as: Expr.nums). */
static void dump_number(FILE *f, const Expr *list, int i)
{
    int fl = ast_num_flags(list, i);
    float x = fl & AST_NUM_NEG ? -list->nums[i] : list->nums[i];
    if (fl & AST_NUM_NEG)
        fputs("(neg ", f);
    if (fl & AST_NUM_INT) {
        fprintf(f, "(int %lld)", (long long)x);
    } else {
        fputs("(real ", f);
        dump_float(f, x);
        fputc(')', f);
    }
    if (fl & AST_NUM_NEG)
        fputc(')', f);
}

static void dump_args(FILE *f, const Arg *a)
{
    for (; a; a = a->next) {
        fputc(' ', f);
        if (a->name) {
            fprintf(f, "(kw %s ", a->name);
            dump_expr(f, a->value);
            fputc(')', f);
        } else {
            dump_expr(f, a->value);
        }
    }
}

static void dump_expr(FILE *f, const Expr *e)
{
    if (!e) {
        fputs("(null)", f);
        return;
    }
    switch (e->kind) {
    case EX_INT:
        fprintf(f, "(int %lld)", (long long)e->ival);
        break;
    case EX_REAL:
        fputs("(real ", f);
        dump_real(f, e->rval);
        fputc(')', f);
        break;
    case EX_STRING:
        fputs("(str ", f);
        dump_string(f, e->sval ? e->sval : "");
        fputc(')', f);
        break;
    case EX_BOOL:
        fputs(e->ival ? "(bool true)" : "(bool false)", f);
        break;
    case EX_IDENT:
        fprintf(f, "(ident %s)", e->name);
        break;
    case EX_CALL:
        fprintf(f, "(call %s", e->name);
        dump_args(f, e->args);
        fputc(')', f);
        break;
    case EX_LIST:
        fputs("(list", f);
        for (int i = 0; i < e->nitems; i++) {
            fputc(' ', f);
            if (e->nums)
                dump_number(f, e, i);
            else
                dump_expr(f, e->items[i]);
        }
        fputc(')', f);
        break;
    case EX_BINOP:
        fprintf(f, "(%c ", e->op);
        dump_expr(f, e->lhs);
        fputc(' ', f);
        dump_expr(f, e->rhs);
        fputc(')', f);
        break;
    case EX_NEG:
        fputs("(neg ", f);
        dump_expr(f, e->lhs);
        fputc(')', f);
        break;
    case EX_ATTR:
        fputs("(. ", f);
        dump_expr(f, e->lhs);
        fprintf(f, " %s)", e->name);
        break;
    default:
        fprintf(f, "(?kind %d)", (int)e->kind);
        break;
    }
}

/* A model as version 1 printed it: (input DIMS...) for one unnamed input;
 * named inputs as (input NAME DIMS... [int]); a block's parameters as
 * (param NAME [DEFAULT]); the forward block as (forward STMT...) with
 * (= NAMES... EXPR) and (return EXPRS...). */
static void dump_body(FILE *f, const Decl *d)
{
    fprintf(f, "(%s %s", d->kind == DECL_BLOCK ? "block" : "model", d->name);
    for (const BlockParam *p = d->params; p; p = p->next) {
        fprintf(f, "\n  (param %s", p->name);
        if (p->dflt) {
            fputc(' ', f);
            dump_expr(f, p->dflt);
        }
        fputc(')', f);
    }
    for (const Input *in = d->inputs; in; in = in->next) {
        fprintf(f, "\n  (input%s%s", in->name ? " " : "", in->name ? in->name : "");
        for (int i = 0; i < in->ndims; i++) {
            fputc(' ', f);
            dump_expr(f, in->dims[i]);
        }
        fputs(in->is_int ? " int)" : ")", f);
    }
    for (const Layer *l = d->layers; l; l = l->next) {
        fprintf(f, "\n  (layer %s %s", l->label ? l->label : "_", l->op);
        if (l->has_parens) {
            fputs(" (args", f);
            dump_args(f, l->args);
            fputc(')', f);
        }
        fputc(')', f);
    }
    if (d->has_forward) {
        fputs("\n  (forward", f);
        for (const Stmt *st = d->stmts; st; st = st->next) {
            fputs(st->kind == ST_RETURN ? "\n    (return" : "\n    (=", f);
            for (int i = 0; st->kind == ST_ASSIGN && i < st->nnames; i++)
                fprintf(f, " %s", st->names[i]);
            for (int i = 0; i < st->nexprs; i++) {
                fputc(' ', f);
                dump_expr(f, st->exprs[i]);
            }
            fputc(')', f);
        }
        fputc(')', f);
    }
    fputs(")\n", f);
}

void ast_dump(const Ast *ast, void *FILE_stream)
{
    FILE *f = FILE_stream;
    for (const Decl *d = ast->decls; d; d = d->next) {
        switch (d->kind) {
        case DECL_LET:
            fprintf(f, "(let %s ", d->name);
            dump_expr(f, d->value);
            fputs(")\n", f);
            break;
        case DECL_MODEL:
        case DECL_BLOCK:
            dump_body(f, d);
            break;
        case DECL_TRAIN:
            fprintf(f, "(train %s", d->name);
            for (const TrainItem *t = d->items; t; t = t->next) {
                fprintf(f, "\n  (item %s ", t->key);
                dump_expr(f, t->value);
                fputc(')', f);
            }
            fputs(")\n", f);
            break;
        }
    }
}
