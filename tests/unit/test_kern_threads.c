/* test_kern_threads.c — the kernels give bit-identical results with 1 and
 * 2 OpenMP threads (GEMM in every transpose, the GEMV path, linear and
 * conv2d forward and backward, the loops conv2d splits outside its GEMMs,
 * max-pool and relu, the optimizer steps, at sizes above the threading
 * thresholds).
 * Built without OpenMP (NNC_THREADS=OFF) there is nothing to compare and
 * the test is skipped. */
#include "kern_check.h"
#ifdef _OPENMP
#include <omp.h>

/* Runs fn(ctx, out) with 1 then 2 threads and compares the n floats of out. */
static void same_bits(const char *what, void (*fn)(void *, float *), void *ctx, size_t n)
{
    float *o1 = tg_alloc(n), *o2 = tg_alloc(n);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    fn(ctx, o1);
    omp_set_num_threads(2);
    fn(ctx, o2);
    omp_set_num_threads(saved);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&o1[i], &o2[i], sizeof *o1) != 0;
    cr_expect(bad == 0, "%s: %zu of %zu floats differ between 1 and 2 threads", what, bad, n);
    free(o1);
    free(o2);
}

typedef struct { int ta, tb, m, n, k; float *a, *b; } gemm_ctx;
static void run_gemm(void *p, float *c)
{
    gemm_ctx *g = p;
    int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
    for (size_t i = 0; i < (size_t)g->m * g->n; i++) c[i] = 0.25f;
    nnr_gemm_f32(g->ta, g->tb, g->m, g->n, g->k, g->a, lda, g->b, ldb, c, g->n, 1);
}

Test(threads, gemm_bit_identical)
{
    static const int shapes[][3] = {{301, 257, 129}, {13, 1500, 200}, {1, 4099, 517},
                                    {3, 2053, 700}, {700, 40, 90}, {20, 1000, 300}};
    tgen g = {41};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                gemm_ctx c = {ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL};
                size_t as = (size_t)c.m * c.k, bs = (size_t)c.k * c.n;
                c.a = tg_alloc(as);
                c.b = tg_alloc(bs);
                tg_fill(&g, c.a, as, -1, 1);
                tg_fill(&g, c.b, bs, -1, 1);
                char what[64];
                snprintf(what, sizeof what, "gemm %dx%dx%d ta %d tb %d", c.m, c.n, c.k, ta, tb);
                same_bits(what, run_gemm, &c, (size_t)c.m * c.n);
                free(c.a);
                free(c.b);
            }
}

typedef struct { int n, in, out; float *x, *w, *b, *dy; nnr_act act; } lin_ctx;
static void run_linear(void *p, float *o)
{
    lin_ctx *l = p;
    nnr_linear_f32(l->n, l->in, l->out, l->x, l->w, l->b, o, l->act, 0.1f);
}
static void run_linear_bwd(void *p, float *o)
{
    lin_ctx *l = p;
    float *dx = o, *dw = o + (size_t)l->n * l->in, *db = dw + (size_t)l->out * l->in;
    nnr_linear_backward_f32(l->n, l->in, l->out, l->x, l->w, l->dy, dx, dw, db);
}

Test(threads, linear_bit_identical)
{
    static const int shapes[][3] = {{256, 300, 200}, {1, 2000, 1000}, {2, 784, 1500},
                                    {64, 784, 128}};
    tgen g = {42};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        lin_ctx l = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL, NULL,
                     (nnr_act)(s % 6)};
        size_t xs = (size_t)l.n * l.in, ws = (size_t)l.out * l.in, ys = (size_t)l.n * l.out;
        l.x = tg_alloc(xs); l.w = tg_alloc(ws); l.b = tg_alloc(l.out); l.dy = tg_alloc(ys);
        tg_fill(&g, l.x, xs, -1, 1);
        tg_fill(&g, l.w, ws, -0.1, 0.1);
        tg_fill(&g, l.b, l.out, -1, 1);
        tg_fill(&g, l.dy, ys, -1, 1);
        same_bits("linear forward", run_linear, &l, ys);
        same_bits("linear backward", run_linear_bwd, &l, xs + ws + (size_t)l.out);
        free(l.x); free(l.w); free(l.b); free(l.dy);
    }
}

/* packed weights, batch below NNR_LINEAR_PACKED_MIN_BATCH: threads take
 * groups of panels (an odd count of panels: a lone last one) */
typedef struct { int n, in, out; float *x, *wp, *b; nnr_act act; } plin_ctx;
static void run_linear_packed(void *p, float *o)
{
    plin_ctx *l = p;
    nnr_linear_packed_f32(l->n, l->in, l->out, l->x, l->wp, l->b, o, l->act, 0.1f);
}

