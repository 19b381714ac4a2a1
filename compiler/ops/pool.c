/* pool.c — max and average 2-D pooling (PyTorch MaxPool2d / AvgPool2d,
 * ceil_mode = False, count_include_pad = True). */
#include "ops.h"

enum { A_K, A_STRIDE, A_PAD };
static const ArgSpec spec[] = {
    {"kernel_size", AT_INT | AT_LIST, 1},
    {"stride", AT_INT | AT_LIST, 0},
    {"padding", AT_INT | AT_LIST, 0},
    {NULL, 0, 0},
};

const ArgSpec *pool_args(Op op) { (void)op; return spec; }

int pool_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    int64_t k[2], s[2], p[2];
    if (arg_pair(cx, A_K, 1, k, "kernel_size"))
        return -1;
    if (arg_pair(cx, A_STRIDE, 0, s, "stride") || arg_pair(cx, A_PAD, 0, p, "padding"))
        return -1;
    if (!cx->arg[A_STRIDE]) {
        s[0] = k[0];
        s[1] = k[1];
    }
    if (k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0 || p[0] < 0 || p[1] < 0) {
        diag_error(cx->d, cx->layer_span, "%s: kernel_size and stride must be positive, padding not negative",
                   op_info[n->op].name);
        return -1;
    }
    if (2 * p[0] > k[0] || 2 * p[1] > k[1]) {
        diag_error(cx->d, cx->layer_span, "%s: padding must be at most half the kernel size (PyTorch)",
                   op_info[n->op].name);
        return -1;
    }
    n->kh = k[0]; n->kw = k[1]; n->sh = s[0]; n->sw = s[1]; n->ph = p[0]; n->pw = p[1];
    return 0;
}

int pool_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *in = ir_value_shape(g, n->input);
    char buf[64];
    if (in->ndim != 3) {
        diag_error(d, n->span, "%s expects a [channels, height, width] input, but its input has shape %s",
                   op_info[n->op].name, shape_str(in, buf, sizeof buf));
        return -1;
    }
    int64_t oh = in->d[1] + 2 * n->ph - n->kh, ow = in->d[2] + 2 * n->pw - n->kw;
    if (oh < 0 || ow < 0) {
        diag_error(d, n->span, "%s: the kernel %lldx%lld is larger than the padded input %lldx%lld",
                   op_info[n->op].name, (long long)n->kh, (long long)n->kw,
                   (long long)(in->d[1] + 2 * n->ph), (long long)(in->d[2] + 2 * n->pw));
        return -1;
    }
    n->shape.ndim = 3;
    n->shape.d[0] = in->d[0];
    n->shape.d[1] = oh / n->sh + 1;
    n->shape.d[2] = ow / n->sw + 1;
    return 0;
}

/* The kernels' nnr_pool2d_shape of node n, set on call c. */
static void kshape(const Graph *g, const Node *n, KCall *c)
{
    const Shape *in = ir_value_shape(g, n->input);
    const int64_t s[] = {in->d[0], in->d[1], in->d[2], n->kh, n->kw, n->sh, n->sw,
                         n->ph, n->pw, n->shape.d[1], n->shape.d[2]};
    static const char *const fields[] = {"c", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
    _Static_assert(sizeof fields / sizeof fields[0] == sizeof s / sizeof s[0], "a name per field");
    kcall_shape(c, "nnr_pool2d_shape", fields, s, (int)(sizeof s / sizeof s[0]));
}

static const char *pshape(const Graph *g, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_pool2d_shape");
    kshape(g, n, &c);
    return kcall_shape_c(&c);
}

void pool_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, xasprintf("nnr_%s_f32", op_info[n->op].name));
    kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->input, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void pool_emit_train(EmitCtx *e, const Node *n) { pool_emit(e, n); }

void pool_grad(EmitCtx *e, const Node *n)
{
    if (!DVAL(e, n->input))
        return;
    if (n->op == OP_MAXPOOL2D)
        fprintf(e->out, "    nnr_maxpool2d_backward_f32(n, %s, %s, %s, %s);\n", pshape(e->g, n),
                VAL(e, n->input), DVAL(e, n - e->g->nodes), DVAL(e, n->input));
    else
        fprintf(e->out, "    nnr_avgpool2d_backward_f32(n, %s, %s, %s);\n", pshape(e->g, n),
                DVAL(e, n - e->g->nodes), DVAL(e, n->input));
}

int64_t pool_flops(const Graph *g, const Node *n)
{
    (void)g;
    return shape_numel(&n->shape) * n->kh * n->kw;
}

void pool_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
