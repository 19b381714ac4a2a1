/* ir.h — the typed tensor graph every pass and backend works on.
 *
 * A Graph is a DAG: a list of Nodes in topological order (a node reads only
 * values defined before it). A VALUE is named by an int: v >= 0 is the
 * value node v computes, v < 0 is graph input IR_INPUT(k) = -1 - k (the
 * first input, -1, prints as %in; input k as %in<k>). A node reads nin
 * values (Node.in[]); a value may have any number of readers; the graph's
 * results are Graph.outputs[] (several allowed), and only what they need is
 * live (dce removes the rest). A version-1 model lowers to one such graph:
 * one input, each layer reading the layer before, one output.
 *
 * Several results: every value stays one node index with one shape. split
 * and chunk lower to one `slice` node per piece; an op with several results
 * of its own (lstm: out, h, c) is one node whose value packs them, read by
 * view nodes that expose each.
 *
 * A layer called twice (a declared layer of a `forward` model) is two nodes
 * with the same Node.param indices: they share the tensors, and the
 * training step sums both nodes' parameter gradients.
 *
 * Each node carries its output shape for ONE sample (the batch is implicit
 * and chosen at run time), its attributes, the parameters it reads (indices
 * into Graph.params, in state_dict order) and the source span it came from.
 *
 * Per-op behaviour lives in compiler/ops/<family>.c and is reached through
 * op_info[] built from ops.def. */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "../support/diag.h"

typedef enum Op {
#define OP(id, name, fam, nin, flags) OP_##id,
#include "ops.def"
#undef OP
    OP__COUNT
} Op;

enum {
    OPF_PARAMS = 1 << 0,
    OPF_ACT = 1 << 1,
    OPF_NOOP_INF = 1 << 2,
    OPF_VIEW = 1 << 4,
    OPF_EPILOGUE = 1 << 3,
    OPF_TRAIN = 1 << 5,
    OPF_RESIDUAL = 1 << 6,
};

#define NNC_MAX_DIMS 4
/* Values a node reads; inputs and outputs of a graph. */
#define NNC_MAX_NODE_INPUTS 8
#define NNC_MAX_GRAPH_IO 8
/* Value of graph input k (0-based); ir_input_index inverts it. */
#define IR_INPUT(k) (-1 - (k))
#define ir_input_index(v) (-1 - (v))

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
    INIT_NORMAL,        /* N(0, bound²), PyTorch's Embedding default (bound = 1) */
} InitKind;

/* One tensor of the state_dict. kind is an nnr_tensor_kind. */
typedef struct Param {
    const char *name;       /* "fc.weight", "0.bias" */
    int ndim;
    int64_t shape[NNC_MAX_DIMS];
    int64_t numel;
    int kind;               /* NNR_T_PARAM / NNR_T_BUFFER / NNR_T_COUNTER */
    InitKind init;
    float bound;            /* INIT_UNIFORM; INIT_NORMAL: the standard deviation */
    int64_t pad_row;        /* k > 0: row k - 1 (of shape[0]) starts at zero after the
                             * draw (an embedding's padding_idx); 0: none */
    float *data;            /* known value (literal or --weights), else NULL */
    int literal;            /* data came from a literal in the model */
    int layer;              /* layer statement position */
    const char *layer_name; /* label, or the position as text (derived: "0,1,2") */
    int64_t offset;         /* in the state block, set by ir_layout_params (derived: -1) */
    int fold;               /* 0: a tensor of the state block; k > 0: derived
                             * for inference by Graph.folds[k - 1] */
    int64_t ioffset;        /* in the inference block, set by ir_layout_infer;
                             * -1 when no live inference node (or fold) reads it */
    int frozen;             /* the train block freezes it: the update leaves it
                             * (set for the autodiff pass; printed " frozen") */
} Param;

/* How an inference-only parameter pair (weight, bias) is derived from other
 * parameters (state tensors or earlier derived ones). The recipe is evaluated
 * by the runtime's nnr_fold_*_f32 functions: at compile time when the state
 * is known, and in the emitted prepare() when it arrives at run time. */
