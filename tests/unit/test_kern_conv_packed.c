/* test_kern_conv_packed.c — the pre-packed conv2d weight (nnc's prepack,
 * packed=direct) and the residual epilogue (fuse-add) against the naive
 * reference (runtime/ref/): nnr_conv2d_packed_f32 on every shape the
 * direct kernel takes (tiles of 2 x 8, 1 x 8, 4 x 4, 2 x 4 positions, the
 * last ones moved back; one or two channel vectors and their tails; planes
 * under 4 x 4 position by position; stride 2; 1x1; AVX-512's rows of 9 to
 * 32 positions in vectors, their last rows and channels; rows of 4 to 8
 * with row and channel tails), with and without a
 * residual, with no activation, relu and tanh; nnr_conv2d_add_f32 on those
 * and on shapes the direct kernel does not take (the GEMM paths). Without
 * a residual the packed weight gives the same bits as nnr_conv2d_f32; so do
 * the panels of packed=oi+panel (nnr_conv2d_panel_f32), at one sample and
 * at several. */
#include "kern_check.h"

/* c h w oc kh kw sh sw ph pw dh dw groups, n */
static const int PC[][14] = {
    {1, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* W7's stem */
    {16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3},   /* W7's first blocks */
    {16, 8, 8, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 2},   /* W7's strided block */
    {32, 4, 4, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},   /* W7's 4x4 */
    {16, 8, 8, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1, 2},   /* W7's 1x1 downsample */
    {5, 7, 9, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1, 3},    /* no padding, 5 x 7, a channel tail */
    {7, 11, 10, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 2},  /* three channel vectors */
    {64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* the most channels */
    {2, 3, 5, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3},     /* 3 x 5: position by position */
    {4, 32, 32, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},   /* 32 x 32, stride 2 */
    {8, 8, 8, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1, 2},    /* padding 2: a row wider than the plane */
    {3, 20, 14, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* a padded row of 16 */
    {1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* W4's first conv */
    {8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},  /* W4's second conv */
    {12, 9, 9, 40, 1, 1, 2, 2, 0, 0, 1, 1, 1, 2},   /* 1x1 stride 2, five vectors */
    /* one channel in, stride 1 (AVX2: positions vectorised, rows of 1 to 4 vectors) */
    {1, 13, 30, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},  /* 4 vectors, the last partial */
    {1, 6, 32, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* 4 whole vectors */
    {1, 7, 9, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1, 3},     /* no padding, 7 positions a row */
    {1, 9, 17, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2},    /* 1x1, 3 vectors */
    {1, 5, 12, 9, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1},    /* padding 2 */
    {1, 4, 2, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},     /* rows of 2: extra lanes past the plane */
    /* rows of 9 to 32 at stride 1 (AVX-512: positions vectorised, tiles of 4
     * channels x 4 rows of one vector or 2 rows of two; the last rows and
     * channels in smaller tiles) */
    {3, 7, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},     /* 9 a row, 3 rows left, 2 channels */
    {5, 13, 16, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},   /* 16 a row: one whole vector, 1 row left */
    {2, 6, 17, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3},    /* 17 a row: a second vector of 1 */
    {6, 5, 30, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, 2},    /* no padding: 28 a row, 3 rows */
    {4, 11, 32, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* two whole vectors, 1 row left */
    {7, 10, 12, 10, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2},  /* 1x1 */
    {3, 9, 11, 4, 3, 3, 1, 1, 2, 2, 1, 1, 1, 2},    /* padding 2: 13 a row */
    /* rows of 4 to 8 as wide as the input, stride 1 (the channel-lane
     * tiles: a last row alone, channel tails, padding columns) */
    {3, 7, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},     /* 8 a row, 7 rows: a last row alone */
    {5, 5, 5, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* 5 a row, 19 channels */
    {4, 9, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},     /* 6 a row, 9 rows */
    {2, 6, 7, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* 7 a row, three channel vectors */
    {6, 11, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* 4 a row, 11 rows */
    {7, 6, 8, 9, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2},     /* 1x1 */
    {1, 8, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3},    /* one channel in, 10 out */
    /* not the direct kernel's: nnr_conv2d_add_f32 only */
    {3, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* 70 output channels */
    {6, 9, 9, 10, 3, 3, 1, 1, 2, 2, 2, 2, 1, 2},    /* dilated */
    {8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 2},     /* depthwise */
    {4, 10, 10, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},   /* 5x5 */
};
#define NPC (sizeof PC / sizeof PC[0])

static nnr_conv2d_shape pshape(size_t i)
{
    const int *v = PC[i];
    nnr_conv2d_shape s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0,
                          v[10], v[11], v[12]};
    s.out_h = (s.in_h + 2 * s.padding_h - s.dilation_h * (s.kernel_h - 1) - 1) / s.stride_h + 1;
    s.out_w = (s.in_w + 2 * s.padding_w - s.dilation_w * (s.kernel_w - 1) - 1) / s.stride_w + 1;
    return s;
}

/* y = act(ref_conv(x) + b + r) */
static void ref_conv_add(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                         const float *b, const float *r, float *y, nnr_act act)
{
    const size_t len = (size_t)n * s->out_channels * s->out_h * s->out_w;
    nnr_ref_conv2d_f32(n, s, x, w, b, y, NNR_ACT_NONE, 0, NULL);
    for (size_t i = 0; i < len; i++) y[i] += r ? r[i] : 0.0f;
    nnr_ref_act_f32(act, 0, len, y, y);
}

Test(conv_packed, direct_kernel_takes_the_small_shapes)
{
    for (size_t i = 0; i < NPC; i++) {
        const nnr_conv2d_shape s = pshape(i);
        cr_expect_eq(nnr_conv2d_packed_ok(&s), i < 35, "shape %zu", i);
    }
    const nnr_conv2d_shape z = {16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 8, 8, 0, 0, 0};
    cr_expect(nnr_conv2d_packed_ok(&z), "dilation and groups 0 read as 1");
    cr_expect_eq(nnr_conv_packed_size(144, 17), 144 * 32u);
    cr_expect_eq(nnr_conv_packed_size(9, 16), 9 * 16u);
}

Test(conv_packed, packed_weight_layout)
{
    tgen g = {7};
    const int k = 27, oc = 19, ocp = 32;
    float w[19 * 27], wp[27 * 32];
    tg_fill(&g, w, sizeof w / sizeof w[0], -1, 1);
    tg_fill(&g, wp, sizeof wp / sizeof wp[0], 5, 6);
    nnr_pack_conv_weight_f32(k, oc, w, wp);
    for (int t = 0; t < k; t++)
        for (int o = 0; o < ocp; o++)
            cr_expect_eq(wp[t * ocp + o], o < oc ? w[o * k + t] : 0.0f, "tap %d channel %d", t, o);
}

Test(conv_packed, forward_with_residual_matches_reference)
{
    tgen g = {43};
    for (size_t i = 0; i < NPC; i++) {
        const nnr_conv2d_shape s = pshape(i);
        const int n = PC[i][13], k = s.in_channels / s.groups * s.kernel_h * s.kernel_w, direct = nnr_conv2d_packed_ok(&s);
        const size_t xs = (size_t)s.in_channels * s.in_h * s.in_w, ys = (size_t)s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(n * xs), *w = tg_alloc((size_t)s.out_channels * k), *b = tg_alloc(s.out_channels);
        float *wp = tg_alloc(nnr_conv_packed_size(k, s.out_channels)), *res = tg_alloc(n * ys);
        float *y = tg_alloc(n * ys), *r = tg_alloc(n * ys), *scr = tg_alloc(nnr_conv2d_scratch(&s));
        tg_fill(&g, x, n * xs, -1, 1);
        tg_fill(&g, w, (size_t)s.out_channels * k, -1, 1);
        tg_fill(&g, b, s.out_channels, -1, 1);
        tg_fill(&g, res, n * ys, -2, 2);
        if (direct)
            nnr_pack_conv_weight_f32(k, s.out_channels, w, wp);
        for (int a = 0; a < 6; a++) {
            const nnr_act act = a % 3 == 0 ? NNR_ACT_NONE : a % 3 == 1 ? NNR_ACT_RELU : NNR_ACT_TANH;
            const float *bias = a == 1 ? NULL : b, *rr = a < 3 ? res : NULL;
            const double tol = 1e-5 + 1e-7 * k;
            char what[64];
            ref_conv_add(n, &s, x, w, bias, rr, r, act);
            if (rr) {
                tg_fill(&g, y, n * ys, 7, 8);
                nnr_conv2d_add_f32(n, &s, x, w, bias, rr, y, act, 0, scr);
                snprintf(what, sizeof what, "conv_add %zu act %d", i, a);
                cr_expect_eq(check_close(what, y, r, n * ys, tol, 1e-5), 0);
            }
            if (!direct)
                continue;
            tg_fill(&g, y, n * ys, 7, 8);
            nnr_conv2d_packed_f32(n, &s, x, wp, bias, rr, y, act, 0, scr);
            snprintf(what, sizeof what, "conv packed %zu act %d", i, a);
            cr_expect_eq(check_close(what, y, r, n * ys, tol, 1e-5), 0);
            if (!rr) { /* the packed weight gives nnr_conv2d_f32's bits */
                nnr_conv2d_f32(n, &s, x, w, bias, r, act, 0, scr);
                snprintf(what, sizeof what, "conv packed %zu act %d vs unpacked", i, a);
                cr_expect_eq(check_close(what, y, r, n * ys, 0, 0), 0);
            }
        }
        free(x); free(w); free(b); free(wp); free(res); free(y); free(r); free(scr);
    }
}

/* packed=oi+panel: c h w oc kh kw sh sw ph pw, whether panel_ok, n */
static const int PP[][12] = {
    {256, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1},  /* W6's 7x7 layer */
    {72, 5, 6, 36, 3, 3, 1, 1, 1, 1, 1, 3},    /* 36 channels out: 36 % 8 = 4, 36 % 6 = 0 */
    {66, 9, 9, 44, 3, 3, 2, 2, 1, 1, 1, 2},    /* stride 2, 5x5 outputs */
    {40, 5, 6, 36, 3, 3, 1, 1, 1, 1, 0, 1},    /* 40 channels in: the direct kernel */
    {70, 3, 3, 64, 1, 1, 1, 1, 1, 1, 1, 1},    /* a padded 1x1 */
    {16, 20, 20, 64, 3, 3, 1, 1, 1, 1, 0, 1},  /* 400 positions: the untransposed product */
    {64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 0, 1},    /* the direct kernel of few channels */
    {80, 6, 6, 40, 3, 3, 1, 1, 1, 1, 1, 2},    /* 80 channels in: not the direct kernel */
};

Test(conv_packed, panels_give_the_bits_of_the_unpacked_weight)
{
    tgen g = {91};
    for (size_t i = 0; i < sizeof PP / sizeof PP[0]; i++) {
        const int *v = PP[i];
        nnr_conv2d_shape s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0, 1, 1, 1};
        s.out_h = (s.in_h + 2 * s.padding_h - s.kernel_h) / s.stride_h + 1;
        s.out_w = (s.in_w + 2 * s.padding_w - s.kernel_w) / s.stride_w + 1;
        cr_expect_eq(nnr_conv2d_panel_ok(&s), v[10], "shape %zu", i);
        const int n = v[11], k = s.in_channels * s.kernel_h * s.kernel_w, oc = s.out_channels;
        const size_t xs = (size_t)s.in_channels * s.in_h * s.in_w, ys = (size_t)oc * s.out_h * s.out_w;
        const size_t pz = nnr_conv_panel_size(k, oc);
        cr_assert_geq(pz, (size_t)k * oc + nnr_linear_packed_size(k, oc));
        float *x = tg_alloc(n * xs), *w = tg_alloc((size_t)oc * k), *b = tg_alloc(oc);
        float *wp = tg_alloc(pz), *y = tg_alloc(n * ys), *u = tg_alloc(n * ys), *r = tg_alloc(n * ys);
        float *scr = tg_alloc(nnr_conv2d_scratch(&s));
        tg_fill(&g, x, n * xs, -1, 1);
        tg_fill(&g, w, (size_t)oc * k, -1, 1);
        tg_fill(&g, b, oc, -1, 1);
        nnr_pack_conv_panel_f32(k, oc, w, wp);
        for (int a = 0; a < 2; a++) {
            const nnr_act act = a ? NNR_ACT_RELU : NNR_ACT_NONE;
            for (int m = 1; m <= n; m += n > 1 ? n - 1 : 1) { /* one sample, then all */
                char what[64];
                tg_fill(&g, y, m * ys, 7, 8);
                nnr_conv2d_panel_f32(m, &s, x, wp, a ? b : NULL, y, act, 0, scr);
                nnr_conv2d_f32(m, &s, x, w, a ? b : NULL, u, act, 0, scr);
                snprintf(what, sizeof what, "panels %zu n %d act %d vs unpacked", i, m, a);
                cr_expect_eq(check_close(what, y, u, m * ys, 0, 0), 0);
                nnr_ref_conv2d_f32(m, &s, x, w, a ? b : NULL, r, act, 0, NULL);
                snprintf(what, sizeof what, "panels %zu n %d act %d vs reference", i, m, a);
                cr_expect_eq(check_close(what, y, r, m * ys, 1e-5 + 1e-7 * k, 1e-5), 0);
            }
        }
        free(x); free(w); free(b); free(wp); free(y); free(u); free(r); free(scr);
    }
}
