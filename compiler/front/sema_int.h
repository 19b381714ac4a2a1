/* sema_int.h — what the parts of the checker share (sema.c drives;
 * sema_eval.c evaluates expressions and binds arguments; sema_lower.c
 * lowers models to IR; sema_train.c checks train blocks). Not for use
 * outside compiler/front. */
#ifndef NNC_SEMA_INT_H
#define NNC_SEMA_INT_H

#include "sema.h"
#include "../support/strmap.h"

/* Upper bound on parameters + activations of one sample, in floats. */
extern int64_t nnc_max_floats;

typedef struct Sema {
    Diag *d;
    const Ast *ast;
    const char *base_dir;
    StrMap lets;        /* every let name of the file -> its Value once
                         * evaluated, sema_let_later before (one map: a
                         * file of 10^6 lets makes 2 lookups a line) */
    StrMap model_decls; /* model name -> its (last) Decl */
    StrMap lowered;     /* model name -> 1 + its first index with a graph */
    StrMap blocks;      /* block name -> its Decl */
    StrMap *scope;      /* a block's parameters (name -> Value), looked up before lets */
    StrMap warned;      /* "line:col" of warnings given once per source place */
    const Program *prog;    /* the models lowered so far */
    int depth;
} Sema;

/* sema_eval.c */
Value *sema_new_value(ValueKind k, Span sp);
const char *sema_kind_name(ValueKind k);
Value *sema_lookup_let(Sema *s, const char *name);
/* The value of a let that comes later in the file (not evaluated yet). */
extern Value sema_let_later;
int sema_defined_later(Sema *s, const char *name);
/* Evaluate an expression. Bare identifiers that are not `let` names become
 * symbols (a V_CALL with nargs = -1) when allow_sym is set: `loss = mse`. */
Value *sema_eval(Sema *s, const Expr *e, int allow_sym);
/* Edit distance, for "did you mean" (99 for names over 40 bytes). */
int sema_edit_distance(const char *a, const char *b);
/* Bind a call's arguments to a schema. Returns 0 when all is well. */
int sema_bind_args(Sema *s, const char *what, Span at, const ArgSpec *spec, ValueArg *args,
                   int nargs, Value **slot);
ValueArg *sema_eval_args(Sema *s, const Arg *args, int *nargs);

/* sema_lower.c: the model's IR graph, or NULL after errors. */
Graph *sema_lower_model(Sema *s, const Decl *m, const SrcFile *src);
/* The parameters made from first_param on: their sizes against the limit
 * (what: the layer, at: where). Returns 1 when one is too large. */
int sema_check_params(Sema *s, const char *what, Span at, Graph *g, int first_param);
/* Node ni's output shape against the limit; 1 when it is empty or too large. */
int sema_check_output(Sema *s, const char *what, Span at, const Graph *g, int ni);
/* The model's parameters and activations against the limit; 1 when over. */
int sema_check_limits(Sema *s, const Decl *m, const Graph *g, int64_t numel);
/* An input's shape (Input.dims) into *sh; its values per sample added to
 * *numel. Returns 1 when it is broken (errors reported). */
int sema_input_shape(Sema *s, const Input *in, Shape *sh, int64_t *numel);
/* "unknown layer" with a did-you-mean among the op names (and blocks). */
void sema_unknown_layer(Sema *s, const char *name, Span at, const char *what);

/* sema_graph.c: a model with forward, several or named inputs, or blocks
 * (LANGUAGE.md §7-§8); NULL after errors. */
int sema_is_graph_model(Sema *s, const Decl *m);
Graph *sema_lower_graph(Sema *s, const Decl *m, const SrcFile *src);

/* sema_train.c: checks one train block into p->trains. */
void sema_check_train(Sema *s, const Decl *t, Program *p);

#endif
