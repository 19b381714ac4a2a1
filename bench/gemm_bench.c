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
 * Output lines: `GEMM <case> <impl> <gflops> [maxdiff=...]`. */
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
    return 0;
}
