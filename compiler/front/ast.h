/* ast.h — the syntax tree the bison grammar builds (grammar/nnet.y).
 *
 * Grammar actions only call the ast_* builders below; sema.c walks the tree.
 * Every node carries the Span of its first token. Nodes live until exit. */
#ifndef NNC_AST_H
#define NNC_AST_H

#include <stdint.h>
#include "../support/diag.h"

typedef enum ExprKind {
    EX_INT,     /* ival */
    EX_REAL,    /* rval */
    EX_STRING,  /* sval (escapes already decoded) */
    EX_BOOL,    /* ival: 0 or 1 */
    EX_IDENT,   /* name */
    EX_CALL,    /* name ( args ) */
    EX_LIST,    /* [ items ] */
    EX_BINOP,   /* lhs op rhs, op one of '+', '-', '*', '/' */
    EX_NEG,     /* - lhs */
    EX_ATTR,    /* lhs . name (a layer's parameter: wte.weight) */
} ExprKind;

typedef struct Expr Expr;
typedef struct Arg Arg;

struct Arg {
    const char *name;   /* keyword, or NULL for a positional argument */
    Span name_span;     /* span of the keyword (== value span when positional) */
    Expr *value;
    Arg *next;
    Arg *tail;          /* on the head of a list: its last element */
};

struct Expr {
    ExprKind kind;
    Span span;
    int op;             /* EX_BINOP: '+', '-', '*', '/' or '@' */
    /* The fields of one kind share memory with those of the others, and a
     * node is allocated only as large as its kind needs (ast_expr_size):
     * a number or a name is 32 bytes, an operator, a call or an attribute
     * 48, a list 64 (a file of 10^6 lets has 3 * 10^6 of them). Read only
     * the fields of e->kind; never copy an Expr by value. */
    union {
        struct {
            union {
                int64_t ival;       /* EX_INT, EX_BOOL */
                double rval;        /* EX_REAL */
                const char *sval;   /* EX_STRING (escapes decoded) */
                const char *name;   /* EX_IDENT, EX_CALL, EX_ATTR */
                Expr *next_free;    /* ast.c: a number node kept for reuse */
            };
            union {
                struct {
                    Expr *lhs, *rhs; /* EX_BINOP, EX_NEG and EX_ATTR (lhs only) */
                };
                struct {            /* EX_CALL */
                    Arg *args;
                    int nargs;
                };
            };
        };
        struct {        /* EX_LIST */
            Expr **items; /* NULL when flat */
            /* A flat EX_LIST: AST_FLAT_MIN or more plain numbers (INT, REAL,
             * or one of them negated) are kept as nitems floats (the signed
             * value: a list that long is a tensor literal, whose values are
             * float32 anyway; an integer only while a float holds it
             * exactly, |n| <= 2^24) and 2 bits of flags each (AST_NUM_INT,
             * AST_NUM_NEG), not as a node per number: a weight literal of
             * 10^7 numbers costs about 4 bytes a number. The floats of one
             * parse's flat lists are one array, in source order (the rows of
             * a literal are one block); nums is set when the parse ends
             * (numflags, non-NULL, marks a flat list while parsing). */
            float *nums;
            unsigned char *numflags;
            int64_t numoff; /* while parsing: where nums will be in that array */
            int nitems;
        };
    };
};

#define AST_FLAT_MIN 16
enum { AST_NUM_INT = 1, AST_NUM_NEG = 2 };
/* The flags of number i of a flat list. */
static inline int ast_num_flags(const Expr *list, int i)
{
    return (list->numflags[i >> 2] >> ((i & 3) * 2)) & 3;
}

typedef struct Layer Layer;
struct Layer {
    const char *label;  /* "fc" in fc = linear(...), else NULL */
    Span label_span;
    const char *op;     /* layer name as written: "linear", "relu", ... */
    Span op_span;
    int has_parens;
    Arg *args;
    int nargs;
    Layer *next;
    Layer *tail;        /* on the head of a list: its last element */
};

typedef struct TrainItem TrainItem;
struct TrainItem {
    const char *key;
    Span key_span;
    Expr *value;
    TrainItem *next;
    TrainItem *tail;    /* on the head of a list: its last element */
};

/* input [NAME] [shape] [int] (LANGUAGE.md §7): a model's input has a
 * shape, a block's has none (the caller's value gives it). */
typedef struct Input Input;
struct Input {
    const char *name;   /* NULL: unnamed (a version-1 model) */
    Span span;          /* the 'input' keyword */
    Span name_span;
    Expr **dims;        /* the shape, ndims exprs; NULL when not written */
    int ndims, has_shape;
    Span shape_span;
    int is_int;
    Input *next;
    Input *tail;        /* on the head of a list: its last element */
};

/* A block parameter: NAME [= default]. */
typedef struct BlockParam BlockParam;
struct BlockParam {
    const char *name;
    Span span;
    Expr *dflt;         /* NULL: required */
    BlockParam *next;
    BlockParam *tail;
};

