/* test_kern_train.c — the training-side kernels: batchnorm (inference,
 * train, backward), losses, optimizers, the generator, initialisation and
 * dropout; references, hand-computed values and finite differences. */
#include "kern_check.h"

/* ------------------------------------------------------------------ batchnorm */

static const int BN_SHAPES[][3] = {{2, 1, 1}, {7, 3, 1}, {4, 5, 17}, {3, 2, 49}, {100, 17, 1},
                                   {2, 7, 63}};
#define NBN (sizeof BN_SHAPES / sizeof BN_SHAPES[0])

Test(batchnorm, inference_matches_reference)
{
    tgen g = {21};
    for (size_t i = 0; i < NBN; i++) {
        int n = BN_SHAPES[i][0], c = BN_SHAPES[i][1], sp = BN_SHAPES[i][2];
        size_t len = (size_t)n * c * sp;
        float *x = tg_alloc(len), *y = tg_alloc(len), *r = tg_alloc(len);
        float *ga = tg_alloc(c), *be = tg_alloc(c), *mu = tg_alloc(c), *va = tg_alloc(c);
        tg_fill(&g, x, len, -3, 3);
        tg_fill(&g, ga, c, 0.5, 2);
        tg_fill(&g, be, c, -1, 1);
        tg_fill(&g, mu, c, -1, 1);
        tg_fill(&g, va, c, 0.1, 3);
        nnr_batchnorm_f32(n, c, sp, x, ga, be, mu, va, 1e-5f, y);
        nnr_ref_batchnorm_f32(n, c, sp, x, ga, be, mu, va, 1e-5f, r);
        check_close("batchnorm inference", y, r, len, 1e-5, 1e-5);
        free(x); free(y); free(r); free(ga); free(be); free(mu); free(va);
    }
}

Test(batchnorm, train_matches_reference)
{
    tgen g = {22};
    for (size_t i = 0; i < NBN; i++) {
        int n = BN_SHAPES[i][0], c = BN_SHAPES[i][1], sp = BN_SHAPES[i][2];
        size_t len = (size_t)n * c * sp;
        float *x = tg_alloc(len), *y = tg_alloc(len), *r = tg_alloc(len);
        float *ga = tg_alloc(c), *be = tg_alloc(c);
        float *rm = tg_alloc(c), *rv = tg_alloc(c), *rm2 = tg_alloc(c), *rv2 = tg_alloc(c);
        float *sm = tg_alloc(c), *si = tg_alloc(c), *sm2 = tg_alloc(c), *si2 = tg_alloc(c);
        tg_fill(&g, x, len, -3, 5);
        tg_fill(&g, ga, c, 0.5, 2);
        tg_fill(&g, be, c, -1, 1);
        tg_fill(&g, rm, c, -1, 1);
        tg_fill(&g, rv, c, 0.5, 2);
        memcpy(rm2, rm, (size_t)c * sizeof *rm);
        memcpy(rv2, rv, (size_t)c * sizeof *rv);
        nnr_batchnorm_train_f32(n, c, sp, x, ga, be, rm, rv, 1e-5f, 0.1f, sm, si, y);
        nnr_ref_batchnorm_train_f32(n, c, sp, x, ga, be, rm2, rv2, 1e-5f, 0.1f, sm2, si2, r);
        check_close("bn train y", y, r, len, 1e-5, 1e-5);
        check_close("bn train running_mean", rm, rm2, c, 1e-6, 1e-6);
        check_close("bn train running_var", rv, rv2, c, 1e-6, 1e-6);
        check_close("bn train save_mean", sm, sm2, c, 1e-6, 1e-6);
        check_close("bn train save_invstd", si, si2, c, 1e-6, 1e-6);
        free(x); free(y); free(r); free(ga); free(be); free(rm); free(rv); free(rm2);
        free(rv2); free(sm); free(si); free(sm2); free(si2);
    }
}

/* y = max(0, batchnorm(x)) in one pass: the reference's batchnorm, then relu
 * by hand (a NaN input passes, as relu's); statistics as without relu */
