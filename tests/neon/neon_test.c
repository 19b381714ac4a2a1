/* neon_test.c — the runtime kernels against their naive references
 * (runtime/ref) at awkward sizes, and the vector transcendentals of simd.h
 * against double libm, with no test framework: it is cross-compiled for
 * AArch64 (where simd.h picks NEON) and run under qemu-user by run.sh,
 * since Criterion is not available for the cross target. Prints one line
 * per check and exits 1 if any failed. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"
#include "ref/ref.h"
#include "simd.h"

static int failures;

static uint64_t seed = 1;
static double u01(void)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(seed >> 11) * 0x1.0p-53;
}
static float *alloc_fill(size_t n, double lo, double hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * u01());
    return p;
}

/* |got - want| <= atol + rtol |want| everywhere (NaN fails, equal infinities pass). */
static void check(const char *what, const float *got, const float *want, size_t n, double atol,
                  double rtol)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (!(fabs(g - w) <= atol + rtol * fabs(w)) && !(isinf(g) && g == w)) {
            if (!bad) first = i;
            bad++;
        }
    }
    if (bad) {
        failures++;
        printf("FAIL %s: %zu of %zu differ, first at %zu: got %.9g want %.9g\n", what, bad, n,
               first, (double)got[first], (double)want[first]);
    }
}

static const nnr_act ACTS[] = {NNR_ACT_NONE, NNR_ACT_RELU, NNR_ACT_LEAKY_RELU,
                               NNR_ACT_SIGMOID, NNR_ACT_TANH, NNR_ACT_GELU};
#define NACTS 6
static const size_t SIZES[] = {1, 3, 4, 5, 7, 16, 17, 31, 63, 100, 1000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

static void test_act(void)
{
    char what[96];
    for (int a = 0; a < NACTS; a++)
        for (size_t s = 0; s < NSIZES; s++) {
            size_t n = SIZES[s];
            float *x = alloc_fill(n, -8, 8), *dy = alloc_fill(n, -1, 1), *y = alloc_fill(n, 0, 0),
                  *r = alloc_fill(n, 0, 0), *dx = alloc_fill(n, 0, 0), *dr = alloc_fill(n, 0, 0);
            nnr_act_f32(ACTS[a], 0.07f, n, x, y);
            nnr_ref_act_f32(ACTS[a], 0.07f, n, x, r);
            snprintf(what, sizeof what, "act %d len %zu", (int)ACTS[a], n);
            check(what, y, r, n, 1e-6, 1e-6);
            nnr_act_backward_f32(ACTS[a], 0.07f, n, x, y, dy, dx);
            nnr_ref_act_backward_f32(ACTS[a], 0.07f, n, x, y, dy, dr);
            snprintf(what, sizeof what, "act backward %d len %zu", (int)ACTS[a], n);
            check(what, dx, dr, n, 1e-6, 1e-5);
            free(x); free(dy); free(y); free(r); free(dx); free(dr);
        }
    printf("ok   act forward/backward\n");
}

static void test_gemm(void)
{
    static const int sh[][3] = {{1, 1, 1}, {1, 17, 33}, {3, 5, 7}, {4, 9, 2}, {6, 8, 16},
                                {7, 31, 63}, {13, 33, 100}, {64, 64, 64}, {70, 3, 600},
                                {2, 1000, 37}};
    char what[96];
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int m = sh[s][0], n = sh[s][1], k = sh[s][2];
                    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                    size_t as = (size_t)(ta ? k : m) * lda, bs = (size_t)(tb ? n : k) * ldb,
                           cs = (size_t)m * ldc;
                    float *a = alloc_fill(as, -1, 1), *b = alloc_fill(bs, -1, 1),
                          *c = alloc_fill(cs, -1, 1), *r = alloc_fill(cs, 0, 0);
                    memcpy(r, c, cs * sizeof *r);
                    nnr_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc);
                    nnr_ref_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, r, ldc, acc);
                    snprintf(what, sizeof what, "gemm %dx%dx%d ta %d tb %d acc %d", m, n, k, ta,
                             tb, acc);
                    check(what, c, r, cs, 1e-5 + 2e-7 * k, 1e-5);
                    free(a); free(b); free(c); free(r);
                }
    printf("ok   gemm (all transposes, accumulate)\n");
}

