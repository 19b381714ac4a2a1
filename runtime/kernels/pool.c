/* pool.c — 2-D max and average pooling (NCHW) and their backward, PyTorch
 * semantics: max pooling treats padding as -inf, lets the first maximum in
 * row-major window order win and propagates NaN (the last NaN wins, as
 * PyTorch's update rule `v > max || isnan(v)` does); average pooling uses
 * count_include_pad = True (divisor = window clipped to the padded input). */
#include <math.h>
#include <stddef.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kern.h"
#include "../simd.h"

/* input elements from which the planes of a max-pool are split across
 * threads (with OpenMP; a plane's results do not depend on the split) */
#define POOL_PAR_MIN ((size_t)1 << 18)

/* ------------------------------------------------------------ fast paths
 * Unpadded windows (any kh x kw, stride 1, 2 or more) over whole rows of
 * outputs, W at a time. Max pooling keeps PyTorch's rule exactly for
 * ordered values: each element v of the window, in row-major order, replaces
 * the running m when m < v (NNR_VEC_SEL_LT, so the first maximum wins, and
 * -0/+0 ties too). NaN is handled once per plane instead of per element: a
 * vector reduction (x * 0 summed, NaN when the plane holds a NaN or an inf)
 * sends such a plane to the exact per-window path. Average pooling sums the
 * window in row-major order and divides, as the per-window path does. */

static int fast_ok(const nnr_kpool *s)
{
    return s->ph == 0 && s->pw == 0 && s->kh >= 1 && s->kw >= 1 && s->sh >= 1 && s->sw >= 1 &&
           (s->oh - 1) * s->sh + s->kh <= s->h && (s->ow - 1) * s->sw + s->kw <= s->w;
}

/* 1 when the plane has no NaN and no inf. */
static int plane_finite(const float *x, size_t len)
{
    NNR_VEC acc = NNR_VEC_ZERO(), a1 = NNR_VEC_ZERO(), a2 = NNR_VEC_ZERO(),
            a3 = NNR_VEC_ZERO(), z = NNR_VEC_ZERO();
    size_t i = 0;
    /* four independent chains (only NaN-ness of the sum matters) */
    for (; i + 4 * NNR_VEC_WIDTH <= len; i += 4 * NNR_VEC_WIDTH) {
        acc = NNR_VEC_FMA(NNR_VEC_LOAD(x + i), z, acc);
        a1 = NNR_VEC_FMA(NNR_VEC_LOAD(x + i + NNR_VEC_WIDTH), z, a1);
        a2 = NNR_VEC_FMA(NNR_VEC_LOAD(x + i + 2 * NNR_VEC_WIDTH), z, a2);
        a3 = NNR_VEC_FMA(NNR_VEC_LOAD(x + i + 3 * NNR_VEC_WIDTH), z, a3);
    }
    for (; i + NNR_VEC_WIDTH <= len; i += NNR_VEC_WIDTH)
        acc = NNR_VEC_FMA(NNR_VEC_LOAD(x + i), z, acc);
    acc = NNR_VEC_ADD(NNR_VEC_ADD(acc, a1), NNR_VEC_ADD(a2, a3));
    float r = nnr_vsum(acc);
    for (; i < len; i++) r += x[i] * 0.0f;
    return r == r;
}

/* The vector loops, as a template over a vector vocabulary of VW lanes
 * (V_LOAD .. V_DEINT2): every vector of outputs [ox, ox + VW) whose inputs
 * lie in the row, the last one moved back to end at ow (it recomputes a few
 * outputs, the same way). Returns how many outputs from ox0 it did: the
 * caller goes on with narrower vectors, then scalars. V_DEINT2(p, e, o)
 * gives e[j] = p[2j], o[j] = p[2j + 1] in a lane order V_UNPERM2 undoes. */
