/* parse.c — nnc_parse: runs the flex scanner and the bison parser
 * (grammar/nnet.l, grammar/nnet.y) over one in-memory source file.
 *
 * The parser stops at the first syntax error (one diagnostic). After a
 * successful parse, the depth of every expression is checked with an
 * explicit stack, so that the recursive walkers after us (sema, ast_dump)
 * never see a tree deeper than NNC_MAX_EXPR_DEPTH. Brackets nested beyond
 * bison's stack (YYMAXDEPTH, 10000) stop the parser itself; both cases
 * give "nesting too deep". */
#include "ast.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnet.tab.h"
/* flex's header refers to the parser's types by their yacc names. */
#define YYSTYPE NNET_STYPE
#define YYLTYPE NNET_LTYPE
#include "nnet.lex.h"

/* Deeper expressions are rejected: a real file nests a few levels. */
#define NNC_MAX_EXPR_DEPTH 1000

void nnet_ctx_init(ParseCtx *cx, const SrcFile *src, Diag *diag, Ast *ast)
{
    *cx = (ParseCtx){0};
    cx->src = src;
    cx->diag = diag;
    cx->ast = ast;
    cx->line = 1;
    cx->col = 1;
    cx->last = (NnetLoc){1, 1, 1, 1, 1};
}

/* One line: the location itself; over several lines: its first token. */
Span nnet_span(NNET_LTYPE loc)
{
    Span sp;
    sp.line = loc.first_line;
    sp.col = loc.first_column;
    sp.end_col = loc.last_line == loc.first_line ? loc.last_column : loc.first_end;
    if (sp.end_col < sp.col)
        sp.end_col = sp.col;
    return sp;
}

/* Bison calls yyerror only when its stacks are full ("memory exhausted"),
   i.e. on brackets nested thousands deep; syntax errors go through
   yyreport_syntax_error in nnet.y. */
void nnet_error(const NNET_LTYPE *loc, yyscan_t scanner, ParseCtx *cx, const char *msg)
{
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(cx->diag, nnet_span(*loc), "nesting too deep");
    else
        diag_error(cx->diag, nnet_span(*loc), "%s", msg);
    cx->nerrors++;
}

/* ---- expression depth check ---- */

typedef struct DepthItem {
    const Expr *e;
    int depth;
} DepthItem;

typedef struct DepthStack {
    DepthItem *v;
    size_t n, cap;
} DepthStack;

static void depth_push(DepthStack *s, const Expr *e, int depth)
{
    if (!e)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (DepthItem){e, depth};
}

/* root if the tree under it is deeper than the limit, else NULL. Iterative: the tree may be arbitrarily deep (a long
   a + b + c + ... chain is left-recursive, so bison builds it flat). */
static const Expr *too_deep(DepthStack *s, const Expr *root)
{
    s->n = 0;
    depth_push(s, root, 1);
    while (s->n > 0) {
        DepthItem it = s->v[--s->n];
        const Expr *e = it.e;
        if (it.depth > NNC_MAX_EXPR_DEPTH)
            return root;
        switch (e->kind) {
        case EX_BINOP:
            depth_push(s, e->lhs, it.depth + 1);
            depth_push(s, e->rhs, it.depth + 1);
            break;
        case EX_NEG:
            depth_push(s, e->lhs, it.depth + 1);
            break;
        case EX_LIST:
            for (int i = 0; !e->nums && i < e->nitems; i++)
                depth_push(s, e->items[i], it.depth + 1);
            break;
        case EX_CALL:
            for (const Arg *a = e->args; a; a = a->next)
                depth_push(s, a->value, it.depth + 1);
            break;
        default:
            break;
        }
    }
    return NULL;
}

static const Expr *args_too_deep(DepthStack *s, const Arg *a)
{
    for (; a; a = a->next) {
        const Expr *e = too_deep(s, a->value);
        if (e)
            return e;
    }
    return NULL;
}

/* Reports the first too-deep expression of decls; returns 1 if there is one. */
static int check_depth(Diag *diag, const Decl *decls)
{
    DepthStack s = {0};
    const Expr *bad = NULL;
    for (const Decl *d = decls; d && !bad; d = d->next) {
        if (d->kind == DECL_LET)
            bad = too_deep(&s, d->value);
        if (d->kind == DECL_TRAIN)
            for (const TrainItem *t = d->items; t && !bad; t = t->next)
                bad = too_deep(&s, t->value);
        if (d->kind != DECL_MODEL && d->kind != DECL_BLOCK)
            continue;
        for (int i = 0; i < d->ninput && !bad; i++)
            bad = too_deep(&s, d->input[i]);
        for (const Layer *l = d->layers; l && !bad; l = l->next)
            bad = args_too_deep(&s, l->args);
    }
    free(s.v);
    if (!bad)
        return 0;
    diag_error(diag, bad->span, "nesting too deep: expressions may nest at most %d levels",
               NNC_MAX_EXPR_DEPTH);
    return 1;
}

int nnc_parse(const SrcFile *src, Diag *diag, Ast *out)
{
    Ast saved = *out;
    if (src->len > (size_t)INT_MAX) {
        diag_error_nopos(diag, "file too large (%zu bytes)", src->len);
        return 1;
    }

    ParseCtx cx;
    ast_begin();
    nnet_ctx_init(&cx, src, diag, out);
    yyscan_t scanner;
    if (nnet_lex_init_extra(&cx, &scanner) != 0)
        NNC_ICE("cannot create the scanner");
    /* The scanner reads src->text through YY_INPUT (grammar/nnet.l) into a
       buffer of its own of 64 KiB (more only for a longer
       token), not a copy of the whole text. */
    nnet__switch_to_buffer(nnet__create_buffer(NULL, 1 << 16, scanner), scanner);
    int rc = nnet_parse(scanner, &cx);
    nnet_lex_destroy(scanner);
    ast_end();

    if (rc != 0 && cx.nerrors == 0)     /* never expected: every path reports */
        diag_error_nopos(diag, "syntax error");
    if (rc == 0 && check_depth(diag, out->decls))
        rc = 1;
    if (rc != 0)
        *out = saved;   /* no partial declarations */
    if (out->last)
        out->last->next = NULL;
    return rc;
}
