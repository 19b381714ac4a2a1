/* test_passes.c — each pass on IR text, without the front end.
 *
 * Golden files: tests/golden/opt/NAME.nir, whose first line says which
 * passes run ("# passes: fold-linear", "# passes: a,b" or "# passes: -O2"),
 * and NAME.expected: the IR after them (with the parameter values when the
 * input gave some) followed by what the passes said, as "# log:" comments
 * (the reasons --print-after shows). The verifier runs after every pass.
 * UPDATE_GOLDEN=1 rewrites the expectations; review the diff like code.
 *
 * Numeric checks: folded weights and biases against the naive products
 * computed here independently (in double), and the folded layer's outputs
 * against the unfolded graph run through the reference kernels. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/pass.h"
#include "passes/autodiff.h"
#include "ref/ref.h"

/* ---------------------------------------------------------------- helpers */

static Graph *parse_text(const char *text, Diag *d, SrcFile *src)
{
    src->path = "test.nir";
    src->text = text;
    src->len = strlen(text);
    diag_init(d, src);
    d->max_errors = 0;  /* quiet */
    return ir_parse(src, d);
}

static char *print_graph(const Graph *g, int flags) { return ir_print_string(g, flags); }

/* Parse, run passes (a list, or "-O0"/"-O2"), return the printed result and
 * the pass log. */
static char *run_passes(const char *text, const char *passes, char **log_out)
{
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    cr_assert_not_null(g, "the IR does not parse");
    int values = 0;
    for (int i = 0; i < g->nparams; i++)
        values |= g->params[i].data != NULL;
    char *log = NULL;
    size_t loglen = 0;
    FILE *lf = open_memstream(&log, &loglen);
    PipelineOpts o;
    memset(&o, 0, sizeof o);
    o.verify = 1;
    o.explain = 1;
    o.log = lf;
    if (passes[0] == '-' && passes[1] == 'O')
        o.opt_level = passes[2] - '0';
    else
        o.only = passes;
    int rc = pipeline_run(g, &o, &d);
    fclose(lf);
    cr_assert_eq(rc, 0, "pipeline_run failed for passes '%s'", passes);
    if (log_out)
        *log_out = log;
    return print_graph(g, values ? IRP_VALUES : 0);
}

static char *read_all(const char *path)
{
    size_t len;
    char err[256];
    return (char *)nnr_read_file(path, &len, err, sizeof err);   /* NUL-terminated */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---------------------------------------------------------------- golden */

Test(golden, opt_files)
{
    const char *dir = NNC_TEST_DIR "/golden/opt";
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "cannot open %s", dir);
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".nir"))
            names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    cr_assert_gt(n, 10, "expected the golden IR files in %s", dir);
    int update = getenv("UPDATE_GOLDEN") && *getenv("UPDATE_GOLDEN") == '1';
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char path[1024], want_path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(want_path, sizeof want_path, "%s/%.*s.expected", dir, (int)strlen(names[i]) - 4, names[i]);
        char *text = read_all(path);
        cr_assert_not_null(text);
        if (getenv("NNC_TEST_TRACE"))
            fprintf(stderr, "golden: %s\n", names[i]);
        char passes[256];
        cr_assert_eq(sscanf(text, "# passes: %255s", passes), 1, "%s: first line must be '# passes: ...'", path);
        char *log = NULL;
        char *got = run_passes(text, passes, &log);
        /* the result parses back and prints the same (round trip) */
        Diag d;
        SrcFile src;
        Graph *back = parse_text(got, &d, &src);
        cr_expect_not_null(back, "%s: the printed IR does not parse back", names[i]);
        if (back) {
            char *again = print_graph(back, strstr(got, " = [") ? IRP_VALUES : 0);
            cr_expect_str_eq(again, got, "%s: print(parse(print(g))) != print(g)", names[i]);
        }
        /* the expectation: IR, then the log as comments */
        char *full = NULL;
        size_t flen = 0;
        FILE *f = open_memstream(&full, &flen);
        fputs(got, f);
        for (char *line = log; line && *line;) {
            char *nl = strchr(line, '\n');
            fprintf(f, "# log: %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
            line = nl ? nl + 1 : NULL;
        }
        fclose(f);
        if (update) {
            FILE *w = fopen(want_path, "w");
            cr_assert_not_null(w);
            fputs(full, w);
            fclose(w);
            continue;
        }
        char *want = read_all(want_path);
        if (!want || strcmp(want, full)) {
            failed++;
            cr_log_error("[FAIL] %s (UPDATE_GOLDEN=1 to rewrite)\n--- want\n%s--- got\n%s", names[i],
                         want ? want : "(missing)\n", full);
        }
    }
    cr_expect_eq(failed, 0, "%d golden IR files differ", failed);
}

