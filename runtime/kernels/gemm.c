/* gemm.c — single-precision GEMM (nnr_gemm_f32) and its fused-epilogue form
 * (nnr_gemm_ex_f32, kern.h) that linear and conv2d use.
 *
 * One register-blocked micro-kernel of MR x NR = 6 x (2 vectors) (8 x 2 with
 * AVX-512) serves every transpose case: A is read in place through a (row, column) stride pair
 * (broadcast one element at a time); B is packed into a KC x NR panel on
 * the stack (zero-padded at the right edge), or read in place when it is
 * row-major, a full panel wide and used by fewer than 2*MR rows (4*MR on
 * AVX2 when ldb is no multiple of 64: b_in_place). On AVX2 the inner loop
 * addresses A by one index (or one pointer and constant row offsets). A
 * transposed B (linear's [out, in] weight) is packed by 8x8 register
 * transposes; a panel at most one vector wide (nr <= W) runs a half-width
 * micro-kernel with the same per-element operations. Blocking:
 * KC rows of k (a B panel of ~16 KiB stays in L1), MC rows of A per block
 * (~192 KiB, L2); with MR = 6 (AVX2 and narrower) the rows of the next
 * tile of C are prefetched before each micro-kernel call (at 4 KiB ldc
 * they otherwise miss at the kernel's first load: ~10% of its time at
 * 1024^3 on Zen 3). Small m with a transposed B (batch-1 linear) is a GEMV:
 * each row of B is streamed once, GV rows at a time sharing every load of A.
 *
 * Threads (only when compiled with OpenMP, e.g. -fopenmp; without it the
 * pragmas are ignored): a product of at least NNR_PAR_MIN multiply-adds is
 * split into contiguous ranges of whole MR-row tiles (or NR-column tiles,
 * or GV-row GEMV blocks), one per thread. The tile grid and every element's
 * k-order are the same as single-threaded, so results are bit-identical
 * for any thread count; k is never split. No allocation, no global state.
 */
#include <stddef.h>
#include <string.h>
#ifdef NNR_GEMM_TRACE
#include <stdio.h> /* bench/gemm_shapes.sh: each product's shape on stderr */
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kern.h"
#include "../simd.h"
#if !defined(NNR_SIMD_SCALAR) && (defined(__AVX2__) || defined(__SSE2__))
#include <immintrin.h>  /* the packing transposes */
#endif

#define W NNR_VEC_WIDTH
/* rows per micro-kernel tile: 8 x 2 accumulators with AVX-512's 32
 * registers, 6 x 2 with 16 (AVX2 and below) */
#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 16
#define MR 8
#define NNR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define MR 6
#define NNR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
#if NNR_PACK_NR % (2 * NNR_VEC_WIDTH) != 0
#error "the packed panel width must be a multiple of the micro-kernel's"
#endif
#define NR (2 * W)
/* AVX2: the micro-kernel's inner loop addresses A by (row pointer, index)
 * or (pointer, row offset) when A's layout allows, instead of one pointer
 * increment per row and step (the same operations on the same values) */
#if !defined(NNR_SIMD_SCALAR) && NNR_VEC_WIDTH == 8 && defined(__AVX2__)
#define NNR_GEMM_A_ADDR 1
#else
#define NNR_GEMM_A_ADDR 0
#endif

#define KC_RAW (4096 / NR)
#define KC (KC_RAW > 512 ? 512 : KC_RAW)
/* rows of A per block: an MC x KC block of A is ~192 KiB (L2) */
#define MC (49152 / KC / MR * MR)
/* multiply-adds below which a product stays on one thread (~0.1 ms) */
#define NNR_PAR_MIN (1 << 20)

static int imin(int a, int b) { return a < b ? a : b; }

/* The partial edge of a tile: rows 0..mr and columns 0..nr of C staged
 * into t (MR rows of stride ts, a multiple of W; the rest zeroed), and
 * written back from it. */
static inline void load_tile(const float *c, ptrdiff_t ldc, float *t, int ts, int mr, int nr)
{
    for (int i = 0; i < MR; i++) {
        const float *r = c + (ptrdiff_t)i * ldc;
        float *d = t + i * ts;
        int j = 0;
        if (i < mr)
            for (; j < nr; j++) d[j] = r[j];
        for (; j < ts; j++) d[j] = 0.0f;
    }
}

static inline void store_tile(float *c, ptrdiff_t ldc, const float *t, int ts, int mr, int nr)
{
    for (int i = 0; i < mr; i++) memcpy(c + (ptrdiff_t)i * ldc, t + i * ts, (size_t)nr * sizeof *c);
}

/* The epilogue a micro-kernel applies in registers before its store, on
 * the last k-block of a tile: + row bias, + column bias, then relu or
 * leaky_relu: the operations, in the order, of epilogue() below, so the
 * bits are the same either way. rb starts at the tile's first row, cb at
 * its first column (nr valid entries). */
typedef struct {
    const float *rb, *cb;
    nnr_act act; /* NNR_ACT_NONE, NNR_ACT_RELU or NNR_ACT_LEAKY_RELU */
    float param;
} nnr_epi;

