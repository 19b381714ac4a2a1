/* conv.c — convolutions read by im2col + GEMM kernels (runtime/kernels/
 * conv.c): conv2d, NCHW, and conv1d, NCL (run as a conv2d of height 1),
 * with PyTorch's stride, padding (a number, a pair, or "valid"/"same"),
 * dilation and groups (weight [out, in/groups, k...]; depthwise when
 * groups = in_channels). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ops.h"
#include "conv_int.h"
#include "nnr_prog.h"

enum { A_IN, A_OUT, A_K, A_STRIDE, A_PAD, A_DIL, A_GROUPS, A_BIAS };
static const ArgSpec spec[] = {
    {"in_channels", AT_INT, 1},
    {"out_channels", AT_INT, 1},
    {"kernel_size", AT_INT | AT_LIST, 1},
    {"stride", AT_INT | AT_LIST, 0},
    {"padding", AT_INT | AT_LIST | AT_STR, 0},
    {"dilation", AT_INT | AT_LIST, 0},
    {"groups", AT_INT, 0},
    {"bias", AT_BOOL, 0},
    {NULL, 0, 0},
};

const ArgSpec *conv_args(Op op) { (void)op; return spec; }

/* A size argument: a pair for conv2d; an integer or [k] for conv1d (then
 * out = {1, k}; a padding {0, p}). */
static int size_arg(BuildCtx *cx, int slot, int64_t dflt, int64_t out[2], const char *what)
{
    if (cx->g->nodes[cx->node].op != OP_CONV1D)
        return arg_pair(cx, slot, dflt, out, what);
    out[0] = dflt == 0 ? 0 : 1;
    out[1] = dflt;
    if (!arg_given(cx, slot))
        return 0;
    return arg_int_list(cx, slot, &out[1], 1, what) < 0 ? -1 : 0;
}

/* padding = "valid" (none) or "same" (stride 1; the kernel's reach
 * d·(k - 1) split evenly: an odd reach, which PyTorch pads unevenly, is an
 * error). 0 when handled, 1 when padding is not a string, -1 on error. */
static int pad_string(BuildCtx *cx, const int64_t k[2], const int64_t s[2], const int64_t d[2],
                      int64_t p[2])
{
    const char *ps = arg_str(cx, A_PAD);
    const char *name = op_info[cx->g->nodes[cx->node].op].name;
    if (!ps)
        return 1;
    if (!strcmp(ps, "valid")) {
        p[0] = p[1] = 0;
        return 0;
    }
    if (strcmp(ps, "same")) {
        diag_error(cx->d, arg_span(cx, A_PAD), "%s: padding must be a number, a list, \"valid\" or \"same\", not \"%s\"",
                   name, ps);
        return -1;
    }
    if (s[0] != 1 || s[1] != 1) {
        diag_error(cx->d, arg_span(cx, A_PAD), "%s: padding = \"same\" needs stride 1 (as in PyTorch)", name);
        return -1;
    }
    for (int j = 0; j < 2; j++) {
        int64_t reach = d[j] * (k[j] - 1);
        if (reach % 2) {
            diag_error(cx->d, arg_span(cx, A_PAD), "%s: padding = \"same\" with an even kernel reach (dilation x (kernel_size - 1) = %lld) pads unevenly, which nnc does not support; give the padding as numbers",
                       name, (long long)reach);
            return -1;
        }
        p[j] = reach / 2;
    }
    return 0;
}

