/* simd.h — the runtime's portable SIMD vocabulary, chosen at compile time.
 *
 *   __AVX512F__            16 floats  (__m512)
 *   __AVX2__ && __FMA__     8 floats  (__m256, fused multiply-add)
 *   __ARM_NEON              4 floats  (float32x4_t; fused on AArch64)
 *   __SSE2__                4 floats  (__m128, multiply then add: every x86-64)
 *   otherwise               1 float   (plain C)
 *
 * Kernels are written once against these macros, in the ggml style:
 *
 *     size_t i = 0;
 *     for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH)
 *         NNR_VEC_STORE(y + i, NNR_VEC_MUL(NNR_VEC_LOAD(x + i), s));
 *     for (; i < len; i++)            // scalar tail
 *         y[i] = x[i] * sc;
 *
 * Loads and stores are unaligned. NNR_VEC_FMA(a, b, c) is a*b + c (fused
 * where the target has it: results may differ from unfused code in the last
 * bit). NNR_VEC_MAX(a, b) follows the x86 rule: when either is NaN it returns
 * b, so NNR_VEC_MAX(zero, x) propagates a NaN x (NEON propagates any NaN);
 * NNR_VEC_MIN likewise. Also: NNR_VEC_DIV, NNR_VEC_ABS, NNR_VEC_OR_SIGN(m, s)
 * (m with the sign bit of s or'ed in), NNR_VEC_SEL_LT(a, b, t, f) (a < b ? t
 * : f per lane, false for NaN) and NNR_VEC_SCALE2(p, n) (p * 2^n for
 * integral n in [-150, 128], one rounding, denormal results included).
 *
 * On top of them, at the end: nnr_vsum (fixed-order horizontal sum) and
 * the vector transcendentals nnr_vexp, nnr_vtanh, nnr_vsigmoid, nnr_verf,
 * nnr_vgelu — the same code for every ISA (scalar included), no libm
 * except in the scalar build, no reliance on -ffast-math.
 * Header only, no state; C11 + the compiler's intrinsics headers.
 */
#ifndef NNR_SIMD_H
#define NNR_SIMD_H

#include <math.h>     /* INFINITY (nnr_vrow_max), and the scalar twins below */

/* -DNNR_SIMD_SCALAR forces the plain-C vocabulary (tests, debugging). */
#if defined(NNR_SIMD_SCALAR)
#define NNR_SIMD_SCALAR_ 1
#elif defined(__AVX512F__)
#include <immintrin.h>
#define NNR_SIMD_NAME "avx512f"
#define NNR_VEC_WIDTH 16
#define NNR_VEC __m512
#define NNR_VEC_LOAD(p) _mm512_loadu_ps(p)
#define NNR_VEC_STORE(p, v) _mm512_storeu_ps((p), (v))
#define NNR_VEC_SET1(x) _mm512_set1_ps(x)
#define NNR_VEC_ZERO() _mm512_setzero_ps()
#define NNR_VEC_ADD(a, b) _mm512_add_ps((a), (b))
#define NNR_VEC_SUB(a, b) _mm512_sub_ps((a), (b))
#define NNR_VEC_MUL(a, b) _mm512_mul_ps((a), (b))
#define NNR_VEC_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define NNR_VEC_MAX(a, b) _mm512_max_ps((a), (b))
#define NNR_VEC_MIN(a, b) _mm512_min_ps((a), (b))
#define NNR_VEC_DIV(a, b) _mm512_div_ps((a), (b))
#define NNR_VEC_ABS(a) _mm512_abs_ps(a)
#define NNR_VEC_OR_SIGN(m, s)                                                   \
    _mm512_castsi512_ps(_mm512_or_si512(                                        \
        _mm512_castps_si512(m),                                                 \
        _mm512_and_si512(_mm512_castps_si512(s), _mm512_castps_si512(_mm512_set1_ps(-0.0f)))))
