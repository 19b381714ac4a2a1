/* pool.c — max and average pooling, 2-D and 1-D (PyTorch MaxPool2d /
 * AvgPool2d / MaxPool1d / AvgPool1d, ceil_mode (pool.ceil_mode, its ATTR row) either way,
 * count_include_pad = True); a 1-d pool over [C, L] runs the 2-d kernels at
 * height 1. The kernels clip each window to the input (max) or to the
 * padded input (the average's divisor), so ceil_mode changes only the
 * output size. */
#include <string.h>

#include "ops.h"

static int is1d(const Node *n) { return n->op == OP_MAXPOOL1D || n->op == OP_AVGPOOL1D; }

/* A size argument: a pair in 2-d; an integer or [k] in 1-d (out = {1, k};
 * a padding {0, p}). */
static int size_arg(BuildCtx *cx, int slot, int64_t dflt, int64_t out[2], const char *what)
{
    if (!is1d(&cx->g->nodes[cx->node]))
        return arg_pair(cx, slot, dflt, out, what);
    out[0] = dflt == 0 ? 0 : 1;
    out[1] = dflt;
    if (!arg_given(cx, slot))
        return 0;
    return arg_int_list(cx, slot, &out[1], 1, what) < 0 ? -1 : 0;
}

enum { A_K, A_STRIDE, A_PAD, A_CEIL };
static const ArgSpec spec[] = {
    {"kernel_size", AT_INT | AT_LIST, 1},
    {"stride", AT_INT | AT_LIST, 0},
    {"padding", AT_INT | AT_LIST, 0},
    {"ceil_mode", AT_BOOL, 0},
    {NULL, 0, 0},
};

const ArgSpec *pool_args(Op op) { (void)op; return spec; }

int pool_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    int64_t k[2], s[2], p[2];
    if (size_arg(cx, A_K, 1, k, "kernel_size"))
        return -1;
    if (size_arg(cx, A_STRIDE, 1, s, "stride") || size_arg(cx, A_PAD, 0, p, "padding"))
        return -1;
    if (!arg_given(cx, A_STRIDE)) {
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
    for (int j = 0; j < 2; j++)
        n->pool.kernel_size[j] = k[j], n->pool.stride[j] = s[j], n->pool.padding[j] = p[j];
    n->pool.ceil_mode = arg_bool(cx, A_CEIL, 0);
    return 0;
}

/* PyTorch's pooling_output_shape: the windows along one dimension of size
 * len (span = len + 2 pad - k >= 0); with ceil_mode a last partial window
 * counts when it starts inside the input or its left padding. */
static int64_t pool_out(int64_t len, int64_t span, int64_t s, int64_t pad, int ceil)
{
    int64_t o = (span + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= len + pad)
        o--;
    return o;
}

int pool_shape(Graph *g, Node *n, Diag *d)
{
    const PoolAttrs *at = &n->pool;
    const int ceil = at->ceil_mode != 0;
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    if (is1d(n)) {
        if (in->ndim != 2) {
            diag_error(d, n->span, "%s expects a [channels, length] input, but its input has shape %s",
                       op_info[n->op].name, shape_str(in, buf, sizeof buf));
            return -1;
        }
        int64_t ow = in->d[1] + 2 * at->padding[1] - at->kernel_size[1];
        if (ow < 0) {
            diag_error(d, n->span, "%s: the kernel %lld is longer than the padded input %lld",
                       op_info[n->op].name, (long long)at->kernel_size[1], (long long)(in->d[1] + 2 * at->padding[1]));
            return -1;
        }
        n->shape.ndim = 2;
        n->shape.d[0] = in->d[0];
        n->shape.d[1] = pool_out(in->d[1], ow, at->stride[1], at->padding[1], ceil);
        return 0;
    }
    if (in->ndim != 3) {
        diag_error(d, n->span, "%s expects a [channels, height, width] input, but its input has shape %s",
                   op_info[n->op].name, shape_str(in, buf, sizeof buf));
        return -1;
    }
    int64_t oh = in->d[1] + 2 * at->padding[0] - at->kernel_size[0];
    int64_t ow = in->d[2] + 2 * at->padding[1] - at->kernel_size[1];
    if (oh < 0 || ow < 0) {
        diag_error(d, n->span, "%s: the kernel %lldx%lld is larger than the padded input %lldx%lld",
                   op_info[n->op].name, (long long)at->kernel_size[0], (long long)at->kernel_size[1],
                   (long long)(in->d[1] + 2 * at->padding[0]), (long long)(in->d[2] + 2 * at->padding[1]));
        return -1;
    }
    n->shape.ndim = 3;
    n->shape.d[0] = in->d[0];
    n->shape.d[1] = pool_out(in->d[1], oh, at->stride[0], at->padding[0], ceil);
    n->shape.d[2] = pool_out(in->d[2], ow, at->stride[1], at->padding[1], ceil);
    return 0;
}

