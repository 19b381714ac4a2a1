/* resize.c — layers that change the spatial size without parameters:
 * adaptive_avg_pool2d(output_size) (PyTorch's window formula) and
 * upsample(scale_factor, mode = "nearest", align_corners = false)
 * (PyTorch's nn.Upsample: "nearest" of [C, H, W] or [C, L] samples,
 * "bilinear" of [C, H, W], "linear" of [C, L]) over [C, H, W] samples.
 * Kernels: runtime/kernels/resize.c. */
#include <math.h>
#include <string.h>

#include "ops.h"

enum { A_SIZE = 0 };
static const ArgSpec apool_spec[] = {
    {"output_size", AT_INT | AT_LIST, 1},
    {NULL, 0, 0},
};
enum { A_SCALE = 0, A_MODE, A_ALIGN };
static const ArgSpec up_spec[] = {
    {"scale_factor", AT_REAL | AT_LIST, 1},
    {"mode", AT_STR, 0},
    {"align_corners", AT_BOOL, 0},
    {NULL, 0, 0},
};
static const char *const up_modes[] = {"nearest", "linear", "bilinear"};

const ArgSpec *resize_args(Op op) { return op == OP_UPSAMPLE ? up_spec : apool_spec; }

int resize_build(BuildCtx *cx)
{
    Node *n = &cx->g->nodes[cx->node];
    if (n->op == OP_ADAPTIVE_AVG_POOL2D) {
        int64_t o[2];
        if (arg_pair(cx, A_SIZE, 1, o, "output_size"))
            return -1;
        if (o[0] <= 0 || o[1] <= 0 || o[0] > (1 << 20) || o[1] > (1 << 20)) {
            diag_error(cx->d, arg_span(cx, A_SIZE), "adaptive_avg_pool2d: output_size must be positive");
            return -1;
        }
        n->adaptive.output_size[0] = o[0];
        n->adaptive.output_size[1] = o[1];
        return 0;
    }
    const char *mode = arg_str(cx, A_MODE);
    int m = 0;
    while (mode && m < 3 && strcmp(mode, up_modes[m]))
        m++;
    if (m == 3) {
        diag_error(cx->d, arg_span(cx, A_MODE),
                   "upsample: mode \"%s\" is not supported; nnc supports \"nearest\", \"linear\" and \"bilinear\"",
                   mode);
        return -1;
    }
    n->upsample.mode = m;
    n->upsample.align_corners = arg_bool(cx, A_ALIGN, 0);
    if (n->upsample.align_corners && m == UP_NEAREST) {
        diag_error(cx->d, arg_span(cx, A_ALIGN),
                   "upsample: align_corners applies to mode \"linear\" and \"bilinear\" only (as in PyTorch)");
        return -1;
    }
    double sf[2];
    if (arg_real_pair(cx, A_SCALE, 1.0, sf, "scale_factor"))
        return -1;
    if (!(sf[0] > 0 && sf[1] > 0 && sf[0] <= 4096 && sf[1] <= 4096)) {
        diag_error(cx->d, arg_span(cx, A_SCALE), "upsample: scale_factor must be positive");
        return -1;
    }
    n->upsample.scale_factor[0] = sf[0];
    n->upsample.scale_factor[1] = sf[1];
    return 0;
}

