/* test_kernels.c — the layer kernels (activations, GEMM, linear, conv2d,
 * pooling, softmax) against their naive references at awkward sizes, a few
 * hand-computed values, and finite-difference checks of every backward. */
#include "kern_check.h"

/* every activation of the runtime's table (nnr.h NNR_ACTS) */
#define ACT_ROW_(id) NNR_ACT_##id,
static const nnr_act ALL_ACTS[] = {NNR_ACT_NONE, NNR_ACTS(ACT_ROW_)};
#undef ACT_ROW_
/* the second parameter the table loops pass (softplus' threshold) */
#define P1 20.0f
#define NACTS (sizeof ALL_ACTS / sizeof ALL_ACTS[0])
static const size_t SIZES[] = {1, 7, 16, 17, 31, 63, 100, 1000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

/* ------------------------------------------------------------------ acts */

/* The inputs where an activation is defined and smooth enough to test:
 * [lo, hi], and (*step) 1 for the piecewise-constant ones, whose finite
 * differences must stay between two of their jumps. */
static void act_domain(nnr_act a, double *lo, double *hi, int *step)
{
    /* the others: [lo, hi] as given */
    *step = a == NNR_ACT_FLOOR || a == NNR_ACT_CEIL || a == NNR_ACT_ROUND;
    switch (a) {
    case NNR_ACT_LOG: case NNR_ACT_SQRT: case NNR_ACT_POW: *lo = 0.1, *hi = 6; return;
    case NNR_ACT_ACOSH: *lo = 1.1, *hi = 6; return;
    case NNR_ACT_ASIN: case NNR_ACT_ACOS: case NNR_ACT_ATANH: *lo = -0.9, *hi = 0.9; return;
    case NNR_ACT_TAN: *lo = -1.2, *hi = 1.2; return;
    default: return;
    }
}

/* 1 when the activation is defined and continuous everywhere, so a fused
 * epilogue (whose input differs from the reference's by rounding) can be
 * compared on any input. */
static int act_everywhere(nnr_act a)
{
    double lo = -1, hi = 1;
    int step;
    act_domain(a, &lo, &hi, &step);
    return lo == -1 && hi == 1 && !step && a != NNR_ACT_SIGN;
}

/* x moved inside its activation's domain; for the piecewise-constant
 * ones, 0.3 past an integer (0.2 before a half, where round jumps);
 * [lo, hi] for the others, gap away from 0 when gap > 0. */
static void act_fill(tgen *g, nnr_act a, float *x, size_t n, double lo, double hi, double gap)
{
    int step;
    act_domain(a, &lo, &hi, &step);
    if (lo < 0 && gap > 0)
        tg_fill_away0(g, x, n, lo, hi, gap);
    else
        tg_fill(g, x, n, lo, hi);
    for (size_t i = 0; step && i < n; i++)
        x[i] = floorf(x[i]) + 0.3f;
}

Test(act, forward_matches_reference)
{
    tgen g = {1};
    for (size_t a = 0; a < NACTS; a++)
        for (size_t s = 0; s < NSIZES; s++) {
            size_t n = SIZES[s];
            float *x = tg_alloc(n), *y = tg_alloc(n), *r = tg_alloc(n);
            act_fill(&g, ALL_ACTS[a], x, n, -8, 8, 0);
            nnr_act2_f32(ALL_ACTS[a], 0.07f, P1, n, x, y);
            nnr_ref_act2_f32(ALL_ACTS[a], 0.07f, P1, n, x, r);
            char what[64];
            snprintf(what, sizeof what, "act %d len %zu", (int)ALL_ACTS[a], n);
            check_close(what, y, r, n, 1e-6, 1e-6);
            /* in place */
            nnr_act2_f32(ALL_ACTS[a], 0.07f, P1, n, x, x);
            check_close(what, x, r, n, 1e-6, 1e-6);
            free(x); free(y); free(r);
        }
}

Test(act, hand_values_and_extremes)
{
    float x[] = {1.0f, -1.0f, -2.0f, 0.0f, 100.0f, -100.0f, -1000.0f};
    float y[7];
    nnr_act_f32(NNR_ACT_GELU, 0, 2, x, y);
    EXPECT_NEAR(y[0], 0.8413447460685429, 1e-6);
    EXPECT_NEAR(y[1], -0.15865525393145707, 1e-6);
    nnr_act_f32(NNR_ACT_LEAKY_RELU, 0.1f, 3, x, y);
    EXPECT_NEAR(y[2], -0.2, 1e-7);
    EXPECT_NEAR(y[0], 1.0, 0);
    nnr_act_f32(NNR_ACT_SIGMOID, 0, 7, x, y);
    EXPECT_NEAR(y[3], 0.5, 0);
    EXPECT_NEAR(y[0], 0.7310585786300049, 1e-7);
    EXPECT_NEAR(y[4], 1.0, 0);
    cr_expect(y[5] > 0 && y[5] < 1e-43, "sigmoid(-100) = %g", (double)y[5]);
    cr_expect(y[6] == 0.0f, "sigmoid(-1000) = %g", (double)y[6]);
    nnr_act_f32(NNR_ACT_TANH, 0, 7, x, y);
    EXPECT_NEAR(y[1], -0.7615941559557649, 1e-7);
    EXPECT_NEAR(y[4], 1.0, 0);
    nnr_act_f32(NNR_ACT_RELU, 0, 7, x, y);
    EXPECT_NEAR(y[2], 0.0, 0);
    EXPECT_NEAR(y[4], 100.0, 0);
    /* derivatives at 0: relu 0, leaky slope; gelu'(0) = 0.5 */
    float z = 0.0f, one = 1.0f, d;
    nnr_act_backward_f32(NNR_ACT_RELU, 0, 1, &z, &z, &one, &d);
    EXPECT_NEAR(d, 0.0, 0);
    nnr_act_backward_f32(NNR_ACT_LEAKY_RELU, 0.25f, 1, &z, &z, &one, &d);
    EXPECT_NEAR(d, 0.25, 0);
    nnr_act_backward_f32(NNR_ACT_GELU, 0, 1, &z, &z, &one, &d);
    EXPECT_NEAR(d, 0.5, 1e-7);
    /* NaN propagates through relu (vector body and tail) */
    float nx[17], ny[17];
    for (int i = 0; i < 17; i++) nx[i] = (i == 3 || i == 16) ? NAN : 1.0f;
    nnr_act_f32(NNR_ACT_RELU, 0, 17, nx, ny);
    cr_expect(isnan(ny[3]) && isnan(ny[16]) && ny[0] == 1.0f);
}

/* the element-wise functions of imported models at hand-computed points */
Test(act, math_hand_values)
{
    float x[] = {2.5f, -0.5f, 1.5f, -2.5f, 0.0f, -3.25f}, y[6];
    nnr_act_f32(NNR_ACT_ROUND, 0, 6, x, y);   /* half to even, as torch.round */
    EXPECT_NEAR(y[0], 2.0, 0);
    EXPECT_NEAR(y[1], 0.0, 0);
    EXPECT_NEAR(y[2], 2.0, 0);
    EXPECT_NEAR(y[3], -2.0, 0);
    EXPECT_NEAR(y[5], -3.0, 0);
    nnr_act_f32(NNR_ACT_SIGN, 0, 6, x, y);
    EXPECT_NEAR(y[0], 1.0, 0);
    EXPECT_NEAR(y[4], 0.0, 0);
    EXPECT_NEAR(y[5], -1.0, 0);
    nnr_act_f32(NNR_ACT_FLOOR, 0, 6, x, y);
    EXPECT_NEAR(y[5], -4.0, 0);
    nnr_act_f32(NNR_ACT_CEIL, 0, 6, x, y);
    EXPECT_NEAR(y[5], -3.0, 0);
    nnr_act_f32(NNR_ACT_POW, 3.0f, 6, x, y);
    EXPECT_NEAR(y[5], -34.328125, 1e-5);
    float one = 1.0f, r;
    nnr_act_f32(NNR_ACT_EXP, 0, 1, &one, &r);
    EXPECT_NEAR(r, 2.718281828459045, 1e-6);
    nnr_act_f32(NNR_ACT_ERF, 0, 1, &one, &r);
    EXPECT_NEAR(r, 0.8427007929497149, 1e-6);
    nnr_act_f32(NNR_ACT_ATAN, 0, 1, &one, &r);
    EXPECT_NEAR(r, 0.7853981633974483, 1e-7);
    nnr_act_f32(NNR_ACT_ACOSH, 0, 1, &one, &r);
    EXPECT_NEAR(r, 0.0, 0);
}

Test(act, backward_matches_reference)
{
    tgen g = {2};
    for (size_t a = 0; a < NACTS; a++)
        for (size_t s = 0; s < NSIZES; s++) {
            size_t n = SIZES[s];
            float *x = tg_alloc(n), *y = tg_alloc(n), *dy = tg_alloc(n), *dx = tg_alloc(n),
                  *r = tg_alloc(n);
            act_fill(&g, ALL_ACTS[a], x, n, -6, 6, 0);
            tg_fill(&g, dy, n, -1, 1);
            nnr_act2_f32(ALL_ACTS[a], 0.2f, P1, n, x, y);
            nnr_act2_backward_f32(ALL_ACTS[a], 0.2f, P1, n, x, y, dy, dx);
            nnr_ref_act2_backward_f32(ALL_ACTS[a], 0.2f, P1, n, x, y, dy, r);
            char what[64];
            snprintf(what, sizeof what, "act backward %d len %zu", (int)ALL_ACTS[a], n);
            check_close(what, dx, r, n, 1e-6, 1e-5);
            /* dx aliasing dy */
            nnr_act2_backward_f32(ALL_ACTS[a], 0.2f, P1, n, x, y, dy, dy);
            check_close(what, dy, r, n, 1e-6, 1e-5);
            free(x); free(y); free(dy); free(dx); free(r);
        }
}

typedef struct { nnr_act act; float param; size_t n; float *x, *y, *r; } act_ctx;
static double act_f(void *c)
{
    act_ctx *a = c;
    nnr_act2_f32(a->act, a->param, P1, a->n, a->x, a->y);
    return proj(a->r, a->y, a->n);
}

Test(act, backward_finite_differences)
{
    tgen g = {3};
    enum { N = 40 };
    for (size_t a = 0; a < NACTS; a++) {
        float x[N], y[N], r[N], dx[N];
        act_fill(&g, ALL_ACTS[a], x, N, -4, 4, 0.05);
        tg_fill(&g, r, N, -1, 1);
        act_ctx c = {ALL_ACTS[a], 0.15f, N, x, y, r};
        act_f(&c);
        nnr_act2_backward_f32(c.act, c.param, P1, N, x, y, r, dx);
        char what[32];
        snprintf(what, sizeof what, "act %d", (int)c.act);
        fd_check(what, act_f, &c, x, N, dx, 1e-2f, 1e-3, 1e-2);
    }
}

/* ------------------------------------------------------------------ gemm */

static void gemm_case(int ta, int tb, int m, int n, int k, int acc, tgen *g)
{
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb,
           csz = (size_t)m * ldc;
    float *a = tg_alloc(asz), *b = tg_alloc(bsz), *c = tg_alloc(csz), *r = tg_alloc(csz);
    tg_fill(g, a, asz, -1, 1);
    tg_fill(g, b, bsz, -1, 1);
    tg_fill(g, c, csz, -1, 1);
    memcpy(r, c, csz * sizeof *r);
    nnr_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc);
    nnr_ref_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, r, ldc, acc);
    char what[96];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d m=%d n=%d k=%d acc=%d", ta, tb, m, n, k, acc);
    /* float accumulation of k products of magnitude <= 1 */
    check_close(what, c, r, csz, 1e-5 + 2e-7 * k, 1e-5);
    free(a); free(b); free(c); free(r);
}

