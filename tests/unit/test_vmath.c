/* test_vmath.c — the vector transcendentals of runtime/simd.h (nnr_vexp,
 * nnr_vtanh, nnr_vsigmoid, nnr_verf, nnr_vgelu) against double-precision
 * libm: a sweep over every 97th float bit pattern in [-20, 20] (exp:
 * [-104, 89], sigmoid: [-100, 100]) and the edge cases, asserting the
 * documented NNR_VMATH_*_ERR bounds; and the activation kernels using them
 * (tails included) agree with the same functions element by element. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nnr.h"
#include "simd.h"

typedef NNR_VEC (*vfn)(NNR_VEC);

static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static float bits_to_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Relative error of got against the double reference w (rounded to float
 * when that overflows); gelu also forgives 2^-24·|x| (see simd.h). */
static double rel_err(float x, float got, double w, int gelu)
{
    float wf = (float)w;
    if (isnan(w)) return isnan(got) ? 0.0 : INFINITY;
    if (isinf(wf)) return got == wf ? 0.0 : INFINITY;
    double e = fabs((double)got - w);
    if (gelu) e = fmax(0.0, e - ldexp(fabs((double)x), -24));
    return e / fmax(fabs(w), FLT_MIN);
}

/* Evaluates f on xs[0..n) one vector at a time; returns the worst error. */
static double worst_of(vfn f, double (*ref)(double), int gelu, const float *xs, size_t n,
                       float *at)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i += NNR_VEC_WIDTH) {
        float in[NNR_VEC_WIDTH] = {0}, out[NNR_VEC_WIDTH];
        size_t m = n - i < NNR_VEC_WIDTH ? n - i : NNR_VEC_WIDTH;
        memcpy(in, xs + i, m * sizeof *in);
        NNR_VEC_STORE(out, f(NNR_VEC_LOAD(in)));
        for (size_t k = 0; k < m; k++) {
            double e = rel_err(in[k], out[k], ref(in[k]), gelu);
            if (!(e <= worst)) {
                worst = e;
                *at = in[k];
            }
        }
    }
    return worst;
}

static void sweep(const char *name, vfn f, double (*ref)(double), int gelu, float lim,
                  double bound)
{
    uint32_t top;
    memcpy(&top, &lim, sizeof top);
    enum { BATCH = 4096 };
    float xs[BATCH];
    size_t k = 0;
    double worst = 0.0;
    float at = 0.0f;
    for (int neg = 0; neg < 2; neg++)
        for (uint64_t b = 0; b <= top; b += 97) {
            xs[k++] = bits_to_f((uint32_t)b | (neg ? 0x80000000u : 0u));
            if (k == BATCH || b + 97 > top) {
                float a = 0.0f;
                double e = worst_of(f, ref, gelu, xs, k, &a);
                if (!(e <= worst)) {
                    worst = e;
                    at = a;
                }
                k = 0;
            }
        }
    /* edge cases: zeros, denormals, the exp limits, infinities, NaN */
    static const float edge[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, FLT_MIN,
                                 -FLT_MIN, 88.0f, -88.0f, 88.72f, -88.72f, 88.7228f, 88.73f,
                                 -87.3f, -100.0f, -103.0f, -103.9f, -104.0f, -110.0f,
                                 0.625f, -0.625f, 0.921875f, -0.921875f, 3.92f, 4.0f,
                                 1e30f, -1e30f, INFINITY, -INFINITY, NAN, -NAN};
    float a = 0.0f;
    double e = worst_of(f, ref, gelu, edge, sizeof edge / sizeof edge[0], &a);
    if (!(e <= worst)) {
        worst = e;
        at = a;
    }
    cr_log_info("%s (%s): max rel err %.3g = %.2f x 2^-24 at x = %.9g (bound %.3g)", name,
                NNR_SIMD_NAME, worst, worst / 0x1p-24, (double)at, bound);
    cr_expect(worst <= bound, "%s: max rel err %.3g at x = %.9g exceeds %.3g", name, worst,
              (double)at, bound);
}