static void test_linear(void)
{
    static const int sh[][3] = {{1, 1, 1}, {1, 17, 10}, {1, 784, 128}, {1, 128, 64},
                                {1, 64, 10}, {2, 63, 7}, {3, 100, 17}, {7, 130, 33},
                                {33, 37, 21}};
    char what[96];
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (int a = 0; a < NACTS; a++) {
            int n = sh[s][0], in = sh[s][1], out = sh[s][2];
            size_t xs = (size_t)n * in, ws = (size_t)out * in, ys = (size_t)n * out;
            float *x = alloc_fill(xs, -1, 1), *w = alloc_fill(ws, -0.5, 0.5),
                  *b = alloc_fill(out, -1, 1), *y = alloc_fill(ys, 0, 0),
                  *r = alloc_fill(ys, 0, 0), *dy = alloc_fill(ys, -1, 1),
                  *dx = alloc_fill(xs, 0, 0), *dw = alloc_fill(ws, 0, 0),
                  *db = alloc_fill(out, 0, 0), *rx = alloc_fill(xs, 0, 0),
                  *rw = alloc_fill(ws, 0, 0), *rb = alloc_fill(out, 0, 0);
            const float *bias = (a % 2) ? b : NULL;
            nnr_linear_f32(n, in, out, x, w, bias, y, ACTS[a], 0.01f);
            nnr_ref_linear_f32(n, in, out, x, w, bias, r, ACTS[a], 0.01f);
            snprintf(what, sizeof what, "linear %dx%d->%d act %d", n, in, out, (int)ACTS[a]);
            check(what, y, r, ys, 1e-5 + 1e-7 * in, 1e-5);
            if (a == 0) {
                nnr_linear_backward_f32(n, in, out, x, w, dy, dx, dw, db);
                nnr_ref_linear_backward_f32(n, in, out, x, w, dy, rx, rw, rb);
                snprintf(what, sizeof what, "linear backward %dx%d->%d", n, in, out);
                check(what, dx, rx, xs, 1e-5 + 1e-7 * out, 1e-5);
                check(what, dw, rw, ws, 1e-5 + 1e-7 * n, 1e-5);
                check(what, db, rb, out, 1e-5 + 1e-7 * n, 1e-5);
            }
            free(x); free(w); free(b); free(y); free(r); free(dy); free(dx); free(dw);
            free(db); free(rx); free(rw); free(rb);
        }
    printf("ok   linear forward/backward\n");
}

/* bf16 weights (nnc --dtype bf16): the NEON widening against the reference */
static void test_linear_bf16(void)
{
    static const int sh[][3] = {{1, 1, 1}, {1, 784, 128}, {1, 64, 10}, {2, 63, 7},
                                {3, 100, 33}, {7, 130, 33}, {33, 37, 70}};
    char what[96];
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (int a = 0; a < NACTS; a++) {
            int n = sh[s][0], in = sh[s][1], out = sh[s][2];
            size_t xs = (size_t)n * in, ws = (size_t)out * in, ys = (size_t)n * out;
            float *x = alloc_fill(xs, -1, 1), *w = alloc_fill(ws, -0.5, 0.5),
                  *b = alloc_fill(out, -1, 1), *y = alloc_fill(ys, 0, 0),
                  *r = alloc_fill(ys, 0, 0), *wp = alloc_fill(nnr_linear_packed_bf16_size(in, out), 0, 0);
            const float *bias = (a % 2) ? b : NULL;
            nnr_pack_linear_weight_bf16(in, out, w, wp);
            nnr_linear_packed_bf16(n, in, out, x, wp, bias, y, ACTS[a], 0.01f);
            nnr_ref_linear_bf16(n, in, out, x, w, bias, r, ACTS[a], 0.01f);
            snprintf(what, sizeof what, "linear bf16 %dx%d->%d act %d", n, in, out, (int)ACTS[a]);
            check(what, y, r, ys, 1e-5 + 1e-7 * in, 1e-5);
            free(x); free(w); free(b); free(y); free(r); free(wp);
        }
    printf("ok   linear bf16\n");
}

/* packed fp32 weights: batches below NNR_LINEAR_PACKED_MIN_BATCH run their
 * own path (one panel at a time with NEON), larger ones the GEMM */