/* A statement of a forward block: names = expr, or return exprs. */
typedef enum StmtKind { ST_ASSIGN, ST_RETURN } StmtKind;
typedef struct Stmt Stmt;
struct Stmt {
    StmtKind kind;
    Span span;          /* the first name, or 'return' */
    const char **names; /* ST_ASSIGN: the targets */
    Span *name_spans;
    int nnames;
    Expr **exprs;       /* ST_ASSIGN: exprs[0]; ST_RETURN: the values returned */
    int nexprs;
    Stmt *next;
    Stmt *tail;
};

typedef enum DeclKind { DECL_LET, DECL_MODEL, DECL_TRAIN, DECL_BLOCK } DeclKind;

typedef struct Decl Decl;
struct Decl {
    DeclKind kind;
    Span span;          /* the keyword */
    const char *name;
    Span name_span;
    Decl *next;
    union {
        Expr *value;        /* DECL_LET */
        TrainItem *items;   /* DECL_TRAIN, in order */
    };
    /* DECL_MODEL and DECL_BLOCK only: a let or a train node is allocated
     * without the fields below (ast_decl_size; a file of 10^6 lets has
     * 10^6 of them). */
    Expr **input;       /* DECL_MODEL: the first input's shape, ninput exprs */
    int ninput;
    Span input_span;
    Input *inputs;      /* DECL_MODEL, DECL_BLOCK: every input statement */
    int ninputs;
    Layer *layers;      /* DECL_MODEL, DECL_BLOCK, in order */
    int nlayers;
    int has_forward;    /* a forward block: the layers are declarations */
    Span forward_span;
    Stmt *stmts;        /* the forward block's statements */
    BlockParam *params; /* DECL_BLOCK */
    int nparams;
};

typedef struct Ast {
    Decl *decls;        /* in source order */
    Decl *last;
} Ast;

/* Builders used by the grammar actions. Lists are built by appending
 * (in O(1): the head keeps the tail). */
/* Before a parse: forget the nodes kept for reuse by an earlier one (their
 * memory may be gone, as in the fuzzer, which frees after every input). */
void ast_begin(void);
/* Bytes of a node of that kind (its fields and those before them). */
size_t ast_expr_size(ExprKind kind);
/* After a parse (failed or not): the flat lists get their Expr.nums. */
void ast_end(void);
Expr *ast_int(Span sp, int64_t v);
Expr *ast_real(Span sp, double v);
Expr *ast_string(Span sp, const char *s);
Expr *ast_bool(Span sp, int v);
Expr *ast_ident(Span sp, const char *name);
Expr *ast_call(Span sp, const char *name, Arg *args);
Expr *ast_list(Span sp);
void  ast_list_push(Expr *list, Expr *item);
/* A node per item again (for the few readers that want one). */
void  ast_list_unflatten(Expr *list);
Expr *ast_binop(Span sp, int op, Expr *lhs, Expr *rhs);
Expr *ast_neg(Span sp, Expr *e);
Arg  *ast_arg(Span name_span, const char *name, Expr *value);
Arg  *ast_args_append(Arg *list, Arg *a);      /* returns the head */
Layer *ast_layer(Span label_span, const char *label, Span op_span, const char *op,
                 int has_parens, Arg *args);
Decl *ast_let(Span sp, Span name_span, const char *name, Expr *value);
/* A model or block body: its inputs, layers and forward (stmts; has_fwd). */
typedef struct Body {
    Input *inputs;
    Layer *layers;
    int has_forward;
    Span forward_span;
    Stmt *stmts;
} Body;
Decl *ast_model(Span sp, Span name_span, const char *name, Body body);
Decl *ast_block(Span sp, Span name_span, const char *name, BlockParam *params, Body body);
Input *ast_input(Span sp, const char *name, Span name_span, Expr *shape_list, int is_int);
Input *ast_inputs_append(Input *list, Input *in);
BlockParam *ast_params_append(BlockParam *list, Span sp, const char *name, Expr *dflt);
Expr *ast_attr(Span sp, Expr *obj, const char *name);
/* names = expr (names: a list of n idents built with ast_names_push). */
Stmt *ast_assign(Span sp, Stmt *names, Expr *value);
Stmt *ast_names_push(Stmt *names, Span sp, const char *name);
Stmt *ast_return(Span sp, Stmt *exprs);
Stmt *ast_exprs_push(Stmt *exprs, Expr *e);
Stmt *ast_stmts_append(Stmt *list, Stmt *st);
Layer *ast_layers_append(Layer *list, Layer *l);
Decl *ast_train(Span sp, Span name_span, const char *name, TrainItem *items);
TrainItem *ast_items_append(TrainItem *list, Span key_span, const char *key, Expr *v);
void  ast_push_decl(Ast *ast, Decl *d);

/* Parse a whole source file. Syntax errors go to diag; returns 0 on success.
 * On a syntax error the parser stops at the first error of that file (the
 * checks after parsing are what accumulate several errors). */
int nnc_parse(const SrcFile *src, Diag *diag, Ast *out);

/* Print the tree in a stable S-expression form (for parser golden tests). */
void ast_dump(const Ast *ast, void *FILE_stream);

#endif
