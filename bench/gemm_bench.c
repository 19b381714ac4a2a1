/* gemm_bench.c — W5: single-precision GEMM in GFLOP/s, one thread.
 *
 *   gemm_bench SECONDS ROUNDS [NAIVE_MAX_FLOP]
 *
 * For each case, ROUNDS rounds alternate nnr_gemm_f32 (the nnc runtime, from
 * runtime/kernels compiled like a built program's), OpenBLAS cblas_sgemm
 * (when built with -DHAVE_CBLAS) and a naive i-j-k triple loop (only when
 * 2mnk <= NAIVE_MAX_FLOP, default 2*512^3). Each round takes the median time
 * per call over SECONDS/ROUNDS; the reported value is the median over rounds.
 * Row-major throughout: C[m,n] = A[m,k] · B (B [k,n], or [n,k] read
 * transposed — the layout of a linear layer's weight).
 * Output lines: `GEMM <case> <impl> <gflops> [maxdiff=...]`.
 *
 * Then a breakdown for the kernel engineer: each runtime kernel that W1/W2,
 * W4 and a W3 training step call, alone, at the workloads' shapes (and
 * OpenBLAS on the GEMM of each linear layer):
 * `KERNEL <layer> <kernel> <us per call> <GFLOP/s>`, and the convolutions of W6. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"
#include "timing.h"

#ifdef HAVE_CBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

typedef struct gcase {
    const char *name;
    int m, n, k, trans_b;
} gcase;

typedef struct gctx {
    const gcase *g;
    const float *a, *b;
    float *c;
} gctx;

static void run_nnr(void *p)
{
    gctx *x = p;
    const gcase *g = x->g;
    nnr_gemm_f32(0, g->trans_b, g->m, g->n, g->k, x->a, g->k, x->b, g->trans_b ? g->k : g->n,
                 x->c, g->n, 0);
}

#ifdef HAVE_CBLAS
static void run_blas(void *p)
{
    gctx *x = p;
    const gcase *g = x->g;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans, g->m, g->n,
                g->k, 1.0f, x->a, g->k, x->b, g->trans_b ? g->k : g->n, 0.0f, x->c, g->n);
}
#endif

static void run_naive(void *p)
{
    gctx *x = p;
    const gcase *g = x->g;
    int m = g->m, n = g->n, k = g->k;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0;
            for (int l = 0; l < k; l++)
                acc += x->a[(size_t)i * k + l] *
                       (g->trans_b ? x->b[(size_t)j * k + l] : x->b[(size_t)l * n + j]);
            x->c[(size_t)i * n + j] = acc;
        }
}

static double maxdiff(const float *u, const float *v, size_t len)
{
    double md = 0;
    for (size_t i = 0; i < len; i++)
        md = fmax(md, fabs((double)u[i] - v[i]));
    return md;
}

static double med(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- single kernels of the workloads */
enum { KLIN, KLINB, KBLAS, KCONV, KPOOL, KCONVB };
typedef struct kctx {
    int kind, n, in, out;
    const nnr_conv2d_shape *c;
    const nnr_pool2d_shape *p;
    float **buf;        /* 6 buffers, large enough for every case */
} kctx;

static void run_kernel(void *v)
{
    kctx *k = v;
    float **b = k->buf;
    switch (k->kind) {
    case KLIN:   /* x b[0], w b[1], bias b[2], y b[3] */
        nnr_linear_f32(k->n, k->in, k->out, b[0], b[1], b[2], b[3], NNR_ACT_RELU, 0);
        break;
    case KLINB:  /* x b[0], w b[1], dy b[2], dx b[3], dw b[4], db b[5] */
        nnr_linear_backward_f32(k->n, k->in, k->out, b[0], b[1], b[2], b[3], b[4], b[5]);
        break;
#ifdef HAVE_CBLAS
    case KBLAS:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k->n, k->out, k->in, 1.0f, b[0],
                    k->in, b[1], k->in, 0.0f, b[3], k->out);
        break;
#endif
    case KCONV:  /* scratch b[4] */
        nnr_conv2d_f32(k->n, k->c, b[0], b[1], b[2], b[3], NNR_ACT_RELU, 0, b[4]);
        break;
    case KPOOL:
        nnr_maxpool2d_f32(k->n, k->p, b[0], b[3]);
        break;
    case KCONVB: /* x b[0], w b[1], dy b[2], dx b[3], scratch b[4], dw b[5], db b[2] tail */
        nnr_conv2d_backward_f32(k->n, k->c, b[0], b[1], b[2], b[3], b[5],
                                b[2] + (size_t)k->n * k->c->out_channels * k->c->out_h * k->c->out_w, b[4]);
        break;
    default:
        break;
    }
}

/* The convolutions of W6 (the course's CNN) alone: forward at batch 1 and
 * 32, backward (data and weight gradients) at batch 32, as a training step
 * calls them. KERNEL lines; backward GFLOP/s count both GEMMs (2x forward;
 * the first conv's data gradient is not asked for). */
