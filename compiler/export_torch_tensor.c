/* export_torch_tensor.c — the PyTorch spelling of the tensor operations of
 * `forward` (export_torch.h): the operators, matmul, cat, slice (narrow),
 * transpose, permute, reshape, flatten, mean and sum. Values carry the
 * batch as dimension 0 in the exported module, as in PyTorch; where
 * torch's result would drop to fewer dimensions than nnc's per-sample
 * shape (a reduction to one number, a matmul of vectors), it is reshaped to
 * nnc's shape so that the next line sees what nnc's next node sees. */
#include <string.h>

#include "export_torch.h"

/* "x.reshape(-1, 1)": value x (a name or a call) given nnc's per-sample
 * shape s, the batch first. */
static char *as_shape(const char *x, const Shape *s)
{
    char *r = xasprintf("%s.reshape(-1", x);
    for (int i = 0; i < s->ndim; i++)
        r = xasprintf("%s, %lld", r, (long long)s->d[i]);
    return xasprintf("%s)", r);
}

static char *dims_list(const Node *n, int count)
{
    char *s = xstrdup("");
    for (int k = 0; k < count; k++)
        s = xasprintf("%s%s%d", s, k ? ", " : "", (int)n->attr[k]);
    return s;
}

char *xt_forward_tensor(const Graph *g, const Node *n, char *const *in)
{
    const char *x = in[0];
    switch (n->op) {
    case OP_ADD:
        return xasprintf("%s + %s", x, in[1]);
    case OP_SUB:
        return xasprintf("%s - %s", x, in[1]);
    case OP_MUL:
        return xasprintf("%s * %s", x, in[1]);
    case OP_DIV:
        return xasprintf("%s / %s", x, in[1]);
    case OP_ADD_SCALAR:     /* x - c is add_scalar(x, -c) */
        if (n->attr[0] < 0)
            return xasprintf("%s - %s", x, xt_num(-n->attr[0]));
        return xasprintf("%s + %s", x, xt_num(n->attr[0]));
    case OP_RSUB_SCALAR:
        return xasprintf("%s - %s", xt_num(n->attr[0]), x);
    case OP_MUL_SCALAR:
        return xasprintf("%s * %s", x, xt_num(n->attr[0]));
    case OP_DIV_SCALAR:
        return xasprintf("%s / %s", x, xt_num(n->attr[0]));
    case OP_RDIV_SCALAR:
        return xasprintf("%s / %s", xt_num(n->attr[0]), x);
    case OP_MATMUL: {
        int ra = ir_value_shape(g, n->in[0])->ndim, rb = ir_value_shape(g, n->in[1])->ndim;
        if (ra >= 2 && rb >= 2)
            return xasprintf("torch.matmul(%s, %s)", x, in[1]);
        /* a vector operand of a sample: a row (left) or a column (right) */
        char *a = ra == 1 ? xasprintf("%s.unsqueeze(-2)", x) : xstrdup(x);
        char *b = rb == 1 ? xasprintf("%s.unsqueeze(-1)", in[1]) : xstrdup(in[1]);
        return as_shape(xasprintf("torch.matmul(%s, %s)", a, b), &n->shape);
    }
    case OP_CAT: {
        char *l = xstrdup("");
        for (int k = 0; k < n->nin; k++)
            l = xasprintf("%s%s%s", l, k ? ", " : "", in[k]);
        return xasprintf("torch.cat([%s], dim=%d)", l, (int)n->attr[0]);
    }
    case OP_SLICE:
        return xasprintf("torch.narrow(%s, %d, %lld, %lld)", x, (int)n->attr[0], (long long)n->attr[1],
                         (long long)(n->attr[2] - n->attr[1]));
    case OP_TRANSPOSE:
        return xasprintf("torch.transpose(%s, %d, %d)", x, (int)n->attr[0], (int)n->attr[1]);
    case OP_PERMUTE:
        return xasprintf("%s.permute(0, %s)", x, dims_list(n, n->permute.ndims));
    case OP_RESHAPE:
        return as_shape(x, &n->shape);
    case OP_FLATTEN:
        if (n->attr[0] == 1 && n->attr[1] == -1)
            return xasprintf("torch.flatten(%s, 1)", x);
        return xasprintf("torch.flatten(%s, %d, %d)", x, (int)n->attr[0], (int)n->attr[1]);
    case OP_MEAN:
    case OP_SUM:
    case OP_AMAX:
    case OP_AMIN: {
        char *dims = xstrdup("");
        int count = 0, rank = ir_value_shape(g, n->in[0])->ndim;
        for (int d = 1; d <= rank; d++)
            if (n->reduce.dims & (1 << d))
                dims = xasprintf("%s%s%d", dims, count++ ? ", " : "", d);
        char *e = xasprintf("torch.%s(%s, dim=%s%s%s%s)", op_info[n->op].name, x,
                            count > 1 ? "(" : "", dims, count > 1 ? ")" : "",
                            n->attr[0] != 0 ? ", keepdim=True" : "");
        return count == rank && n->attr[0] == 0 ? as_shape(e, &n->shape) : e;
    }
    default:
        return NULL;
    }
}
