/* optim.c — one optimizer step over a flat block of parameters with
 * torch.optim's single-tensor (for-loop) semantics: SGD (momentum,
 * dampening, weight decay, nesterov), Adam (L2 weight decay into the
 * gradient) and AdamW (decoupled decay). Bias corrections in double.
 *
 * PyTorch's hyperparameters are Python floats (doubles): 1 - beta2, the bias
 * corrections, lr / bc1 and 1 - lr*wd are formed in double and only then
 * rounded to float; nnr_optim holds doubles so the same happens here.
 *
 * Each step reports whether the parameters it wrote are all finite (the
 * driver's check after an update), from the values in registers: p - p is 0
 * for a finite p and NaN for inf or NaN, and a sum of those stays NaN.
 * Ranges of parameters go to threads (nnr_optim_step). */
#include <math.h>
#include <stddef.h>

#include "kern.h"
#include "../simd.h"

#define W NNR_VEC_WIDTH

/* a vector square root where the SIMD backend has one (Adam's vector loop) */
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
#include <immintrin.h>
#define OPT_SQRT(a) _mm512_sqrt_ps(a)
#elif !defined(NNR_SIMD_SCALAR) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define OPT_SQRT(a) _mm256_sqrt_ps(a)
#elif !defined(NNR_SIMD_SCALAR) && defined(__ARM_NEON) && defined(__aarch64__)
#define OPT_SQRT(a) vsqrtq_f32(a)
#elif !defined(NNR_SIMD_SCALAR) && defined(__SSE2__)
#include <immintrin.h>
#define OPT_SQRT(a) _mm_sqrt_ps(a)
#endif

static int sgd(const nnr_optim *o, size_t len, float *p, const float *g, float *buf,
               long step)
{
    NNR_VEC bad = NNR_VEC_ZERO();
    float bad1 = 0.0f;
    const float lr = (float)o->lr, wd = (float)o->weight_decay, mom = (float)o->momentum;
    const float damp = (float)(1.0 - o->dampening);
    size_t i = 0;
    /* The common cases in vectors, with the scalar loop's operations in its
     * order (a multiply then an add, never fused: the same bits). */
    if (wd == 0.0f && !o->nesterov) {
        const NNR_VEC vlr = NNR_VEC_SET1(lr), vmom = NNR_VEC_SET1(mom),
                      vdamp = NNR_VEC_SET1(damp);
        if (mom != 0.0f && buf && step > 1) {
            for (; i + W <= len; i += W) {
                NNR_VEC b = NNR_VEC_ADD(NNR_VEC_MUL(vmom, NNR_VEC_LOAD(buf + i)),
                                        NNR_VEC_MUL(vdamp, NNR_VEC_LOAD(g + i)));
                NNR_VEC_STORE(buf + i, b);
                NNR_VEC q = NNR_VEC_SUB(NNR_VEC_LOAD(p + i), NNR_VEC_MUL(vlr, b));
                NNR_VEC_STORE(p + i, q);
                bad = NNR_VEC_ADD(bad, NNR_VEC_SUB(q, q));
            }
        } else if (mom == 0.0f || !buf) {
            for (; i + W <= len; i += W) {
                NNR_VEC q = NNR_VEC_SUB(NNR_VEC_LOAD(p + i), NNR_VEC_MUL(vlr, NNR_VEC_LOAD(g + i)));
                NNR_VEC_STORE(p + i, q);
                bad = NNR_VEC_ADD(bad, NNR_VEC_SUB(q, q));
            }
        }
    }
    for (; i < len; i++) {
        float d = g[i];
        if (wd != 0.0f) d += wd * p[i];
        if (mom != 0.0f && buf) {
            float b = step <= 1 ? d : mom * buf[i] + damp * d;
            buf[i] = b;
            d = o->nesterov ? d + mom * b : b;
        }
        p[i] -= lr * d;
        bad1 += p[i] - p[i];
    }
    return nnr_vsum(bad) + bad1 == 0.0f;
}

static int adam(const nnr_optim *o, size_t len, float *p, const float *g, float *m,
                float *v, long step)
{
    float bad = 0.0f;
    const int decoupled = o->kind == NNR_OPT_ADAMW;
    const double b1 = o->beta1, b2 = o->beta2, lr = o->lr;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - b1), keep2 = (float)o->beta2, w2 = (float)(1.0 - b2);
    const float decay = (float)(1.0 - lr * o->weight_decay);
    const float wd = (float)o->weight_decay, eps = (float)o->eps;
    size_t i = 0;