/* ---------------------------------------------------------------- round trip */

Test(ir_text, parse_print_round_trip_every_golden_input)
{
    const char *dir = NNC_TEST_DIR "/golden/opt";
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".nir"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = read_all(path);
        Diag d;
        SrcFile src;
        Graph *g = parse_text(text, &d, &src);
        cr_assert_not_null(g, "%s does not parse", e->d_name);
        char *p1 = print_graph(g, IRP_VALUES);
        Graph *g2 = parse_text(p1, &d, &src);
        cr_assert_not_null(g2, "%s: its print does not parse", e->d_name);
        char *p2 = print_graph(g2, IRP_VALUES);
        cr_expect_str_eq(p2, p1, "%s: round trip", e->d_name);
        seen++;
    }
    closedir(dp);
    cr_expect_gt(seen, 10);
}

/* ---------------------------------------------------------------- numbers */

static uint64_t rs = 88172645463325252ull;
static float frand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* IR text for a chain of linear layers dims[0] -> ... -> dims[k], with
 * random values; bias_mask bit j gives layer j a bias. */
static char *chain_text(int k, const int *dims, unsigned bias_mask, const char *between)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "model chain\ninput [%d]\n", dims[0]);
    for (int j = 0; j < k; j++) {
        fprintf(f, "param l%d.weight [%d, %d] = [", j, dims[j + 1], dims[j]);
        for (int q = 0; q < dims[j] * dims[j + 1]; q++)
            fprintf(f, "%s%.9g", q ? ", " : "", (double)frand());
        fprintf(f, "]\n");
        if (bias_mask >> j & 1) {
            fprintf(f, "param l%d.bias [%d] = [", j, dims[j + 1]);
            for (int q = 0; q < dims[j + 1]; q++)
                fprintf(f, "%s%.9g", q ? ", " : "", (double)frand());
            fprintf(f, "]\n");
        }
    }
    int v = -1, id = 0;
    for (int j = 0; j < k; j++) {
        if (j && between) {
            fprintf(f, "%%%d = %s %%%d : [%d]\n", id, between, v, dims[j]);
            v = id++;
        }
        fprintf(f, "%%%d = linear ", id);
        if (v < 0)
            fprintf(f, "%%in");
        else
            fprintf(f, "%%%d", v);
        fprintf(f, " in=%d out=%d bias=%d params=l%d.weight", dims[j], dims[j + 1], bias_mask >> j & 1, j);
        if (bias_mask >> j & 1)
            fprintf(f, ",l%d.bias", j);
        fprintf(f, " : [%d]\n", dims[j + 1]);
        v = id++;
    }
    fprintf(f, "output %%%d\n", v);
    fclose(f);
    return buf;
}

/* Runs passes on a parsed graph; returns it (layout done). */
static Graph *optimise(const char *text, const char *passes)
{
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    cr_assert_not_null(g);
    PipelineOpts o;
    memset(&o, 0, sizeof o);
    o.verify = 1;
    o.only = passes;
    cr_assert_eq(pipeline_run(g, &o, &d), 0);
    return g;
}