Test(threads, linear_packed_small_batch_bit_identical)
{
    static const int shapes[][3] = {{1, 2000, 1000}, {2, 784, 1500}, {3, 1100, 330}, {1, 4096, 4000}};
    tgen g = {43};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        plin_ctx l = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL, (nnr_act)(s % 6)};
        size_t xs = (size_t)l.n * l.in, ws = (size_t)l.out * l.in;
        float *w = tg_alloc(ws);
        l.x = tg_alloc(xs); l.b = tg_alloc(l.out);
        l.wp = tg_alloc(nnr_linear_packed_size(l.in, l.out));
        tg_fill(&g, l.x, xs, -1, 1);
        tg_fill(&g, w, ws, -0.1, 0.1);
        tg_fill(&g, l.b, l.out, -1, 1);
        nnr_pack_linear_weight_f32(l.in, l.out, w, l.wp);
        same_bits("packed linear forward", run_linear_packed, &l, (size_t)l.n * l.out);
        free(w); free(l.x); free(l.wp); free(l.b);
    }
}

typedef struct { int n; nnr_conv2d_shape s; float *x, *w, *b, *dy, *scr; } conv_ctx;
static size_t conv_xs(const conv_ctx *c) { return (size_t)c->n * c->s.in_channels * c->s.in_h * c->s.in_w; }
static size_t conv_ws(const conv_ctx *c) { return (size_t)c->s.out_channels * c->s.in_channels * c->s.kernel_h * c->s.kernel_w; }
static size_t conv_ys(const conv_ctx *c) { return (size_t)c->n * c->s.out_channels * c->s.out_h * c->s.out_w; }
static void run_conv(void *p, float *o)
{
    conv_ctx *c = p;
    nnr_conv2d_f32(c->n, &c->s, c->x, c->w, c->b, o, NNR_ACT_RELU, 0, c->scr);
}
static void run_conv_bwd(void *p, float *o)
{
    conv_ctx *c = p;
    float *dx = o, *dw = o + conv_xs(c), *db = dw + conv_ws(c);
    nnr_conv2d_backward_f32(c->n, &c->s, c->x, c->w, c->dy, dx, dw, db, c->scr);
}

static void conv_same_bits(conv_ctx c, tgen g)
{
    c.x = tg_alloc(conv_xs(&c)); c.w = tg_alloc(conv_ws(&c)); c.b = tg_alloc(c.s.out_channels);
    c.dy = tg_alloc(conv_ys(&c)); c.scr = tg_alloc(nnr_conv2d_scratch(&c.s));
    tg_fill(&g, c.x, conv_xs(&c), -1, 1);
    tg_fill(&g, c.w, conv_ws(&c), -0.2, 0.2);
    tg_fill(&g, c.b, c.s.out_channels, -1, 1);
    tg_fill(&g, c.dy, conv_ys(&c), -1, 1);
    same_bits("conv2d forward", run_conv, &c, conv_ys(&c));
    same_bits("conv2d backward", run_conv_bwd, &c, conv_xs(&c) + conv_ws(&c) + c.s.out_channels);
    free(c.x); free(c.w); free(c.b); free(c.dy); free(c.scr);
}

