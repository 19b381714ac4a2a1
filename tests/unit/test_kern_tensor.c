/* test_kern_tensor.c — the tensor-op kernels (binary and scalar operators
 * with broadcasting, matmul, narrow/place, permute, sum/mean) against their
 * naive references in runtime/ref/, their backward against the reference
 * and against central finite differences of the forward, and a few
 * hand-computed values. */
#include "kern_check.h"

/* ------------------------------------------------------------ binary */

/* Output [2, 3, 4, 5]-like shapes with the broadcast patterns the compiler
 * produces (collapsed or not), strides 0 where an operand broadcasts. */
static const nnr_bcast_shape BCAST[] = {
    {1, 1, 1, 37, 0, 0, 0, 1, 0, 0, 0, 1},          /* same shape */
    {1, 1, 6, 9, 0, 0, 9, 1, 0, 0, 1, 0},           /* channel broadcast: [6,9] op [6,1] */
    {1, 1, 6, 9, 0, 0, 1, 0, 0, 0, 9, 1},           /* [6,1] op [6,9] */
    {1, 1, 6, 9, 0, 0, 9, 1, 0, 0, 0, 1},           /* [6,9] op [1,9] */
    {2, 3, 4, 5, 60, 20, 5, 1, 0, 5, 0, 1},         /* [2,3,4,5] op [1,3,1,5]: mixed */
    {2, 3, 4, 5, 3, 1, 0, 0, 0, 0, 5, 1},           /* [2,3,1,1] op [1,1,4,5] */
};
#define NB (sizeof BCAST / sizeof BCAST[0])

static size_t bn_count(const nnr_bcast_shape *s, int a)
{
    const int d[4] = {s->d0, s->d1, s->d2, s->d3};
    const int st[4] = {a ? s->a0 : s->b0, a ? s->a1 : s->b1, a ? s->a2 : s->b2, a ? s->a3 : s->b3};
    size_t c = 1;
    for (int j = 0; j < 4; j++)
        if (st[j]) c *= (size_t)d[j];
    return c;
}

static size_t out_count(const nnr_bcast_shape *s)
{
    return (size_t)s->d0 * s->d1 * s->d2 * s->d3;
}

Test(binary, forward_matches_reference)
{
    tgen g = {31};
    const int n = 3;
    for (size_t k = 0; k < NB; k++)
        for (int op = NNR_BIN_ADD; op <= NNR_BIN_DIV; op++) {
            const nnr_bcast_shape *s = &BCAST[k];
            size_t an = bn_count(s, 1) * n, bn = bn_count(s, 0) * n, yn = out_count(s) * n;
            float *a = tg_alloc(an), *b = tg_alloc(bn), *y = tg_alloc(yn), *r = tg_alloc(yn);
            tg_fill_away0(&g, a, an, -2, 2, 0.2);
            tg_fill_away0(&g, b, bn, -2, 2, 0.2);
            nnr_binary_f32(op, n, s, a, b, y);
            nnr_ref_binary_f32(op, n, s, a, b, r);
            char what[48];
            snprintf(what, sizeof what, "binary op %d case %zu", op, k);
            check_close(what, y, r, yn, 0, 0);     /* one IEEE operation each: exact */
            free(a), free(b), free(y), free(r);
        }
}

Test(binary, in_place_same_shape)
{
    float a[19], b[19], want[19];
    tgen g = {5};
    tg_fill(&g, a, 19, -1, 1);
    tg_fill(&g, b, 19, -1, 1);
    nnr_bcast_shape s = {1, 1, 1, 19, 0, 0, 0, 1, 0, 0, 0, 1};
    nnr_ref_binary_f32(NNR_BIN_ADD, 1, &s, a, b, want);
    nnr_binary_f32(NNR_BIN_ADD, 1, &s, a, b, a);
    check_close("a += b", a, want, 19, 0, 0);
}