static int is_max(const Node *n) { return n->op == OP_MAXPOOL2D || n->op == OP_MAXPOOL1D; }

/* The kernels' nnr_pool2d_shape of node n, set on call c. */
static void kshape(const Graph *g, const Node *n, KCall *c)
{
    const PoolAttrs *at = &n->pool;
    const Shape *in = ir_value_shape(g, n->in[0]);
    const int one = is1d(n);
    const int64_t s[] = {in->d[0], one ? 1 : in->d[1], in->d[one ? 1 : 2], at->kernel_size[0], at->kernel_size[1],
                         at->stride[0], at->stride[1],
                         at->padding[0], at->padding[1], one ? 1 : n->shape.d[1], n->shape.d[one ? 1 : 2]};
    static const char *const fields[] = {"channels", "in_h", "in_w", "kernel_h", "kernel_w",
                                         "stride_h", "stride_w", "padding_h", "padding_w",
                                         "out_h", "out_w"};
    _Static_assert(sizeof fields / sizeof fields[0] == sizeof s / sizeof s[0], "a name per field");
    kcall_shape(c, "nnr_pool2d_shape", fields, s, (int)(sizeof s / sizeof s[0]));
}

void pool_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, is_max(n) ? "nnr_maxpool2d_f32" : "nnr_avgpool2d_f32");
    kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void pool_emit_train(EmitCtx *e, const Node *n) { pool_emit(e, n); }

void pool_grad(EmitCtx *e, const Node *n)
{
    if (!DVAL(e, n->in[0]))
        return;
    KCall c;
    kcall_init(&c, is_max(n) ? "nnr_maxpool2d_backward_f32" : "nnr_avgpool2d_backward_f32");
    kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    if (is_max(n))
        kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_DVAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    op_emit_call(e, n, &c);
}

int64_t pool_flops(const Graph *g, const Node *n)
{
    (void)g;
    return shape_numel(&n->shape) * n->pool.kernel_size[0] * n->pool.kernel_size[1];
}

void pool_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

void pool_print(FILE *out, const Node *n)
{
    const PoolAttrs *a = &n->pool;
    fprintf(out, " kernel_size=%lldx%lld stride=%lldx%lld padding=%lldx%lld", (long long)a->kernel_size[0],
            (long long)a->kernel_size[1], (long long)a->stride[0], (long long)a->stride[1], (long long)a->padding[0],
            (long long)a->padding[1]);
}

/* kernel_size= (kernel= is the IR text's older spelling), stride=, padding= */
int pool_parse(IrLx *x, Node *n, const char *key)
{
    PoolAttrs *a = &n->pool;
    int64_t *v = !strcmp(key, "kernel_size") || !strcmp(key, "kernel") ? a->kernel_size
                 : !strcmp(key, "stride")                               ? a->stride
                 : !strcmp(key, "padding")                              ? a->padding
                                                                        : NULL;
    if (!v)
        return 0;
    return ir_lx_pair(x, v, v + 1) ? -1 : 1;
}

int pool_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    (void)g;
    const PoolAttrs *a = &n->pool;
    if (a->kernel_size[0] < 1 || a->kernel_size[1] < 1 || a->stride[0] < 1 || a->stride[1] < 1 || a->padding[0] < 0 ||
        a->padding[1] < 0) {
        snprintf(why, len, "kernel_size=%lldx%lld stride=%lldx%lld padding=%lldx%lld", (long long)a->kernel_size[0],
                 (long long)a->kernel_size[1], (long long)a->stride[0], (long long)a->stride[1], (long long)a->padding[0],
                 (long long)a->padding[1]);
        return 1;
    }
    return 0;
}