#ifdef OPT_SQRT
    /* In vectors: the scalar loop's operations in its order, none fused
     * (IEEE sqrt and division are correctly rounded in both): the same bits.
     * Weight decay: AdamW's p·(1 - lr·wd) first, Adam's g + wd·p. */
    {
        const NNR_VEC vdecay = NNR_VEC_SET1(decay), vwd = NNR_VEC_SET1(wd);
        const int wdec = decoupled && wd != 0.0f, wadd = !decoupled && wd != 0.0f;
        const NNR_VEC vw1 = NNR_VEC_SET1(w1), vkeep1 = NNR_VEC_SET1(1.0f - w1);
        const NNR_VEC vkeep2 = NNR_VEC_SET1(keep2), vw2 = NNR_VEC_SET1(w2);
        const NNR_VEC vbc2 = NNR_VEC_SET1(bc2_sqrt), veps = NNR_VEC_SET1(eps);
        const NNR_VEC vstep = NNR_VEC_SET1(step_size);
        NNR_VEC vbad = NNR_VEC_ZERO();
        for (; i + W <= len; i += W) {
            NNR_VEC p0 = NNR_VEC_LOAD(p + i), gi = NNR_VEC_LOAD(g + i);
            if (wdec) p0 = NNR_VEC_MUL(p0, vdecay);
            if (wadd) gi = NNR_VEC_ADD(gi, NNR_VEC_MUL(vwd, p0));
            const NNR_VEC m0 = NNR_VEC_LOAD(m + i);
            const NNR_VEC d = NNR_VEC_SUB(gi, m0);
            const NNR_VEC mi = w1 < 0.5f ? NNR_VEC_ADD(m0, NNR_VEC_MUL(vw1, d))
                                         : NNR_VEC_SUB(gi, NNR_VEC_MUL(d, vkeep1));
            const NNR_VEC vi = NNR_VEC_ADD(NNR_VEC_MUL(vkeep2, NNR_VEC_LOAD(v + i)),
                                           NNR_VEC_MUL(vw2, NNR_VEC_MUL(gi, gi)));
            NNR_VEC_STORE(m + i, mi);
            NNR_VEC_STORE(v + i, vi);
            const NNR_VEC denom = NNR_VEC_ADD(NNR_VEC_DIV(OPT_SQRT(vi), vbc2), veps);
            const NNR_VEC q = NNR_VEC_SUB(p0, NNR_VEC_MUL(vstep, NNR_VEC_DIV(mi, denom)));
            NNR_VEC_STORE(p + i, q);
            vbad = NNR_VEC_ADD(vbad, NNR_VEC_SUB(q, q));
        }
        bad = nnr_vsum(vbad);
    }
#endif
    for (; i < len; i++) {
        float gi = g[i];
        if (decoupled) {
            if (wd != 0.0f) p[i] *= decay;
        } else if (wd != 0.0f) {
            gi += wd * p[i];
        }
        /* exp_avg.lerp_(grad, 1 - beta1), as torch.lerp computes it */
        float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        float vi = keep2 * v[i] + w2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] -= step_size * (mi / denom);
        bad += p[i] - p[i];
    }
    return bad == 0.0f;
}

static int step_range(const nnr_optim *o, size_t len, float *p, const float *g,
                      float *state1, float *state2, long step)
{
    switch (o->kind) {
    case NNR_OPT_SGD:
        return sgd(o, len, p, g, state1, step);
    case NNR_OPT_ADAM:
    case NNR_OPT_ADAMW:
        return adam(o, len, p, g, state1, state2, step);
    }
    return 1;
}

/* Threads (with OpenMP) take contiguous ranges of whole cache lines of
 * parameters: every element's operations are its own, so the bits do not
 * depend on the split. */
#define OPT_PAR_MIN 65536.0
#define OPT_LINE 16 /* floats per range boundary: 64 bytes, a multiple of W */

int nnr_optim_step(const nnr_optim *o, size_t len, float *p, const float *g,
                   float *state1, float *state2, long step)
{
    if (step < 1) step = 1;
    const size_t lines = (len + OPT_LINE - 1) / OPT_LINE;
    const int nth = nnr_kern_threads((double)len, OPT_PAR_MIN, (long)lines);
    if (nth <= 1) return step_range(o, len, p, g, state1, state2, step);
    int ok = 1;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static) reduction(&& : ok)
#endif
    for (int t = 0; t < nth; t++) {
        size_t i0 = lines * (size_t)t / (size_t)nth * OPT_LINE;
        size_t i1 = lines * (size_t)(t + 1) / (size_t)nth * OPT_LINE;
        if (i1 > len) i1 = len;
        if (i0 < i1)
            ok = step_range(o, i1 - i0, p + i0, g + i0, state1 ? state1 + i0 : NULL,
                            state2 ? state2 + i0 : NULL, step) && ok;
    }
    return ok;
}
