/* gemm_bf16.c — linear layers whose weights are stored as bfloat16 (nnc
 * --dtype bf16): the weight rounded once to bf16 (round to nearest even,
 * NaN kept NaN) and packed in panels; the forward widens each weight to
 * fp32 in registers and runs fp32 FMAs with fp32 activations and
 * accumulators. The result is fp32 math on bf16-rounded weights (only the
 * weights lose precision; the order of the sums is this file's).
 *
 * Layout (the same for every ISA, so nnc can pack at compile time): panels
 * of NNR_PACK_NR = 32 output columns, each [in][32] bf16, columns past out
 * zero. Within a row of a panel, bf16 number 2i holds column i and number
 * 2i+1 column 16+i (i < 16). Read as 32-bit lanes, lane i then holds
 * column i in its low half and column 16+i in its high half, so widening
 * is two bit operations per vector: lane << 16 gives column i, lane &
 * 0xffff0000 gives column 16+i. That is exact (a bf16 is the upper half of
 * the fp32 with the same value) and cheaper than a zero-extension shuffle
 * (vpmovzxwd) per vector. vdpbf16ps (AVX512_BF16) is not used: it rounds
 * the activations to bf16 as well, which is not "weights in bf16". A load of
 * 2W bf16 at number 2Wq gives columns [Wq, Wq+W) and [16+Wq, 16+Wq+W).
 *
 * Batch below 4 reads each panel once per row with 2 independent chains
 * of FMAs per vector, two panels at a time with AVX-512 (the weights are
 * read from L2 once per call: half the bytes of fp32); larger batches run an MR-row tile kernel so each widened
 * weight serves MR rows. Threads (OpenMP builds): ranges of panels, k is
 * never split, so results do not depend on the thread count. */
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kern.h"
#include "../simd.h"

#define W NNR_VEC_WIDTH
#define P NNR_PACK_NR
#define HALF (P / 2)
/* groups of 2W columns in a panel: one load each */
#define G (HALF / W)
#if P != 32 || HALF % W != 0
#error "the bf16 panel layout assumes 32 columns and a vector width dividing 16"
#endif
#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 16
#define MR 8
#else
#define MR 6
#endif
/* chains of FMAs per vector in the one-row kernels: even and odd p (the
 * same in row_panel and row_panel2, so pairing panels changes no bits) */
#define CH 2
#define NNR_PAR_MIN (1 << 20)

uint16_t nnr_bf16_from_f32(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)            /* NaN: quiet, sign kept */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);                 /* to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float nnr_f32_from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

size_t nnr_linear_packed_bf16_size(int in, int out)
{
    return (nnr_linear_packed_size(in, out) + 1) / 2;
}

void nnr_pack_linear_weight_bf16(int in, int out, const float *w, void *wp)
{
    uint16_t *d = wp;
    size_t panels = ((size_t)(out > 0 ? out : 0) + P - 1) / P;
    for (size_t pn = 0; pn < panels; pn++)
        for (int p = 0; p < in; p++) {
            uint16_t *row = d + (pn * (size_t)in + (size_t)p) * P;
            for (int c = 0; c < P; c++) {
                size_t col = pn * P + (size_t)c;
                float v = col < (size_t)out ? w[col * (size_t)in + (size_t)p] : 0.0f;
                row[c < HALF ? 2 * c : 2 * (c - HALF) + 1] = nnr_bf16_from_f32(v);
            }
        }
    if (in <= 0 || out <= 0) d[0] = d[1] = 0;
}

/* 2W bf16 from p: *lo the columns of the even numbers, *hi of the odd ones */
static inline void load2(const uint16_t *p, NNR_VEC *lo, NNR_VEC *hi)
{
#if defined(NNR_SIMD_SCALAR_)
    uint16_t h[2];
    memcpy(h, p, sizeof h);
    *lo = nnr_f32_from_bf16(h[0]);
    *hi = nnr_f32_from_bf16(h[1]);
#elif defined(__AVX512F__)
    __m512i v = _mm512_loadu_si512((const void *)p);
#if defined(__GNUC__)
    /* one load for both halves: compilers otherwise fold the load into
     * both the shift and the and, reading the 64 bytes twice (the load
     * ports are what limits batch 1) */
    __asm__("" : "+v"(v));
#endif
    *lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    *hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
#elif defined(__AVX2__) && defined(__FMA__)
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
#if defined(__GNUC__)
    /* as above: GCC folds the load into both vpslld's and vpand's operands
     * (4 loads per row instead of 2; W1's 784x128 layer on Zen 3: 4.0 ->
     * 3.2 us) */
    __asm__("" : "+x"(v));
#endif
    *lo = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    *hi = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
#elif defined(__ARM_NEON)
    uint32x4_t v = vreinterpretq_u32_u16(vld1q_u16(p));
    *lo = vreinterpretq_f32_u32(vshlq_n_u32(v, 16));
    *hi = vreinterpretq_f32_u32(vandq_u32(v, vdupq_n_u32(0xffff0000u)));
#else
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    *lo = _mm_castsi128_ps(_mm_slli_epi32(v, 16));
    *hi = _mm_castsi128_ps(_mm_and_si128(v, _mm_set1_epi32((int)0xffff0000u)));
#endif
}

