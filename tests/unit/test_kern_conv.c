/* test_kern_conv.c — the conv2d kernel paths chosen by shape against the
 * naive reference (runtime/ref/): the batched path (several samples per
 * GEMM, for few output positions) and the transposed one (one sample, many
 * output channels; and the transposed weight gradient of few taps), with batches that end in a partial block, odd channel counts, stride 2, padding, dilation; forward (each
 * sample alone must give the same bits), backward (dx, dw, db together and
 * alone); and the direct kernel of few channels on small planes
 * (conv_small.c) over its tiles' edge cases. */
#include "kern_check.h"

/* c h w oc kh kw sh sw ph pw dh dw, n */
static const int BC[][13] = {
    {5, 7, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 13},     /* W6's 7x7, odd channels, 8 + 5 */
    {16, 8, 8, 32, 3, 3, 2, 2, 1, 1, 1, 1, 30},   /* W7's strided block */
    {32, 4, 4, 32, 3, 3, 1, 1, 1, 1, 1, 1, 25},   /* W7's 4x4 */
    {6, 9, 9, 10, 3, 3, 1, 1, 2, 2, 2, 2, 5},     /* dilated */
    {1, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 9},      /* one input channel */
    {3, 5, 9, 11, 3, 2, 2, 1, 0, 1, 1, 1, 7},     /* rectangular, mixed strides */
    {7, 3, 3, 8, 3, 3, 1, 1, 0, 0, 1, 1, 3},      /* 1x1 output */
    {16, 8, 8, 32, 1, 1, 2, 2, 0, 0, 1, 1, 11},   /* W7's strided 1x1 downsample */
    {9, 12, 12, 13, 3, 3, 1, 1, 1, 1, 1, 1, 4},   /* 12x12: two samples per block */
    /* the column matrix a slice of taps (and the data gradient's a slice of
     * channels) at a time: 10 (2 + 8) and 2 slices; blocks of 16 samples
     * (784 columns) and 4 (W6's 14x14), each ending in a partial one */
    {130, 7, 7, 10, 3, 3, 1, 1, 1, 1, 1, 1, 21},  /* 1170 taps, 2-row edge tile */
    {20, 14, 14, 9, 3, 3, 1, 1, 1, 1, 1, 1, 6},   /* 180 taps */
    /* >= 32 output channels: one sample runs the product transposed */
    {5, 7, 7, 36, 3, 3, 1, 1, 1, 1, 1, 1, 3},     /* 49 rows padded */
    {3, 5, 5, 40, 3, 3, 2, 2, 1, 1, 1, 1, 2},     /* 9 rows */
    {4, 6, 6, 33, 3, 3, 1, 1, 1, 1, 1, 1, 2},     /* 33 channels: not transposed */
    /* few taps, many channels: the weight gradient runs transposed */
    {1, 20, 20, 40, 3, 3, 1, 1, 1, 1, 1, 1, 3},   /* W6's first conv */
    {8, 10, 10, 35, 1, 1, 1, 1, 0, 0, 1, 1, 2},   /* pointwise */
    {1, 21, 17, 33, 3, 3, 2, 2, 0, 1, 1, 1, 2},
    /* conv_small.c (<= 64 channels, <= 32 x 32, 3x3 / 1x1, stride 1 / 2):
     * tiles of 2 x 8, 1 x 8, 4 x 4, 2 x 4 positions (the last ones moved
     * back), one or two channel vectors, channel tails, positions one by one
     * on planes under 4 x 4 */
    {3, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* batch 1, 16 channels */
    {16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 4},    /* W7's first blocks */
    {5, 7, 9, 17, 3, 3, 1, 1, 0, 0, 1, 1, 3},     /* no padding, 5 x 7, odd channels */
    {7, 11, 10, 33, 3, 3, 2, 2, 1, 1, 1, 1, 2},   /* stride 2, 6 x 5, three channel vectors */
    {64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 2},    /* the most channels */
    {13, 9, 9, 24, 1, 1, 2, 2, 0, 0, 1, 1, 3},    /* 1x1 stride 2, 5 x 5 */
    {6, 6, 6, 10, 1, 1, 1, 1, 0, 0, 1, 1, 2},     /* pointwise */
    {4, 32, 32, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1},    /* 32 x 32, stride 2 */
    {2, 3, 5, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3},      /* 3 x 5: position by position */
    {9, 6, 6, 20, 3, 3, 2, 2, 0, 0, 1, 1, 2},     /* stride 2 that leaves an edge unread */
    {8, 8, 8, 16, 3, 3, 1, 1, 2, 2, 1, 1, 2},     /* padding 2: 10 x 10 */
    /* AVX2's tiles (of at most 12 sums, through a buffer of the plane):
     * one vector in 2 x 4 and 2 x 5 tiles, two in tiles of 6 and 5
     * positions in row order and 1 x 3, 1 x 2, 1 x 1; no padding: the
     * sample read in place */
    {1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},    /* W4's first conv */
    {8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 2},   /* W4's second conv */
    {8, 14, 14, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},    /* one vector, 14 x 14 */
    {3, 2, 3, 16, 3, 3, 1, 1, 1, 1, 1, 1, 3},     /* 2 x 3 plane */
    {5, 1, 1, 24, 1, 1, 1, 1, 0, 0, 1, 1, 3},     /* one position, three vectors */
    {12, 9, 9, 40, 1, 1, 2, 2, 0, 0, 1, 1, 2},    /* 1x1 stride 2, five vectors */
    {6, 7, 5, 12, 3, 3, 2, 2, 0, 0, 1, 1, 2},     /* stride 2, no padding, 3 x 2 */
};
#define NBC (sizeof BC / sizeof BC[0])

static nnr_conv2d_shape bshape(size_t i)
{
    const int *v = BC[i];
    nnr_conv2d_shape s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0,
                          v[10], v[11], 1};
    s.out_h = (s.in_h + 2 * s.padding_h - s.dilation_h * (s.kernel_h - 1) - 1) / s.stride_h + 1;
    s.out_w = (s.in_w + 2 * s.padding_w - s.dilation_w * (s.kernel_w - 1) - 1) / s.stride_w + 1;
    return s;
}

