/* train.c — the steps of the training graph that the autodiff pass
 * (compiler/passes/autodiff.c) appends after the forward nodes. They are
 * not layers of .nnet (op_lookup does not find them); the IR text prints
 * and reads them like every other node.
 *
 *   %L = loss %y               dloss/dy of the first output y: its shape
 *   %B = backward %F, %dy      forward node F's gradient rule, given dy (the
 *                              gradient of F's value): writes the gradients of
 *                              F's parameters and of each input slot that
 *                              needs one; its own value is nothing ([])
 *   %G = grad_input %B slot=k  the gradient B writes for F's input slot k
 *                              (the shape of that input): one reader's share
 *   %A = accum %d, %e          d + e, in d's buffer: the shares of a value
 *                              read several times summed
 *
 * A view (flatten, reshape, identity) has no backward: its gradient is its
 * input's, the same floats, so gradient shapes are checked by count.
 *   %U = update                the optimizer over every parameter (not
 *                              buffer) that is not frozen
 *
 * Backends emit these steps themselves (the C backend's training step), so
 * the forward hooks below are never called. */
#include "ops.h"

static const ArgSpec none[] = {{NULL, 0, 0}};

const ArgSpec *train_args(Op op) { (void)op; return none; }

int train_build(BuildCtx *cx) { (void)cx; return 0; }

int train_nparams(const Node *n) { (void)n; return 0; }

static int is_op(const Graph *g, int v, Op op)
{
    return v >= 0 && v < g->nnodes && g->nodes[v].op == op;
}

/* A gradient value: the loss, a share, or a sum of shares. */
static int is_grad(const Graph *g, int v)
{
    return is_op(g, v, OP_LOSS) || is_op(g, v, OP_GRAD_INPUT) || is_op(g, v, OP_ACCUM);
}

/* Gradients of a value and of a view of it (flatten, reshape) are the
 * same floats: shapes match by their count. */
static int same_shape(const Shape *a, const Shape *b)
{
    return shape_numel(a) == shape_numel(b);
}

static int backward_shape(Graph *g, Node *n, Diag *d)
{
    int f = n->in[0], dy = n->in[1];
    if (f < 0 || (op_info[g->nodes[f].op].flags & (OPF_TRAIN | OPF_VIEW))) {
        diag_error(d, n->span, "backward: its first value must be a forward node that computes (not a view)");
        return -1;
    }
    if (!is_grad(g, dy) || !same_shape(&g->nodes[dy].shape, &g->nodes[f].shape)) {
        diag_error(d, n->span, "backward: its second value must be a gradient of the forward node's size");
        return -1;
    }
    return 0;
}

static int grad_input_shape(Graph *g, Node *n, Diag *d)
{
    int b = n->in[0];
    if (!is_op(g, b, OP_BACKWARD)) {
        diag_error(d, n->span, "grad_input reads a backward node");
        return -1;
    }
    const Node *f = &g->nodes[g->nodes[b].in[0]];
    double s = n->attr[0];
    if (s < 0 || s >= f->nin || s != (int)s || f->in[(int)s] < 0) {
        diag_error(d, n->span, "grad_input: slot=%g is not an input of %s that is a node", s, op_info[f->op].name);
        return -1;
    }
    n->shape = *ir_value_shape(g, f->in[(int)s]);
    return 0;
}

int train_shape(Graph *g, Node *n, Diag *d)
{
    Shape nothing = {0, {0}};
    n->shape = nothing;
    switch (n->op) {
    case OP_LOSS:
        n->shape = *ir_value_shape(g, n->in[0]);
        return 0;
    case OP_BACKWARD:
        return backward_shape(g, n, d);
    case OP_GRAD_INPUT:
        return grad_input_shape(g, n, d);
    case OP_ACCUM:
        if (!is_grad(g, n->in[0]) || !is_grad(g, n->in[1]) ||
            !same_shape(&g->nodes[n->in[0]].shape, &g->nodes[n->in[1]].shape)) {
            diag_error(d, n->span, "accum adds two gradients of one size");
            return -1;
        }
        n->shape = g->nodes[n->in[0]].shape;
        return 0;
    default:
        return 0;
    }
}

void train_emit(EmitCtx *e, const Node *n)
{
    (void)e;
    NNC_ICE("%s is a training step, not a forward op", op_info[n->op].name);
}

void train_emit_train(EmitCtx *e, const Node *n) { train_emit(e, n); }

void train_grad(EmitCtx *e, const Node *n) { train_emit(e, n); }

int64_t train_flops(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

void train_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;
}
