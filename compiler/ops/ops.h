/* ops.h — the interface every op family (compiler/ops/<fam>.c) implements,
 * and the per-op dispatch built from ops.def.
 *
 *   <fam>_args(op)       argument schema of the layer, NULL-name terminated
 *   <fam>_build(cx)      set attributes and create parameters from the bound
 *                        arguments; then <fam>_shape is called
 *   <fam>_shape(g,n,d)   output shape from the input shape and attributes;
 *                        diagnoses mismatches (returns -1)
 *   <fam>_emit(e,n)      C for the forward (inference) computation
 *   <fam>_emit_train(e,n) C for the forward in training mode
 *   <fam>_grad(e,n)      C for the backward computation
 *   <fam>_flops(g,n)     multiply-adds x2 (FLOPs) per sample
 *   <fam>_saved(g,n,ps,fx) floats its training forward keeps for its backward
 *                        beyond its input and output: per sample and fixed
 *   <fam>_print(out,n)   IR text: the family's attributes of n, each " key=value"
 *                        under its PyTorch name (kernel_size=3x3, eps=1e-05)
 *   <fam>_parse(x,n,key) IR text: read the value of attribute `key` into n;
 *                        1 read, 0 not an attribute of n's op, -1 a bad value
 *   <fam>_verify(g,n,why,len) 0 when n's attributes and parameters agree,
 *                        else 1 with why saying how they do not (the IR reader
 *                        reports it, the verifier between passes stops on it)
 *
 * The numeric attributes of the ATTR rows of ops.def (leaky_relu's
 * negative_slope) are printed and read by the IR itself, from the table. */
#ifndef NNC_OPS_H
#define NNC_OPS_H

#include "../ir/ir.h"
#include "opargs.h"

/* What a family's build hook sees: the node being built and its arguments,
 * bound to the schema's slots (NULL when not given). */
typedef struct BuildCtx {
    Graph *g;
    Diag *d;
    int node;
    Value **arg;            /* [schema slot] */
    Span layer_span;        /* the layer's name token */
    const char *pname;      /* state_dict prefix: label or position */
} BuildCtx;

/* One runtime kernel call of a node, as data: the hooks (<fam>_emit,
 * <fam>_emit_train, <fam>_grad) describe their calls once, and
 * op_emit_call() either prints them as C or hands them to a backend's sink
 * (the LLVM backend), so both backends pass the same arguments. Each argument carries the C type of
 * the kernel's parameter (int or size_t for integers). */
typedef enum KArgKind {
    KA_INT,         /* int constant i */
    KA_SIZE,        /* size_t constant i */
    KA_N,           /* int: the batch size times i ("n", "n * i") */
    KA_NSIZE,       /* size_t: "(size_t)n * i" */
    KA_F32,         /* float constant f */
    KA_ACT,         /* nnr_act of the OPF_ACT op i (-1: NNR_ACT_NONE) */
    KA_VAL,         /* the buffer of value i (a node, or -1: the input) */
    KA_PARAM,       /* parameter i in the parameter block (-1: NULL) */
    KA_SCRATCH,     /* the per-sample conv2d scratch */
    KA_SHAPE,       /* a pointer to the call's constant shape struct */
    KA_ENUM,        /* int constant i, spelled c in C (a runtime enum: "NNR_BIN_ADD") */
    /* training (emit_train and grad hooks) */
    KA_DVAL,        /* the gradient buffer of value i (DVAL; NULL when it has none) */
    KA_DIN,         /* the gradient buffer input slot i's rule writes (EmitCtx.din; NULL: none) */
    KA_GPARAM,      /* the gradient of parameter i in the gradient block (-1: NULL) */
    KA_SAVED,       /* node i's saved buffer, + j floats */
    KA_SAVED_N,     /* node i's saved buffer, + n * j floats */
    KA_RNG,         /* the training step's random generator */
} KArgKind;

typedef struct KArg {
    KArgKind kind;
    int64_t i;
    double f;
    int64_t j;              /* KA_SAVED*: the offset */
    const char *c;          /* KA_ENUM: its C spelling */
} KArg;

