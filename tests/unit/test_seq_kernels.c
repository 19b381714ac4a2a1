/* test_seq_kernels.c — the sequence kernels (runtime/kernels/seq*.c)
 * against their naive references (runtime/ref/ref_seq.c), finite
 * differences of the scalar Σ r·y, and hand-computed values. */
#include "kern_check.h"

/* ---------------------------------------------------------------- embedding */

Test(embedding, forward_and_backward_match_reference)
{
    tgen g = {11};
    const int num = 7, dim = 5;
    const size_t rows = 13;
    float idx[13] = {0, 6, 3, 3, 1, 6, 2, 0, 5, 4, 3, 6, 1};
    float *w = tg_alloc((size_t)num * dim), *y = tg_alloc(rows * dim), *yr = tg_alloc(rows * dim);
    float *dy = tg_alloc(rows * dim), *dw = tg_alloc((size_t)num * dim), *dwr = tg_alloc((size_t)num * dim);
    tg_fill(&g, w, (size_t)num * dim, -1, 1);
    tg_fill(&g, dy, rows * dim, -1, 1);
    nnr_embedding_f32(rows, num, dim, idx, w, y);
    nnr_ref_embedding_f32(rows, num, dim, idx, w, yr);
    check_close("embedding", y, yr, rows * dim, 0, 0);
    cr_expect_eq(y[1 * dim + 2], w[6 * dim + 2]);
    for (int pad = -1; pad < 2; pad++) {
        nnr_embedding_backward_f32(rows, num, dim, pad * 3, idx, dy, dw);
        nnr_ref_embedding_backward_f32(rows, num, dim, pad * 3, idx, dy, dwr);
        check_close("embedding backward", dw, dwr, (size_t)num * dim, 1e-6, 1e-6);
    }
    /* padding_idx 3: its row gets no gradient; row 6 sums three rows */
    nnr_embedding_backward_f32(rows, num, dim, 3, idx, dy, dw);
    for (int j = 0; j < dim; j++) {
        cr_expect_eq(dw[3 * dim + j], 0.0f);
        EXPECT_NEAR(dw[6 * dim + j], dy[1 * dim + j] + dy[5 * dim + j] + dy[11 * dim + j], 1e-6);
    }
    free(w), free(y), free(yr), free(dy), free(dw), free(dwr);
}

