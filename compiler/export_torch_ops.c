/* export_torch_ops.c — each op's PyTorch spelling for `nnc export --torch`:
 * the nn.Module that holds a layer's parameters (named as PyTorch names
 * them, so the state_dict keys are nnc's) and the forward expression of a
 * node. An op missing here is an error of the export, never a guess. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export_torch.h"

char *xt_num(double v)
{
    if (isnan(v))
        return xstrdup("float('nan')");
    if (isinf(v))
        return xstrdup(v > 0 ? "float('inf')" : "float('-inf')");
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    return xstrdup(buf);
}

/* An int, or a pair printed as one int when both are equal ("3", "(3, 5)"). */
static char *pair(int64_t a, int64_t b)
{
    if (a == b)
        return xasprintf("%lld", (long long)a);
    return xasprintf("(%lld, %lld)", (long long)a, (long long)b);
}

/* ", key=value" of a double attribute when it is not PyTorch's default. */
static char *kw_num(const char *key, double v, double dflt)
{
    if (v == dflt)
        return "";
    return xasprintf(", %s=%s", key, xt_num(v));
}

static char *kw_pair(const char *key, int64_t a, int64_t b, int64_t dflt)
{
    if (a == dflt && b == dflt)
        return "";
    return xasprintf(", %s=%s", key, pair(a, b));
}

char *xt_module(const Graph *g, const Node *n)
{
    (void)g;
    switch (n->op) {
    case OP_LINEAR:
        return xasprintf("nn.Linear(%lld, %lld%s)", (long long)n->linear.in_features,
                         (long long)n->linear.out_features, n->linear.bias ? "" : ", bias=False");
    case OP_BATCHNORM1D:
    case OP_BATCHNORM2D:
        return xasprintf("nn.BatchNorm%dd(%lld%s%s)", n->op == OP_BATCHNORM1D ? 1 : 2,
                         (long long)n->batchnorm.num_features, kw_num("eps", n->batchnorm.eps, 1e-5),
                         kw_num("momentum", n->batchnorm.momentum, 0.1));
    default: {
        char *m = xt_module_layers(g, n);
        return m ? m : xt_module_seq(g, n);
    }
    }
}

int xt_helpers(const Node *n)
{
    int h = 0;
    if (n->op == OP_LAYERNORM && n->layernorm.elementwise_affine && !n->layernorm.bias)
        h |= XT_H_NOBIAS;
    if (n->op == OP_SDPA)
        h |= XT_H_SDPA;
    if (n->op == OP_MHA && n->attr[3] != 0)
        h |= XT_H_CAUSAL;
    if (n->op == OP_ARANGE)
        h |= XT_H_BATCH;
    return h;
}

/* F.<fn>(x, attributes of the ATTR rows that differ from PyTorch's default). */
static char *act_call(const Node *n, const char *fn, const char *x)
{
    char *s = xasprintf("%s(%s", fn, x);
    for (int k = 0; k < op_nattr(n->op); k++)
        s = xasprintf("%s%s", s, kw_num(op_attr[n->op][k].name, n->attr[k], op_attr[n->op][k].dflt));
    return xasprintf("%s)", s);
}

char *xt_forward(const Graph *g, const Node *n, const char *mod, char *const *in)
{
    (void)g;
    const char *x = n->nin > 0 ? in[0] : "";
    char *seq = xt_forward_seq(g, n, mod, in);
    if (seq)
        return seq;
    if (mod)
        return xasprintf("%s(%s)", mod, x);
    switch (n->op) {
    case OP_MAXPOOL2D:
    case OP_AVGPOOL2D:
        return xasprintf("F.%s_pool2d(%s, %s%s%s%s)", n->op == OP_MAXPOOL2D ? "max" : "avg", x,
                         pair(n->pool.kernel_size[0], n->pool.kernel_size[1]),
                         xasprintf(", stride=%s", pair(n->pool.stride[0], n->pool.stride[1])),
                         kw_pair("padding", n->pool.padding[0], n->pool.padding[1], 0),
                         n->pool.ceil_mode ? ", ceil_mode=True" : "");
    case OP_IDENTITY:
        return xstrdup(x);
    case OP_DROPOUT:
        return xasprintf("F.dropout(%s, p=%s, training=self.training)", x, xt_num(n->dropout.p));
    case OP_RELU:
        return act_call(n, "F.relu", x);
    case OP_LEAKY_RELU:
        return act_call(n, "F.leaky_relu", x);
    case OP_SIGMOID:
        return act_call(n, "torch.sigmoid", x);
    case OP_TANH:
        return act_call(n, "torch.tanh", x);
    case OP_GELU:
        return act_call(n, "F.gelu", x);
    case OP_SILU:
        return act_call(n, "F.silu", x);
    case OP_ELU:
        return act_call(n, "F.elu", x);
    case OP_SOFTPLUS:
        return act_call(n, "F.softplus", x);
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
        return xasprintf("F.%s(%s, dim=%d)", op_info[n->op].name, x, n->softmax.dim);
    case OP_POW:
        return xasprintf("torch.pow(%s, %s)", x, xt_num(n->attr[0]));
    case OP_EXP: case OP_LOG: case OP_SQRT: case OP_SIGN: case OP_FLOOR: case OP_CEIL:
    case OP_ROUND: case OP_ERF: case OP_SIN: case OP_COS: case OP_TAN: case OP_ASIN:
    case OP_ACOS: case OP_ATAN: case OP_SINH: case OP_COSH: case OP_ASINH: case OP_ACOSH:
    case OP_ATANH:
        return xasprintf("torch.%s(%s)", op_info[n->op].name, x);
    default: {
        char *e = xt_forward_tensor(g, n, in);
        return e ? e : xt_forward_layers(g, n, in);
    }
    }
}
