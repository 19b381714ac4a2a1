/* autodiff.h — the training step as part of the graph: the autodiff pass
 * appends to a model's Graph the loss, the backward nodes (each forward
 * node's gradient rule, op_hooks[].grad, kept with the op in its family
 * file), the sums of the gradients of values read several times and the
 * optimizer update (ops of the train family, compiler/ops/train.c). The
 * training memory plan is derived from those nodes: one buffer per value,
 * gradient and saved buffer, placed by liveness (parameters, their
 * gradients and the optimizer state are flat blocks that mirror the
 * state_dict). */
#ifndef NNC_AUTODIFF_H
#define NNC_AUTODIFF_H

#include <stdio.h>
#include "../ir/ir.h"
#include "pass.h"

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
    int node;           /* whose (a forward node) */
    int64_t per_sample, fixed;
    int first, last;    /* nodes that write it first and read it last */
    int64_t off_ps, off_fx; /* planned offsets */
} TBuf;

/* A buffer index, -1 none, or TB_INPUT(k): graph input k (no buffer of the plan). */
#define TB_INPUT(k) (-2 - (k))

/* One step: a node of the training graph that computes (grad_input nodes
 * are results of their backward step and no step of their own). */
typedef struct TStep {
    TStepKind kind;
    int node;           /* TS_FORWARD / TS_BACKWARD: the forward node; TS_LOSS: the output;
                         * TS_ACCUM: the value whose gradient it sums */
    int gnode;          /* the node of the training graph this step is */
    int nin;
    int x[NNC_MAX_NODE_INPUTS];  /* the inputs' value buffers (or TB_INPUT(k)) */
    int dx[NNC_MAX_NODE_INPUTS]; /* the gradient buffer each input slot's rule writes, -1 none */
    int y, dy, saved;   /* the node's value, its gradient, its saved buffer */
    /* TS_BACKWARD of a layer whose parameters an earlier backward step (another
     * call of the same layer) already wrote: psave[j] holds those gradients of
     * param[j] while this step overwrites them, and is added back after it. */
    int psave[NNC_MAX_NODE_PARAMS];
} TStep;

/* The plan: a pure view of a training graph, computed from its nodes alone
 * by train_plan (never stored beside the graph; the IR text prints it only
 * as comments, and reading the text back recomputes it). */
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
    const char *error;          /* train_plan failed: why */
} TrainPlan;

/* The pass: appends the training step to g (a model's forward graph, a
 * DAG, whose frozen parameters are marked). The loss is taken on the
 * first output. A value read by several nodes (or twice by one) gets the
 * share of the last reader as its gradient and every other share summed
 * into it by an accum node. 1 when it appended (0: g is a training graph
 * already). */
int pass_autodiff(Graph *g, PassCtx *cx);
/* 1 when g holds training steps (the autodiff pass ran). */
int ir_is_training(const Graph *g);
/* A training graph of model g: a copy whose parameters of the layers at
 * positions freeze[0..nfreeze) are frozen, through the autodiff and
 * fuse-act passes; planned: its arena reuses buffers by liveness. */
Graph *train_graph(const Graph *g, const int *freeze, int nfreeze, int planned);
/* The steps and buffers of training graph g, placed by the memory planner
 * (memplan_place; reusing space when g->planned). 0, or -1 with tp->error
 * set when g's training nodes are not the ones the autodiff pass makes (IR
 * text written by hand): a backward that reads another gradient than its
 * node's, a sum of gradients nothing computes. */
int train_plan(const Graph *g, TrainPlan *tp);
/* "# training step of NAME: ..." and one comment line per buffer. */
void train_plan_print(const Graph *g, const TrainPlan *tp, FILE *out);

#endif