Test(embedding, out_of_range_reads_nothing)
{
    float w[6] = {1, 2, 3, 4, 5, 6}, y[8], dw[6];
    float idx[4] = {-1, 3, 1.5f, 2};
    float dy[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    nnr_embedding_f32(4, 3, 2, idx, w, y);
    float want[8] = {0, 0, 0, 0, 0, 0, 5, 6};
    check_close("zero rows", y, want, 8, 0, 0);
    nnr_embedding_backward_f32(4, 3, 2, -1, idx, dy, dw);
    float wdw[6] = {0, 0, 0, 0, 1, 1};
    check_close("no gradient for bad rows", dw, wdw, 6, 0, 0);
}

Test(arange, per_sample)
{
    float y[6];
    nnr_arange_f32(2, 3, y);
    float want[6] = {0, 1, 2, 0, 1, 2};
    check_close("arange", y, want, 6, 0, 0);
}

/* ---------------------------------------------------------------- attention */

static void sdpa_case(int bh, int tq, int tk, int e, int ev, int causal)
{
    tgen g = {(uint64_t)(bh * 1000 + tq * 10 + causal)};
    size_t nq = (size_t)bh * tq * e, nk = (size_t)bh * tk * e, nv = (size_t)bh * tk * ev;
    size_t ny = (size_t)bh * tq * ev;
    float *q = tg_alloc(nq), *k = tg_alloc(nk), *v = tg_alloc(nv), *y = tg_alloc(ny);
    float *yr = tg_alloc(ny), *l = tg_alloc((size_t)bh * tq), *lr = tg_alloc((size_t)bh * tq);
    float *dy = tg_alloc(ny), *dq = tg_alloc(nq), *dk = tg_alloc(nk), *dv = tg_alloc(nv);
    float *dqr = tg_alloc(nq), *dkr = tg_alloc(nk), *dvr = tg_alloc(nv);
    tg_fill(&g, q, nq, -2, 2), tg_fill(&g, k, nk, -2, 2), tg_fill(&g, v, nv, -1, 1);
    tg_fill(&g, dy, ny, -1, 1);
    nnr_sdpa_f32(bh, tq, tk, e, ev, causal, q, k, v, y, l);
    nnr_ref_sdpa_f32(bh, tq, tk, e, ev, causal, q, k, v, yr, lr);
    check_close("sdpa y", y, yr, ny, 2e-6, 1e-5);
    check_close("sdpa lse", l, lr, (size_t)bh * tq, 2e-6, 1e-5);
    nnr_sdpa_backward_f32(bh, tq, tk, e, ev, causal, q, k, v, y, l, dy, dq, dk, dv);
    nnr_ref_sdpa_backward_f32(bh, tq, tk, e, ev, causal, q, k, v, yr, lr, dy, dqr, dkr, dvr);
    check_close("sdpa dq", dq, dqr, nq, 2e-5, 1e-4);
    check_close("sdpa dk", dk, dkr, nk, 2e-5, 1e-4);
    check_close("sdpa dv", dv, dvr, nv, 2e-5, 1e-4);
    /* NULL gradients are allowed and leave the others unchanged */
    nnr_sdpa_backward_f32(bh, tq, tk, e, ev, causal, q, k, v, y, l, dy, NULL, dk, NULL);
    check_close("sdpa dk alone", dk, dkr, nk, 2e-5, 1e-4);
    free(q), free(k), free(v), free(y), free(yr), free(l), free(lr), free(dy);
    free(dq), free(dk), free(dv), free(dqr), free(dkr), free(dvr);
}

Test(sdpa, matches_reference)
{
    sdpa_case(1, 1, 1, 1, 1, 0);
    sdpa_case(2, 5, 5, 4, 3, 0);
    sdpa_case(2, 5, 5, 4, 3, 1);
    sdpa_case(3, 7, 4, 8, 5, 0);
    sdpa_case(3, 4, 7, 8, 5, 1);
    sdpa_case(2, 7, 4, 8, 5, 1);
    sdpa_case(2, 150, 150, 16, 16, 1);   /* several query blocks */
    sdpa_case(1, 70, 130, 8, 4, 0);
    /* widths of whole vectors: the register-blocked tiles, odd lengths */
    sdpa_case(2, 37, 37, 32, 32, 1);
    sdpa_case(3, 70, 130, 16, 32, 0);
    sdpa_case(2, 130, 70, 32, 16, 1);
    sdpa_case(1, 64, 64, 64, 48, 1);
    sdpa_case(2, 3, 5, 16, 16, 1);
    /* W8's heads (64 x 64 x 32), and widths of 3 vectors at W = 8 (a pair
     * and a single vector in 16-register x86's 6-row tiles), rows not a
     * multiple of 6 */
    sdpa_case(4, 64, 64, 32, 32, 1);
    sdpa_case(2, 67, 67, 24, 24, 1);
    sdpa_case(2, 41, 59, 24, 40, 0);
}

/* The cached step (generation): a sequence fed in pieces of the given
 * sizes, each attending to the cached keys and values of the pieces
 * before it, gives the rows of the causal attention over the whole
 * sequence (nnr_ref_sdpa_f32). */
static void sdpa_step_case(int t, int e, int ev, const int *piece, int npieces)
{
    tgen g = {41};
    float *q = tg_alloc((size_t)t * e), *k = tg_alloc((size_t)t * e), *v = tg_alloc((size_t)t * ev);
    float *y = tg_alloc((size_t)t * ev), *yr = tg_alloc((size_t)t * ev);
    float *kc = tg_alloc((size_t)t * e), *vc = tg_alloc((size_t)t * ev);
    tg_fill(&g, q, (size_t)t * e, -2, 2), tg_fill(&g, k, (size_t)t * e, -2, 2), tg_fill(&g, v, (size_t)t * ev, -1, 1);
    nnr_ref_sdpa_f32(1, t, t, e, ev, 1, q, k, v, yr, NULL);
    int pos = 0;
    for (int i = 0; i < npieces; i++) {
        nnr_sdpa_step_f32(pos, piece[i], e, ev, q + (size_t)pos * e, k + (size_t)pos * e, v + (size_t)pos * ev,
                          kc, vc, y + (size_t)pos * ev);
        pos += piece[i];
    }
    cr_assert_eq(pos, t);
    check_close("sdpa step", y, yr, (size_t)t * ev, 2e-6, 1e-5);
    free(q), free(k), free(v), free(y), free(yr), free(kc), free(vc);
}

Test(sdpa, cached_step_matches_reference)
{
    const int ones[5] = {1, 1, 1, 1, 1}, mixed[4] = {3, 1, 70, 6}, whole[1] = {9};
    sdpa_step_case(5, 4, 3, ones, 5);
    sdpa_step_case(80, 8, 5, mixed, 4);     /* a piece of more than one query block */
    sdpa_step_case(9, 2, 2, whole, 1);
}

/* nnr_mha_step_f32 fed position by position (then in pieces) against the
 * causal nnr_mha_f32 over the whole sequence, with and without biases. */
Test(mha, cached_step_matches_whole_sequence)
{
    for (int bias = 0; bias < 2; bias++) {
        tgen g = {43 + (uint64_t)bias};
        const int t = 19, e = 12, heads = 3;
        nnr_mha_shape s = {t, t, e, heads, bias, 1};
        size_t np = 4 * (size_t)e * e + 4 * (size_t)e, nx = (size_t)t * e;
        float *p = tg_alloc(np), *x = tg_alloc(nx), *y = tg_alloc(nx), *ys = tg_alloc(nx);
        float *kc = tg_alloc(nx), *vc = tg_alloc(nx);
        tg_fill(&g, p, np, -0.5, 0.5), tg_fill(&g, x, nx, -1, 1);
        nnr_mha_f32(&s, 1, x, x, x, p, y, NULL);
        for (int i = 0; i < t; i++)
            nnr_mha_step_f32(&s, i, 1, x + (size_t)i * e, x + (size_t)i * e, x + (size_t)i * e, p, kc, vc,
                             ys + (size_t)i * e);
        check_close("mha step by step", ys, y, nx, 2e-6, 1e-5);
        memset(ys, 0, nx * sizeof *ys);
        nnr_mha_step_f32(&s, 0, 7, x, x, x, p, kc, vc, ys);
        nnr_mha_step_f32(&s, 7, t - 7, x + 7 * (size_t)e, x + 7 * (size_t)e, x + 7 * (size_t)e, p, kc, vc,
                         ys + 7 * (size_t)e);
        check_close("mha step in two pieces", ys, y, nx, 2e-6, 1e-5);
        free(p), free(x), free(y), free(ys), free(kc), free(vc);
    }
}

/* Self-attention (one pointer as q, k and v) runs one fused projection and
 * one fused input gradient: the same output, parameter gradients and the
 * sum of the three input gradients as the same values passed as three
 * separate copies (the unfused path), with the head width a whole vector
 * (the tiles) or not (nnr_gemm_f32); dq NULL sends the sum to dk. */
static void mha_self_case(int t, int e, int heads, int bias)
{
    const int n = 2;
    nnr_mha_shape s = {t, t, e, heads, bias, 1};
    const size_t nx = (size_t)n * t * e, np = 4 * (size_t)e * e + 4 * (size_t)e, ns = n * nnr_mha_saved(&s);
    tgen g = {(uint64_t)(t * 100 + e)};
    float *x = tg_alloc(nx), *x2 = tg_alloc(nx), *x3 = tg_alloc(nx), *p = tg_alloc(np), *dy = tg_alloc(nx);
    float *y1 = tg_alloc(nx), *y2 = tg_alloc(nx), *s1 = tg_alloc(ns), *s2 = tg_alloc(ns);
    float *d[6], *dp1 = tg_alloc(np), *dp2 = tg_alloc(np), *sum = tg_alloc(nx), *zero = tg_alloc(nx);
    for (int i = 0; i < 6; i++) d[i] = tg_alloc(nx);
    tg_fill(&g, x, nx, -1, 1), tg_fill(&g, p, np, -0.3f, 0.3f), tg_fill(&g, dy, nx, -1, 1);
    memcpy(x2, x, nx * sizeof *x), memcpy(x3, x, nx * sizeof *x);
    memset(zero, 0, nx * sizeof *zero);
    nnr_mha_f32(&s, n, x, x, x, p, y1, s1);
    nnr_mha_f32(&s, n, x, x2, x3, p, y2, s2);
    check_close("mha self y", y1, y2, nx, 1e-6, 1e-5);
    nnr_mha_backward_f32(&s, n, x, x, x, p, s1, dy, d[0], d[1], d[2], dp1);
    nnr_mha_backward_f32(&s, n, x, x2, x3, p, s2, dy, d[3], d[4], d[5], dp2);
    for (size_t i = 0; i < nx; i++) sum[i] = d[3][i] + d[4][i] + d[5][i];
    check_close("mha self dx", d[0], sum, nx, 2e-5, 1e-4);
    check_close("mha self dk", d[1], zero, nx, 0, 0);
    check_close("mha self dv", d[2], zero, nx, 0, 0);
    check_close("mha self dp", dp1, dp2, np, 2e-5, 1e-4);
    nnr_mha_backward_f32(&s, n, x, x, x, p, s1, dy, NULL, d[1], d[2], dp1);
    check_close("mha self dx in dk", d[1], sum, nx, 2e-5, 1e-4);
    check_close("mha self dv alone", d[2], zero, nx, 0, 0);
    free(x), free(x2), free(x3), free(p), free(dy), free(y1), free(y2), free(s1), free(s2);
    free(dp1), free(dp2), free(sum), free(zero);
    for (int i = 0; i < 6; i++) free(d[i]);
}

Test(mha, self_attention_fused_matches_separate_inputs)
{
    mha_self_case(13, 32, 2, 1);
    mha_self_case(70, 64, 4, 0);
    mha_self_case(9, 12, 3, 1);
}

Test(sdpa, hand_computed)
{
    /* one query, two keys, e = 1: scores 0 and 2/1, scaled by 1 */
    float q[1] = {1}, k[2] = {0, 2}, v[2] = {10, 20}, y[1], l[1];
    nnr_sdpa_f32(1, 1, 2, 1, 1, 0, q, k, v, y, l);
    double p1 = exp(2.0) / (1 + exp(2.0));
    EXPECT_NEAR(y[0], 10 * (1 - p1) + 20 * p1, 1e-5);
    EXPECT_NEAR(l[0], log(1 + exp(2.0)), 1e-6);
    /* causal: the first query sees only the first key */
    float q2[2] = {1, 1}, y2[2];
    nnr_sdpa_f32(1, 2, 2, 1, 1, 1, q2, k, v, y2, NULL);
    EXPECT_NEAR(y2[0], 10, 1e-6);
    EXPECT_NEAR(y2[1], 10 * (1 - p1) + 20 * p1, 1e-5);
}

/* ---------------------------------------------------------------- lstm / gru */

typedef struct rnn_ctx {
    nnr_rnn_shape s;
    int n;
    float *x, *p, *y, *r;
} rnn_ctx;

static double rnn_f(void *c)
{
    rnn_ctx *k = c;
    nnr_rnn_f32(&k->s, k->n, k->x, k->p, k->y);
    return proj(k->r, k->y, (size_t)k->n * nnr_rnn_packed(&k->s));
}

static void rnn_case(int gates, int layers, int dirs, int bias)
{
    nnr_rnn_shape s = {4, 3, 5, layers, dirs, bias, gates};
    const int n = 3;
    tgen g = {(uint64_t)(gates * 100 + layers * 10 + dirs + bias * 7)};
    size_t np = nnr_rnn_params(&s), ny = (size_t)n * nnr_rnn_packed(&s), nx = (size_t)n * s.seq_len * s.input_size;
    rnn_ctx c = {s, n, tg_alloc(nx), tg_alloc(np), tg_alloc(ny), tg_alloc(ny)};
    float *yr = tg_alloc(ny), *yt = tg_alloc(ny), *sv = tg_alloc((size_t)n * nnr_rnn_saved(&s));
    float *dx = tg_alloc(nx), *dp = tg_alloc(np);
    tg_fill(&g, c.x, nx, -1, 1), tg_fill(&g, c.p, np, -0.6, 0.6), tg_fill(&g, c.r, ny, -1, 1);
    nnr_rnn_f32(&s, n, c.x, c.p, c.y);
    nnr_ref_rnn_f32(&s, n, c.x, c.p, yr);
    check_close("rnn forward", c.y, yr, ny, 1e-6, 1e-5);
    nnr_rng rng;
    nnr_rng_seed(&rng, 1);
    nnr_rnn_train_f32(&s, n, c.x, c.p, yt, sv, &rng, 0.0f);
    check_close("rnn training forward", yt, c.y, ny, 0, 0);
    nnr_rnn_backward_f32(&s, n, c.x, c.p, yt, sv, c.r, dx, dp);
    fd_check("rnn dp", rnn_f, &c, c.p, np, dp, 1e-2f, 2e-3, 2e-2);
    fd_check("rnn dx", rnn_f, &c, c.x, nx, dx, 1e-2f, 2e-3, 2e-2);
    free(c.x), free(c.p), free(c.y), free(c.r), free(yr), free(yt), free(sv), free(dx), free(dp);
}

Test(rnn, lstm_matches_reference_and_finite_differences)
{
    rnn_case(4, 1, 1, 1);
    rnn_case(4, 2, 1, 1);
    rnn_case(4, 1, 2, 0);
    rnn_case(4, 2, 2, 1);
}

Test(rnn, gru_matches_reference_and_finite_differences)
{
    rnn_case(3, 1, 1, 1);
    rnn_case(3, 2, 1, 0);
    rnn_case(3, 2, 2, 1);
}

Test(rnn, sizes)
{
    /* nn.LSTM(3, 5, num_layers = 2, bidirectional = True): 4·5·3 + 4·5·5 + 2·20 per
     * direction of layer 0, 4·5·10 + 4·5·5 + 40 of layer 1 */
    nnr_rnn_shape s = {4, 3, 5, 2, 2, 1, 4};
    cr_expect_eq(nnr_rnn_params(&s), 2 * (60 + 100 + 40) + 2 * (200 + 100 + 40));
    cr_expect_eq(nnr_rnn_packed(&s), 4 * 10 + 2 * 2 * 5 * 2);
    nnr_rnn_shape gs = {4, 3, 5, 1, 1, 0, 3};
    cr_expect_eq(nnr_rnn_params(&gs), 45 + 75);
    cr_expect_eq(nnr_rnn_packed(&gs), 20 + 5);
}

Test(rnn, dropout_between_layers)
{
    nnr_rnn_shape s = {3, 2, 4, 2, 1, 1, 4};
    const int n = 2;
    tgen g = {5};
    size_t np = nnr_rnn_params(&s), ny = (size_t)n * nnr_rnn_packed(&s), nx = (size_t)n * 6;
    float *x = tg_alloc(nx), *p = tg_alloc(np), *y0 = tg_alloc(ny), *y1 = tg_alloc(ny);
    float *sv = tg_alloc((size_t)n * nnr_rnn_saved(&s));
    tg_fill(&g, x, nx, -1, 1), tg_fill(&g, p, np, -0.5, 0.5);
    nnr_rng rng;
    nnr_rng_seed(&rng, 3);
    nnr_rnn_f32(&s, n, x, p, y0);
    nnr_rnn_train_f32(&s, n, x, p, y1, sv, &rng, 1.0f);   /* every output of layer 0 dropped */
    int differs = 0;
    for (size_t i = 0; i < ny; i++) differs |= y0[i] != y1[i];
    cr_expect(differs, "dropout between the layers changes the result");
    /* layer 1 sees zeros: its output is that of a zero input */
    float *z = tg_alloc(nx), *yz = tg_alloc(ny);
    nnr_rng_seed(&rng, 3);
    nnr_rnn_shape one = {3, 4, 4, 1, 1, 1, 4};
    size_t off = nnr_rnn_params(&s) - nnr_rnn_params(&one);
    float *z4 = tg_alloc((size_t)n * 12);
    nnr_rnn_f32(&one, n, z4, p + off, yz);
    for (int b = 0; b < n; b++)
        check_close("layer 1 of zeros", y1 + b * nnr_rnn_packed(&s), yz + b * nnr_rnn_packed(&one), 12, 1e-7, 0);
    free(x), free(p), free(y0), free(y1), free(sv), free(z), free(yz), free(z4);
}

/* ---------------------------------------------------------------- losses */

/* Rows wider than a vector and than the kernel's 256-float chunk (the
 * vector max, exponentials and sums, their tails), against the reference,
 * with and without the gradient, and a NaN logit making its row NaN. */
Test(seq_loss, wide_rows_match_reference)
{
    tgen g = {21};
    const int ks[] = {17, 37, 300};
    for (int t = 0; t < 3; t++) {
        const size_t rows = 5;
        const int k = ks[t];
        int32_t lab[5] = {0, k - 1, -100, k / 2, 3};
        float *x = tg_alloc(rows * k), *d = tg_alloc(rows * k), *dr = tg_alloc(rows * k);
        tg_fill(&g, x, rows * k, -8, 8);
        double a = nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, lab, NNR_IGNORE_INDEX, d);
        double b = nnr_ref_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, lab, NNR_IGNORE_INDEX, dr);
        EXPECT_NEAR(a, b, 1e-6);
        check_close("wide seq loss dpred", d, dr, rows * k, 1e-7, 1e-5);
        EXPECT_NEAR(nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, lab, NNR_IGNORE_INDEX, NULL), b, 1e-6);
        x[k + k / 3] = NAN;
        cr_expect(isnan(nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, lab, NNR_IGNORE_INDEX, d)));
        free(x), free(d), free(dr);
    }
}