static int epi_fusable(nnr_act act)
{
    return act == NNR_ACT_NONE || act == NNR_ACT_RELU || act == NNR_ACT_LEAKY_RELU;
}

/* the column bias as vectors: whole when nr covers them, else zero-padded */
static inline NNR_VEC epi_cb(const nnr_epi *e, int j, int nr)
{
    if (!e->cb) return NNR_VEC_ZERO();
    if (j + W <= nr) return NNR_VEC_LOAD(e->cb + j);
    float t[W] = {0};
    for (int q = j; q < nr; q++) t[q - j] = e->cb[q];
    return NNR_VEC_LOAD(t);
}

static inline NNR_VEC epi_apply(const nnr_epi *e, NNR_VEC v, int row, NNR_VEC cb)
{
    if (e->rb) v = NNR_VEC_ADD(v, NNR_VEC_SET1(e->rb[row]));
    if (e->cb) v = NNR_VEC_ADD(v, cb);
    if (e->act == NNR_ACT_RELU) return NNR_VEC_MAX(NNR_VEC_ZERO(), v);
    if (e->act == NNR_ACT_LEAKY_RELU)
        return NNR_VEC_SEL_LT(NNR_VEC_ZERO(), v, v, NNR_VEC_MUL(v, NNR_VEC_SET1(e->param)));
    return v;
}

/* C[mr x nr] (+)= A[mr x kc] · B[kc x NR]. A(i, p) = a[i*rsa + p*csa];
 * B(p, j) = b[p*ldbp + j] for j < NR (columns >= nr are computed, not stored).
 * Rows >= mr alias row mr-1 and are discarded. With load_c the accumulators
 * start from C: one chain of fused multiply-adds per element whatever the
 * k blocking, so a product split along k has the bits of one pass. e, when
 * not NULL, is the fused epilogue. */
