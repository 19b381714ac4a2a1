/* matmul.c — `a @ b` and matmul(a, b): torch.matmul of each sample (the
 * batch is dimension 0 of both operands, never broadcast). Per sample:
 * [.., M, K] @ [.., K, N] -> [.., M, N] with the leading dimensions
 * broadcast (both operands of the same rank, else the batch would line
 * up with a feature dimension); a 1-D operand is a row (left) or a column
 * (right) vector whose dimension the result drops, as torch. Kernel:
 * nnr_matmul_f32 (runtime/kernels/tensor.c) over the runtime GEMM. */
#include <string.h>

#include "ops.h"

static const ArgSpec spec[] = {{"input", AT_VALUE, 1}, {"other", AT_VALUE, 1}, {NULL, 0, 0}};

const ArgSpec *matmul_args(Op op) { (void)op; return spec; }
int matmul_build(BuildCtx *cx) { (void)cx; return 0; }

/* f: l0 l1 m k n a0 a1 b0 b1 an bn (nnr_matmul_shape); the output shape. */
static int plan(const Graph *g, const Node *n, int64_t f[11], Shape *out, Diag *d)
{
    const Shape *a = ir_value_shape(g, n->in[0]), *b = ir_value_shape(g, n->in[1]);
    char b1[64], b2[64];
    int ra = a->ndim, rb = b->ndim;
    if (ra >= 2 && rb >= 2 && ra != rb) {
        if (d)
            diag_error(d, n->span, "matmul: shapes [N, %s and [N, %s have different per-sample ranks "
                       "(%d and %d): their batch dimensions would not line up",
                       shape_str(a, b1, sizeof b1) + 1, shape_str(b, b2, sizeof b2) + 1, ra, rb);
        return -1;
    }
    int64_t m = ra >= 2 ? a->d[ra - 2] : 1, ka = a->d[ra - 1];
    int64_t kb = rb >= 2 ? b->d[rb - 2] : b->d[0], nn = rb >= 2 ? b->d[rb - 1] : 1;
    if (ka != kb) {
        if (d)
            diag_error(d, n->span, "matmul: shapes [N, %s and [N, %s cannot be multiplied (%lld and %lld)",
                       shape_str(a, b1, sizeof b1) + 1, shape_str(b, b2, sizeof b2) + 1, (long long)ka,
                       (long long)kb);
        return -1;
    }
    /* leading dimensions, padded to two */
    int64_t la[2] = {1, 1}, lb[2] = {1, 1}, l[2];
    for (int j = 0; j < ra - 2; j++)
        la[2 - (ra - 2) + j] = a->d[j];
    for (int j = 0; j < rb - 2; j++)
        lb[2 - (rb - 2) + j] = b->d[j];
    memset(out, 0, sizeof *out);
    int lead = ra > rb ? ra - 2 : rb - 2;
    for (int j = 0; j < 2; j++) {
        if (la[j] != lb[j] && la[j] != 1 && lb[j] != 1) {
            if (d)
                diag_error(d, n->span, "matmul: shapes [N, %s and [N, %s do not broadcast (%lld and %lld)",
                           shape_str(a, b1, sizeof b1) + 1, shape_str(b, b2, sizeof b2) + 1,
                           (long long)la[j], (long long)lb[j]);
            return -1;
        }
        l[j] = la[j] == 1 ? lb[j] : la[j];
    }
    for (int j = 0; j < lead; j++)
        out->d[out->ndim++] = l[2 - lead + j];
    if (ra >= 2)
        out->d[out->ndim++] = m;
    if (rb >= 2)
        out->d[out->ndim++] = nn;
    if (out->ndim == 0)     /* a dot product per sample: [1] (the rank-1 form of torch's [N]) */
        out->d[out->ndim++] = 1;
    int64_t v[11] = {l[0], l[1], m, ka, nn, la[0] > 1 ? la[1] : 0, la[1] > 1, lb[0] > 1 ? lb[1] : 0,
                     lb[1] > 1, shape_numel(a), shape_numel(b)};
    memcpy(f, v, sizeof v);
    return 0;
}

int matmul_shape(Graph *g, Node *n, Diag *d)
{
    int64_t f[11];
    Shape s;
    if (plan(g, n, f, &s, d))
        return -1;
    n->shape = s;
    return 0;
}

static const char *const fields[] = {"l0", "l1", "m", "k", "n", "a0", "a1", "b0", "b1", "an", "bn"};

void matmul_emit(EmitCtx *e, const Node *n)
{
    int64_t f[11];
    Shape s;
    plan(e->g, n, f, &s, NULL);
    KCall c;
    kcall_init(&c, "nnr_matmul_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n->in[1], 0);
    kcall_arg(&c, KA_VAL, n - e->g->nodes, 0);
    kcall_shape(&c, "nnr_matmul_shape", fields, f, 11);
    c.wrap = 2;
    op_emit_call(e, n, &c);
}

void matmul_emit_train(EmitCtx *e, const Node *n) { matmul_emit(e, n); }

void matmul_grad(EmitCtx *e, const Node *n)
{
    const char *d0 = op_din(e, n, 0), *d1 = op_din(e, n, 1);
    if (!d0 && !d1)
        return;
    int64_t f[11];
    Shape s;
    plan(e->g, n, f, &s, NULL);
    KCall c;
    kcall_init(&c, "nnr_matmul_backward_f32");
    kcall_arg(&c, KA_N, 1, 0);
    kcall_arg(&c, KA_SHAPE, 0, 0);
    kcall_shape(&c, "nnr_matmul_shape", fields, f, 11);
    kcall_arg(&c, KA_VAL, n->in[0], 0);
    kcall_arg(&c, KA_VAL, n->in[1], 0);
    kcall_arg(&c, KA_DVAL, n - e->g->nodes, 0);
    kcall_arg(&c, KA_DIN, 0, 0);
    kcall_arg(&c, KA_DIN, 1, 0);
    c.wrap = 2;
    op_emit_call(e, n, &c);
}

int64_t matmul_flops(const Graph *g, const Node *n)
{
    int64_t f[11];
    Shape s;
    if (plan(g, n, f, &s, NULL))
        return 0;
    return 2 * f[0] * f[1] * f[2] * f[3] * f[4];
}

void matmul_saved(const Graph *g, const Node *n, int64_t *per_sample, int64_t *fixed)
{
    (void)g, (void)n, (void)per_sample, (void)fixed;   /* keeps nothing extra */
}