Test(batchnorm, train_relu_matches_reference)
{
    tgen g = {25};
    for (size_t i = 0; i < NBN; i++) {
        int n = BN_SHAPES[i][0], c = BN_SHAPES[i][1], sp = BN_SHAPES[i][2];
        size_t len = (size_t)n * c * sp;
        float *x = tg_alloc(len), *y = tg_alloc(len), *r = tg_alloc(len);
        float *ga = tg_alloc(c), *be = tg_alloc(c), *rm = tg_alloc(c), *rv = tg_alloc(c);
        float *rm2 = tg_alloc(c), *rv2 = tg_alloc(c), *sm = tg_alloc(c), *si = tg_alloc(c);
        float *sm2 = tg_alloc(c), *si2 = tg_alloc(c);
        tg_fill(&g, x, len, -3, 5);
        tg_fill(&g, ga, c, -1, 2);
        tg_fill(&g, be, c, -1, 1);
        tg_fill(&g, rm, c, -1, 1);
        tg_fill(&g, rv, c, 0.5, 2);
        memcpy(rm2, rm, (size_t)c * sizeof *rm);
        memcpy(rv2, rv, (size_t)c * sizeof *rv);
        nnr_batchnorm_train_relu_f32(n, c, sp, x, ga, be, rm, rv, 1e-5f, 0.1f, sm, si, y);
        nnr_ref_batchnorm_train_f32(n, c, sp, x, ga, be, rm2, rv2, 1e-5f, 0.1f, sm2, si2, r);
        size_t neg = 0;
        for (size_t j = 0; j < len; j++) {
            neg += r[j] < 0.0f;
            if (r[j] < 0.0f) r[j] = 0.0f;
        }
        cr_expect(len < 8 || (neg > 0 && neg < len), "the data cross zero");
        check_close("bn train relu y", y, r, len, 1e-5, 1e-5);
        check_close("bn train relu running_mean", rm, rm2, c, 1e-6, 1e-6);
        check_close("bn train relu running_var", rv, rv2, c, 1e-6, 1e-6);
        check_close("bn train relu save_mean", sm, sm2, c, 1e-6, 1e-6);
        check_close("bn train relu save_invstd", si, si2, c, 1e-6, 1e-6);
        free(x); free(y); free(r); free(ga); free(be); free(rm); free(rv); free(rm2);
        free(rv2); free(sm); free(si); free(sm2); free(si2);
    }
    float xn[4] = {1, NAN, 3, 4}, yn[4], gn = 1, bn = 0, mn, sn;
    nnr_batchnorm_train_relu_f32(4, 1, 1, xn, &gn, &bn, NULL, NULL, 1e-5f, 0.1f, &mn, &sn, yn);
    cr_expect(isnan(yn[1]), "a NaN passes the relu");
}