Test(gemm, matches_reference_all_transposes)
{
    static const int shapes[][3] = {
        {1, 1, 1},    {7, 17, 63},  {17, 7, 100}, {63, 100, 17}, {100, 63, 7},
        {1, 100, 63}, {100, 1, 17}, {6, 32, 1},   {2, 33, 70},   {3, 5, 300},
        {13, 33, 300}, {197, 45, 600}, {5, 130, 129}, {4, 16, 8}, {400, 37, 150}, {11, 64, 200},
    };
    tgen g = {4};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++)
                    gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], acc, &g);
}

/* B row-major for 12..23 rows of A (read in place with AVX2 when ldb is no
 * multiple of 64, else packed) and A by rows or transposed (the AVX2
 * inner loops' index / row-offset addressing), k past one KC block:
 * against the reference, and the same bits whether B is read in place
 * (ldb = n + 1) or packed (ldb = 256). */
Test(gemm, b_in_place_and_a_addressing)
{
    static const int shapes[][3] = {{12, 196, 72}, {16, 196, 72}, {18, 64, 300},
                                    {23, 40, 600}, {24, 33, 100}, {13, 160, 257}};
    tgen g = {44};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int acc = 0; acc < 2; acc++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int lda = (ta ? m : k) + 2, ldc = n, ldb1 = n + 1, ldb2 = 256;
                size_t asz = (size_t)(ta ? k : m) * lda, csz = (size_t)m * ldc;
                float *a = tg_alloc(asz), *b1 = tg_alloc((size_t)k * ldb1),
                      *b2 = tg_alloc((size_t)k * ldb2), *c1 = tg_alloc(csz),
                      *c2 = tg_alloc(csz), *r = tg_alloc(csz);
                tg_fill(&g, a, asz, -1, 1);
                tg_fill(&g, b1, (size_t)k * ldb1, -1, 1);
                for (int p = 0; p < k; p++)
                    memcpy(b2 + (size_t)p * ldb2, b1 + (size_t)p * ldb1, (size_t)n * sizeof *b1);
                tg_fill(&g, c1, csz, -1, 1);
                memcpy(c2, c1, csz * sizeof *c1);
                memcpy(r, c1, csz * sizeof *c1);
                nnr_gemm_f32(ta, 0, m, n, k, a, lda, b1, ldb1, c1, ldc, acc);
                nnr_gemm_f32(ta, 0, m, n, k, a, lda, b2, ldb2, c2, ldc, acc);
                nnr_ref_gemm_f32(ta, 0, m, n, k, a, lda, b1, ldb1, r, ldc, acc);
                char what[96];
                snprintf(what, sizeof what, "gemm ta=%d m=%d n=%d k=%d acc=%d", ta, m, n, k, acc);
                check_close(what, c1, r, csz, 1e-5 + 2e-7 * k, 1e-5);
                cr_expect(memcmp(c1, c2, csz * sizeof *c1) == 0,
                          "%s: in-place B and packed B differ", what);
                free(a); free(b1); free(b2); free(c1); free(c2); free(r);
            }
}