#define POOL_ROW_VEC(NAME, VT, VW, V_LOAD, V_STORE, V_ZERO, V_SET1, V_ADD, V_DIV, V_SEL_LT, \
                     V_DEINT2, V_UNPERM2)                                                  \
    static int NAME(const nnr_kpool *s, const float *x0, float *yo, int ox0,          \
                    int is_max)                                                            \
    {                                                                                      \
        const int kh = s->kh, kw = s->kw, w = s->w, ow = s->ow;                            \
        const VT vdiv = V_SET1((float)(kh * kw));                                          \
        /* inputs of the vector at ox: [sw*ox, sw*ox + reach) */                           \
        const int reach = s->sw == 1 ? VW + kw - 1 : 2 * VW + (kw > 2 ? kw - 2 : 0);        \
        if ((s->sw != 1 && s->sw != 2) || w < reach) return 0;                             \
        int last = s->sw == 1 ? w - reach : (w - reach) / 2; /* largest ox that fits */  \
        if (last > ow - VW) last = ow - VW;                                                \
        if (last < ox0) return 0;                                                          \
        int ox = ox0;                                                                      \
        for (;;) {                                                                         \
            VT m = V_ZERO(), e, o;                                                         \
            int first = 1;                                                                 \
            for (int ky = 0; ky < kh; ky++) {                                              \
                const float *r = x0 + (size_t)ky * w + (size_t)s->sw * ox;                 \
                if (s->sw == 1) {                                                          \
                    for (int kx = 0; kx < kw; kx++) {                                      \
                        e = V_LOAD(r + kx);                                                \
                        if (first) m = is_max ? e : V_ADD(V_ZERO(), e), first = 0;         \
                        else m = is_max ? V_SEL_LT(m, e, e, m) : V_ADD(m, e);              \
                    }                                                                      \
                    continue;                                                              \
                }                                                                          \
                int kx = 0;                                                                \
                for (; kx + 2 <= kw; kx += 2) {                                            \
                    V_DEINT2(r + kx, e, o);                                                \
                    if (first) m = is_max ? e : V_ADD(V_ZERO(), e), first = 0;             \
                    else m = is_max ? V_SEL_LT(m, e, e, m) : V_ADD(m, e);                  \
                    m = is_max ? V_SEL_LT(m, o, o, m) : V_ADD(m, o);                       \
                }                                                                          \
                if (kx < kw) {                                                             \
                    /* the last column: odd lanes of the pair at kx - 1 (the pair     */   \
                    /* at kx may reach past the row), or even lanes when kw == 1       */  \
                    if (kx == 0) V_DEINT2(r, e, o);                                        \
                    else V_DEINT2(r + kx - 1, o, e);                                       \
                    if (first) m = is_max ? e : V_ADD(V_ZERO(), e), first = 0;             \
                    else m = is_max ? V_SEL_LT(m, e, e, m) : V_ADD(m, e);                  \
                }                                                                          \
            }                                                                              \
            if (s->sw == 2) m = V_UNPERM2(m);                                              \
            V_STORE(yo + ox, is_max ? m : V_DIV(m, vdiv));                                 \
            if (ox == last) return last + VW - ox0;                                        \
            ox = ox + 2 * VW <= last + VW ? ox + VW : last;                                \
        }                                                                                  \
    }

/* Max over 2x2 windows at stride 2 (rows r0, r1 of the window), outputs
 * [ox0, ow) VW at a time, the last vector moved back to end at ow; the
 * window's elements in row-major order, as above. Needs w >= 2*ow. */
#define POOL22_VEC(NAME, VT, VW, V_STORE, V_SEL_LT, V_DEINT2, V_UNPERM2)                   \
    static int NAME(const float *r0, const float *r1, float *yo, int ox0, int ow)        \
    {                                                                                    \
        if (ow - ox0 < VW) return 0;                                                     \
        int ox = ox0;                                                                    \
        for (;;) {                                                                       \
            VT e0, o0, e1, o1, m;                                                        \
            V_DEINT2(r0 + 2 * ox, e0, o0);                                               \
            V_DEINT2(r1 + 2 * ox, e1, o1);                                               \
            m = V_SEL_LT(e0, o0, o0, e0);                                                \
            m = V_SEL_LT(m, e1, e1, m);                                                  \
            m = V_SEL_LT(m, o1, o1, m);                                                  \
            V_STORE(yo + ox, V_UNPERM2(m));                                              \
            if (ox == ow - VW) return ow - ox0;                                          \
            ox = ox + 2 * VW <= ow ? ox + VW : ow - VW;                                  \
        }                                                                                \
    }

#define ID_(v) (v)

