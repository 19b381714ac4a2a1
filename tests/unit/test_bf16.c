/* test_bf16.c — bf16 weights (nnc --dtype bf16): the rounding against
 * hand-computed bit patterns and the naive reference's own rounding, and
 * nnr_linear_packed_bf16 against nnr_ref_linear_bf16 (fp32/double math on
 * the same rounded weights: a tight tolerance) and against the fp32 layer
 * within the bound bf16 rounding allows (2^-9 of Σ|x·w| per output). */
#include <float.h>

#include "kern_check.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

Test(bf16, rounding_by_hand)
{
    static const struct { uint32_t in; uint16_t want; } c[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* 1 + 2^-8: a tie, to the even 1 */
        {0x3f818000u, 0x3f82}, /* 1 + 3·2^-8: a tie, up to the even one */
        {0x3f808001u, 0x3f81}, /* just past the tie: up */
        {0x3f807fffu, 0x3f80}, /* just below: down */
        {0xbfc00000u, 0xbfc0}, /* -1.5 exact */
        {0xbf80c000u, 0xbf81}, /* negative, rounds away from zero */
        {0x80000000u, 0x8000}, /* -0 */
        {0x00018000u, 0x0002}, /* denormal tie, to even */
        {0x00017fffu, 0x0001}, /* denormal */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to infinity */
        {0x7f7f7fffu, 0x7f7f}, /* the largest bf16 stays */
        {0x7f800000u, 0x7f80}, /* inf */
        {0xff800000u, 0xff80}, /* -inf */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cr_expect_eq(nnr_bf16_from_f32(from_bits(c[i].in)), c[i].want, "0x%08x -> 0x%04x, want 0x%04x",
                     c[i].in, nnr_bf16_from_f32(from_bits(c[i].in)), c[i].want);
        cr_expect_eq(nnr_ref_bf16_from_f32(from_bits(c[i].in)), c[i].want, "ref 0x%08x", c[i].in);
    }
    /* NaN stays NaN, with its sign, also when its payload is in the low bits */
    const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fbfffffu, 0xff800001u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float r = nnr_f32_from_bf16(nnr_bf16_from_f32(from_bits(nans[i])));
        cr_expect(isnan(r), "0x%08x: not NaN", nans[i]);
        cr_expect_eq(signbit(r) != 0, (nans[i] >> 31) != 0, "0x%08x: sign", nans[i]);
    }
    cr_expect_eq(nnr_f32_from_bf16(0x3f81), 1.0f + 0x1p-7f);
}

Test(bf16, rounding_matches_reference)
{
    tgen g = {42};
    for (int i = 0; i < 200000; i++) {
        g.s = g.s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t u = (uint32_t)(g.s >> 32);
        float v = from_bits(u);
        uint16_t got = nnr_bf16_from_f32(v), want = nnr_ref_bf16_from_f32(v);
        if (isnan(v))
            cr_assert(isnan(nnr_f32_from_bf16(got)), "0x%08x", u);
        else
            cr_assert_eq(got, want, "0x%08x -> 0x%04x, want 0x%04x", u, got, want);
    }
}

static const int shapes[][3] = {
    {1, 784, 128}, {1, 128, 64}, {1, 64, 10}, {1, 1, 1},  {1, 5, 3},    {2, 37, 33},
    {3, 64, 10},   {4, 13, 70},  {9, 100, 32}, {17, 33, 65}, {8, 7, 16}, {64, 50, 97},
};

Test(bf16, linear_matches_reference)
{
    tgen g = {7};
    const nnr_act acts[] = {NNR_ACT_NONE, NNR_ACT_RELU, NNR_ACT_LEAKY_RELU, NNR_ACT_TANH};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int hasb = 0; hasb < 2; hasb++) {
            int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            nnr_act act = acts[(s + (size_t)hasb) % 4];
            size_t psz = nnr_linear_packed_bf16_size(in, out);
            cr_assert(2 * psz >= (size_t)in * out);
            float *x = tg_alloc((size_t)n * in), *w = tg_alloc((size_t)out * in),
                  *wp = tg_alloc(psz), *b = tg_alloc(out), *y = tg_alloc((size_t)n * out),
                  *r = tg_alloc((size_t)n * out);
            tg_fill(&g, x, (size_t)n * in, -1, 1);
            tg_fill(&g, w, (size_t)out * in, -0.5, 0.5);
            tg_fill(&g, b, out, -1, 1);
            nnr_pack_linear_weight_bf16(in, out, w, wp);
            nnr_linear_packed_bf16(n, in, out, x, wp, hasb ? b : NULL, y, act, 0.125f);
            nnr_ref_linear_bf16(n, in, out, x, w, hasb ? b : NULL, r, act, 0.125f);
            char what[96];
            snprintf(what, sizeof what, "bf16 linear %dx%d->%d bias %d act %d", n, in, out, hasb, (int)act);
            cr_expect_eq(check_close(what, y, r, (size_t)n * out, 1e-5 + 1e-7 * in, 1e-5), 0);
            free(x); free(w); free(wp); free(b); free(y); free(r);
        }
}