#define NNR_VEC_SEL_LT(a, b, t, f) \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ), (f), (t))
#define NNR_VEC_SCALE2(p, n) _mm512_scalef_ps((p), (n))

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NNR_SIMD_NAME "avx2+fma"
#define NNR_VEC_WIDTH 8
#define NNR_VEC __m256
#define NNR_VEC_LOAD(p) _mm256_loadu_ps(p)
#define NNR_VEC_STORE(p, v) _mm256_storeu_ps((p), (v))
#define NNR_VEC_SET1(x) _mm256_set1_ps(x)
#define NNR_VEC_ZERO() _mm256_setzero_ps()
#define NNR_VEC_ADD(a, b) _mm256_add_ps((a), (b))
#define NNR_VEC_SUB(a, b) _mm256_sub_ps((a), (b))
#define NNR_VEC_MUL(a, b) _mm256_mul_ps((a), (b))
#define NNR_VEC_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define NNR_VEC_MAX(a, b) _mm256_max_ps((a), (b))
#define NNR_VEC_MIN(a, b) _mm256_min_ps((a), (b))
#define NNR_VEC_DIV(a, b) _mm256_div_ps((a), (b))
#define NNR_VEC_ABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (a))
#define NNR_VEC_OR_SIGN(m, s) _mm256_or_ps((m), _mm256_and_ps((s), _mm256_set1_ps(-0.0f)))
#define NNR_VEC_SEL_LT(a, b, t, f) \
    _mm256_blendv_ps((f), (t), _mm256_cmp_ps((a), (b), _CMP_LT_OQ))
/* an 8-lane mask with lanes [0, n) set (none for n <= 0, all for n >= 8),
 * for _mm256_maskload_ps and _mm256_maskstore_ps */
static inline __m256i nnr_mask8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256 nnr_vscale2_(__m256 p, __m256 n)
{
    __m256i i = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(i, 1), b = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, b), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(i, h), b), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
#define NNR_VEC_SCALE2(p, n) nnr_vscale2_((p), (n))

#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define NNR_SIMD_NAME "neon"
#define NNR_VEC_WIDTH 4
#define NNR_VEC float32x4_t
#define NNR_VEC_LOAD(p) vld1q_f32(p)
#define NNR_VEC_STORE(p, v) vst1q_f32((p), (v))
#define NNR_VEC_SET1(x) vdupq_n_f32(x)
#define NNR_VEC_ZERO() vdupq_n_f32(0.0f)
#define NNR_VEC_ADD(a, b) vaddq_f32((a), (b))
#define NNR_VEC_SUB(a, b) vsubq_f32((a), (b))
#define NNR_VEC_MUL(a, b) vmulq_f32((a), (b))
#if defined(__aarch64__)
#define NNR_VEC_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#else
#define NNR_VEC_FMA(a, b, c) vmlaq_f32((c), (a), (b))
#endif
#define NNR_VEC_MAX(a, b) vmaxq_f32((a), (b))
#define NNR_VEC_MIN(a, b) vminq_f32((a), (b))
#if defined(__aarch64__)
#define NNR_VEC_DIV(a, b) vdivq_f32((a), (b))
#else
/* 32-bit NEON has no vector divide: estimate + two Newton steps (~1 ulp). */
static inline float32x4_t nnr_vdiv_(float32x4_t a, float32x4_t b)
{
    float32x4_t r = vrecpeq_f32(b);
    r = vmulq_f32(r, vrecpsq_f32(b, r));
    r = vmulq_f32(r, vrecpsq_f32(b, r));
    return vmulq_f32(a, r);
}
#define NNR_VEC_DIV(a, b) nnr_vdiv_((a), (b))
#endif
#define NNR_VEC_ABS(a) vabsq_f32(a)
#define NNR_VEC_OR_SIGN(m, s) vbslq_f32(vdupq_n_u32(0x80000000u), (s), (m))
#define NNR_VEC_SEL_LT(a, b, t, f) vbslq_f32(vcltq_f32((a), (b)), (t), (f))
static inline float32x4_t nnr_vscale2_(float32x4_t p, float32x4_t n)
{
    int32x4_t i = vcvtq_s32_f32(n), h = vshrq_n_s32(i, 1), b = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h, b), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(i, h), b), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}
#define NNR_VEC_SCALE2(p, n) nnr_vscale2_((p), (n))