Test(gemm, hand_computed)
{
    /* [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50] */
    float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, c[4];
    nnr_gemm_f32(0, 0, 2, 2, 2, a, 2, b, 2, c, 2, 0);
    float want[] = {19, 22, 43, 50};
    check_close("2x2", c, want, 4, 0, 0);
    /* Aᵀ·Bᵀ = (B·A)ᵀ: B·A = [23 34; 31 46] */
    nnr_gemm_f32(1, 1, 2, 2, 2, a, 2, b, 2, c, 2, 0);
    float want2[] = {23, 31, 34, 46};
    check_close("2x2 tt", c, want2, 4, 0, 0);
    /* accumulate adds */
    nnr_gemm_f32(1, 1, 2, 2, 2, a, 2, b, 2, c, 2, 1);
    float want3[] = {46, 62, 68, 92};
    check_close("2x2 acc", c, want3, 4, 0, 0);
    /* k = 0: zero, or unchanged when accumulating */
    nnr_gemm_f32(0, 0, 2, 2, 0, a, 2, b, 2, c, 2, 1);
    check_close("k=0 acc", c, want3, 4, 0, 0);
    nnr_gemm_f32(0, 0, 2, 2, 0, a, 2, b, 2, c, 2, 0);
    float zero[4] = {0};
    check_close("k=0", c, zero, 4, 0, 0);
}

/* ------------------------------------------------------------------ linear */

Test(linear, forward_matches_reference)
{
    static const int shapes[][3] = {{1, 1, 1}, {1, 17, 10}, {3, 63, 7}, {7, 100, 17},
                                    {100, 7, 63}, {33, 130, 33}, {2, 784, 128}};
    tgen g = {5};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t a = 0; a < NACTS; a++)
            for (int hasb = 0; hasb < 2; hasb++) {
                if (!act_everywhere(ALL_ACTS[a]))
                    continue;
                int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
                float *x = tg_alloc((size_t)n * in), *w = tg_alloc((size_t)out * in),
                      *b = tg_alloc(out), *y = tg_alloc((size_t)n * out),
                      *r = tg_alloc((size_t)n * out);
                tg_fill(&g, x, (size_t)n * in, -1, 1);
                tg_fill(&g, w, (size_t)out * in, -0.5, 0.5);
                tg_fill(&g, b, out, -1, 1);
                nnr_linear_f32(n, in, out, x, w, hasb ? b : NULL, y, ALL_ACTS[a], 0.01f);
                nnr_ref_linear_f32(n, in, out, x, w, hasb ? b : NULL, r, ALL_ACTS[a], 0.01f);
                char what[96];
                snprintf(what, sizeof what, "linear %dx%d->%d act %d bias %d", n, in, out,
                         (int)ALL_ACTS[a], hasb);
                check_close(what, y, r, (size_t)n * out, 1e-5 + 1e-7 * in, 1e-5);
                free(x); free(w); free(b); free(y); free(r);
            }
}

Test(linear, packed_matches_reference)
{
    static const int shapes[][3] = {{1, 1, 1},  {1, 17, 10},   {3, 63, 7},   {4, 100, 17},
                                    {7, 9, 33}, {33, 130, 70}, {1, 784, 128}, {64, 784, 128},
                                    {5, 600, 3}};
    tgen g = {15};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int hasb = 0; hasb < 2; hasb++) {
            int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            size_t psz = nnr_linear_packed_size(in, out);
            cr_assert(psz >= (size_t)in * out);
            float *x = tg_alloc((size_t)n * in), *w = tg_alloc((size_t)out * in),
                  *wp = tg_alloc(psz), *b = tg_alloc(out), *y = tg_alloc((size_t)n * out),
                  *y2 = tg_alloc((size_t)n * out), *r = tg_alloc((size_t)n * out);
            tg_fill(&g, x, (size_t)n * in, -1, 1);
            tg_fill(&g, w, (size_t)out * in, -0.5, 0.5);
            tg_fill(&g, b, out, -1, 1);
            nnr_pack_linear_weight_f32(in, out, w, wp);
            nnr_linear_packed_f32(n, in, out, x, wp, hasb ? b : NULL, y, NNR_ACT_RELU, 0.0f);
            nnr_ref_linear_f32(n, in, out, x, w, hasb ? b : NULL, r, NNR_ACT_RELU, 0.0f);
            char what[96];
            snprintf(what, sizeof what, "packed linear %dx%d->%d bias %d", n, in, out, hasb);
            check_close(what, y, r, (size_t)n * out, 1e-5 + 1e-7 * in, 1e-5);
            if (n >= NNR_LINEAR_PACKED_MIN_BATCH) {
                /* the same micro-kernels as the unpacked GEMM: bit for bit */
                nnr_linear_f32(n, in, out, x, w, hasb ? b : NULL, y2, NNR_ACT_RELU, 0.0f);
                cr_expect(memcmp(y, y2, (size_t)n * out * sizeof *y) == 0, "%s: differs from nnr_linear_f32", what);
            }
            free(x); free(w); free(wp); free(b); free(y); free(y2); free(r);
        }
}