Test(bf16, linear_within_rounding_bound_of_fp32)
{
    /* |y_bf16 - y_f32| <= 2^-9 Σ_p |x_p w_p| (each weight moves by at most
     * 2^-9 of itself) plus the fp32 sums' own error */
    tgen g = {11};
    enum { N = 5, IN = 300, OUT = 45 };
    float *x = tg_alloc(N * IN), *w = tg_alloc(OUT * IN), *wp = tg_alloc(nnr_linear_packed_bf16_size(IN, OUT)),
          *y = tg_alloc(N * OUT), *r = tg_alloc(N * OUT);
    tg_fill(&g, x, N * IN, -1, 1);
    tg_fill(&g, w, OUT * IN, -1, 1);
    nnr_pack_linear_weight_bf16(IN, OUT, w, wp);
    nnr_linear_packed_bf16(N, IN, OUT, x, wp, NULL, y, NNR_ACT_NONE, 0);
    nnr_ref_linear_f32(N, IN, OUT, x, w, NULL, r, NNR_ACT_NONE, 0);
    double worst = 0, moved = 0;
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OUT; o++) {
            double mag = 0;
            for (int p = 0; p < IN; p++) mag += fabs((double)x[i * IN + p] * w[o * IN + p]);
            double err = fabs((double)y[i * OUT + o] - r[i * OUT + o]);
            cr_expect(err <= 0x1p-9 * mag + 1e-6 * mag, "[%d,%d]: %g > bound %g", i, o, err, 0x1p-9 * mag);
            worst = err / mag > worst ? err / mag : worst;
            moved += err;
        }
    cr_expect(moved > 0, "bf16 changed nothing: are the weights rounded?");
    cr_log_info("bf16 vs fp32: worst error %.3g of Σ|x·w| (bound 2^-9 = %.3g)", worst, 0x1p-9);
    free(x); free(w); free(wp); free(y); free(r);
}

Test(bf16, nan_weight_gives_nan_column)
{
    enum { IN = 20, OUT = 40 };
    float x[IN], w[OUT * IN], wp[(IN * 64 + 1) / 2 + 1], y[OUT];
    cr_assert(nnr_linear_packed_bf16_size(IN, OUT) <= sizeof wp / sizeof wp[0]);
    for (int i = 0; i < IN; i++) x[i] = 1.0f;
    for (int i = 0; i < OUT * IN; i++) w[i] = 0.25f;
    w[33 * IN + 4] = NAN;
    nnr_pack_linear_weight_bf16(IN, OUT, w, wp);
    nnr_linear_packed_bf16(1, IN, OUT, x, wp, NULL, y, NNR_ACT_NONE, 0);
    for (int o = 0; o < OUT; o++)
        if (o == 33)
            cr_expect(isnan(y[o]));
        else
            cr_expect_eq(y[o], 5.0f, "y[%d] = %g", o, y[o]);
}

#ifdef _OPENMP
#include <omp.h>
/* above the threading threshold, 1 and 2 threads give the same bits (the
 * threads take ranges of panels; k is never split) */
Test(bf16, threads_bit_identical)
{
    static const int sh[][3] = {{1, 4099, 517}, {37, 700, 200}};
    tgen g = {5};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int n = sh[s][0], in = sh[s][1], out = sh[s][2];
        cr_assert((double)n * in * out >= (1 << 20));
        float *x = tg_alloc((size_t)n * in), *w = tg_alloc((size_t)out * in),
              *wp = tg_alloc(nnr_linear_packed_bf16_size(in, out)), *b = tg_alloc(out),
              *y1 = tg_alloc((size_t)n * out), *y2 = tg_alloc((size_t)n * out);
        tg_fill(&g, x, (size_t)n * in, -1, 1);
        tg_fill(&g, w, (size_t)out * in, -1, 1);
        tg_fill(&g, b, out, -1, 1);
        nnr_pack_linear_weight_bf16(in, out, w, wp);
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        nnr_linear_packed_bf16(n, in, out, x, wp, b, y1, NNR_ACT_GELU, 0);
        omp_set_num_threads(2);
        nnr_linear_packed_bf16(n, in, out, x, wp, b, y2, NNR_ACT_GELU, 0);
        omp_set_num_threads(saved);
        cr_expect(memcmp(y1, y2, (size_t)n * out * sizeof *y1) == 0, "%dx%d->%d: 1 and 2 threads differ", n, in, out);
        free(x); free(w); free(wp); free(b); free(y1); free(y2);
    }
}
#endif

/* batch 1 pairs panels (AVX-512) where it can: a panel's columns have the
 * same bits computed paired (out = 64) or alone (out = 32) */
Test(bf16, paired_panels_same_bits)
{
    enum { IN = 203, OUT = 64 };
    tgen g = {9};
    float *x = tg_alloc(IN), *w = tg_alloc(OUT * IN), *b = tg_alloc(OUT),
          *wp = tg_alloc(nnr_linear_packed_bf16_size(IN, OUT)),
          *wh = tg_alloc(nnr_linear_packed_bf16_size(IN, OUT / 2)), *y = tg_alloc(OUT),
          *yh = tg_alloc(OUT);
    tg_fill(&g, x, IN, -1, 1);
    tg_fill(&g, w, OUT * IN, -1, 1);
    tg_fill(&g, b, OUT, -1, 1);
    nnr_pack_linear_weight_bf16(IN, OUT, w, wp);
    nnr_linear_packed_bf16(1, IN, OUT, x, wp, b, y, NNR_ACT_RELU, 0);
    for (int h = 0; h < 2; h++) {
        nnr_pack_linear_weight_bf16(IN, OUT / 2, w + h * (OUT / 2) * IN, wh);
        nnr_linear_packed_bf16(1, IN, OUT / 2, x, wh, b + h * (OUT / 2), yh + h * (OUT / 2), NNR_ACT_RELU, 0);
    }
    cr_expect(memcmp(y, yh, sizeof(float) * OUT) == 0, "paired and single panels differ");
    free(x); free(w); free(b); free(wp); free(wh); free(y); free(yh);
}