Test(batchnorm, train_hand_computed)
{
    /* one channel, x = 1 2 3 4: mean 2.5, biased var 1.25, unbiased 5/3 */
    float x[4] = {1, 2, 3, 4}, y[4], ga = 2, be = 1, rm = 0, rv = 1, sm, si;
    nnr_batchnorm_train_f32(4, 1, 1, x, &ga, &be, &rm, &rv, 1e-5f, 0.1f, &sm, &si, y);
    EXPECT_NEAR(sm, 2.5, 1e-7);
    EXPECT_NEAR(si, 1.0 / sqrt(1.25 + 1e-5), 1e-6);
    EXPECT_NEAR(rm, 0.25, 1e-7);
    EXPECT_NEAR(rv, 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
    EXPECT_NEAR(y[0], 1 + 2 * (-1.5) / sqrt(1.25 + 1e-5), 1e-5);
    EXPECT_NEAR(y[3], 1 + 2 * (1.5) / sqrt(1.25 + 1e-5), 1e-5);
    /* layout [n, c, spatial]: channel 1 of 2 samples x 2 channels x 2 positions */
    float x2[8] = {0, 0, 1, 3, 0, 0, 5, 7}, y2[8], g2[2] = {1, 1}, b2[2] = {0, 0};
    float m2[2] = {0, 0}, v2[2] = {1, 1}, s2[2], i2[2];
    nnr_batchnorm_train_f32(2, 2, 2, x2, g2, b2, m2, v2, 0, 1.0f, s2, i2, y2);
    EXPECT_NEAR(s2[0], 0, 0);
    EXPECT_NEAR(s2[1], 4, 1e-7);
    EXPECT_NEAR(v2[1], 20.0 / 3.0, 1e-5); /* ((9+1+1+9) / 3) */
}

Test(batchnorm, backward_matches_reference)
{
    tgen g = {23};
    for (size_t i = 0; i < NBN; i++) {
        int n = BN_SHAPES[i][0], c = BN_SHAPES[i][1], sp = BN_SHAPES[i][2];
        size_t len = (size_t)n * c * sp;
        float *x = tg_alloc(len), *y = tg_alloc(len), *dy = tg_alloc(len), *dx = tg_alloc(len),
              *rx = tg_alloc(len);
        float *ga = tg_alloc(c), *be = tg_alloc(c), *sm = tg_alloc(c), *si = tg_alloc(c);
        float *dg = tg_alloc(c), *db = tg_alloc(c), *rg = tg_alloc(c), *rb = tg_alloc(c);
        tg_fill(&g, x, len, -3, 5);
        tg_fill(&g, dy, len, -1, 1);
        tg_fill(&g, ga, c, 0.5, 2);
        tg_fill(&g, be, c, -1, 1);
        nnr_batchnorm_train_f32(n, c, sp, x, ga, be, NULL, NULL, 1e-5f, 0.1f, sm, si, y);
        nnr_batchnorm_backward_f32(n, c, sp, x, ga, sm, si, dy, dx, dg, db);
        nnr_ref_batchnorm_backward_f32(n, c, sp, x, ga, sm, si, dy, rx, rg, rb);
        check_close("bn dx", dx, rx, len, 1e-5, 1e-4);
        check_close("bn dgamma", dg, rg, c, 1e-5, 1e-5);
        check_close("bn dbeta", db, rb, c, 1e-5, 1e-5);
        free(x); free(y); free(dy); free(dx); free(rx); free(ga); free(be); free(sm);
        free(si); free(dg); free(db); free(rg); free(rb);
    }
}

typedef struct { int n, c, sp; float *x, *ga, *be, *y, *r, *sm, *si; } bn_ctx;
static double bn_f(void *p)
{
    bn_ctx *b = p;
    nnr_batchnorm_train_f32(b->n, b->c, b->sp, b->x, b->ga, b->be, NULL, NULL, 1e-5f, 0.1f,
                            b->sm, b->si, b->y);
    return proj(b->r, b->y, (size_t)b->n * b->c * b->sp);
}

Test(batchnorm, backward_finite_differences)
{
    tgen g = {24};
    static const int shapes[][3] = {{5, 2, 1}, {3, 2, 4}};
    for (int i = 0; i < 2; i++) {
        enum { MAXL = 64 };
        int n = shapes[i][0], c = shapes[i][1], sp = shapes[i][2];
        size_t len = (size_t)n * c * sp;
        float x[MAXL], y[MAXL], r[MAXL], dx[MAXL], ga[2], be[2], sm[2], si[2], dg[2], db[2];
        tg_fill(&g, x, len, -2, 2);
        tg_fill(&g, r, len, -1, 1);
        tg_fill(&g, ga, c, 0.5, 2);
        tg_fill(&g, be, c, -1, 1);
        bn_ctx b = {n, c, sp, x, ga, be, y, r, sm, si};
        bn_f(&b);
        nnr_batchnorm_backward_f32(n, c, sp, x, ga, sm, si, r, dx, dg, db);
        fd_check("bn dx", bn_f, &b, x, len, dx, 1e-3f, 2e-3, 1e-2);
        fd_check("bn dgamma", bn_f, &b, ga, c, dg, 1e-2f, 1e-3, 1e-2);
        fd_check("bn dbeta", bn_f, &b, be, c, db, 1e-2f, 1e-3, 1e-2);
    }
}

/* ------------------------------------------------------------------ losses */

static const nnr_loss ALL_LOSSES[] = {NNR_LOSS_MSE, NNR_LOSS_L1, NNR_LOSS_BCE,
                                      NNR_LOSS_BCE_WITH_LOGITS, NNR_LOSS_CROSS_ENTROPY,
                                      NNR_LOSS_NLL};

/* pred and target ranges each loss is defined on */
static void loss_data(tgen *g, nnr_loss l, int n, int k, float *pred, float *target,
                      int32_t *labels)
{
    size_t len = (size_t)n * k;
    switch (l) {
    case NNR_LOSS_BCE:
        tg_fill(g, pred, len, 0.05, 0.95);
        tg_fill(g, target, len, 0, 1);
        break;
    case NNR_LOSS_CROSS_ENTROPY:
        tg_fill(g, pred, len, -4, 4);
        tg_fill(g, target, len, 0, 1);
        break;
    default:
        tg_fill(g, pred, len, -3, 3);
        tg_fill(g, target, len, -3, 3);
        if (l == NNR_LOSS_BCE_WITH_LOGITS) tg_fill(g, target, len, 0, 1);
        break;
    }
    /* keep |pred - target| clear of the l1 kink */
    if (l == NNR_LOSS_L1)
        for (size_t i = 0; i < len; i++)
            if (fabsf(pred[i] - target[i]) < 0.05f) pred[i] = target[i] + 0.1f;
    for (int i = 0; i < n; i++) labels[i] = (int32_t)(tg_u01(g) * k);
}

Test(loss, matches_reference)
{
    static const int shapes[][2] = {{1, 1}, {7, 3}, {17, 10}, {100, 7}, {3, 63}};
    tgen g = {25};
    for (size_t s = 0; s < 5; s++)
        for (size_t li = 0; li < 6; li++)
            for (int use_labels = 0; use_labels < 2; use_labels++) {
                nnr_loss l = ALL_LOSSES[li];
                int labelled = l == NNR_LOSS_CROSS_ENTROPY || l == NNR_LOSS_NLL;
                if (use_labels && !labelled) continue;
                int n = shapes[s][0], k = shapes[s][1];
                size_t len = (size_t)n * k;
                float *p = tg_alloc(len), *t = tg_alloc(len), *d = tg_alloc(len),
                      *rd = tg_alloc(len);
                int32_t *lab = calloc((size_t)n, sizeof *lab);
                loss_data(&g, l, n, k, p, t, lab);
                const int32_t *L = use_labels ? lab : NULL;
                double v = nnr_loss_f32(l, n, k, p, L, t, d);
                double rv = nnr_ref_loss_f32(l, n, k, p, L, t, rd);
                char what[64];
                snprintf(what, sizeof what, "loss %d labels %d n %d k %d", (int)l, use_labels, n,
                         k);
                cr_expect(fabs(v - rv) <= 1e-6 + 1e-6 * fabs(rv), "%s: %.10g vs %.10g", what, v,
                          rv);
                check_close(what, d, rd, len, 1e-7, 1e-5);
                /* dpred NULL gives the same loss */
                double v2 = nnr_loss_f32(l, n, k, p, L, t, NULL);
                cr_expect(v2 == v, "%s without dpred", what);
                free(p); free(t); free(d); free(rd); free(lab);
            }
}

Test(loss, hand_computed)
{
    float p[4] = {1, 2, 3, 4}, t[4] = {0, 0, 3, 5}, d[4];
    /* mse: (1 + 4 + 0 + 1) / 4 */
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_MSE, 2, 2, p, NULL, t, d), 1.5, 1e-12);
    float dmse[4] = {0.5f, 1.0f, 0.0f, -0.5f};
    check_close("mse dpred", d, dmse, 4, 1e-7, 0);
    /* l1: (1 + 2 + 0 + 1) / 4, sign(0) = 0 */
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_L1, 2, 2, p, NULL, t, d), 1.0, 1e-12);
    float dl1[4] = {0.25f, 0.25f, 0.0f, -0.25f};
    check_close("l1 dpred", d, dl1, 4, 1e-7, 0);
    /* bce: p = 0.5 gives log 2 whatever the target; log clamped at -100 */
    float pb[2] = {0.5f, 0.0f}, tb[2] = {1.0f, 1.0f};
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_BCE, 1, 1, pb, NULL, tb, d), log(2.0), 1e-7);
    EXPECT_NEAR(d[0], -2.0, 1e-6);
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_BCE, 1, 2, pb, NULL, tb, d), (log(2.0) + 100) / 2, 1e-6);
    cr_expect(isfinite(d[1]), "bce dpred at p = 0 is finite: %g", (double)d[1]);
    /* bce_with_logits: x = 0 -> log 2; x = 2, t = 1 -> log(1 + e^-2) */
    float xl[2] = {0.0f, 2.0f}, tl[2] = {0.0f, 1.0f};
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_BCE_WITH_LOGITS, 1, 2, xl, NULL, tl, d),
                (log(2.0) + log1p(exp(-2.0))) / 2, 1e-7);
    EXPECT_NEAR(d[0], 0.25, 1e-7);
    EXPECT_NEAR(d[1], (1 / (1 + exp(-2.0)) - 1) / 2, 1e-7);
    /* large logits stay finite */
    float xb[2] = {200.0f, -200.0f}, tz[2] = {1.0f, 0.0f};
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_BCE_WITH_LOGITS, 2, 1, xb, NULL, tz, d), 0.0, 1e-12);
    /* cross_entropy: logits [0, 0] label 0 -> log 2; grad (0.5 - 1, 0.5) / n */
    float xc[4] = {0, 0, 1, 3};
    int32_t lab[2] = {0, 1};
    double ce = nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, 2, 2, xc, lab, NULL, d);
    EXPECT_NEAR(ce, (log(2.0) + log1p(exp(-2.0))) / 2, 1e-7);
    EXPECT_NEAR(d[0], -0.25, 1e-7);
    EXPECT_NEAR(d[1], 0.25, 1e-7);
    /* probability targets: one-hot equals labels */
    float oh[4] = {1, 0, 0, 1};
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, 2, 2, xc, NULL, oh, NULL), ce, 1e-9);
    /* nll: -x[label] mean over n */
    float xn[4] = {-0.5f, -2.0f, -3.0f, -0.25f};
    EXPECT_NEAR(nnr_loss_f32(NNR_LOSS_NLL, 2, 2, xn, lab, NULL, d), (0.5 + 0.25) / 2, 1e-9);
    float dn[4] = {-0.5f, 0, 0, -0.5f};
    check_close("nll dpred", d, dn, 4, 0, 0);
    /* a label out of range is an error: NaN */
    int32_t badlab[2] = {0, 2};
    cr_expect(isnan(nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, 2, 2, xc, badlab, NULL, d)));
}

