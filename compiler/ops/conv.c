/* conv.c — 2-D convolution, NCHW (PyTorch nn.Conv2d, groups = 1, dilation = 1). */
#include <math.h>

#include "ops.h"
#include "nnr_prog.h"

enum { A_IN, A_OUT, A_K, A_STRIDE, A_PAD, A_BIAS };
static const ArgSpec spec[] = {
    {"in_channels", AT_INT, 1},
    {"out_channels", AT_INT, 1},
    {"kernel_size", AT_INT | AT_LIST, 1},
    {"stride", AT_INT | AT_LIST, 0},
    {"padding", AT_INT | AT_LIST, 0},
    {"bias", AT_BOOL, 0},
    {NULL, 0, 0},
};

const ArgSpec *conv_args(Op op) { (void)op; return spec; }

int conv_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    int64_t k[2], s[2], p[2];
    n->in_f = arg_int(cx, A_IN, 0);
    n->out_f = arg_int(cx, A_OUT, 0);
    if (arg_pair(cx, A_K, 1, k, "kernel_size") || arg_pair(cx, A_STRIDE, 1, s, "stride") ||
        arg_pair(cx, A_PAD, 0, p, "padding"))
        return -1;
    if (n->in_f <= 0 || n->out_f <= 0 || k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0 ||
        p[0] < 0 || p[1] < 0) {
        diag_error(cx->d, cx->layer_span, "conv2d: channels, kernel_size and stride must be positive, padding not negative");
        return -1;
    }
    if (k[0] > 4096 || k[1] > 4096 || p[0] > 4096 || p[1] > 4096) {
        diag_error(cx->d, cx->layer_span, "conv2d: kernel_size or padding is absurdly large");
        return -1;
    }
    n->kh = k[0]; n->kw = k[1]; n->sh = s[0]; n->sw = s[1]; n->ph = p[0]; n->pw = p[1];
    n->has_bias = arg_bool(cx, A_BIAS, 1);
    float bound = (float)(1.0 / sqrt((double)(n->in_f * n->kh * n->kw)));
    int64_t ws[4] = {n->out_f, n->in_f, n->kh, n->kw};
    op_param(cx, "weight", 4, ws, NNR_T_PARAM, INIT_UNIFORM, bound);
    if (n->has_bias)
        op_param(cx, "bias", 1, &n->out_f, NNR_T_PARAM, INIT_UNIFORM, bound);
    return 0;
}

int conv_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    if (in->ndim != 3) {
        diag_error(d, n->span, "conv2d expects a [channels, height, width] input, but its input has shape %s",
                   shape_str(in, buf, sizeof buf));
        return -1;
    }
    if (in->d[0] != n->in_f) {
        diag_error(d, n->span, "conv2d(%lld, %lld, ...) expects %lld input channels, but its input has shape %s (%lld channels)",
                   (long long)n->in_f, (long long)n->out_f, (long long)n->in_f,
                   shape_str(in, buf, sizeof buf), (long long)in->d[0]);
        return -1;
    }
    int64_t oh = (in->d[1] + 2 * n->ph - n->kh), ow = (in->d[2] + 2 * n->pw - n->kw);
    if (oh < 0 || ow < 0) {
        diag_error(d, n->span, "conv2d: the kernel %lldx%lld is larger than the padded input %lldx%lld",
                   (long long)n->kh, (long long)n->kw, (long long)(in->d[1] + 2 * n->ph),
                   (long long)(in->d[2] + 2 * n->pw));
        return -1;
    }
    n->shape.ndim = 3;
    n->shape.d[0] = n->out_f;
    n->shape.d[1] = oh / n->sh + 1;
    n->shape.d[2] = ow / n->sw + 1;
    return 0;
}

/* The kernels' nnr_conv2d_shape of node n, set on call c. */
static void kshape(const Graph *g, const Node *n, KCall *c)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    const int64_t s[] = {in->d[0], in->d[1], in->d[2], n->out_f, n->kh, n->kw,
                         n->sh, n->sw, n->ph, n->pw, n->shape.d[1], n->shape.d[2]};
    static const char *const fields[] = {"c", "h", "w", "oc", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
    _Static_assert(sizeof fields / sizeof fields[0] == sizeof s / sizeof s[0], "a name per field");
    kcall_shape(c, "nnr_conv2d_shape", fields, s, (int)(sizeof s / sizeof s[0]));
}

static const char *cshape(const Graph *g, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_conv2d_shape");
    kshape(g, n, &c);
    return kcall_shape_c(&c);
}

void conv_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_conv2d_f32");
    kshape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_PARAM, n->has_bias ? n->param[1] : -1, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_ACT, n->fused_act, 0);
    kcall_arg(&c, KA_F32, 0, n->fused_param);
    kcall_arg(&c, KA_SCRATCH, 0, 0);
    c.scratch_fn = "nnr_conv2d_scratch";
    c.wrap = 2;
    op_emit_call(e, n, &c);
}

void conv_emit_train(EmitCtx *e, const Node *n) { conv_emit(e, n); }

void conv_grad(EmitCtx *e, const Node *n)
{
    fprintf(e->out, "    nnr_conv2d_backward_f32(n, %s,\n                   %s, %s, %s, %s, %s, %s, %s);\n",
            cshape(e->g, n), VAL(e, n->in[0]), op_pexpr(e->P, e->g, n->param[0]),
            DVAL(e, n - e->g->nodes), DVAL(e, n->in[0]) ? DVAL(e, n->in[0]) : "NULL",
            op_pexpr(e->G, e->g, n->param[0]),
            n->has_bias ? op_pexpr(e->G, e->g, n->param[1]) : "NULL", e->scratch);
}

int64_t conv_flops(const Graph *g, const Node *n)
{
    (void)g;
    return 2 * shape_numel(&n->shape) * n->in_f * n->kh * n->kw;
}

void conv_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