Test(linear, packed_small_batch_every_activation)
{
    /* batches below NNR_LINEAR_PACKED_MIN_BATCH: groups of panels side by
     * side and lone panels (out of 1 to 7 panels, partly filled: AVX-512
     * takes groups of 4, the last of 1 to 4; AVX2 groups of 2), k odd and
     * even, every activation (relu/leaky_relu in registers, the others
     * after the store) */
    static const int shapes[][3] = {{1, 1, 33},  {1, 2, 64},   {2, 7, 65},  {3, 128, 96},
                                    {1, 64, 10}, {1, 129, 160}, {2, 300, 17}, {1, 784, 128},
                                    {1, 50, 224}, {2, 33, 200}};
    tgen g = {16};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t a = 0; a < NACTS; a++) {
            if (!act_everywhere(ALL_ACTS[a]))
                continue;
            int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2], hasb = (int)(a + s) % 2;
            float *x = tg_alloc((size_t)n * in), *w = tg_alloc((size_t)out * in),
                  *wp = tg_alloc(nnr_linear_packed_size(in, out)), *b = tg_alloc(out),
                  *y = tg_alloc((size_t)n * out), *r = tg_alloc((size_t)n * out);
            tg_fill(&g, x, (size_t)n * in, -1, 1);
            tg_fill(&g, w, (size_t)out * in, -0.5, 0.5);
            tg_fill(&g, b, out, -1, 1);
            nnr_pack_linear_weight_f32(in, out, w, wp);
            nnr_linear_packed_f32(n, in, out, x, wp, hasb ? b : NULL, y, ALL_ACTS[a], 0.01f);
            nnr_ref_linear_f32(n, in, out, x, w, hasb ? b : NULL, r, ALL_ACTS[a], 0.01f);
            char what[96];
            snprintf(what, sizeof what, "packed linear %dx%d->%d act %d bias %d", n, in, out,
                     (int)ALL_ACTS[a], hasb);
            check_close(what, y, r, (size_t)n * out, 1e-5 + 1e-7 * in, 1e-5);
            free(x); free(w); free(wp); free(b); free(y); free(r);
        }
}

Test(linear, batch_rows_are_independent)
{
    /* a row's result does not depend on which batch it is computed in */
    enum { N = 9, IN = 37, OUT = 21 };
    tgen g = {6};
    float x[N * IN], w[OUT * IN], b[OUT], y[N * OUT], y1[OUT];
    tg_fill(&g, x, N * IN, -1, 1);
    tg_fill(&g, w, OUT * IN, -1, 1);
    tg_fill(&g, b, OUT, -1, 1);
    nnr_linear_f32(N, IN, OUT, x, w, b, y, NNR_ACT_TANH, 0);
    for (int i = 0; i < N; i++) {
        nnr_linear_f32(1, IN, OUT, x + i * IN, w, b, y1, NNR_ACT_TANH, 0);
        check_close("row alone vs in batch", y1, y + i * OUT, OUT, 2e-6, 2e-6);
    }
}

Test(linear, backward_matches_reference)
{
    static const int shapes[][3] = {{1, 1, 1}, {1, 17, 10}, {3, 63, 7}, {7, 100, 17},
                                    {100, 7, 63}, {64, 130, 33}};
    tgen g = {7};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        size_t xs = (size_t)n * in, ws = (size_t)out * in, ys = (size_t)n * out;
        float *x = tg_alloc(xs), *w = tg_alloc(ws), *dy = tg_alloc(ys);
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(out);
        float *rx = tg_alloc(xs), *rw = tg_alloc(ws), *rb = tg_alloc(out);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, w, ws, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        tg_fill(&g, dw, ws, 5, 6); /* must be overwritten, not accumulated */
        tg_fill(&g, db, out, 5, 6);
        nnr_linear_backward_f32(n, in, out, x, w, dy, dx, dw, db);
        nnr_ref_linear_backward_f32(n, in, out, x, w, dy, rx, rw, rb);
        check_close("linear dx", dx, rx, xs, 1e-5 + 1e-7 * out, 1e-5);
        check_close("linear dw", dw, rw, ws, 1e-5 + 1e-7 * n, 1e-5);
        check_close("linear db", db, rb, out, 1e-5 + 1e-7 * n, 1e-5);
        /* NULL gradients are skipped */
        memset(dx, 0, xs * sizeof *dx);
        nnr_linear_backward_f32(n, in, out, x, w, dy, dx, NULL, NULL);
        check_close("linear dx alone", dx, rx, xs, 1e-5 + 1e-7 * out, 1e-5);
        free(x); free(w); free(dy); free(dx); free(dw); free(db); free(rx); free(rw); free(rb);
    }
}

typedef struct { int n, in, out; float *x, *w, *b, *y, *r; nnr_act act; } lin_ctx;
static double lin_f(void *p)
{
    lin_ctx *c = p;
    nnr_linear_f32(c->n, c->in, c->out, c->x, c->w, c->b, c->y, c->act, 0.1f);
    return proj(c->r, c->y, (size_t)c->n * c->out);
}

Test(linear, backward_finite_differences)
{
    enum { N = 3, IN = 7, OUT = 5 };
    tgen g = {8};
    float x[N * IN], w[OUT * IN], b[OUT], y[N * OUT], r[N * OUT];
    float dx[N * IN], dw[OUT * IN], db[OUT];
    tg_fill(&g, x, N * IN, -1, 1);
    tg_fill(&g, w, OUT * IN, -1, 1);
    tg_fill(&g, b, OUT, -1, 1);
    tg_fill(&g, r, N * OUT, -1, 1);
    lin_ctx c = {N, IN, OUT, x, w, b, y, r, NNR_ACT_NONE};
    nnr_linear_backward_f32(N, IN, OUT, x, w, r, dx, dw, db);
    fd_check("linear dx", lin_f, &c, x, N * IN, dx, 1e-2f, 1e-3, 1e-2);
    fd_check("linear dw", lin_f, &c, w, OUT * IN, dw, 1e-2f, 1e-3, 1e-2);
    fd_check("linear db", lin_f, &c, b, OUT, db, 1e-2f, 1e-3, 1e-2);
}

/* ------------------------------------------------------------------ conv2d */