/* Kernel, stride, padding, dilation and groups from the arguments into n. */
static int conv_geometry(BuildCtx *cx, Node *n)
{
    ConvAttrs *at = &n->conv;
    int64_t k[2], s[2], p[2] = {0, 0}, d[2];
    const char *name = op_info[n->op].name;
    if (size_arg(cx, A_K, 1, k, "kernel_size") || size_arg(cx, A_STRIDE, 1, s, "stride") ||
        size_arg(cx, A_DIL, 1, d, "dilation"))
        return -1;
    int ps = pad_string(cx, k, s, d, p);
    if (ps < 0 || (ps > 0 && size_arg(cx, A_PAD, 0, p, "padding")))
        return -1;
    at->groups = arg_int(cx, A_GROUPS, 1);
    if (at->in_channels <= 0 || at->out_channels <= 0 || k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0 ||
        p[0] < 0 || p[1] < 0 || d[0] <= 0 || d[1] <= 0) {
        diag_error(cx->d, cx->layer_span, "%s: channels, kernel_size, stride and dilation must be positive, padding not negative",
                   name);
        return -1;
    }
    if (k[0] > 4096 || k[1] > 4096 || p[0] > 4096 || p[1] > 4096 || d[0] > 4096 || d[1] > 4096 ||
        s[0] > 4096 || s[1] > 4096) {
        diag_error(cx->d, cx->layer_span, "%s: kernel_size, stride, padding or dilation is absurdly large", name);
        return -1;
    }
    if (at->groups <= 0 || at->in_channels % at->groups || at->out_channels % at->groups) {
        diag_error(cx->d, arg_span(cx, A_GROUPS), "%s: groups = %lld must be positive and divide in_channels (%lld) and out_channels (%lld)",
                   name, (long long)at->groups, (long long)at->in_channels, (long long)at->out_channels);
        return -1;
    }
    for (int j = 0; j < 2; j++)
        at->kernel_size[j] = k[j], at->stride[j] = s[j], at->padding[j] = p[j], at->dilation[j] = d[j];
    return 0;
}

int conv_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    ConvAttrs *at = &n->conv;
    at->in_channels = arg_int(cx, A_IN, 0);
    at->out_channels = arg_int(cx, A_OUT, 0);
    if (conv_geometry(cx, n))
        return -1;
    at->bias = arg_bool(cx, A_BIAS, 1);
    int64_t cin = at->in_channels / at->groups;
    float bound = (float)(1.0 / sqrt((double)(cin * at->kernel_size[0] * at->kernel_size[1])));
    int64_t ws2[4] = {at->out_channels, cin, at->kernel_size[0], at->kernel_size[1]};
    int64_t ws1[3] = {at->out_channels, cin, at->kernel_size[1]};
    if (n->op == OP_CONV1D)
        op_param(cx, "weight", 3, ws1, NNR_T_PARAM, INIT_UNIFORM, bound);
    else
        op_param(cx, "weight", 4, ws2, NNR_T_PARAM, INIT_UNIFORM, bound);
    if (at->bias)
        op_param(cx, "bias", 1, &at->out_channels, NNR_T_PARAM, INIT_UNIFORM, bound);
    return 0;
}

int conv_shape(Graph *g, Node *n, Diag *d)
{
    const ConvAttrs *at = &n->conv;
    const Shape *in = ir_value_shape(g, n->in[0]);
    const int one = n->op == OP_CONV1D;
    const char *name = op_info[n->op].name;
    char buf[64];
    if (in->ndim != (one ? 2 : 3)) {
        diag_error(d, n->span, "%s expects a %s input, but its input has shape %s", name,
                   one ? "[channels, length]" : "[channels, height, width]", shape_str(in, buf, sizeof buf));
        return -1;
    }
    if (in->d[0] != at->in_channels) {
        diag_error(d, n->span, "%s(%lld, %lld, ...) expects %lld input channels, but its input has shape %s (%lld channels)",
                   name, (long long)at->in_channels, (long long)at->out_channels, (long long)at->in_channels,
                   shape_str(in, buf, sizeof buf), (long long)in->d[0]);
        return -1;
    }
    const int64_t h = one ? 1 : in->d[1], w = in->d[one ? 1 : 2];
    int64_t oh = h + 2 * at->padding[0] - at->dilation[0] * (at->kernel_size[0] - 1) - 1;
    int64_t ow = w + 2 * at->padding[1] - at->dilation[1] * (at->kernel_size[1] - 1) - 1;
    if (oh < 0 || ow < 0) {
        if (one)
            diag_error(d, n->span, "conv1d: the kernel %lld (dilated: %lld) is longer than the padded input %lld",
                       (long long)at->kernel_size[1], (long long)(at->dilation[1] * (at->kernel_size[1] - 1) + 1),
                       (long long)(w + 2 * at->padding[1]));
        else
            diag_error(d, n->span, "conv2d: the kernel %lldx%lld is larger than the padded input %lldx%lld",
                       (long long)(at->dilation[0] * (at->kernel_size[0] - 1) + 1),
                       (long long)(at->dilation[1] * (at->kernel_size[1] - 1) + 1),
                       (long long)(h + 2 * at->padding[0]), (long long)(w + 2 * at->padding[1]));
        return -1;
    }
    n->shape.ndim = one ? 2 : 3;
    n->shape.d[0] = at->out_channels;
    if (one) {
        n->shape.d[1] = ow / at->stride[1] + 1;
    } else {
        n->shape.d[1] = oh / at->stride[0] + 1;
        n->shape.d[2] = ow / at->stride[1] + 1;
    }
    if (n->packed == 4 && !conv_packed_ok(g, n)) {
        diag_error(d, n->span, "%s: packed=direct, but the direct kernel does not take this convolution", name);
        return -1;
    }
    if (n->packed == 5 && (!conv_panel_ok(g, n) || n->nin > 1)) {
        diag_error(d, n->span, "%s: packed=oi+panel, but this convolution does not run on panels", name);
        return -1;
    }
    if (n->nin > 1) {   /* fuse-add's residual: added to the output as it is */
        const Shape *r = ir_value_shape(g, n->in[1]);
        if (n->op != OP_CONV2D || r->ndim != n->shape.ndim ||
            memcmp(r->d, n->shape.d, sizeof(int64_t) * (size_t)r->ndim)) {
            diag_error(d, n->span, "%s: the residual it adds has shape %s, not its output's %s", name,
                       shape_str(r, buf, sizeof buf), shape_str(&n->shape, (char[64]){0}, 64));
            return -1;
        }
    }
    return 0;
}

