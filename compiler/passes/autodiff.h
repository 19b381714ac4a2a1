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
    TS_FORWARD,     /* node: y = op(x), training semantics */
    TS_LOSS,        /* loss(y_out, targets) and dloss/dy_out */
    TS_BACKWARD,    /* node: dx (and parameter gradients) from dy, x, y, saved */
    TS_UPDATE,      /* the optimizer over every trainable, unfrozen tensor */
} TStepKind;

/* A buffer of the training arena: per_sample floats (x n) + fixed floats. */
typedef struct TBuf {
    char kind;          /* 'v' value, 'd' gradient, 's' saved by a forward for its backward */
    int node;           /* whose */
    int64_t per_sample, fixed;
    int first, last;    /* steps that write it first and read it last */
    int64_t off_ps, off_fx; /* planned offsets */
} TBuf;

typedef struct TStep {
    TStepKind kind;
    int node;           /* TS_FORWARD / TS_BACKWARD */
    int x, y, dx, dy, saved; /* buffer indices; -1 none; x == -2: the model input */
} TStep;

typedef struct TrainPlan {
    TStep *steps;
    int nsteps;
    TBuf *bufs;
    int nbufs;
    int *vbuf, *dbuf, *sbuf;    /* [node] buffer of its value / gradient / saved, -1 none */
    int64_t per_sample, fixed;  /* planned arena: n * per_sample + fixed (+ conv scratch) */
    char *updated;              /* [param] 1: the update step moves this tensor */
    int64_t unplanned_ps, unplanned_fx; /* one buffer each, for comparison */
} TrainPlan;

/* Derive the training step of g (the model as written); the layers at the
 * positions freeze[0..nfreeze) keep their parameters. The buffers are not
 * placed yet: train_memplan does that. */
void autodiff(const Graph *g, const int *freeze, int nfreeze, TrainPlan *tp);
/* Liveness-based first-fit placement of the plan's buffers. */
void train_memplan(TrainPlan *tp, int reuse);
void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out);

#endif
