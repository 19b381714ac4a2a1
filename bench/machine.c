/* machine.c — what this machine can do, measured by bench/run.sh each run.
 *
 * Prints, one `KEY value...` line each:
 *   MACHINE vendor|family|model|stepping|name|caches ...   (cpuid, sysconf)
 *   PEAK avx512|avx2|best <GFLOP/s>   fp32 FMA peak of one core: 12
 *        independent FMA chains per variant, best of many short trials
 *   BW l1|l2|dram <GB/s> <bytes>       streaming reads of 16 KiB / half the
 *        L2 (at most 512 KiB) / 256 MiB buffers, best of many trials
 * Everything runs on the calling thread (one core). x86-64 with GCC or Clang
 * (cpuid.h, target attributes); elsewhere only the scalar fallback runs.
 * Usage: machine [SECONDS_PER_MEASUREMENT [peak]]   (default 0.3; `peak`:
 * the PEAK lines alone, for re-measuring between rounds) */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MACH_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float g_sink;

/* ------------------------------------------------------------ identity */
static void print_identity(void)
{
#ifdef MACH_X86
    unsigned a, b, c, d;
    char vendor[13] = {0};
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(vendor, &b, 4);
        memcpy(vendor + 4, &d, 4);
        memcpy(vendor + 8, &c, 4);
    }
    printf("MACHINE vendor %s\n", vendor);
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        unsigned fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf, step = a & 0xf;
        if (fam == 0xf)
            fam += (a >> 20) & 0xff;
        if (fam == 0x6 || fam >= 0xf)
            model += ((a >> 16) & 0xf) << 4;
        printf("MACHINE family %u\nMACHINE model %u\nMACHINE stepping %u\n", fam, model, step);
    }
    char name[49] = {0};
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++) {
            __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
            memcpy(name + 16 * i, &a, 4);
            memcpy(name + 16 * i + 4, &b, 4);
            memcpy(name + 16 * i + 8, &c, 4);
            memcpy(name + 16 * i + 12, &d, 4);
        }
    }
    char *p = name;
    while (*p == ' ')
        p++;
    for (size_t n = strlen(p); n > 0 && p[n - 1] == ' '; n--)
        p[n - 1] = 0;
    printf("MACHINE name %s\n", *p ? p : "?");
#else
    printf("MACHINE vendor ?\nMACHINE name ?\n");
#endif
    long l1 = -1, l2 = -1, l3 = -1;
#ifdef _SC_LEVEL1_DCACHE_SIZE
    l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    printf("MACHINE caches L1d %ld KiB, L2 %ld KiB, L3 %ld KiB\n",
           l1 > 0 ? l1 / 1024 : -1, l2 > 0 ? l2 / 1024 : -1, l3 > 0 ? l3 / 1024 : -1);
}

/* ------------------------------------------------------------ FMA peak */
/* Each kernel runs `iters` iterations of 12 independent FMA chains and
 * returns the FLOPs done (2 per lane per FMA). 12 chains cover a 4-cycle
 * latency on 2 (or 3) FMA pipes. acc = acc * m + k converges, no overflow. */
#define CHAINS 12
#ifdef MACH_X86
/* Twelve named accumulators (an array would be spilled to the stack); the
 * empty asm keeps the compiler from folding or reordering the chains. */
#define FMA12(F, m, k)                                                           \
    a0 = F(a0, m, k); a1 = F(a1, m, k); a2 = F(a2, m, k); a3 = F(a3, m, k);    \
    a4 = F(a4, m, k); a5 = F(a5, m, k); a6 = F(a6, m, k); a7 = F(a7, m, k);    \
    a8 = F(a8, m, k); a9 = F(a9, m, k); a10 = F(a10, m, k); a11 = F(a11, m, k)
#define KEEP12(c)                                                                \
    __asm__ volatile("" : "+" c(a0), "+" c(a1), "+" c(a2), "+" c(a3), "+" c(a4), \
                     "+" c(a5), "+" c(a6), "+" c(a7), "+" c(a8), "+" c(a9),       \
                     "+" c(a10), "+" c(a11))
__attribute__((target("avx512f"))) static double fma_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999f), k = _mm512_set1_ps(0.001f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long n = 0; n < iters; n++) {
        FMA12(_mm512_fmadd_ps, m, k);
        KEEP12("v");
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    g_sink = _mm512_reduce_add_ps(s);
    return (double)iters * CHAINS * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999f), k = _mm256_set1_ps(0.001f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long n = 0; n < iters; n++) {
        FMA12(_mm256_fmadd_ps, m, k);
        KEEP12("x");
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    g_sink = out[0] + out[7];
    return (double)iters * CHAINS * 8 * 2;
}
#endif

/* Best rate (per second, of whatever fn returns) over short trials (FMA
 * ~0.05 ms, reads ~2 ms at 100 GB/s) for `seconds`: on a shared machine,
 * short trials catch the idle moments. */
static double best_rate(double (*fn)(long), long iters, double seconds)
{
    double best = 0, end = now_s() + seconds;
    fn(iters);  /* warm up (and let the clock and the wide units wake up) */
    int trials = 0;
    while (now_s() < end || trials < 20) {
        double t0 = now_s();
        double work = fn(iters);
        double dt = now_s() - t0;
        if (dt > 0 && work / dt > best)
            best = work / dt;
        trials++;
    }
    return best;
}