/* The kernels' nnr_conv2d_shape of node n (a conv1d as height 1). */
static void conv_kshape(const Graph *g, const Node *n, int64_t s[15])
{
    const ConvAttrs *at = &n->conv;
    const Shape *in = ir_value_shape(g, n->in[0]);
    const int one = n->op == OP_CONV1D;
    const int64_t v[15] = {in->d[0], one ? 1 : in->d[1], in->d[one ? 1 : 2], at->out_channels,
                           at->kernel_size[0], at->kernel_size[1],
                           at->stride[0], at->stride[1], at->padding[0], at->padding[1], one ? 1 : n->shape.d[1],
                           n->shape.d[one ? 1 : 2], at->dilation[0], at->dilation[1], at->groups};
    memcpy(s, v, sizeof v);
}

static const char *const conv_fields[] = {
    "in_channels", "in_h", "in_w", "out_channels", "kernel_h", "kernel_w", "stride_h", "stride_w",
    "padding_h", "padding_w", "out_h", "out_w", "dilation_h", "dilation_w", "groups"};

/* The shape struct of node n on call c: its conv geometry (conv1d, conv2d)
 * or its own (conv_transpose2d: in = its input, out = its output). */
void conv_kcall_shape(const Graph *g, const Node *n, KCall *c)
{
    const ConvAttrs *at = &n->conv;
    int64_t s[15];
    if (n->op == OP_CONV_TRANSPOSE2D) {
        const Shape *in = ir_value_shape(g, n->in[0]);
        const int64_t v[15] = {in->d[0], in->d[1], in->d[2], at->out_channels, at->kernel_size[0], at->kernel_size[1],
                               at->stride[0], at->stride[1], at->padding[0], at->padding[1], n->shape.d[1],
                               n->shape.d[2], at->dilation[0], at->dilation[1], at->groups};
        memcpy(s, v, sizeof v);
    } else {
        conv_kshape(g, n, s);
    }
    kcall_shape(c, "nnr_conv2d_shape", conv_fields, s, 15);
}

const char *conv_shape_c(const Graph *g, const Node *n)
{
    KCall c;
    kcall_init(&c, "nnr_conv2d_shape");
    conv_kcall_shape(g, n, &c);
    return kcall_shape_c(&c);
}

/* Does the direct kernel (nnr_conv2d_packed_ok) take conv2d node n? With
 * panel, does its batch of one run as the transposed product on
 * pre-packed panels instead (nnr_conv2d_panel_ok)? */
static int conv_ok(const Graph *g, const Node *n, int panel)
{
    if (n->op != OP_CONV2D)
        return 0;
    int64_t v[15];
    conv_kshape(g, n, v);
    for (int k = 0; k < 15; k++)
        if (v[k] < 0 || v[k] > 1 << 20)
            return 0;
    nnr_conv2d_shape s = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6],
                          (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11], (int)v[12],
                          (int)v[13], (int)v[14]};
    return panel ? nnr_conv2d_panel_ok(&s) : nnr_conv2d_packed_ok(&s);
}

