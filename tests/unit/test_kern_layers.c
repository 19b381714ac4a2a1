/* test_kern_layers.c — the version-2 layer kernels against the naive
 * references (runtime/ref/): conv2d with dilation and groups (grouped,
 * depthwise with and without a channel multiplier), conv_transpose2d,
 * adaptive average pooling, nearest upsampling and layernorm, forward and
 * backward; plus hand-computed values and PyTorch's window/index formulas. */
#include "kern_check.h"

/* c h w oc kh kw sh sw ph pw dh dw groups */
static const int XCONV[][13] = {
    {4, 7, 7, 6, 3, 3, 2, 2, 2, 2, 2, 2, 2},      /* grouped, dilated */
    {3, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3},      /* depthwise, multiplier 2 */
    {3, 7, 7, 3, 3, 1, 2, 2, 1, 0, 1, 2, 3},      /* depthwise, stride 2 */
    {8, 9, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},     /* depthwise, "same" */
    {4, 8, 8, 8, 1, 1, 1, 1, 0, 0, 1, 1, 4},      /* grouped pointwise */
    {2, 9, 9, 3, 3, 3, 1, 1, 0, 0, 3, 3, 1},      /* dilated, groups 1 */
    {6, 5, 11, 4, 2, 3, 1, 2, 1, 1, 2, 1, 2},
    {1, 1, 12, 2, 1, 3, 1, 2, 0, 1, 1, 2, 1},     /* a conv1d */
    {32, 14, 14, 32, 3, 3, 2, 2, 1, 1, 1, 1, 32}, /* MobileNet-like */
};
#define NX (sizeof XCONV / sizeof XCONV[0])

static nnr_conv2d_shape xshape(size_t i)
{
    const int *v = XCONV[i];
    nnr_conv2d_shape s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0,
                          v[10], v[11], v[12]};
    s.out_h = (s.in_h + 2 * s.padding_h - s.dilation_h * (s.kernel_h - 1) - 1) / s.stride_h + 1;
    s.out_w = (s.in_w + 2 * s.padding_w - s.dilation_w * (s.kernel_w - 1) - 1) / s.stride_w + 1;
    return s;
}

Test(conv_ext, forward_and_backward_match_reference)
{
    tgen g = {31};
    for (size_t i = 0; i < NX; i++) {
        nnr_conv2d_shape s = xshape(i);
        const int n = 2, cg = s.in_channels / s.groups;
        size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w, ws = (size_t)s.out_channels * cg * s.kernel_h * s.kernel_w,
               ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *w = tg_alloc(ws), *b = tg_alloc(s.out_channels), *y = tg_alloc(ys),
              *r = tg_alloc(ys), *scr = tg_alloc(nnr_conv2d_scratch(&s)), *dy = tg_alloc(ys);
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(s.out_channels);
        float *rx = tg_alloc(xs), *rw = tg_alloc(ws), *rb = tg_alloc(s.out_channels);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, w, ws, -1, 1);
        tg_fill(&g, b, s.out_channels, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        char what[64];
        for (int a = 0; a < 2; a++) {
            nnr_act act = a ? NNR_ACT_RELU : NNR_ACT_NONE;
            nnr_conv2d_f32(n, &s, x, w, a ? NULL : b, y, act, 0, scr);
            nnr_ref_conv2d_f32(n, &s, x, w, a ? NULL : b, r, act, 0, NULL);
            snprintf(what, sizeof what, "conv_ext %zu act %d", i, a);
            cr_expect_eq(check_close(what, y, r, ys, 1e-5 + 1e-7 * cg * s.kernel_h * s.kernel_w, 1e-5), 0);
        }
        nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, dw, db, scr);
        nnr_ref_conv2d_backward_f32(n, &s, x, w, dy, rx, rw, rb, NULL);
        snprintf(what, sizeof what, "conv_ext %zu dx", i);
        cr_expect_eq(check_close(what, dx, rx, xs, 1e-5 + 1e-7 * s.out_channels * s.kernel_h * s.kernel_w, 1e-5), 0);
        snprintf(what, sizeof what, "conv_ext %zu dw", i);
        cr_expect_eq(check_close(what, dw, rw, ws, 1e-5 + 1e-7 * n * s.out_h * s.out_w, 1e-5), 0);
        snprintf(what, sizeof what, "conv_ext %zu db", i);
        cr_expect_eq(check_close(what, db, rb, s.out_channels, 1e-5 + 1e-7 * n * s.out_h * s.out_w, 1e-5), 0);
        free(x); free(w); free(b); free(y); free(r); free(scr); free(dy);
        free(dx); free(dw); free(db); free(rx); free(rw); free(rb);
    }
}