Test(seq_loss, matches_reference_with_ignore_index)
{
    tgen g = {9};
    const size_t rows = 10;
    const int k = 6;
    int32_t lab[10] = {0, 5, -100, 2, 3, -100, 1, 4, 4, 0};
    float *x = tg_alloc(rows * k), *d = tg_alloc(rows * k), *dr = tg_alloc(rows * k);
    tg_fill(&g, x, rows * k, -3, 3);
    for (int l = NNR_LOSS_CROSS_ENTROPY; l <= NNR_LOSS_NLL; l++) {
        double a = nnr_seq_loss_f32((nnr_loss)l, rows, k, x, lab, NNR_IGNORE_INDEX, d);
        double b = nnr_ref_seq_loss_f32((nnr_loss)l, rows, k, x, lab, NNR_IGNORE_INDEX, dr);
        EXPECT_NEAR(a, b, 1e-6);
        check_close("seq loss dpred", d, dr, rows * k, 1e-7, 1e-5);
    }
    /* without ignored rows it is nnr_loss_f32 over the rows */
    int32_t all[10] = {0, 5, 1, 2, 3, 3, 1, 4, 4, 0};
    EXPECT_NEAR(nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, all, -100, NULL),
                nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, (int)rows, k, x, all, NULL, NULL), 1e-6);
    int32_t none[2] = {-100, -100};
    cr_expect(isnan(nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, 2, k, x, none, -100, NULL)));
    size_t counted, good = nnr_seq_correct(rows, k, x, lab, -100, &counted);
    cr_expect_eq(counted, 8);
    cr_expect(good <= 8);
    free(x), free(d), free(dr);
}

