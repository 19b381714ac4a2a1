/* test_tensor_ops.c — the tensor ops of version 2 end to end below the
 * front end: a graph read from IR text, each node's inference kernel calls
 * as its family describes them (the KCall that both backends lower),
 * executed here on random inputs, against an evaluator written from
 * PyTorch's definitions (broadcasting by multi-index, torch.matmul, cat,
 * narrow, permute, reshape, flatten, sum/mean) in double. So the shape
 * rules, the broadcast collapsing and the kernel arguments are checked
 * together; the kernels alone are test_kern_tensor.c's. Also: the shape
 * errors a PyTorch user should see. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/ir.h"
#include "ops/ops.h"
#include "passes/pass.h"
#include "nnr.h"

#define NB 3   /* the batch */

static Graph *parse(const char *text, Diag *d, SrcFile *src, int quiet)
{
    src->path = "test.nir";
    src->text = text;
    src->len = strlen(text);
    diag_init(d, src);
    if (quiet)
        d->max_errors = 0;
    return ir_parse(src, d);
}

/* ------------------------------------------------------------ the kernel calls, run */

typedef struct Calls {
    KCall c[NNC_MAX_NODE_INPUTS];
    int n;
} Calls;

static void record(void *ctx, const EmitCtx *e, const Node *n, const KCall *c)
{
    (void)e, (void)n;
    Calls *k = ctx;
    cr_assert_lt(k->n, NNC_MAX_NODE_INPUTS);
    k->c[k->n++] = *c;
}

static void run_call(const KCall *c, float **val, int nb)
{
    int64_t iv[KCALL_MAX_ARGS];
    float *pv[KCALL_MAX_ARGS];
    double fv[KCALL_MAX_ARGS];
    int shape[KCALL_MAX_ARGS];
    for (int j = 0; j < c->nshape; j++)
        shape[j] = (int)c->shape[j];
    for (int j = 0; j < c->nargs; j++) {
        const KArg *a = &c->a[j];
        iv[j] = a->kind == KA_N || a->kind == KA_NSIZE ? nb * a->i : a->i;
        fv[j] = a->f;
        pv[j] = a->kind == KA_VAL ? val[a->i + NNC_MAX_GRAPH_IO] : NULL;
    }
    const char *f = c->fn;
    if (!strcmp(f, "nnr_binary_f32"))
        nnr_binary_f32((int)iv[0], (int)iv[1], (const nnr_bcast_shape *)shape, pv[3], pv[4], pv[5]);
    else if (!strcmp(f, "nnr_scalar_f32"))
        nnr_scalar_f32((int)iv[0], (float)fv[1], (size_t)iv[2], pv[3], pv[4]);
    else if (!strcmp(f, "nnr_matmul_f32"))
        nnr_matmul_f32((int)iv[0], (const nnr_matmul_shape *)shape, pv[2], pv[3], pv[4]);
    else if (!strcmp(f, "nnr_place_f32") || !strcmp(f, "nnr_narrow_f32"))
        (f[4] == 'p' ? nnr_place_f32 : nnr_narrow_f32)((size_t)iv[0], (int)iv[1], (int)iv[2], (int)iv[3],
                                                        (size_t)iv[4], pv[5], pv[6]);
    else if (!strcmp(f, "nnr_permute_f32"))
        nnr_permute_f32((int)iv[0], (const nnr_permute_shape *)shape, pv[2], pv[3]);
    else if (!strcmp(f, "nnr_act_f32"))
        nnr_act_f32((nnr_act)op_act_value((int)iv[0]), (float)fv[1], (size_t)iv[2], pv[3], pv[4]);
    else if (!strcmp(f, "nnr_reduce_f32"))
        nnr_reduce_f32((int)iv[0], (int)iv[1], (const nnr_reduce_shape *)shape, pv[3], pv[4]);
    else
        cr_assert_fail("unexpected kernel %s", f);
}

/* ------------------------------------------------------------ PyTorch's definitions */

/* Multi-index of flat i in shape s (one sample). */
static void unflat(int64_t i, const Shape *s, int64_t *idx)
{
    for (int j = s->ndim - 1; j >= 0; j--) {
        idx[j] = i % s->d[j];
        i /= s->d[j];
    }
}