Test(conv_ext, dilation_and_depthwise_by_hand)
{
    /* 1 channel 5x5 of 0..24, 2x2 kernel of ones, dilation 2: x[i][j] +
     * x[i][j+2] + x[i+2][j] + x[i+2][j+2] = 4·x[i][j] + 24 */
    float x[25], w[4] = {1, 1, 1, 1}, y[9], scr[256];
    for (int k = 0; k < 25; k++) x[k] = (float)k;
    nnr_conv2d_shape s = {1, 5, 5, 1, 2, 2, 1, 1, 0, 0, 3, 3, 2, 2, 1};
    cr_assert(nnr_conv2d_scratch(&s) <= 256);
    nnr_conv2d_f32(1, &s, x, w, NULL, y, NNR_ACT_NONE, 0, scr);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) cr_expect_eq(y[i * 3 + j], 4.0f * (i * 5 + j) + 24.0f);
    /* depthwise: two channels, each scaled by its own 1x1 weight */
    float x2[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w2[2] = {2, -1}, b2[2] = {0.5f, 1}, y2[8];
    nnr_conv2d_shape d = {2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2, 1, 1, 2};
    nnr_conv2d_f32(1, &d, x2, w2, b2, y2, NNR_ACT_NONE, 0, scr);
    float want[8] = {2.5f, 4.5f, 6.5f, 8.5f, -4, -5, -6, -7};
    cr_expect_eq(check_close("depthwise 1x1", y2, want, 8, 0, 0), 0);
}

/* c h w oc kh kw sh sw ph pw oph opw dh dw groups */
static const int XT[][15] = {
    {4, 3, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 2, 2},
    {2, 4, 4, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},  /* the U-Net upsampler */
    {3, 5, 2, 2, 3, 1, 1, 3, 0, 1, 0, 2, 2, 1, 1},
    {6, 2, 3, 6, 4, 4, 3, 2, 2, 1, 2, 0, 1, 1, 6},
};
#define NXT (sizeof XT / sizeof XT[0])

Test(conv_transpose2d, matches_reference)
{
    tgen g = {32};
    for (size_t i = 0; i < NXT; i++) {
        const int *v = XT[i], n = 3;
        nnr_conv2d_shape s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0,
                              v[12], v[13], v[14]};
        s.out_h = (s.in_h - 1) * s.stride_h - 2 * s.padding_h + s.dilation_h * (s.kernel_h - 1) + v[10] + 1;
        s.out_w = (s.in_w - 1) * s.stride_w - 2 * s.padding_w + s.dilation_w * (s.kernel_w - 1) + v[11] + 1;
        size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w, ws = (size_t)s.in_channels * (s.out_channels / s.groups) * s.kernel_h * s.kernel_w,
               ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *w = tg_alloc(ws), *b = tg_alloc(s.out_channels), *y = tg_alloc(ys),
              *r = tg_alloc(ys), *scr = tg_alloc(nnr_conv_transpose2d_scratch(&s)), *dy = tg_alloc(ys);
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(s.out_channels);
        float *rx = tg_alloc(xs), *rw = tg_alloc(ws), *rb = tg_alloc(s.out_channels);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, w, ws, -1, 1);
        tg_fill(&g, b, s.out_channels, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        char what[64];
        nnr_conv_transpose2d_f32(n, &s, x, w, b, y, scr);
        nnr_ref_conv_transpose2d_f32(n, &s, x, w, b, r, NULL);
        snprintf(what, sizeof what, "conv_t %zu y", i);
        cr_expect_eq(check_close(what, y, r, ys, 1e-5, 1e-5), 0);
        nnr_conv_transpose2d_backward_f32(n, &s, x, w, dy, dx, dw, db, scr);
        nnr_ref_conv_transpose2d_backward_f32(n, &s, x, w, dy, rx, rw, rb, NULL);
        snprintf(what, sizeof what, "conv_t %zu dx", i);
        cr_expect_eq(check_close(what, dx, rx, xs, 1e-5, 1e-5), 0);
        snprintf(what, sizeof what, "conv_t %zu dw", i);
        cr_expect_eq(check_close(what, dw, rw, ws, 1e-5, 1e-5), 0);
        snprintf(what, sizeof what, "conv_t %zu db", i);
        cr_expect_eq(check_close(what, db, rb, s.out_channels, 1e-5, 1e-5), 0);
        free(x); free(w); free(b); free(y); free(r); free(scr); free(dy);
        free(dx); free(dw); free(db); free(rx); free(rw); free(rb);
    }
}

Test(conv_transpose2d, by_hand)
{
    /* 1 -> 1 channel, 2x2 kernel, stride 2: each input value paints a 2x2 block */
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 10, 100, 1000}, y[16], scr[64];
    nnr_conv2d_shape s = {1, 2, 2, 1, 2, 2, 2, 2, 0, 0, 4, 4, 1, 1, 1};
    nnr_conv_transpose2d_f32(1, &s, x, w, NULL, y, scr);
    float want[16] = {1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000};
    cr_expect_eq(check_close("conv_t stride 2", y, want, 16, 0, 0), 0);
}