static void test_linear_packed(void)
{
    static const int sh[][3] = {{1, 1, 1}, {1, 784, 128}, {1, 64, 10}, {2, 63, 7},
                                {3, 300, 97}, {1, 129, 160}, {7, 130, 33}};
    char what[96];
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (int a = 0; a < NACTS; a++) {
            int n = sh[s][0], in = sh[s][1], out = sh[s][2];
            size_t xs = (size_t)n * in, ws = (size_t)out * in, ys = (size_t)n * out;
            float *x = alloc_fill(xs, -1, 1), *w = alloc_fill(ws, -0.5, 0.5),
                  *b = alloc_fill(out, -1, 1), *y = alloc_fill(ys, 0, 0),
                  *r = alloc_fill(ys, 0, 0), *wp = alloc_fill(nnr_linear_packed_size(in, out), 0, 0);
            const float *bias = (a % 2) ? b : NULL;
            nnr_pack_linear_weight_f32(in, out, w, wp);
            nnr_linear_packed_f32(n, in, out, x, wp, bias, y, ACTS[a], 0.01f);
            nnr_ref_linear_f32(n, in, out, x, w, bias, r, ACTS[a], 0.01f);
            snprintf(what, sizeof what, "linear packed %dx%d->%d act %d", n, in, out, (int)ACTS[a]);
            check(what, y, r, ys, 1e-5 + 1e-7 * in, 1e-5);
            free(x); free(w); free(b); free(y); free(r); free(wp);
        }
    printf("ok   linear packed\n");
}

static nnr_conv2d_shape conv_shape(int c, int h, int w, int oc, int kh, int kw, int sh, int sw,
                                   int ph, int pw)
{
    nnr_conv2d_shape s = {c, h, w, oc, kh, kw, sh, sw, ph, pw,
                          (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1, 1, 1, 1};
    return s;
}

static void test_conv(void)
{
    static const int sh[][10] = {{1, 28, 28, 8, 3, 3, 1, 1, 1, 1}, {8, 14, 14, 16, 3, 3, 1, 1, 1, 1},
                                 {3, 7, 9, 5, 3, 2, 2, 1, 1, 0}, {4, 5, 5, 7, 1, 1, 1, 1, 0, 0},
                                 {2, 11, 6, 3, 5, 5, 2, 2, 2, 2}, {6, 12, 12, 33, 3, 3, 1, 1, 1, 1}};
    char what[96];
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
        for (int n = 1; n <= 3; n += 2) {
            nnr_conv2d_shape s = conv_shape(sh[i][0], sh[i][1], sh[i][2], sh[i][3], sh[i][4],
                                            sh[i][5], sh[i][6], sh[i][7], sh[i][8], sh[i][9]);
            nnr_act act = ACTS[(i + (size_t)n) % NACTS];
            int k = s.in_channels * s.kernel_h * s.kernel_w;
            size_t xs = (size_t)n * s.in_channels * s.in_h * s.in_w, ws = (size_t)s.out_channels * k,
                   ys = (size_t)n * s.out_channels * s.out_h * s.out_w;
            float *x = alloc_fill(xs, -1, 1), *w = alloc_fill(ws, -1, 1),
                  *b = alloc_fill(s.out_channels, -1, 1), *y = alloc_fill(ys, 0, 0),
                  *r = alloc_fill(ys, 0, 0), *scr = alloc_fill(nnr_conv2d_scratch(&s), 0, 0),
                  *dy = alloc_fill(ys, -1, 1), *dx = alloc_fill(xs, 0, 0),
                  *dw = alloc_fill(ws, 0, 0), *db = alloc_fill(s.out_channels, 0, 0),
                  *rx = alloc_fill(xs, 0, 0), *rw = alloc_fill(ws, 0, 0),
                  *rb = alloc_fill(s.out_channels, 0, 0);
            nnr_conv2d_f32(n, &s, x, w, b, y, act, 0.1f, scr);
            nnr_ref_conv2d_f32(n, &s, x, w, b, r, act, 0.1f, NULL);
            snprintf(what, sizeof what, "conv2d shape %zu n %d", i, n);
            check(what, y, r, ys, 1e-5 + 1e-7 * k, 1e-5);
            nnr_conv2d_backward_f32(n, &s, x, w, dy, dx, dw, db, scr);
            nnr_ref_conv2d_backward_f32(n, &s, x, w, dy, rx, rw, rb, NULL);
            snprintf(what, sizeof what, "conv2d backward shape %zu n %d", i, n);
            check(what, dx, rx, xs, 1e-5 + 1e-7 * s.out_channels * s.kernel_h * s.kernel_w, 1e-5);
            check(what, dw, rw, ws, 1e-4 + 1e-7 * n * s.out_h * s.out_w, 1e-5);
            check(what, db, rb, s.out_channels, 1e-4 + 1e-7 * n * s.out_h * s.out_w, 1e-5);
            free(x); free(w); free(b); free(y); free(r); free(scr); free(dy); free(dx);
            free(dw); free(db); free(rx); free(rw); free(rb);
        }
    printf("ok   conv2d forward/backward\n");
}

static void test_pool(void)
{
    static const int sh[][9] = {{3, 8, 8, 2, 2, 2, 2, 0, 0}, {2, 7, 9, 3, 3, 2, 2, 1, 1},
                                {17, 3, 3, 3, 3, 3, 3, 0, 0}, {2, 9, 9, 5, 5, 3, 3, 2, 2}};
    char what[64];
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        nnr_pool2d_shape s = {sh[i][0], sh[i][1], sh[i][2], sh[i][3], sh[i][4], sh[i][5],
                              sh[i][6], sh[i][7], sh[i][8], 0, 0};
        s.out_h = (s.in_h + 2 * s.padding_h - s.kernel_h) / s.stride_h + 1;
        s.out_w = (s.in_w + 2 * s.padding_w - s.kernel_w) / s.stride_w + 1;
        int n = 2;
        size_t xs = (size_t)n * s.channels * s.in_h * s.in_w, ys = (size_t)n * s.channels * s.out_h * s.out_w;
        float *x = alloc_fill(xs, -1, 1), *dy = alloc_fill(ys, -1, 1), *y = alloc_fill(ys, 0, 0),
              *r = alloc_fill(ys, 0, 0), *dx = alloc_fill(xs, 0, 0), *rx = alloc_fill(xs, 0, 0);
        nnr_maxpool2d_f32(n, &s, x, y);
        nnr_ref_maxpool2d_f32(n, &s, x, r);
        snprintf(what, sizeof what, "maxpool %zu", i);
        check(what, y, r, ys, 0, 0);
        nnr_maxpool2d_backward_f32(n, &s, x, dy, dx);
        nnr_ref_maxpool2d_backward_f32(n, &s, x, dy, rx);
        check(what, dx, rx, xs, 1e-6, 1e-6);
        nnr_avgpool2d_f32(n, &s, x, y);
        nnr_ref_avgpool2d_f32(n, &s, x, r);
        snprintf(what, sizeof what, "avgpool %zu", i);
        check(what, y, r, ys, 1e-6, 1e-5);
        nnr_avgpool2d_backward_f32(n, &s, dy, dx);
        nnr_ref_avgpool2d_backward_f32(n, &s, dy, rx);
        check(what, dx, rx, xs, 1e-6, 1e-5);
        free(x); free(dy); free(y); free(r); free(dx); free(rx);
    }
    printf("ok   max/avg pool forward/backward\n");
}