static int64_t flat(const Shape *s, const int64_t *idx)
{
    int64_t f = 0;
    for (int j = 0; j < s->ndim; j++)
        f = f * s->d[j] + idx[j];
    return f;
}

static double opd(Op op, double a, double b)
{
    switch (op) {
    case OP_ADD: case OP_ADD_SCALAR: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: case OP_MUL_SCALAR: return a * b;
    case OP_DIV: case OP_DIV_SCALAR: return a / b;
    case OP_RSUB_SCALAR: return b - a;
    default: return b / a;
    }
}

/* One sample of node n's value from its inputs' samples x[k], by definition. */
static void torch_eval(const Graph *g, const Node *n, const float *const *x, double *y)
{
    const Shape *o = &n->shape, *a = ir_value_shape(g, n->in[0]);
    int64_t on = shape_numel(o), an = shape_numel(a), idx[NNC_MAX_DIMS], ji[NNC_MAX_DIMS];
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: {
        const Shape *b = ir_value_shape(g, n->in[1]);
        for (int64_t i = 0; i < on; i++) {
            unflat(i, o, idx);
            int64_t ia = 0, ib = 0;
            for (int j = 0; j < o->ndim; j++) {
                ia = ia * a->d[j] + (a->d[j] == 1 ? 0 : idx[j]);
                ib = ib * b->d[j] + (b->d[j] == 1 ? 0 : idx[j]);
            }
            y[i] = opd(n->op, x[0][ia], x[1][ib]);
        }
        return;
    }
    case OP_MATMUL: {
        const Shape *b = ir_value_shape(g, n->in[1]);
        int ra = a->ndim, rb = b->ndim;
        int64_t K = a->d[ra - 1];
        /* torch.matmul per sample: promote 1-D, broadcast the leading dims */
        for (int64_t i = 0; i < on; i++) {
            unflat(i, o, idx);
            int lead = o->ndim - (ra >= 2) - (rb >= 2);
            if (ra == 1 && rb == 1)
                lead = 0;
            int64_t r = ra >= 2 ? idx[lead] : 0, c = rb >= 2 ? idx[o->ndim - 1] : 0;
            double acc = 0;
            for (int64_t t = 0; t < K; t++) {
                int64_t ia = 0, ib = 0;
                for (int j = 0; j < ra - 2; j++)
                    ia = ia * a->d[j] + (a->d[j] == 1 ? 0 : idx[lead - (ra - 2) + j]);
                for (int j = 0; j < rb - 2; j++)
                    ib = ib * b->d[j] + (b->d[j] == 1 ? 0 : idx[lead - (rb - 2) + j]);
                ia = ra >= 2 ? (ia * a->d[ra - 2] + r) * K + t : t;
                ib = rb >= 2 ? (ib * K + t) * b->d[rb - 1] + c : t;
                acc += (double)x[0][ia] * x[1][ib];
            }
            y[i] = acc;
        }
        return;
    }
    case OP_CAT: {
        int axis = (int)n->attr[0] - 1;
        for (int64_t i = 0; i < on; i++) {
            unflat(i, o, idx);
            int k = 0;
            int64_t pos = idx[axis];
            while (pos >= ir_value_shape(g, n->in[k])->d[axis])
                pos -= ir_value_shape(g, n->in[k++])->d[axis];
            memcpy(ji, idx, sizeof ji);
            ji[axis] = pos;
            y[i] = x[k][flat(ir_value_shape(g, n->in[k]), ji)];
        }
        return;
    }
    case OP_SLICE:
        for (int64_t i = 0; i < on; i++) {
            unflat(i, o, idx);
            idx[(int)n->attr[0] - 1] += (int64_t)n->attr[1];
            y[i] = x[0][flat(a, idx)];
        }
        return;
    case OP_TRANSPOSE: case OP_PERMUTE:
        for (int64_t i = 0; i < on; i++) {
            unflat(i, o, idx);
            for (int j = 0; j < o->ndim; j++)
                ji[j] = idx[j];
            if (n->op == OP_TRANSPOSE) {
                int p = (int)n->attr[0] - 1, q = (int)n->attr[1] - 1;
                ji[p] = idx[q];
                ji[q] = idx[p];
            } else {
                for (int j = 0; j < o->ndim; j++)
                    ji[(int)n->attr[j] - 1] = idx[j];
            }
            y[i] = x[0][flat(a, ji)];
        }
        return;
    case OP_MEAN: case OP_SUM:
        for (int64_t i = 0; i < on; i++)
            y[i] = 0;
        for (int64_t i = 0; i < an; i++) {
            unflat(i, a, idx);
            int64_t f = 0, count = 1;
            for (int j = 0; j < a->ndim; j++) {
                if (n->reduce.dims & (1 << (j + 1)))
                    count *= a->d[j];
                else
                    f = f * a->d[j] + idx[j];
            }
            y[f] += n->op == OP_MEAN ? x[0][i] / (double)count : x[0][i];
        }
        return;
    case OP_RELU: case OP_TANH: case OP_SIGMOID:
        for (int64_t i = 0; i < on; i++)
            y[i] = n->op == OP_RELU ? (x[0][i] > 0 ? x[0][i] : 0) : n->op == OP_TANH ? tanh(x[0][i])
                 : 1 / (1 + exp(-(double)x[0][i]));
        return;
    case OP_RESHAPE: case OP_FLATTEN:
        for (int64_t i = 0; i < on; i++)
            y[i] = x[0][i];     /* row-major order is kept */
        return;
    default:    /* the scalar operators */
        for (int64_t i = 0; i < on; i++)
            y[i] = opd(n->op, x[0][i], n->attr[0]);
        return;
    }
}