Test(binary, hand_computed_broadcast)
{
    /* [2, 3] - [2, 1] per sample, one sample */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 20}, y[6];
    nnr_bcast_shape s = {1, 1, 2, 3, 0, 0, 3, 1, 0, 0, 1, 0};
    nnr_binary_f32(NNR_BIN_SUB, 1, &s, a, b, y);
    const float want[6] = {-9, -8, -7, -16, -15, -14};
    check_close("a - b", y, want, 6, 0, 0);
    float dy[6] = {1, 1, 1, 1, 2, 3}, da[6], db[2];
    nnr_binary_backward_f32(NNR_BIN_SUB, 1, &s, a, b, dy, da, db);
    const float wdb[2] = {-3, -6};
    check_close("d(a - b)/db summed over the broadcast", db, wdb, 2, 0, 0);
    check_close("d(a - b)/da", da, dy, 6, 0, 0);
}

Test(binary, backward_matches_reference)
{
    tgen g = {32};
    const int n = 2;
    for (size_t k = 0; k < NB; k++)
        for (int op = NNR_BIN_ADD; op <= NNR_BIN_DIV; op++) {
            const nnr_bcast_shape *s = &BCAST[k];
            size_t an = bn_count(s, 1) * n, bn = bn_count(s, 0) * n, yn = out_count(s) * n;
            float *a = tg_alloc(an), *b = tg_alloc(bn), *dy = tg_alloc(yn);
            float *da = tg_alloc(an), *db = tg_alloc(bn), *ra = tg_alloc(an), *rb = tg_alloc(bn);
            tg_fill_away0(&g, a, an, -2, 2, 0.3);
            tg_fill_away0(&g, b, bn, -2, 2, 0.3);
            tg_fill(&g, dy, yn, -1, 1);
            nnr_binary_backward_f32(op, n, s, a, b, dy, da, db);
            nnr_ref_binary_backward_f32(op, n, s, a, b, dy, ra, rb);
            char what[48];
            snprintf(what, sizeof what, "binary backward op %d case %zu da", op, k);
            check_close(what, da, ra, an, 1e-5, 1e-4);
            snprintf(what, sizeof what, "binary backward op %d case %zu db", op, k);
            check_close(what, db, rb, bn, 1e-5, 1e-4);
            /* one gradient alone */
            nnr_binary_backward_f32(op, n, s, a, b, dy, NULL, db);
            check_close(what, db, rb, bn, 1e-5, 1e-4);
            free(a), free(b), free(dy), free(da), free(db), free(ra), free(rb);
        }
}

typedef struct {
    int op, n;
    const nnr_bcast_shape *s;
    float *a, *b, *y, *r;
    size_t yn;
} bin_ctx;

static double bin_f(void *p)
{
    bin_ctx *c = p;
    nnr_binary_f32(c->op, c->n, c->s, c->a, c->b, c->y);
    return proj(c->r, c->y, c->yn);
}

Test(binary, backward_finite_differences)
{
    tgen g = {33};
    const int n = 2;
    for (size_t k = 0; k < NB; k++)
        for (int op = NNR_BIN_ADD; op <= NNR_BIN_DIV; op++) {
            const nnr_bcast_shape *s = &BCAST[k];
            size_t an = bn_count(s, 1) * n, bn = bn_count(s, 0) * n, yn = out_count(s) * n;
            float *a = tg_alloc(an), *b = tg_alloc(bn), *y = tg_alloc(yn), *r = tg_alloc(yn);
            float *da = tg_alloc(an), *db = tg_alloc(bn);
            tg_fill_away0(&g, a, an, -2, 2, 0.5);
            tg_fill_away0(&g, b, bn, -2, 2, 0.5);
            tg_fill(&g, r, yn, -1, 1);
            bin_ctx c = {op, n, s, a, b, y, r, yn};
            nnr_binary_backward_f32(op, n, s, a, b, r, da, db);
            fd_check("binary da", bin_f, &c, a, an, da, 1e-2f, 1e-3, 1e-2);
            fd_check("binary db", bin_f, &c, b, bn, db, 1e-2f, 1e-3, 1e-2);
            free(a), free(b), free(y), free(r), free(da), free(db);
        }
}