static void ukr6(int kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa, int mr,
                 const float *b, ptrdiff_t ldbp, float *c, ptrdiff_t ldc, int nr,
                 int load_c, const nnr_epi *e)
{
    const int full = mr == MR && nr == NR;
    float t[MR * NR];
    if (load_c && !full) load_tile(c, ldc, t, NR, mr, nr);
    const float *ci = full ? c : t;
    const ptrdiff_t lci = full ? ldc : NR;
#define NNR_DECL(i)                                                       \
    const float *a##i = a + (ptrdiff_t)imin(i, mr - 1) * rsa;             \
    NNR_VEC c##i##0 = load_c ? NNR_VEC_LOAD(ci + i * lci) : NNR_VEC_ZERO(); \
    NNR_VEC c##i##1 = load_c ? NNR_VEC_LOAD(ci + i * lci + W) : NNR_VEC_ZERO();
    NNR_ROWS(NNR_DECL)
#undef NNR_DECL
#if NNR_GEMM_A_ADDR
    if (csa == 1) {
        /* rows of A contiguous: one index for all, (row, p) addressing */
        for (ptrdiff_t p = 0; p < kc; p++) {
            NNR_VEC b0 = NNR_VEC_LOAD(b);
            NNR_VEC b1 = NNR_VEC_LOAD(b + W);
            NNR_VEC x;
#define NNR_STEP(i)                                                       \
            x = NNR_VEC_SET1(a##i[p]);                                    \
            c##i##0 = NNR_VEC_FMA(x, b0, c##i##0);                        \
            c##i##1 = NNR_VEC_FMA(x, b1, c##i##1);
            NNR_ROWS(NNR_STEP)
#undef NNR_STEP
            b += ldbp;
        }
    } else if (rsa == 1 && mr == MR) {
        /* A transposed: a tile's column of A is MR consecutive floats */
        const float *ap = a;
        for (int p = 0; p < kc; p++) {
            NNR_VEC b0 = NNR_VEC_LOAD(b);
            NNR_VEC b1 = NNR_VEC_LOAD(b + W);
            NNR_VEC x;
#define NNR_STEP(i)                                                       \
            x = NNR_VEC_SET1(ap[i]);                                      \
            c##i##0 = NNR_VEC_FMA(x, b0, c##i##0);                        \
            c##i##1 = NNR_VEC_FMA(x, b1, c##i##1);
            NNR_ROWS(NNR_STEP)
#undef NNR_STEP
            ap += csa;
            b += ldbp;
        }
    } else
#endif
    for (int p = 0; p < kc; p++) {
        NNR_VEC b0 = NNR_VEC_LOAD(b);
        NNR_VEC b1 = NNR_VEC_LOAD(b + W);
        NNR_VEC x;
#define NNR_STEP(i)                                                       \
        x = NNR_VEC_SET1(*a##i);                                          \
        c##i##0 = NNR_VEC_FMA(x, b0, c##i##0);                            \
        c##i##1 = NNR_VEC_FMA(x, b1, c##i##1);                            \
        a##i += csa;
        NNR_ROWS(NNR_STEP)
#undef NNR_STEP
        b += ldbp;
    }
    if (e) {
        const NNR_VEC cb0 = epi_cb(e, 0, nr), cb1 = epi_cb(e, W, nr);
#define NNR_EPI(i)                                                        \
        c##i##0 = epi_apply(e, c##i##0, imin(i, mr - 1), cb0);            \
        c##i##1 = epi_apply(e, c##i##1, imin(i, mr - 1), cb1);
        NNR_ROWS(NNR_EPI)
#undef NNR_EPI
    }
    float *co = full ? c : t;
#define NNR_STROW(i)                                                      \
    NNR_VEC_STORE(co + i * lci, c##i##0);                                 \
    NNR_VEC_STORE(co + i * lci + W, c##i##1);
    NNR_ROWS(NNR_STROW)
#undef NNR_STROW
    if (!full) store_tile(c, ldc, t, NR, mr, nr);
}

/* ukr6 for a panel at most one vector wide (nr <= W): half the work, the
 * same operations per element of C (the same bits). */
static void ukr6h(int kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa, int mr,
                  const float *b, ptrdiff_t ldbp, float *c, ptrdiff_t ldc, int nr, int load_c,
                  const nnr_epi *e)
{
    float t[MR * W];
    if (load_c) load_tile(c, ldc, t, W, mr, nr);
#define NNR_DECL(i)                                                       \
    const float *a##i = a + (ptrdiff_t)imin(i, mr - 1) * rsa;             \
    NNR_VEC c##i = load_c ? NNR_VEC_LOAD(t + i * W) : NNR_VEC_ZERO();
    NNR_ROWS(NNR_DECL)
#undef NNR_DECL
    for (int p = 0; p < kc; p++) {
        NNR_VEC b0 = NNR_VEC_LOAD(b);
#define NNR_STEP(i)                                                       \
        c##i = NNR_VEC_FMA(NNR_VEC_SET1(*a##i), b0, c##i);                \
        a##i += csa;
        NNR_ROWS(NNR_STEP)
#undef NNR_STEP
        b += ldbp;
    }
    if (e) {
        const NNR_VEC cb0 = epi_cb(e, 0, nr);
#define NNR_EPI(i) c##i = epi_apply(e, c##i, imin(i, mr - 1), cb0);
        NNR_ROWS(NNR_EPI)
#undef NNR_EPI
    }
#define NNR_TMP(i) NNR_VEC_STORE(t + i * W, c##i);
    NNR_ROWS(NNR_TMP)
#undef NNR_TMP
    store_tile(c, ldc, t, W, mr, nr);
}

/* One row: c[0..nr) (+)= Σ_p a[p*csa] · B(p, 0..NR). */
static void ukr1(int kc, const float *a, ptrdiff_t csa, const float *b, ptrdiff_t ldbp,
                 float *c, int nr, int load_c)
{
    NNR_VEC c0 = NNR_VEC_ZERO(), c1 = NNR_VEC_ZERO();
    NNR_VEC d0 = NNR_VEC_ZERO(), d1 = NNR_VEC_ZERO();
    int p = 0;
    for (; p + 2 <= kc; p += 2) {
        NNR_VEC x = NNR_VEC_SET1(a[0]);
        NNR_VEC y = NNR_VEC_SET1(a[csa]);
        c0 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b), c0);
        c1 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b + W), c1);
        d0 = NNR_VEC_FMA(y, NNR_VEC_LOAD(b + ldbp), d0);
        d1 = NNR_VEC_FMA(y, NNR_VEC_LOAD(b + ldbp + W), d1);
        a += 2 * csa;
        b += 2 * ldbp;
    }
    if (p < kc) {
        NNR_VEC x = NNR_VEC_SET1(a[0]);
        c0 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b), c0);
        c1 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b + W), c1);
    }
    c0 = NNR_VEC_ADD(c0, d0);
    c1 = NNR_VEC_ADD(c1, d1);
    float t[NR];
    NNR_VEC_STORE(t, c0);
    NNR_VEC_STORE(t + W, c1);
    if (load_c)
        for (int j = 0; j < nr; j++) c[j] += t[j];
    else
        for (int j = 0; j < nr; j++) c[j] = t[j];
}

/* dst[c*ldd + r] = src[r*lds + c] for r in [r0, r1), c in [c0, c1): one
 * element at a time (the edges of transpose's register blocks). */
static void transpose_scalar(int r0, int r1, int c0, int c1, const float *src, ptrdiff_t lds,
                             float *dst, ptrdiff_t ldd)
{
    for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) dst[(ptrdiff_t)c * ldd + r] = src[(ptrdiff_t)r * lds + c];
}

/* dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols: 8x8 blocks in
 * registers (AVX2/AVX-512: unpack, shuffle, lane permute; SSE2: 4x4), the
 * edges scalar. Pure data movement: the packed values are the same bits. */