typedef struct { nnr_loss l; int n, k; float *p, *t; int32_t *lab; } loss_ctx;
static double loss_f(void *c)
{
    loss_ctx *q = c;
    return nnr_loss_f32(q->l, q->n, q->k, q->p, q->lab, q->t, NULL);
}

Test(loss, dpred_finite_differences)
{
    tgen g = {26};
    enum { N = 4, K = 5 };
    for (size_t li = 0; li < 6; li++)
        for (int use_labels = 0; use_labels < 2; use_labels++) {
            nnr_loss l = ALL_LOSSES[li];
            if (use_labels && l != NNR_LOSS_CROSS_ENTROPY && l != NNR_LOSS_NLL) continue;
            float p[N * K], t[N * K], d[N * K];
            int32_t lab[N];
            loss_data(&g, l, N, K, p, t, lab);
            loss_ctx c = {l, N, K, p, t, use_labels ? lab : NULL};
            nnr_loss_f32(l, N, K, p, c.lab, t, d);
            char what[32];
            snprintf(what, sizeof what, "loss %d labels %d", (int)l, use_labels);
            fd_check(what, loss_f, &c, p, N * K, d, 1e-3f, 1e-5, 1e-3);
        }
}

/* ------------------------------------------------------------------ optimizers */

Test(optim, sgd_hand_computed)
{
    nnr_optim o = {NNR_OPT_SGD, 0.1, 0, 0, 0, 0, 0, 0, 0};
    float p = 1.0f, g = 0.5f, buf = 0;
    nnr_optim_step(&o, 1, &p, &g, NULL, NULL, 1);
    EXPECT_NEAR(p, 0.95, 1e-7);
    /* weight decay 0.1: g' = 0.5 + 0.1 * 0.95 = 0.595 */
    o.weight_decay = 0.1f;
    nnr_optim_step(&o, 1, &p, &g, NULL, NULL, 2);
    EXPECT_NEAR(p, 0.95 - 0.1 * 0.595, 1e-6);
    /* momentum 0.9, dampening 0.5: buf1 = g, buf2 = 0.9 g + 0.5 g */
    nnr_optim om = {NNR_OPT_SGD, 0.1, 0.9, 0.5, 0, 0, 0, 0, 0};
    p = 1.0f;
    nnr_optim_step(&om, 1, &p, &g, &buf, NULL, 1);
    EXPECT_NEAR(buf, 0.5, 1e-7);
    EXPECT_NEAR(p, 0.95, 1e-7);
    nnr_optim_step(&om, 1, &p, &g, &buf, NULL, 2);
    EXPECT_NEAR(buf, 0.45 + 0.25, 1e-6);
    EXPECT_NEAR(p, 0.95 - 0.07, 1e-6);
    /* nesterov: step uses g + momentum * buf */
    om.dampening = 0;
    om.nesterov = 1;
    p = 1.0f;
    buf = 0;
    nnr_optim_step(&om, 1, &p, &g, &buf, NULL, 1);
    EXPECT_NEAR(p, 1.0 - 0.1 * (0.5 + 0.9 * 0.5), 1e-6);
    nnr_optim_step(&om, 1, &p, &g, &buf, NULL, 2); /* buf = 0.95 */
    EXPECT_NEAR(buf, 0.95, 1e-6);
    EXPECT_NEAR(p, 0.905 - 0.1 * (0.5 + 0.9 * 0.95), 1e-6);
}