#if NNR_VEC_WIDTH > 1
/* the runtime's own width */
#if defined(__AVX512F__)
#define DEINT_W(p, e, o)                                                                   \
    do {                                                                                   \
        const __m512i ie_ = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, \
                                              26, 28, 30);                                 \
        const __m512i io_ = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, \
                                              27, 29, 31);                                 \
        __m512 a_ = _mm512_loadu_ps(p), b_ = _mm512_loadu_ps((p) + 16);                   \
        (e) = _mm512_permutex2var_ps(a_, ie_, b_);                                         \
        (o) = _mm512_permutex2var_ps(a_, io_, b_);                                         \
    } while (0)
#define UNPERM_W ID_
#elif defined(__AVX2__) && defined(__FMA__)
#define DEINT_W(p, e, o)                                                                   \
    do {                                                                                   \
        __m256 a_ = _mm256_loadu_ps(p), b_ = _mm256_loadu_ps((p) + 8);                    \
        (e) = _mm256_shuffle_ps(a_, b_, 0x88); /* lanes 0 1 4 5 2 3 6 7 */                 \
        (o) = _mm256_shuffle_ps(a_, b_, 0xDD);                                             \
    } while (0)
#define UNPERM_W(v) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8))
#elif defined(__ARM_NEON)
#define DEINT_W(p, e, o)                                                                   \
    do {                                                                                   \
        float32x4x2_t v_ = vld2q_f32(p);                                                   \
        (e) = v_.val[0];                                                                   \
        (o) = v_.val[1];                                                                   \
    } while (0)
#define UNPERM_W ID_
#else
#define DEINT_W(p, e, o)                                                                   \
    do {                                                                                   \
        __m128 a_ = _mm_loadu_ps(p), b_ = _mm_loadu_ps((p) + 4);                          \
        (e) = _mm_shuffle_ps(a_, b_, 0x88);                                                \
        (o) = _mm_shuffle_ps(a_, b_, 0xDD);                                                \
    } while (0)
#define UNPERM_W ID_
#endif
POOL_ROW_VEC(row_w, NNR_VEC, NNR_VEC_WIDTH, NNR_VEC_LOAD, NNR_VEC_STORE, NNR_VEC_ZERO,
             NNR_VEC_SET1, NNR_VEC_ADD, NNR_VEC_DIV, NNR_VEC_SEL_LT, DEINT_W, UNPERM_W)
POOL22_VEC(max22_w, NNR_VEC, NNR_VEC_WIDTH, NNR_VEC_STORE, NNR_VEC_SEL_LT, DEINT_W, UNPERM_W)
#endif

#if NNR_VEC_WIDTH > 8 && defined(__AVX2__)
/* 8 lanes for rows narrower than AVX-512 vectors */
#define SEL8(a, b, t, f) _mm256_blendv_ps((f), (t), _mm256_cmp_ps((a), (b), _CMP_LT_OQ))
#define DEINT8(p, e, o)                                                                    \
    do {                                                                                   \
        __m256 a_ = _mm256_loadu_ps(p), b_ = _mm256_loadu_ps((p) + 8);                    \
        (e) = _mm256_shuffle_ps(a_, b_, 0x88); /* lanes 0 1 4 5 2 3 6 7 */                 \
        (o) = _mm256_shuffle_ps(a_, b_, 0xDD);                                             \
    } while (0)
#define UNPERM8(v) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8))
POOL_ROW_VEC(row_8, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_setzero_ps,
             _mm256_set1_ps, _mm256_add_ps, _mm256_div_ps, SEL8, DEINT8, UNPERM8)
POOL22_VEC(max22_8, __m256, 8, _mm256_storeu_ps, SEL8, DEINT8, UNPERM8)
#define HAVE_ROW8 1
#endif

#if NNR_VEC_WIDTH > 4 && defined(__SSE4_1__)
/* 4 lanes for rows narrower than the runtime's vectors (AVX2/AVX-512) */
#include <smmintrin.h>
#define SEL4(a, b, t, f) _mm_blendv_ps((f), (t), _mm_cmplt_ps((a), (b)))
#define DEINT4(p, e, o)                                                                    \
    do {                                                                                   \
        __m128 a_ = _mm_loadu_ps(p), b_ = _mm_loadu_ps((p) + 4);                          \
        (e) = _mm_shuffle_ps(a_, b_, 0x88);                                                \
        (o) = _mm_shuffle_ps(a_, b_, 0xDD);                                                \
    } while (0)