static void transpose(int rows, int cols, const float *src, ptrdiff_t lds, float *dst,
                      ptrdiff_t ldd)
{
    int r = 0;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX2__)
    for (; r + 8 <= rows; r += 8) {
        const float *s = src + (ptrdiff_t)r * lds;
        float *d = dst + r;
        int c = 0;
        for (; c + 8 <= cols; c += 8, s += 8, d += 8 * ldd) {
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
            __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
            __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
            __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        transpose_scalar(r, r + 8, c, cols, src, lds, dst, ldd);
    }
#elif !defined(NNR_SIMD_SCALAR) && defined(__SSE2__)
    for (; r + 4 <= rows; r += 4) {
        const float *s = src + (ptrdiff_t)r * lds;
        float *d = dst + r;
        int c = 0;
        for (; c + 4 <= cols; c += 4, s += 4, d += 4 * ldd) {
            __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + lds);
            __m128 r2 = _mm_loadu_ps(s + 2 * lds), r3 = _mm_loadu_ps(s + 3 * lds);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(d, r0);
            _mm_storeu_ps(d + ldd, r1);
            _mm_storeu_ps(d + 2 * ldd, r2);
            _mm_storeu_ps(d + 3 * ldd, r3);
        }
        transpose_scalar(r, r + 4, c, cols, src, lds, dst, ldd);
    }
#endif
    transpose_scalar(r, rows, 0, cols, src, lds, dst, ldd);
}

/* Zero columns [nr, ld) of rows [0, rows) of out (leading dimension ld, a
 * multiple of W), in whole vectors from the one holding column nr: call it
 * before writing columns [0, nr). */
static void zero_tail(int rows, int nr, float *out, int ld)
{
    if (nr >= ld) return;
    /* column-vector order: row by row, compilers make this a memset per
     * row (rep stos), slow at these lengths */
    for (int j = nr / W * W; j < ld; j += W)
        for (int p = 0; p < rows; p++) NNR_VEC_STORE(out + (ptrdiff_t)p * ld + j, NNR_VEC_ZERO());
}

/* Pack B(pc.., jc..) into out[kc x NR], zero beyond column nr. */
static void pack_b(int kc, int nr, const float *b, int ldb, int trans_b, int pc, int jc,
                   float *out)
{
    zero_tail(kc, nr, out, NR);
    if (!trans_b) {
        for (int p = 0; p < kc; p++) {
            const float *s = b + (ptrdiff_t)(pc + p) * ldb + jc;
            float *d = out + (ptrdiff_t)p * NR;
            if (nr == NR)
                for (int j = 0; j < NR; j += W) NNR_VEC_STORE(d + j, NNR_VEC_LOAD(s + j));
            else
                for (int j = 0; j < nr; j++) d[j] = s[j];
        }
    } else {
        transpose(nr, kc, b + (ptrdiff_t)jc * ldb + pc, ldb, out, NR);
    }
}

/* GEMV rows per block, sharing each load of A (4 measured faster than 8
 * on the 784x128 batch-1 layer: fewer concurrent streams of B) */
#define GV 4

/* c[j] (+)= Σ_p a[p] · b[j*ldb + p] for j in [j0, j1): blocks of GV rows
 * from j0, then single rows, each row summed as W lanes + nnr_vsum + scalar
 * tail. The order a row is summed in depends only on (j - j0) % GV and
 * j1 - j, so callers split at multiples of GV from the same j0. */
static void gemv(int k, const float *a, const float *b, ptrdiff_t ldb, int j0, int j1,
                 float *c, int accumulate)
{
    int j = j0;
    for (; j + GV <= j1; j += GV) {
        const float *b0 = b + (ptrdiff_t)j * ldb;
        NNR_VEC s0 = NNR_VEC_ZERO(), s1 = NNR_VEC_ZERO(), s2 = NNR_VEC_ZERO(),
                s3 = NNR_VEC_ZERO();
        int p = 0;
        for (; p + W <= k; p += W) {
            NNR_VEC x = NNR_VEC_LOAD(a + p);
            s0 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b0 + p), s0);
            s1 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b0 + ldb + p), s1);
            s2 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b0 + 2 * ldb + p), s2);
            s3 = NNR_VEC_FMA(x, NNR_VEC_LOAD(b0 + 3 * ldb + p), s3);
        }
        float r[GV] = {nnr_vsum(s0), nnr_vsum(s1), nnr_vsum(s2), nnr_vsum(s3)};
        for (int q = 0; q < GV; q++) {
            const float *br = b0 + q * ldb;
            for (int t = p; t < k; t++) r[q] += a[t] * br[t];
            c[j + q] = accumulate ? c[j + q] + r[q] : r[q];
        }
    }
    for (; j < j1; j++) {
        const float *br = b + (ptrdiff_t)j * ldb;
        NNR_VEC s0 = NNR_VEC_ZERO(), s1 = NNR_VEC_ZERO();
        int p = 0;
        for (; p + 2 * W <= k; p += 2 * W) {
            s0 = NNR_VEC_FMA(NNR_VEC_LOAD(a + p), NNR_VEC_LOAD(br + p), s0);
            s1 = NNR_VEC_FMA(NNR_VEC_LOAD(a + p + W), NNR_VEC_LOAD(br + p + W), s1);
        }
        for (; p + W <= k; p += W)
            s0 = NNR_VEC_FMA(NNR_VEC_LOAD(a + p), NNR_VEC_LOAD(br + p), s0);
        float r = nnr_vsum(NNR_VEC_ADD(s0, s1));
        for (; p < k; p++) r += a[p] * br[p];
        c[j] = accumulate ? c[j] + r : r;
    }
}