/* What a KCall does when it is not a runtime function call (fn unused):
 * the few statements of a training step that both backends spell
 * themselves. Counts are a KA_SIZE or KA_NSIZE argument. */
typedef enum KBuiltin {
    KB_CALL,        /* fn(args...) */
    KB_ZERO,        /* memset(a0, 0, a1 floats) */
    KB_COPY,        /* memcpy(a0, a1, a2 floats) */
    KB_MUL,         /* a0[i] = a1[i] * a2[i] for i < a3 */
    KB_INC,         /* a0[0] += a1 (a KA_PARAM and a KA_F32) */
} KBuiltin;

#define KCALL_MAX_ARGS 16
typedef struct KCall {
    const char *fn;                 /* the runtime function ("nnr_linear_f32") */
    int nargs;
    KArg a[KCALL_MAX_ARGS];
    const char *shape_type;         /* KA_SHAPE: the struct's C type, all int fields */
    const char *const *shape_fields;    /* their names, as in runtime/nnr.h */
    int nshape;
    int64_t shape[KCALL_MAX_ARGS];
    KBuiltin builtin;
    int wrap;                       /* C text only: break the line before argument wrap (0: never) */
    int wrap_indent;                /* C text only: the continuation's indent (0: under the '(') */
    const char *comment;            /* C text only: a comment after the statement (NULL: none) */
    const char *shape_c;            /* C text only: KA_SHAPE spelled so ("&conv1_shape"; NULL:
                                     * the compound literal of kcall_shape_c) */
    const char *scratch_fn;         /* with a KA_SCRATCH argument: the runtime function that
                                     * gives its per-sample scratch floats from the shape struct */
} KCall;

typedef struct EmitCtx EmitCtx;
/* A backend's receiver of kernel calls (EmitCtx.sink). */
typedef void (*KCallSink)(void *ctx, const EmitCtx *e, const Node *n, const KCall *c);

/* The C emitter's view, shared by all families. */
struct EmitCtx {
    FILE *out;
    const Graph *g;
    const char **val;       /* [node+1]: C expression of each value's buffer (val[0] = input) */
    const char **dval;      /* [node+1]: its gradient buffer (training) or NULL */
    const char *P;          /* parameter block expression ("P" or "S") */
    const char *G;          /* gradient block ("G") */
    const char *scratch;    /* per-sample conv scratch expression */
    const char **saved;     /* [node+1]: extra saved buffers (bn stats, dropout mask) */
    const char *rng;        /* rng expression in training */
    int training;
    KCallSink sink;         /* NULL: op_emit_call prints C; else it calls sink(sink_ctx, ...) */
    void *sink_ctx;
    const char **pexpr;     /* [param]: its C expression for KA_PARAM (NULL: P + offset) */
    const char **poff;      /* [param]: its offset in P's block (and G's) spelled in C, e.g.
                             * "state_at.fc1_weight" (NULL: the number) */
    /* training backward: the gradient buffer of each input slot the
     * node's rule must write (overwrite), NULL when that input needs none */
    const char *din[NNC_MAX_NODE_INPUTS];
};

/* Value index helpers: value v is node v (v >= 0) or graph input k
 * (v = IR_INPUT(k) < 0); the arrays are indexed from v + 1 down to
 * 1 - ninputs. */
#define VAL(e, v) ((e)->val[(v) + 1])
#define DVAL(e, v) ((e)->dval[(v) + 1])

#define FAMILY(fam) \
    const ArgSpec *fam##_args(Op op); \
    int fam##_build(BuildCtx *cx); \
    int fam##_shape(Graph *g, Node *n, Diag *d); \
    void fam##_emit(EmitCtx *e, const Node *n); \
    void fam##_emit_train(EmitCtx *e, const Node *n); \
    void fam##_grad(EmitCtx *e, const Node *n); \
    int64_t fam##_flops(const Graph *g, const Node *n); \
    void fam##_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed); \
    int fam##_nparams(const Node *n); \
    void fam##_print(FILE *out, const Node *n); \
    int fam##_parse(IrLx *x, Node *n, const char *key); \
    int fam##_verify(const Graph *g, const Node *n, char *why, size_t len);