POOL_ROW_VEC(row_4, __m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_setzero_ps, _mm_set1_ps,
             _mm_add_ps, _mm_div_ps, SEL4, DEINT4, ID_)
POOL22_VEC(max22_4, __m128, 4, _mm_storeu_ps, SEL4, DEINT4, ID_)
#define HAVE_ROW4 1
#endif

/* One output row oy of one plane. is_max: max, else sum then / (kh*kw). */
static void fast_row(const nnr_kpool *s, const float *xp, float *yo, int oy, int is_max)
{
    const int kh = s->kh, kw = s->kw, sw = s->sw, w = s->w;
    const float *x0 = xp + (size_t)oy * s->sh * w;
    const float div = (float)(kh * kw);
    int ox = 0;
    if (is_max && kh == 2 && kw == 2 && sw == 2) {
        const float *x1 = x0 + w;
#if NNR_VEC_WIDTH > 1
        ox += max22_w(x0, x1, yo, ox, s->ow);
#endif
#ifdef HAVE_ROW8
        ox += max22_8(x0, x1, yo, ox, s->ow);
#endif
#ifdef HAVE_ROW4
        ox += max22_4(x0, x1, yo, ox, s->ow);
#endif
        for (; ox < s->ow; ox++) {
            const float *r = x0 + 2 * (size_t)ox;
            float m = r[0];
            m = m < r[1] ? r[1] : m;
            m = m < x1[2 * ox] ? x1[2 * ox] : m;
            m = m < x1[2 * ox + 1] ? x1[2 * ox + 1] : m;
            yo[ox] = m;
        }
        return;
    }
#if NNR_VEC_WIDTH > 1
    ox += row_w(s, x0, yo, ox, is_max);
#endif
#ifdef HAVE_ROW8
    ox += row_8(s, x0, yo, ox, is_max);
#endif
#ifdef HAVE_ROW4
    ox += row_4(s, x0, yo, ox, is_max);
#endif
    for (; ox < s->ow; ox++) {
        const float *r0 = x0 + (size_t)ox * sw;
        float m = is_max ? r0[0] : 0.0f + r0[0];
        for (int ky = 0; ky < kh; ky++) {
            const float *r = r0 + (size_t)ky * w;
            for (int kx = ky == 0; kx < kw; kx++) {
                float v = r[kx];
                if (is_max) m = m < v ? v : m; else m += v;
            }
        }
        yo[ox] = is_max ? m : m / div;
    }
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* 2x2 windows at stride 2 over all planes at once (fast_ok, so w >= 2*ow):
 * the output rows of all planes are one contiguous sequence; each is done
 * in vectors of 16 (the last one masked, nothing read past the row), or,
 * when ow <= 8, two consecutive rows share a vector. The same row-major
 * select rule as above. NaN is detected on the way (an unordered compare
 * per pair of inputs): returns 0 when an input holds one (the caller then
 * redoes everything on the exact path, which gives the same results for
 * the windows without NaN), else 1. */
#define HAVE_MAX22_ALL 1
static __m512 max22_v(__m512 a0, __m512 b0, __m512 a1, __m512 b1, __m512i ie, __m512i io,
                      __mmask16 *nan)
{
    __m512 e0 = _mm512_permutex2var_ps(a0, ie, b0), o0 = _mm512_permutex2var_ps(a0, io, b0);
    __m512 e1 = _mm512_permutex2var_ps(a1, ie, b1), o1 = _mm512_permutex2var_ps(a1, io, b1);
    *nan |= _mm512_cmp_ps_mask(e0, o0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(e1, o1, _CMP_UNORD_Q);
    /* a < b ? b : a is maxps(b, a) (b when b > a, else a: equal, -0/+0 and
     * unordered alike), one instruction for a compare and a blend */
    __m512 m = _mm512_max_ps(o0, e0);
    m = _mm512_max_ps(e1, m);
    return _mm512_max_ps(o1, m);
}

static int max22_all(const nnr_kpool *s, size_t planes, const float *x, float *y)
{
    const int w = s->w, ow = s->ow, oh = s->oh;
    const size_t in = (size_t)s->h * w, rows = planes * (size_t)oh;
    __mmask16 nan = 0;
    if (ow <= 8) {
        /* lanes [0, ow) from row r, [ow, 2ow) from row r + 1: each row's
         * 2ow inputs are loaded into its own source vector */
        int ie_[16], io_[16];
        for (int l = 0; l < 16; l++) {
            int j = l < ow ? 2 * l : l < 2 * ow ? 16 + 2 * (l - ow) : 0;
            ie_[l] = j;
            io_[l] = l < 2 * ow ? j + 1 : 0;
        }
        const __m512i ie = _mm512_loadu_si512(ie_), io = _mm512_loadu_si512(io_);
        const __mmask16 mi = (__mmask16)((1u << 2 * ow) - 1);
        const __mmask16 m2 = (__mmask16)((1u << 2 * ow) - 1), m1 = (__mmask16)((1u << ow) - 1);
        size_t r = 0;
        size_t p = 0;
        int oy = 0;
        for (; r + 2 <= rows; r += 2) {
            const float *ra = x + p * in + (size_t)oy * 2 * w;
            if (++oy == oh) oy = 0, p++;
            const float *rb = x + p * in + (size_t)oy * 2 * w;
            if (++oy == oh) oy = 0, p++;
            __m512 m = max22_v(_mm512_maskz_loadu_ps(mi, ra), _mm512_maskz_loadu_ps(mi, rb),
                               _mm512_maskz_loadu_ps(mi, ra + w), _mm512_maskz_loadu_ps(mi, rb + w),
                               ie, io, &nan);
            _mm512_mask_storeu_ps(y + r * ow, m2, m);
        }
        if (r < rows) {
            const float *ra = x + p * in + (size_t)oy * 2 * w;
            __m512 z = _mm512_setzero_ps();
            __m512 m = max22_v(_mm512_maskz_loadu_ps(mi, ra), z, _mm512_maskz_loadu_ps(mi, ra + w), z,
                               ie, io, &nan);
            _mm512_mask_storeu_ps(y + r * ow, m1, m);
        }
        return nan == 0;
    }
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    /* the last (partial) vector of a row */
    const int ox_last = (ow - 1) / 16 * 16, n = ow - ox_last;
    const __mmask16 mo = (__mmask16)((1u << n) - 1);
    const __mmask16 ma = (__mmask16)((1u << (n > 8 ? 16 : 2 * n)) - 1);
    const __mmask16 mb = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
    for (size_t p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = x + p * in + (size_t)oy * 2 * w, *r1 = r0 + w;
            float *yo = y + (p * oh + oy) * ow;
            int ox = 0;
            for (; ox < ox_last; ox += 16) {
                const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
                __m512 m = max22_v(_mm512_loadu_ps(p0), _mm512_loadu_ps(p0 + 16),
                                   _mm512_loadu_ps(p1), _mm512_loadu_ps(p1 + 16), ie, io, &nan);
                _mm512_storeu_ps(yo + ox, m);
            }
            const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
            __m512 m = max22_v(_mm512_maskz_loadu_ps(ma, p0), _mm512_maskz_loadu_ps(mb, p0 + 16),
                               _mm512_maskz_loadu_ps(ma, p1), _mm512_maskz_loadu_ps(mb, p1 + 16),
                               ie, io, &nan);
            _mm512_mask_storeu_ps(yo + ox, mo, m);
        }
    return nan == 0;
}
#elif !defined(NNR_SIMD_SCALAR) && defined(__AVX2__) && defined(__FMA__)
/* The same on AVX2, vectors of 8 outputs: a row's last vector moved back to
 * end at ow (it recomputes a few outputs, the same way), or, when ow < 8,
 * one vector a row (masked loads, nothing read past the row) whose extra
 * lanes the next rows' stores overwrite (masked when they would go past
 * the last row). For
 * ordered values m < v ? v : m is _mm256_max_ps(v, m) (v when v > m, else
 * m: the first maximum wins, -0/+0 ties too); NaN is detected as above. */
#define HAVE_MAX22_ALL 1
static __m256 max22_v8(__m256 a0, __m256 b0, __m256 a1, __m256 b1, __m256 *nan)
{
    /* e/o: the even/odd inputs, lanes 0 1 4 5 2 3 6 7 */
    const __m256 e0 = _mm256_shuffle_ps(a0, b0, 0x88), o0 = _mm256_shuffle_ps(a0, b0, 0xDD);
    const __m256 e1 = _mm256_shuffle_ps(a1, b1, 0x88), o1 = _mm256_shuffle_ps(a1, b1, 0xDD);
    *nan = _mm256_or_ps(*nan, _mm256_or_ps(_mm256_cmp_ps(e0, o0, _CMP_UNORD_Q),
                                           _mm256_cmp_ps(e1, o1, _CMP_UNORD_Q)));
    __m256 m = _mm256_max_ps(o0, e0);
    m = _mm256_max_ps(e1, m);
    m = _mm256_max_ps(o1, m);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
}

static int max22_all(const nnr_kpool *s, size_t planes, const float *x, float *y)
{
    const int w = s->w, ow = s->ow, oh = s->oh;
    const size_t in = (size_t)s->h * w;
    __m256 nan = _mm256_setzero_ps();
    if (ow < 8) {
        const __m256i ma = nnr_mask8(2 * ow), mb = nnr_mask8(2 * ow - 8), mo = nnr_mask8(ow);
        for (size_t p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++) {
                const float *r0 = x + p * in + (size_t)oy * 2 * w, *r1 = r0 + w;
                const __m256 m = max22_v8(_mm256_maskload_ps(r0, ma), _mm256_maskload_ps(r0 + 8, mb),
                                          _mm256_maskload_ps(r1, ma), _mm256_maskload_ps(r1 + 8, mb),
                                          &nan);
                float *yo = y + (p * oh + oy) * ow;
                if ((p * oh + oy) * ow + 8 > planes * oh * ow) /* past the last row */
                    _mm256_maskstore_ps(yo, mo, m);
                else
                    _mm256_storeu_ps(yo, m);
            }
        return _mm256_movemask_ps(nan) == 0;
    }
    for (size_t p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = x + p * in + (size_t)oy * 2 * w, *r1 = r0 + w;
            float *yo = y + (p * oh + oy) * ow;
            for (int ox = 0;;) {
                const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
                _mm256_storeu_ps(yo + ox, max22_v8(_mm256_loadu_ps(p0), _mm256_loadu_ps(p0 + 8),
                                                   _mm256_loadu_ps(p1), _mm256_loadu_ps(p1 + 8), &nan));
                if (ox == ow - 8) break;
                ox = ox + 16 <= ow ? ox + 8 : ow - 8;
            }
        }
    return _mm256_movemask_ps(nan) == 0;
}
#endif

/* Index (within the plane) of the window's maximum, or -1 if the window
 * holds no input element; *out receives the value (-inf for none). */
static ptrdiff_t window_argmax(const nnr_kpool *s, const float *xp, int oy, int ox,
                               float *out)
{
    int y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
    int y1 = y0 + s->kh, x1 = x0 + s->kw;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > s->h) y1 = s->h;
    if (x1 > s->w) x1 = s->w;
    float m = -INFINITY;
    ptrdiff_t arg = (y0 < y1 && x0 < x1) ? (ptrdiff_t)y0 * s->w + x0 : -1;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            ptrdiff_t j = (ptrdiff_t)iy * s->w + ix;
            float v = xp[j];
            if (v > m || isnan(v)) { /* exactly PyTorch's update rule */
                m = v;
                arg = j;
            }
        }
    *out = m;
    return arg;
}