static void test_softmax(void)
{
    static const size_t sh[][3] = {{1, 1, 1}, {3, 10, 1}, {2, 17, 1}, {5, 1000, 1},
                                   {2, 7, 5}, {3, 4, 70}, {1, 33, 129}};
    char what[64];
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
        for (int lg = 0; lg < 2; lg++) {
            size_t o = sh[i][0], in = sh[i][2], n = o * sh[i][1] * in;
            int d = (int)sh[i][1];
            float *x = alloc_fill(n, -10, 10), *dy = alloc_fill(n, -1, 1),
                  *y = alloc_fill(n, 0, 0), *r = alloc_fill(n, 0, 0), *dx = alloc_fill(n, 0, 0),
                  *rx = alloc_fill(n, 0, 0);
            (lg ? nnr_log_softmax_f32 : nnr_softmax_f32)(o, d, in, x, y);
            (lg ? nnr_ref_log_softmax_f32 : nnr_ref_softmax_f32)(o, d, in, x, r);
            snprintf(what, sizeof what, "%ssoftmax %zu", lg ? "log_" : "", i);
            check(what, y, r, n, 1e-6, 1e-5);
            (lg ? nnr_log_softmax_backward_f32 : nnr_softmax_backward_f32)(o, d, in, r, dy, dx);
            (lg ? nnr_ref_log_softmax_backward_f32 : nnr_ref_softmax_backward_f32)(o, d, in, r,
                                                                                  dy, rx);
            check(what, dx, rx, n, 1e-6, 1e-5);
            free(x); free(dy); free(y); free(r); free(dx); free(rx);
        }
    printf("ok   softmax/log_softmax forward/backward\n");
}