Test(conv_paths, forward_matches_reference)
{
    tgen g = {41};
    for (size_t i = 0; i < NBC; i++) {
        const nnr_conv2d_shape s = bshape(i);
        const int n = BC[i][12], k = s.in_channels * s.kernel_h * s.kernel_w;
        const size_t xs = (size_t)s.in_channels * s.in_h * s.in_w, ys = (size_t)s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(n * xs), *w = tg_alloc((size_t)s.out_channels * k), *b = tg_alloc(s.out_channels);
        float *y = tg_alloc(n * ys), *r = tg_alloc(n * ys), *scr = tg_alloc(nnr_conv2d_scratch(&s));
        tg_fill(&g, x, n * xs, -1, 1);
        tg_fill(&g, w, (size_t)s.out_channels * k, -1, 1);
        tg_fill(&g, b, s.out_channels, -1, 1);
        for (int a = 0; a < 3; a++) {
            const nnr_act act = a == 0 ? NNR_ACT_NONE : a == 1 ? NNR_ACT_RELU : NNR_ACT_TANH;
            const float *bias = a == 1 ? NULL : b;
            char what[64];
            nnr_conv2d_f32(n, &s, x, w, bias, y, act, 0, scr);
            nnr_ref_conv2d_f32(n, &s, x, w, bias, r, act, 0, NULL);
            snprintf(what, sizeof what, "conv path %zu act %d", i, a);
            cr_expect_eq(check_close(what, y, r, n * ys, 1e-5 + 1e-7 * k, 1e-5), 0);
            for (int j = 0; j < n; j++) {
                nnr_conv2d_f32(1, &s, x + j * xs, w, bias, r, act, 0, scr);
                snprintf(what, sizeof what, "conv path %zu sample %d alone", i, j);
                cr_expect_eq(check_close(what, r, y + j * ys, ys, 0, 0), 0);
            }
        }
        free(x); free(w); free(b); free(y); free(r); free(scr);
    }
}

