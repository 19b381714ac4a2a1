/* reshape.c — views of their input, no computation (the emitter gives them
 * their input's buffer, and their gradient its input's gradient buffer;
 * see op_is_alias): identity; flatten(x, start_dim = 1, end_dim = -1)
 * (torch.flatten; version 1's `flatten` is nn.Flatten(), the defaults);
 * reshape(x, [d1, ...]) (the shape of one sample, one -1 allowed).
 *
 * flatten keeps start_dim and end_dim as written (ATTR rows; IR text
 * leaves them out at their defaults). reshape's target is its output
 * shape: the build puts the shape asked for there (-1 included) and the
 * shape rule resolves the -1 and checks the count of values. */
#include <string.h>

#include "ops.h"

static const ArgSpec none[] = {{"input", AT_VALUE, 0}, {NULL, 0, 0}};
static const ArgSpec flatten_spec[] = {{"input", AT_VALUE, 0}, {"start_dim", AT_INT, 0}, {"end_dim", AT_INT, 0},
                                       {NULL, 0, 0}};
static const ArgSpec reshape_spec[] = {{"input", AT_VALUE, 1}, {"shape", AT_LIST, 1}, {NULL, 0, 0}};

const ArgSpec *reshape_args(Op op)
{
    return op == OP_FLATTEN ? flatten_spec : op == OP_RESHAPE ? reshape_spec : none;
}

int reshape_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_FLATTEN) {
        n->attr[0] = (double)arg_int(cx, 1, 1);
        n->attr[1] = (double)arg_int(cx, 2, -1);
    } else if (n->op == OP_RESHAPE) {
        int64_t v[NNC_MAX_DIMS + 1];
        int c = arg_ints(cx, 1, v, NNC_MAX_DIMS, "reshape: shape");
        if (c < 0)
            return -1;
        memset(&n->shape, 0, sizeof n->shape);
        n->shape.ndim = c;
        int neg = 0;
        for (int j = 0; j < c; j++) {
            if (v[j] == -1 && !neg++)
                ;
            else if (v[j] <= 0) {
                diag_error(cx->d, arg_span(cx, 1), v[j] == -1 ? "reshape: only one dimension can be -1"
                                                               : "reshape: invalid dimension %lld", (long long)v[j]);
                return -1;
            }
            n->shape.d[j] = v[j];
        }
    }
    return 0;
}

/* flatten's start and end as axes of one sample; -1 after a diagnostic */
static int flatten_range(const Shape *in, Node *n, Diag *d, int *s, int *e)
{
    *s = op_axis(d, n->span, "flatten: start_dim", (int64_t)n->attr[0], in->ndim);
    if (*s < 0)
        return -1;
    *e = op_axis(d, n->span, "flatten: end_dim", (int64_t)n->attr[1], in->ndim);
    if (*e < 0)
        return -1;
    if (*e < *s) {
        diag_error(d, n->span, "flatten: start_dim %d comes after end_dim %d", *s + 1, *e + 1);
        return -1;
    }
    return 0;
}

int reshape_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    if (n->op == OP_FLATTEN) {
        int s, e;
        if (flatten_range(in, n, d, &s, &e))
            return -1;
        Shape o;
        memset(&o, 0, sizeof o);
        for (int j = 0; j < in->ndim; j++) {
            if (j <= s || j > e)
                o.d[o.ndim++] = in->d[j];
            else
                o.d[o.ndim - 1] *= in->d[j];
        }
        n->shape = o;
    } else if (n->op == OP_RESHAPE) {
        int64_t known = 1, total = shape_numel(in);
        int free = -1;
        for (int j = 0; j < n->shape.ndim; j++)
            if (n->shape.d[j] == -1)
                free = j;
            else
                known *= n->shape.d[j];
        if (free >= 0 && known > 0 && total % known == 0)
            n->shape.d[free] = total / known;
        if (n->shape.ndim < 1 || shape_numel(&n->shape) != total) {
            char b1[64], b2[64];
            if (free >= 0)
                n->shape.d[free] = -1;
            diag_error(d, n->span, "reshape: shape [N, %s is invalid for a sample of shape [N, %s (%lld values)",
                       shape_str(&n->shape, b1, sizeof b1) + 1, shape_str(in, b2, sizeof b2) + 1, (long long)total);
            return -1;
        }
    } else {
        n->shape = *in;
    }
    return 0;
}

void reshape_emit(EmitCtx *e, const Node *n) { (void)e; (void)n; }
void reshape_emit_train(EmitCtx *e, const Node *n) { (void)e; (void)n; }
void reshape_grad(EmitCtx *e, const Node *n) { (void)e; (void)n; }
int64_t reshape_flops(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

void reshape_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
