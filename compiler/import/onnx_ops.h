/* onnx_ops.h — helpers shared by the operator translations (onnx_ops.c,
 * onnx_ops2.c): reading a node's inputs and attributes, formatting numbers
 * for the .nnet text, making statements and parameters. */
#ifndef NNC_ONNX_OPS_H
#define NNC_ONNX_OPS_H

#include "onnx_int.h"

/* Input k's name, "" when absent. */
const char *ox_in(const OxNode *n, int k);
/* Input k as a run-time value / a constant (what: its role, for the message;
 * NULL: no message when it is not a constant). NULL after imp_fail. */
IVal *in_run(Imp *c, const OxNode *n, int k);
OxTensor *in_const(Imp *c, const OxNode *n, int k, const char *what);
int64_t ai(const OxNode *n, const char *name, int64_t dflt);
double af(const OxNode *n, const char *name, double dflt);
const char *as(const OxNode *n, const char *name, const char *dflt);
int aints(const OxNode *n, const char *name, int64_t *out, int max);
/* -1 (imp_fail) when n has an attribute not in known ("a,b,c"). */
int check_attrs(Imp *c, const OxNode *n, const char *known);
/* check_attrs, only_first_output (when first_only), then in_run of input 0. */
IVal *node_x(Imp *c, const OxNode *n, const char *attrs, int first_only);
/* A real for the .nnet text (%.9g, always with a point or exponent). */
const char *fnum(double x);
const char *ilist(const int64_t *v, int n);
const char *ipair(const int64_t *v, int n);
/* "fc1" of "fc1.weight"; NULL when the name is not PyTorch's. */
const char *init_base(const char *name);
void add_param(IStmt *s, const char *suffix, const OxTensor *t, int transpose2d);
IStmt *stmt1(Imp *c, const OxNode *n, IVal *x, int ndim, const int64_t *d);
int only_first_output(Imp *c, const OxNode *n);
/* axis of a rank-rank value, made non-negative; -1 (imp_fail) when out of
 * range or (unless allow_batch) the batch. */
int norm_axis(Imp *c, int64_t axis, int rank, int allow_batch);

/* A layernorm over the dimensions from ax on, making the value out. */
int ln_layer(Imp *c, IVal *x, int ax, double eps, OxTensor *w, OxTensor *b, const char *out);
/* The patterns of torch.onnx.export starting at node n (onnx_fuse.c): 1 when
 * n and the nodes after it were translated as one layer, 0 when none
 * matches, -1 after imp_fail. */
int imp_fuse(Imp *c, const OxNode *n);
int slice_plan(Imp *c, const OxNode *n, int ndim, const int64_t *dims, int run, int64_t *lo,
               int64_t *step, int64_t *d);
/* The operators of onnx_ops2.c, then of onnx_ops3.c and onnx_ops4.c (the last resort: the
 * error naming an operator nnc lacks). */
int imp_node2(Imp *c, const OxNode *n);
int imp_node3(Imp *c, const OxNode *n);
/* The logical, comparison and selection operators (onnx_ops4.c): 1 when n is
 * one, its translation's result (0, or -1 after imp_fail) in *rc; else 0. */
int imp_node4(Imp *c, const OxNode *n, int *rc);
/* a sym b (+ - * /) where an operand is a constant of several numbers. */
int op_arith_const(Imp *c, const OxNode *n, char sym);
int op_slice_run(Imp *c, const OxNode *n, IVal *x);
/* The constant t as a run-time value of rank `rank` computed from the value
 * xi (onnx_ops4.c): its index; *shape gets the reshape giving t's form
 * (right-aligned, 1s before). */
/* Operands 0..nop-1 of node n (run-time values broadcast, constants) as
 * text in e[], read by a new statement making the node's first output
 * (onnx_ops4.c); NULL after imp_fail. */
IStmt *imp_operands(Imp *c, const OxNode *n, int nop, const char **e);
int imp_const_value(Imp *c, int xi, const OxTensor *t, int rank, const char **shape);
/* ArgMax, ArgMin, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, Pow
 * with a run-time exponent, GatherElements (onnx_ops5.c): as imp_node4. */
int imp_node5(Imp *c, const OxNode *n, int *rc);
/* Gather(w, idx) of a constant vector by run-time indices; Cast of a
 * run-time value to an integer type or bool (onnx_ops5.c). */
int imp_gather_vector(Imp *c, const OxNode *n, const OxTensor *w, IVal *idx);
int imp_cast_run(Imp *c, const OxNode *n, IVal *x, int to);
/* Dropout of x for inference (or with ratio 0): x, and its mask all 1s. */
int imp_dropout(Imp *c, const OxNode *n, IVal *x);
/* Gather of a run-time value x by constant indices along a sample's axis. */
int imp_gather_run(Imp *c, const OxNode *n, IVal *x);

#endif