static float *state_of(const Graph *g)
{
    float *s = calloc((size_t)g->state_size + 1, sizeof(float));
    ir_init_state(g, 0, s);
    return s;
}

static float *infer_of(const Graph *g, const float *state)
{
    float *p = calloc((size_t)g->infer_size + 1, sizeof(float));
    ir_prepare(g, state, p);
    return p;
}

static const Param *find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nparams; i++)
        if (!strcmp(g->params[i].name, name))
            return &g->params[i];
    cr_assert_fail("no parameter %s", name);
    return NULL;
}

static void expect_close(double got, double want, const char *what, int i)
{
    cr_expect(fabs(got - want) <= 1e-6 + 1e-6 * fabs(want), "%s[%d]: got %.9g, want %.9g", what, i, got, want);
}

/* W = Wk..W1 and b = Wk(..(W1·0 + b1)..) + bk, naively, in double. */
static void naive_chain(const Graph *g, int k, const int *dims, unsigned bias_mask, double *W, double *b)
{
    int in = dims[0];
    double *M = calloc((size_t)dims[0] * (size_t)dims[0], sizeof *M), *c = calloc((size_t)dims[0], sizeof *c);
    for (int i = 0; i < in; i++)
        M[i * in + i] = 1;
    int rows = in;
    for (int j = 0; j < k; j++) {
        char nm[32];
        snprintf(nm, sizeof nm, "l%d.weight", j);
        const float *w = find(g, nm)->data;
        const float *bb = NULL;
        if (bias_mask >> j & 1) {
            snprintf(nm, sizeof nm, "l%d.bias", j);
            bb = find(g, nm)->data;
        }
        int out = dims[j + 1];
        double *M2 = calloc((size_t)out * (size_t)in, sizeof *M2), *c2 = calloc((size_t)out, sizeof *c2);
        for (int r = 0; r < out; r++) {
            for (int q = 0; q < rows; q++) {
                for (int col = 0; col < in; col++)
                    M2[r * in + col] += (double)w[r * rows + q] * M[q * in + col];
                c2[r] += (double)w[r * rows + q] * c[q];
            }
            c2[r] += bb ? bb[r] : 0.0;
        }
        free(M);
        free(c);
        M = M2;
        c = c2;
        rows = out;
    }
    memcpy(W, M, sizeof *W * (size_t)rows * (size_t)in);
    memcpy(b, c, sizeof *b * (size_t)rows);
    free(M);
    free(c);
}