int conv_packed_ok(const Graph *g, const Node *n) { return conv_ok(g, n, 0); }
int conv_panel_ok(const Graph *g, const Node *n) { return conv_ok(g, n, 1); }

/* packed=direct: nnr_conv2d_packed_f32 (its residual or NULL); a residual
 * (fuse-add) with the weight as PyTorch's: nnr_conv2d_add_f32;
 * packed=oi+panel: nnr_conv2d_panel_f32. */
void conv_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    const int res = n->nin > 1, packed = n->packed == 4;
    kcall_init(&c, packed ? "nnr_conv2d_packed_f32" : res ? "nnr_conv2d_add_f32"
                   : n->packed == 5 ? "nnr_conv2d_panel_f32" : "nnr_conv2d_f32");
    conv_kcall_shape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_PARAM, n->param[0], 0);
    kcall_arg(&c, KA_PARAM, n->conv.bias ? n->param[1] : -1, 0);
    if (res)
        kcall_arg(&c, KA_VAL, n->in[1], 0);
    else if (packed)
        kcall_arg(&c, KA_PARAM, -1, 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_ACT, n->fused_act, 0);
    kcall_arg(&c, KA_F32, 0, n->fused_param);
    kcall_arg(&c, KA_SCRATCH, 0, 0);
    c.scratch_fn = "nnr_conv2d_scratch";
    c.wrap = 2;
    op_emit_call(e, n, &c);
}

void conv_emit_train(EmitCtx *e, const Node *n) { conv_emit(e, n); }

void conv_grad_call(EmitCtx *e, const Node *n, const char *fn)
{
    KCall c;
    kcall_init(&c, fn);
    conv_kcall_shape(e->g, n, &c);
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_weight_grad_args(&c, e, n);
    kcall_arg(&c, KA_SCRATCH, 0, 0);
    c.wrap = 2;
    c.wrap_indent = 19;
    op_emit_call(e, n, &c);
}

void conv_grad(EmitCtx *e, const Node *n) { conv_grad_call(e, n, "nnr_conv2d_backward_f32"); }

int64_t conv_flops(const Graph *g, const Node *n)
{
    const ConvAttrs *at = &n->conv;
    (void)g;
    return 2 * shape_numel(&n->shape) * (at->in_channels / at->groups) * at->kernel_size[0] * at->kernel_size[1];
}

void conv_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

int64_t op_scratch(const Graph *g, const Node *n)
{
    if (n->op != OP_CONV2D && n->op != OP_CONV1D && n->op != OP_CONV_TRANSPOSE2D)
        return 0;
    KCall c;
    kcall_init(&c, "nnr_conv2d_shape");
    conv_kcall_shape(g, n, &c);
    const int64_t *v = c.shape;
    nnr_conv2d_shape s = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6],
                          (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11], (int)v[12],
                          (int)v[13], (int)v[14]};
    return (int64_t)(n->op == OP_CONV_TRANSPOSE2D ? nnr_conv_transpose2d_scratch(&s) : nnr_conv2d_scratch(&s));
}

int conv_nparams(const Node *n)
{
    /* weight [out, in/groups, k...], bias [out] */
    return 1 + n->conv.bias;
}

/* The pair "AxB" of a[0], a[1]. */
static void print_pair(FILE *out, const char *key, const int64_t *a)
{
    fprintf(out, " %s=%lldx%lld", key, (long long)a[0], (long long)a[1]);
}

void conv_print_attrs(FILE *out, const Node *n)
{
    const ConvAttrs *c = &n->conv;
    fprintf(out, " in_channels=%lld out_channels=%lld", (long long)c->in_channels, (long long)c->out_channels);
    print_pair(out, "kernel_size", c->kernel_size);
    print_pair(out, "stride", c->stride);
    print_pair(out, "padding", c->padding);
    fprintf(out, " bias=%d", c->bias);
    if (c->dilation[0] != 1 || c->dilation[1] != 1)
        print_pair(out, "dilation", c->dilation);
    if (c->groups != 1)
        fprintf(out, " groups=%lld", (long long)c->groups);
    if (c->output_padding[0] || c->output_padding[1])
        print_pair(out, "output_padding", c->output_padding);
}