/* Run every node of the graph both ways; each node is fed the inputs the
 * kernels computed, and its result compared (abs + rel tolerance) right
 * after it ran. planned: the values live where memplan puts them (views
 * and in-place results share buffers, dead buffers are reused), so a plan
 * that overwrites a value still to be read shows as a disagreement. */
static void check_graph_ex(const char *text, int planned)
{
    Diag d;
    SrcFile src;
    Graph *g = parse(text, &d, &src, 0);
    cr_assert_not_null(g, "the IR does not parse");
    g->planned = planned;
    MemPlan mp;
    memplan_inference(g, &mp);
    float *arena = calloc((size_t)(NB * (mp.per_sample + 1)), sizeof(float));
    float **val = calloc((size_t)g->nnodes + NNC_MAX_GRAPH_IO, sizeof *val);
    uint64_t s = 12345;
    for (int k = 0; k < g->ninputs; k++) {
        int64_t len = NB * shape_numel(&g->inputs[k]);
        float *p = malloc((size_t)len * sizeof *p);
        for (int64_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            p[i] = (float)((double)(s >> 11) * 0x1.0p-53 * 3.0 + 0.5);  /* away from 0: div */
        }
        val[NNC_MAX_GRAPH_IO + IR_INPUT(k)] = p;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        int64_t on = shape_numel(&n->shape);
        double *want = malloc((size_t)(NB * on) * sizeof *want);
        for (int b = 0; b < NB; b++) {
            const float *x[NNC_MAX_NODE_INPUTS];
            for (int k = 0; k < n->nin; k++)
                x[k] = val[NNC_MAX_GRAPH_IO + n->in[k]] + b * shape_numel(ir_value_shape(g, n->in[k]));
            torch_eval(g, n, x, want + b * on);
        }
        if (mp.root[i] != i)        /* a view, or in place: the root's buffer */
            val[NNC_MAX_GRAPH_IO + i] = val[NNC_MAX_GRAPH_IO + mp.root[i]];
        else if (planned)
            val[NNC_MAX_GRAPH_IO + i] = arena + NB * mp.offset[i];
        else
            val[NNC_MAX_GRAPH_IO + i] = calloc((size_t)(NB * on), sizeof(float));
        if (!op_is_alias(n->op, 0)) {
            Calls calls = {.n = 0};
            EmitCtx e = {.g = g, .P = "P", .scratch = "scratch", .sink = record, .sink_ctx = &calls};
            op_hooks[n->op].emit(&e, n);
            cr_assert_gt(calls.n, 0, "%%%d (%s) makes no kernel call", i, op_info[n->op].name);
            for (int k = 0; k < calls.n; k++)
                run_call(&calls.c[k], val, NB);
        }
        const float *got = val[NNC_MAX_GRAPH_IO + i];
        int bad = 0;
        for (int64_t t = 0; t < NB * on && !bad; t++)
            bad = !(fabs(got[t] - want[t]) <= 1e-5 + 1e-5 * fabs(want[t]));
        cr_expect(!bad, "%%%d (%s)%s: the kernels disagree with the definition", i, op_info[n->op].name,
                  planned ? " (planned)" : "");
        free(want);
    }
}