static void check_chain(int k, const int *dims, unsigned bias_mask, const char *between)
{
    char *text = chain_text(k, dims, bias_mask, between);
    Graph *g = optimise(text, between ? "dce,fold-linear" : "fold-linear");
    cr_assert_eq(ir_count_op(g, OP_LINEAR), 1, "a chain of %d folds into one linear", k);
    const Node *n = &g->nodes[ir_output(g)];
    cr_assert_eq(n->op, OP_LINEAR);
    cr_expect_eq(n->linear.bias, bias_mask != 0, "a bias exactly when some layer has one");
    float *state = state_of(g);
    float *infer = infer_of(g, state);
    int out = dims[k], in = dims[0];
    double *W = calloc((size_t)out * (size_t)in, sizeof *W), *b = calloc((size_t)out, sizeof *b);
    naive_chain(g, k, dims, bias_mask, W, b);
    const Param *pw = &g->params[n->param[0]];
    cr_assert_eq(pw->numel, (int64_t)out * in);
    for (int i = 0; i < out * in; i++)
        expect_close(infer[pw->ioffset + i], W[i], "W", i);
    if (n->linear.bias)
        for (int i = 0; i < out; i++)
            expect_close(infer[g->params[n->param[1]].ioffset + i], b[i], "b", i);

    /* and the folded layer computes what the chain computes */
    Graph *g0 = optimise(text, "");
    float *s0 = state_of(g0), *p0 = infer_of(g0, s0);
    int batch = 3;
    float x[3 * 64], y0[3 * 64], t[3 * 64], y1[3 * 64];
    for (int i = 0; i < batch * in; i++)
        x[i] = frand();
    const float *cur = x;
    float *bufs[2] = {t, y0};
    int which = 0;
    for (int i = 0; i < g0->nnodes; i++) {
        const Node *l = &g0->nodes[i];
        if (l->dead || l->op != OP_LINEAR)
            continue;
        float *dst = bufs[which];
        nnr_ref_linear_f32(batch, (int)l->linear.in_features, (int)l->linear.out_features, cur,
                           p0 + g0->params[l->param[0]].ioffset,
                           l->linear.bias ? p0 + g0->params[l->param[1]].ioffset : NULL, dst, NNR_ACT_NONE, 0);
        cur = dst;
        which ^= 1;
    }
    nnr_ref_linear_f32(batch, in, out, x, infer + pw->ioffset,
                       n->linear.bias ? infer + g->params[n->param[1]].ioffset : NULL, y1, NNR_ACT_NONE, 0);
    for (int i = 0; i < batch * out; i++)
        cr_expect(fabsf(y1[i] - cur[i]) <= 1e-5f + 1e-5f * fabsf(cur[i]), "y[%d]: folded %.9g, chain %.9g", i,
                  (double)y1[i], (double)cur[i]);
}

Test(fold_linear, three_4x4_with_biases_equal_naive_product)
{
    int dims[] = {4, 4, 4, 4};
    check_chain(3, dims, 7, NULL);
}

Test(fold_linear, bias_on_either_both_or_neither)
{
    int dims[] = {5, 7, 3};
    for (unsigned m = 0; m < 4; m++)
        check_chain(2, dims, m, NULL);
}

Test(fold_linear, long_chain_odd_sizes_through_views)
{
    int dims[] = {7, 9, 17, 8, 5, 3};
    check_chain(5, dims, 0x15, NULL);
    check_chain(5, dims, 0x0a, "dropout");
    check_chain(5, dims, 0x1f, "identity");
    check_chain(5, dims, 0x01, "flatten");
}

Test(fold_linear, values_chain_golden_numbers)
{
    /* W = [0.25, -1]·[[1, 2], [3, 4]] = [-2.75, -3.5]; b = [0.25, -1]·[0.5, -0.5] = 0.625 */
    char *text = read_all(NNC_TEST_DIR "/golden/opt/values_chain.nir");
    Graph *g = optimise(text, "fold-linear");
    float *infer = infer_of(g, state_of(g));
    const Param *w = find(g, "fold(0,1).weight"), *b = find(g, "fold(0,1).bias");
    cr_expect_float_eq(infer[w->ioffset], -2.75f, 0);
    cr_expect_float_eq(infer[w->ioffset + 1], -3.5f, 0);
    cr_expect_float_eq(infer[b->ioffset], 0.625f, 0);
    /* the state tensors the fold consumed are not in the inference block */
    cr_expect_eq(find(g, "0.weight")->ioffset, -1);
    cr_expect_eq(g->infer_size, 3);
}

Test(fold_linear, bottleneck_is_not_folded)
{
    int dims[] = {784, 16, 784};
    char *text = chain_text(2, dims, 3, NULL);
    Graph *g = optimise(text, "fold-linear");
    cr_expect_eq(ir_count_op(g, OP_LINEAR), 2);
    cr_expect_eq(g->nfolds, 0);
}

Test(fold_linear, relu_between_blocks)
{
    int dims[] = {4, 4, 4, 4};
    char *text = chain_text(3, dims, 7, "relu");
    Graph *g = optimise(text, "dce,fold-linear");
    cr_expect_eq(ir_count_op(g, OP_LINEAR), 3);
}

