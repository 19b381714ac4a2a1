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
 * b, so NNR_VEC_MAX(zero, x) propagates a NaN x (NEON propagates any NaN).
 * Header only, no state; C11 + the compiler's intrinsics headers.
 */
#ifndef NNR_SIMD_H
#define NNR_SIMD_H

#if defined(__AVX512F__)
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

#endif