Test(conv_paths, backward_matches_reference)
{
    tgen g = {42};
    for (size_t i = 0; i < NBC; i++) {
        const nnr_conv2d_shape s = bshape(i);
        const int n = BC[i][12];
        const size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w,
                     ws = (size_t)s.out_channels * s.in_channels * s.kernel_h * s.kernel_w;
        const size_t ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
        float *x = tg_alloc(xs), *w = tg_alloc(ws), *dy = tg_alloc(ys);
        float *dx = tg_alloc(xs), *dw = tg_alloc(ws), *db = tg_alloc(s.out_channels);
        float *rx = tg_alloc(xs), *rw = tg_alloc(ws), *rb = tg_alloc(s.out_channels);
        float *scr = tg_alloc(nnr_conv2d_scratch(&s));
        tg_fill(&g, x, xs, -1, 1);
        tg_fill(&g, w, ws, -1, 1);
        tg_fill(&g, dy, ys, -1, 1);
        tg_fill(&g, dx, xs, 7, 8);   /* overwritten, never accumulated into */
        tg_fill(&g, dw, ws, 7, 8);
        tg_fill(&g, db, s.out_channels, 7, 8);
        nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, dw, db, scr);
        nnr_ref_conv2d_backward_f32(n, &s, x, w, dy, rx, rw, rb, NULL);
        const double tx = 1e-5 + 1e-7 * s.out_channels * s.kernel_h * s.kernel_w, tw = 1e-5 + 1e-7 * n * s.out_h * s.out_w;
        char what[64];
        snprintf(what, sizeof what, "conv path %zu dx", i);
        cr_expect_eq(check_close(what, dx, rx, xs, tx, 1e-5), 0);
        snprintf(what, sizeof what, "conv path %zu dw", i);
        cr_expect_eq(check_close(what, dw, rw, ws, tw, 1e-5), 0);
        snprintf(what, sizeof what, "conv path %zu db", i);
        cr_expect_eq(check_close(what, db, rb, s.out_channels, tw, 1e-5), 0);
        tg_fill(&g, dw, ws, 7, 8);
        nnr_conv2d_backward_f32(n, &s, x, w, dy, NULL, dw, NULL, scr);
        snprintf(what, sizeof what, "conv path %zu dw alone", i);
        cr_expect_eq(check_close(what, dw, rw, ws, tw, 1e-5), 0);
        tg_fill(&g, dx, xs, 7, 8);
        nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, NULL, NULL, scr);
        snprintf(what, sizeof what, "conv path %zu dx alone", i);
        cr_expect_eq(check_close(what, dx, rx, xs, tx, 1e-5), 0);
        free(x); free(w); free(dy); free(dx); free(dw); free(db);
        free(rx); free(rw); free(rb); free(scr);
    }
}

/* col2im (the data gradient's scatter) against the plain scatter in the
 * generic loop order, bit for bit, and im2col against the plain gather: stride-1 shapes with rows wider than a
 * vector (several 16-column blocks and a tail), one column, kernels wider
 * than the row, padding 0 to 2, rows ld apart past oh*ow; and a strided and
 * a dilated shape through the generic loops. */
#include "kernels/kern.h"