#elif defined(__SSE2__)
#include <emmintrin.h>
#define NNR_SIMD_NAME "sse2"
#define NNR_VEC_WIDTH 4
#define NNR_VEC __m128
#define NNR_VEC_LOAD(p) _mm_loadu_ps(p)
#define NNR_VEC_STORE(p, v) _mm_storeu_ps((p), (v))
#define NNR_VEC_SET1(x) _mm_set1_ps(x)
#define NNR_VEC_ZERO() _mm_setzero_ps()
#define NNR_VEC_ADD(a, b) _mm_add_ps((a), (b))
#define NNR_VEC_SUB(a, b) _mm_sub_ps((a), (b))
#define NNR_VEC_MUL(a, b) _mm_mul_ps((a), (b))
#define NNR_VEC_FMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#define NNR_VEC_MAX(a, b) _mm_max_ps((a), (b))
#define NNR_VEC_MIN(a, b) _mm_min_ps((a), (b))
#define NNR_VEC_DIV(a, b) _mm_div_ps((a), (b))
#define NNR_VEC_ABS(a) _mm_andnot_ps(_mm_set1_ps(-0.0f), (a))
#define NNR_VEC_OR_SIGN(m, s) _mm_or_ps((m), _mm_and_ps((s), _mm_set1_ps(-0.0f)))
static inline __m128 nnr_vsel_lt_(__m128 a, __m128 b, __m128 t, __m128 f)
{
    __m128 m = _mm_cmplt_ps(a, b);
    return _mm_or_ps(_mm_and_ps(m, t), _mm_andnot_ps(m, f));
}
#define NNR_VEC_SEL_LT(a, b, t, f) nnr_vsel_lt_((a), (b), (t), (f))
static inline __m128 nnr_vscale2_(__m128 p, __m128 n)
{
    __m128i i = _mm_cvtps_epi32(n), h = _mm_srai_epi32(i, 1), b = _mm_set1_epi32(127);
    __m128 s1 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(h, b), 23));
    __m128 s2 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_sub_epi32(i, h), b), 23));
    return _mm_mul_ps(_mm_mul_ps(p, s1), s2);
}
#define NNR_VEC_SCALE2(p, n) nnr_vscale2_((p), (n))

#else
#define NNR_SIMD_SCALAR_ 1
#endif

#if defined(NNR_SIMD_SCALAR_)
#include <math.h>
#define NNR_SIMD_NAME "scalar"
#define NNR_VEC_WIDTH 1
#define NNR_VEC float
#define NNR_VEC_LOAD(p) (*(p))
#define NNR_VEC_STORE(p, v) (*(p) = (v))
#define NNR_VEC_SET1(x) ((float)(x))
#define NNR_VEC_ZERO() (0.0f)
#define NNR_VEC_ADD(a, b) ((a) + (b))
#define NNR_VEC_SUB(a, b) ((a) - (b))
#define NNR_VEC_MUL(a, b) ((a) * (b))
#define NNR_VEC_FMA(a, b, c) ((a) * (b) + (c))
#define NNR_VEC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NNR_VEC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NNR_VEC_DIV(a, b) ((a) / (b))
#define NNR_VEC_ABS(a) fabsf(a)
#define NNR_VEC_OR_SIGN(m, s) copysignf((m), (s))
#define NNR_VEC_SEL_LT(a, b, t, f) ((a) < (b) ? (t) : (f))
#define NNR_VEC_SCALE2(p, n) ((n) == (n) ? ldexpf((p), (int)(n)) : (n))
#endif

/* ------------------------------------------------------------------ math */

/* Horizontal sum, in registers, in a fixed order for a given ISA (halves
 * folded onto each other), so results do not vary from call to call. */
static inline float nnr_vsum(NNR_VEC v)
{
#if defined(NNR_SIMD_SCALAR_)
    return v;
#elif defined(__AVX512F__)
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
#elif defined(__AVX2__) && defined(__FMA__)
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
#elif defined(__ARM_NEON)
    float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(h, h), 0);
#else
    __m128 q = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
#endif
}

/* The largest of x[0..n): vectors, then their lanes, then the tail (a NaN
 * is not propagated: callers that must return it check for it). */
static inline float nnr_vrow_max(const float *x, int n)
{
    NNR_VEC vm = NNR_VEC_SET1(-INFINITY);
    int j = 0;
    for (; j + NNR_VEC_WIDTH <= n; j += NNR_VEC_WIDTH)
        vm = NNR_VEC_MAX(vm, NNR_VEC_LOAD(x + j));
    float t[NNR_VEC_WIDTH], m = -INFINITY;
    NNR_VEC_STORE(t, vm);
    for (int l = 0; l < NNR_VEC_WIDTH; l++)
        if (t[l] > m) m = t[l];
    for (; j < n; j++)
        if (x[j] > m) m = x[j];
    return m;
}