static void epilogue(float *c, int ldc, int mr, int nr, const float *rb, const float *cb,
                     nnr_act act, float param)
{
    if (!rb && !cb && act == NNR_ACT_NONE) return;
    for (int i = 0; i < mr; i++) {
        float *r = c + (ptrdiff_t)i * ldc;
        if (rb) {
            float v = rb[i];
            for (int j = 0; j < nr; j++) r[j] += v;
        }
        if (cb)
            for (int j = 0; j < nr; j++) r[j] += cb[j];
        if (act != NNR_ACT_NONE) nnr_act_f32(act, param, (size_t)nr, r, r);
    }
}

/* Whether gemm_block reads a row-major B in place for a block of mc rows
 * of A instead of packing its panels: when fewer than 2*MR rows use each
 * panel; with AVX2 also up to 4*MR rows when ldb is not a multiple of 64
 * floats (a power-of-two-like ldb puts a panel's rows in few cache sets,
 * which packing avoids). Measured on Zen 3 at W4's 16x72x196: ~1.1x. The
 * values read are the same either way, so are the bits. */
static int b_in_place(int mc, int ldb)
{
#if NNR_GEMM_A_ADDR
    if (mc < 4 * MR && ldb % 64 != 0) return 1;
#else
    (void)ldb;
#endif
    return mc < 2 * MR;
}

/* Rows [i0, i1) x columns [j0, j1) of C, i0 a multiple of MR and j0 of NR
 * (so the tile grid is the one of the whole product). */
static void gemm_block(int trans_b, int i0, int i1, int j0, int j1, int k, const float *a,
                       ptrdiff_t rsa, ptrdiff_t csa, const float *b, int ldb, const float *bpk,
                       float *c, int ldc, int accumulate, const float *row_bias,
                       const float *col_bias, nnr_act act, float act_param)
{
    _Alignas(64) float bpack[KC * NR];
    /* k blocking: a pre-packed panel is contiguous and needs none (ukr6 and
     * ukr6h continue their chain from C, so the bits do not depend on it) */
    const int kb = bpk ? k : KC;
    for (int pc = 0; pc < k; pc += kb) {
        const int kc = imin(kb, k - pc);
        const int load_c = accumulate || pc > 0;
        const int last = pc + kc >= k;
        for (int ic = i0; ic < i1; ic += MC) {
            const int mc = imin(MC, i1 - ic);
            for (int jc = j0; jc < j1; jc += NR) {
                const int nr = imin(NR, j1 - jc);
                const float *bp;
                ptrdiff_t ldbp;
                /* Row-major B is read in place only for a few rows: packing
                 * avoids the cache-set conflicts of power-of-two ldb. */
                if (bpk) {
                    /* pre-packed: panels of NNR_PACK_NR columns, [k][NNR_PACK_NR] */
                    bp = bpk + (ptrdiff_t)(jc / NNR_PACK_NR) * NNR_PACK_NR * k +
                         (ptrdiff_t)pc * NNR_PACK_NR + jc % NNR_PACK_NR;
                    ldbp = NNR_PACK_NR;
                } else if (!trans_b && nr == NR && b_in_place(mc, ldb)) {
                    bp = b + (ptrdiff_t)pc * ldb + jc;
                    ldbp = ldb;
                } else {
                    pack_b(kc, nr, b, ldb, trans_b, pc, jc, bpack);
                    bp = bpack;
                    ldbp = NR;
                }
                for (int ir = 0; ir < mc; ir += MR) {
                    const int mr = imin(MR, mc - ir);
                    const int i = ic + ir;
#if MR == 6 && defined(__GNUC__)
                    /* the next tile's rows of C, for writing (see the header) */
                    for (int r = MR; r < imin(2 * MR, mc - ir); r++) {
                        __builtin_prefetch(c + (ptrdiff_t)(i + r) * ldc + jc, 1, 3);
                        __builtin_prefetch(c + (ptrdiff_t)(i + r) * ldc + jc + nr - 1, 1, 3);
                    }
#endif
                    const float *ap = a + (ptrdiff_t)i * rsa + (ptrdiff_t)pc * csa;
                    float *cp = c + (ptrdiff_t)i * ldc + jc;
                    /* the epilogue: fused into ukr6/ukr6h where it can be */
                    const float *rbi = row_bias ? row_bias + i : NULL;
                    const float *cbj = col_bias ? col_bias + jc : NULL;
                    const int epi_any = last && (rbi || cbj || act != NNR_ACT_NONE);
                    const nnr_epi ep = {rbi, cbj, act, act_param};
                    const nnr_epi *e = epi_any && mr >= 4 && epi_fusable(act) ? &ep : NULL;
                    if (mr >= 4 && nr <= W) {
                        ukr6h(kc, ap, rsa, csa, mr, bp, ldbp, cp, ldc, nr, load_c, e);
                    } else if (mr >= 4) {
                        ukr6(kc, ap, rsa, csa, mr, bp, ldbp, cp, ldc, nr, load_c, e);
                    } else {
                        /* ukr1's two chains make its bits depend on the k
                         * blocking: always KC, whatever kb is */
                        for (int q = 0; q < kc; q += KC)
                            for (int r = 0; r < mr; r++)
                                ukr1(imin(KC, kc - q), ap + r * rsa + q * csa, csa,
                                     bp + (ptrdiff_t)q * ldbp, ldbp, cp + (ptrdiff_t)r * ldc,
                                     nr, load_c || q > 0);
                    }
                    if (epi_any && !e) epilogue(cp, ldc, mr, nr, rbi, cbj, act, act_param);
                }
            }
        }
    }
}

