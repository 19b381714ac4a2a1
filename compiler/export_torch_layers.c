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
    int64_t dh = one_if0(n->dh), dw = one_if0(n->dw), groups = one_if0(n->groups);
    switch (n->op) {
    case OP_CONV2D:
    case OP_CONV1D:
        return xasprintf("nn.Conv%dd(%lld, %lld, %s%s%s%s%s%s)", one ? 1 : 2, (long long)n->in_f,
                         (long long)n->out_f, one ? xasprintf("%lld", (long long)n->kw) : pair(n->kh, n->kw),
                         kw("stride", one, n->sh, n->sw, 1), kw("padding", one, n->ph, n->pw, 0),
                         kw("dilation", one, dh, dw, 1),
                         groups == 1 ? "" : xasprintf(", groups=%lld", (long long)groups),
                         n->has_bias ? "" : ", bias=False");
    case OP_CONV_TRANSPOSE2D:
        return xasprintf("nn.ConvTranspose2d(%lld, %lld, %s%s%s%s%s%s%s)", (long long)n->in_f,
                         (long long)n->out_f, pair(n->kh, n->kw), kw("stride", 0, n->sh, n->sw, 1),
                         kw("padding", 0, n->ph, n->pw, 0), kw("output_padding", 0, n->oph, n->opw, 0),
                         groups == 1 ? "" : xasprintf(", groups=%lld", (long long)groups),
                         n->has_bias ? "" : ", bias=False", kw("dilation", 0, dh, dw, 1));
    case OP_LAYERNORM: {
        char *shape = xstrdup(n->nnorm == 1 ? "" : "[");
        for (int k = 0; k < n->nnorm; k++)
            shape = xasprintf("%s%s%lld", shape, k ? ", " : "", (long long)n->norm_shape[k]);
        if (n->nnorm != 1)
            shape = xasprintf("%s]", shape);
        char *m = xasprintf("nn.LayerNorm(%s%s)", shape,
                            n->eps == 1e-5 ? "" : xasprintf(", eps=%s", xt_num(n->eps)));
        /* bias = false: nn.LayerNorm(bias=False) is PyTorch 2.1's; the
         * module without its bias is the same on every version */
        return n->has_bias ? m : xasprintf("_without_bias(%s)", m);
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
                         (long long)n->kw, (long long)n->sw, kw("padding", 1, 0, n->pw, 0),
                         n->attr[0] ? ", ceil_mode=True" : "");
    case OP_ADAPTIVE_AVG_POOL2D:
        return xasprintf("F.adaptive_avg_pool2d(%s, %s)", x, pair(n->kh, n->kw));
    case OP_UPSAMPLE: {
        const Shape *s = ir_value_shape(g, n->in[0]);
        char *sf = s->ndim == 2 || n->scale_h == n->scale_w ? xt_num(n->scale_w)
                   : xasprintf("(%s, %s)", xt_num(n->scale_h), xt_num(n->scale_w));
        return xasprintf("F.interpolate(%s, scale_factor=%s, mode=\"nearest\")", x, sf);
    }
    case OP_LAYERNORM: {    /* elementwise_affine = false: no parameters, no module */
        char *shape = xstrdup("");
        for (int k = 0; k < n->nnorm; k++)
            shape = xasprintf("%s%s%lld", shape, k ? ", " : "", (long long)n->norm_shape[k]);
        return xasprintf("F.layer_norm(%s, [%s]%s)", x, shape,
                         n->eps == 1e-5 ? "" : xasprintf(", eps=%s", xt_num(n->eps)));
    }
    default:
        return NULL;
    }
}