/* The result says whether every parameter written is finite: in the vector
 * loops and in the scalar tail, for every optimizer. */
Test(optim, reports_non_finite_parameters)
{
    enum { N = 37 };
    nnr_optim kinds[3] = {{NNR_OPT_SGD, 0.1, 0.9, 0, 0, 0, 0, 0, 0},
                          {NNR_OPT_ADAM, 0.01, 0, 0, 0, 0, 0.9, 0.999, 1e-8},
                          {NNR_OPT_ADAMW, 0.01, 0, 0, 0.1, 0, 0.9, 0.999, 1e-8}};
    for (int kk = 0; kk < 3; kk++)
        for (int bad = -1; bad < N; bad += 6) {
            float p[N], g[N], s1[N] = {0}, s2[N] = {0};
            for (int i = 0; i < N; i++) {
                p[i] = 1.0f;
                g[i] = 0.25f;
            }
            if (bad >= 0) g[bad] = bad % 2 ? NAN : INFINITY;
            /* two steps: the first and the momentum (vector) form of sgd */
            int ok1 = nnr_optim_step(&kinds[kk], N, p, g, s1, s2, 1);
            int ok2 = nnr_optim_step(&kinds[kk], N, p, g, s1, s2, 2);
            cr_expect_eq(ok1, bad < 0, "kind %d bad %d step 1", kk, bad);
            cr_expect_eq(ok2, bad < 0, "kind %d bad %d step 2", kk, bad);
        }
    /* finite gradients, a parameter that overflows */
    nnr_optim o = {NNR_OPT_SGD, 1.0, 0, 0, 0, 0, 0, 0, 0};
    float p[20], g[20];
    for (int i = 0; i < 20; i++) {
        p[i] = 0.0f;
        g[i] = 1.0f;
    }
    p[17] = -3e38f;
    g[17] = 3e38f;
    cr_expect_eq(nnr_optim_step(&o, 20, p, g, NULL, NULL, 1), 0);
    p[17] = 0.0f;
    cr_expect_eq(nnr_optim_step(&o, 20, p, g, NULL, NULL, 2), 1);
}

