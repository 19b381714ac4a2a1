/* autodiff.h — a training step as IR: the forward nodes in training mode,
 * the loss, the backward steps derived from each op's gradient rule
 * (op_hooks[].grad, kept with the op in its family file), and the optimizer
 * update; with one memory plan for activations, gradients and saved
 * buffers (parameters, their gradients and the optimizer state are flat
 * blocks that mirror the state_dict). */
#ifndef NNC_AUTODIFF_H
#define NNC_AUTODIFF_H

#include <stdio.h>
#include "../ir/ir.h"

typedef enum TStepKind {
    TS_FORWARD,     /* node: y = op(x...), training semantics */
    TS_LOSS,        /* loss(y_out, targets) and dloss/dy_out */
    TS_BACKWARD,    /* node: dx[k] (and parameter gradients) from dy, x..., y, saved */
    TS_UPDATE,      /* the optimizer over every trainable, unfrozen tensor */
    TS_ACCUM,       /* dy += dx[0]: a further reader's gradient of a value */
} TStepKind;

/* A buffer of the training arena: per_sample floats (x n) + fixed floats. */
typedef struct TBuf {
    char kind;          /* 'v' value, 'd' gradient, 's' saved by a forward for its backward,
                         * 'e' a further reader's share of a gradient (summed by TS_ACCUM),
                         * 'p' the parameter gradients a shared layer's earlier call wrote */
    int node;           /* whose */
    int64_t per_sample, fixed;
    int first, last;    /* steps that write it first and read it last */
    int64_t off_ps, off_fx; /* planned offsets */
} TBuf;

/* A buffer index, -1 none, or TB_INPUT(k): graph input k (no buffer of the plan). */
#define TB_INPUT(k) (-2 - (k))

typedef struct TStep {
    TStepKind kind;
    int node;           /* TS_FORWARD / TS_BACKWARD / TS_LOSS (the output), TS_ACCUM (the value) */
    int nin;
    int x[NNC_MAX_NODE_INPUTS];  /* the inputs' value buffers (or TB_INPUT(k)) */
    int dx[NNC_MAX_NODE_INPUTS]; /* the gradient buffer each input slot's rule writes, -1 none */
    int y, dy, saved;   /* the node's value, its gradient, its saved buffer */
    /* TS_BACKWARD of a layer whose parameters an earlier backward step (another
     * call of the same layer) already wrote: psave[j] holds those gradients of
     * param[j] while this step overwrites them, and is added back after it. */
    int psave[NNC_MAX_NODE_PARAMS];
} TStep;

typedef struct TrainPlan {
    TStep *steps;
    int nsteps;
    TBuf *bufs;
    int nbufs;
    int *vbuf, *dbuf, *sbuf;    /* [node] buffer of its value / gradient / saved, -1 none */
    int64_t per_sample, fixed;  /* planned arena: n * per_sample + fixed (+ conv scratch) */
    char *updated;              /* [param] 1: the update step moves this tensor */
    char *pwritten;             /* [param] 1: some backward step writes its gradient
                                 * (the others are zeroed before the backward) */
    int64_t unplanned_ps, unplanned_fx; /* one buffer each, for comparison */
} TrainPlan;

/* Derive the training step of g (the model as written, a DAG); the layers at
 * the positions freeze[0..nfreeze) keep their parameters. The loss is taken
 * on the first output. A value read by several nodes (or twice by one) gets
 * its gradient from the first rule to run in the backward, and every other
 * reader's share in an 'e' buffer summed into it by a TS_ACCUM step. The
 * buffers are not placed yet: train_memplan does that. */
void autodiff(const Graph *g, const int *freeze, int nfreeze, TrainPlan *tp);
/* Liveness-based first-fit placement of the plan's buffers. */
void train_memplan(TrainPlan *tp, int reuse);
void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out);

#endif