int resize_shape(Graph *g, Node *n, Diag *d)
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    char buf[64];
    if (n->op == OP_ADAPTIVE_AVG_POOL2D) {
        if (in->ndim != 3) {
            diag_error(d, n->span, "adaptive_avg_pool2d expects a [channels, height, width] input, but its input has shape %s",
                       shape_str(in, buf, sizeof buf));
            return -1;
        }
        n->shape.ndim = 3;
        n->shape.d[0] = in->d[0];
        n->shape.d[1] = n->adaptive.output_size[0];
        n->shape.d[2] = n->adaptive.output_size[1];
        return 0;
    }
    if (in->ndim != 2 && in->ndim != 3) {
        diag_error(d, n->span, "upsample expects a [channels, length] or [channels, height, width] input, but its input has shape %s",
                   shape_str(in, buf, sizeof buf));
        return -1;
    }
    int m = n->upsample.mode;
    if (m != UP_NEAREST && in->ndim != (m == UP_LINEAR ? 2 : 3)) {
        diag_error(d, n->span, "upsample: mode \"%s\" expects a %s input, but its input has shape %s", up_modes[m],
                   m == UP_LINEAR ? "[channels, length]" : "[channels, height, width]", shape_str(in, buf, sizeof buf));
        return -1;
    }
    n->shape = *in;
    /* PyTorch: floor(size · scale_factor), in double */
    double sc[2] = {n->upsample.scale_factor[0], n->upsample.scale_factor[1]};
    for (int k = 1; k < in->ndim; k++) {
        double o = floor((double)in->d[k] * sc[k - 1 + (in->ndim == 2)]);
        if (o < 1 || o > (1 << 24)) {
            diag_error(d, n->span, "upsample: scale_factor %g makes a dimension of %lld into %g",
                       sc[k - 1 + (in->ndim == 2)], (long long)in->d[k], o);
            return -1;
        }
        n->shape.d[k] = (int64_t)o;
    }
    return 0;
}

/* c, h, w, oh, ow of node n's planes (a [C, L] sample: height 1). */
static void planes(const Graph *g, const Node *n, int64_t v[5])
{
    const Shape *in = ir_value_shape(g, n->in[0]);
    const int one = in->ndim == 2;
    v[0] = in->d[0];
    v[1] = one ? 1 : in->d[1];
    v[2] = in->d[one ? 1 : 2];
    v[3] = one ? 1 : n->shape.d[1];
    v[4] = n->shape.d[one ? 1 : 2];
}

/* PyTorch's source-index ratio of nearest: (float)(1 / scale_factor). */
static double ratio(double sf) { return (double)(float)(1.0 / sf); }

/* The ratio of a linear mode (ATen area_pixel_compute_scale, in float):
 * (in - 1) / (out - 1) with align_corners, else as nearest. */
static double lin_ratio(const UpsampleAttrs *at, double sf, int64_t in, int64_t out)
{
    if (!at->align_corners)
        return ratio(sf);
    return out > 1 ? (double)((float)(in - 1) / (float)(out - 1)) : 0.0;
}

/* The kernel call of upsample or adaptive_avg_pool2d, forward or backward,
 * up to its tensors. */
static void resize_call(EmitCtx *e, const Node *n, KCall *c, int back)
{
    const UpsampleAttrs *at = &n->upsample;
    int64_t v[5];
    planes(e->g, n, v);
    static const char *const fn[2][3] = {
        {"nnr_adaptive_avgpool2d_f32", "nnr_upsample_nearest_f32", "nnr_upsample_linear_f32"},
        {"nnr_adaptive_avgpool2d_backward_f32", "nnr_upsample_nearest_backward_f32",
         "nnr_upsample_linear_backward_f32"}};
    int up = n->op == OP_UPSAMPLE, lin = up && at->mode != UP_NEAREST;
    kcall_init(c, fn[back][up + lin]);
    kcall_arg(c, KA_N, 1, 0);
    for (int k = 0; k < 5; k++)
        kcall_arg(c, KA_INT, v[k], 0);
    if (!up)
        return;
    const int one = ir_value_shape(e->g, n->in[0])->ndim == 2;
    const double sh = one ? 1.0 : at->scale_factor[0], sw = one ? at->scale_factor[0] : at->scale_factor[1];
    kcall_arg(c, KA_F32, 0, one ? 1.0 : lin ? lin_ratio(at, sh, v[1], v[3]) : ratio(sh));
    kcall_arg(c, KA_F32, 0, lin ? lin_ratio(at, sw, v[2], v[4]) : ratio(sw));
    if (lin)
        kcall_arg(c, KA_INT, at->align_corners, 0);
}

