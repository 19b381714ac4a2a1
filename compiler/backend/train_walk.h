/* train_walk.h — the training step of a training graph (the autodiff
 * pass's, compiler/passes/autodiff.h) as one walk that both backends
 * follow: the forward in training mode, the loss, the backward by each
 * op's gradient rule with the shares of a value read several times summed,
 * over the buffers of the training plan. The op hooks describe their kernel
 * calls (KCall) and hand them to EmitCtx.sink (NULL: printed as C); the few
 * statements of the step itself are the backend's callbacks. Walking
 * decides everything (which buffer each argument is, which node runs a
 * fused activation, which parameter gradients are zeroed or kept), so the
 * C and LLVM steps make the same calls in the same order. The optimizer
 * update, the plan's last step, is the program's (runtime/prog_train.c). */
#ifndef NNC_TRAIN_WALK_H
#define NNC_TRAIN_WALK_H

#include "../ops/ops.h"
#include "../passes/autodiff.h"

typedef struct TrainWalk TrainWalk;

/* What a backend does at the step's own statements. */
typedef struct TrainWalkOps {
    /* buffer b of the plan is first written here (shape: a value's or its
     * gradient's; NULL: a saved buffer, a share, kept gradients) */
    void (*decl)(TrainWalk *w, int b, const Shape *shape);
    /* a comment line (the C backend's; others ignore it) */
    void (*comment)(TrainWalk *w, const char *text);
    /* the loss of step st: on the output st->node, its gradient into st->dy */
    void (*loss)(TrainWalk *w, const TStep *st);
    /* G's gradient of parameter p: zeroed (no rule writes it); copied into
     * buffer b (save = 1) or added back from it (save = 0) around the
     * backward of a layer's second call */
    void (*zero_param)(TrainWalk *w, int p);
    void (*keep_param)(TrainWalk *w, int p, int b, int save);
    /* buffer dy += buffer dx, per_sample floats per sample: a further
     * reader's share of a gradient */
    void (*acc)(TrainWalk *w, int dy, int dx, int64_t per_sample);
} TrainWalkOps;

struct TrainWalk {
    const Graph *g;         /* the training graph */
    const TrainPlan *tp;
    /* the hooks' context: C expressions of the buffers (printed by the C
     * backend; the others read only which gradients exist) and the sink */
    EmitCtx e;
    int *vb, *db, *sb;      /* [value + 1]: the buffer of its value (TB_INPUT(k) for graph
                             * input k), its gradient, its saved buffer; -1 none */
    int dinb[NNC_MAX_NODE_INPUTS]; /* the backward being walked: input slot k's gradient */
    int *fused;             /* [node] 1: a relu the linear before it runs */
    const char **dname;     /* [value + 1]: the C name of its gradient's buffer (NULL: none) */
    int dover;              /* value + 1 whose gradient the last backward step renamed, 0: none */
    const TrainWalkOps *ops;
    void *ctx;              /* the backend's */
};

/* Set w up for training graph g and its plan tp (P, G, scratch, rng, out
 * and sink of w->e are the caller's to set). */
void train_walk_init(TrainWalk *w, const Graph *g, const TrainPlan *tp, const TrainWalkOps *ops, void *ctx);
/* Walk the step (all but the update). */
void train_walk(TrainWalk *w);
/* The C name of plan buffer b ("t5", "d5", "s5", "e5_12", "p7_13"). */
const char *train_buf_name(const TrainPlan *tp, int b);

#endif