FAMILY(linear)
FAMILY(conv)
FAMILY(pool)
FAMILY(reshape)
FAMILY(act)
FAMILY(softmax)
FAMILY(dropout)
FAMILY(norm)
FAMILY(binary)
FAMILY(matmul)
FAMILY(tensor)
FAMILY(reduce)
FAMILY(convt)
FAMILY(resize)
FAMILY(lnorm)
FAMILY(seq)
FAMILY(rnn)
FAMILY(attn)
FAMILY(train)
#undef FAMILY

typedef struct OpHooks {
    const ArgSpec *(*args)(Op op);
    int (*build)(BuildCtx *cx);
    int (*shape)(Graph *g, Node *n, Diag *d);
    void (*emit)(EmitCtx *e, const Node *n);
    void (*emit_train)(EmitCtx *e, const Node *n);
    void (*grad)(EmitCtx *e, const Node *n);
    int64_t (*flops)(const Graph *g, const Node *n);
    void (*saved)(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed);
    /* How many parameters (Node.param) a node of these attributes owns:
     * what the IR reader checks a params= list against. */
    int (*nparams)(const Node *n);
    void (*print)(FILE *out, const Node *n);
    int (*parse)(IrLx *x, Node *n, const char *key);
    int (*verify)(const Graph *g, const Node *n, char *why, size_t len);
} OpHooks;
extern const OpHooks op_hooks[OP__COUNT];

/* The bound arguments (compiler/ops/args.c): the value of schema slot
 * `slot` as an integer, a number or a bool (dflt when not given or of
 * another type); whether it was given, is a list, and where it is. */
int64_t arg_int(const BuildCtx *cx, int slot, int64_t dflt);
double arg_real(const BuildCtx *cx, int slot, double dflt);
int arg_bool(const BuildCtx *cx, int slot, int dflt);
int arg_given(const BuildCtx *cx, int slot);
int arg_is_list(const BuildCtx *cx, int slot);
Span arg_span(const BuildCtx *cx, int slot);
/* The string given in slot, or NULL (not given, or not a string). */
const char *arg_str(const BuildCtx *cx, int slot);
/* Add a parameter "<prefix>.<suffix>" of the given shape; returns its index. */
int op_param(BuildCtx *cx, const char *suffix, int ndim, const int64_t *shape, int kind,
             InitKind init, float bound);
/* Fill a parameter from the nested-list literal given in schema slot
 * `slot`; checks the shape. 0 on success. */
int op_param_literal(BuildCtx *cx, int param, int slot, const char *what);
/* "P + 123": the C expression of a parameter inside block `base`. */
const char *op_pexpr(const char *base, const Graph *g, int param);
/* Values that are only a view of their input (no code, same buffer). */
int op_is_alias(Op op, int training);
/* A node that computes nothing in inference and leaves the value as it is
 * (identity, inference dropout, a flatten of a flat value): passes drop it
 * or see through it. */
int op_is_nothing(const Graph *g, const Node *n);
/* Extra buffers a node keeps from its training forward for its backward
 * (op_hooks[].saved): floats per sample and floats per batch. */
void op_saved_size(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed);
/* A pair argument (int or [a, b]) of a conv/pool layer; 0 on success. */
int arg_pair(BuildCtx *cx, int slot, int64_t dflt, int64_t out[2], const char *what);
/* The same for a pair of numbers (upsample's scale_factor). */
int arg_real_pair(BuildCtx *cx, int slot, double dflt, double out[2], const char *what);
/* An integer or a list of up to max integers (layernorm's normalized_shape):
 * their count, or -1 after a diagnostic. */
int arg_int_list(BuildCtx *cx, int slot, int64_t *out, int max, const char *what);
/* Floats of scratch a node's kernels need for one sample (conv im2col; 0: none). */
int64_t op_scratch(const Graph *g, const Node *n);
/* Does the direct conv kernel (nnr_conv2d_packed_ok) take conv2d node n?
 * (prepack packs its weight for it: packed=direct) */
int conv_packed_ok(const Graph *g, const Node *n);
/* Does its batch of one run as the transposed GEMM (nnr_conv2d_panel_ok)?
 * (prepack packs its weight in panels too: packed=oi+panel) */