Test(scalar, forward_and_backward)
{
    tgen g = {34};
    const int ops[] = {NNR_BIN_ADD, NNR_BIN_MUL, NNR_BIN_DIV, NNR_BIN_RSUB, NNR_BIN_RDIV};
    enum { L = 23 };
    for (int k = 0; k < 5; k++) {
        float x[L], y[L], r[L], dy[L], dx[L], rx[L];
        tg_fill_away0(&g, x, L, -3, 3, 0.3);
        tg_fill(&g, dy, L, -1, 1);
        nnr_scalar_f32(ops[k], -1.75f, L, x, y);
        nnr_ref_scalar_f32(ops[k], -1.75f, L, x, r);
        check_close("scalar forward", y, r, L, 0, 2e-7);
        nnr_scalar_backward_f32(ops[k], -1.75f, L, x, y, dy, dx);
        nnr_ref_scalar_backward_f32(ops[k], -1.75f, L, x, y, dy, rx);
        check_close("scalar backward", dx, rx, L, 1e-6, 1e-5);
    }
    float x[3] = {1, 2, 4}, y[3];
    nnr_scalar_f32(NNR_BIN_RDIV, 2.0f, 3, x, y);
    const float want[3] = {2, 1, 0.5f};
    check_close("2 / x", y, want, 3, 0, 0);
}

/* ------------------------------------------------------------ matmul */

static const nnr_matmul_shape MM[] = {
    /* l0 l1 m  k  n  a0 a1 b0 b1 an  bn */
    {1, 1, 3, 4, 5, 0, 0, 0, 0, 12, 20},        /* [3,4] @ [4,5] */
    {1, 1, 1, 4, 5, 0, 0, 0, 0, 4, 20},         /* [4] @ [4,5] */
    {1, 1, 3, 4, 1, 0, 0, 0, 0, 12, 4},         /* [3,4] @ [4] */
    {2, 3, 3, 4, 2, 3, 1, 3, 1, 72, 48},        /* [2,3,3,4] @ [2,3,4,2] */
    {2, 3, 3, 4, 2, 0, 1, 1, 0, 36, 16},        /* [1,3,3,4] @ [2,1,4,2] */
    {1, 4, 9, 17, 13, 0, 1, 0, 1, 612, 884},    /* larger, GEMM blocking */
};
#define NM (sizeof MM / sizeof MM[0])

Test(matmul, forward_and_backward_match_reference)
{
    tgen g = {35};
    const int n = 2;
    for (size_t k = 0; k < NM; k++) {
        const nnr_matmul_shape *s = &MM[k];
        size_t an = (size_t)n * s->an, bn = (size_t)n * s->bn;
        size_t yn = (size_t)n * s->l0 * s->l1 * s->m * s->n;
        float *a = tg_alloc(an), *b = tg_alloc(bn), *y = tg_alloc(yn), *r = tg_alloc(yn);
        float *da = tg_alloc(an), *db = tg_alloc(bn), *ra = tg_alloc(an), *rb = tg_alloc(bn);
        tg_fill(&g, a, an, -1, 1);
        tg_fill(&g, b, bn, -1, 1);
        nnr_matmul_f32(n, s, a, b, y);
        nnr_ref_matmul_f32(n, s, a, b, r);
        check_close("matmul", y, r, yn, 1e-5, 1e-5);
        tg_fill(&g, r, yn, -1, 1);
        nnr_matmul_backward_f32(n, s, a, b, r, da, db);
        nnr_ref_matmul_backward_f32(n, s, a, b, r, ra, rb);
        check_close("matmul da", da, ra, an, 1e-5, 1e-5);
        check_close("matmul db", db, rb, bn, 1e-5, 1e-5);
        free(a), free(b), free(y), free(r), free(da), free(db), free(ra), free(rb);
    }
}

