/* kern.h — declarations shared between the kernel files only (not part of
 * the public runtime API in nnr.h): the GEMM with a fused epilogue that
 * linear and conv2d build on, and the kernels' private geometry structs
 * (short field names for the math) with the internal entry points that
 * take them; shapes.c fills them once from nnr.h's public structs. */
#ifndef NNR_KERN_H
#define NNR_KERN_H

#include "../nnr.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- threads */

/* Threads for a loop over `units` independent pieces (samples, channels,
 * planes) whose results do not depend on how they are split: one below
 * `work` < min (floats moved or multiply-adds), inside a parallel region or
 * without OpenMP; else up to omp_get_max_threads(), at most units. */
static inline int nnr_kern_threads(double work, double min, long units)
{
#ifdef _OPENMP
    if (work < min || units < 2 || omp_in_parallel()) return 1;
    const int nth = omp_get_max_threads();
    return units < nth ? (int)units : nth;
#else
    (void)work, (void)min, (void)units;
    return 1;
#endif
}
/* a statement before a for loop: its iterations split in equal contiguous
 * ranges over nth threads (without OpenMP it only reads nth) */
#define NNR_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define NNR_PAR_FOR(nth) NNR_PRAGMA(omp parallel for num_threads(nth) schedule(static) if ((nth) > 1))
#else
#define NNR_PAR_FOR(nth) (void)(nth);
#endif
/* floats copied (im2col, col2im, gathers) from which a loop is split */
#define NNR_COPY_PAR_MIN 32768.0
/* multiply-adds from which a loop is split (gemm.c's threshold) */
#define NNR_MAC_PAR_MIN 1048576.0

/* ---------------------------------------------------------------- private geometry */

/* nnr_conv2d_shape, field for field in the same order. */
typedef struct nnr_kconv {
    int c, h, w;        /* in_channels, in_h, in_w */
    int oc, kh, kw;     /* out_channels, kernel_h, kernel_w */
    int sh, sw;         /* stride_h, stride_w */
    int ph, pw;         /* padding_h, padding_w */
    int oh, ow;         /* out_h, out_w */
    int dh, dw;         /* dilation_h, dilation_w (0 read as 1) */
    int groups;         /* groups (0 read as 1) */
} nnr_kconv;

/* nnr_pool2d_shape */
typedef struct nnr_kpool {
    int c, h, w;        /* channels, in_h, in_w */
    int kh, kw, sh, sw, ph, pw; /* kernel, stride, padding (h, w) */
    int oh, ow;         /* out_h, out_w */
} nnr_kpool;

/* nnr_mha_shape */
typedef struct nnr_kmha {
    int tq, tk, e, heads, bias, causal; /* tgt_len, src_len, embed_dim,
                                         * num_heads, bias, is_causal */
} nnr_kmha;

/* nnr_rnn_shape */
typedef struct nnr_krnn {
    int t, in, hidden, layers, dirs, bias, gates; /* seq_len, input_size,
                                                   * hidden_size, num_layers,
                                                   * num_directions, bias, gates */
} nnr_krnn;

static inline nnr_kconv nnr_kconv_of(const nnr_conv2d_shape *s)
{
    const nnr_kconv k = {s->in_channels, s->in_h, s->in_w, s->out_channels, s->kernel_h,
                         s->kernel_w, s->stride_h, s->stride_w, s->padding_h, s->padding_w,
                         s->out_h, s->out_w, s->dilation_h, s->dilation_w, s->groups};
    return k;
}

/* s with dilation and groups of 0 read as 1 (shapes written before them). */
static inline nnr_kconv nnr_kconv_norm(const nnr_kconv *s)
{
    nnr_kconv t = *s;
    if (t.dh <= 0) t.dh = 1;
    if (t.dw <= 0) t.dw = 1;
    if (t.groups <= 0) t.groups = 1;
    return t;
}

static inline nnr_kpool nnr_kpool_of(const nnr_pool2d_shape *s)
{
    const nnr_kpool k = {s->channels, s->in_h, s->in_w, s->kernel_h, s->kernel_w, s->stride_h,
                         s->stride_w, s->padding_h, s->padding_w, s->out_h, s->out_w};
    return k;
}

static inline nnr_kmha nnr_kmha_of(const nnr_mha_shape *s)
{
    const nnr_kmha k = {s->tgt_len, s->src_len, s->embed_dim, s->num_heads, s->bias, s->is_causal};
    return k;
}

static inline nnr_krnn nnr_krnn_of(const nnr_rnn_shape *s)
{
    const nnr_krnn k = {s->seq_len, s->input_size, s->hidden_size, s->num_layers,
                        s->num_directions, s->bias, s->gates};
    return k;
}

/* The internal entry points behind nnr.h's functions of the same names
 * without "kern_" (conv.c, conv_t.c, pool.c, seq_attn.c, seq_rnn.c). */
size_t nnr_kern_conv2d_scratch(const nnr_kconv *s);
void nnr_kern_conv2d_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                         const float *b, float *y, nnr_act act, float act_param, float *scratch);
void nnr_kern_conv2d_backward_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                                  const float *dy, float *dx, float *dw, float *db,
                                  float *scratch);
size_t nnr_kern_conv_transpose2d_scratch(const nnr_kconv *s);
void nnr_kern_conv_transpose2d_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                                   const float *b, float *y, float *scratch);
void nnr_kern_conv_transpose2d_backward_f32(int n, const nnr_kconv *s, const float *x,
                                            const float *w, const float *dy, float *dx,
                                            float *dw, float *db, float *scratch);