/* batch norm folded: the folded layer's output equals linear then bn. */
static void check_bn(const char *text, int conv)
{
    Graph *g0 = optimise(text, "");
    Graph *g = optimise(text, "fold-batchnorm");
    cr_assert_eq(g->nfolds, 1);
    cr_assert_eq(ir_count_op(g, conv ? OP_BATCHNORM2D : OP_BATCHNORM1D), 0);
    float *s0 = state_of(g0), *p0 = infer_of(g0, s0);
    float *s = state_of(g), *p = infer_of(g, s);
    const Node *l0 = &g0->nodes[0], *bn = &g0->nodes[1], *l = &g->nodes[0];
    int batch = 2;
    int64_t in = shape_numel(&g0->input), out = shape_numel(&l0->shape);
    float *x = calloc((size_t)(batch * in), sizeof *x), *t = calloc((size_t)(batch * out), sizeof *t);
    float *y0 = calloc((size_t)(batch * out), sizeof *y0), *y1 = calloc((size_t)(batch * out), sizeof *y1);
    for (int i = 0; i < batch * in; i++)
        x[i] = frand();
#define PP(gr, blk, nd, k) ((nd)->param[k] >= 0 ? (blk) + (gr)->params[(nd)->param[k]].ioffset : NULL)
    if (conv) {
        const Shape *is = &g0->input;
        const ConvAttrs *c = &l0->conv;
        nnr_conv2d_shape cs = {(int)is->d[0], (int)is->d[1], (int)is->d[2], (int)c->out_channels,
                               (int)c->kernel_size[0], (int)c->kernel_size[1], (int)c->stride[0], (int)c->stride[1],
                               (int)c->padding[0], (int)c->padding[1], (int)l0->shape.d[1], (int)l0->shape.d[2],
                               1, 1, 1};
        nnr_ref_conv2d_f32(batch, &cs, x, PP(g0, p0, l0, 0), c->bias ? PP(g0, p0, l0, 1) : NULL, t,
                           NNR_ACT_NONE, 0, NULL);
        nnr_ref_conv2d_f32(batch, &cs, x, PP(g, p, l, 0), PP(g, p, l, 1), y1, NNR_ACT_NONE, 0, NULL);
    } else {
        nnr_ref_linear_f32(batch, (int)in, (int)out, x, PP(g0, p0, l0, 0), l0->linear.bias ? PP(g0, p0, l0, 1) : NULL,
                           t, NNR_ACT_NONE, 0);
        nnr_ref_linear_f32(batch, (int)in, (int)out, x, PP(g, p, l, 0), PP(g, p, l, 1), y1, NNR_ACT_NONE, 0);
    }
    const BatchNormAttrs *ba = &bn->batchnorm;
    nnr_batchnorm_f32(batch, (int)ba->num_features, (int)(out / ba->num_features), t, PP(g0, p0, bn, 0),
                      PP(g0, p0, bn, 1), PP(g0, p0, bn, 2), PP(g0, p0, bn, 3), (float)ba->eps, y0);
#undef PP
    for (int i = 0; i < batch * out; i++)
        cr_expect(fabsf(y1[i] - y0[i]) <= 1e-5f + 1e-5f * fabsf(y0[i]), "y[%d]: folded %.9g, unfolded %.9g", i,
                  (double)y1[i], (double)y0[i]);
}