Test(optim, adam_hand_computed)
{
    nnr_optim o = {NNR_OPT_ADAM, 0.01, 0, 0, 0, 0, 0.9, 0.999, 1e-8};
    float p = 1.0f, g = 0.5f, m = 0, v = 0;
    /* first step: m̂ = g, v̂ = g², update lr * g / (|g| + eps) */
    nnr_optim_step(&o, 1, &p, &g, &m, &v, 1);
    EXPECT_NEAR(m, 0.05, 1e-8);
    EXPECT_NEAR(v, 0.00025, 1e-10);
    EXPECT_NEAR(p, 1.0 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-7);
    /* second step with g = -1: m = 0.045 - 0.1, v = 0.999 * 0.00025 + 0.001 */
    g = -1.0f;
    nnr_optim_step(&o, 1, &p, &g, &m, &v, 2);
    double m2 = 0.9 * 0.05 + 0.1 * -1.0, v2 = 0.999 * 0.00025 + 0.001;
    double mh = m2 / (1 - 0.81), vh = v2 / (1 - 0.999 * 0.999);
    EXPECT_NEAR(m, m2, 1e-7);
    EXPECT_NEAR(v, v2, 1e-9);
    EXPECT_NEAR(p, 1.0 - 0.01 * 0.5 / (0.5 + 1e-8) - 0.01 * mh / (sqrt(vh) + 1e-8), 1e-6);
    /* adam weight decay goes into the gradient; adamw decays the parameter */
    nnr_optim a = {NNR_OPT_ADAM, 0.01, 0, 0, 0.5, 0, 0.9, 0.999, 1e-8};
    nnr_optim aw = a;
    aw.kind = NNR_OPT_ADAMW;
    float pa = 2.0f, pw = 2.0f, ga = -0.25f, ma = 0, va = 0, mw = 0, vw = 0;
    nnr_optim_step(&a, 1, &pa, &ga, &ma, &va, 1);
    nnr_optim_step(&aw, 1, &pw, &ga, &mw, &vw, 1);
    /* adam: g' = -0.25 + 1 = 0.75 > 0, step -lr */
    EXPECT_NEAR(ma, 0.075, 1e-8);
    EXPECT_NEAR(pa, 2.0 - 0.01, 1e-6);
    /* adamw: p = 2 (1 - 0.005) then + lr (g < 0) */
    EXPECT_NEAR(mw, -0.025, 1e-8);
    EXPECT_NEAR(pw, 2.0 * 0.995 + 0.01, 1e-6);
}

Test(optim, matches_reference_over_steps)
{
    static const nnr_optim cfgs[] = {
        {NNR_OPT_SGD, 0.05f, 0, 0, 0, 0, 0, 0, 0},
        {NNR_OPT_SGD, 0.05f, 0.9f, 0, 1e-2f, 0, 0, 0, 0},
        {NNR_OPT_SGD, 0.05f, 0.9f, 0.1f, 0, 0, 0, 0, 0},
        {NNR_OPT_SGD, 0.05f, 0.8f, 0, 1e-3f, 1, 0, 0, 0},
        {NNR_OPT_ADAM, 1e-3f, 0, 0, 0, 0, 0.9f, 0.999f, 1e-8f},
        {NNR_OPT_ADAM, 1e-2f, 0, 0, 1e-2f, 0, 0.8f, 0.99f, 1e-6f},
        {NNR_OPT_ADAMW, 1e-3f, 0, 0, 1e-2f, 0, 0.9f, 0.999f, 1e-8f},
    };
    static const size_t lens[] = {1, 7, 100};
    tgen gen = {27};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++)
        for (size_t li = 0; li < 3; li++) {
            size_t n = lens[li];
            float *p = tg_alloc(n), *rp = tg_alloc(n), *g = tg_alloc(n);
            float *s1 = tg_alloc(n), *s2 = tg_alloc(n), *r1 = tg_alloc(n), *r2 = tg_alloc(n);
            tg_fill(&gen, p, n, -1, 1);
            memcpy(rp, p, n * sizeof *p);
            for (long step = 1; step <= 5; step++) {
                tg_fill(&gen, g, n, -1, 1);
                nnr_optim_step(&cfgs[c], n, p, g, s1, s2, step);
                nnr_ref_optim_step(&cfgs[c], n, rp, g, r1, r2, step);
            }
            char what[48];
            snprintf(what, sizeof what, "optim cfg %zu len %zu", c, n);
            check_close(what, p, rp, n, 1e-6, 1e-6);
            check_close(what, s1, r1, n, 1e-6, 1e-6);
            if (cfgs[c].kind != NNR_OPT_SGD) check_close(what, s2, r2, n, 1e-7, 1e-5);
            free(p); free(rp); free(g); free(s1); free(s2); free(r1); free(r2);
        }
}