static nnr_conv2d_shape conv_shape(int c, int h, int w, int oc, int kh, int kw, int sh, int sw,
                                   int ph, int pw)
{
    nnr_conv2d_shape s = {c, h, w, oc, kh, kw, sh, sw, ph, pw,
                          (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1, 1, 1, 1};
    return s;
}

static const int CONV_SHAPES[][10] = {
    /* c h  w  oc kh kw sh sw ph pw */
    {3, 7, 9, 5, 3, 3, 1, 1, 1, 1},
    {2, 8, 8, 4, 3, 3, 2, 2, 0, 0},
    {17, 5, 6, 7, 1, 1, 1, 1, 0, 0},  /* pointwise: no im2col */
    {1, 11, 13, 3, 5, 5, 3, 3, 2, 2},
    {4, 6, 7, 17, 2, 3, 2, 1, 1, 0},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
    {3, 9, 9, 2, 3, 3, 2, 2, 1, 1},
    {1, 4, 4, 1, 4, 4, 1, 1, 0, 0},
    {6, 12, 12, 33, 3, 3, 1, 1, 1, 1},
    /* stride 1, ow == w: the shifted-plane im2col */
    {2, 9, 11, 3, 5, 5, 1, 1, 2, 2},
    {2, 6, 7, 3, 2, 3, 1, 1, 0, 1},
    {2, 5, 1, 3, 3, 5, 1, 1, 1, 2},
    {1, 28, 28, 8, 3, 3, 1, 1, 1, 1},
    /* stride 1, few taps: the direct path (ow < and >= the vector width,
     * partial output-channel blocks, padding 0/1/2, odd widths) */
    {8, 14, 14, 16, 3, 3, 1, 1, 1, 1},
    {1, 13, 21, 6, 5, 5, 1, 1, 2, 2},
    {3, 11, 37, 5, 3, 3, 1, 1, 0, 0},
    {3, 6, 5, 7, 5, 5, 1, 1, 2, 2},
    {1, 9, 17, 3, 5, 5, 1, 1, 0, 0},
    {3, 4, 3, 2, 3, 3, 1, 1, 1, 1},
    {1, 7, 19, 4, 3, 3, 1, 1, 2, 2},
    {3, 19, 33, 9, 5, 5, 1, 1, 1, 2},
};
#define NCONV (sizeof CONV_SHAPES / sizeof CONV_SHAPES[0])
#define CSH(i) conv_shape(CONV_SHAPES[i][0], CONV_SHAPES[i][1], CONV_SHAPES[i][2], \
                          CONV_SHAPES[i][3], CONV_SHAPES[i][4], CONV_SHAPES[i][5], \
                          CONV_SHAPES[i][6], CONV_SHAPES[i][7], CONV_SHAPES[i][8], \
                          CONV_SHAPES[i][9])

Test(conv2d, forward_matches_reference)
{
    tgen g = {9};
    for (size_t i = 0; i < NCONV; i++)
        for (int n = 1; n <= 3; n += 2) {
            nnr_conv2d_shape s = CSH(i);
            size_t ai = (i + (size_t)n) % NACTS;
            while (!act_everywhere(ALL_ACTS[ai]))
                ai = (ai + 1) % NACTS;
            nnr_act act = ALL_ACTS[ai];
            size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w, ws = (size_t)s.out_channels * s.in_channels * s.kernel_h * s.kernel_w,
                   ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
            float *x = tg_alloc(xs), *w = tg_alloc(ws), *b = tg_alloc(s.out_channels), *y = tg_alloc(ys),
                  *r = tg_alloc(ys), *scr = tg_alloc(nnr_conv2d_scratch(&s));
            tg_fill(&g, x, xs, -1, 1);
            tg_fill(&g, w, ws, -1, 1);
            tg_fill(&g, b, s.out_channels, -1, 1);
            const float *bias = (i % 2) ? NULL : b;
            nnr_conv2d_f32(n, &s, x, w, bias, y, act, 0.1f, scr);
            nnr_ref_conv2d_f32(n, &s, x, w, bias, r, act, 0.1f, NULL);
            char what[64];
            snprintf(what, sizeof what, "conv shape %zu n %d act %d", i, n, (int)act);
            check_close(what, y, r, ys, 1e-5 + 1e-7 * s.in_channels * s.kernel_h * s.kernel_w, 1e-5);
            /* each sample alone gives the same result */
            for (int k = 0; k < n; k++) {
                nnr_conv2d_f32(1, &s, x + k * xs / n, w, bias, r, act, 0.1f, scr);
                check_close("conv sample alone", r, y + k * ys / n, ys / n, 0, 0);
            }
            free(x); free(w); free(b); free(y); free(r); free(scr);
        }
}

Test(conv2d, hand_computed)
{
    /* 3x3 input, 2x2 kernel of ones, stride 1, pad 0: window sums; pad 1 stride 2 */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b = 0.5f, y[4], scr[64];
    nnr_conv2d_shape s = conv_shape(1, 3, 3, 1, 2, 2, 1, 1, 0, 0);
    cr_assert(nnr_conv2d_scratch(&s) <= 64);
    nnr_conv2d_f32(1, &s, x, w, &b, y, NNR_ACT_NONE, 0, scr);
    float want[4] = {12.5f, 16.5f, 24.5f, 28.5f};
    check_close("conv 2x2", y, want, 4, 0, 0);
    nnr_conv2d_shape s2 = conv_shape(1, 3, 3, 1, 2, 2, 2, 2, 1, 1);
    cr_assert(s2.out_h == 2 && s2.out_w == 2);
    cr_assert(nnr_conv2d_scratch(&s2) <= 64);
    nnr_conv2d_f32(1, &s2, x, w, NULL, y, NNR_ACT_NONE, 0, scr);
    float want2[4] = {1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9};
    check_close("conv pad 1 stride 2", y, want2, 4, 0, 0);
}

Test(conv2d, backward_matches_reference)
{
    tgen g = {10};
    for (size_t i = 0; i < NCONV; i++) {
        int n = 2;
        nnr_conv2d_shape s = CSH(i);
        size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w, ws = (size_t)s.out_channels * s.in_channels * s.kernel_h * s.kernel_w,
               ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *w = tg_alloc(ws), *dy = tg_alloc(ys);
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(s.out_channels);
        float *rx = tg_alloc(xs), *rw = tg_alloc(ws), *rb = tg_alloc(s.out_channels);
        float *scr = tg_alloc(nnr_conv2d_scratch(&s));
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, w, ws, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        tg_fill(&g, dx, xs, 7, 8);
        tg_fill(&g, dw, ws, 7, 8);
        tg_fill(&g, db, s.out_channels, 7, 8);
        nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, dw, db, scr);
        nnr_ref_conv2d_backward_f32(n, &s, x, w, dy, rx, rw, rb, NULL);
        char what[64];
        snprintf(what, sizeof what, "conv shape %zu dx", i);
        check_close(what, dx, rx, xs, 1e-5 + 1e-7 * s.out_channels * s.kernel_h * s.kernel_w, 1e-5);
        snprintf(what, sizeof what, "conv shape %zu dw", i);
        check_close(what, dw, rw, ws, 1e-5 + 1e-7 * n * s.out_h * s.out_w, 1e-5);
        snprintf(what, sizeof what, "conv shape %zu db", i);
        check_close(what, db, rb, s.out_channels, 1e-5 + 1e-7 * n * s.out_h * s.out_w, 1e-5);
        /* dw alone and dx alone */
        nnr_conv2d_backward_f32(n, &s, x, w, dy, NULL, dw, NULL, scr);
        check_close("conv dw alone", dw, rw, ws, 1e-5 + 1e-7 * n * s.out_h * s.out_w, 1e-5);
        nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, NULL, NULL, scr);
        check_close("conv dx alone", dx, rx, xs, 1e-5 + 1e-7 * s.out_channels * s.kernel_h * s.kernel_w, 1e-5);
        free(x); free(w); free(dy); free(dx); free(dw); free(db);
        free(rx); free(rw); free(rb); free(scr);
    }
}