/* Threads: a parallel region is entered only when nth > 1. With a false
 * if clause it would still start a team of one (libgomp: ~0.7 us per call
 * on Zen 3, more than W1's 64x10 layer takes). Each *_part is thread t's
 * share of nth. */

/* GEMV rows [0, m): thread t's range of GV-row blocks of B */
static void gemv_part(int t, int nth, int m, int n, int k, const float *a, int lda,
                      const float *b, int ldb, float *c, int ldc, int accumulate)
{
    const int nb = (n + GV - 1) / GV;
    int j0 = (int)((long)nb * t / nth) * GV, j1 = (int)((long)nb * (t + 1) / nth) * GV;
    if (j1 > n) j1 = n;
    for (int i = 0; i < m && j0 < j1; i++)
        gemv(k, a + (ptrdiff_t)i * lda, b, ldb, j0, j1, c + (ptrdiff_t)i * ldc, accumulate);
}

/* thread t's contiguous range of whole MR-row tiles (or, when there are
 * fewer of those, NR-column tiles) */
static void gemm_part(int t, int nth, int trans_b, int m, int n, int k, const float *a,
                      ptrdiff_t rsa, ptrdiff_t csa, const float *b, int ldb, const float *bpk,
                      float *c, int ldc, int accumulate, const float *row_bias,
                      const float *col_bias, nnr_act act, float act_param)
{
    const int mt = (m + MR - 1) / MR, nt = (n + NR - 1) / NR;
    int i0 = 0, i1 = m, j0 = 0, j1 = n;
    if (mt >= nt) {
        i0 = (int)((long)mt * t / nth) * MR;
        i1 = imin((int)((long)mt * (t + 1) / nth) * MR, m);
    } else {
        j0 = (int)((long)nt * t / nth) * NR;
        j1 = imin((int)((long)nt * (t + 1) / nth) * NR, n);
    }
    if (i0 < i1 && j0 < j1)
        gemm_block(trans_b, i0, i1, j0, j1, k, a, rsa, csa, b, ldb, bpk, c, ldc, accumulate,
                   row_bias, col_bias, act, act_param);
}

/* bpk: B pre-packed (nnr_pack_linear_weight_f32), else NULL and b/ldb/trans_b */
static void gemm_any(int trans_a, int trans_b, int m, int n, int k,
                     const float *a, int lda, const float *b, int ldb, const float *bpk,
                     float *c, int ldc, int accumulate,
                     const float *row_bias, const float *col_bias,
                     nnr_act act, float act_param)
{
#ifdef NNR_GEMM_TRACE
    fprintf(stderr, "GEMM_TRACE %d %d %d %d %d %d %d\n", trans_a, trans_b, m, n, k, accumulate,
            bpk != NULL);
#endif
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate)
            for (int i = 0; i < m; i++) memset(c + (ptrdiff_t)i * ldc, 0, (size_t)n * sizeof *c);
        epilogue(c, ldc, m, n, row_bias, col_bias, act, act_param);
        return;
    }
    const ptrdiff_t rsa = trans_a ? 1 : lda;
    const ptrdiff_t csa = trans_a ? lda : 1;

    if (!bpk && !trans_a && trans_b && m < 4) {
        /* GEMV per row of A; threads take ranges of GV-row blocks of B */
#ifdef _OPENMP
        int nth = 1;
        if ((double)m * n * k >= NNR_PAR_MIN && !omp_in_parallel()) nth = omp_get_max_threads();
        if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
            for (int t = 0; t < nth; t++) gemv_part(t, nth, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        } else
#endif
            gemv_part(0, 1, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        epilogue(c, ldc, m, n, row_bias, col_bias, act, act_param);
        return;
    }

    /* threads take contiguous ranges of whole MR-row tiles (or, when there
     * are fewer of those, NR-column tiles) */
#ifdef _OPENMP
    int nth = 1;
    if ((double)m * n * k >= NNR_PAR_MIN && !omp_in_parallel()) {
        const int mt = (m + MR - 1) / MR, nt = (n + NR - 1) / NR;
        nth = omp_get_max_threads();
        int tiles = mt >= nt ? mt : nt;
        if (nth > tiles) nth = tiles;
    }
    if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
        for (int t = 0; t < nth; t++)
            gemm_part(t, nth, trans_b, m, n, k, a, rsa, csa, b, ldb, bpk, c, ldc, accumulate,
                      row_bias, col_bias, act, act_param);
        return;
    }