static void check_graph(const char *text)
{
    check_graph_ex(text, 0);
    check_graph_ex(text, 1);
}

Test(tensor_ops, binary_broadcasting)
{
    check_graph("model m\ninput [3, 4, 5]\ninput [3, 1, 5]\ninput [1, 4, 1]\ninput [3, 4, 1]\n"
                "%0 = add %in, %in1 : [3, 4, 5]\n"
                "%1 = sub %in1, %in : [3, 4, 5]\n"
                "%2 = mul %in2, %in1 : [3, 4, 5]\n"
                "%3 = div %in, %in3 : [3, 4, 5]\n"
                "%4 = add %in3, %in2 : [3, 4, 1]\n"
                "%5 = mul %in, %in : [3, 4, 5]\n"
                "%6 = div %in2, %in : [3, 4, 5]\n"
                "output %0, %1, %2, %3, %4, %5, %6\n");
}

Test(tensor_ops, scalar_operators)
{
    check_graph("model m\ninput [7]\n"
                "%0 = add_scalar %in other=2.5 : [7]\n"
                "%1 = rsub_scalar %0 other=1 : [7]\n"
                "%2 = mul_scalar %1 other=-3 : [7]\n"
                "%3 = div_scalar %2 other=0.25 : [7]\n"
                "%4 = rdiv_scalar %in other=2 : [7]\n"
                "output %3, %4\n");
}

Test(tensor_ops, matmul_cases)
{
    check_graph("model m\ninput [3, 4]\ninput [4, 5]\ninput [4]\ninput [2, 3, 4]\ninput [1, 4, 6]\n"
                "input [5, 1, 3, 4]\ninput [1, 2, 4, 2]\n"
                "%0 = matmul %in, %in1 : [3, 5]\n"
                "%1 = matmul %in2, %in1 : [5]\n"
                "%2 = matmul %in, %in2 : [3]\n"
                "%3 = matmul %in2, %in2 : [1]\n"
                "%4 = matmul %in3, %in4 : [2, 3, 6]\n"
                "%5 = matmul %in5, %in6 : [5, 2, 3, 2]\n"
                "output %0, %1, %2, %3, %4, %5\n");
}

Test(tensor_ops, movement_and_reduction)
{
    check_graph("model m\ninput [2, 3, 4]\ninput [2, 5, 4]\n"
                "%0 = cat %in, %in1, %in dim=2 : [2, 11, 4]\n"
                "%1 = cat %in, %in dim=-1 : [2, 3, 8]\n"
                "%2 = slice %0 dim=2 start=3 end=8 : [2, 5, 4]\n"
                "%3 = slice %0 dim=-1 start=-3 end=-1 : [2, 11, 2]\n"
                "%4 = transpose %0 dim0=1 dim1=-1 : [4, 11, 2]\n"
                "%5 = permute %in dims=0,2,3,1 : [3, 4, 2]\n"
                "%6 = reshape %5 : [6, 4]\n"
                "%7 = flatten %in start_dim=2 : [2, 12]\n"
                "%8 = mean %in dim=1,3 keepdim=1 : [1, 3, 1]\n"
                "%9 = sum %in dim=-2 : [2, 4]\n"
                "%10 = mean %in dim=1,2,3 : [1]\n"
                "%11 = sum %6 dim=1 keepdim=1 : [1, 4]\n"
                "output %2, %3, %4, %7, %8, %9, %10, %11\n");
}