static char *bn_text(int conv, int bias)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int C = conv ? 3 : 5;
    fprintf(f, "model m\ninput %s\n", conv ? "[2, 5, 5]" : "[4]");
    int wn = conv ? C * 2 * 3 * 3 : C * 4;
    fprintf(f, "param 0.weight %s = [", conv ? "[3, 2, 3, 3]" : "[5, 4]");
    for (int i = 0; i < wn; i++)
        fprintf(f, "%s%.9g", i ? ", " : "", (double)frand());
    fprintf(f, "]\n");
    if (bias) {
        fprintf(f, "param 0.bias [%d] = [", C);
        for (int i = 0; i < C; i++)
            fprintf(f, "%s%.9g", i ? ", " : "", (double)frand());
        fprintf(f, "]\n");
    }
    const char *nm[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) {
        fprintf(f, "param 1.%s [%d]%s = [", nm[k], C, k >= 2 ? " buffer" : "");
        for (int i = 0; i < C; i++)
            fprintf(f, "%s%.9g", i ? ", " : "", k == 3 ? 0.5 + fabs((double)frand()) : (double)frand());
        fprintf(f, "]\n");
    }
    fprintf(f, "param 1.num_batches_tracked [] counter\n");
    if (conv)
        fprintf(f, "%%0 = conv2d %%in in_channels=2 out_channels=3 kernel_size=3x3 stride=2x2 padding=1x1 bias=%d params=0.weight%s : [3, 3, 3]\n"
                   "%%1 = batchnorm2d %%0 num_features=3 eps=0.001 momentum=0.1 params=1.weight,1.bias,1.running_mean,"
                   "1.running_var,1.num_batches_tracked : [3, 3, 3]\noutput %%1\n", bias, bias ? ",0.bias" : "");
    else
        fprintf(f, "%%0 = linear %%in in_features=4 out_features=5 bias=%d params=0.weight%s : [5]\n"
                   "%%1 = batchnorm1d %%0 num_features=5 eps=1e-05 momentum=0.1 params=1.weight,1.bias,1.running_mean,"
                   "1.running_var,1.num_batches_tracked : [5]\noutput %%1\n", bias, bias ? ",0.bias" : "");
    fclose(f);
    return buf;
}

Test(fold_bn, linear_and_conv_with_and_without_bias)
{
    for (int conv = 0; conv < 2; conv++)
        for (int bias = 0; bias < 2; bias++)
            check_bn(bn_text(conv, bias), conv);
}

Test(fold_bn, bn_then_chain_evaluates_intermediate)
{
    /* fold-bn output feeds fold-linear: the intermediate derived tensor is
     * in the inference block so prepare() needs no scratch */
    char *text = read_all(NNC_TEST_DIR "/golden/opt/fold_bn_then_linear.nir");
    Graph *g = optimise(text, "fold-batchnorm,fold-linear");
    cr_expect_eq(ir_count_op(g, OP_LINEAR), 1);
    cr_expect_eq(g->nfolds, 2);
    cr_expect_geq(find(g, "fold(0,1).weight")->ioffset, 0);
    cr_expect_geq(find(g, "fold(0,1,2).weight")->ioffset, 0);
    cr_expect_eq(find(g, "1.running_mean")->ioffset, -1);
}

/* ---------------------------------------------------------------- pipeline */

Test(pipeline, order_table_holds_and_required_passes_run_at_O0)
{
    int dims[] = {4, 4, 4, 4};
    char *text = chain_text(3, dims, 7, NULL);
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    PipelineOpts o;
    memset(&o, 0, sizeof o);
    o.verify = 1;
    unsigned changed = 0;
    cr_assert_eq(pipeline_run_report(g, &o, &d, &changed), 0);
    cr_expect_eq(changed, 0u, "-O0 changes nothing");
    cr_expect_eq(ir_count_op(g, OP_LINEAR), 3);
    cr_expect(g->infer_laid_out, "layout is required: it runs at -O0");
    Graph *g2 = parse_text(text, &d, &src);
    o.opt_level = 2;
    cr_assert_eq(pipeline_run_report(g2, &o, &d, &changed), 0);
    cr_expect_eq(ir_count_op(g2, OP_LINEAR), 1);
    int fl = -1;
    for (int i = 0; i < nnc_npasses; i++)
        if (!strcmp(nnc_passes[i].name, "fold-linear"))
            fl = i;
    cr_expect(changed & (1u << fl));
}

