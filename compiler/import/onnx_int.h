/* onnx_int.h — the importer's working state, shared by onnx_lower.c (values,
 * statements, naming, the .nnet and .safetensors it writes) and onnx_ops.c
 * (one translation per ONNX operator, and constant folding).
 *
 * Every ONNX value is either a CONSTANT (an initialiser, a Constant node, or
 * shape arithmetic folded at import) or a RUN-TIME value (a graph input or
 * the result of a statement) whose full shape is known: d[0] is the batch
 * (nnc's implicit dimension), d[1..] one sample's shape. A statement is one
 * layer or function of the .nnet model: a declared layer (with parameters
 * from initialisers, or a pooling layer) or an expression of forward. */
#ifndef NNC_ONNX_INT_H
#define NNC_ONNX_INT_H

#include <stdint.h>

#include "onnx_model.h"
#include "support/strmap.h"

/* IV_VIEW: a run-time value seen through a layout of ONNX's where the batch is
 * not dimension 0 (the time-major tensors around LSTM and GRU, onnx_rnn.c):
 * `base` is the batch-first value nnc computes, `lay` how ONNX's axes map to
 * it, d[] ONNX's shape (0 at the batch's place). IV_ZERO: zeros whose shape
 * d[] holds the batch (-1 there), torch's initial RNN states. Only
 * onnx_rnn.c reads either (imp_rnn refuses them to every other operator). */
enum { IV_CONST = 1, IV_RUN = 2, IV_VIEW = 3, IV_ZERO = 4 };
/* IV_VIEW layouts: ONNX [A, batch, ...] of base [batch, A, ...]; ONNX
 * [T, dirs, batch, H] and [T, batch, dirs, H] of base [batch, T, dirs*H]. */
enum { LAY_TB = 1, LAY_TDBH = 2, LAY_TBDH = 3 };

typedef struct IVal {
    const char *name;           /* the ONNX name */
    int kind;                   /* IV_* */
    OxTensor *c;                /* IV_CONST */
    const char *var;            /* IV_RUN: its name in forward */
    int is_int;                 /* IV_RUN: an `int` input (token indices) */
    int ndim;                   /* IV_RUN: full rank, batch included */
    int64_t d[OX_MAX_DIMS];     /* IV_RUN: d[0] unused (the batch) */
    int stmt;                   /* IV_RUN: the statement making it; -1 for an input */
    int result;                 /* its index among that statement's results */
    int readers;                /* statements (and graph outputs) reading it */
    int base, lay;              /* IV_VIEW: the value it shows, LAY_* */
    int state;                  /* IV_VIEW: LSTM/GRU final states, which a graph output
                                 * may be (as nnc's: the batch first) */
} IVal;

#define IMP_MAX_IN 8
#define IMP_MAX_OUT 8
#define IMP_MAX_PARAMS 8

typedef struct IParam {
    const char *suffix;         /* "weight", "bias", "running_mean", ... */
    int ndim;
    int64_t shape[OX_MAX_DIMS];
    float *data;
    int is_int;                 /* num_batches_tracked */
} IParam;

typedef struct IStmt {
    const char *ctor;           /* a declared layer's constructor ("linear(64, 10)"),
                                 * or NULL for a function of forward */
    const char *fwd;            /* a function's forward expression, $0.. its inputs */
    const char *seq;            /* its statement in a sequence model, NULL if none */
    const char *base;           /* name wanted for the layer (initialiser prefix) or NULL */
    const char *kind;           /* for generated names: "conv", "fc", "bn", "pool" */
    const char *name;           /* the layer's name, chosen when writing */
    int pos;                    /* sequence: its position (pad identities before it) */
    int pad;
    int in[IMP_MAX_IN], nin;    /* IVal indices read */
    int out[IMP_MAX_OUT], nout; /* IVal indices made */
    IParam param[IMP_MAX_PARAMS];
    int nparam;
} IStmt;

typedef struct Imp {
    const OxModel *m;
    const char *path;           /* the .onnx file, for messages */
    IVal *val;
    int nval, capval;
    StrMap byname;              /* ONNX name -> IVal index + 1 (as a pointer) */
    IStmt *st;
    int nst, capst;
    int *consumed;              /* node k folded into an earlier statement */
    int node;                   /* the node being translated */
    int64_t batch0;             /* the first input's batch size when fixed, else -1 */
    char *err;
    size_t errlen;
} Imp;

/* The value called name (NULL if none). */
IVal *imp_val(Imp *c, const char *name);
/* A new constant value name = t (t->name is set to name). */
IVal *imp_const(Imp *c, const char *name, OxTensor *t);
/* A new run-time value name, made by statement st (result r), of full shape d. */
IVal *imp_run(Imp *c, const char *name, int st, int r, int ndim, const int64_t *d);
/* A new statement reading nin values; its outputs are added by imp_run. */
IStmt *imp_stmt(Imp *c);
/* Output name of the current node aliases the value v (Identity, Dropout). */
void imp_alias(Imp *c, const char *name, IVal *v);
/* Records "node 'N' (OP): msg" as the error; returns -1. */
int imp_fail(Imp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new tensor of dtype and shape, zeroed. */
OxTensor *imp_tensor(int dtype, int ndim, const int64_t *dims);

/* 1 when a node or a graph output reads the value name; skip_consumed:
 * nodes taken into an earlier node's layer (onnx_fuse.c) do not count. */
int node_output_read(Imp *c, const char *name, int skip_consumed);
/* LSTM, GRU, ConstantOfShape sized by the batch, and every node reading an
 * IV_VIEW or IV_ZERO value (onnx_rnn.c): 1 when n is one, its translation's
 * result (0, or -1 after imp_fail) in *rc; else 0. */
int imp_rnn(Imp *c, const OxNode *n, int *rc);
/* Translates node c->node (onnx_ops.c). 0, or -1 with c->err set. */
int imp_node(Imp *c, const OxNode *n);

#endif