#endif
    gemm_part(0, 1, trans_b, m, n, k, a, rsa, csa, b, ldb, bpk, c, ldc, accumulate, row_bias,
              col_bias, act, act_param);
}

void nnr_gemm_ex_f32(int trans_a, int trans_b, int m, int n, int k,
                     const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc, int accumulate,
                     const float *row_bias, const float *col_bias,
                     nnr_act act, float act_param)
{
    gemm_any(trans_a, trans_b, m, n, k, a, lda, b, ldb, NULL, c, ldc, accumulate, row_bias,
             col_bias, act, act_param);
}

void nnr_gemm_packed_b_f32(int trans_a, int m, int n, int k, const float *a, int lda,
                           const float *bpk, float *c, int ldc, const float *row_bias,
                           const float *col_bias, nnr_act act, float act_param)
{
    gemm_any(trans_a, 1, m, n, k, a, lda, NULL, k, bpk, c, ldc, 0, row_bias, col_bias, act,
             act_param);
}

int nnr_gemm_kc(void)
{
    return KC;
}

size_t nnr_linear_packed_size(int in, int out)
{
    size_t panels = ((size_t)(out > 0 ? out : 0) + NNR_PACK_NR - 1) / NNR_PACK_NR;
    size_t sz = panels * NNR_PACK_NR * (size_t)(in > 0 ? in : 0);
    return sz ? sz : 1;
}

void nnr_pack_linear_weight_f32(int in, int out, const float *w, float *wp)
{
    for (int jc = 0; jc < out; jc += NNR_PACK_NR) {
        float *panel = wp + (size_t)jc * (size_t)in;
        int nr = out - jc < NNR_PACK_NR ? out - jc : NNR_PACK_NR;
        zero_tail(in, nr, panel, NNR_PACK_NR);
        transpose(nr, in, w + (size_t)jc * (size_t)in, in, panel, NNR_PACK_NR);
    }
    if (in <= 0 || out <= 0) wp[0] = 0.0f;
}

/* Rows of a batch below NNR_LINEAR_PACKED_MIN_BATCH on the packed panels.
 * gemm_block would run ukr1 on each panel in turn: with vectors narrower
 * than half a panel (AVX2, SSE2, NEON, scalar) two passes over it, each
 * reading half of every 128-byte row; with AVX-512 one pass but 4
 * accumulators, a chain as long as k/2 (latency-bound: W1 4.65 us against
 * 4.14 us here on Zen 4). Here the panels are read once, in storage order
 * (a stream the hardware prefetcher follows), GP panels side by side so
 * that each broadcast of x serves GP x PV vectors in at least 8
 * independent accumulators (FMA latency 4, 2 FMA ports), k in blocks of RB
 * rows whose sums are added (a few short chains: the accuracy of ukr1's).
 * The last group may hold fewer panels: 2 or 3 (AVX-512) side by side the
 * same way; a lone panel runs GP chains instead (rows p with p % GP == c,
 * added at the end of a block). So a column's bits depend on k and on the
 * size of its group, never on the thread count (threads take whole
 * groups). */
#define PV (NNR_PACK_NR / W)      /* vectors per panel row */
#define GP (PV >= 8 ? 1 : 8 / PV) /* panels per pass (AVX2: 2) */
#define RB 128                    /* rows of k per block (a multiple of GP) */

/* y[0..nr) = act(x[0..k) · panels + b) for npan (1 to GP) consecutive
 * panels at bp (each [k][NNR_PACK_NR]); b (may be NULL) and y start at the
 * first panel's first column, nr valid columns. */
