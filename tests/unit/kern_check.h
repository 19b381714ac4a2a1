/* kern_check.h — helpers shared by the kernel tests (test_kernels.c,
 * test_kern_train.c): a deterministic test-data generator independent of
 * nnr_rng, array comparison with abs + rel tolerance, and a central
 * finite-difference gradient check. */
#ifndef KERN_CHECK_H
#define KERN_CHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"
#include "ref/ref.h"

typedef struct { uint64_t s; } tgen;

static inline double tg_u01(tgen *g)
{
    g->s = g->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(g->s >> 11) * 0x1.0p-53;
}

static inline void tg_fill(tgen *g, float *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * tg_u01(g));
}

/* Values in [lo, hi] kept at least gap away from 0 (kinks of relu & co.). */
static inline void tg_fill_away0(tgen *g, float *p, size_t n, double lo, double hi,
                                 double gap)
{
    for (size_t i = 0; i < n; i++) {
        double v;
        do v = lo + (hi - lo) * tg_u01(g); while (fabs(v) < gap);
        p[i] = (float)v;
    }
}

static inline float *tg_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    cr_assert(p != NULL);
    return p;
}

/* Number of i with |got - want| > atol + rtol |want| (NaN counts); reports the first. */
static inline size_t check_close(const char *what, const float *got, const float *want,
                                 size_t n, double atol, double rtol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double tol = atol + rtol * fabs(w);
        if (!(fabs(g - w) <= tol) && !(isinf(g) && g == w)) {
            if (!bad)
                cr_log_error("%s: first mismatch at %zu: got %.9g want %.9g (tol %.3g)", what, i,
                             g, w, tol);
            bad++;
        }
    }
    cr_expect_eq(bad, 0, "%s: %zu of %zu values differ", what, bad, n);
    return bad;
}

#define EXPECT_NEAR(got, want, tol) \
    cr_expect(fabs((double)(got) - (double)(want)) <= (tol), \
              "%s = %.10g, expected %.10g (tol %g)", #got, (double)(got), (double)(want), \
              (double)(tol))

/* Central finite differences of the scalar f(ctx) with respect to every
 * param[i] (f must read param), against analytic[i]. */
typedef double (*scalar_fn)(void *ctx);

static inline size_t fd_check(const char *what, scalar_fn f, void *ctx, float *param,
                              size_t n, const float *analytic, float h, double atol,
                              double rtol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float old = param[i];
        float xp = old + h, xm = old - h;
        param[i] = xp;
        double fp = f(ctx);
        param[i] = xm;
        double fm = f(ctx);
        param[i] = old;
        double num = (fp - fm) / ((double)xp - (double)xm);
        double an = analytic[i];
        if (!(fabs(num - an) <= atol + rtol * fabs(num))) {
            if (!bad)
                cr_log_error("%s: d/dparam[%zu]: analytic %.7g, finite difference %.7g", what, i,
                             an, num);
            bad++;
        }
    }
    cr_expect_eq(bad, 0, "%s: %zu of %zu gradients disagree with finite differences", what,
                 bad, n);
    return bad;
}

/* Σ r[i] y[i] in double: the scalar whose gradient w.r.t. y is r. */
static inline double proj(const float *r, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

#endif