int conv_panel_ok(const Graph *g, const Node *n);
/* The nnr_act enum spelled in C for an OPF_ACT op ("NNR_ACT_RELU"), or NONE for -1. */
const char *op_act_c(int op);
/* The nnr_act value of an OPF_ACT op (NNR_ACT_NONE for -1). */
int op_act_value(int op);
/* Start a kernel call description; kcall_arg appends an argument. */
void kcall_init(KCall *c, const char *fn);
void kcall_arg(KCall *c, KArgKind kind, int64_t i, double f);
/* Append a KA_SAVED / KA_SAVED_N argument (node's saved buffer + off), or
 * a KA_ENUM (value v, spelled cname in C). */
void kcall_saved(KCall *c, KArgKind kind, int node, int64_t off);
void kcall_enum(KCall *c, int v, const char *cname);
/* The six arguments every weight layer's backward kernel ends with (linear,
 * conv, conv_transpose2d): x, weight, dy, dx, dweight, dbias (NULL without
 * a bias). */
void kcall_weight_grad_args(KCall *c, const EmitCtx *e, const Node *n);
/* Start a KB_* statement. */
void kcall_builtin(KCall *c, KBuiltin b);
/* Set the call's constant shape struct (KA_SHAPE): its C type, its int
 * fields' names (runtime/nnr.h) and values, in the struct's order. */
void kcall_shape(KCall *c, const char *type, const char *const *fields, const int64_t *v, int nv);
/* That struct spelled in C: "&(const type){.f0 = v0, .f1 = v1, ...}". */
const char *kcall_shape_c(const KCall *c);
/* A KCallSink that copies the call into ctx (a KCall *), for a backend
 * that needs a node's call description without emitting it. */
void kcall_keep(void *ctx, const EmitCtx *e, const Node *n, const KCall *c);
/* Emit a node's kernel call (or KB_* statement): as C text on e->out, or
 * to e->sink. */
void op_emit_call(EmitCtx *e, const Node *n, const KCall *c);
/* Offset of a parameter in the block the graph's forward reads (the
 * inference block once laid out, else the state block). */
int64_t op_poffset(const Graph *g, int param);
/* The per-sample axis (0-based) of PyTorch dim `dim` (the batch is 0,
 * negative counts from the end) of a value of per-sample rank `rank`; -1
 * after a diagnostic at sp (the batch itself: "an operation on the batch
 * dimension"). compiler/ops/tensor.c. */
int op_axis(Diag *d, Span sp, const char *what, int64_t dim, int rank);
/* Schema slot `slot` as integers (an integer, or a list of them) into v
 * (at most max); the count, or -1 after a diagnostic naming `what`. */
int arg_ints(BuildCtx *cx, int slot, int64_t *v, int max, const char *what);
/* The C expression of the gradient buffer of input k of node n in a
 * gradient hook, or NULL when that input needs none. */
const char *op_din(const EmitCtx *e, const Node *n, int k);
/* Add an rnn_result node reading result `index` (0 out, 1 h_n, 2 c_n) of
 * the lstm/gru node `node` (compiler/ops/seq_rnn.c); its value, or -1
 * after a diagnostic. */
int seq_rnn_result(Graph *g, int node, int index, Diag *d);
/* The verify hook of a weight layer (linear, conv, conv_transpose2d): its
 * weight holds `want` floats (as laid out by its packed= form) and its bias
 * out_f, and it has one parameter more with a bias. */
int op_verify_weight(const Graph *g, const Node *n, int64_t want, char *why, size_t len);
/* The conv families' shared IR text (compiler/ops/conv.c): in_channels=
 * out_channels= kernel_size= stride= padding= bias= [dilation=] [groups=]
 * [output_padding=] (in=, out=, kernel=: the older spellings, read too). */
void conv_print_attrs(FILE *out, const Node *n);
int conv_parse_attr(IrLx *x, Node *n, const char *key);
/* A float constant spelled for C ("0.01f", exact to float). */
const char *c_float(double v, char *buf, size_t len);

#endif