typedef enum FoldKind {
    FOLD_LINEAR = 0,        /* a chain of n linear layers: W = Wn..W1, b = Wn(..b1..) + bn */
    FOLD_BN,                /* linear/conv2d then batch-norm: W = s*W, b = s*(b - mean) + beta */
    FOLD_PACK,              /* a linear weight [rows = out, cols = in] in the GEMM's panel
                             * layout (nnr_pack_linear_weight_f32); no bias */
    FOLD_PACK_BF16,         /* the same rounded to bf16, two per float of storage
                             * (nnr_pack_linear_weight_bf16; --dtype bf16) */
    FOLD_PACK_CONV,         /* a conv2d weight [rows = out channels, cols = c·kh·kw] in the
                             * direct kernel's layout (nnr_pack_conv_weight_f32); no bias */
    FOLD_PACK_CONV_PANEL,   /* a conv2d weight as FOLD_PACK_CONV's, made the GEMM's panels
                             * followed by itself (nnr_pack_conv_panel_f32); no bias */
} FoldKind;

#define NNC_MAX_FOLD_CHAIN 64

typedef struct Fold {
    FoldKind kind;
    int n;                  /* FOLD_LINEAR: layers in the chain; FOLD_BN: 1 */
    int w[NNC_MAX_FOLD_CHAIN];   /* weight of each layer (param index) */
    int b[NNC_MAX_FOLD_CHAIN];   /* its bias, -1: none */
    int64_t dims[NNC_MAX_FOLD_CHAIN + 1]; /* FOLD_LINEAR: in, out1, ..., outn */
    int bn[4];              /* FOLD_BN: gamma, beta, running_mean, running_var */
    double eps;             /* FOLD_BN */
    int64_t rows, cols;     /* FOLD_BN: output channels, floats of weight per channel;
                             * FOLD_PACK, FOLD_PACK_BF16: out, in;
                             * FOLD_PACK_CONV(_PANEL): out channels, c·kh·kw */
    int out_w, out_b;       /* the derived params (out_b -1: no bias) */
} Fold;

/* A second state_dict name of a parameter (weight tying, LANGUAGE.md §8:
 * `lm_head = linear(64, 256, bias = false, weight = wte.weight)`): the
 * tied layer's nodes read the owner's parameter index, so there is one
 * tensor (one place in the state block, its gradient summed over every
 * node that reads it, updated once); the tie only names it again where
 * the tied layer's tensor would be in the state_dict. */
typedef struct Tie {
    const char *name;       /* "lm_head.weight" */
    int param;              /* the owner: index into Graph.params ("wte.weight") */
    int before;             /* its state_dict place: just before Graph.params[before]
                             * (nparams or past the state tensors: after the last) */
    int layer;              /* the tied layer's statement position (-1: unknown);
                             * freezing it freezes the shared tensor, as in PyTorch */
    const char *layer_name; /* its label ("lm_head") */
} Tie;

/* Up to this many parameter slots per node (batch-norm: gamma, beta,
 * running_mean, running_var, num_batches_tracked; an LSTM: four per layer
 * and direction). */
#define NNC_MAX_NODE_PARAMS 32

/* Numeric attributes of an op from its ATTR rows in ops.def. */
#define NNC_MAX_NODE_ATTRS 8
typedef struct OpAttr {
    const char *name;       /* PyTorch's name; NULL past the op's last */
    double dflt;            /* PyTorch's default */
} OpAttr;
extern const OpAttr op_attr[OP__COUNT][NNC_MAX_NODE_ATTRS];
/* How many ATTR rows op has. */
int op_nattr(int op);

/* The attributes of a node, one struct per op family, under PyTorch's
 * names (Node's union: which member holds them depends on the op). The
 * ATTR rows of ops.def are Node.attr[k]; a family with ATTR rows and
 * attributes of its own (pool's ceil_mode, a reduction's keepdim) lists
 * those rows first, as doubles, so that attr[k] and the named member are
 * the same storage (static asserts in ir.c). */

/* The first members every weight layer (linear, conv*) shares: code that
 * serves them all reads Node.weight (C11 6.5.2.3: a common initial
 * sequence of the union's structs). */
typedef struct WeightAttrs {
    int64_t in, out;        /* in/out features or channels */
    int bias;
} WeightAttrs;

typedef struct LinearAttrs {       /* linear */
    int64_t in_features, out_features;
    int bias;
} LinearAttrs;

typedef struct ConvAttrs {         /* conv1d, conv2d, conv_transpose2d */
    int64_t in_channels, out_channels;
    int bias;
    /* [h, w]; conv1d: [1, k] with stride [1, s] and padding [0, p] */
    int64_t kernel_size[2], stride[2], padding[2];
    int64_t dilation[2];    /* 1 unless set */
    int64_t groups;         /* 1 unless set */
    int64_t output_padding[2]; /* conv_transpose2d */
} ConvAttrs;