typedef struct { int n; nnr_conv2d_shape s; float *x, *w, *b, *y, *r, *scr; } conv_ctx;
static double conv_f(void *p)
{
    conv_ctx *c = p;
    nnr_conv2d_f32(c->n, &c->s, c->x, c->w, c->b, c->y, NNR_ACT_NONE, 0, c->scr);
    return proj(c->r, c->y, (size_t)c->n * c->s.out_channels * c->s.out_h * c->s.out_w);
}

Test(conv2d, backward_finite_differences)
{
    static const int shapes[][10] = {{2, 5, 6, 3, 3, 3, 2, 2, 1, 1},
                                     {1, 6, 5, 2, 2, 3, 1, 2, 0, 1},
                                     {3, 4, 4, 2, 1, 1, 1, 1, 0, 0}};
    tgen g = {11};
    for (size_t i = 0; i < 3; i++) {
        const int *q = shapes[i];
        conv_ctx c;
        c.n = 2;
        c.s = conv_shape(q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9]);
        size_t xs = (size_t)c.n * c.s.in_channels * c.s.in_h * c.s.in_w,
               ws = (size_t)c.s.out_channels * c.s.in_channels * c.s.kernel_h * c.s.kernel_w,
               ys = (size_t)c.n * c.s.out_channels * c.s.out_h * c.s.out_w;
        c.x = tg_alloc(xs); c.w = tg_alloc(ws); c.b = tg_alloc(c.s.out_channels);
        c.y = tg_alloc(ys); c.r = tg_alloc(ys); c.scr = tg_alloc(nnr_conv2d_scratch(&c.s));
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(c.s.out_channels);
        tg_fill(&g, c.x, xs, -1, 1);
        tg_fill(&g, c.w, ws, -1, 1);
        tg_fill(&g, c.b, c.s.out_channels, -1, 1);
        tg_fill(&g, c.r, ys, -1, 1);
        nnr_conv2d_backward_f32(c.n, &c.s, c.x, c.w, c.r, dx, dw, db, c.scr);
        fd_check("conv dx", conv_f, &c, c.x, xs, dx, 1e-2f, 1e-3, 1e-2);
        fd_check("conv dw", conv_f, &c, c.w, ws, dw, 1e-2f, 1e-3, 1e-2);
        fd_check("conv db", conv_f, &c, c.b, c.s.out_channels, db, 1e-2f, 1e-3, 1e-2);
        free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(c.scr);
        free(dx); free(dw); free(db);
    }
}

/* ------------------------------------------------------------------ pooling */

static nnr_pool2d_shape pool_shape(int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                                   int pw)
{
    nnr_pool2d_shape s = {c, h, w, kh, kw, sh, sw, ph, pw,
                          (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1};
    return s;
}

static const int POOL_SHAPES[][9] = {
    /* c h w kh kw sh sw ph pw */
    {3, 8, 8, 2, 2, 2, 2, 0, 0},
    {2, 7, 9, 3, 3, 2, 2, 1, 1},
    {1, 5, 5, 3, 3, 1, 1, 1, 1},
    {4, 6, 7, 2, 3, 1, 2, 1, 1},
    {1, 1, 1, 1, 1, 1, 1, 0, 0},
    {17, 3, 3, 3, 3, 3, 3, 0, 0},
    {2, 9, 9, 5, 5, 3, 3, 2, 2},
    /* unpadded: the vector fast paths, with scalar tails */
    {2, 28, 28, 2, 2, 2, 2, 0, 0},
    {2, 14, 41, 3, 3, 2, 2, 0, 0},
    {2, 10, 37, 3, 3, 1, 1, 0, 0},
    {1, 6, 50, 2, 1, 2, 2, 0, 0},
    {2, 9, 70, 3, 3, 3, 3, 0, 0},
    {1, 5, 45, 1, 3, 1, 2, 0, 0},
    /* 2x2 stride 2: rows narrower / wider than a vector, odd sizes */
    {3, 14, 14, 2, 2, 2, 2, 0, 0},
    {2, 9, 45, 2, 2, 2, 2, 0, 0},
    {3, 5, 33, 2, 2, 2, 2, 0, 0},
    {2, 7, 3, 2, 2, 2, 2, 0, 0},
    /* AVX2: a row of exactly one vector, of one output, of 9 (one moved back) */
    {2, 4, 17, 2, 2, 2, 2, 0, 0},
    {3, 2, 3, 2, 2, 2, 2, 0, 0},
    {2, 6, 18, 2, 2, 2, 2, 0, 0},
};
#define NPOOL (sizeof POOL_SHAPES / sizeof POOL_SHAPES[0])
#define PSH(i) pool_shape(POOL_SHAPES[i][0], POOL_SHAPES[i][1], POOL_SHAPES[i][2], \
                          POOL_SHAPES[i][3], POOL_SHAPES[i][4], POOL_SHAPES[i][5], \
                          POOL_SHAPES[i][6], POOL_SHAPES[i][7], POOL_SHAPES[i][8])

Test(pool, matches_reference)
{
    tgen g = {12};
    for (size_t i = 0; i < NPOOL; i++) {
        int n = 3;
        nnr_pool2d_shape s = PSH(i);
        size_t xs = (size_t)n * s.channels * s.in_h * s.in_w, ys = (size_t)n * s.channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *y = tg_alloc(ys), *r = tg_alloc(ys), *dy = tg_alloc(ys),
              *dx = tg_alloc(xs), *rx = tg_alloc(xs);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        /* some exact ties */
        for (size_t j = 0; j < xs; j += 5) x[j] = 0.5f;
        char what[64];
        nnr_maxpool2d_f32(n, &s, x, y);
        nnr_ref_maxpool2d_f32(n, &s, x, r);
        snprintf(what, sizeof what, "maxpool shape %zu", i);
        check_close(what, y, r, ys, 0, 0);
        tg_fill(&g, dx, xs, 3, 4);
        nnr_maxpool2d_backward_f32(n, &s, x, dy, dx);
        nnr_ref_maxpool2d_backward_f32(n, &s, x, dy, rx);
        snprintf(what, sizeof what, "maxpool backward shape %zu", i);
        check_close(what, dx, rx, xs, 1e-6, 1e-6);
        nnr_avgpool2d_f32(n, &s, x, y);
        nnr_ref_avgpool2d_f32(n, &s, x, r);
        snprintf(what, sizeof what, "avgpool shape %zu", i);
        check_close(what, y, r, ys, 1e-6, 1e-6);
        tg_fill(&g, dx, xs, 3, 4);
        nnr_avgpool2d_backward_f32(n, &s, dy, dx);
        nnr_ref_avgpool2d_backward_f32(n, &s, dy, rx);
        snprintf(what, sizeof what, "avgpool backward shape %zu", i);
        check_close(what, dx, rx, xs, 1e-6, 1e-6);
        free(x); free(y); free(r); free(dy); free(dx); free(rx);
    }
}