void resize_emit(EmitCtx *e, const Node *n)
{
    KCall c;
    resize_call(e, n, &c, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    op_emit_call(e, n, &c);
}

void resize_emit_train(EmitCtx *e, const Node *n) { resize_emit(e, n); }

void resize_grad(EmitCtx *e, const Node *n)
{
    if (!DVAL(e, n->in[0]))
        return;
    KCall c;
    resize_call(e, n, &c, 1);
    kcall_arg(&c, KA_DVAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_DVAL, n->in[0], 0);
    op_emit_call(e, n, &c);
}

int64_t resize_flops(const Graph *g, const Node *n)
{
    if (n->op == OP_UPSAMPLE)   /* linear: 3 multiply-adds per output and dimension */
        return n->upsample.mode == UP_NEAREST ? 0 : 6 * shape_numel(&n->shape);
    return shape_numel(ir_value_shape(g, n->in[0]));
}

void resize_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}

/* adaptive_avg_pool2d: its output_size; upsample: its
 * scale_factor per spatial dimension, and a linear mode (UP_*) with
 * align_corners */
void resize_print(FILE *out, const Node *n)
{
    if (n->op == OP_ADAPTIVE_AVG_POOL2D)
        fprintf(out, " output_size=%lldx%lld", (long long)n->adaptive.output_size[0],
                (long long)n->adaptive.output_size[1]);
    else {
        fprintf(out, " scale_factor=%.17gx%.17g", n->upsample.scale_factor[0], n->upsample.scale_factor[1]);
        if (n->upsample.mode != UP_NEAREST)     /* nearest, the default, is not printed */
            fprintf(out, " mode=%d align_corners=%d", n->upsample.mode, n->upsample.align_corners);
    }
}

int resize_parse(IrLx *x, Node *n, const char *key)
{
    if (n->op == OP_ADAPTIVE_AVG_POOL2D && !strcmp(key, "output_size"))
        return ir_lx_pair(x, &n->adaptive.output_size[0], &n->adaptive.output_size[1]) ? -1 : 1;
    if (n->op == OP_UPSAMPLE && !strcmp(key, "scale_factor"))
        return ir_lx_numpair(x, &n->upsample.scale_factor[0], &n->upsample.scale_factor[1]) ? -1 : 1;
    int64_t v;
    if (n->op == OP_UPSAMPLE && !strcmp(key, "mode")) {
        if (ir_lx_int(x, &v))
            return -1;
        n->upsample.mode = (int)v;
        return 1;
    }
    if (n->op == OP_UPSAMPLE && !strcmp(key, "align_corners")) {
        if (ir_lx_int(x, &v))
            return -1;
        n->upsample.align_corners = (int)v;
        return 1;
    }
    return 0;
}

int resize_verify(const Graph *g, const Node *n, char *why, size_t len)
{
    (void)g;
    const int64_t *os = n->adaptive.output_size;
    const double *sf = n->upsample.scale_factor;
    if (n->op == OP_UPSAMPLE && (n->upsample.mode < UP_NEAREST || n->upsample.mode > UP_BILINEAR ||
                                 n->upsample.align_corners < 0 || n->upsample.align_corners > 1)) {
        snprintf(why, len, "mode %d or align_corners %d out of range", n->upsample.mode, n->upsample.align_corners);
        return 1;
    }
    if (n->op == OP_ADAPTIVE_AVG_POOL2D ? os[0] < 1 || os[1] < 1 : !(sf[0] > 0 && sf[1] > 0)) {
        snprintf(why, len, "%s", n->op == OP_ADAPTIVE_AVG_POOL2D ? "output_size below 1" : "scale_factor not positive");
        return 1;
    }
    return 0;
}
