/* test_gemm_blocks.c — nnr_gemm_ex_f32 over several MR x NR tiles, MC-row
 * blocks and KC-deep k blocks (where gemm.c prefetches the next tile of C)
 * against the reference: m with a partial last tile, n and k no multiples
 * of NR or KC, every transpose case, the accumulate flag, the fused
 * epilogue (row/column bias, relu, leaky_relu) and the pre-packed B of
 * linear layers; operands at a 4 KiB row stride. Built again with
 * -march=native (test_gemm_blocks_native). */
#include "kern_check.h"
#include "kernels/kern.h"

/* r[m, n] (ldc) += row bias, column bias, then the activation, in place */
static void ref_epilogue(float *r, int m, int n, int ldc, const float *rb, const float *cb,
                         nnr_act act, float param)
{
    for (int i = 0; i < m; i++) {
        float *row = r + (size_t)i * ldc;
        for (int j = 0; j < n; j++) row[j] += (rb ? rb[i] : 0.0f) + (cb ? cb[j] : 0.0f);
        if (act != NNR_ACT_NONE) nnr_ref_act_f32(act, param, (size_t)n, row, row);
    }
}

/* shapes {m, n, k} */
static const int shapes[][3] = {
    {5, 81, 40},     /* one partial tile of 5 rows */
    {97, 100, 257},  /* 16 tiles and one row, k past one KC */
    {200, 130, 600}, /* two MC blocks, the last partial; three k blocks */
    {13, 67, 513},   /* partial tile and panel */
    {100, 64, 100},  /* whole panels */
    {31, 300, 9},
};

static void pack_case(int ta, int tb, int m, int n, int k, int acc, int epi, tgen *g)
{
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb,
           csz = (size_t)m * ldc;
    float *a = tg_alloc(asz), *b = tg_alloc(bsz), *c = tg_alloc(csz), *r = tg_alloc(csz),
          *rb = tg_alloc((size_t)m), *cb = tg_alloc((size_t)n);
    tg_fill(g, a, asz, -1, 1);
    tg_fill(g, b, bsz, -1, 1);
    tg_fill(g, c, csz, -1, 1);
    tg_fill(g, rb, (size_t)m, -1, 1);
    tg_fill(g, cb, (size_t)n, -1, 1);
    memcpy(r, c, csz * sizeof *r);
    const nnr_act act = epi == 2 ? NNR_ACT_RELU : epi == 3 ? NNR_ACT_LEAKY_RELU : NNR_ACT_NONE;
    const float *rbp = epi & 1 ? rb : NULL, *cbp = epi ? cb : NULL;
    nnr_gemm_ex_f32(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc, rbp, cbp, act, 0.1f);
    nnr_ref_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, r, ldc, acc);
    ref_epilogue(r, m, n, ldc, rbp, cbp, act, 0.1f);
    char what[112];
    snprintf(what, sizeof what, "gemm_ex ta=%d tb=%d m=%d n=%d k=%d acc=%d epi=%d", ta, tb, m, n,
             k, acc, epi);
    check_close(what, c, r, csz, 1e-5 + 2e-7 * k, 1e-5);
    free(a); free(b); free(c); free(r); free(rb); free(cb);
}

Test(gemm_blocks, matches_reference)
{
    tgen g = {15};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++)
                    for (int epi = 0; epi < 4; epi += 1 + acc)
                        pack_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], acc, epi, &g);
}

/* nnr_gemm_packed_b_f32 (B pre-packed by nnr_pack_linear_weight_f32) against
 * the reference with B transposed, and against nnr_gemm_ex_f32 on the same
 * operands: the same bits (the same k-order per element) */