/* Adam and AdamW run in vectors: the same bits as the scalar loop (each
 * element stepped alone, len 1), for both forms of the lerp (1 - beta1
 * below and above 0.5), with and without weight decay (Adam's into the
 * gradient, AdamW's decoupled), and a non-finite parameter in a vector is
 * still reported. */
Test(optim, adam_vector_bits_match_scalar)
{
    static const nnr_optim cfgs[] = {
        {NNR_OPT_ADAM, 1e-3, 0, 0, 0, 0, 0.9, 0.999, 1e-8},
        {NNR_OPT_ADAM, 3e-2, 0, 0, 0, 0, 0.3, 0.9, 1e-6},
        {NNR_OPT_ADAMW, 1e-3, 0, 0, 0, 0, 0.9, 0.999, 1e-8},
        {NNR_OPT_ADAM, 1e-2, 0, 0, 1e-2, 0, 0.8, 0.99, 1e-6},
        {NNR_OPT_ADAMW, 1e-2, 0, 0, 0.1, 0, 0.9, 0.999, 1e-8},
        {NNR_OPT_ADAMW, 3e-2, 0, 0, 0.3, 0, 0.3, 0.9, 1e-6},
    };
    enum { N = 53 };
    tgen gen = {91};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        float p[N], q[N], g[N], m1[N] = {0}, v1[N] = {0}, m2[N] = {0}, v2[N] = {0};
        tg_fill(&gen, p, N, -1, 1);
        memcpy(q, p, sizeof p);
        for (long step = 1; step <= 4; step++) {
            tg_fill(&gen, g, N, -2, 2);
            cr_expect_eq(nnr_optim_step(&cfgs[c], N, p, g, m1, v1, step), 1);
            for (int i = 0; i < N; i++)
                nnr_optim_step(&cfgs[c], 1, q + i, g + i, m2 + i, v2 + i, step);
        }
        cr_expect(memcmp(p, q, sizeof p) == 0, "cfg %zu: parameters differ from the scalar", c);
        cr_expect(memcmp(m1, m2, sizeof m1) == 0, "cfg %zu: exp_avg differs", c);
        cr_expect(memcmp(v1, v2, sizeof v1) == 0, "cfg %zu: exp_avg_sq differs", c);
        g[3] = NAN;
        cr_expect_eq(nnr_optim_step(&cfgs[c], N, p, g, m1, v1, 5), 0);
    }
}

/* ------------------------------------------------------------------ rng */

Test(rng, known_stream)
{
    nnr_rng r;
    nnr_rng_seed(&r, 0);
    /* splitmix64 from 0: its first output is the well-known 0xe220a8397b1dcdaf */
    cr_expect_eq(r.s[0], UINT64_C(0xe220a8397b1dcdaf));
    cr_expect_eq(r.s[3], UINT64_C(0xf88bb8a8724c81ec));
    cr_expect_eq(nnr_rng_next(&r), UINT64_C(0x99ec5f36cb75f2b4));
    cr_expect_eq(nnr_rng_next(&r), UINT64_C(0xbf6e1f784956452a));
    nnr_rng_seed(&r, 42);
    cr_expect_eq(nnr_rng_next(&r), UINT64_C(0x15780b2e0c2ec716));
    cr_expect_eq(nnr_rng_next(&r), UINT64_C(0x6104d9866d113a7e));
    cr_expect_eq(nnr_rng_next(&r), UINT64_C(0xae17533239e499a1));
}

