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

#else
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
#endif

#endif