Test(vmath, exp_bound) { sweep("exp", nnr_vexp, exp, 0, 104.0f, NNR_VMATH_EXP_ERR); }
Test(vmath, tanh_bound) { sweep("tanh", nnr_vtanh, tanh, 0, 20.0f, NNR_VMATH_TANH_ERR); }
Test(vmath, sigmoid_bound)
{
    sweep("sigmoid", nnr_vsigmoid, sigmoid_d, 0, 100.0f, NNR_VMATH_SIGMOID_ERR);
}
Test(vmath, erf_bound) { sweep("erf", nnr_verf, erf, 0, 20.0f, NNR_VMATH_ERF_ERR); }
Test(vmath, gelu_bound) { sweep("gelu", nnr_vgelu, gelu_d, 1, 20.0f, NNR_VMATH_GELU_ERR); }

Test(vmath, special_values)
{
    float in[NNR_VEC_WIDTH], out[NNR_VEC_WIDTH];
#define ONE(f, x) (in[0] = (x), NNR_VEC_STORE(out, f(NNR_VEC_LOAD(in))), out[0])
    for (int i = 0; i < NNR_VEC_WIDTH; i++) in[i] = 0.0f;
    cr_expect(ONE(nnr_vexp, INFINITY) == INFINITY);
    cr_expect(ONE(nnr_vexp, -INFINITY) == 0.0f);
    cr_expect(ONE(nnr_vexp, 89.0f) == INFINITY);
    cr_expect(ONE(nnr_vexp, -100.0f) > 0.0f, "exp underflows gradually");
    cr_expect(isnan(ONE(nnr_vexp, NAN)));
    float t = ONE(nnr_vtanh, -0.0f);
    cr_expect(t == 0.0f && signbit(t), "tanh(-0) = -0");
    cr_expect(ONE(nnr_vtanh, INFINITY) == 1.0f && ONE(nnr_vtanh, -INFINITY) == -1.0f);
    cr_expect(isnan(ONE(nnr_vtanh, NAN)));
    cr_expect(ONE(nnr_vsigmoid, INFINITY) == 1.0f && ONE(nnr_vsigmoid, -INFINITY) == 0.0f);
    cr_expect(isnan(ONE(nnr_vsigmoid, NAN)));
    cr_expect(ONE(nnr_verf, INFINITY) == 1.0f && ONE(nnr_verf, -INFINITY) == -1.0f);
    float z = ONE(nnr_verf, -0.0f);
    cr_expect(z == 0.0f && signbit(z), "erf(-0) = -0");
    cr_expect(isnan(ONE(nnr_verf, NAN)) && isnan(ONE(nnr_vgelu, NAN)));
    cr_expect(ONE(nnr_vgelu, INFINITY) == INFINITY);
#undef ONE
}

/* nnr_act_f32 gives each element exactly what the vector function gives it
 * alone: body and tail alike, at every length and offset. */
Test(vmath, act_kernels_position_independent)
{
    static const nnr_act acts[] = {NNR_ACT_SIGMOID, NNR_ACT_TANH, NNR_ACT_GELU};
    static const vfn fns[] = {nnr_vsigmoid, nnr_vtanh, nnr_vgelu};
    float x[67], y[67];
    for (int i = 0; i < 67; i++) x[i] = -9.0f + 0.27f * (float)i;
    for (int a = 0; a < 3; a++)
        for (size_t len = 1; len <= 67; len += 11)
            for (size_t off = 0; off + len <= 67; off += 5) {
                nnr_act_f32(acts[a], 0.0f, len, x + off, y);
                for (size_t i = 0; i < len; i++) {
                    float in[NNR_VEC_WIDTH] = {0}, out[NNR_VEC_WIDTH];
                    in[0] = x[off + i];
                    NNR_VEC_STORE(out, fns[a](NNR_VEC_LOAD(in)));
                    cr_assert(memcmp(&out[0], &y[i], sizeof *y) == 0,
                              "act %d len %zu off %zu i %zu", (int)acts[a], len, off, i);
                }
            }
}