/* What follows the sums: + bias, then relu/leaky_relu in registers (other
 * activations run over the finished columns afterwards). */
typedef struct {
    const float *b;     /* bias of the panel's first column, or NULL */
    nnr_act act;
    float param;
} epi;

/* W values from v (cnt of them valid) to bias-padded vector */
static inline NNR_VEC load_part(const float *v, int cnt)
{
    if (cnt >= W) return NNR_VEC_LOAD(v);
    float t[W] = {0};
    for (int j = 0; j < cnt; j++) t[j] = v[j];
    return NNR_VEC_LOAD(t);
}

static inline void store_part(float *y, NNR_VEC v, int cnt)
{
    if (cnt >= W) {
        NNR_VEC_STORE(y, v);
        return;
    }
    float t[W];
    NNR_VEC_STORE(t, v);
    for (int j = 0; j < cnt; j++) y[j] = t[j];
}

static inline NNR_VEC finish(const epi *e, NNR_VEC v, int col, int cnt)
{
    if (e->b) v = NNR_VEC_ADD(v, load_part(e->b + col, cnt));
    if (e->act == NNR_ACT_RELU) return NNR_VEC_MAX(NNR_VEC_ZERO(), v);
    if (e->act == NNR_ACT_LEAKY_RELU)
        return NNR_VEC_SEL_LT(NNR_VEC_ZERO(), v, v, NNR_VEC_MUL(v, NNR_VEC_SET1(e->param)));
    return v;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int valid(int nr, int col) { return col >= nr ? 0 : imin(W, nr - col); }

/* Vector k of a row: columns [Wk/2.. ) for even k, [16 + W(k-1)/2 ..) for odd */
#define COL(k) ((k) % 2 ? HALF + W * ((k) / 2) : W * ((k) / 2))

/* One row: y[0..nr) = x · panel, CH chains of FMAs per vector. */
static void row_panel(int k, const float *x, const uint16_t *bp, float *y, int nr, const epi *e)
{
    NNR_VEC acc[CH][2 * G];
    for (int c = 0; c < CH; c++)
        for (int v = 0; v < 2 * G; v++) acc[c][v] = NNR_VEC_ZERO();
    int p = 0;
    for (; p + CH <= k; p += CH)
        for (int c = 0; c < CH; c++) {
            NNR_VEC xv = NNR_VEC_SET1(x[p + c]);
            const uint16_t *r = bp + (size_t)(p + c) * P;
            for (int q = 0; q < G; q++) {
                NNR_VEC lo, hi;
                load2(r + 2 * W * q, &lo, &hi);
                acc[c][2 * q] = NNR_VEC_FMA(xv, lo, acc[c][2 * q]);
                acc[c][2 * q + 1] = NNR_VEC_FMA(xv, hi, acc[c][2 * q + 1]);
            }
        }
    for (; p < k; p++) {
        NNR_VEC xv = NNR_VEC_SET1(x[p]);
        for (int q = 0; q < G; q++) {
            NNR_VEC lo, hi;
            load2(bp + (size_t)p * P + 2 * W * q, &lo, &hi);
            acc[0][2 * q] = NNR_VEC_FMA(xv, lo, acc[0][2 * q]);
            acc[0][2 * q + 1] = NNR_VEC_FMA(xv, hi, acc[0][2 * q + 1]);
        }
    }
    for (int v = 0; v < 2 * G; v++) {
        NNR_VEC s = acc[0][v];
        for (int c = 1; c < CH; c++) s = NNR_VEC_ADD(s, acc[c][v]);
        int col = COL(v), cnt = valid(nr, col);
        if (cnt > 0) store_part(y + col, finish(e, s, col, cnt), cnt);
    }
}

#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 16
/* AVX-512 (one group per panel): two panels at once for one row, so each
 * broadcast of x serves 64 columns (the broadcasts share the load ports
 * with the weights); 2 chains per vector, 8 accumulators. */
static void row_panel2(int k, const float *x, const uint16_t *bp, const uint16_t *bq, float *y,
                       int nr, const epi *e)
{
    NNR_VEC a0 = NNR_VEC_ZERO(), a1 = NNR_VEC_ZERO(), a2 = NNR_VEC_ZERO(), a3 = NNR_VEC_ZERO();
    NNR_VEC b0 = NNR_VEC_ZERO(), b1 = NNR_VEC_ZERO(), b2 = NNR_VEC_ZERO(), b3 = NNR_VEC_ZERO();
    NNR_VEC lo, hi, xv;
    int p = 0;
    for (; p + 2 <= k; p += 2, bp += 2 * P, bq += 2 * P) {
        xv = NNR_VEC_SET1(x[p]);
        load2(bp, &lo, &hi);
        a0 = NNR_VEC_FMA(xv, lo, a0);
        a1 = NNR_VEC_FMA(xv, hi, a1);
        load2(bq, &lo, &hi);
        a2 = NNR_VEC_FMA(xv, lo, a2);
        a3 = NNR_VEC_FMA(xv, hi, a3);
        xv = NNR_VEC_SET1(x[p + 1]);
        load2(bp + P, &lo, &hi);
        b0 = NNR_VEC_FMA(xv, lo, b0);
        b1 = NNR_VEC_FMA(xv, hi, b1);
        load2(bq + P, &lo, &hi);
        b2 = NNR_VEC_FMA(xv, lo, b2);
        b3 = NNR_VEC_FMA(xv, hi, b3);
    }
    if (p < k) {
        xv = NNR_VEC_SET1(x[p]);
        load2(bp, &lo, &hi);
        a0 = NNR_VEC_FMA(xv, lo, a0);
        a1 = NNR_VEC_FMA(xv, hi, a1);
        load2(bq, &lo, &hi);
        a2 = NNR_VEC_FMA(xv, lo, a2);
        a3 = NNR_VEC_FMA(xv, hi, a3);
    }
    const NNR_VEC s[4] = {NNR_VEC_ADD(a0, b0), NNR_VEC_ADD(a1, b1), NNR_VEC_ADD(a2, b2),
                          NNR_VEC_ADD(a3, b3)};
    for (int v = 0; v < 4; v++) {
        int col = (v / 2) * P + COL(v % 2), cnt = col >= nr ? 0 : imin(W, nr - col);
        if (cnt > 0) store_part(y + col, finish(e, s[v], col, cnt), cnt);
    }
}
#define NNR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define NNR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif

/* mr <= MR rows (stride lda/ldy) x the 2W columns of group q of a panel:
 * each widened weight serves every row. Rows >= mr alias row mr-1 and
 * are discarded. */
static void tile(int k, const float *x, int lda, int mr, const uint16_t *bp, int q, float *y,
                 int ldy, int nr, const epi *e)
{
#define DECL(i)                                                            \
    const float *x##i = x + (ptrdiff_t)imin(i, mr - 1) * lda;              \
    NNR_VEC c##i##0 = NNR_VEC_ZERO(), c##i##1 = NNR_VEC_ZERO();
    NNR_ROWS(DECL)
#undef DECL
    const uint16_t *b = bp + 2 * W * q;
    for (int p = 0; p < k; p++, b += P) {
        NNR_VEC lo, hi, xv;
        load2(b, &lo, &hi);
#define STEP(i)                                                            \
        xv = NNR_VEC_SET1(x##i[p]);                                        \
        c##i##0 = NNR_VEC_FMA(xv, lo, c##i##0);                            \
        c##i##1 = NNR_VEC_FMA(xv, hi, c##i##1);
        NNR_ROWS(STEP)
#undef STEP
    }
    const int cl = COL(2 * q), ch = COL(2 * q + 1);
    const int nl = valid(nr, cl), nh = valid(nr, ch);
#define STORE(i)                                                           \
    if (i < mr) {                                                          \
        float *yr = y + (ptrdiff_t)(i) * ldy;                              \
        if (nl > 0) store_part(yr + cl, finish(e, c##i##0, cl, nl), nl);   \
        if (nh > 0) store_part(yr + ch, finish(e, c##i##1, ch, nh), nh);   \
    }
    NNR_ROWS(STORE)
#undef STORE
}

/* Panels [p0, p1) of the product: every row. */
static void panels(int n, int in, int out, const float *x, const uint16_t *wp, const float *b,
                   float *y, nnr_act act, float param, int p0, int p1)
{
    const int fused = act == NNR_ACT_NONE || act == NNR_ACT_RELU || act == NNR_ACT_LEAKY_RELU;
    for (int pn = p0; pn < p1; pn++) {
        const int jc = pn * P, nr = imin(P, out - jc);
        const uint16_t *bp = wp + (size_t)pn * (size_t)in * P;
        const epi e = {b ? b + jc : NULL, fused ? act : NNR_ACT_NONE, param};
#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 16
        if (n < 4 && pn + 1 < p1) {
            /* panels pn and pn+1: 64 columns, nr2 of them valid */
            const int nr2 = imin(2 * P, out - jc);
            for (int i = 0; i < n; i++)
                row_panel2(in, x + (size_t)i * in, bp, bp + (size_t)in * P, y + (size_t)i * out + jc, nr2,
                           &e);
            if (!fused)
                for (int i = 0; i < n; i++) {
                    float *r = y + (size_t)i * out + jc;
                    nnr_act_f32(act, param, (size_t)nr2, r, r);
                }
            pn++;
            continue;
        }
#endif
        if (n < 4) {
            for (int i = 0; i < n; i++)
                row_panel(in, x + (size_t)i * in, bp, y + (size_t)i * out + jc, nr, &e);
        } else {
            for (int i = 0; i < n; i += MR)
                for (int q = 0; q < G; q++)
                    tile(in, x + (size_t)i * in, in, imin(MR, n - i), bp, q,
                         y + (size_t)i * out + jc, out, nr, &e);
        }
        if (!fused)
            for (int i = 0; i < n; i++) {
                float *r = y + (size_t)i * out + jc;
                nnr_act_f32(act, param, (size_t)nr, r, r);
            }
    }
}

void nnr_linear_packed_bf16(int n, int in, int out, const float *x, const void *wp,
                            const float *b, float *y, nnr_act act, float act_param)
{
    if (n <= 0 || out <= 0) return;
    if (in <= 0) {
        for (int i = 0; i < n; i++) {
            float *r = y + (size_t)i * out;
            for (int j = 0; j < out; j++) r[j] = b ? b[j] : 0.0f;
            if (act != NNR_ACT_NONE) nnr_act_f32(act, act_param, (size_t)out, r, r);
        }
        return;
    }
    const int np = (out + P - 1) / P;
#ifdef _OPENMP
    /* a parallel region only for nth > 1: with a false if clause it would
     * still start a team of one (~0.7 us per call on Zen 3) */
    const int nth = nnr_kern_threads((double)n * out * in, NNR_PAR_MIN, np);
    if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
        for (int t = 0; t < nth; t++)
            panels(n, in, out, x, wp, b, y, act, act_param, (int)((long)np * t / nth),
                   (int)((long)np * (t + 1) / nth));
        return;
    }
#endif
    panels(n, in, out, x, wp, b, y, act, act_param, 0, np);
}