typedef struct {
    const nnr_matmul_shape *s;
    float *a, *b, *y, *r;
    size_t yn;
} mm_ctx;

static double mm_f(void *p)
{
    mm_ctx *c = p;
    nnr_matmul_f32(1, c->s, c->a, c->b, c->y);
    return proj(c->r, c->y, c->yn);
}

Test(matmul, backward_finite_differences)
{
    tgen g = {36};
    const nnr_matmul_shape *s = &MM[4];
    size_t yn = (size_t)s->l0 * s->l1 * s->m * s->n;
    float a[36], b[16], y[48], r[48], da[36], db[16];
    tg_fill(&g, a, 36, -1, 1);
    tg_fill(&g, b, 16, -1, 1);
    tg_fill(&g, r, yn, -1, 1);
    mm_ctx c = {s, a, b, y, r, yn};
    nnr_matmul_backward_f32(1, s, a, b, r, da, db);
    fd_check("matmul da", mm_f, &c, a, 36, da, 1e-2f, 1e-3, 1e-2);
    fd_check("matmul db", mm_f, &c, b, 16, db, 1e-2f, 1e-3, 1e-2);
}

Test(matmul, hand_computed)
{
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, y[4];
    nnr_matmul_shape s = {1, 1, 2, 2, 2, 0, 0, 0, 0, 4, 4};
    nnr_matmul_f32(1, &s, a, b, y);
    const float want[4] = {19, 22, 43, 50};
    check_close("[[1,2],[3,4]] @ [[5,6],[7,8]]", y, want, 4, 0, 0);
}

/* ------------------------------------------------------------ data movement */

Test(tensor, narrow_and_place)
{
    tgen g = {37};
    float x[3 * 7 * 5], y[3 * 3 * 5], r[3 * 3 * 5], z[3 * 7 * 5], rz[3 * 7 * 5];
    tg_fill(&g, x, sizeof x / sizeof *x, -1, 1);
    nnr_narrow_f32(3, 7, 2, 3, 5, x, y);
    nnr_ref_narrow_f32(3, 7, 2, 3, 5, x, r);
    check_close("narrow", y, r, 45, 0, 0);
    for (int i = 0; i < 105; i++)
        z[i] = rz[i] = (float)i;
    nnr_place_f32(3, 7, 4, 3, 5, y, z);
    nnr_ref_place_f32(3, 7, 4, 3, 5, y, rz);
    check_close("place", z, rz, 105, 0, 0);
    /* narrow of place gives back what was placed */
    nnr_narrow_f32(3, 7, 4, 3, 5, z, r);
    check_close("narrow(place(y))", r, y, 45, 0, 0);
}

