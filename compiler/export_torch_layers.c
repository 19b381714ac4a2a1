/* export_torch_layers.c — the PyTorch spelling of the convolution, pooling,
 * resizing and normalisation layers (export_torch.h): nn.Conv2d/Conv1d/
 * ConvTranspose2d and nn.LayerNorm hold parameters (named weight, bias as
 * PyTorch names them); the pools, adaptive_avg_pool2d and upsample are
 * F.* calls. Arguments at PyTorch's defaults are left out. */
#include <string.h>

#include "export_torch.h"

/* An int, or a pair printed as one int when both are equal ("3", "(3, 5)"). */
static char *pair(int64_t a, int64_t b)
{
    if (a == b)
        return xasprintf("%lld", (long long)a);
    return xasprintf("(%lld, %lld)", (long long)a, (long long)b);
}

/* ", key=v" (2-d: a pair; 1-d: the width's only) unless at dflt. */
static char *kw(const char *key, int one, int64_t a, int64_t b, int64_t dflt)
{
    if (one)
        return b == dflt ? "" : xasprintf(", %s=%lld", key, (long long)b);
    return a == dflt && b == dflt ? "" : xasprintf(", %s=%s", key, pair(a, b));
}

static int64_t one_if0(int64_t v) { return v ? v : 1; }

char *xt_module_layers(const Graph *g, const Node *n)
{
    (void)g;
    int one = n->op == OP_CONV1D;
    const ConvAttrs *c = &n->conv;     /* the conv cases' */
    int64_t dh = one_if0(c->dilation[0]), dw = one_if0(c->dilation[1]), groups = one_if0(c->groups);
    switch (n->op) {
    case OP_CONV2D:
    case OP_CONV1D:
        return xasprintf("nn.Conv%dd(%lld, %lld, %s%s%s%s%s%s)", one ? 1 : 2, (long long)c->in_channels,
                         (long long)c->out_channels,
                         one ? xasprintf("%lld", (long long)c->kernel_size[1]) : pair(c->kernel_size[0], c->kernel_size[1]),
                         kw("stride", one, c->stride[0], c->stride[1], 1),
                         kw("padding", one, c->padding[0], c->padding[1], 0),
                         kw("dilation", one, dh, dw, 1),
                         groups == 1 ? "" : xasprintf(", groups=%lld", (long long)groups),
                         c->bias ? "" : ", bias=False");
    case OP_CONV_TRANSPOSE2D:
        return xasprintf("nn.ConvTranspose2d(%lld, %lld, %s%s%s%s%s%s%s)", (long long)c->in_channels,
                         (long long)c->out_channels, pair(c->kernel_size[0], c->kernel_size[1]),
                         kw("stride", 0, c->stride[0], c->stride[1], 1),
                         kw("padding", 0, c->padding[0], c->padding[1], 0),
                         kw("output_padding", 0, c->output_padding[0], c->output_padding[1], 0),
                         groups == 1 ? "" : xasprintf(", groups=%lld", (long long)groups),
                         c->bias ? "" : ", bias=False", kw("dilation", 0, dh, dw, 1));
    case OP_LAYERNORM: {
        char *shape = xstrdup(n->layernorm.ndim == 1 ? "" : "[");
        for (int k = 0; k < n->layernorm.ndim; k++)
            shape = xasprintf("%s%s%lld", shape, k ? ", " : "", (long long)n->layernorm.normalized_shape[k]);
        if (n->layernorm.ndim != 1)
            shape = xasprintf("%s]", shape);
        char *m = xasprintf("nn.LayerNorm(%s%s)", shape,
                            n->layernorm.eps == 1e-5 ? "" : xasprintf(", eps=%s", xt_num(n->layernorm.eps)));
        /* bias = false: nn.LayerNorm(bias=False) is PyTorch 2.1's; the
         * module without its bias is the same on every version */
        return n->layernorm.bias ? m : xasprintf("_without_bias(%s)", m);
    }
    default:
        return NULL;
    }
}

char *xt_forward_layers(const Graph *g, const Node *n, char *const *in)
{
    (void)g;
    const char *x = in[0];
    switch (n->op) {
    case OP_MAXPOOL1D:
    case OP_AVGPOOL1D:
        return xasprintf("F.%s_pool1d(%s, %lld, stride=%lld%s%s)", n->op == OP_MAXPOOL1D ? "max" : "avg", x,
                         (long long)n->pool.kernel_size[1], (long long)n->pool.stride[1],
                         kw("padding", 1, 0, n->pool.padding[1], 0),
                         n->pool.ceil_mode ? ", ceil_mode=True" : "");
    case OP_ADAPTIVE_AVG_POOL2D:
        return xasprintf("F.adaptive_avg_pool2d(%s, %s)", x,
                         pair(n->adaptive.output_size[0], n->adaptive.output_size[1]));
    case OP_UPSAMPLE: {
        const Shape *s = ir_value_shape(g, n->in[0]);
        const double *f = n->upsample.scale_factor;
        char *sf = s->ndim == 2 || f[0] == f[1] ? xt_num(f[1]) : xasprintf("(%s, %s)", xt_num(f[0]), xt_num(f[1]));
        static const char *const mode[] = {"nearest", "linear", "bilinear"};
        const UpsampleAttrs *u = &n->upsample;
        return xasprintf("F.interpolate(%s, scale_factor=%s, mode=\"%s\"%s)", x, sf, mode[u->mode],
                         u->mode == UP_NEAREST ? "" : u->align_corners ? ", align_corners=True" : ", align_corners=False");
    }
    case OP_LAYERNORM: {    /* elementwise_affine = false: no parameters, no module */
        char *shape = xstrdup("");
        for (int k = 0; k < n->layernorm.ndim; k++)
            shape = xasprintf("%s%s%lld", shape, k ? ", " : "", (long long)n->layernorm.normalized_shape[k]);
        return xasprintf("F.layer_norm(%s, [%s]%s)", x, shape,
                         n->layernorm.eps == 1e-5 ? "" : xasprintf(", eps=%s", xt_num(n->layernorm.eps)));
    }
    default:
        return NULL;
    }
}
