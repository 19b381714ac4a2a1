/* im2col.c — the column matrix of a convolution and its inverse: im2col
 * writes, for taps t0..t1 (rows: ci, ki, kj) and every output position
 * (columns, ld apart), the input value the tap reads, zero in the padding;
 * col2im adds such a matrix back into the input's gradient. Fast paths for
 * stride 1 with "same" padding (one shifted copy per tap) and for narrow
 * outputs; the general case goes row by row. Split from conv.c. */
#include <stddef.h>
#include <string.h>

#include "kern.h"
#include "../simd.h"

/* im2col of a stride-1 convolution whose output rows are as wide as the
 * input's (ow == w: "same" padding): the block of each (ci, ki, kj) is the
 * input plane shifted by (ki - ph) rows and kj - pw columns, so it is one
 * contiguous copy, then zeros on the rows and edge columns that fall in the
 * padding (a shifted copy wraps the neighbouring row's ends into them). */
static void im2col_same(const nnr_kconv *s, const float *x, float *col, size_t ld, int t0,
                        int t1)
{
    const int ow = s->ow, oh = s->oh, kk = s->kh * s->kw;
    for (int t = t0; t < t1; t++) {
        const int ci = t / kk, ki = t % kk / s->kw, kj = t % s->kw;
        float *d = col + (size_t)(t - t0) * ld;
        const float *xc = x + (size_t)ci * s->h * s->w;
        const int dy = ki - s->ph, dx = kj - s->pw;
        int y0 = dy < 0 ? -dy : 0, y1 = s->h - dy < oh ? s->h - dy : oh;
        if (y1 < y0) y1 = y0;
        memset(d, 0, (size_t)y0 * ow * sizeof *d);
        memset(d + (size_t)y1 * ow, 0, (size_t)(oh - y1) * ow * sizeof *d);
        if (y1 == y0) continue;
        /* d[i] = xc[i + dy*w + dx] for i in [y0*ow, y1*ow), minus the
         * edge columns (they would read outside the plane) */
        size_t lo = (size_t)y0 * ow + (dx < 0 ? (size_t)-dx : 0);
        size_t hi = (size_t)y1 * ow - (dx > 0 ? (size_t)dx : 0);
        if (hi > lo)
            memcpy(d + lo, xc + (ptrdiff_t)lo + (ptrdiff_t)dy * s->w + dx,
                   (hi - lo) * sizeof *d);
        if (dx != 0)
            for (int oy = y0; oy < y1; oy++) {
                float *r = d + (size_t)oy * ow;
                if (dx < 0)
                    for (int ox = 0; ox < -dx && ox < ow; ox++) r[ox] = 0.0f;
                else
                    for (int ox = ow - dx < 0 ? 0 : ow - dx; ox < ow; ox++) r[ox] = 0.0f;
            }
    }
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* im2col of a stride-1, undilated convolution with output rows of at most
 * 16 columns (W6's 14 and 7): each output row of a (ci, ki, kj) block is
 * one load of the shifted input row under the mask of the columns inside
 * the plane (zeros elsewhere, the padding never read) and one masked
 * store. */
static void im2col_s1_narrow(const nnr_kconv *s, const float *x, float *col, size_t ld,
                             int t0, int t1)
{
    const int ow = s->ow, oh = s->oh, w = s->w, kk = s->kh * s->kw;
    const __mmask16 all = (__mmask16)((1u << ow) - 1);
    for (int t = t0; t < t1; t++) {
        const int ci = t / kk, ki = t % kk / s->kw, kj = t % s->kw;
        float *d = col + (size_t)(t - t0) * ld;
        const float *xc = x + (size_t)ci * s->h * w;
        /* output column ox reads input column ox + ix0 */
        const int ix0 = kj - s->pw;
        const int lo = ix0 < 0 ? -ix0 : 0, hi = w - ix0 < ow ? w - ix0 : ow;
        const __mmask16 m = hi > lo ? (__mmask16)(all & ~((1u << lo) - 1) &
                                                 ((1u << hi) - 1)) : 0;
        for (int oy = 0; oy < oh; oy++) {
            const int iy = oy - s->ph + ki;
            __m512 v = _mm512_setzero_ps();
            if (iy >= 0 && iy < s->h && m)
                v = _mm512_maskz_loadu_ps(m, xc + (ptrdiff_t)iy * w + ix0);
            _mm512_mask_storeu_ps(d + (size_t)oy * ow, all, v);
        }
    }
}
#endif

/* Rows [t0, t1) of the column matrix (row t = (ci*kh + ki)*kw + kj, a tap)
 * at col (row t at col + (t - t0)*ld): col[.. + oy*ow + ox] =
 * x[ci][oy*sh - ph + ki*dh][ox*sw - pw + kj*dw] or 0. */
void nnr_kern_im2col_rows_f32(const nnr_kconv *s, const float *x, float *col, size_t ld, int t0,
                              int t1)
{
    const int kk = s->kh * s->kw;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 && s->ow <= 16 && s->ph >= 0 &&
        s->pw >= 0) {
        im2col_s1_narrow(s, x, col, ld, t0, t1);
        return;
    }
#endif
    if (s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 && s->ow == s->w) {
        im2col_same(s, x, col, ld, t0, t1);
        return;
    }
    for (int t = t0; t < t1; t++) {
        const int ci = t / kk, ki = t % kk / s->kw, kj = t % s->kw;
        float *d = col + (size_t)(t - t0) * ld;
        const float *xc = x + (size_t)ci * s->h * s->w;
        for (int oy = 0; oy < s->oh; oy++) {
            float *dr = d + (size_t)oy * s->ow;
            int iy = oy * s->sh - s->ph + ki * s->dh;
            if (iy < 0 || iy >= s->h) {
                memset(dr, 0, (size_t)s->ow * sizeof *dr);
                continue;
            }
            const float *xr = xc + (size_t)iy * s->w;
            int ix = kj * s->dw - s->pw;
            if (s->sw == 1) {
                int ox = 0;
                for (; ox < s->ow && ix + ox < 0; ox++) dr[ox] = 0.0f;
                int hi = s->w - ix; /* ox < hi keeps ix + ox < w */
                if (hi > s->ow) hi = s->ow;
                if (hi > ox) {
                    memcpy(dr + ox, xr + ix + ox, (size_t)(hi - ox) * sizeof *dr);
                    ox = hi;
                }
                for (; ox < s->ow; ox++) dr[ox] = 0.0f;
            } else {
                for (int ox = 0; ox < s->ow; ox++, ix += s->sw)
                    dr[ox] = (ix >= 0 && ix < s->w) ? xr[ix] : 0.0f;
            }
        }
    }
}

/* col[((ci*kh + ki)*kw + kj)*ld + oy*ow + ox] = x[ci][oy*sh - ph + ki*dh][ox*sw - pw + kj*dw]
 * or 0: rows of oh*ow entries, ld (>= oh*ow) apart */
void nnr_kern_im2col_ld_f32(const nnr_kconv *s, const float *x, float *col, size_t ld)
{
    nnr_kern_im2col_rows_f32(s, x, col, ld, 0, s->c * s->kh * s->kw);
}

void nnr_kern_im2col_f32(const nnr_kconv *s, const float *x, float *col)
{
    nnr_kern_im2col_ld_f32(s, x, col, (size_t)s->oh * s->ow);
}

#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
/* col2im of a stride-1, undilated convolution, one input row of up to 16
 * columns at a time in a register: each (ki, kj) tap whose output row
 * exists adds its shifted dcol row under a mask of the columns it reaches,
 * then the row is stored once (no zeroing pass). Every element gets the
 * generic loop's sums in its order ((ki, kj) lexicographic, from +0). The
 * masked-off lanes of a shifted load (the padding) are never read. */
static void col2im_s1(const nnr_kconv *s, const float *col, float *dx, size_t ld)
{
    const int w = s->w, ow = s->ow, oh = s->oh;
    for (int ci = 0; ci < s->c; ci++)
        for (int iy = 0; iy < s->h; iy++) {
            float *xr = dx + ((size_t)ci * s->h + iy) * w;
            for (int x0 = 0; x0 < w; x0 += 16) {
                const int nx = w - x0 < 16 ? w - x0 : 16;
                __m512 acc = _mm512_setzero_ps();
                for (int ki = 0; ki < s->kh; ki++) {
                    const int oy = iy + s->ph - ki;
                    if (oy < 0 || oy >= oh) continue;
                    for (int kj = 0; kj < s->kw; kj++) {
                        /* lane L is input column x0 + L, output column x0 + L - ix0 */
                        const int ix0 = kj - s->pw;
                        int lo = ix0 > x0 ? ix0 : x0, hi = ix0 + ow < x0 + nx ? ix0 + ow : x0 + nx;
                        if (hi <= lo) continue;
                        const __mmask16 m = (__mmask16)(((1u << (hi - x0)) - 1) &
                                                         ~((1u << (lo - x0)) - 1));
                        const float *dr = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * ld +
                                          (size_t)oy * ow + lo - ix0;
                        acc = _mm512_mask_add_ps(acc, m, acc,
                                                 _mm512_maskz_loadu_ps(m, dr - (lo - x0)));
                    }
                }
                _mm512_mask_storeu_ps(xr + x0, (__mmask16)((1u << nx) - 1), acc);
            }
        }
}
#endif

/* dx[ci][iy][ix] = Σ col entries that im2col (rows ld apart) read from
 * there (dx zeroed first). */
void nnr_kern_col2im_ld_f32(const nnr_kconv *s, const float *col, float *dx, size_t ld)
{
    const int sw = s->sw;
#if !defined(NNR_SIMD_SCALAR) && defined(__AVX512F__)
    if (s->sh == 1 && sw == 1 && s->dh == 1 && s->dw == 1 && s->ph >= 0 && s->pw >= 0) {
        col2im_s1(s, col, dx, ld);
        return;
    }
#endif
    memset(dx, 0, (size_t)s->c * s->h * s->w * sizeof *dx);
    for (int ci = 0; ci < s->c; ci++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                const float *d = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * ld;
                float *xc = dx + (size_t)ci * s->h * s->w;
                /* the columns ox whose ix = ix0 + ox*sw falls inside a row:
                 * [lo, hi), so the inner loop has no test (and vectorises at
                 * stride 1); the same sums in the same order */
                const int ix0 = kj * s->dw - s->pw;
                int lo = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
                int hi = s->w - ix0 <= 0 ? 0 : (s->w - ix0 + sw - 1) / sw;
                if (hi > s->ow) hi = s->ow;
                for (int oy = 0; oy < s->oh; oy++) {
                    int iy = oy * s->sh - s->ph + ki * s->dh;
                    if (iy < 0 || iy >= s->h) continue;
                    const float *dr = d + (size_t)oy * s->ow;
                    float *xr = xc + (size_t)iy * s->w;
                    if (sw == 1)
                        for (int ox = lo; ox < hi; ox++) xr[ix0 + ox] += dr[ox];
                    else
                        for (int ox = lo; ox < hi; ox++) xr[ix0 + ox * sw] += dr[ox];
                }
            }
}

void nnr_kern_col2im_f32(const nnr_kconv *s, const float *col, float *dx)
{
    nnr_kern_col2im_ld_f32(s, col, dx, (size_t)s->oh * s->ow);
}