Test(conv_paths, col2im_matches_scatter)
{
    /* c h w oc kh kw sh sw ph pw dh dw */
    static const int CS[][12] = {
        {3, 14, 14, 1, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 7, 7, 1, 3, 3, 1, 1, 1, 1, 1, 1},
        {2, 5, 33, 1, 3, 3, 1, 1, 1, 1, 1, 1},  {1, 4, 17, 1, 5, 2, 1, 1, 2, 0, 1, 1},
        {2, 6, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},   {1, 5, 3, 1, 2, 5, 1, 1, 0, 2, 1, 1},
        {2, 9, 16, 1, 1, 1, 1, 1, 0, 0, 1, 1},  {2, 8, 20, 1, 3, 4, 1, 1, 2, 1, 1, 1},
        {2, 9, 9, 1, 3, 3, 2, 2, 1, 1, 1, 1},   {1, 9, 11, 1, 3, 3, 1, 1, 2, 2, 2, 2},
        {2, 6, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1},  {2, 5, 12, 1, 3, 3, 1, 1, 0, 0, 1, 1},
        {1, 4, 2, 1, 3, 5, 1, 1, 1, 2, 1, 1},
    };
    tgen g = {43};
    for (size_t i = 0; i < sizeof CS / sizeof CS[0]; i++) {
        const int *v = CS[i];
        nnr_kconv s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], 0, 0,
                              v[10], v[11], 1};
        s.oh = (s.h + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1;
        s.ow = (s.w + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1;
        const size_t ld = (size_t)s.oh * s.ow + 5, rows = (size_t)s.c * s.kh * s.kw;
        const size_t xs = (size_t)s.c * s.h * s.w;
        float *col = tg_alloc(rows * ld), *dx = tg_alloc(xs), *r = tg_alloc(xs);
        tg_fill(&g, col, rows * ld, -1, 1);
        tg_fill(&g, dx, xs, 7, 8); /* overwritten */
        memset(r, 0, xs * sizeof *r);
        for (int ci = 0; ci < s.c; ci++)
            for (int ki = 0; ki < s.kh; ki++)
                for (int kj = 0; kj < s.kw; kj++)
                    for (int oy = 0; oy < s.oh; oy++)
                        for (int ox = 0; ox < s.ow; ox++) {
                            const int iy = oy * s.sh - s.ph + ki * s.dh;
                            const int ix = ox * s.sw - s.pw + kj * s.dw;
                            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                            r[((size_t)ci * s.h + iy) * s.w + ix] +=
                                col[((size_t)(ci * s.kh + ki) * s.kw + kj) * ld +
                                    (size_t)oy * s.ow + ox];
                        }
        nnr_kern_col2im_ld_f32(&s, col, dx, ld);
        char what[48];
        snprintf(what, sizeof what, "col2im shape %zu", i);
        cr_expect_eq(check_close(what, dx, r, xs, 0, 0), 0);
        /* im2col of dx: the gather, entries past oh*ow of each row untouched */
        float *rc = tg_alloc(rows * ld);
        memcpy(rc, col, rows * ld * sizeof *rc);
        for (int ci = 0; ci < s.c; ci++)
            for (int ki = 0; ki < s.kh; ki++)
                for (int kj = 0; kj < s.kw; kj++)
                    for (int oy = 0; oy < s.oh; oy++)
                        for (int ox = 0; ox < s.ow; ox++) {
                            const int iy = oy * s.sh - s.ph + ki * s.dh;
                            const int ix = ox * s.sw - s.pw + kj * s.dw;
                            rc[((size_t)(ci * s.kh + ki) * s.kw + kj) * ld + (size_t)oy * s.ow +
                               ox] = iy < 0 || iy >= s.h || ix < 0 || ix >= s.w
                                         ? 0.0f
                                         : dx[((size_t)ci * s.h + iy) * s.w + ix];
                        }
        nnr_kern_im2col_ld_f32(&s, dx, col, ld);
        snprintf(what, sizeof what, "im2col shape %zu", i);
        cr_expect_eq(check_close(what, col, rc, rows * ld, 0, 0), 0);
        free(col); free(dx); free(r); free(rc);
    }
}

/* The 2x2, stride-2 max-pool backward compiled for this machine (its
 * AVX-512 path skips the clearing of dx when the windows tile the plane):
 * against the reference, bit for bit, with dx holding garbage first; tiled
 * planes (W6's 28x28 and 14x14, rows of more than 16 windows, ties, a -0
 * gradient) and untiled ones (odd sides: the last row and column stay 0). */
Test(conv_paths, maxpool22_backward_matches_reference)
{
    /* c h w */
    static const int PS[][3] = {{3, 28, 28}, {2, 14, 14}, {1, 4, 40}, {2, 7, 7}, {1, 6, 9}, {1, 2, 2}};
    tgen g = {44};
    for (size_t i = 0; i < sizeof PS / sizeof PS[0]; i++) {
        const int c = PS[i][0], h = PS[i][1], w = PS[i][2], n = 2;
        const nnr_pool2d_shape s = {c, h, w, 2, 2, 2, 2, 0, 0, h / 2, w / 2};
        const size_t xs = (size_t)n * c * h * w, ys = (size_t)n * c * (h / 2) * (w / 2);
        float *x = tg_alloc(xs), *dy = tg_alloc(ys), *dx = tg_alloc(xs), *r = tg_alloc(xs);
        tg_fill(&g, x, xs, -1, 1);
        for (size_t j = 0; j < xs; j += 7) x[j] = x[j / 2]; /* some ties */
        tg_fill(&g, dy, ys, -1, 1);
        dy[1] = -0.0f;
        tg_fill(&g, dx, xs, 3, 4);
        nnr_maxpool2d_backward_f32(n, &s, x, dy, dx);
        nnr_ref_maxpool2d_backward_f32(n, &s, x, dy, r);
        char what[48];
        snprintf(what, sizeof what, "maxpool22 backward shape %zu", i);
        cr_expect_eq(check_close(what, dx, r, xs, 0, 0), 0);
        free(x); free(dy); free(dx); free(r);
    }
}