Test(pool, hand_computed)
{
    /* avg, count_include_pad: every 2x2 window holds one real value and 3 pads */
    float x[4] = {1, 2, 3, 4}, y[4];
    nnr_pool2d_shape s = pool_shape(1, 2, 2, 2, 2, 2, 2, 1, 1);
    cr_assert(s.out_h == 2 && s.out_w == 2);
    nnr_avgpool2d_f32(1, &s, x, y);
    float want[4] = {0.25f, 0.5f, 0.75f, 1.0f};
    check_close("avgpool pad", y, want, 4, 0, 0);
    /* max with padding counted as -inf: all-negative input stays negative */
    float xn[4] = {-1, -2, -3, -4};
    nnr_maxpool2d_f32(1, &s, xn, y);
    float wantn[4] = {-1, -2, -3, -4};
    check_close("maxpool pad -inf", y, wantn, 4, 0, 0);
    /* ties: the first maximum in row-major order gets the gradient */
    float xt[4] = {5, 5, 5, 5}, dy = 1.0f, dx[4];
    nnr_pool2d_shape s1 = pool_shape(1, 2, 2, 2, 2, 2, 2, 0, 0);
    nnr_maxpool2d_backward_f32(1, &s1, xt, &dy, dx);
    float wantt[4] = {1, 0, 0, 0};
    check_close("maxpool tie", dx, wantt, 4, 0, 0);
    float xt2[4] = {1, 7, 7, 2};
    nnr_maxpool2d_backward_f32(1, &s1, xt2, &dy, dx);
    float wantt2[4] = {0, 1, 0, 0};
    check_close("maxpool tie 2", dx, wantt2, 4, 0, 0);
}

Test(pool, nan_and_signed_zero)
{
    /* NaN propagates (PyTorch's `v > max || isnan(v)`), in any window
     * position, fast paths included; -0/+0 ties keep the first one */
    for (size_t i = 0; i < NPOOL; i++) {
        nnr_pool2d_shape s = PSH(i);
        size_t xs = (size_t)s.channels * s.in_h * s.in_w, ys = (size_t)s.channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *y = tg_alloc(ys), *r = tg_alloc(ys);
        for (size_t j = 0; j < xs; j++) x[j] = (j % 3) ? -0.0f : 0.0f;
        nnr_maxpool2d_f32(1, &s, x, y);
        nnr_ref_maxpool2d_f32(1, &s, x, r);
        for (size_t j = 0; j < ys; j++)
            cr_expect(signbit(y[j]) == signbit(r[j]), "pool shape %zu: sign of zero at %zu", i, j);
        for (size_t j = 0; j < xs; j++) x[j] = (float)(j % 11) - 5.0f;
        x[xs / 2] = NAN;
        x[xs - 1] = NAN;
        x[3 % xs] = INFINITY;
        nnr_maxpool2d_f32(1, &s, x, y);
        /* the reference skips NaN: the expectation is PyTorch's rule */
        for (int c = 0; c < s.channels; c++)
            for (int oy = 0; oy < s.out_h; oy++)
                for (int ox = 0; ox < s.out_w; ox++) {
                    float m = -INFINITY;
                    for (int ky = 0; ky < s.kernel_h; ky++)
                        for (int kx = 0; kx < s.kernel_w; kx++) {
                            int iy = oy * s.stride_h - s.padding_h + ky, ix = ox * s.stride_w - s.padding_w + kx;
                            if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
                            float v = x[((size_t)c * s.in_h + iy) * s.in_w + ix];
                            if (v > m || isnan(v)) m = v;
                        }
                    r[((size_t)c * s.out_h + oy) * s.out_w + ox] = m;
                }
        for (size_t j = 0; j < ys; j++)
            cr_expect(isnan(y[j]) == isnan(r[j]) && (isnan(y[j]) || y[j] == r[j]),
                      "pool shape %zu: at %zu got %g want %g", i, j, y[j], r[j]);
        free(x); free(y); free(r);
    }
}

typedef struct { int n, avg; nnr_pool2d_shape s; float *x, *y, *r; } pool_ctx;
static double pool_f(void *p)
{
    pool_ctx *c = p;
    if (c->avg) nnr_avgpool2d_f32(c->n, &c->s, c->x, c->y);
    else nnr_maxpool2d_f32(c->n, &c->s, c->x, c->y);
    return proj(c->r, c->y, (size_t)c->n * c->s.channels * c->s.out_h * c->s.out_w);
}

Test(pool, backward22_nan_inf_ties)
{
    /* the 2x2 stride-2 backward path: PyTorch's rule (v > m or v is NaN;
     * the last NaN of a window wins, the first of equal maxima), checked by
     * hand (NaN: the reference does not model it) and against the reference
     * on planes full of infinities and ties */
    float x[16] = {1, NAN, 3, 3, NAN, 2, 3, 3, -INFINITY, -INFINITY, INFINITY, 1,
                   -INFINITY, -INFINITY, 2, INFINITY};
    float dy[4] = {1, 2, 4, 8}, dx[16];
    nnr_pool2d_shape s = pool_shape(1, 4, 4, 2, 2, 2, 2, 0, 0);
    nnr_maxpool2d_backward_f32(1, &s, x, dy, dx);
    float want[16] = {0, 0, 2, 0, 1, 0, 0, 0, 4, 0, 8, 0, 0, 0, 0, 0};
    check_close("maxpool 2x2 nan/inf/ties", dx, want, 16, 0, 0);
    tgen g = {17};
    nnr_pool2d_shape s2 = pool_shape(3, 9, 10, 2, 2, 2, 2, 0, 0);
    size_t xs = (size_t)2 * s2.channels * s2.in_h * s2.in_w, ys = (size_t)2 * s2.channels * s2.out_h * s2.out_w;
    float *xr = tg_alloc(xs), *dyr = tg_alloc(ys), *d = tg_alloc(xs), *r = tg_alloc(xs);
    tg_fill(&g, xr, xs, -1, 1);
    tg_fill(&g, dyr, ys, -1, 1);
    static const float special[] = {INFINITY, -INFINITY, INFINITY, 0.25f, 0.25f};
    for (size_t j = 0; j < xs; j += 3) xr[j] = special[(j / 3) % 5];
    nnr_maxpool2d_backward_f32(2, &s2, xr, dyr, d);
    nnr_ref_maxpool2d_backward_f32(2, &s2, xr, dyr, r);
    check_close("maxpool 2x2 inf/ties vs reference", d, r, xs, 0, 0);
    free(xr); free(dyr); free(d); free(r);
}