Test(resize, adaptive_pool_and_upsample_match_reference)
{
    tgen g = {33};
    static const int S[][4] = {{7, 5, 3, 2}, {5, 5, 5, 5}, {4, 6, 8, 3}, {9, 9, 1, 1}, {1, 7, 1, 3}};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        const int n = 2, c = 3, h = S[i][0], w = S[i][1], oh = S[i][2], ow = S[i][3];
        size_t xs = (size_t)n * c * h * w, ys = (size_t)n * c * oh * ow;
        float *x = tg_alloc(xs), *y = tg_alloc(ys), *r = tg_alloc(ys), *dy = tg_alloc(ys),
              *dx = tg_alloc(xs), *rx = tg_alloc(xs);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        nnr_adaptive_avgpool2d_f32(n, c, h, w, oh, ow, x, y);
        nnr_ref_adaptive_avgpool2d_f32(n, c, h, w, oh, ow, x, r);
        cr_expect_eq(check_close("adaptive pool", y, r, ys, 1e-6, 1e-5), 0);
        nnr_adaptive_avgpool2d_backward_f32(n, c, h, w, oh, ow, dy, dx);
        nnr_ref_adaptive_avgpool2d_backward_f32(n, c, h, w, oh, ow, dy, rx);
        cr_expect_eq(check_close("adaptive pool dx", dx, rx, xs, 1e-6, 1e-5), 0);
        free(x); free(y); free(r); free(dy); free(dx); free(rx);
    }
    /* upsample: factors 2, 3, 1.5 and 0.5 */
    static const float F[] = {2, 3, 1.5f, 0.5f, 1.7f};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        const int n = 2, c = 2, h = 5, w = 4;
        const int oh = (int)floor(h * (double)F[i]), ow = (int)floor(w * (double)F[i]);
        const float rr = (float)(1.0 / F[i]);
        size_t xs = (size_t)n * c * h * w, ys = (size_t)n * c * oh * ow;
        float *x = tg_alloc(xs), *y = tg_alloc(ys), *r = tg_alloc(ys), *dy = tg_alloc(ys),
              *dx = tg_alloc(xs), *rx = tg_alloc(xs);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        nnr_upsample_nearest_f32(n, c, h, w, oh, ow, rr, rr, x, y);
        nnr_ref_upsample_nearest_f32(n, c, h, w, oh, ow, rr, rr, x, r);
        cr_expect_eq(check_close("upsample", y, r, ys, 0, 0), 0);
        nnr_upsample_nearest_backward_f32(n, c, h, w, oh, ow, rr, rr, dy, dx);
        nnr_ref_upsample_nearest_backward_f32(n, c, h, w, oh, ow, rr, rr, dy, rx);
        cr_expect_eq(check_close("upsample dx", dx, rx, xs, 1e-6, 1e-5), 0);
        free(x); free(y); free(r); free(dy); free(dx); free(rx);
    }
}

Test(resize, upsample_linear_matches_reference)
{
    tgen g = {34};
    /* scale factors (h, w) and align_corners: 2, 3, 1.5, 0.75, 1 (a copy) */
    static const double F[][3] = {{2, 2, 0}, {3, 1.5, 0}, {1.5, 0.75, 0}, {2, 2, 1},
                                  {1.7, 3, 1}, {1, 2, 0}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        const int n = 2, c = 2, h = 5, w = 4, al = (int)F[i][2];
        const int oh = (int)floor(h * F[i][0]), ow = (int)floor(w * F[i][1]);
        const float rh = al ? (float)(h - 1) / (float)(oh - 1) : (float)(1.0 / F[i][0]);
        const float rw = al ? (float)(w - 1) / (float)(ow - 1) : (float)(1.0 / F[i][1]);
        size_t xs = (size_t)n * c * h * w, ys = (size_t)n * c * oh * ow;
        float *x = tg_alloc(xs), *y = tg_alloc(ys), *r = tg_alloc(ys), *dy = tg_alloc(ys),
              *dx = tg_alloc(xs), *rx = tg_alloc(xs);
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        nnr_upsample_linear_f32(n, c, h, w, oh, ow, rh, rw, al, x, y);
        nnr_ref_upsample_linear_f32(n, c, h, w, oh, ow, rh, rw, al, x, r);
        cr_expect_eq(check_close("upsample linear", y, r, ys, 1e-6, 1e-5), 0);
        nnr_upsample_linear_backward_f32(n, c, h, w, oh, ow, rh, rw, al, dy, dx);
        nnr_ref_upsample_linear_backward_f32(n, c, h, w, oh, ow, rh, rw, al, dy, rx);
        cr_expect_eq(check_close("upsample linear dx", dx, rx, xs, 1e-6, 1e-5), 0);
        free(x); free(y); free(r); free(dy); free(dx); free(rx);
    }
}