Test(tensor, permute_matches_reference_and_inverts)
{
    tgen g = {38};
    static const int perms[][4] = {
        {0, 1, 3, 2}, {0, 2, 1, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {0, 1, 2, 3}, {2, 0, 3, 1},
    };
    float x[2 * 120], y[2 * 120], r[2 * 120], back[2 * 120];
    tg_fill(&g, x, 240, -1, 1);
    for (int k = 0; k < 6; k++) {
        const int *p = perms[k];
        nnr_permute_shape s = {2, 3, 4, 5, p[0], p[1], p[2], p[3]};
        nnr_permute_f32(2, &s, x, y);
        nnr_ref_permute_f32(2, &s, x, r);
        check_close("permute", y, r, 240, 0, 0);
        /* the inverse permutation of the permuted shape */
        const int d[4] = {2, 3, 4, 5};
        int inv[4];
        for (int j = 0; j < 4; j++)
            inv[p[j]] = j;
        nnr_permute_shape t = {d[p[0]], d[p[1]], d[p[2]], d[p[3]], inv[0], inv[1], inv[2], inv[3]};
        nnr_permute_f32(2, &t, y, back);
        check_close("permute back", back, x, 240, 0, 0);
    }
    /* transpose of [2, 3]: hand-computed */
    float a[6] = {1, 2, 3, 4, 5, 6}, at[6];
    nnr_permute_shape s = {1, 1, 2, 3, 0, 1, 3, 2};
    nnr_permute_f32(1, &s, a, at);
    const float want[6] = {1, 4, 2, 5, 3, 6};
    check_close("transpose", at, want, 6, 0, 0);
}

/* ------------------------------------------------------------ sum / mean */

Test(reduce, matches_reference_every_mask)
{
    tgen g = {39};
    float x[2 * 120], y[2 * 120], r[2 * 120], dy[2 * 120], dx[2 * 120], rx[2 * 120];
    tg_fill(&g, x, 240, -1, 1);
    tg_fill(&g, dy, 240, -1, 1);
    nnr_reduce_shape base = {2, 3, 4, 5, 0};
    for (int mask = 1; mask < 16; mask++)
        for (int mean = 0; mean < 4; mean++) {     /* sum, mean, max, min */
            nnr_reduce_shape s = base;
            s.mask = mask;
            size_t on = 1;
            const int d[4] = {2, 3, 4, 5};
            for (int j = 0; j < 4; j++)
                if (!((mask >> j) & 1)) on *= (size_t)d[j];
            nnr_reduce_f32(mean, 2, &s, x, y);
            nnr_ref_reduce_f32(mean, 2, &s, x, r);
            check_close("reduce", y, r, 2 * on, 1e-6, 1e-6);
            if (mean >= NNR_REDUCE_MAX) {
                nnr_reduce_extreme_backward_f32(2, &s, x, y, dy, dx);
                nnr_ref_reduce_extreme_backward_f32(2, &s, x, r, dy, rx);
            } else {
                nnr_reduce_backward_f32(mean, 2, &s, dy, dx);
                nnr_ref_reduce_backward_f32(mean, 2, &s, dy, rx);
            }
            check_close("reduce backward", dx, rx, 240, 1e-7, 1e-6);
        }
    /* hand-computed: [2, 3] summed over the last axis, mean over the first */
    float a[6] = {1, 2, 3, 4, 5, 6}, s1[2], m0[3];
    nnr_reduce_f32(0, 1, &(nnr_reduce_shape){1, 1, 2, 3, 8}, a, s1);
    nnr_reduce_f32(1, 1, &(nnr_reduce_shape){1, 1, 2, 3, 4}, a, m0);
    const float ws[2] = {6, 15}, wm[3] = {2.5f, 3.5f, 4.5f};
    check_close("sum", s1, ws, 2, 0, 0);
    check_close("mean", m0, wm, 3, 0, 0);
    /* max and min over the last axis of [[1, 5, 5], [-2, -7, NaN]]; the
     * gradient of a tie is shared (torch.amax) */
    float b[6] = {1, 5, 5, -2, -7, NAN}, mx[2], mn[2], one[2] = {1, 1}, db[6];
    nnr_reduce_f32(NNR_REDUCE_MAX, 1, &(nnr_reduce_shape){1, 1, 2, 3, 8}, b, mx);
    nnr_reduce_f32(NNR_REDUCE_MIN, 1, &(nnr_reduce_shape){1, 1, 2, 3, 8}, b, mn);
    cr_expect(mx[0] == 5 && isnan(mx[1]) && mn[0] == 1 && isnan(mn[1]), "max/min %g %g %g %g",
              (double)mx[0], (double)mx[1], (double)mn[0], (double)mn[1]);
    nnr_reduce_extreme_backward_f32(1, &(nnr_reduce_shape){1, 1, 2, 3, 8}, b, mx, one, db);
    const float wd[3] = {0, 0.5f, 0.5f};
    check_close("max backward", db, wd, 3, 0, 0);
}