Test(pool, backward_finite_differences)
{
    tgen g = {13};
    /* the first 7 shapes: with the large ones, values j * 0.1 reach the
     * hundreds and a step of 1e-2 loses too many bits (the fast-path shapes
     * are checked against the reference above) */
    for (size_t i = 0; i < 7; i++)
        for (int avg = 0; avg < 2; avg++) {
            pool_ctx c = {2, avg, PSH(i), NULL, NULL, NULL};
            size_t xs = (size_t)c.n * c.s.channels * c.s.in_h * c.s.in_w,
                   ys = (size_t)c.n * c.s.channels * c.s.out_h * c.s.out_w;
            c.x = tg_alloc(xs); c.y = tg_alloc(ys); c.r = tg_alloc(ys);
            float *dx = tg_alloc(xs);
            /* distinct values, well separated (no ties within 2h) */
            for (size_t j = 0; j < xs; j++) c.x[j] = (float)j * 0.1f;
            for (size_t j = xs - 1; j > 0; j--) {
                size_t k = (size_t)(tg_u01(&g) * (double)(j + 1));
                float t = c.x[j]; c.x[j] = c.x[k]; c.x[k] = t;
            }
            tg_fill(&g, c.r, ys, -1, 1);
            if (avg) nnr_avgpool2d_backward_f32(c.n, &c.s, c.r, dx);
            else nnr_maxpool2d_backward_f32(c.n, &c.s, c.x, c.r, dx);
            fd_check(avg ? "avgpool dx" : "maxpool dx", pool_f, &c, c.x, xs, dx, 1e-2f, 1e-3,
                     1e-2);
            free(c.x); free(c.y); free(c.r); free(dx);
        }
}

/* ------------------------------------------------------------------ softmax */

static const size_t SM_SHAPES[][3] = {{1, 1, 1},  {3, 7, 1},   {2, 17, 5}, {4, 100, 1},
                                      {1, 10, 130}, {5, 3, 63}, {2, 1000, 1}};
#define NSM (sizeof SM_SHAPES / sizeof SM_SHAPES[0])

Test(softmax, matches_reference)
{
    tgen g = {14};
    for (size_t i = 0; i < NSM; i++)
        for (int lg = 0; lg < 2; lg++) {
            size_t o = SM_SHAPES[i][0], d = SM_SHAPES[i][1], in = SM_SHAPES[i][2];
            size_t len = o * d * in;
            float *x = tg_alloc(len), *y = tg_alloc(len), *r = tg_alloc(len),
                  *dy = tg_alloc(len), *dx = tg_alloc(len), *rx = tg_alloc(len);
            tg_fill(&g, x, len, -10, 10);
            if (len > 3) x[2] = 1000.0f; /* stability: exp(1000) must not overflow */
            tg_fill(&g, dy, len, -1, 1);
            char what[64];
            snprintf(what, sizeof what, "%ssoftmax %zux%zux%zu", lg ? "log_" : "", o, d, in);
            if (lg) {
                nnr_log_softmax_f32(o, (int)d, in, x, y);
                nnr_ref_log_softmax_f32(o, (int)d, in, x, r);
            } else {
                nnr_softmax_f32(o, (int)d, in, x, y);
                nnr_ref_softmax_f32(o, (int)d, in, x, r);
            }
            check_close(what, y, r, len, 1e-6, 1e-5);
            if (lg) {
                nnr_log_softmax_backward_f32(o, (int)d, in, y, dy, dx);
                nnr_ref_log_softmax_backward_f32(o, (int)d, in, y, dy, rx);
            } else {
                nnr_softmax_backward_f32(o, (int)d, in, y, dy, dx);
                nnr_ref_softmax_backward_f32(o, (int)d, in, y, dy, rx);
            }
            strcat(what, " backward");
            check_close(what, dx, rx, len, 1e-5, 1e-4);
            /* in place */
            if (lg) nnr_log_softmax_f32(o, (int)d, in, x, x);
            else nnr_softmax_f32(o, (int)d, in, x, x);
            check_close("softmax in place", x, r, len, 1e-6, 1e-5);
            free(x); free(y); free(r); free(dy); free(dx); free(rx);
        }
}

Test(softmax, hand_computed)
{
    float x[3] = {1, 2, 3}, y[3];
    nnr_softmax_f32(1, 3, 1, x, y);
    float want[3] = {0.09003057317038046f, 0.24472847105479764f, 0.6652409557748219f};
    check_close("softmax 1 2 3", y, want, 3, 1e-7, 1e-6);
    nnr_log_softmax_f32(1, 3, 1, x, y);
    float wantl[3] = {-2.4076059644443806f, -1.4076059644443806f, -0.4076059644443806f};
    check_close("log_softmax 1 2 3", y, wantl, 3, 1e-6, 1e-6);
    /* over the middle axis of [1, 3, 2]: columns normalise independently */
    float x2[6] = {1, 0, 2, 0, 3, 0}, y2[6];
    nnr_softmax_f32(1, 3, 2, x2, y2);
    float want2[6] = {want[0], 1.0f / 3, want[1], 1.0f / 3, want[2], 1.0f / 3};
    check_close("softmax inner 2", y2, want2, 6, 1e-7, 1e-6);
}

typedef struct { size_t o, in; int d, lg; float *x, *y, *r; } sm_ctx;
static double sm_f(void *p)
{
    sm_ctx *c = p;
    if (c->lg) nnr_log_softmax_f32(c->o, c->d, c->in, c->x, c->y);
    else nnr_softmax_f32(c->o, c->d, c->in, c->x, c->y);
    return proj(c->r, c->y, c->o * (size_t)c->d * c->in);
}

Test(softmax, backward_finite_differences)
{
    tgen g = {15};
    for (int lg = 0; lg < 2; lg++) {
        enum { O = 2, D = 7, IN = 3, L = O * D * IN };
        float x[L], y[L], r[L], dx[L];
        tg_fill(&g, x, L, -3, 3);
        tg_fill(&g, r, L, -1, 1);
        sm_ctx c = {O, IN, D, lg, x, y, r};
        sm_f(&c);
        if (lg) nnr_log_softmax_backward_f32(O, D, IN, y, r, dx);
        else nnr_softmax_backward_f32(O, D, IN, y, r, dx);
        fd_check(lg ? "log_softmax dx" : "softmax dx", sm_f, &c, x, L, dx, 1e-2f, 1e-3, 1e-2);
    }
}