void nnr_kern_maxpool2d_f32(int n, const nnr_kpool *s, const float *x, float *y);
void nnr_kern_maxpool2d_backward_f32(int n, const nnr_kpool *s, const float *x, const float *dy,
                                     float *dx);
void nnr_kern_avgpool2d_f32(int n, const nnr_kpool *s, const float *x, float *y);
void nnr_kern_avgpool2d_backward_f32(int n, const nnr_kpool *s, const float *dy, float *dx);
size_t nnr_kern_mha_saved(const nnr_kmha *s);
void nnr_kern_mha_f32(const nnr_kmha *s, int n, const float *q, const float *k, const float *v,
                      const float *p, float *y, float *saved);
void nnr_kern_mha_step_f32(const nnr_kmha *s, int pos, int n, const float *q, const float *k,
                           const float *v, const float *p, float *kc, float *vc, float *y);
void nnr_kern_mha_backward_f32(const nnr_kmha *s, int n, const float *q, const float *k,
                               const float *v, const float *p, const float *saved,
                               const float *dy, float *dq, float *dk, float *dv, float *dp);
size_t nnr_kern_rnn_packed(const nnr_krnn *s);
size_t nnr_kern_rnn_params(const nnr_krnn *s);
size_t nnr_kern_rnn_saved(const nnr_krnn *s);
void nnr_kern_rnn_f32(const nnr_krnn *s, int n, const float *x, const float *p, float *y);
void nnr_kern_rnn_train_f32(const nnr_krnn *s, int n, const float *x, const float *p, float *y,
                            float *saved, nnr_rng *rng, float dropout);
void nnr_kern_rnn_backward_f32(const nnr_krnn *s, int n, const float *x, const float *p,
                               const float *y, const float *saved, const float *dy, float *dx,
                               float *dp);

/* nnr_gemm_f32, then on every finished tile of C: add row_bias[i] (per row
 * of C) and/or col_bias[j] (per column), then apply act. Either bias may be
 * NULL; with NNR_ACT_NONE and no bias this is exactly nnr_gemm_f32. */
void nnr_gemm_ex_f32(int trans_a, int trans_b, int m, int n, int k,
                     const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc, int accumulate,
                     const float *row_bias, const float *col_bias,
                     nnr_act act, float act_param);
/* nnr_gemm_ex_f32 with trans_b and B pre-packed as nnr_pack_linear_weight_f32
 * packs b [n][k] (the same bits) */
void nnr_gemm_packed_b_f32(int trans_a, int m, int n, int k, const float *a, int lda,
                           const float *bpk, float *c, int ldc, const float *row_bias,
                           const float *col_bias, nnr_act act, float act_param);
/* The k blocking of nnr_gemm_ex_f32 (a multiple of its column tile): a
 * product split along k at multiples of it, the later parts accumulating
 * and only the last one with the biases and act, has the bits of one call. */
int nnr_gemm_kc(void);

/* The convolution's column matrix of one sample (s: one group, dilation
 * and groups already read as 1 when 0): col[(ci·kh + ki)·kw + kj][oy·ow + ox]
 * = x[ci][oy·sh - ph + ki·dh][ox·sw - pw + kj·dw], or 0 in the padding;
 * and its adjoint, dx (zeroed first) = Σ of the col entries read from each
 * input position (runtime/kernels/im2col.c). */
void nnr_kern_im2col_f32(const nnr_kconv *s, const float *x, float *col);
void nnr_kern_col2im_f32(const nnr_kconv *s, const float *col, float *dx);
/* the same with the rows of col ld floats apart (ld >= oh*ow) */
void nnr_kern_im2col_ld_f32(const nnr_kconv *s, const float *x, float *col, size_t ld);
void nnr_kern_col2im_ld_f32(const nnr_kconv *s, const float *col, float *dx, size_t ld);
/* im2col's rows (taps) t0..t1-1 only, ld apart: conv.c's blocks of samples
 * fill their column matrix slice by slice */
void nnr_kern_im2col_rows_f32(const nnr_kconv *s, const float *x, float *col, size_t ld, int t0,
                              int t1);

/* the direct convolution of few channels on small planes (conv_small.c):
 * whether it takes s (dilation and groups read as 1), its scratch (floats,
 * for any n), forward and backward with nnr_kern_conv2d_f32's arguments (db is
 * the caller's) */
int nnr_conv_small_ok(const nnr_kconv *s);
size_t nnr_conv_small_scratch(const nnr_kconv *s);
void nnr_conv_small_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param,
                        float *scratch);
void nnr_conv_small_backward_f32(int n, const nnr_kconv *s, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *scratch);
/* nnr.h's conv2d on pre-packed panels (conv.c) */
int nnr_kern_conv2d_panel_ok(const nnr_kconv *s);
void nnr_kern_conv2d_panel_f32(int n, const nnr_kconv *s, const float *x, const float *wp,
                               const float *b, float *y, nnr_act act, float act_param,
                               float *scratch);
/* nnr.h's pre-packed and residual conv2d entry points (conv_small.c). */
int nnr_kern_conv2d_packed_ok(const nnr_kconv *s);
void nnr_kern_conv2d_packed_f32(int n, const nnr_kconv *s, const float *x, const float *wp,
                                const float *b, const float *r, float *y, nnr_act act,
                                float act_param, float *scratch);
void nnr_kern_conv2d_add_f32(int n, const nnr_kconv *s, const float *x, const float *w,
                             const float *b, const float *r, float *y, nnr_act act,
                             float act_param, float *scratch);

#endif