static void w6_kernels(double ks)
{
    static const nnr_conv2d_shape cs[] = {
        {1, 28, 28, 128, 3, 3, 1, 1, 1, 1, 28, 28, 1, 1, 1},
        {128, 14, 14, 256, 3, 3, 1, 1, 1, 1, 14, 14, 1, 1, 1},
        {256, 7, 7, 512, 3, 3, 1, 1, 1, 1, 7, 7, 1, 1, 1},
    };
    static const char *names[] = {"W6.conv1x128x28x28", "W6.conv128x256x14x14",
                                  "W6.conv256x512x7x7"};
    nnr_rng r;
    nnr_rng_seed(&r, 11);
    for (int i = 0; i < 3; i++) {
        const nnr_conv2d_shape *c = &cs[i];
        const int n = 32;
        size_t lx = (size_t)n * c->in_channels * c->in_h * c->in_w;
        size_t lw = (size_t)c->out_channels * c->in_channels * 9;
        size_t ly = (size_t)n * c->out_channels * c->out_h * c->out_w;
        size_t len[6] = {lx, lw, ly + c->out_channels, lx > ly ? lx : ly, nnr_conv2d_scratch(c), lw};
        float *buf[6];
        for (int j = 0; j < 6; j++) {
            buf[j] = malloc(len[j] * sizeof(float));
            if (!buf[j]) {
                printf("SKIP W6 kernels: out of memory\n");
                exit(1);
            }
            for (size_t e = 0; e < len[j]; e++)
                buf[j][e] = (float)(nnr_rng_uniform(&r) - 0.5);
        }
        double fl = 2.0 * c->out_channels * c->out_h * c->out_w * c->in_channels * 9;
        char nm[64];
        for (int b = 1; b <= 32; b += 31) {
            kctx k = {KCONV, b, 0, 0, c, NULL, buf};
            double t = bench_median(run_kernel, &k, ks, 5);
            snprintf(nm, sizeof nm, "%s.b%d", names[i], b);
            printf("KERNEL %s nnr_conv2d_f32 %.3f %.2f\n", nm, t * 1e6, b * fl / t * 1e-9);
        }
        kctx k = {KCONVB, n, 0, 0, c, NULL, buf};
        /* the first conv: weight gradient only, as in training */
        float *dx = buf[3];
        if (i == 0)
            buf[3] = NULL;
        double t = bench_median(run_kernel, &k, ks, 5);
        buf[3] = dx;
        snprintf(nm, sizeof nm, "%s.b%d", names[i], n);
        printf("KERNEL %s nnr_conv2d_backward_f32 %.3f %.2f\n", nm, t * 1e6,
               (i == 0 ? 1 : 2) * n * fl / t * 1e-9);
        fflush(stdout);
        for (int j = 0; j < 6; j++)
            free(buf[j]);
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    double naive_max = argc > 3 ? atof(argv[3]) : 2.0 * 512 * 512 * 512;
    if (rounds < 1 || rounds > 64)
        rounds = 3;
#ifdef HAVE_CBLAS
    openblas_set_num_threads(1);
#else
    printf("SKIP openblas: gemm_bench built without cblas\n");
#endif
    static const gcase cases[] = {
        {"256", 256, 256, 256, 0},
        {"512", 512, 512, 512, 0},
        {"1024", 1024, 1024, 1024, 0},
        {"1x784x128", 1, 128, 784, 0},     /* 1×784 · 784×128 */
        {"1x784x128T", 1, 128, 784, 1},    /* 1×784 · (128×784)ᵀ: W1's first layer */
        {"64x784x128T", 64, 128, 784, 1},  /* W2's first layer */
        {"16x72x196", 16, 196, 72, 0},     /* W4's second conv as an im2col GEMM */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const gcase *g = &cases[ci];
        size_t la = (size_t)g->m * g->k, lb = (size_t)g->k * g->n, lc = (size_t)g->m * g->n;
        float *a = malloc(la * sizeof *a), *b = malloc(lb * sizeof *b);
        float *c = calloc(lc, sizeof *c), *ref = calloc(lc, sizeof *ref);
        nnr_rng r;
        nnr_rng_seed(&r, 42 + ci);
        for (size_t i = 0; i < la; i++)
            a[i] = (float)(2 * nnr_rng_uniform(&r) - 1);
        for (size_t i = 0; i < lb; i++)
            b[i] = (float)(2 * nnr_rng_uniform(&r) - 1);
        double flop = 2.0 * g->m * g->n * g->k;
        int do_naive = flop <= naive_max;
        gctx x = {g, a, b, ref};
        /* Reference: OpenBLAS if present, else naive; nnr is checked against it. */
#ifdef HAVE_CBLAS
        run_blas(&x);
#else
        run_naive(&x);
#endif
        x.c = c;
        run_nnr(&x);
        double md_nnr = maxdiff(c, ref, lc);
        double md_naive = -1;
        if (do_naive) {
            run_naive(&x);
            md_naive = maxdiff(c, ref, lc);
        }
        double t_nnr[64], t_blas[64], t_naive[64];
        double per = seconds / rounds;
        (void)t_blas;
        for (int rd = 0; rd < rounds; rd++) {
            t_nnr[rd] = bench_median(run_nnr, &x, per, 5);
#ifdef HAVE_CBLAS
            t_blas[rd] = bench_median(run_blas, &x, per, 5);
#endif
            if (do_naive)
                t_naive[rd] = bench_median(run_naive, &x, per, 3);
        }
        printf("GEMM %s nnc %.3f maxdiff=%.3g\n", g->name, flop / med(t_nnr, rounds) * 1e-9, md_nnr);
#ifdef HAVE_CBLAS
        printf("GEMM %s openblas %.3f\n", g->name, flop / med(t_blas, rounds) * 1e-9);
#endif
        if (do_naive)
            printf("GEMM %s naive %.3f maxdiff=%.3g\n", g->name,
                   flop / med(t_naive, rounds) * 1e-9, md_naive);
        else
            printf("SKIP GEMM %s naive: too slow (%.2g FLOP per call)\n", g->name, flop);
        fflush(stdout);
        free(a);
        free(b);
        free(c);
        free(ref);
    }

    /* ---- nnc kernel breakdown: the layers of W1/W2, W4 and a W3 step, each
     * kernel alone (median time per call, no rounds). KERNEL <name> <us> <gflops> */
    {
        double ks = seconds / 4 > 0.05 ? seconds / 4 : 0.05;
        nnr_rng r;
        nnr_rng_seed(&r, 7);
        size_t big = 64 * 784 + 16 * 28 * 28 * 9 + 128 * 784;
        float *buf[6];
        for (int i = 0; i < 6; i++) {
            buf[i] = malloc(big * sizeof(float));
            for (size_t j = 0; j < big; j++)
                buf[i][j] = (float)(nnr_rng_uniform(&r) - 0.5);
        }
        static const struct { const char *name; int n, in, out; } lin[] = {
            {"W1.linear784x128.b1", 1, 784, 128}, {"W1.linear128x64.b1", 1, 128, 64},
            {"W1.linear64x10.b1", 1, 64, 10},     {"W2.linear784x128.b64", 64, 784, 128},
            {"W2.linear128x64.b64", 64, 128, 64}, {"W2.linear64x10.b64", 64, 64, 10},
            {"W4.linear784x10.b1", 1, 784, 10},   {"W3.linear64x128.b32", 32, 64, 128},
            {"W3.linear128x64.b32", 32, 128, 64}, {"W3.linear64x10.b32", 32, 64, 10},
        };
        for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) {
            kctx k = {KLIN, lin[i].n, lin[i].in, lin[i].out, NULL, NULL, buf};
            double t = bench_median(run_kernel, &k, ks, 5);
            double fl = 2.0 * lin[i].n * lin[i].in * lin[i].out;
            printf("KERNEL %s nnr_linear_f32 %.3f %.2f\n", lin[i].name, t * 1e6, fl / t * 1e-9);
            if (!strncmp(lin[i].name, "W3", 2)) {
                k.kind = KLINB;
                t = bench_median(run_kernel, &k, ks, 5);
                printf("KERNEL %s nnr_linear_backward_f32 %.3f %.2f\n", lin[i].name, t * 1e6,
                       2 * fl / t * 1e-9);
            }
#ifdef HAVE_CBLAS
            k.kind = KBLAS;
            t = bench_median(run_kernel, &k, ks, 5);
            printf("KERNEL %s openblas_sgemm_nt %.3f %.2f\n", lin[i].name, t * 1e6, fl / t * 1e-9);
#endif
        }
        nnr_conv2d_shape c1 = {1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 28, 28, 1, 1, 1};
        nnr_conv2d_shape c2 = {8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 14, 14, 1, 1, 1};
        nnr_pool2d_shape p1 = {8, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14};
        nnr_pool2d_shape p2 = {16, 14, 14, 2, 2, 2, 2, 0, 0, 7, 7};
        struct { const char *name; const nnr_conv2d_shape *c; const nnr_pool2d_shape *p; } cv[] = {
            {"W4.conv1x8x28x28.b1", &c1, NULL}, {"W4.maxpool8x28x28.b1", NULL, &p1},
            {"W4.conv8x16x14x14.b1", &c2, NULL}, {"W4.maxpool16x14x14.b1", NULL, &p2},
        };
        for (size_t i = 0; i < sizeof cv / sizeof *cv; i++) {
            kctx k = {cv[i].c ? KCONV : KPOOL, 1, 0, 0, cv[i].c, cv[i].p, buf};
            double t = bench_median(run_kernel, &k, ks, 5);
            double fl = cv[i].c ? 2.0 * cv[i].c->out_channels * cv[i].c->out_h * cv[i].c->out_w *
                                      cv[i].c->in_channels * cv[i].c->kernel_h * cv[i].c->kernel_w
                                : 0;
            printf("KERNEL %s %s %.3f %.2f\n", cv[i].name,
                   cv[i].c ? "nnr_conv2d_f32" : "nnr_maxpool2d_f32", t * 1e6, fl / t * 1e-9);
        }
        for (int i = 0; i < 6; i++)
            free(buf[i]);
    }
    w6_kernels(seconds / 4 > 0.05 ? seconds / 4 : 0.05);
    return 0;
}
