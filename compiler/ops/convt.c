/* convt.c — conv_transpose2d (PyTorch nn.ConvTranspose2d, NCHW): weight
 * [in, out/groups, kh, kw], stride, padding, output_padding, groups,
 * dilation; output (h - 1)·stride - 2·padding + dilation·(k - 1) +
 * output_padding + 1. Kernels: runtime/kernels/conv_t.c. */
#include <math.h>

#include "ops.h"
#include "conv_int.h"
#include "nnr_prog.h"

enum { A_IN, A_OUT, A_K, A_STRIDE, A_PAD, A_OPAD, A_GROUPS, A_BIAS, A_DIL };
static const ArgSpec spec[] = {
    {"in_channels", AT_INT, 1},
    {"out_channels", AT_INT, 1},
    {"kernel_size", AT_INT | AT_LIST, 1},
    {"stride", AT_INT | AT_LIST, 0},
    {"padding", AT_INT | AT_LIST, 0},
    {"output_padding", AT_INT | AT_LIST, 0},
    {"groups", AT_INT, 0},
    {"bias", AT_BOOL, 0},
    {"dilation", AT_INT | AT_LIST, 0},
    {NULL, 0, 0},
};

const ArgSpec *convt_args(Op op) { (void)op; return spec; }

int convt_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    ConvAttrs *at = &n->conv;
    int64_t k[2], s[2], p[2], op[2], d[2];
    at->in_channels = arg_int(cx, A_IN, 0);
    at->out_channels = arg_int(cx, A_OUT, 0);
    at->groups = arg_int(cx, A_GROUPS, 1);
    if (arg_pair(cx, A_K, 1, k, "kernel_size") || arg_pair(cx, A_STRIDE, 1, s, "stride") ||
        arg_pair(cx, A_PAD, 0, p, "padding") || arg_pair(cx, A_OPAD, 0, op, "output_padding") ||
        arg_pair(cx, A_DIL, 1, d, "dilation"))
        return -1;
    if (at->in_channels <= 0 || at->out_channels <= 0 || k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0 ||
        d[0] <= 0 || d[1] <= 0 || p[0] < 0 || p[1] < 0 || op[0] < 0 || op[1] < 0) {
        diag_error(cx->d, cx->layer_span, "conv_transpose2d: channels, kernel_size, stride and dilation must be positive, padding and output_padding not negative");
        return -1;
    }
    if (k[0] > 4096 || k[1] > 4096 || s[0] > 4096 || s[1] > 4096 || p[0] > 4096 || p[1] > 4096 ||
        d[0] > 4096 || d[1] > 4096) {
        diag_error(cx->d, cx->layer_span, "conv_transpose2d: kernel_size, stride, padding or dilation is absurdly large");
        return -1;
    }
    for (int j = 0; j < 2; j++)
        if (op[j] >= s[j] && op[j] >= d[j]) {
            diag_error(cx->d, arg_span(cx, A_OPAD), "conv_transpose2d: output_padding (%lld) must be smaller than either stride (%lld) or dilation (%lld), as in PyTorch",
                       (long long)op[j], (long long)s[j], (long long)d[j]);
            return -1;
        }
    if (at->groups <= 0 || at->in_channels % at->groups || at->out_channels % at->groups) {
        diag_error(cx->d, arg_span(cx, A_GROUPS), "conv_transpose2d: groups = %lld must be positive and divide in_channels (%lld) and out_channels (%lld)",
                   (long long)at->groups, (long long)at->in_channels, (long long)at->out_channels);
        return -1;
    }
    for (int j = 0; j < 2; j++) {
        at->kernel_size[j] = k[j], at->stride[j] = s[j], at->padding[j] = p[j];
        at->output_padding[j] = op[j], at->dilation[j] = d[j];
    }
    at->bias = arg_bool(cx, A_BIAS, 1);
    int64_t og = at->out_channels / at->groups;
    /* PyTorch's fan_in of a [in, out/groups, kh, kw] weight: out/groups·kh·kw */
    float bound = (float)(1.0 / sqrt((double)(og * at->kernel_size[0] * at->kernel_size[1])));
    int64_t ws[4] = {at->in_channels, og, at->kernel_size[0], at->kernel_size[1]};
    op_param(cx, "weight", 4, ws, NNR_T_PARAM, INIT_UNIFORM, bound);
    if (at->bias)
        op_param(cx, "bias", 1, &at->out_channels, NNR_T_PARAM, INIT_UNIFORM, bound);
    return 0;
}

int convt_shape(Graph *g, Node *n, Diag *d)
{
    const ConvAttrs *at = &n->conv;
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    if (in->ndim != 3) {
        diag_error(d, n->span, "conv_transpose2d expects a [channels, height, width] input, but its input has shape %s",
                   shape_str(in, buf, sizeof buf));
        return -1;
    }
    if (in->d[0] != at->in_channels) {
        diag_error(d, n->span, "conv_transpose2d(%lld, %lld, ...) expects %lld input channels, but its input has shape %s (%lld channels)",
                   (long long)at->in_channels, (long long)at->out_channels, (long long)at->in_channels,
                   shape_str(in, buf, sizeof buf), (long long)in->d[0]);
        return -1;
    }
    int64_t oh = (in->d[1] - 1) * at->stride[0] - 2 * at->padding[0] + at->dilation[0] * (at->kernel_size[0] - 1) +
                 at->output_padding[0] + 1;
    int64_t ow = (in->d[2] - 1) * at->stride[1] - 2 * at->padding[1] + at->dilation[1] * (at->kernel_size[1] - 1) +
                 at->output_padding[1] + 1;
    if (oh <= 0 || ow <= 0 || oh > (1 << 20) || ow > (1 << 20)) {
        diag_error(d, n->span, "conv_transpose2d: the output of a %lldx%lld input would be %lldx%lld",
                   (long long)in->d[1], (long long)in->d[2], (long long)oh, (long long)ow);
        return -1;
    }
    n->shape.ndim = 3;
    n->shape.d[0] = at->out_channels;
    n->shape.d[1] = oh;
    n->shape.d[2] = ow;
    return 0;
}

void convt_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_conv_transpose2d_f32");
    conv_kcall_shape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_PARAM, n->conv.bias ? n->param[1] : -1, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_SCRATCH, 0, 0);
    c.scratch_fn = "nnr_conv_transpose2d_scratch";
    c.wrap = 2;
    op_emit_call(e, n, &c);
}

void convt_emit_train(EmitCtx *e, const Node *n) { convt_emit(e, n); }

void convt_grad(EmitCtx *e, const Node *n) { conv_grad_call(e, n, "nnr_conv_transpose2d_backward_f32"); }

int64_t convt_flops(const Graph *g, const Node *n)
{
    const ConvAttrs *at = &n->conv;
    /* every input value meets out/groups·kh·kw weights */
    return 2 * shape_numel(ir_value_shape(g, n->in[0])) * (at->out_channels / at->groups) * at->kernel_size[0] *
           at->kernel_size[1];
}

void convt_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

int convt_nparams(const Node *n)
{
    /* weight [in, out/groups, kh, kw], bias [out] */
    return 1 + n->conv.bias;
}

void convt_print(FILE *out, const Node *n)
{
    conv_print_attrs(out, n);
}

int convt_parse(IrLx *x, Node *n, const char *key)
{
    return conv_parse_attr(x, n, key);
}

int convt_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    return conv_verify(g, n, why, len);
}
