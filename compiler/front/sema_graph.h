/* sema_graph.h — what the two halves of graph lowering share: layer
 * instances and blocks (sema_graph.c) and the forward blocks' statements
 * and expressions (sema_fwd.c). Not for use outside compiler/front. */
#ifndef NNC_SEMA_GRAPH_H
#define NNC_SEMA_GRAPH_H

#include "sema_int.h"
#include "../ops/ops.h"

/* What a declared layer name stands for: an op with its arguments bound
 * (its parameters made at the declaration, in declaration order, as
 * PyTorch's __init__ registers them), a block instance, or a sequential. */
typedef enum InstKind { INST_OP, INST_BLOCK, INST_SEQ } InstKind;

typedef struct Inst Inst;
struct Inst {
    InstKind kind;
    const char *name;       /* as declared ("conv1"; "0" in a sequence) */
    const char *prefix;     /* the state_dict prefix ("layer1.0.conv1") */
    const char *what;       /* the op, block or "sequential" written */
    Span span;              /* the declaration's name (or op when unnamed) */
    Span op_span;
    int ncalls;
    /* INST_OP */
    int op;
    Node proto;             /* the node its calls copy (attributes, params) */
    /* INST_BLOCK, INST_SEQ: the layers inside, in order; by name */
    const Decl *block;
    StrMap *scope;          /* INST_BLOCK: its parameters' values */
    Inst **kids;
    int nkids;
    StrMap byname;
};

/* A value in a forward block. */
typedef enum FvKind { FV_ERROR, FV_CONST, FV_VALUE, FV_TUPLE, FV_VLIST } FvKind;
typedef struct FVal {
    FvKind kind;
    Span span;
    int v;                  /* FV_VALUE: the IR value */
    Value *c;               /* FV_CONST: a number, string, list... */
    int *vs;                /* FV_TUPLE (several results), FV_VLIST ([a, b]) */
    int n;
} FVal;

/* The lowering of one model. */
typedef struct GL {
    Sema *s;
    Graph *g;
    int nlayers;            /* layer indices given so far */
    const Decl *stack[64];  /* blocks being instantiated (recursion) */
    Inst *cur;              /* the block, model or sequential being declared:
                             * `weight = OTHER.weight` names its earlier layers */
    int depth;
} GL;

/* sema_graph.c */
/* Declare layer statement l (prefix: its state_dict prefix) in the current
 * block scope; NULL after errors. */
Inst *gl_declare(GL *gl, const Layer *l, const char *name, const char *prefix);
/* Apply instance in to the values args[0..nargs); at: the call. */
FVal gl_apply(GL *gl, Inst *in, const FVal *args, int nargs, Span at);
/* A node of op reading ins[0..nin), built from the bound slots (a
 * function, an operator, a slice); at: the expression. */
FVal gl_node(GL *gl, int op, const int *ins, int nin, Value **slot, Span at, const char *what);
FVal fv_error(Span at);
FVal fv_value(int v, Span at);
/* A warning given once per source place (a block used twice warns once). */
void gl_warn_once(GL *gl, Span at, const char *fmt, const char *a1, const char *a2);

/* sema_fwd.c: run a forward block whose declared layers are self's kids,
 * with its inputs bound to args; the returned values (one: FV_VALUE,
 * several: FV_TUPLE). */
FVal fwd_run(GL *gl, const Decl *body, Inst *self, const FVal *args, int nargs, Span at);

#endif