Test(pipeline, disable_and_unknown_pass_are_diagnosed)
{
    int dims[] = {4, 4, 4};
    char *text = chain_text(2, dims, 3, NULL);
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    PipelineOpts o;
    memset(&o, 0, sizeof o);
    o.opt_level = 2;
    o.disable = "fold-linear";
    cr_assert_eq(pipeline_run(g, &o, &d), 0);
    cr_expect_eq(ir_count_op(g, OP_LINEAR), 2, "--disable-pass=fold-linear keeps the chain");
    o.disable = "layout";
    cr_expect_eq(pipeline_run(g, &o, &d), -1, "a required pass cannot be disabled");
    o.disable = NULL;
    o.only = "fold-linear,no-such-pass";
    int before = d.nerrors;
    cr_expect_eq(pipeline_run(g, &o, &d), -1);
    cr_expect_gt(d.nerrors, before);
}

Test(pipeline, every_pass_has_a_name_and_a_reason)
{
    for (int i = 0; i < nnc_npasses; i++) {
        cr_expect(nnc_passes[i].name && *nnc_passes[i].name);
        cr_expect(nnc_passes[i].what && *nnc_passes[i].what);
        cr_expect_not_null(nnc_passes[i].fn);
    }
}

/* ------------------------------------------------------------ DAG memory plan */

/* The memory plan of a DAG: a value read late (%0 by %3) and a second
 * output (%2) stay live; the check recomputes each value's lifetime here
 * from the node inputs (not from the planner) and asks that no two values
 * alive at once share floats. */
Test(memplan, dag_liveness_keeps_late_reads_and_outputs)
{
    const char *text = "model m\ninput [8]\n"
                       "%0 = relu %in : [8]\n"
                       "%1 = sigmoid %0 : [8]\n"
                       "%2 = tanh %1 : [8]\n"
                       "%3 = softmax %0 dim=1 : [8]\n"
                       "%4 = tanh %3 : [8]\n"
                       "%5 = relu %4 : [8]\n"
                       "%6 = sigmoid %5 : [8]\n"
                       "output %6, %2\n";
    Graph *g = optimise(text, "memplan");
    cr_assert(g->planned);
    MemPlan mp;
    memplan_inference(g, &mp);
    int nn = g->nnodes, last[16];
    for (int i = 0; i < nn; i++) {
        last[i] = i;
        for (int j = i + 1; j < nn; j++)
            if (g->nodes[j].in[0] == i)
                last[i] = j;
    }
    last[2] = nn;   /* a second output: read after the forward */
    for (int i = 0; i < nn; i++)
        for (int j = i + 1; j < nn; j++) {
            if (i == 6 || j == 6 || last[i] < j)
                continue;   /* %6 is written to y, not the arena */
            int disjoint = mp.offset[i] + 8 <= mp.offset[j] || mp.offset[j] + 8 <= mp.offset[i];
            cr_expect(disjoint, "%%%d (at %lld) and %%%d (at %lld) are alive together", i,
                      (long long)mp.offset[i], j, (long long)mp.offset[j]);
        }
    /* and it reuses: fewer floats than one buffer per value */
    cr_expect_lt(mp.per_sample, mp.unplanned);
}

/* The one memory planner: four blocks whose lifetimes chain, by hand. */
Test(memplan, place_first_fit_by_lifetime)
{
    MemBlock b[4] = {{4, 0, 1, -1}, {2, 1, 2, -1}, {3, 2, 3, -1}, {1, 3, 3, -1}};
    cr_assert_eq(memplan_place(b, 4, 1), 6);
    int64_t want[4] = {0, 4, 0, 3};     /* C reuses A (dead at 2); D sits after C, B is dead */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(b[i].off, want[i], "block %d at %lld, want %lld", i, (long long)b[i].off, (long long)want[i]);
    cr_assert_eq(memplan_place(b, 4, 0), 10);
    cr_assert_eq(b[3].off, 9);
}

/* autodiff appends the training step: for relu(linear(x)) read twice by an
 * add, the nodes and the plan derived by hand. */