static void row_panels(int k, const float *x, const float *bp, int npan,
                       const float *b, float *y, int nr, nnr_act act, float act_param)
{
    NNR_VEC acc[GP][PV], tot[GP][PV];
    for (int g = 0; g < GP; g++)
        for (int v = 0; v < PV; v++) tot[g][v] = NNR_VEC_ZERO();
    const ptrdiff_t ps = (ptrdiff_t)k * NNR_PACK_NR; /* panel stride */
    /* blocks of RB rows of k, each summed in fresh accumulators then added
     * to tot (the error of a few shorter chains, not of one of length k) */
    for (int p0 = 0; p0 < k; p0 += RB) {
        const int p1 = imin(k, p0 + RB);
        for (int g = 0; g < GP; g++)
            for (int v = 0; v < PV; v++) acc[g][v] = NNR_VEC_ZERO();
        /* acc[g]: panel g, one chain per vector; NPC a constant, so
         * that acc stays in registers */
#define ROW_SIDE(NPC)                                                                        \
        for (int p = p0; p < p1; p++) {                                                     \
            const NNR_VEC xv = NNR_VEC_SET1(x[p]);                                          \
            const float *r = bp + (ptrdiff_t)p * NNR_PACK_NR;                               \
            for (int g = 0; g < (NPC); g++)                                                 \
                for (int v = 0; v < PV; v++)                                                \
                    acc[g][v] = NNR_VEC_FMA(xv, NNR_VEC_LOAD(r + g * ps + v * W), acc[g][v]); \
        }
        if (npan == GP) {
            ROW_SIDE(GP)
#if GP > 2
        } else if (npan == 3) {
            ROW_SIDE(3)
        } else if (npan == 2) {
            ROW_SIDE(2)
#endif
        } else {
            /* one panel, acc[c]: the rows p with (p - p0) % GP == c */
            int p = p0;
            for (; p + GP <= p1; p += GP)
                for (int c = 0; c < GP; c++) {
                    const NNR_VEC xv = NNR_VEC_SET1(x[p + c]);
                    const float *r = bp + (ptrdiff_t)(p + c) * NNR_PACK_NR;
                    for (int v = 0; v < PV; v++)
                        acc[c][v] = NNR_VEC_FMA(xv, NNR_VEC_LOAD(r + v * W), acc[c][v]);
                }
            for (; p < p1; p++) {
                const NNR_VEC xv = NNR_VEC_SET1(x[p]);
                const float *r = bp + (ptrdiff_t)p * NNR_PACK_NR;
                for (int v = 0; v < PV; v++)
                    acc[0][v] = NNR_VEC_FMA(xv, NNR_VEC_LOAD(r + v * W), acc[0][v]);
            }
        }
        for (int g = 0; g < GP; g++)
            for (int v = 0; v < PV; v++) tot[g][v] = NNR_VEC_ADD(tot[g][v], acc[g][v]);
    }
    if (npan == 1) {
        for (int c = 1; c < GP; c++)
            for (int v = 0; v < PV; v++) tot[0][v] = NNR_VEC_ADD(tot[0][v], tot[c][v]);
    }
    /* + bias, relu/leaky_relu in registers (epi_apply: the GEMM's
     * epilogue order), the rest on the stored columns */
    const nnr_epi e = {NULL, b, epi_fusable(act) ? act : NNR_ACT_NONE, act_param};
    for (int g = 0; g < npan; g++)
        for (int v = 0; v < PV; v++) {
            const int j = g * NNR_PACK_NR + v * W;
            if (j >= nr) break;
            const NNR_VEC o = epi_apply(&e, tot[g][v], 0, epi_cb(&e, j, nr));
            if (j + W <= nr) {
                NNR_VEC_STORE(y + j, o);
            } else {
                float t[W];
                NNR_VEC_STORE(t, o);
                memcpy(y + j, t, (size_t)(nr - j) * sizeof *y);
            }
        }
    if (!epi_fusable(act)) nnr_act_f32(act, act_param, (size_t)nr, y, y);
}
#undef ROW_SIDE

/* rows_packed's groups [g0, g1) of panels, every row */
static void rows_packed_part(int g0, int g1, int n, int in, int out, const float *x,
                             const float *wp, const float *b, float *y, nnr_act act,
                             float act_param)
{
    const int np = (out + NNR_PACK_NR - 1) / NNR_PACK_NR;
    for (int i = 0; i < n; i++)
        for (int gi = g0; gi < g1; gi++) {
            const int p0 = gi * GP, npan = imin(GP, np - p0), jc = p0 * NNR_PACK_NR;
            row_panels(in, x + (ptrdiff_t)i * in, wp + (ptrdiff_t)jc * in, npan,
                       b ? b + jc : NULL, y + (ptrdiff_t)i * out + jc,
                       imin(npan * NNR_PACK_NR, out - jc), act, act_param);
        }
}

/* y[n,out] = act(x[n,in] · packed + b) for n < NNR_LINEAR_PACKED_MIN_BATCH:
 * each row on groups of GP panels; threads take ranges of whole groups. */
static void rows_packed(int n, int in, int out, const float *x, const float *wp,
                        const float *b, float *y, nnr_act act, float act_param)
{
    const int np = (out + NNR_PACK_NR - 1) / NNR_PACK_NR, ng = (np + GP - 1) / GP;
#ifdef _OPENMP
    const int nth = nnr_kern_threads((double)n * out * in, NNR_PAR_MIN, ng);
    if (nth > 1) {
#pragma omp parallel for num_threads(nth) schedule(static)
        for (int t = 0; t < nth; t++)
            rows_packed_part((int)((long)ng * t / nth), (int)((long)ng * (t + 1) / nth), n, in,
                             out, x, wp, b, y, act, act_param);
        return;
    }
#endif
    rows_packed_part(0, ng, n, in, out, x, wp, b, y, act, act_param);
}

void nnr_linear_packed_f32(int n, int in, int out, const float *x, const float *wp,
                           const float *b, float *y, nnr_act act, float act_param)
{
    if (n > 0 && n < NNR_LINEAR_PACKED_MIN_BATCH && in > 0 && out > 0) {
        rows_packed(n, in, out, x, wp, b, y, act, act_param);
        return;
    }
    gemm_any(0, 1, n, out, in, x, in, NULL, in, wp, y, out, 0, NULL, b, act, act_param);
}

void nnr_gemm_f32(int trans_a, int trans_b, int m, int n, int k,
                  const float *a, int lda, const float *b, int ldb,
                  float *c, int ldc, int accumulate)
{
    nnr_gemm_ex_f32(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    NULL, NULL, NNR_ACT_NONE, 0.0f);
}