/* ------------------------------------------------------------ read bandwidth */
static const float *g_buf;
static size_t g_nfloat;
static int g_use512;

#ifdef MACH_X86
__attribute__((target("avx512f"))) static double read512(long passes)
{
    __m512 s[8];
    for (int i = 0; i < 8; i++)
        s[i] = _mm512_setzero_ps();
    for (long p = 0; p < passes; p++) {
        const float *b = g_buf;
        for (size_t i = 0; i < g_nfloat; i += 128)
            for (int j = 0; j < 8; j++)
                s[j] = _mm512_add_ps(s[j], _mm512_load_ps(b + i + 16 * j));
        __asm__ volatile("" ::: "memory");
    }
    for (int i = 1; i < 8; i++)
        s[0] = _mm512_add_ps(s[0], s[i]);
    g_sink = _mm512_reduce_add_ps(s[0]);
    return (double)passes * (double)g_nfloat * 4;
}

__attribute__((target("avx2"))) static double read256(long passes)
{
    __m256 s[8];
    for (int i = 0; i < 8; i++)
        s[i] = _mm256_setzero_ps();
    for (long p = 0; p < passes; p++) {
        const float *b = g_buf;
        for (size_t i = 0; i < g_nfloat; i += 64)
            for (int j = 0; j < 8; j++)
                s[j] = _mm256_add_ps(s[j], _mm256_load_ps(b + i + 8 * j));
        __asm__ volatile("" ::: "memory");
    }
    float out[8];
    for (int i = 1; i < 8; i++)
        s[0] = _mm256_add_ps(s[0], s[i]);
    _mm256_storeu_ps(out, s[0]);
    g_sink = out[0];
    return (double)passes * (double)g_nfloat * 4;
}
#endif

static double read_scalar(long passes)
{
    float s[8] = {0};
    for (long p = 0; p < passes; p++) {
        for (size_t i = 0; i < g_nfloat; i += 8)
            for (int j = 0; j < 8; j++)
                s[j] += g_buf[i + j];
        __asm__ volatile("" ::: "memory");
    }
    g_sink = s[0] + s[7];
    return (double)passes * (double)g_nfloat * 4;
}

static double read_any(long passes)
{
#ifdef MACH_X86
    if (g_use512)
        return read512(passes);
    if (__builtin_cpu_supports("avx2"))
        return read256(passes);
#endif
    return read_scalar(passes);
}

static int measure_bw(const char *level, size_t bytes, double seconds)
{
    float *buf = NULL;
    if (posix_memalign((void **)&buf, 64, bytes))
        return 1;
    for (size_t i = 0; i < bytes / 4; i++)
        buf[i] = (float)(i & 7) * 0.125f;
    g_buf = buf;
    g_nfloat = bytes / 4;
    /* ~2 ms of work per trial at 100 GB/s, at least one pass */
    long passes = (long)(2e8 / (double)bytes);
    if (passes < 1)
        passes = 1;
    double gbs = best_rate(read_any, passes, seconds) / 1e9;
    printf("BW %s %.2f %zu\n", level, gbs, bytes);
    free(buf);
    return 0;
}

/* The L2 test buffer: half the L2 (sysconf), at most 512 KiB, 256 KiB when
 * the size is unknown. A buffer as large as the L2 itself spills part of
 * each pass to L3 (the L2 also holds code, stack and page-table lines),
 * and then a kernel whose data does fit in L2 beats the "bound": on a
 * Zen 3 (512 KiB L2) a 512 KiB buffer read at 55-72 GB/s while W1 streamed
 * its 437 KB of weights at 66 GB/s. */
static size_t l2_test_bytes(void)
{
    long l2 = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    size_t b = l2 > 0 ? (size_t)l2 / 2 : (size_t)256 << 10;
    if (b > ((size_t)512 << 10))
        b = (size_t)512 << 10;
    if (b < ((size_t)64 << 10))
        b = (size_t)64 << 10;
    return b;
}

int main(int argc, char **argv)
{
    double sec = argc > 1 ? atof(argv[1]) : 0.3;
    if (sec <= 0)
        sec = 0.3;
    int peak_only = argc > 2 && !strcmp(argv[2], "peak");
    if (!peak_only)
        print_identity();
    double best = 0;
#ifdef MACH_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        double g = best_rate(fma_avx512, 20000, sec) / 1e9;
        printf("PEAK avx512 %.2f\n", g);
        best = g > best ? g : best;
        g_use512 = 1;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        double g = best_rate(fma_avx2, 20000, sec) / 1e9;
        printf("PEAK avx2 %.2f\n", g);
        best = g > best ? g : best;
    }
#endif
    if (best <= 0) {
        fprintf(stderr, "machine: no AVX2/AVX-512 FMA to measure a peak with\n");
        return 1;
    }
    printf("PEAK best %.2f\n", best);
    if (peak_only)
        return 0;
    if (measure_bw("l1", 16u << 10, sec) || measure_bw("l2", l2_test_bytes(), sec) ||
        measure_bw("dram", 256u << 20, sec * 3)) {
        fprintf(stderr, "machine: out of memory for the bandwidth buffers\n");
        return 1;
    }
    return 0;
}
