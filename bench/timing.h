/* timing.h — the measuring loop shared by the C drivers of bench/.
 *
 * Same method as `PROG bench` (runtime/prog.c): warm up for a tenth of the
 * time (at least 3 calls); one sample times `reps` back-to-back calls, with
 * reps chosen so that a sample lasts at least BENCH_MIN_SAMPLE_S; the result
 * is the median of (sample time / reps) over all samples taken in `seconds`
 * (at least 5 samples). Header-only; C11 + POSIX clock_gettime. */
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

#define BENCH_MIN_SAMPLE_S 20e-6

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The clock of one sample: wall time, or the process's CPU time when
 * NNC_BENCH_CLOCK=cpu (bench/run.sh's BENCH_CLOCK; a shared machine's time
 * slicing is left out). The run length stays wall time. */
static inline double bench_sample_clock(void)
{
    static int cpu = -1;
    if (cpu < 0) {
        const char *c = getenv("NNC_BENCH_CLOCK");
        cpu = c && c[0] == 'c' && c[1] == 'p' && c[2] == 'u' && !c[3];
    }
    if (!cpu)
        return bench_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per call of fn(ctx). max_samples bounds the work of very
 * slow calls (e.g. a naive 1024^3 GEMM): it stops after that many samples
 * once at least min_samples were taken, even before `seconds` ran out. */
static inline double bench_median(void (*fn)(void *), void *ctx, double seconds, long min_samples)
{
    if (min_samples < 1)
        min_samples = 1;
    double start = bench_now(), warm = seconds * 0.1;
    long calls = 0;
    while (calls < 3 || bench_now() - start < warm) {
        fn(ctx);
        calls++;
        if (calls >= 3 && bench_now() - start > seconds)
            break;                       /* very slow calls: warm-up is enough */
    }
    double per_call = (bench_now() - start) / (double)calls;
    long reps = 1;
    if (per_call < BENCH_MIN_SAMPLE_S)
        reps = (long)(BENCH_MIN_SAMPLE_S / (per_call > 1e-9 ? per_call : 1e-9)) + 1;
    size_t cap = 1024, n = 0;
    double *t = malloc(cap * sizeof *t);
    if (!t)
        return -1;
    double t_end = bench_now() + seconds;
    for (;;) {
        double c0 = bench_sample_clock();
        for (long r = 0; r < reps; r++)
            fn(ctx);
        double t1 = bench_now(), c1 = bench_sample_clock();
        if (n == cap) {
            double *nt = realloc(t, 2 * cap * sizeof *t);
            if (!nt)
                break;
            t = nt;
            cap *= 2;
        }
        t[n++] = (c1 - c0) / (double)reps;
        if ((t1 >= t_end && (long)n >= min_samples) || n >= 1000000)
            break;
    }
    qsort(t, n, sizeof *t, bench_cmp_double);
    double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return med;
}

/* Read a whole little-endian f32 file; *n receives the float count. */
#include <stdio.h>
static inline float *bench_read_f32(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        *n = (size_t)len / sizeof(float);
    return p;
}

#endif