Test(rng, matches_reference)
{
    static const uint64_t seeds[] = {0, 1, 42, UINT64_C(0xdeadbeefcafebabe)};
    for (size_t s = 0; s < 4; s++) {
        nnr_rng a, b;
        nnr_rng_seed(&a, seeds[s]);
        nnr_ref_rng_seed(&b, seeds[s]);
        for (int i = 0; i < 100; i++) cr_expect_eq(nnr_rng_next(&a), nnr_ref_rng_next(&b));
        for (int i = 0; i < 100; i++) {
            double u = nnr_rng_uniform(&a);
            cr_expect(u == nnr_ref_rng_uniform(&b) && u >= 0 && u < 1);
        }
        static const uint64_t bounds[] = {1, 2, 3, 7, 10, 1000, UINT64_C(0x8000000000000001)};
        for (int i = 0; i < 700; i++) {
            uint64_t n = bounds[i % 7];
            uint64_t v = nnr_rng_below(&a, n);
            cr_expect_eq(v, nnr_ref_rng_below(&b, n));
            cr_expect(v < n);
        }
        int32_t x[57], y[57];
        for (int i = 0; i < 57; i++) x[i] = y[i] = i;
        nnr_rng_shuffle(&a, x, 57);
        nnr_ref_rng_shuffle(&b, y, 57);
        int seen[57] = {0}, moved = 0;
        for (int i = 0; i < 57; i++) {
            cr_expect_eq(x[i], y[i]);
            cr_assert(x[i] >= 0 && x[i] < 57);
            seen[x[i]]++;
            moved += x[i] != i;
        }
        for (int i = 0; i < 57; i++) cr_expect_eq(seen[i], 1, "shuffle is a permutation");
        cr_expect(moved > 30, "shuffle moved only %d of 57", moved);
        float p[33], q[33];
        nnr_init_uniform(&a, p, 33, 0.125f);
        nnr_ref_init_uniform(&b, q, 33, 0.125f);
        check_close("init_uniform", p, q, 33, 0, 0);
        cr_expect_eq(nnr_rng_next(&a), nnr_ref_rng_next(&b), "streams still aligned");
    }
}

Test(rng, distributions)
{
    nnr_rng r;
    nnr_rng_seed(&r, 7);
    enum { N = 200000 };
    /* below(10): each bucket near N/10 (5 sigma ~ 670) */
    long cnt[10] = {0};
    for (int i = 0; i < N; i++) cnt[nnr_rng_below(&r, 10)]++;
    for (int i = 0; i < 10; i++)
        cr_expect(labs(cnt[i] - N / 10) < 700, "bucket %d: %ld", i, cnt[i]);
    /* init_uniform(b): inside [-b, b], mean ~ 0, variance ~ b^2 / 3 */
    static float w[N];
    nnr_init_uniform(&r, w, N, 0.5f);
    double s = 0, ss = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(w[i] >= -0.5f && w[i] <= 0.5f);
        s += w[i];
        ss += (double)w[i] * w[i];
    }
    EXPECT_NEAR(s / N, 0.0, 0.005);
    EXPECT_NEAR(ss / N, 0.25 / 3, 0.002);
    /* shuffle: first position uniform over 5 values */
    long first[5] = {0};
    for (int t = 0; t < 50000; t++) {
        int32_t v[5] = {0, 1, 2, 3, 4};
        nnr_rng_shuffle(&r, v, 5);
        first[v[0]]++;
    }
    for (int i = 0; i < 5; i++)
        cr_expect(labs(first[i] - 10000) < 500, "shuffle first = %d: %ld", i, first[i]);
}

/* ------------------------------------------------------------------ dropout */

Test(dropout, masks)
{
    enum { N = 100003 };
    static float x[N], y[N], m[N], ry[N], rm[N];
    tgen g = {28};
    tg_fill(&g, x, N, -2, 2);
    nnr_rng a, b;
    nnr_rng_seed(&a, 3);
    nnr_rng_seed(&b, 3);
    nnr_dropout_f32(&a, 0.0f, N, x, y, m);
    check_close("dropout p=0", y, x, N, 0, 0);
    nnr_dropout_f32(&a, 1.0f, N, x, y, m);
    size_t nz = 0;
    for (size_t i = 0; i < N; i++) nz += y[i] != 0.0f || m[i] != 0.0f;
    cr_expect_eq(nz, 0, "dropout p=1 keeps %zu", nz);
    cr_expect_eq(nnr_rng_next(&a), nnr_rng_next(&b), "p = 0 and p = 1 draw nothing");
    nnr_dropout_f32(&a, 0.3f, N, x, y, m);
    nnr_ref_dropout_f32(&b, 0.3f, N, x, ry, rm);
    check_close("dropout mask", m, rm, N, 0, 0);
    check_close("dropout y", y, ry, N, 0, 0);
    size_t zeros = 0, other = 0;
    const float scale = 1.0f / 0.7f;
    for (size_t i = 0; i < N; i++) {
        if (m[i] == 0.0f) zeros++;
        else if (m[i] != scale) other++;
        if (y[i] != x[i] * m[i]) other++;
    }
    cr_expect_eq(other, 0);
    EXPECT_NEAR((double)zeros / N, 0.3, 0.01);
    /* mask NULL is allowed and gives the same y */
    nnr_rng_seed(&a, 9);
    nnr_rng_seed(&b, 9);
    nnr_dropout_f32(&a, 0.5f, 1000, x, y, m);
    nnr_dropout_f32(&b, 0.5f, 1000, x, ry, NULL);
    check_close("dropout mask NULL", ry, y, 1000, 0, 0);
}