typedef struct PoolAttrs {         /* maxpool*, avgpool* (1-d as conv1d) */
    double ceil_mode;       /* ATTR row 0 */
    int64_t kernel_size[2], stride[2], padding[2];
} PoolAttrs;

typedef struct AdaptivePoolAttrs { /* adaptive_avg_pool2d */
    int64_t output_size[2];
} AdaptivePoolAttrs;

enum { UP_NEAREST = 0, UP_LINEAR = 1, UP_BILINEAR = 2 };
typedef struct UpsampleAttrs {     /* upsample */
    double scale_factor[2]; /* per spatial dimension */
    int mode;               /* UP_*: PyTorch's "nearest", "linear", "bilinear" */
    int align_corners;      /* linear modes */
} UpsampleAttrs;

typedef struct BatchNormAttrs {    /* batchnorm1d, batchnorm2d */
    int64_t num_features;
    double eps, momentum;
} BatchNormAttrs;

typedef struct LayerNormAttrs {    /* layernorm */
    int ndim;               /* rank of normalized_shape (the last dims) */
    int64_t normalized_shape[NNC_MAX_DIMS];
    double eps;
    int elementwise_affine; /* weight, and bias if bias */
    int bias;
} LayerNormAttrs;

typedef struct DropoutAttrs {      /* dropout */
    double p;               /* the probability of a zero */
} DropoutAttrs;

typedef struct SoftmaxAttrs {      /* softmax, log_softmax */
    int dim;                /* PyTorch's dim (batch = 0), positive once resolved */
    int axis;               /* that dim as an axis of one sample (0-based) */
} SoftmaxAttrs;

typedef struct ReduceAttrs {       /* mean, sum, amax, amin */
    double keepdim;         /* ATTR row 0 */
    int dims;               /* the dims as a bit set (compiler/ops/reduce.c) */
} ReduceAttrs;

typedef struct PermuteAttrs {      /* permute */
    double dims[NNC_MAX_NODE_ATTRS]; /* after the batch's, PyTorch numbering */
    int ndims;              /* how many */
} PermuteAttrs;

/* Families whose attributes are all ATTR rows, named: the rows in order. */
typedef struct EmbeddingAttrs {    /* embedding */
    double num_embeddings, embedding_dim, padding_idx;
} EmbeddingAttrs;

typedef struct RnnAttrs {          /* lstm, gru */
    double input_size, hidden_size, num_layers, bias, dropout, bidirectional;
} RnnAttrs;

typedef struct MhaAttrs {          /* multihead_attention */
    double embed_dim, num_heads, bias, is_causal;
} MhaAttrs;

typedef struct Node {
    Op op;
    int in[NNC_MAX_NODE_INPUTS]; /* values read (node index, or IR_INPUT(k)) */
    int nin;                /* how many: op_info[op].nin */
    Shape shape;            /* output, one sample */
    union {                 /* the attributes, by op family (see above) */
        double attr[NNC_MAX_NODE_ATTRS]; /* the op's ATTR rows of ops.def, by position
                                          * (leaky_relu: negative_slope) */
        WeightAttrs weight;
        LinearAttrs linear;
        ConvAttrs conv;
        PoolAttrs pool;
        AdaptivePoolAttrs adaptive;
        UpsampleAttrs upsample;
        BatchNormAttrs batchnorm;
        LayerNormAttrs layernorm;
        DropoutAttrs dropout;
        SoftmaxAttrs softmax;
        ReduceAttrs reduce;
        PermuteAttrs permute;
        EmbeddingAttrs embedding;
        RnnAttrs rnn;
        MhaAttrs mha;
    };
    int *param;             /* nparam indices into Graph.params (graph-owned storage
                             * for capparam: ir_param_push, ir_param_reserve) */
    int nparam, capparam;
    /* fused epilogue (fuse-act): an OPF_ACT op applied to this node's output */
    int fused_act;          /* Op of the activation, or -1 */
    double fused_param;     /* attr[0] of the fused activation (leaky_relu's slope) */
    int packed;             /* prepack: weight laid out for the kernel: 1 [out, in] as
                             * PyTorch's (printed packed=oi), 2 param[0] is a FOLD_PACK
                             * of it (linear; printed packed=panel), 3 param[0] is a
                             * FOLD_PACK_BF16 of it (linear, --dtype bf16; packed=bf16),
                             * 4 param[0] is a FOLD_PACK_CONV of it (conv2d on the direct
                             * kernel; packed=direct), 5 param[0] is a FOLD_PACK_CONV_PANEL
                             * of it (conv2d whose batch of one runs as the transposed
                             * GEMM; packed=oi+panel). A conv2d reading two values (fuse-add)
                             * adds the second to its result before its activation. */
    /* provenance */
    Span span;
    int layer;              /* layer statement position, -1 if none */
    int dead;               /* removed by a pass; skipped everywhere */
    const char *label;      /* layer label, or NULL */
} Node;

