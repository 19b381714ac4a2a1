/* sema.h — checking a parsed file: let evaluation, name resolution, layer
 * arguments, shapes; lowering each model to an IR Graph and each train
 * block to a TrainCfg. All user errors go through Diag. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include "ast.h"
#include "../ir/ir.h"

/* V_VALUE: a graph value of a forward block (i: its IR value), given to an
 * op's AT_VALUE slot; a V_LIST of them fills an AT_VALUES slot. */
typedef enum ValueKind { V_INT, V_REAL, V_STR, V_BOOL, V_LIST, V_CALL, V_ERROR, V_VALUE } ValueKind;

typedef struct Value Value;
typedef struct ValueArg {
    const char *name;   /* keyword or NULL */
    Span name_span;
    Value *v;
} ValueArg;

/* An evaluated expression. V_ERROR: an error was already reported. */
struct Value {
    ValueKind kind;
    int inexact;        /* V_REAL from an integer '/' that did not divide exactly:
                           fine as a number (lr = 1 / 2), an error as a size */
    Span span;
    /* The fields of one kind share memory with the others' (a Value is 56
     * bytes, not 104: a file of 10^6 lets keeps one per line); read only
     * those of v->kind. */
    union {
        int64_t i;      /* V_INT, V_BOOL, V_VALUE */
        double r;       /* V_REAL */
        const char *s;  /* V_STR */
        struct {        /* V_LIST */
            Value **items;  /* NULL when flat: */
            const float *nums;  /* a flat V_LIST of n numbers (a long literal, */
            const unsigned char *numflags; /* see Expr.nums): sema_list_item() */
            int n;
        };
        struct {        /* V_CALL */
            const char *fn; /* sgd(...), csv(...) */
            ValueArg *args;
            int nargs;
        };
    };
};

/* A data source of a train block. */
typedef struct DataSrc {
    int kind;           /* nnr_data_kind */
    const char *path, *path2;
    int label, has_label, targets, header;
    double scale;
    int context;        /* text(path, context) */
    Span span;
} DataSrc;

/* A train block, with defaults applied. */
typedef struct TrainCfg {
    int present;
    const char *model;
    DataSrc data, validation;
    int loss;           /* nnr_loss */
    int has_loss;
    int optim;          /* nnr_optim_kind */
    int has_optim;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    int nesterov;
    int64_t epochs, batch;
    int shuffle;
    uint64_t seed;
    const char *init;
    int strict;
    const char *save, *log;
    int *freeze;        /* layer positions */
    int nfreeze;
    /* LANGUAGE.md §10 (zero: not given) */
    const char *schedule;       /* the schedule as text nnr_parse_schedule accepts */
    double clip_grad_norm, label_smoothing;
    int64_t early_stopping;
    const char *checkpoint;
} TrainCfg;

typedef struct Program {
    Graph **models;
    int nmodels;
    TrainCfg *trains;   /* one per model, present = 0 when none */
} Program;

/* Check the whole file; lower every model. base_dir resolves relative paths
 * written in the file. Returns 0 when there were no errors. */
int sema_check(const Ast *ast, const SrcFile *src, const char *base_dir, Diag *d,
               Program *out);

/* Item i of list v, flat or not (a flat list's item is made on demand). */
const Value *sema_list_item(const Value *v, int i);

/* The layer argument schemas the op families declare (ArgSpec, ArgType). */
#include "../ops/opargs.h"

#endif