Test(gemm_blocks, prepacked_b)
{
    tgen g = {16};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], lda = (ta ? m : k) + 1;
            size_t asz = (size_t)(ta ? k : m) * lda, csz = (size_t)m * n;
            float *a = tg_alloc(asz), *w = tg_alloc((size_t)n * k), *cb = tg_alloc((size_t)n),
                  *wp = tg_alloc(nnr_linear_packed_size(k, n)), *c1 = tg_alloc(csz),
                  *c2 = tg_alloc(csz), *r = tg_alloc(csz);
            tg_fill(&g, a, asz, -1, 1);
            tg_fill(&g, w, (size_t)n * k, -1, 1);
            tg_fill(&g, cb, (size_t)n, -1, 1);
            nnr_pack_linear_weight_f32(k, n, w, wp);
            nnr_gemm_packed_b_f32(ta, m, n, k, a, lda, wp, c1, n, NULL, cb, NNR_ACT_RELU, 0.0f);
            nnr_gemm_ex_f32(ta, 1, m, n, k, a, lda, w, k, c2, n, 0, NULL, cb, NNR_ACT_RELU, 0.0f);
            nnr_ref_gemm_f32(ta, 1, m, n, k, a, lda, w, k, r, n, 0);
            ref_epilogue(r, m, n, n, NULL, cb, NNR_ACT_RELU, 0.0f);
            char what[96];
            snprintf(what, sizeof what, "packed_b ta=%d m=%d n=%d k=%d", ta, m, n, k);
            check_close(what, c1, r, csz, 1e-5 + 2e-7 * k, 1e-5);
            cr_expect(memcmp(c1, c2, csz * sizeof *c1) == 0, "%s: differs from gemm_ex", what);
            free(a); free(w); free(cb); free(wp); free(c1); free(c2); free(r);
        }
}

/* A and B with rows a multiple of 4 KiB apart (lda = ldb = 1024, where a
 * kernel may pack or prefetch differently: every row of a tile in one L1
 * set) against the same values at tight leading dimensions: the same bits,
 * and the reference. m: two MC blocks with a partial tile of 2 rows
 * (ukr1) or 5; n: several panels and a partial one; k: three KC blocks. */
Test(gemm_blocks, page_stride_operands)
{
    tgen g = {17};
    static const int ps[][3] = {{394, 150, 300}, {397, 200, 129}, {8, 100, 40}};
    for (size_t s = 0; s < sizeof ps / sizeof ps[0]; s++)
        for (int acc = 0; acc < 2; acc++) {
            const int m = ps[s][0], n = ps[s][1], k = ps[s][2], ld = 1024;
            size_t csz = (size_t)m * n;
            float *a = tg_alloc((size_t)m * ld), *b = tg_alloc((size_t)k * ld),
                  *at = tg_alloc((size_t)m * k), *bt = tg_alloc((size_t)k * n),
                  *c1 = tg_alloc(csz), *c2 = tg_alloc(csz), *r = tg_alloc(csz),
                  *cb = tg_alloc((size_t)n);
            tg_fill(&g, a, (size_t)m * ld, -1, 1);
            tg_fill(&g, b, (size_t)k * ld, -1, 1);
            tg_fill(&g, c1, csz, -1, 1);
            tg_fill(&g, cb, (size_t)n, -1, 1);
            for (int i = 0; i < m; i++) memcpy(at + (size_t)i * k, a + (size_t)i * ld, (size_t)k * 4);
            for (int p = 0; p < k; p++) memcpy(bt + (size_t)p * n, b + (size_t)p * ld, (size_t)n * 4);
            memcpy(c2, c1, csz * sizeof *c1);
            memcpy(r, c1, csz * sizeof *c1);
            nnr_gemm_ex_f32(0, 0, m, n, k, a, ld, b, ld, c1, n, acc, NULL, cb, NNR_ACT_RELU, 0.0f);
            nnr_gemm_ex_f32(0, 0, m, n, k, at, k, bt, n, c2, n, acc, NULL, cb, NNR_ACT_RELU, 0.0f);
            nnr_ref_gemm_f32(0, 0, m, n, k, at, k, bt, n, r, n, acc);
            ref_epilogue(r, m, n, n, NULL, cb, NNR_ACT_RELU, 0.0f);
            char what[96];
            snprintf(what, sizeof what, "page stride m=%d n=%d k=%d acc=%d", m, n, k, acc);
            check_close(what, c1, r, csz, 1e-5 + 2e-7 * k, 1e-5);
            cr_expect(memcmp(c1, c2, csz * sizeof *c1) == 0, "%s: differs from tight strides", what);
            free(a); free(b); free(at); free(bt); free(c1); free(c2); free(r); free(cb);
        }
}
