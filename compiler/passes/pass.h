/* pass.h — the pass pipeline (a table: ARCHITECTURE.md decision 3) and the
 * memory plan the backends read. */
#ifndef NNC_PASS_H
#define NNC_PASS_H

#include <stdio.h>
#include "../ir/ir.h"

/* Where each value of the inference forward lives. */
typedef struct MemPlan {
    int *root;              /* [node] the node whose buffer holds it (views share), or the
                             * graph input it views (IR_INPUT(k), negative) */
    int y_root;             /* the node written straight to the caller's y (a model with
                             * one output that is a node), else -1 */
    int64_t *offset;        /* [node] offset in floats per sample (x n at run time) */
    int64_t per_sample;     /* arena floats per sample */
    int64_t unplanned;      /* what one buffer per value would take, per sample */
    int64_t fixed_bound;    /* fixed scratch (conv2d im2col of one sample), floats */
} MemPlan;

/* Liveness-based first-fit plan when g->planned (the memplan pass ran):
 * buffers reused once their last reader ran; otherwise every value gets its
 * own buffer (what -O0 does). */
void memplan_inference(const Graph *g, MemPlan *mp);

/* One buffer to place: size floats, live from node `first` to node `last`
 * (inclusive); off is set. */
typedef struct MemBlock {
    int64_t size;
    int first, last;
    int64_t off;
} MemBlock;

/* The planner both plans share (inference values; the training arena's
 * per-sample and fixed parts): with reuse, each block in order at the
 * lowest offset that overlaps no earlier block whose lifetime overlaps
 * its own (first fit); without, one after the other. Blocks of size 0 take
 * no space. Returns the floats the blocks need. */
int64_t memplan_place(MemBlock *b, int n, int reuse);

typedef struct PassCtx {
    Diag *d;
    int verbose;            /* --print-after wants reasons */
    FILE *log;              /* where passes explain themselves (NULL: quiet) */
    int bf16;               /* --dtype bf16: prepack leaves linear weights to bf16-weights */
} PassCtx;

/* A pass returns 1 if it changed the graph. */
typedef int (*PassFn)(Graph *g, PassCtx *cx);

enum {
    PASS_REQUIRED = 1 << 0, /* runs at every -O level */
    PASS_O1 = 1 << 1,       /* runs from -O1 */
    PASS_O2 = 1 << 2,       /* runs at -O2 */
    PASS_TRAIN = 1 << 3,    /* runs on a training graph too */
    PASS_BF16 = 1 << 4,     /* runs exactly when --dtype bf16 (every level; not by --passes) */
};

typedef struct Pass {
    const char *name;
    PassFn fn;
    int flags;
    const char *what;
} Pass;

extern const Pass nnc_passes[];
extern const int nnc_npasses;

typedef struct PipelineOpts {
    int opt_level;              /* 0, 1, 2 */
    const char *only;           /* --passes=a,b,c (NULL: by level) */
    const char *disable;        /* --disable-pass=a,b */
    const char *print_after;    /* --print-after=NAME|all */
    int time_passes;
    int verify;                 /* run the verifier between passes */
    int bf16;                   /* --dtype bf16: linear weights stored as bfloat16 */
    int explain;                /* passes say what they did and why not (as with --print-after) */
    FILE *log;                  /* where --print-after, --time-passes and reasons go (NULL: stderr) */
} PipelineOpts;

/* Runs the pipeline; returns 0, or -1 after a diagnostic (e.g. unknown pass). */
int pipeline_run(Graph *g, const PipelineOpts *o, Diag *d);
/* The same; bit i of *changed_mask (may be NULL) is set when nnc_passes[i]
 * changed the graph. */
int pipeline_run_report(Graph *g, const PipelineOpts *o, Diag *d, unsigned *changed_mask);
/* Checks the IR's invariants; a violation is an internal error naming the pass. */
void ir_verify(const Graph *g, const char *after);

#endif