Test(autodiff, appends_backward_share_sum_and_update)
{
    static const char text[] =
        "model m\ninput [4]\nparam a.weight [4, 4]\nparam a.bias [4]\n"
        "%0 = linear %in in_features=4 out_features=4 bias=1 params=a.weight,a.bias : [4]\n"
        "%1 = relu %0 : [4]\n%2 = add %1, %1 : [4]\noutput %2\n";
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    cr_assert_not_null(g);
    PassCtx cx = {&d, 0, NULL, 0};
    cr_assert_eq(pass_autodiff(g, &cx), 1);
    cr_assert_eq(pass_autodiff(g, &cx), 0, "a training graph gets no second step");
    Op want[] = {OP_LINEAR, OP_RELU, OP_ADD, OP_LOSS, OP_BACKWARD, OP_GRAD_INPUT, OP_GRAD_INPUT, OP_ACCUM,
                 OP_BACKWARD, OP_GRAD_INPUT, OP_BACKWARD, OP_UPDATE};
    cr_assert_eq(g->nnodes, 12);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(g->nodes[i].op, want[i], "%%%d is %s", i, op_info[g->nodes[i].op].name);
    cr_assert_eq(g->nodes[7].in[0], 5);     /* the add's two shares of %1 summed */
    cr_assert_eq(g->nodes[7].in[1], 6);
    cr_assert_eq(g->nodes[8].in[1], 7);     /* relu's backward reads the sum */
    TrainPlan tp;
    train_plan(g, &tp);
    cr_assert_eq(tp.nsteps, 9);             /* 3 forward, loss, 3 backward, 1 sum, update */
    /* v0 v1 v2, d2, the second share of %1, d0: d1 is d2's buffer (the add's
     * first slot takes over its gradient; the second cannot, as the sum
     * writes d1 in the step that reads that share) */
    cr_assert_eq(tp.unplanned_ps, 6 * 4);
    cr_assert_eq(tp.dbuf[1], tp.dbuf[2]);
    cr_assert_eq(tp.steps[4].kind, TS_BACKWARD);
    cr_assert_eq(tp.steps[4].dx[0], tp.dbuf[2]);
    cr_assert_neq(tp.steps[4].dx[1], tp.dbuf[2]);
    char *s = ir_print_string(g, 0);
    Graph *back = parse_text(s, &d, &src);
    cr_assert_not_null(back);
    cr_assert_str_eq(ir_print_string(back, 0), s);
}

/* A residual add h + f(h): both its slots take over its gradient's buffer
 * (f(h)'s backward reads it before h's other share is summed into it). */
Test(autodiff, residual_add_gradients_share_one_buffer)
{
    static const char text[] =
        "model m\ninput [4]\nparam a.weight [4, 4]\nparam a.bias [4]\nparam b.weight [4, 4]\nparam b.bias [4]\n"
        "%0 = linear %in in_features=4 out_features=4 bias=1 params=a.weight,a.bias : [4]\n"
        "%1 = relu %0 : [4]\n"
        "%2 = linear %1 in_features=4 out_features=4 bias=1 params=b.weight,b.bias : [4]\n"
        "%3 = add %2, %1 : [4]\noutput %3\n";
    Diag d;
    SrcFile src;
    Graph *g = parse_text(text, &d, &src);
    cr_assert_not_null(g);
    PassCtx cx = {&d, 0, NULL, 0};
    cr_assert_eq(pass_autodiff(g, &cx), 1);
    TrainPlan tp;
    cr_assert_eq(train_plan(g, &tp), 0);
    cr_assert_eq(tp.dbuf[2], tp.dbuf[3]);
    cr_assert_eq(tp.dbuf[1], tp.dbuf[3]);
    /* v0..v3, d3 (also d2 and d1), the second share of %1, d0 */
    cr_assert_eq(tp.unplanned_ps, 7 * 4);
}