void nnr_kern_maxpool2d_f32(int n, const nnr_kpool *s, const float *x, float *y)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    const int fast = fast_ok(s);
#ifdef HAVE_MAX22_ALL
    if (fast && s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 && planes > 0 &&
        s->oh > 0 && s->ow > 0) {
        /* ranges of planes across threads (with OpenMP): each window's max
         * is the same whichever vector it is computed in */
        int ok = 1;
#ifdef _OPENMP
        const int nth = nnr_kern_threads((double)(planes * in), POOL_PAR_MIN, (long)planes);
        /* a parallel region only when it splits: one whose if clause is
         * false still starts a team of one (~0.7 us per call on Zen 3) */
        if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static) reduction(&& : ok)
            for (int t = 0; t < nth; t++) {
                const size_t p0 = planes * (size_t)t / (size_t)nth;
                const size_t p1 = planes * (size_t)(t + 1) / (size_t)nth;
                if (p1 > p0) ok = max22_all(s, p1 - p0, x + p0 * in, y + p0 * on) && ok;
            }
        } else
#endif
            ok = max22_all(s, planes, x, y);
        if (ok) return; /* else a NaN: the generic loops below */
    }
#endif
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        float *yp = y + p * on;
        if (fast && plane_finite(xp, in)) {
            for (int oy = 0; oy < s->oh; oy++)
                fast_row(s, xp, yp + (size_t)oy * s->ow, oy, 1);
            continue;
        }
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                window_argmax(s, xp, oy, ox, &yp[(size_t)oy * s->ow + ox]);
    }
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* u = v > m || isnan(v), the update rule, as a mask */
static inline __mmask16 upd22(__m512 v, __m512 m)
{
    return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

/* n <= 16 windows of backward22 from output column ox: the four candidates
 * de-interleaved, the winner of each window by the update rule in scan
 * order, dy added to the zero (dx was cleared) at the winner's place;
 * masked loads and stores: nothing past the n windows is touched */
static inline void backward22_v(const float *r0, const float *r1, const float *dy, float *d0,
                                float *d1, int n)
{
    const __mmask16 ml = (__mmask16)(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
    const __mmask16 mh = (__mmask16)(n > 8 ? (1u << (2 * (n - 8))) - 1 : 0);
    const __mmask16 mn = (__mmask16)((1u << n) - 1);
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ih = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    __m512 a0 = _mm512_maskz_loadu_ps(ml, r0), b0 = _mm512_maskz_loadu_ps(mh, r0 + 16);
    __m512 a1 = _mm512_maskz_loadu_ps(ml, r1), b1 = _mm512_maskz_loadu_ps(mh, r1 + 16);
    __m512 e0 = _mm512_permutex2var_ps(a0, ie, b0), o0 = _mm512_permutex2var_ps(a0, io, b0);
    __m512 e1 = _mm512_permutex2var_ps(a1, ie, b1), o1 = _mm512_permutex2var_ps(a1, io, b1);
    __mmask16 k1 = upd22(o0, e0);
    __m512 m = _mm512_mask_blend_ps(k1, e0, o0);
    __mmask16 k2 = upd22(e1, m);
    m = _mm512_mask_blend_ps(k2, m, e1);
    __mmask16 k3 = upd22(o1, m);
    __mmask16 w3 = k3, w2 = k2 & ~k3, w1 = k1 & ~k2 & ~k3, w0 = ~(k1 | k2 | k3);
    const __m512 g = _mm512_maskz_loadu_ps(mn, dy), z = _mm512_setzero_ps();
    /* + 0: the bits of 0 += dy (-0 becomes +0) */
    __m512 v0 = _mm512_add_ps(_mm512_maskz_mov_ps(w0, g), z);
    __m512 v1 = _mm512_add_ps(_mm512_maskz_mov_ps(w1, g), z);
    __m512 v2 = _mm512_add_ps(_mm512_maskz_mov_ps(w2, g), z);
    __m512 v3 = _mm512_add_ps(_mm512_maskz_mov_ps(w3, g), z);
    _mm512_mask_storeu_ps(d0, ml, _mm512_permutex2var_ps(v0, il, v1));
    _mm512_mask_storeu_ps(d0 + 16, mh, _mm512_permutex2var_ps(v0, ih, v1));
    _mm512_mask_storeu_ps(d1, ml, _mm512_permutex2var_ps(v2, il, v3));
    _mm512_mask_storeu_ps(d1 + 16, mh, _mm512_permutex2var_ps(v2, ih, v3));
}
#endif

/* The backward of one plane for 2x2 windows at stride 2 inside the input
 * (fast_ok; dx cleared): window_argmax's scan, in its order and with its
 * update rule, without the clipping, 16 windows at a time with AVX-512. */
static void backward22(const nnr_kpool *s, const float *xp, const float *dyp, float *dxp)
{
    const ptrdiff_t w = s->w;
    for (int oy = 0; oy < s->oh; oy++) {
        const float *r0 = xp + (ptrdiff_t)2 * oy * w, *r1 = r0 + w;
        const float *dyr = dyp + (size_t)oy * s->ow;
        float *d0 = dxp + (ptrdiff_t)2 * oy * w;
        int ox = 0;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
        for (; ox < s->ow; ox += 16)
            backward22_v(r0 + 2 * ox, r1 + 2 * ox, dyr + ox, d0 + 2 * ox, d0 + w + 2 * ox,
                         s->ow - ox < 16 ? s->ow - ox : 16);
#endif
        for (; ox < s->ow; ox++) {
            /* selects rather than branches: the winner is data, not a pattern */
            float m = r0[2 * ox], v = r0[2 * ox + 1];
            ptrdiff_t arg = 0;
            int u = v > m || isnan(v);
            m = u ? v : m;
            arg = u ? 1 : arg;
            v = r1[2 * ox];
            u = v > m || isnan(v);
            m = u ? v : m;
            arg = u ? w : arg;
            v = r1[2 * ox + 1];
            u = v > m || isnan(v);
            arg = u ? w + 1 : arg;
            d0[2 * ox + arg] += dyr[ox];
        }
    }
}

/* dx of one plane (zeroed by the caller unless its windows tile it): each
 * window's gradient to its first maximum (k22: the 2x2 stride-2 kernel) */
static void maxpool_backward_plane(const nnr_kpool *s, int k22, const float *xp,
                                   const float *dyp, float *dxp)
{
    if (k22) {
        backward22(s, xp, dyp, dxp);
        return;
    }
    for (int oy = 0; oy < s->oh; oy++)
        for (int ox = 0; ox < s->ow; ox++) {
            float m;
            ptrdiff_t j = window_argmax(s, xp, oy, ox, &m);
            if (j >= 0) dxp[j] += dyp[(size_t)oy * s->ow + ox];
        }
}

void nnr_kern_maxpool2d_backward_f32(int n, const nnr_kpool *s, const float *x,
                                const float *dy, float *dx)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    const int k22 = fast_ok(s) && s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    /* backward22_v writes all four places of every window: when the windows
     * tile the plane, no element is left for the clearing (W6: 19 MB a step) */
    const int tiled = k22 && 2 * s->oh == s->h && 2 * s->ow == s->w;
#else
    const int tiled = 0;
#endif
    if (!tiled) memset(dx, 0, planes * in * sizeof *dx);
    /* planes are independent: split across threads (with OpenMP; a
     * parallel region only when it splits, as in the forward) */
#ifdef _OPENMP
    const int nth = nnr_kern_threads((double)(planes * in), POOL_PAR_MIN, (long)planes);
    if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
        for (size_t p = 0; p < planes; p++)
            maxpool_backward_plane(s, k22, x + p * in, dy + p * on, dx + p * in);
        return;
    }
#endif
    for (size_t p = 0; p < planes; p++)
        maxpool_backward_plane(s, k22, x + p * in, dy + p * on, dx + p * in);
}