/* The first diagnostic of a one-node graph on the given inputs. */
static void expect_error(const char *inputs, const char *node, const char *want)
{
    char text[1024];
    snprintf(text, sizeof text, "model m\n%s%s\noutput %%0\n", inputs, node);
    Diag d;
    SrcFile src;
    /* the diagnostics: stderr pointed at a temporary file */
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    Graph *g = parse(text, &d, &src, 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long len = ftell(tmp);
    char *buf = calloc((size_t)len + 1, 1);
    rewind(tmp);
    if (fread(buf, 1, (size_t)len, tmp) != (size_t)len)
        buf[0] = '\0';
    fclose(tmp);
    cr_expect_null(g, "%s: no error", node);
    cr_expect(buf && strstr(buf, want), "%s: expected '%s' in:\n%s", node, want, buf ? buf : "");
    free(buf);
}

Test(tensor_ops, shape_errors)
{
    expect_error("input [3, 4]\ninput [5, 4]\n", "%0 = add %in, %in1 : [3, 4]",
                 "add: shapes [N, 3, 4] and [N, 5, 4] do not broadcast");
    expect_error("input [3, 4]\ninput [4]\n", "%0 = mul %in, %in1 : [3, 4]", "per-sample ranks differ");
    expect_error("input [3, 4]\ninput [5, 6]\n", "%0 = matmul %in, %in1 : [3, 6]",
                 "matmul: shapes [N, 3, 4] and [N, 5, 6] cannot be multiplied");
    expect_error("input [3, 4]\n", "%0 = cat %in, %in dim=0 : [3, 4]", "batch dimension");
    expect_error("input [3, 4]\n", "%0 = cat %in, %in dim=-3 : [3, 4]", "batch dimension");
    expect_error("input [3, 4]\ninput [3, 5]\n", "%0 = cat %in, %in1 dim=1 : [6, 4]", "differ outside dim 1");
    expect_error("input [3, 4]\n", "%0 = transpose %in dim0=0 dim1=1 : [3, 4]", "batch dimension");
    expect_error("input [3, 4]\n", "%0 = slice %in dim=1 start=2 end=5 : [3, 4]", "not a non-empty range");
    expect_error("input [3, 4]\n", "%0 = sum %in dim=0 : [3, 4]", "batch dimension");
    expect_error("input [3, 4]\n", "%0 = mean %in dim=3 : [3, 4]", "out of range");
    expect_error("input [3, 4]\n", "%0 = reshape %in : [5, 2]", "reshape: shape [N, 5, 2] is invalid");
    expect_error("input [3, 4]\n", "%0 = permute %in dims=0,1,1 : [3, 4]", "appears twice");
    expect_error("input [3, 4, 5]\n", "%0 = flatten %in start_dim=3 end_dim=2 : [3, 4, 5]", "comes after");
}

/* memplan: the residual add and a scalar op write into their operand's
 * buffer when it dies there; not when the operand is read later, nor into
 * a graph input. */
Test(tensor_ops, in_place_where_the_operand_dies)
{
    const char *text = "model m\ninput [4, 6]\n"
                       "%0 = relu %in : [4, 6]\n"
                       "%1 = tanh %0 : [4, 6]\n"
                       "%2 = add %1, %0 : [4, 6]\n"      /* %1 and %0 die here: in place */
                       "%3 = mul_scalar %2 other=0.5 : [4, 6]\n"   /* in place again */
                       "%4 = sigmoid %3 : [4, 6]\n"
                       "%5 = add %4, %3 : [4, 6]\n"      /* %3 dies here: in place */
                       "%6 = add %5, %in : [4, 6]\n"     /* %5 dies; never into the input */
                       "%7 = sub %6, %4 : [4, 6]\n"
                       "%8 = add %7, %6 : [4, 6]\n"
                       "output %8, %4\n";
    Diag d;
    SrcFile src;
    Graph *g = parse(text, &d, &src, 0);
    cr_assert_not_null(g);
    g->planned = 1;
    MemPlan mp;
    memplan_inference(g, &mp);
    cr_expect(mp.root[2] == mp.root[1] || mp.root[2] == mp.root[0], "the add is not in place");
    cr_expect_eq(mp.root[3], mp.root[2], "the scalar op is not in place");
    cr_expect_eq(mp.root[5], mp.root[3], "the second add is not in place into %%3");
    cr_expect_eq(mp.root[6], mp.root[5], "%%6 is not in place into %%5");
    cr_expect_neq(mp.root[7], mp.root[4], "%%7 overwrites %%4, an output");
    cr_expect_neq(mp.root[7], mp.root[6], "%%7 overwrites %%6, which %%8 reads");
    cr_expect_eq(mp.root[8], mp.root[7], "%%8 is not in place");
    check_graph(text);
}