typedef struct IrUses IrUses;

typedef struct Graph {
    const char *name;       /* model name */
    const char *file;       /* source path */
    /* the graph's inputs (one sample each); `input` is the first, %in */
    union {
        Shape input;
        Shape inputs[NNC_MAX_GRAPH_IO];
    };
    int ninputs;
    /* per input: its name in the .nnet (NULL: unnamed), whether it holds
     * integers (`input idx [64] int`: class indices, tokens, carried as
     * floats of exact integers) and, when known, the bound they must stay
     * below (an embedding's num_embeddings; 0: none known) */
    const char *input_name[NNC_MAX_GRAPH_IO];
    int input_int[NNC_MAX_GRAPH_IO];
    int64_t input_int_below[NNC_MAX_GRAPH_IO];
    int outputs[NNC_MAX_GRAPH_IO]; /* the values the graph returns, in order */
    int noutputs;
    Node *nodes;
    int nnodes, capnodes;
    Param *params;
    int nparams, capparams;
    Tie *ties;              /* weight tying: second names of params, in state_dict order */
    int nties, capties;
    int64_t state_size;     /* floats, after ir_layout_params */
    Fold *folds;            /* inference-only derivations (fold passes) */
    int nfolds, capfolds;
    int64_t infer_size;     /* floats of the inference block, after ir_layout_infer */
    int infer_laid_out;     /* params' ioffset are valid: emit reads the inference block */
    int planned;            /* memplan ran: activation buffers are reused */
    IrUses *uses;           /* readers of each value while the passes run (ir_uses.c), or NULL */
} Graph;

/* A deep copy (nodes and their parameter lists, the graph's parameter list
 * and folds; parameter data is shared). */
Graph *ir_clone(const Graph *g);

/* The reader of IR text (compiler/ir/ir_parse.c), as the op families'
 * parse hooks see it: each reads one value at the cursor, 0 on success and
 * -1 after a diagnostic. A pair is "AxB"; a list is integers separated by
 * sep, at most max of them (its count, or -1). */
typedef struct IrLx IrLx;
int ir_lx_int(IrLx *x, int64_t *v);
int ir_lx_num(IrLx *x, double *v);
int ir_lx_pair(IrLx *x, int64_t *a, int64_t *b);
int ir_lx_numpair(IrLx *x, double *a, double *b);
int ir_lx_list(IrLx *x, char sep, int64_t *v, int max);

typedef struct OpInfo {
    const char *name;
    int nin;                /* values a node of this op reads */
    int flags;
} OpInfo;
extern const OpInfo op_info[OP__COUNT];

/* Look up an op by its layer name; -1 if unknown (or a training step). */
int op_lookup(const char *name);
/* The same over every op of the IR text, training steps included. */
int op_lookup_ir(const char *name);

Graph *ir_new_graph(const char *name, const char *file);
/* Room for at least cap nodes (ir_add_node grows the array itself). */
void ir_reserve_nodes(Graph *g, int cap);
/* A node reading nothing yet (ir_read adds its inputs), no parameters,
 * its attributes at PyTorch's defaults (ATTR rows, a conv's dilation and
 * groups, dropout's p, a norm's eps, ...). */
int ir_add_node(Graph *g, Op op);
/* Node i's parameters: append param p; make room for at least count slots
 * (new ones -1). The storage is the graph's (xnew), never shared by two
 * nodes: ir_copy_node and ir_clone give the copy its own. */
void ir_param_push(Graph *g, int i, int p);
void ir_param_reserve(Graph *g, int i, int count);
/* Node dst becomes a copy of *src (attributes, parameters, provenance)
 * with its own parameter storage. */
