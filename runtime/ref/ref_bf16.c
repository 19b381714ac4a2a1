/* ref_bf16.c — naive reference for the bf16-weight linear layer (nnc
 * --dtype bf16): bf16 rounding by comparing the distances to the two
 * neighbouring bf16 values in double (not by the bit trick the runtime
 * uses), then the fp32 reference linear layer on the rounded weights.
 * Test oracle only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static double bf16_value(uint32_t upper)
{
    uint32_t u = upper << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t nnr_ref_bf16_from_f32(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    uint32_t sign = u >> 31 << 15;
    if (isnan(v))
        return (uint16_t)(sign | 0x7fc0u);
    uint32_t t = u >> 16;               /* toward zero */
    if (isinf(v) || (u & 0xffffu) == 0)
        return (uint16_t)t;
    uint32_t a = t + 1;                 /* away from zero (maybe infinity) */
    double dt = fabs((double)v - bf16_value(t));
    double da = (a & 0x7f80u) == 0x7f80u ? fabs(ldexp(1.0, 128) - fabs((double)v))
                                         : fabs(bf16_value(a) - (double)v);
    if (dt < da) return (uint16_t)t;
    if (da < dt) return (uint16_t)a;
    return (uint16_t)((t & 1u) ? a : t);  /* a tie: the even one */
}

void nnr_ref_linear_bf16(int n, int in, int out, const float *x, const float *w,
                         const float *b, float *y, nnr_act act, float act_param)
{
    size_t len = (size_t)(in > 0 ? in : 0) * (size_t)(out > 0 ? out : 0);
    float *wr = malloc((len ? len : 1) * sizeof *wr);
    if (!wr) abort();
    for (size_t i = 0; i < len; i++)
        wr[i] = (float)bf16_value(nnr_ref_bf16_from_f32(w[i]));
    nnr_ref_linear_f32(n, in, out, x, wr, b, y, act, act_param);
    free(wr);
}