/* Maximum relative error against the correctly rounded result, as
 * |got - want| / max(|want|, FLT_MIN) (denormal results count at FLT_MIN
 * scale). tests/unit/test_vmath.c asserts these over every 61st float in
 * [-20, 20] (exp: [-104, 89], sigmoid: [-100, 100]) plus edge cases; the
 * measured maxima (same on AVX-512, AVX2, SSE2, scalar) in ulp-of-result
 * units of 2^-24 are in brackets:
 *   nnr_vexp      NNR_VMATH_EXP_ERR      1.5e-7  [1.5]
 *   nnr_vtanh     NNR_VMATH_TANH_ERR     2.0e-7  [2.3]
 *   nnr_vsigmoid  NNR_VMATH_SIGMOID_ERR  2.5e-7  [2.9]
 *   nnr_verf      NNR_VMATH_ERF_ERR      1.5e-7  [1.8]
 *   nnr_vgelu     x/2·(1 + erf(x/√2)) in float, as the libm form (and
 *                 PyTorch) evaluate it: 1 + erf cancels for x < 0, so the
 *                 bound is |err| <= NNR_VMATH_GELU_ERR·|want| + 2^-24·|x|
 *                 with NNR_VMATH_GELU_ERR 1.5e-7 [1.0].
 * Special values: exp(+inf) = inf, exp(-inf) = 0, exp overflows to inf
 * above 88.72 and underflows gradually through the denormals; tanh(±0) =
 * ±0, tanh(±inf) = ±1; sigmoid(+inf) = 1, sigmoid(-inf) = 0; erf(±inf) =
 * ±1; gelu(-inf) = NaN as in the libm form; NaN in, NaN out for all. */
#define NNR_VMATH_EXP_ERR 1.5e-7
#define NNR_VMATH_TANH_ERR 2.0e-7
#define NNR_VMATH_SIGMOID_ERR 2.5e-7
#define NNR_VMATH_ERF_ERR 1.5e-7
#define NNR_VMATH_GELU_ERR 1.5e-7

/* exp: n = round(x·log2 e) by the 1.5·2^23 trick (round-to-nearest mode,
 * exact for the clamped range); r = x - n·ln2 in two parts (the first has
 * 9 significant bits so n·C1 is exact without FMA); exp(r) = 1 + r +
 * r²·P(r), P of degree 5 fitted on [-ln2/2, ln2/2]; then r·2^n. */
static inline NNR_VEC nnr_vexp(NNR_VEC x)
{
    const NNR_VEC magic = NNR_VEC_SET1(12582912.0f); /* 1.5 * 2^23 */
    x = NNR_VEC_MIN(NNR_VEC_SET1(89.0f), NNR_VEC_MAX(NNR_VEC_SET1(-104.0f), x));
    NNR_VEC n = NNR_VEC_SUB(NNR_VEC_FMA(x, NNR_VEC_SET1(1.44269504089f), magic), magic);
    NNR_VEC r = NNR_VEC_FMA(n, NNR_VEC_SET1(-0.693359375f), x);
    r = NNR_VEC_FMA(n, NNR_VEC_SET1(2.12194440e-4f), r);
    NNR_VEC p = NNR_VEC_SET1(1.989098087e-4f);
    p = NNR_VEC_FMA(p, r, NNR_VEC_SET1(1.393364103e-3f));
    p = NNR_VEC_FMA(p, r, NNR_VEC_SET1(8.333310934e-3f));
    p = NNR_VEC_FMA(p, r, NNR_VEC_SET1(4.166646501e-2f));
    p = NNR_VEC_FMA(p, r, NNR_VEC_SET1(1.666666668e-1f));
    p = NNR_VEC_FMA(p, r, NNR_VEC_SET1(5.000000013e-1f));
    p = NNR_VEC_FMA(p, NNR_VEC_MUL(r, r), r);
    p = NNR_VEC_ADD(p, NNR_VEC_SET1(1.0f));
    return NNR_VEC_SCALE2(p, n);
}

/* tanh: a = |x| < 0.625: a + a·z·P(z), z = x², P of degree 5; otherwise
 * 1 - 2/(exp(2a) + 1), which has no cancellation there (the result is
 * >= 0.55); then the sign of x (so tanh(-0) = -0). */