Test(seq_loss, hand_computed)
{
    /* two rows of two classes, the second ignored: log(1 + e) - 0 for [0, 1] label 0 */
    float x[4] = {0, 1, 5, -5};
    int32_t lab[2] = {0, -100};
    float d[4];
    EXPECT_NEAR(nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, 2, 2, x, lab, -100, d), log(1 + exp(1.0)), 1e-6);
    EXPECT_NEAR(d[0], 1 / (1 + exp(1.0)) - 1, 1e-6);
    cr_expect_eq(d[2], 0.0f);
    EXPECT_NEAR(nnr_seq_loss_f32(NNR_LOSS_NLL, 2, 2, x, lab, -100, d), 0.0, 1e-9);
}

/* label_smoothing on a sequence: the soft rows (1 - eps) one-hot + eps / k,
 * against the reference and against PyTorch's own formula
 * (1 - eps) nll + eps / k sum_j -log p_j, both over the rows not ignored. */
Test(seq_loss, soft_rows_are_label_smoothing)
{
    tgen g = {17};
    const size_t rows = 9;
    const int k = 5;
    const double eps = 0.2;
    int32_t lab[9] = {4, -100, 0, 2, 2, -100, 1, 3, 0};
    float *x = tg_alloc(rows * k), *t = tg_alloc(rows * k), *d = tg_alloc(rows * k), *dr = tg_alloc(rows * k);
    tg_fill(&g, x, rows * k, -4, 4);
    nnr_smooth_labels((int)rows, k, lab, eps, t);
    double a = nnr_seq_loss_soft_f32(rows, k, x, lab, t, NNR_IGNORE_INDEX, d);
    double b = nnr_ref_seq_loss_soft_f32(rows, k, x, lab, t, NNR_IGNORE_INDEX, dr);
    EXPECT_NEAR(a, b, 1e-6);
    check_close("soft seq loss dpred", d, dr, rows * k, 1e-7, 1e-5);
    double nll = nnr_seq_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, x, lab, NNR_IGNORE_INDEX, NULL), smooth = 0;
    size_t count = 0;
    for (size_t r = 0; r < rows; r++) {
        if (lab[r] == NNR_IGNORE_INDEX)
            continue;
        count++;
        double m = -INFINITY, s = 0;
        for (int j = 0; j < k; j++) m = fmax(m, x[r * k + j]);
        for (int j = 0; j < k; j++) s += exp(x[r * k + j] - m);
        for (int j = 0; j < k; j++) smooth -= x[r * k + j] - m - log(s);
    }
    EXPECT_NEAR(a, (1 - eps) * nll + eps / k * smooth / (double)count, 1e-5);
    for (int j = 0; j < k; j++) cr_expect_eq(d[1 * k + j], 0.0f);
    int32_t none[2] = {-100, -100};
    cr_expect(isnan(nnr_seq_loss_soft_f32(2, k, x, none, t, -100, NULL)));
    free(x), free(t), free(d), free(dr);
}