Test(resize, upsample_bilinear_by_hand)
{
    /* PyTorch: F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), scale_factor=2,
     * mode="bilinear") -- rows 1, 1.25, 1.75, 2 / 1.5 ... 3.5 / 2.5 ... 4 */
    const float x[4] = {1, 2, 3, 4};
    const float want[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    float y[16];
    nnr_upsample_linear_f32(1, 1, 2, 2, 4, 4, 0.5f, 0.5f, 0, x, y);
    cr_expect_eq(check_close("bilinear 2x", y, want, 16, 1e-6, 0), 0);
    /* align_corners=True: 1, 4/3, 5/3, 2 along the first row */
    nnr_upsample_linear_f32(1, 1, 2, 2, 4, 4, 1.0f / 3, 1.0f / 3, 1, x, y);
    const float row0[4] = {1, 4.0f / 3, 5.0f / 3, 2};
    cr_expect_eq(check_close("bilinear align_corners", y, row0, 4, 1e-6, 0), 0);
}

Test(resize, pytorch_windows_by_hand)
{
    /* adaptive_avg_pool 5 -> 3: windows [0,2) [1,4) [3,5) */
    float x[5] = {1, 2, 4, 8, 16}, y[3];
    nnr_adaptive_avgpool2d_f32(1, 1, 1, 5, 1, 3, x, y);
    float want[3] = {1.5f, 14.0f / 3.0f, 12};
    cr_expect_eq(check_close("adaptive 5->3", y, want, 3, 1e-7, 1e-6), 0);
    /* nearest 3 -> 4 (scale 4/3): sources floor(o·0.75) = 0, 0, 1, 2 */
    float u[4];
    nnr_upsample_nearest_f32(1, 1, 1, 3, 1, 4, 1.0f, (float)(1.0 / (4.0 / 3.0)), x, u);
    float wu[4] = {1, 1, 2, 4};
    cr_expect_eq(check_close("nearest 3->4", u, wu, 4, 0, 0), 0);
}

Test(layernorm, matches_reference)
{
    tgen g = {34};
    static const int D[] = {1, 5, 16, 33, 128};
    for (size_t i = 0; i < sizeof D / sizeof D[0]; i++) {
        const size_t rows = 7;
        const int d = D[i];
        size_t len = rows * (size_t)d;
        float *x = tg_alloc(len), *w = tg_alloc(d), *b = tg_alloc(d), *y = tg_alloc(len),
              *r = tg_alloc(len), *dy = tg_alloc(len), *dx = tg_alloc(len), *rx = tg_alloc(len);
        float *dw = tg_alloc(d), *db = tg_alloc(d), *rw = tg_alloc(d), *rb = tg_alloc(d);
        float m[7], rs[7], rm[7], rrs[7];
        tg_fill(&g, x, len, -2, 3);
        tg_fill(&g, w, d, -1, 1);
        tg_fill(&g, b, d, -1, 1);
        tg_fill(&g, dy, len, -1, 1);
        nnr_layernorm_f32(rows, d, x, w, b, 1e-5f, y);
        nnr_ref_layernorm_f32(rows, d, x, w, b, 1e-5f, r);
        cr_expect_eq(check_close("layernorm", y, r, len, 1e-5, 1e-5), 0);
        nnr_layernorm_train_f32(rows, d, x, NULL, NULL, 1e-3f, m, rs, y);
        nnr_ref_layernorm_train_f32(rows, d, x, NULL, NULL, 1e-3f, rm, rrs, r);
        cr_expect_eq(check_close("layernorm train", y, r, len, 1e-5, 1e-5), 0);
        cr_expect_eq(check_close("layernorm rstd", rs, rrs, rows, 1e-6, 1e-6), 0);
        nnr_layernorm_backward_f32(rows, d, x, w, m, rs, dy, dx, dw, db);
        nnr_ref_layernorm_backward_f32(rows, d, x, w, rm, rrs, dy, rx, rw, rb);
        cr_expect_eq(check_close("layernorm dx", dx, rx, len, 1e-5, 1e-4), 0);
        cr_expect_eq(check_close("layernorm dw", dw, rw, d, 1e-5, 1e-4), 0);
        cr_expect_eq(check_close("layernorm db", db, rb, d, 1e-5, 1e-4), 0);
        free(x); free(w); free(b); free(y); free(r); free(dy); free(dx); free(rx);
        free(dw); free(db); free(rw); free(rb);
    }
}