void ir_copy_node(Graph *g, int dst, const Node *src);
/* Node i reads value v next (its in[nin++]). */
void ir_read(Graph *g, int i, int v);
/* A graph input of shape s (its value: IR_INPUT(index)); an output. */
int ir_add_input(Graph *g, const Shape *s);
void ir_add_output(Graph *g, int v);
int ir_add_param(Graph *g, const Param *p);
/* A tie (its name, owner and place filled in); its index. */
int ir_add_tie(Graph *g, const Tie *t);
/* The tie that names param p for the layer at statement position layer, or
 * NULL: a tied layer's view of its shared tensor. */
const Tie *ir_tie_of(const Graph *g, int p, int layer);
/* The state_dict name of node n's parameter slot k: the tie's name where
 * n's layer is tied to another's tensor, else the parameter's. */
const char *ir_param_name(const Graph *g, const Node *n, int k);
/* Is param p frozen by freeze[0..nfreeze) (layer positions): its layer's,
 * or a layer tied to it (one tensor: freezing either freezes it, as
 * requires_grad = False on either module's parameter does)? */
int ir_param_frozen(const Graph *g, int p, const int *freeze, int nfreeze);
/* The model's result: its first output (-1: the input itself). */
int ir_output(const Graph *g);
/* 1 when value v is one of the graph's outputs. */
int ir_is_output(const Graph *g, int v);
/* Every read of value `from` (node inputs, graph outputs) reads `to` instead. */
void ir_replace_uses(Graph *g, int from, int to);
/* Shape of a value (node index, or IR_INPUT(k)). */
const Shape *ir_value_shape(const Graph *g, int v);
/* Assign state-block offsets to params in order; sets g->state_size. */
void ir_layout_params(Graph *g);
/* Number of live nodes with op. */
int ir_count_op(const Graph *g, Op op);
/* Value v as the IR text writes it: %in, %in1, %7. */
void ir_print_value(FILE *out, int v);
/* Reads of value v by live nodes (a node reading it twice counts twice);
 * ir_reader: one live node reading v, or -1. Both answer from an index of
 * readers built on the first query and kept by ir_read, ir_kill and
 * ir_replace_uses (ir_uses.c); ir_uses_drop frees it (code that writes
 * nodes' inputs directly must drop it first), ir_uses_check compares it
 * with a recount (an internal error when they differ). */
int ir_readers(const Graph *g, int v);
int ir_reader(const Graph *g, int v);
void ir_uses_drop(Graph *g);
void ir_uses_check(const Graph *g);
/* Remove node i from the graph (its reads no longer count). */
void ir_kill(Graph *g, int i);
/* Record a fold whose kind and sources are filled in: creates its derived
 * parameters ("fold(<layers>).weight" / ".bias", sets f->out_w, f->out_b)
 * and returns the fold's index. */
int ir_add_fold(Graph *g, Fold *f);
/* Lay out the inference block: the state tensors and derived parameters
 * that live nodes read (directly or through a fold), in parameter order;
 * sets ioffset and infer_size, and infer_laid_out. */
void ir_layout_infer(Graph *g);
/* The inference block from a state block (state_dict layout): copies and
 * folds, by the same runtime functions the emitted prepare() calls. */
void ir_prepare(const Graph *g, const float *state, float *infer);
/* Text form (see ir_parse.c for the grammar): the model name, one line per
 * input shape, one line per parameter (values too with IRP_VALUES, for the
 * tensors whose value is known), one per fold, one per live node (op, the
 * values it reads, attributes, output shape), the outputs, and "planned"
 * when memplan ran. */
enum { IRP_VALUES = 1 };
void ir_print(const Graph *g, FILE *out);
void ir_print_ex(const Graph *g, FILE *out, int flags);
/* The same text in a malloc'd string (for tests and tools). */
char *ir_print_string(const Graph *g, int flags);
/* Parse the text form (NULL after diagnostics in d, which holds the file). */
Graph *ir_parse(const SrcFile *src, Diag *d);
/* Fill a state block with the known values and the default initialisation
 * drawn from seed (the same sequence as the emitted init()). */
void ir_init_state(const Graph *g, uint64_t seed, float *state);
/* ir_prepare of the state ir_init_state gives, without a copy of the
 * parameters whose values are known (literals, --weights). */
void ir_prepare_initial(const Graph *g, uint64_t seed, float *infer);
/* The blocks a backend compiles in: *infer (infer_size floats, always) and,
 * when the state is given (a weights file), *state (state_size floats) with
 * *infer prepared from it; otherwise *state is NULL and *infer is the
 * prepared default initialisation drawn from seed. */
void ir_compiled_blocks(const Graph *g, int state_given, uint64_t seed, float **state, float **infer);

#endif