/* Window of output (oy, ox) clipped to the input, and PyTorch's divisor. */
static int avg_window(const nnr_kpool *s, int oy, int ox, int *y0, int *y1, int *x0,
                      int *x1)
{
    int hs = oy * s->sh - s->ph, ws = ox * s->sw - s->pw;
    int he = hs + s->kh, we = ws + s->kw;
    if (he > s->h + s->ph) he = s->h + s->ph;
    if (we > s->w + s->pw) we = s->w + s->pw;
    int div = (he - hs) * (we - ws);
    *y0 = hs < 0 ? 0 : hs;
    *x0 = ws < 0 ? 0 : ws;
    *y1 = he > s->h ? s->h : he;
    *x1 = we > s->w ? s->w : we;
    return div;
}

void nnr_kern_avgpool2d_f32(int n, const nnr_kpool *s, const float *x, float *y)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    const int fast = fast_ok(s);
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in;
        float *yp = y + p * on;
        if (fast) {
            for (int oy = 0; oy < s->oh; oy++)
                fast_row(s, xp, yp + (size_t)oy * s->ow, oy, 0);
            continue;
        }
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                int div = avg_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float acc = 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) acc += xp[(size_t)iy * s->w + ix];
                yp[(size_t)oy * s->ow + ox] = acc / (float)div;
            }
    }
}

void nnr_kern_avgpool2d_backward_f32(int n, const nnr_kpool *s, const float *dy,
                                float *dx)
{
    const size_t planes = (size_t)n * s->c, in = (size_t)s->h * s->w;
    const size_t on = (size_t)s->oh * s->ow;
    memset(dx, 0, planes * in * sizeof *dx);
    for (size_t p = 0; p < planes; p++) {
        const float *dyp = dy + p * on;
        float *dxp = dx + p * in;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                int div = avg_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float g = dyp[(size_t)oy * s->ow + ox] / (float)div;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) dxp[(size_t)iy * s->w + ix] += g;
            }
    }
}
