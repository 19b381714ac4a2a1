/* ir.h — the typed tensor graph every pass and backend works on.
 *
 * A Graph is a list of Nodes in topological order; v1 models are chains, so
 * each node has one input (the previous value; -1 is the model input). Each
 * node carries its output shape for ONE sample (the batch is implicit and
 * chosen at run time), its attributes, the parameters it reads (indices into
 * Graph.params, in state_dict order) and the source span it came from.
 *
 * Per-op behaviour lives in compiler/ops/<family>.c and is reached through
 * op_info[] built from ops.def. */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "../support/diag.h"

typedef enum Op {
#define OP(id, name, fam, flags) OP_##id,
#include "ops.def"
#undef OP
    OP__COUNT
} Op;

enum {
    OPF_PARAMS = 1 << 0,
    OPF_ACT = 1 << 1,
    OPF_NOOP_INF = 1 << 2,
    OPF_LINEARISH = 1 << 3,
};

#define NNC_MAX_DIMS 4

/* Per-sample shape: d[0..ndim-1]; e.g. [784] or [1, 28, 28]. */
typedef struct Shape {
    int ndim;
    int64_t d[NNC_MAX_DIMS];
} Shape;

int64_t shape_numel(const Shape *s);
/* "[1, 28, 28]" into buf. */
const char *shape_str(const Shape *s, char *buf, size_t len);

/* Default initialisation of a parameter tensor. */
typedef enum InitKind {
    INIT_UNIFORM = 0,   /* U(-bound, bound), PyTorch's Linear/Conv2d default */
    INIT_ONES,
    INIT_ZEROS,
} InitKind;

/* One tensor of the state_dict. kind is an nnr_tensor_kind. */
typedef struct Param {
    const char *name;       /* "fc.weight", "0.bias" */
    int ndim;
    int64_t shape[NNC_MAX_DIMS];
    int64_t numel;
    int kind;               /* NNR_T_PARAM / NNR_T_BUFFER / NNR_T_COUNTER */
    InitKind init;
    float bound;            /* INIT_UNIFORM */
    float *data;            /* known value (literal or --weights), else NULL */
    int literal;            /* data came from a literal in the model */
    int layer;              /* layer statement position */
    const char *layer_name; /* label, or the position as text */
    int64_t offset;         /* in the state block, set by ir_layout_params */
} Param;

/* Up to this many parameter slots per node (batch-norm: gamma, beta,
 * running_mean, running_var, num_batches_tracked). */
#define NNC_MAX_NODE_PARAMS 5

typedef struct Node {
    Op op;
    int input;              /* producing node, or -1 for the model input */
    Shape shape;            /* output, one sample */
    /* attributes (which are meaningful depends on op) */
    int64_t in_f, out_f;    /* linear features; conv/bn channels */
    int64_t kh, kw, sh, sw, ph, pw;
    int has_bias;
    int dim;                /* softmax: axis within a sample (0-based) */
    double alpha;           /* leaky_relu slope, dropout p, batchnorm eps */
    double momentum;        /* batchnorm */
    int param[NNC_MAX_NODE_PARAMS]; /* indices into Graph.params, -1 unused */
    int nparam;
    /* fused epilogue (fuse-act): an OPF_ACT op applied to this node's output */
    int fused_act;          /* Op of the activation, or -1 */
    double fused_alpha;
    /* provenance */
    Span span;
    int layer;              /* layer statement position, -1 if none */
    const char *label;      /* layer label, or NULL */
    int dead;               /* removed by a pass; skipped everywhere */
} Node;

typedef struct Graph {
    const char *name;       /* model name */
    const char *file;       /* source path */
    Shape input;
    Node *nodes;
    int nnodes, capnodes;
    Param *params;
    int nparams, capparams;
    int64_t state_size;     /* floats, after ir_layout_params */
    int planned;            /* memplan ran: activation buffers are reused */
} Graph;

/* A deep copy (nodes and parameter list; parameter data is shared). */
Graph *ir_clone(const Graph *g);

typedef struct OpInfo {
    const char *name;
    int flags;
} OpInfo;
extern const OpInfo op_info[OP__COUNT];

/* Look up an op by its layer name; -1 if unknown. */
int op_lookup(const char *name);

Graph *ir_new_graph(const char *name, const char *file);
int ir_add_node(Graph *g, Op op);   /* zeroed node, input = previous, params -1 */
int ir_add_param(Graph *g, const Param *p);
/* Output index of the graph: the last live node (or -1: the input itself). */
int ir_output(const Graph *g);
/* Shape of a value (node index, -1 for the input). */
const Shape *ir_value_shape(const Graph *g, int v);
/* Assign state-block offsets to params in order; sets g->state_size. */
void ir_layout_params(Graph *g);
/* Number of live nodes with op. */
int ir_count_op(const Graph *g, Op op);
/* Text form: one node per line (op, input, attributes, output shape). */
void ir_print(const Graph *g, FILE *out);
/* Fill a state block with the known values and the default initialisation
 * drawn from seed (the same sequence as the emitted init()). */
void ir_init_state(const Graph *g, uint64_t seed, float *state);

#endif
