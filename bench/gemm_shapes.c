/* gemm_shapes.c — the GEMMs a workload calls, one by one, as GFLOP/s and as
 * a fraction of the core's FMA peak: where a training step's time goes.
 *
 *   gemm_shapes PEAK_GFLOPS [SECONDS] < shapes.txt
 *
 * shapes.txt has one product a line, `COUNT TA TB M N K ACC PACKED` (the
 * count per step, then nnr_gemm_ex_f32's arguments; PACKED 1: B pre-packed,
 * nnr_linear_packed_f32), as `sort | uniq -c` makes it of the lines that a
 * program built with NNC_EXTRA_CFLAGS=-DNNR_GEMM_TRACE prints to stderr
 * (bench/gemm_shapes.sh does both). Leading dimensions are the tight ones.
 * Each product is timed alone (bench/timing.h; NNC_BENCH_CLOCK=cpu for
 * process CPU time) on random operands; the output, one line a shape:
 * `SHAPE count ta tb m n k acc packed us_per_call gflops frac_of_peak
 * ms_per_step ms_lost` (ms_lost = the step's time above the peak's), then
 * the totals. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "nnr.h"
#include "timing.h"

typedef struct shape {
    int count, ta, tb, m, n, k, acc, packed;
    float *a, *b, *c;
} shape;

static void run(void *p)
{
    const shape *s = p;
    if (s->packed) {
        nnr_linear_packed_f32(s->m, s->k, s->n, s->a, s->b, NULL, s->c, NNR_ACT_NONE, 0.0f);
        return;
    }
    nnr_gemm_f32(s->ta, s->tb, s->m, s->n, s->k, s->a, s->ta ? s->m : s->k, s->b,
                 s->tb ? s->k : s->n, s->c, s->n, s->acc);
}

static float *rnd(size_t len)
{
    float *p = malloc((len ? len : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "gemm_shapes: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < len; i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gemm_shapes PEAK_GFLOPS [SECONDS] < shapes.txt\n");
        return 2;
    }
    const double peak = atof(argv[1]), sec = argc > 2 ? atof(argv[2]) : 0.3;
    double tot_ms = 0, tot_flop = 0, tot_lost = 0;
    shape s;
    while (scanf("%d %d %d %d %d %d %d %d", &s.count, &s.ta, &s.tb, &s.m, &s.n, &s.k, &s.acc,
                 &s.packed) == 8) {
        s.a = rnd((size_t)s.m * s.k);
        s.c = rnd((size_t)s.m * s.n);
        if (s.packed) {
            float *w = rnd((size_t)s.n * s.k);
            s.b = malloc(nnr_linear_packed_size(s.k, s.n) * sizeof *s.b);
            if (!s.b) return 1;
            nnr_pack_linear_weight_f32(s.k, s.n, w, s.b);
            free(w);
        } else {
            s.b = rnd((size_t)s.k * s.n);
        }
        double t = bench_median(run, &s, sec, 5), flop = 2.0 * s.m * s.n * s.k;
        double gf = flop / t * 1e-9, ms = t * 1e3 * s.count, lost = ms - ms * gf / peak;
        printf("SHAPE %4d %d %d %5d %5d %5d %d %d %10.2f %7.1f %5.1f%% %8.3f %8.3f\n", s.count,
               s.ta, s.tb, s.m, s.n, s.k, s.acc, s.packed, t * 1e6, gf, 100 * gf / peak, ms,
               lost);
        tot_ms += ms;
        tot_flop += flop * s.count;
        tot_lost += lost;
        free(s.a);
        free(s.b);
        free(s.c);
    }
    printf("TOTAL %.3f ms per step, %.3f GFLOP, %.1f GFLOP/s, %.1f%% of peak %.1f, %.3f ms lost\n",
           tot_ms, tot_flop * 1e-9, tot_flop / tot_ms * 1e-6, 100 * tot_flop / tot_ms * 1e-6 / peak,
           peak, tot_lost);
    return 0;
}