Test(threads, conv2d_bit_identical)
{
    /* one sample at a time (30x30), and the batched path in slices (W6's
     * 7x7: blocks of 16 samples, 1152 taps in slices, 17 = 16 + 1) */
    conv_same_bits((conv_ctx){3, {32, 30, 30, 64, 3, 3, 1, 1, 1, 1, 30, 30, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){43});
    conv_same_bits((conv_ctx){17, {128, 7, 7, 64, 3, 3, 1, 1, 1, 1, 7, 7, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){45});
}

/* the loops split across threads outside the GEMM: the direct convolution's
 * samples (one input channel, 128 out: W6's first layer, 28x28 and an odd
 * 27x27, odd n), the batched path's im2col, col2im and block copies
 * (W6's 14x14 in blocks of 4 samples, 7 = 4 + 3; 7x7 in 16s, 19 = 16 + 3)
 * and the bias gradient's channels */
Test(threads, conv2d_split_loops_bit_identical)
{
    conv_same_bits((conv_ctx){5, {1, 28, 28, 128, 3, 3, 1, 1, 1, 1, 28, 28, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){46});
    conv_same_bits((conv_ctx){7, {1, 27, 27, 128, 3, 3, 1, 1, 1, 1, 27, 27, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){47});
    conv_same_bits((conv_ctx){7, {48, 14, 14, 72, 3, 3, 1, 1, 1, 1, 14, 14, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){48});
    conv_same_bits((conv_ctx){19, {40, 7, 7, 96, 3, 3, 1, 1, 1, 1, 7, 7, 1, 1, 1}, NULL, NULL, NULL, NULL, NULL}, (tgen){49});
}

/* an optimizer step splits its parameters across threads (whole cache
 * lines, above 2^16): Adam, AdamW with decay, SGD with momentum (its first
 * step and a later one), an odd length; and the finite check still sees a
 * NaN in either thread's range */
typedef struct { size_t len; nnr_optim o; float *p, *g; int nan_at; } opt_ctx;
static void run_opt(void *q, float *out)
{
    opt_ctx *c = q;
    float *p = out, *m = out + c->len, *v = out + 2 * c->len;
    memcpy(p, c->p, c->len * sizeof *p);
    memset(m, 0, 2 * c->len * sizeof *m);
    int ok = 1;
    for (long step = 1; step <= 3; step++)
        ok = nnr_optim_step(&c->o, c->len, p, c->g, m, v, step) && ok;
    out[3 * c->len] = (float)ok;
}

Test(threads, optim_bit_identical)
{
    tgen g = {50};
    const size_t len = 100003;
    const nnr_optim opts[] = {
        {.kind = NNR_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
        {.kind = NNR_OPT_ADAMW, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
         .weight_decay = 0.01},
        {.kind = NNR_OPT_SGD, .lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4}};
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        for (int nan = 0; nan < 3; nan++) {
            opt_ctx c = {len, opts[k], tg_alloc(len), tg_alloc(len), 0};
            tg_fill(&g, c.p, len, -1, 1);
            tg_fill(&g, c.g, len, -1, 1);
            if (nan) c.g[nan == 1 ? 17 : len - 5] = NAN; /* first or last range */
            char what[48];
            snprintf(what, sizeof what, "optimizer %zu nan %d", k, nan);
            float *o1 = tg_alloc(3 * len + 1);
            run_opt(&c, o1);
            cr_expect(o1[3 * len] == (nan ? 0.0f : 1.0f), "%s: finite flag %g", what, o1[3 * len]);
            free(o1);
            same_bits(what, run_opt, &c, 3 * len + 1);
            free(c.p); free(c.g);
        }
}

/* max-pool 2x2 (forward, backward) and relu (forward, backward) split
 * their planes / elements above 2^18 inputs; a NaN sends the forward to its
 * generic loops whatever chunk it is in */
typedef struct { int n, nan; nnr_pool2d_shape s; float *x, *dy; } pool_ctx;
static size_t pool_xs(const pool_ctx *c) { return (size_t)c->n * c->s.channels * c->s.in_h * c->s.in_w; }
static size_t pool_ys(const pool_ctx *c) { return (size_t)c->n * c->s.channels * c->s.out_h * c->s.out_w; }
static void run_pool(void *p, float *o)
{
    pool_ctx *c = p;
    nnr_maxpool2d_f32(c->n, &c->s, c->x, o);
    nnr_maxpool2d_backward_f32(c->n, &c->s, c->x, c->dy, o + pool_ys(c));
    nnr_act_f32(NNR_ACT_RELU, 0, pool_xs(c), c->x, o + pool_ys(c) + pool_xs(c));
    nnr_act_backward_f32(NNR_ACT_RELU, 0, pool_xs(c), c->x, NULL, c->x,
                         o + pool_ys(c) + 2 * pool_xs(c));
}

Test(threads, pool_relu_bit_identical)
{
    tgen g = {44};
    for (int v = 0; v < 3; v++) {
        /* 28x28 (W6), an odd side (the backward clears dx), a NaN */
        const int h = v == 1 ? 29 : 28;
        pool_ctx c = {4, v == 2, {48, h, h, 2, 2, 2, 2, 0, 0, h / 2, h / 2}, NULL, NULL};
        c.x = tg_alloc(pool_xs(&c));
        c.dy = tg_alloc(pool_xs(&c));
        tg_fill(&g, c.x, pool_xs(&c), -1, 1);
        tg_fill(&g, c.dy, pool_xs(&c), -1, 1);
        if (c.nan) c.x[pool_xs(&c) - 100] = NAN;
        char what[40];
        snprintf(what, sizeof what, "maxpool/relu variant %d", v);
        same_bits(what, run_pool, &c, pool_ys(&c) + 3 * pool_xs(&c));
        free(c.x); free(c.dy);
    }
}

/* The split is real: 2 threads do run when asked for. */
Test(threads, two_threads_available)
{
    omp_set_num_threads(2);
    int seen = 0;
#pragma omp parallel
    {
#pragma omp atomic
        seen++;
    }
    cr_expect(seen == 2, "omp parallel ran %d threads", seen);
}
#else
Test(threads, bit_identical) { cr_skip_test("built without OpenMP (NNC_THREADS=OFF)"); }
#endif