static inline NNR_VEC nnr_vtanh(NNR_VEC x)
{
    const NNR_VEC one = NNR_VEC_SET1(1.0f);
    NNR_VEC ax = NNR_VEC_ABS(x);
    NNR_VEC z = NNR_VEC_MUL(x, x);
    NNR_VEC q = NNR_VEC_SET1(2.292744816e-3f);
    q = NNR_VEC_FMA(q, z, NNR_VEC_SET1(-8.343945516e-3f));
    q = NNR_VEC_FMA(q, z, NNR_VEC_SET1(2.176891865e-2f));
    q = NNR_VEC_FMA(q, z, NNR_VEC_SET1(-5.395925958e-2f));
    q = NNR_VEC_FMA(q, z, NNR_VEC_SET1(1.333330356e-1f));
    q = NNR_VEC_FMA(q, z, NNR_VEC_SET1(-3.333333317e-1f));
    NNR_VEC small = NNR_VEC_FMA(NNR_VEC_MUL(q, z), ax, ax);
    NNR_VEC e = nnr_vexp(NNR_VEC_ADD(ax, ax));
    NNR_VEC large = NNR_VEC_SUB(one, NNR_VEC_DIV(NNR_VEC_SET1(2.0f), NNR_VEC_ADD(e, one)));
    return NNR_VEC_OR_SIGN(NNR_VEC_SEL_LT(ax, NNR_VEC_SET1(0.625f), small, large), x);
}

/* sigmoid: e = exp(-|x|); x >= 0: 1/(1 + e), x < 0: e/(1 + e) (so that
 * tiny results reach the denormals instead of flushing to 0). */
static inline NNR_VEC nnr_vsigmoid(NNR_VEC x)
{
    const NNR_VEC one = NNR_VEC_SET1(1.0f);
    NNR_VEC e = nnr_vexp(NNR_VEC_SUB(NNR_VEC_ZERO(), NNR_VEC_ABS(x)));
    NNR_VEC num = NNR_VEC_SEL_LT(x, NNR_VEC_ZERO(), e, one);
    return NNR_VEC_DIV(num, NNR_VEC_ADD(one, e));
}

/* erf: |x| < 0.921875: x + x·P(x²), P of degree 5; otherwise
 * sign(x)·(1 - exp(h(a) - a²)), a = min(|x|, 4), where h(a) = log erfc(a) + a²
 * is smooth and is fitted by a degree-8 polynomial in a - 2.25 on
 * [0.921875, 4] (erf rounds to ±1 beyond 3.92). Coefficients: Chebyshev
 * fits (mpmath) of the exact functions. */
static inline NNR_VEC nnr_verf(NNR_VEC x)
{
    NNR_VEC ax = NNR_VEC_ABS(x);
    NNR_VEC s = NNR_VEC_MUL(x, x);
    NNR_VEC p = NNR_VEC_SET1(-6.004081156e-4f);
    p = NNR_VEC_FMA(p, s, NNR_VEC_SET1(4.996020122e-3f));
    p = NNR_VEC_FMA(p, s, NNR_VEC_SET1(-2.676875670e-2f));
    p = NNR_VEC_FMA(p, s, NNR_VEC_SET1(1.128188232e-1f));
    p = NNR_VEC_FMA(p, s, NNR_VEC_SET1(-3.761250090e-1f));
    p = NNR_VEC_FMA(p, s, NNR_VEC_SET1(1.28379151e-1f)); /* 2/sqrt(pi) - 1 */
    NNR_VEC small = NNR_VEC_FMA(x, p, x);
    NNR_VEC a = NNR_VEC_MIN(NNR_VEC_SET1(4.0f), ax);
    NNR_VEC u = NNR_VEC_SUB(a, NNR_VEC_SET1(2.25f));
    NNR_VEC h = NNR_VEC_SET1(1.643570918e-06f);
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(-1.659399955e-05f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(1.034181721e-04f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(-5.549353326e-04f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(2.770706519e-03f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(-1.331252893e-02f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(6.513262226e-02f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(-3.829137999e-01f));
    h = NNR_VEC_FMA(h, u, NNR_VEC_SET1(-1.464959906f));
    NNR_VEC l = NNR_VEC_FMA(NNR_VEC_SUB(NNR_VEC_ZERO(), a), a, h);
    NNR_VEC large = NNR_VEC_SUB(NNR_VEC_SET1(1.0f), nnr_vexp(l));
    large = NNR_VEC_OR_SIGN(large, x);
    return NNR_VEC_SEL_LT(ax, NNR_VEC_SET1(0.921875f), small, large);
}

/* Exact (erf) gelu, evaluated as 0.5·x·(1 + erf(x·√½)) like the libm form. */
static inline NNR_VEC nnr_vgelu(NNR_VEC x)
{
    NNR_VEC e = nnr_verf(NNR_VEC_MUL(x, NNR_VEC_SET1(0.70710678118654752440f)));
    return NNR_VEC_MUL(NNR_VEC_MUL(NNR_VEC_SET1(0.5f), x), NNR_VEC_ADD(NNR_VEC_SET1(1.0f), e));
}

#endif