int conv_parse_attr(IrLx *x, Node *n, const char *key)
{
    ConvAttrs *c = &n->conv;
    /* PyTorch's names; in=, out= and kernel= are the IR text's older spellings */
    const struct {
        const char *key;
        int64_t *a, *b;         /* the pair's fields (b NULL: one integer) */
    } keys[] = {
        {"in_channels", &c->in_channels, NULL},
        {"out_channels", &c->out_channels, NULL},
        {"groups", &c->groups, NULL},
        {"kernel_size", c->kernel_size, c->kernel_size + 1},
        {"stride", c->stride, c->stride + 1},
        {"padding", c->padding, c->padding + 1},
        {"dilation", c->dilation, c->dilation + 1},
        {"output_padding", c->output_padding, c->output_padding + 1},
        {"in", &c->in_channels, NULL},
        {"out", &c->out_channels, NULL},
        {"kernel", c->kernel_size, c->kernel_size + 1},
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!strcmp(key, keys[k].key))
            return (keys[k].b ? ir_lx_pair(x, keys[k].a, keys[k].b) : ir_lx_int(x, keys[k].a)) ? -1 : 1;
    if (!strcmp(key, "bias")) {
        int64_t v = 0;
        if (ir_lx_int(x, &v))
            return -1;
        c->bias = v != 0;
        return 1;
    }
    return 0;
}

void conv_print(FILE *out, const Node *n)
{
    conv_print_attrs(out, n);
}

int conv_parse(IrLx *x, Node *n, const char *key)
{
    return conv_parse_attr(x, n, key);
}

/* conv2d/conv1d's weight [out, in / groups, kh, kw] (conv1d: kh = 1),
 * conv_transpose2d's [in, out / groups, kh, kw]: the same count */
int conv_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    const ConvAttrs *at = &n->conv;
    const ConvAttrs *c = &n->conv;
    int64_t want;
    if (c->groups < 1 || __builtin_mul_overflow(c->out_channels, c->in_channels / c->groups, &want) ||
        __builtin_mul_overflow(want, c->kernel_size[0], &want) ||
        __builtin_mul_overflow(want, c->kernel_size[1], &want)) {
        snprintf(why, len, "in_channels=%lld out_channels=%lld groups=%lld kernel_size=%lldx%lld make no weight",
                 (long long)c->in_channels, (long long)c->out_channels, (long long)c->groups,
                 (long long)c->kernel_size[0], (long long)c->kernel_size[1]);
        return 1;
    }
    if (n->nparam >= 1 && n->packed == 4) {
        /* packed=direct: param[0] is the FOLD_PACK_CONV of a [out, k] weight */
        const Param *pw = &g->params[n->param[0]];
        const Fold *pf = pw->fold ? &g->folds[pw->fold - 1] : NULL;
        const int64_t k = at->out_channels > 0 ? want / at->out_channels : 0;
        if (n->op != OP_CONV2D || !pf || pf->kind != FOLD_PACK_CONV || pf->rows != at->out_channels || pf->cols != k) {
            snprintf(why, len, "packed=direct, but its weight %s is not the direct kernel's pack of a [%lld, %lld] weight",
                     pw->name, (long long)at->out_channels, (long long)k);
            return 1;
        }
        want = (int64_t)nnr_conv_packed_size((int)pf->cols, (int)pf->rows);
    }
    if (n->nparam >= 1 && n->packed == 5) {
        /* packed=oi+panel: param[0] is the FOLD_PACK_CONV_PANEL of a [out, k] weight */
        const Param *pw = &g->params[n->param[0]];
        const Fold *pf = pw->fold ? &g->folds[pw->fold - 1] : NULL;
        const int64_t k = at->out_channels > 0 ? want / at->out_channels : 0;
        if (n->op != OP_CONV2D || !pf || pf->kind != FOLD_PACK_CONV_PANEL || pf->rows != at->out_channels ||
            pf->cols != k) {
            snprintf(why, len, "packed=oi+panel, but its weight %s is not the panels of a [%lld, %lld] weight",
                     pw->name, (long long)at->out_channels, (long long)k);
            return 1;
        }
        want = (int64_t)nnr_conv_panel_size((int)pf->cols, (int)pf->rows);
    }
    return op_verify_weight(g, n, want, why, len);
}
