/* tensor.c — the data-movement and product kernels of graph models:
 * batched matmul over the runtime GEMM (with broadcasting of the leading
 * matrices), narrow/place of a window along one axis (slice, cat and
 * their gradients), and the permutation of a sample's axes (transpose,
 * permute; its inverse is the backward). */
#include <stddef.h>
#include <string.h>

#include "../nnr.h"

void nnr_matmul_f32(int n, const nnr_matmul_shape *s, const float *a, const float *b, float *y)
{
    size_t ma = (size_t)s->m * (size_t)s->k, mb = (size_t)s->k * (size_t)s->n;
    size_t my = (size_t)s->m * (size_t)s->n;
    for (int q = 0; q < n; q++) {
        const float *pa = a + (size_t)q * (size_t)s->an, *pb = b + (size_t)q * (size_t)s->bn;
        for (int i0 = 0; i0 < s->l0; i0++)
            for (int i1 = 0; i1 < s->l1; i1++) {
                const float *xa = pa + ((size_t)i0 * s->a0 + (size_t)i1 * s->a1) * ma;
                const float *xb = pb + ((size_t)i0 * s->b0 + (size_t)i1 * s->b1) * mb;
                nnr_gemm_f32(0, 0, s->m, s->n, s->k, xa, s->k, xb, s->n, y, s->n, 0);
                y += my;
            }
    }
}

void nnr_matmul_backward_f32(int n, const nnr_matmul_shape *s, const float *a, const float *b,
                             const float *dy, float *da, float *db)
{
    size_t ma = (size_t)s->m * (size_t)s->k, mb = (size_t)s->k * (size_t)s->n;
    size_t my = (size_t)s->m * (size_t)s->n;
    if (da)
        memset(da, 0, (size_t)n * (size_t)s->an * sizeof *da);
    if (db)
        memset(db, 0, (size_t)n * (size_t)s->bn * sizeof *db);
    for (int q = 0; q < n; q++) {
        size_t oa = (size_t)q * (size_t)s->an, ob = (size_t)q * (size_t)s->bn;
        for (int i0 = 0; i0 < s->l0; i0++)
            for (int i1 = 0; i1 < s->l1; i1++) {
                size_t ja = oa + ((size_t)i0 * s->a0 + (size_t)i1 * s->a1) * ma;
                size_t jb = ob + ((size_t)i0 * s->b0 + (size_t)i1 * s->b1) * mb;
                if (da)     /* [m, k] += dy [m, n] · bᵀ */
                    nnr_gemm_f32(0, 1, s->m, s->k, s->n, dy, s->n, b + jb, s->n, da + ja, s->k, 1);
                if (db)     /* [k, n] += aᵀ · dy */
                    nnr_gemm_f32(1, 0, s->k, s->n, s->m, a + ja, s->k, dy, s->n, db + jb, s->n, 1);
                dy += my;
            }
    }
}

void nnr_narrow_f32(size_t outer, int xrows, int start, int rows, size_t inner, const float *x,
                    float *y)
{
    size_t len = (size_t)rows * inner;
    for (size_t o = 0; o < outer; o++)
        memcpy(y + o * len, x + (o * (size_t)xrows + (size_t)start) * inner, len * sizeof *y);
}

void nnr_place_f32(size_t outer, int yrows, int start, int rows, size_t inner, const float *x,
                   float *y)
{
    size_t len = (size_t)rows * inner;
    for (size_t o = 0; o < outer; o++)
        memcpy(y + (o * (size_t)yrows + (size_t)start) * inner, x + o * len, len * sizeof *y);
}

void nnr_permute_f32(int n, const nnr_permute_shape *s, const float *x, float *y)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    const int p[4] = {s->p0, s->p1, s->p2, s->p3};
    size_t st[4], numel = (size_t)d[0] * d[1] * d[2] * d[3];
    st[3] = 1;
    for (int j = 2; j >= 0; j--)
        st[j] = st[j + 1] * (size_t)d[j + 1];
    /* output axis j walks input axis p[j]: its size and stride */
    size_t od[4], os[4];
    for (int j = 0; j < 4; j++) {
        od[j] = (size_t)d[p[j]];
        os[j] = st[p[j]];
    }
    for (int q = 0; q < n; q++) {
        const float *px = x + (size_t)q * numel;
        float *py = y + (size_t)q * numel;
        for (size_t i0 = 0; i0 < od[0]; i0++)
            for (size_t i1 = 0; i1 < od[1]; i1++)
                for (size_t i2 = 0; i2 < od[2]; i2++) {
                    const float *r = px + i0 * os[0] + i1 * os[1] + i2 * os[2];
                    if (os[3] == 1) {
                        memcpy(py, r, od[3] * sizeof *py);
                        py += od[3];
                    } else {
                        for (size_t i3 = 0; i3 < od[3]; i3++)
                            *py++ = r[i3 * os[3]];
                    }
                }
    }
}