static void test_batchnorm(void)
{
    static const int sh[][3] = {{1, 1, 1}, {4, 3, 7}, {5, 17, 1}, {3, 2, 33}};
    char what[64];
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        int n = sh[i][0], c = sh[i][1], sp = sh[i][2];
        size_t len = (size_t)n * c * sp;
        float *x = alloc_fill(len, -2, 2), *g = alloc_fill(c, 0.5, 1.5), *b = alloc_fill(c, -1, 1),
              *m = alloc_fill(c, -0.5, 0.5), *v = alloc_fill(c, 0.5, 2), *y = alloc_fill(len, 0, 0),
              *r = alloc_fill(len, 0, 0);
        nnr_batchnorm_f32(n, c, sp, x, g, b, m, v, 1e-5f, y);
        nnr_ref_batchnorm_f32(n, c, sp, x, g, b, m, v, 1e-5f, r);
        snprintf(what, sizeof what, "batchnorm %zu", i);
        check(what, y, r, len, 1e-5, 1e-5);
        free(x); free(g); free(b); free(m); free(v); free(y); free(r);
    }
    printf("ok   batchnorm inference\n");
}

/* The vector transcendentals against double libm, as test_vmath.c does on x86. */
typedef NNR_VEC (*vfn)(NNR_VEC);
static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static void sweep(const char *name, vfn f, double (*ref)(double), int gelu, float lim,
                  double bound)
{
    uint32_t top;
    memcpy(&top, &lim, sizeof top);
    double worst = 0.0;
    float at = 0.0f;
    for (int neg = 0; neg < 2; neg++)
        for (uint64_t bits = 0; bits <= top; bits += 4099 * NNR_VEC_WIDTH) {
            float in[NNR_VEC_WIDTH], out[NNR_VEC_WIDTH];
            for (int l = 0; l < NNR_VEC_WIDTH; l++) {
                uint32_t u = (uint32_t)(bits + (uint64_t)l * 4099);
                if (u > top) u = top;
                u |= neg ? 0x80000000u : 0u;
                memcpy(&in[l], &u, sizeof u);
            }
            NNR_VEC_STORE(out, f(NNR_VEC_LOAD(in)));
            for (int l = 0; l < NNR_VEC_WIDTH; l++) {
                double w = ref(in[l]);
                float wf = (float)w;
                double e;
                if (isinf(wf)) {
                    e = out[l] == wf ? 0.0 : INFINITY;
                } else {
                    e = fabs((double)out[l] - w);
                    if (gelu) e = fmax(0.0, e - ldexp(fabs((double)in[l]), -24));
                    e /= fmax(fabs(w), FLT_MIN);
                }
                if (!(e <= worst)) {
                    worst = e;
                    at = in[l];
                }
            }
        }
    int ok = worst <= bound;
    if (!ok) failures++;
    printf("%s %s (%s): max rel err %.3g = %.2f x 2^-24 at x = %.9g (bound %.3g)\n",
           ok ? "ok  " : "FAIL", name, NNR_SIMD_NAME, worst, worst / 0x1p-24, (double)at, bound);
}

int main(void)
{
    printf("simd: %s (%d floats)\n", NNR_SIMD_NAME, NNR_VEC_WIDTH);
    sweep("exp", nnr_vexp, exp, 0, 104.0f, NNR_VMATH_EXP_ERR);
    sweep("tanh", nnr_vtanh, tanh, 0, 20.0f, NNR_VMATH_TANH_ERR);
    sweep("sigmoid", nnr_vsigmoid, sigmoid_d, 0, 100.0f, NNR_VMATH_SIGMOID_ERR);
    sweep("erf", nnr_verf, erf, 0, 20.0f, NNR_VMATH_ERF_ERR);
    sweep("gelu", nnr_vgelu, gelu_d, 1, 20.0f, NNR_VMATH_GELU_ERR);
    test_act();
    test_gemm();
    test_linear();
    test_linear_bf16();
    test_linear_packed();
    test_conv();
    test_pool();
    test_softmax();
    test_batchnorm();
    if (failures) {
        printf("%d check(s) FAILED\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
