/* nnr.h — the nnc runtime: kernels, data readers, parameter files, and the
 * driver behind every program `nnc build` makes.
 *
 * Plain C11, libc + libm only. All symbols are nnr_*. Emitted model code
 * calls the kernels with constant sizes; the batch size n is a run-time value.
 *
 * Conventions
 *   - Activations are row-major, batch first: a [n, c, h, w] tensor is NCHW.
 *   - Weights use PyTorch layouts: linear [out, in], conv2d [oc, ic, kh, kw].
 *   - Forward kernels overwrite their output. Backward kernels overwrite
 *     dx / dw / db (they never accumulate); any of them may be NULL when
 *     that gradient is not needed.
 *   - Every kernel has a naive twin nnr_ref_* in runtime/ref/ (ref.h) that
 *     tests use as the oracle.
 */
#ifndef NNR_H
#define NNR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNR_VERSION "0.1.0"

/* ---------------------------------------------------------------- acts */

/* THE activation table of the runtime: one row per element-wise
 * activation, X(ID) with ID as in the compiler's ops.def (OP_<ID>), so
 * the enum below, the compiler's op_act_c/op_act_value and the tests
 * derive from it. p0/p1: the activation's parameters, in the order of
 * its attributes in ops.def (0 when it has fewer). Row order fixes the
 * enum values: append new rows. */
#define NNR_ACTS(X)                                                   \
    X(RELU)                                                           \
    X(LEAKY_RELU)  /* p0 = negative_slope */                          \
    X(SIGMOID)                                                        \
    X(TANH)                                                           \
    X(GELU)        /* exact erf form: x * 0.5 * (1 + erf(x / sqrt 2)) */ \
    X(SILU)        /* x * sigmoid(x) */                               \
    X(ELU)         /* p0 = alpha: x > 0 ? x : alpha * (exp(x) - 1) */  \
    X(SOFTPLUS)    /* p0 = beta, p1 = threshold: beta * x > threshold  \
                    * ? x : log(1 + exp(beta * x)) / beta */ \
    X(GELU_TANH)   /* gelu(approximate = "tanh"): 0.5 x (1 + tanh(   \
                    * sqrt(2/pi) (x + 0.044715 x^3))) */ \
    X(EXP) X(LOG) X(SQRT) X(SIGN) X(FLOOR) X(CEIL)                    \
    X(ROUND)       /* half to even (torch.round) */                   \
    X(ERF) X(SIN) X(COS) X(TAN) X(ASIN) X(ACOS) X(ATAN)               \
    X(SINH) X(COSH) X(ASINH) X(ACOSH) X(ATANH)                        \
    X(POW)         /* p0 = exponent: x^p0 (torch.pow with a number) */

/* Element-wise activations; also the fused epilogue of linear and conv2d
 * (those with at most one parameter). */
#define NNR_ACT_ENUM_(id) NNR_ACT_##id,
typedef enum nnr_act {
    NNR_ACT_NONE = 0,
    NNR_ACTS(NNR_ACT_ENUM_)
} nnr_act;
#undef NNR_ACT_ENUM_

/* y[i] = act(x[i]); x == y allowed. */
void nnr_act2_f32(nnr_act act, float p0, float p1, size_t len, const float *x, float *y);
/* dx[i] = dy[i] * act'(x[i]); x is the activation's input, y its output
 * (each activation reads the one it needs). dx may alias dy. */
void nnr_act2_backward_f32(nnr_act act, float p0, float p1, size_t len, const float *x,
                           const float *y, const float *dy, float *dx);
/* The same with one parameter (p1 = 0): activations with at most one. */
void nnr_act_f32(nnr_act act, float param, size_t len, const float *x, float *y);
void nnr_act_backward_f32(nnr_act act, float param, size_t len, const float *x,
                          const float *y, const float *dy, float *dx);

/* ---------------------------------------------------------------- gemm */

/* C[m,n] = alpha-free GEMM: C = A·op(B) (+ C if accumulate).
 * A is [m,k] row-major with leading dim lda; B is [k,n] (trans_b = 0, ldb)
 * or [n,k] (trans_b = 1, ldb). trans_a = 1 reads A as [k,m]. */
void nnr_gemm_f32(int trans_a, int trans_b, int m, int n, int k,
                  const float *a, int lda, const float *b, int ldb,
                  float *c, int ldc, int accumulate);

/* ---------------------------------------------------------------- linear */

/* y[n,out] = act(x[n,in] · w[out,in]ᵀ + b[out]); b may be NULL. */
void nnr_linear_f32(int n, int in, int out, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param);
/* Given dy[n,out]: dx[n,in] = dy·w; dw[out,in] = dyᵀ·x; db[out] = Σ_n dy. */
void nnr_linear_backward_f32(int n, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db);

/* ---------------------------------------------------------------- packed linear */

/* The weight of a linear layer laid out once (at load) in the GEMM's panel
 * order, so that the forward does not repack it on every call: panels of
 * NNR_PACK_NR output columns, each [in][NNR_PACK_NR] (columns past out are
 * zero). The layout is the same for every ISA (NNR_PACK_NR is a multiple of
 * every micro-kernel width), so a compiler can pack at compile time.
 * Batch 1 reads the panels contiguously and is not slower than
 * nnr_linear_f32's GEMV on [out, in] (784x128: 2.7 vs 3.2 us), so one
 * layout serves every batch. From NNR_LINEAR_PACKED_MIN_BATCH rows on, both
 * entries run the same micro-kernels in the same order (identical results);
 * below it nnr_linear_f32 sums in another order (a GEMV), and so does
 * nnr_linear_packed_f32 on every ISA (gemm.c's row_panels streams the
 * panels in order, several side by side; W1's 784x128 layer on Zen 3: 9.8
 * -> 4.9 us; W1 on Zen 4 with AVX-512: 4.65 -> 4.14 us). */
#define NNR_PACK_NR 32
#define NNR_LINEAR_PACKED_MIN_BATCH 4
/* Floats of the packed weight (at least 1). */
size_t nnr_linear_packed_size(int in, int out);
/* w [out, in] -> wp (nnr_linear_packed_size floats). */
void nnr_pack_linear_weight_f32(int in, int out, const float *w, float *wp);
/* nnr_linear_f32 with the packed weight wp. */
void nnr_linear_packed_f32(int n, int in, int out, const float *x, const float *wp,
                           const float *b, float *y, nnr_act act, float act_param);

/* ---------------------------------------------------------------- bf16 weights */

/* nnc --dtype bf16: linear weights stored as bfloat16 (the upper 16 bits
 * of an fp32), packed in panels like nnr_pack_linear_weight_f32's but with
 * two bf16 per float of storage (layout: runtime/kernels/gemm_bf16.c). The
 * forward widens them to fp32 in registers: fp32 FMAs, activations and
 * accumulators, on weights rounded once to bf16. */
/* Round to nearest, ties to even; NaN stays NaN (quiet, sign kept); a
 * finite value past the largest bf16 rounds to infinity. */
uint16_t nnr_bf16_from_f32(float v);
/* Exact: the bf16's value as an fp32. */
float nnr_f32_from_bf16(uint16_t h);
/* Floats of storage of the packed bf16 weight (at least 1). */
size_t nnr_linear_packed_bf16_size(int in, int out);
/* w [out, in] (fp32) -> wp (nnr_linear_packed_bf16_size floats of storage). */
void nnr_pack_linear_weight_bf16(int in, int out, const float *w, void *wp);
/* y[n,out] = act(x · bf16(w)ᵀ + b) with wp from nnr_pack_linear_weight_bf16. */
void nnr_linear_packed_bf16(int n, int in, int out, const float *x, const void *wp,
                            const float *b, float *y, nnr_act act, float act_param);

/* ---------------------------------------------------------------- conv2d */

typedef struct nnr_conv2d_shape {
    int in_channels;    /* channels of the input */
    int in_h, in_w;     /* height, width of one input sample */
    int out_channels;   /* channels of the output */
    int kernel_h, kernel_w; /* kernel_size */
    int stride_h, stride_w; /* stride */
    int padding_h, padding_w; /* zero padding on each side */
    int out_h, out_w;   /* output height, width: (in_h + 2 padding_h -
                         * dilation_h (kernel_h - 1) - 1) / stride_h + 1 */
    int dilation_h, dilation_w; /* dilation (0 is taken as 1: initialisers
                                 * written before these fields) */
    int groups;         /* channel groups (0 as 1): in_channels and
                         * out_channels are multiples of it; weight
                         * [out_channels, in_channels/groups, kernel_h,
                         * kernel_w]; depthwise when groups == in_channels */
} nnr_conv2d_shape;

/* Floats of scratch the conv2d kernels need for ONE sample (im2col). */
size_t nnr_conv2d_scratch(const nnr_conv2d_shape *s);
/* y[n,oc,oh,ow] = act(conv(x[n,c,h,w], w[oc,c,kh,kw]) + b[oc]); b may be NULL.
 * scratch: nnr_conv2d_scratch(s) floats. */
void nnr_conv2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param,
                    float *scratch);
void nnr_conv2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                             const float *w, const float *dy, float *dx, float *dw,
                             float *db, float *scratch);

/* Pre-packed conv2d weights (nnc's prepack, packed=direct) for the direct
 * kernel of few channels on small planes (runtime/kernels/conv_small.c),
 * which nnr_conv2d_packed_ok tells: groups 1, no dilation, at most 64
 * channels in and out, planes up to 32x32, a square 1x1 or 3x3 kernel,
 * stride 1 or 2. The weight [oc, k = c·kh·kw] is laid out once as
 * [k][oc rounded up to 16] (zeros past oc; the same for every ISA).
 * nnr_conv2d_packed_f32 is nnr_conv2d_f32 with that weight and r: NULL, or
 * a residual like y, added after the bias and before the activation:
 * y = act(conv(x, w) + b + r) (r must not overlap y). nnr_conv2d_add_f32 is
 * the same for any convolution, the weight as PyTorch's. scratch:
 * nnr_conv2d_scratch(s) floats. */
int nnr_conv2d_packed_ok(const nnr_conv2d_shape *s);
size_t nnr_conv_packed_size(int k, int oc);
void nnr_pack_conv_weight_f32(int k, int oc, const float *w, float *wp);
void nnr_conv2d_packed_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *wp,
                           const float *b, const float *r, float *y, nnr_act act,
                           float act_param, float *scratch);
void nnr_conv2d_add_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                        const float *b, const float *r, float *y, nnr_act act, float act_param,
                        float *scratch);

/* Pre-packed conv2d weights (nnc's prepack, packed=oi+panel) for a
 * convolution that, on one sample, runs as the transposed product
 * yᵀ[oh·ow][oc] = colᵀ·wᵀ (few output positions, many channels: conv.c),
 * which nnr_conv2d_panel_ok tells. wp (nnr_conv_panel_size floats, made by
 * nnr_pack_conv_panel_f32 from w [oc, k = c·kh·kw]) holds the GEMM's
 * panels of wᵀ, then w itself for batches of more than one sample.
 * nnr_conv2d_panel_f32 is nnr_conv2d_f32 with that weight: the same bits. */
int nnr_conv2d_panel_ok(const nnr_conv2d_shape *s);
size_t nnr_conv_panel_size(int k, int oc);
void nnr_pack_conv_panel_f32(int k, int oc, const float *w, float *wp);
void nnr_conv2d_panel_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *wp,
                          const float *b, float *y, nnr_act act, float act_param, float *scratch);

/* Transposed convolution (PyTorch ConvTranspose2d), the adjoint of a
 * convolution: s describes it as PyTorch does (in_*: its input; out_*: its
 * output, out_h = (in_h - 1) stride_h - 2 padding_h + dilation_h (kernel_h
 * - 1) + output_padding + 1), weight [in_channels, out_channels/groups,
 * kernel_h, kernel_w]; b may be NULL. scratch:
 * nnr_conv_transpose2d_scratch(s) floats. */
size_t nnr_conv_transpose2d_scratch(const nnr_conv2d_shape *s);
void nnr_conv_transpose2d_f32(int n, const nnr_conv2d_shape *s, const float *x,
                              const float *w, const float *b, float *y, float *scratch);
void nnr_conv_transpose2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                       const float *w, const float *dy, float *dx,
                                       float *dw, float *db, float *scratch);

/* ---------------------------------------------------------------- pooling */

typedef struct nnr_pool2d_shape {
    int channels;       /* channels (input and output) */
    int in_h, in_w;     /* height, width of one input sample */
    int kernel_h, kernel_w; /* kernel_size */
    int stride_h, stride_w; /* stride */
    int padding_h, padding_w; /* padding on each side */
    int out_h, out_w;   /* floor((in_h + 2 padding_h - kernel_h) / stride_h)
                         * + 1 (ceil_mode = False) */
} nnr_pool2d_shape;

/* Max pooling; padding counts as -inf (PyTorch). */
void nnr_maxpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y);
/* dx from dy; the argmax is recomputed from x (first maximum wins, as PyTorch). */
void nnr_maxpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *x,
                                const float *dy, float *dx);
/* Average pooling, count_include_pad = True (PyTorch's default). */
void nnr_avgpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y);
void nnr_avgpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *dy,
                                float *dx);
/* Adaptive average pooling (PyTorch adaptive_avg_pool2d): output cell
 * (oy, ox) averages rows floor(oy·h/oh) .. ceil((oy+1)·h/oh) - 1, and the
 * same for columns. x [n, c, h, w], y [n, c, oh, ow]. */
void nnr_adaptive_avgpool2d_f32(int n, int c, int h, int w, int oh, int ow, const float *x,
                                float *y);
void nnr_adaptive_avgpool2d_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                         const float *dy, float *dx);
/* Nearest upsampling (PyTorch Upsample(mode = "nearest")): source row of
 * output row oy is oy when oh == h, oy / 2 when oh == 2h, else
 * min(floor(oy·rh), h - 1) in float, rh = (float)(1 / scale_factor); the
 * same for columns. x [n, c, h, w], y [n, c, oh, ow]. */
void nnr_upsample_nearest_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                              const float *x, float *y);
void nnr_upsample_nearest_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                       float rw, const float *dy, float *dx);
/* Bilinear upsampling (PyTorch Upsample(mode = "bilinear"); "linear" with
 * h = oh = 1): output row oy reads rows i0 = floor(s), i1 = min(i0 + 1,
 * h - 1) with weights 1 - (s - i0), s - i0, where s = rh·oy (align != 0,
 * rh = (h - 1) / (oh - 1)) or max(rh·(oy + 0.5) - 0.5, 0) (rh = (float)(1 /
 * scale_factor)), in float; a size that does not change is copied; the same
 * for columns. x [n, c, h, w], y [n, c, oh, ow]. */
void nnr_upsample_linear_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                             int align, const float *x, float *y);
void nnr_upsample_linear_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                      float rw, int align, const float *dy, float *dx);

/* ---------------------------------------------------------------- softmax */

/* Softmax over the middle axis of a tensor seen as [outer, dim, inner]. */
void nnr_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y);
void nnr_log_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y);
/* y is the forward output. dx = y * (dy - Σ dy·y)  /  dx = dy - exp(y) Σ dy. */
void nnr_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                              const float *dy, float *dx);
void nnr_log_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                  const float *dy, float *dx);

/* ---------------------------------------------------------------- tensor ops */

/* Element-wise operators of two values (nnr_binary_f32) and of a value and
 * a number (nnr_scalar_f32). */
typedef enum nnr_binop {
    NNR_BIN_ADD = 0,    /* a + b */
    NNR_BIN_SUB,        /* a - b */
    NNR_BIN_MUL,        /* a * b */
    NNR_BIN_DIV,        /* a / b */
    NNR_BIN_RSUB,       /* b - a (scalar form only: c - x) */
    NNR_BIN_RDIV,       /* b / a (scalar form only: c / x) */
} nnr_binop;

/* Broadcasting of one sample: the output is [d0, d1, d2, d3] (leading
 * dimensions 1 when fewer); a0..a3 and b0..b3 are the element strides of
 * a and b in their own sample, 0 along a dimension they broadcast. a's
 * sample holds the product of the d's where a's stride is not 0 (b's
 * likewise). The batch is never broadcast: every operand has n samples. */
typedef struct nnr_bcast_shape {
    int d0, d1, d2, d3;
    int a0, a1, a2, a3;
    int b0, b1, b2, b3;
} nnr_bcast_shape;

/* y = a op b with broadcasting (op: ADD, SUB, MUL or DIV); y may alias an
 * operand of its own shape. */
void nnr_binary_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                    const float *b, float *y);
/* da, db (either may be NULL) from dy, summed over the dimensions each
 * operand broadcasts; a and b are the forward's operands. Where neither
 * broadcasts, da and db of ADD (da of SUB) may be dy itself: nothing is
 * copied. */
void nnr_binary_backward_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                             const float *b, const float *dy, float *da, float *db);
/* y = x op c (op: ADD, MUL, DIV, RSUB = c - x, RDIV = c / x); x == y allowed. */
void nnr_scalar_f32(int op, float c, size_t len, const float *x, float *y);
/* dx from dy; y is the forward output (RDIV reads it). */
void nnr_scalar_backward_f32(int op, float c, size_t len, const float *x, const float *y,
                             const float *dy, float *dx);

/* Batched matrix product of one sample: a is l0 x l1 matrices [m, k], b is
 * l0 x l1 matrices [k, n], y is l0 x l1 matrices [m, n]. a0, a1 (b0, b1)
 * are the matrix strides of a (b) along l0, l1: 0 where it broadcasts.
 * an, bn: floats of one sample of a, b. */
typedef struct nnr_matmul_shape {
    int l0, l1, m, k, n;
    int a0, a1, b0, b1;
    int an, bn;
} nnr_matmul_shape;

void nnr_matmul_f32(int n, const nnr_matmul_shape *s, const float *a, const float *b,
                    float *y);
/* da = dy·bᵀ, db = aᵀ·dy, summed over broadcast matrices; either may be NULL. */
void nnr_matmul_backward_f32(int n, const nnr_matmul_shape *s, const float *a,
                             const float *b, const float *dy, float *da, float *db);

/* Views as [outer, rows, inner] blocks. narrow: y[o, r, i] = x[o, start + r, i]
 * for r < rows, x having xrows rows. place: y[o, start + r, i] = x[o, r, i],
 * y having yrows rows; the other rows of y are left as they are. */
void nnr_narrow_f32(size_t outer, int xrows, int start, int rows, size_t inner,
                    const float *x, float *y);
void nnr_place_f32(size_t outer, int yrows, int start, int rows, size_t inner,
                   const float *x, float *y);

/* Permutation of one sample's axes: x is [d0, d1, d2, d3] (leading 1s when
 * fewer), output axis j is input axis pj. */
typedef struct nnr_permute_shape {
    int d0, d1, d2, d3;
    int p0, p1, p2, p3;
} nnr_permute_shape;

void nnr_permute_f32(int n, const nnr_permute_shape *s, const float *x, float *y);

/* The reduction of nnr_reduce_f32 (sum, mean, torch.amax, torch.amin). */
enum { NNR_REDUCE_SUM = 0, NNR_REDUCE_MEAN = 1, NNR_REDUCE_MAX = 2, NNR_REDUCE_MIN = 3 };

/* Sum, mean, max or min (kind, NNR_REDUCE_*) of one sample [d0, d1, d2, d3]
 * over the axes whose bit is set in mask (bit 0: d0); y has the kept axes
 * in order. Max and min propagate NaN. */
typedef struct nnr_reduce_shape {
    int d0, d1, d2, d3;
    int mask;
} nnr_reduce_shape;

void nnr_reduce_f32(int kind, int n, const nnr_reduce_shape *s, const float *x, float *y);
/* Backward of max and min: dy shared by the elements of x equal to y. */
void nnr_reduce_extreme_backward_f32(int n, const nnr_reduce_shape *s, const float *x,
                                     const float *y, const float *dy, float *dx);
/* dx[i] = dy[the output element of i] (divided by the count for mean). */
void nnr_reduce_backward_f32(int mean, int n, const nnr_reduce_shape *s, const float *dy,
                             float *dx);

/* ---------------------------------------------------------------- batchnorm */

/* Inference: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.
 * x is [n, c, spatial] (spatial = 1 for batchnorm1d on [n, c]). */
void nnr_batchnorm_f32(int n, int c, int spatial, const float *x, const float *gamma,
                       const float *beta, const float *mean, const float *var,
                       float eps, float *y);
/* Training: batch statistics (biased variance for normalising); updates
 * running_mean/var in place with momentum, using the unbiased variance
 * (PyTorch). Saves the batch mean and 1/sqrt(var+eps) per channel. */
void nnr_batchnorm_train_f32(int n, int c, int spatial, const float *x,
                             const float *gamma, const float *beta,
                             float *running_mean, float *running_var, float eps,
                             float momentum, float *save_mean, float *save_invstd,
                             float *y);
/* The same, then relu: y = max(0, batchnorm(x)) in the one pass that writes y
 * (the statistics and running buffers as above). */
void nnr_batchnorm_train_relu_f32(int n, int c, int spatial, const float *x,
                                  const float *gamma, const float *beta,
                                  float *running_mean, float *running_var, float eps,
                                  float momentum, float *save_mean, float *save_invstd,
                                  float *y);
void nnr_batchnorm_backward_f32(int n, int c, int spatial, const float *x,
                                const float *gamma, const float *save_mean,
                                const float *save_invstd, const float *dy, float *dx,
                                float *dgamma, float *dbeta);

/* ---------------------------------------------------------------- layernorm */

/* Layer normalisation of rows of d floats: y = (x - mean) / sqrt(var + eps)
 * · w + b (biased variance; w, b may be NULL: 1 and 0). */
void nnr_layernorm_f32(size_t rows, int d, const float *x, const float *w, const float *b,
                       float eps, float *y);
/* The same, keeping each row's mean and 1/sqrt(var + eps) for the backward. */
void nnr_layernorm_train_f32(size_t rows, int d, const float *x, const float *w,
                             const float *b, float eps, float *save_mean,
                             float *save_rstd, float *y);
/* dx (may be NULL); dw, db (may be NULL) are overwritten with the sums over rows. */
void nnr_layernorm_backward_f32(size_t rows, int d, const float *x, const float *w,
                                const float *save_mean, const float *save_rstd,
                                const float *dy, float *dx, float *dw, float *db);

/* ---------------------------------------------------------------- folding */

/* Inference-only parameter folding (the compiler's fold-linear and
 * fold-batchnorm passes). It runs once when parameters are loaded — in the
 * emitted prepare(), and in the compiler itself when the parameters are
 * known at compile time — never per forward call. Products and sums are
 * taken in double and rounded to float once. */

/* A chain of k >= 1 linear layers (y = x·W1ᵀ + b1, then W2, ..., Wk) as one:
 * dims[0] = in, dims[j] = out of layer j; w[j-1] is [dims[j], dims[j-1]],
 * b[j-1] is [dims[j]] or NULL. Writes w_out [dims[k], dims[0]] and, when
 * b_out is not NULL, b_out [dims[k]] (missing biases count as zero).
 * scratch: 2·max(dims) doubles, or NULL to allocate them (freed before
 * returning). Returns 0, or -1 when scratch could not be allocated. */
int nnr_fold_linear_f32(int k, const int *dims, const float *const *w,
                        const float *const *b, float *w_out, float *b_out,
                        double *scratch);
/* A layer with `rows` output channels of `cols` weights each (linear
 * [out, in]; conv2d [oc, ic·kh·kw]) and bias b (NULL: zero), followed by
 * batch norm in inference: s = gamma / sqrt(var + eps);
 * w_out = s·w (row-wise), b_out = s·(b - mean) + beta. */
void nnr_fold_bn_f32(int rows, int cols, const float *w, const float *b,
                     const float *gamma, const float *beta, const float *mean,
                     const float *var, float eps, float *w_out, float *b_out);

/* ---------------------------------------------------------------- rows */

/* A model's several inputs arrive side by side in each sample's row
 * (LANGUAGE.md §7), and its several outputs leave so; kernels want each
 * value contiguous over the batch. take: dst[i, 0..len) = src[i, off ..
 * off + len) of rows `row` floats wide; put: the reverse. */
void nnr_rows_take(int n, const float *src, size_t row, size_t off, size_t len, float *dst);
void nnr_rows_put(int n, const float *src, size_t len, float *dst, size_t row, size_t off);
/* y[0..len) += x[0..len): a gradient summed over a value's readers. */
void nnr_acc_f32(size_t len, const float *x, float *y);

/* ---------------------------------------------------------------- rng */

/* The seeded generator behind initialisation, shuffling and dropout
 * (xoshiro256** seeded by splitmix64: same seed, same stream, everywhere). */
typedef struct nnr_rng { uint64_t s[4]; } nnr_rng;
void     nnr_rng_seed(nnr_rng *r, uint64_t seed);
uint64_t nnr_rng_next(nnr_rng *r);
double   nnr_rng_uniform(nnr_rng *r);            /* [0, 1) */
uint64_t nnr_rng_below(nnr_rng *r, uint64_t n);  /* unbiased, [0, n) */
void     nnr_rng_shuffle(nnr_rng *r, int32_t *idx, size_t n); /* Fisher-Yates */

/* PyTorch's default initialisation of nn.Linear / nn.Conv2d:
 * kaiming_uniform(a = sqrt 5) for the weight and U(-1/sqrt(fan_in), ..) for
 * the bias — both are U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void nnr_init_uniform(nnr_rng *r, float *p, size_t len, float bound);

/* ------------------------------------------------ a model's entry points */

/* What an emitted model's NAME_forward, NAME_step and NAME_train_step work
 * on besides their data (NAME.h; docs/embedding.md): the batch and the
 * blocks for it, every block the caller's. Each entry point reads n and
 * those of the other fields named for it here that the model needs; the
 * rest may be anything (NULL, 0). The sizes are NAME.h's. */
typedef struct nnr_ctx {
    int n;                /* the batch: samples (step: new positions), >= 1 */
    const float *params;  /* forward, step: the inference block (NAME_PARAMS_SIZE) */
    float *arena;         /* scratch: NAME_arena_size(n), NAME_step_arena_size(n) or
                           * NAME_train_arena(n) floats */
    float *cache;         /* step: the keys and values (NAME_STEP_CACHE_SIZE) */
    int pos;              /* step: the first new position; the cache holds those before */
    float *state;         /* train_step: the state block (batch norm's running
                           * statistics are updated in it) */
    float *grad;          /* train_step: the gradients, laid out as the state block */
    nnr_rng *rng;         /* train_step: dropout's generator */
} nnr_ctx;

/* ---------------------------------------------------------------- dropout */

/* Training: mask[i] = 0 with probability p, else 1/(1-p); y = x * mask. */
void nnr_dropout_f32(nnr_rng *r, float p, size_t len, const float *x, float *y,
                     float *mask);

/* ---------------------------------------------------------------- losses */

typedef enum nnr_loss {
    NNR_LOSS_MSE = 0,
    NNR_LOSS_L1,
    NNR_LOSS_BCE,
    NNR_LOSS_BCE_WITH_LOGITS,
    NNR_LOSS_CROSS_ENTROPY,
    NNR_LOSS_NLL,
} nnr_loss;

/* Mean loss over pred[n,k] (reduction = 'mean' exactly as PyTorch: mse, l1,
 * bce and bce_with_logits average over all n*k elements; cross_entropy and
 * nll over the n samples). Targets: labels[n] class indices when labels is
 * non-NULL (cross_entropy, nll), else target[n,k] floats (probability rows
 * for cross_entropy). When dpred is non-NULL it receives dloss/dpred. */
double nnr_loss_f32(nnr_loss loss, int n, int k, const float *pred,
                    const int32_t *labels, const float *target, float *dpred);

/* cross_entropy's label_smoothing eps (PyTorch's): class labels[n] as the
 * target rows out[n,k] = (1 - eps) onehot + eps / k, so that
 * nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY) on them is
 * F.cross_entropy(label_smoothing = eps) and its gradient. A label outside
 * [0, k) gives a row of NaN (a NaN loss). */
void nnr_smooth_labels(int n, int k, const int32_t *labels, double eps, float *out);

/* ---------------------------------------------------------------- sequences */

/* Sequence layers (kernels/seq.c, seq_attn.c, seq_rnn.c). Integer values
 * (token indices, positions) are carried as floats holding exact integers. */

/* nn.Embedding's default initialisation: N(0, std²) from r (Box-Muller on
 * nnr_rng_uniform, two draws per pair of values), then row pad_row - 1 of
 * [len / cols, cols] set to zero when pad_row > 0 (padding_idx). */
void nnr_init_normal(nnr_rng *r, float *p, size_t len, float std, int64_t pad_row, size_t cols);
/* y[i] = i for i < len, for each of n samples: arange(len) per sample. */
void nnr_arange_f32(int n, int len, float *y);
/* Embedding lookup: y[r, :] = w[idx[r], :] for r < rows. An index that is
 * not in [0, num) gives a zero row (w is never read out of bounds; the
 * program rejects such inputs before they get here). */
void nnr_embedding_f32(size_t rows, int num, int dim, const float *idx, const float *w,
                       float *y);
/* dw[num, dim] = Σ_{r: idx[r] = i} dy[r, :] (overwritten); the row
 * padding_idx (-1: none) stays zero, as do rows of indices out of range. */
void nnr_embedding_backward_f32(size_t rows, int num, int dim, int padding_idx,
                                const float *idx, const float *dy, float *dw);

/* F.scaled_dot_product_attention over bh independent heads:
 * q[bh, tq, e], k[bh, tk, e], v[bh, tk, ev] -> y[bh, tq, ev], scores scaled
 * by 1/sqrt(e); causal: query i sees keys j <= i (PyTorch's top-left
 * aligned mask). lse[bh, tq] (NULL: not kept) gets the log-sum-exp of each
 * query's scaled scores, which the backward reads. Memory: a block of at
 * most NNR_ATTN_ROWS queries at a time (NNR_ATTN_ROWS x tk scores), never
 * the whole tq x tk matrix of every head. */
#define NNR_ATTN_ROWS 64
void nnr_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                  const float *k, const float *v, float *y, float *lse);
/* dq, dk, dv (each may be NULL; overwritten) from dy, recomputing the
 * probabilities from q, k and lse; y is the forward's output. */
void nnr_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                           const float *q, const float *k, const float *v, const float *y,
                           const float *lse, const float *dy, float *dq, float *dk, float *dv);

/* nn.MultiheadAttention (batch first), e = embed_dim: q[n, tgt_len, e], k
 * and v [n, src_len, e] -> y[n, tgt_len, e]. p: in_proj_weight [3e, e],
 * in_proj_bias [3e] (bias), then out_proj.weight [e, e], out_proj.bias [e]
 * (bias), one after the other. The projections split into num_heads heads
 * of e / num_heads, each attended as nnr_sdpa_f32. */
typedef struct nnr_mha_shape {
    int tgt_len;        /* query positions (rows of q) */
    int src_len;        /* key/value positions (rows of k and v) */
    int embed_dim;      /* features of q, k, v and y */
    int num_heads;      /* heads, each of embed_dim / num_heads */
    int bias;           /* whether the projections have biases */
    int is_causal;      /* each query sees the keys up to its own position */
} nnr_mha_shape;
/* Floats per sample the training forward keeps (the projected q, k, v,
 * the heads' merged output, the log-sum-exps). */
size_t nnr_mha_saved(const nnr_mha_shape *s);
/* saved: n * nnr_mha_saved(s) floats (training), or NULL (inference: the
 * kernel allocates its own and frees it). */
void nnr_mha_f32(const nnr_mha_shape *s, int n, const float *q, const float *k, const float *v,
                 const float *p, float *y, float *saved);
/* The same for n new positions pos .. pos + n - 1 of ONE sequence against
 * a key/value cache (generation): q, k, v [n, e] their rows; their keys
 * and values (after the projections) are written to kc, vc [.., e] at rows
 * pos.., and each attends to rows 0 .. its own position (s->is_causal
 * must be set; s->tgt_len, s->src_len are not read). */
void nnr_mha_step_f32(const nnr_mha_shape *s, int pos, int n, const float *q, const float *k,
                      const float *v, const float *p, float *kc, float *vc, float *y);
/* nnr_sdpa_f32 (one head, causal) for n new positions at pos: k, v [n, e],
 * [n, ev] are copied into kc, vc at rows pos.., q [n, e] attends to rows
 * 0 .. its own position; y [n, ev]. */
void nnr_sdpa_step_f32(int pos, int n, int e, int ev, const float *q, const float *k,
                       const float *v, float *kc, float *vc, float *y);
/* dq, dk, dv (each may be NULL) and dp (the parameters', overwritten).
 * Self-attention (q, k and v the same pointer, tgt_len = src_len): the
 * first of dq, dk, dv that is not NULL gets the whole gradient of that one
 * input (the sum of its three uses), the others zeros. */
void nnr_mha_backward_f32(const nnr_mha_shape *s, int n, const float *q, const float *k,
                          const float *v, const float *p, const float *saved, const float *dy,
                          float *dq, float *dk, float *dv, float *dp);

/* nn.LSTM (gates 4: i, f, g, o) and nn.GRU (gates 3: r, z, n), batch first,
 * t = seq_len, hidden = hidden_size, dirs = num_directions, layers =
 * num_layers: x[n, t, input_size]; the parameters p are PyTorch's tensors
 * one after the other in state_dict order: for each layer, for each
 * direction, weight_ih [gates*hidden, in_l], weight_hh [gates*hidden,
 * hidden], and when bias bias_ih, bias_hh [gates*hidden] (in_l =
 * input_size for layer 0, hidden*dirs after). The result y packs, per
 * sample, out [t, dirs*hidden] (the last layer's hidden states, forward
 * direction first), then h_n [layers*dirs, hidden], then for the LSTM c_n
 * [layers*dirs, hidden] (nnr_rnn_packed floats). The states start from
 * zeros. */
typedef struct nnr_rnn_shape {
    int seq_len;        /* time steps of x */
    int input_size;     /* features of x per step */
    int hidden_size;    /* features of the hidden state */
    int num_layers;     /* stacked layers */
    int num_directions; /* 2 when bidirectional, else 1 */
    int bias;           /* whether the layers have bias_ih, bias_hh */
    int gates;          /* 4: LSTM, 3: GRU */
} nnr_rnn_shape;
/* Floats of y per sample; floats of the parameters; floats per sample the
 * training forward keeps for the backward. */
size_t nnr_rnn_packed(const nnr_rnn_shape *s);
size_t nnr_rnn_params(const nnr_rnn_shape *s);
size_t nnr_rnn_saved(const nnr_rnn_shape *s);
/* Inference (no dropout). */
void nnr_rnn_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p, float *y);
/* Training: dropout with probability dropout on the outputs of every layer
 * but the last (rng), saved: n * nnr_rnn_saved(s) floats for the backward. */
void nnr_rnn_train_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p,
                       float *y, float *saved, nnr_rng *rng, float dropout);
/* dx (may be NULL) and dp (the parameters' gradient, nnr_rnn_params floats)
 * from dy (packed as y), both overwritten. */
void nnr_rnn_backward_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p,
                          const float *y, const float *saved, const float *dy, float *dx,
                          float *dp);

/* One result of the packed y of nnr_rnn_f32 (packed floats per sample):
 * y[b, 0..len) = src[b, off..off + len); the backward writes dy into that
 * part of dsrc and zeros elsewhere (dsrc overwritten). */
void nnr_rnn_result_f32(int n, size_t packed, size_t off, size_t len, const float *src, float *y);
void nnr_rnn_result_backward_f32(int n, size_t packed, size_t off, size_t len, const float *dy,
                                 float *dsrc);

/* Sequence losses: cross_entropy (logits) or nll (log-probabilities) over
 * rows pred[rows, k] with class labels[rows], ignore_index (-100 in
 * PyTorch) skipping a row: the mean over the rows not ignored, exactly as
 * F.cross_entropy(pred.view(-1, k), y.view(-1)) (NaN when every row is
 * ignored; a label outside [0, k) otherwise gives NaN). dpred (may be
 * NULL) gets the gradient (zero on ignored rows). */
#define NNR_IGNORE_INDEX (-100)
double nnr_seq_loss_f32(nnr_loss loss, size_t rows, int k, const float *pred,
                        const int32_t *labels, int ignore_index, float *dpred);
/* cross_entropy against a target distribution per row, soft[rows, k] (PyTorch's
 * label_smoothing: (1 - eps) one-hot + eps / k), over the rows whose label
 * is not ignore_index: the mean of -sum_j soft_j log_softmax(pred)_j over
 * those rows, as F.cross_entropy(pred.view(-1, k), y.view(-1),
 * label_smoothing = eps) (NaN when every row is ignored). dpred (may be
 * NULL) gets the gradient (zero on ignored rows). */
double nnr_seq_loss_soft_f32(size_t rows, int k, const float *pred, const int32_t *labels,
                             const float *soft, int ignore_index, float *dpred);
/* The number of correct argmax predictions among the rows not ignored, and
 * that count of rows in *counted. */
size_t nnr_seq_correct(size_t rows, int k, const float *pred, const int32_t *labels,
                       int ignore_index, size_t *counted);

/* ---------------------------------------------------------------- optimizers */

typedef enum nnr_optim_kind { NNR_OPT_SGD = 0, NNR_OPT_ADAM, NNR_OPT_ADAMW } nnr_optim_kind;

/* Hyper-parameters are doubles, as PyTorch's are Python floats: 1 - beta2,
 * the bias corrections, lr / bc1 and 1 - lr*wd are formed in double and
 * only then rounded to float, as torch.optim does. */
typedef struct nnr_optim {
    nnr_optim_kind kind;
    double lr, momentum, dampening, weight_decay;
    int nesterov;
    double beta1, beta2, eps;
} nnr_optim;

/* One step over a flat block of len parameters (torch.optim semantics).
 * state1/state2: momentum buffer (sgd), exp_avg / exp_avg_sq (adam[w]),
 * zero-initialised by the caller; step is 1 for the first step. Returns 1
 * when every parameter of the block is finite afterwards, else 0. */
int nnr_optim_step(const nnr_optim *o, size_t len, float *p, const float *g,
                   float *state1, float *state2, long step);

/* ---------------------------------------------------------------- schedules */

/* Learning-rate schedules with torch.optim.lr_scheduler's arithmetic
 * (kernels/sched.c): StepLR, CosineAnnealingLR, LinearLR as a warm-up,
 * OneCycleLR (cosine annealing, pct_start 0.3, div_factor 25,
 * final_div_factor 1e4, momentum or Adam's beta1 cycled 0.95 -> 0.85 -> 0.95)
 * and a list of them as SequentialLR. Each step does what PyTorch's does
 * (the chained forms, in double), so the rates are PyTorch's to the bit. */
typedef enum nnr_sched_kind {
    NNR_SCHED_STEPLR = 0,   /* n = step_size, a = gamma */
    NNR_SCHED_COSINE,       /* n = t_max, a = eta_min */
    NNR_SCHED_WARMUP,       /* n = steps, a = start_factor (end_factor 1) */
    NNR_SCHED_ONECYCLE,     /* n = total_steps, a = max_lr */
} nnr_sched_kind;

#define NNR_SCHED_MAX 8

typedef struct nnr_sched_part {
    nnr_sched_kind kind;
    long n;
    double a;
} nnr_sched_part;

/* A schedule: one part, or several run one after the other (SequentialLR,
 * each but the last for its n steps). per_step: stepped after every
 * optimizer step, else after every epoch. */
typedef struct nnr_sched {
    int nparts;             /* 0: no schedule (a constant rate) */
    nnr_sched_part part[NNR_SCHED_MAX];
    int per_step;
} nnr_sched;

/* Where a schedule is: the optimizer group's keys that the schedulers read
 * and write, and each scheduler's counters. */
typedef struct nnr_sched_state {
    long t;                         /* SequentialLR's last_epoch */
    long last[NNR_SCHED_MAX];       /* each scheduler's last_epoch */
    long count[NNR_SCHED_MAX];      /* each scheduler's _step_count */
    double base[NNR_SCHED_MAX];     /* each scheduler's base_lr */
    double initial_lr, max_lr, min_lr;  /* the group's; the last two: onecycle */
    int cycle;                      /* a onecycle cycles momentum or beta1 */
} nnr_sched_state;

/* Constructs the schedulers on the optimizer o as PyTorch does (which sets
 * o->lr, and o->momentum or o->beta1 when a onecycle cycles it). */
void nnr_sched_start(const nnr_sched *s, nnr_sched_state *st, nnr_optim *o);
/* One scheduler.step(): o->lr (and the cycled momentum) for the next
 * optimizer step or epoch. -1 when a onecycle is stepped past its
 * total_steps (PyTorch's ValueError), o untouched. */
int nnr_sched_step(const nnr_sched *s, nnr_sched_state *st, nnr_optim *o);
/* How many steps the schedule may take (a onecycle last in it ends it),
 * or -1 for any number. */
long nnr_sched_limit(const nnr_sched *s);

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type = 2) over the n
 * gradient blocks g[i][0..len[i]) (one per parameter tensor): the total
 * 2-norm of the per-tensor norms, every block multiplied by
 * min(max_norm / (total + 1e-6), 1) in float. Returns the total norm. */
float nnr_clip_grad_norm(float *const *g, const size_t *len, int n, double max_norm);

/* ---------------------------------------------------------------- files */

/* Error reporting of the readers: a message naming the file and the line,
 * column or byte offset, in err (NUL-terminated, truncated to errlen). */

/* A tensor read from or written to a .safetensors file; data is F32. */
typedef struct nnr_st_tensor {
    char *name;
    int ndim;
    int64_t shape[8];
    size_t numel;
    float *data;        /* converted to float from F32/F16/BF16/F64 (I64 too) */
    int dtype_was_int;  /* stored as I64/I32 (e.g. num_batches_tracked) */
} nnr_st_tensor;

typedef struct nnr_st_file {
    int ntensors;
    nnr_st_tensor *tensors;
    int nmeta;          /* "__metadata__": meta[2i] = key, meta[2i+1] = value */
    char **meta;
} nnr_st_file;

/* 0 on success; on failure -1 and a message in err. */
int  nnr_st_read(const char *path, nnr_st_file *out, char *err, size_t errlen);
int  nnr_st_parse(const unsigned char *buf, size_t len, const char *path,
                  nnr_st_file *out, char *err, size_t errlen);
void nnr_st_free(nnr_st_file *f);
const nnr_st_tensor *nnr_st_find(const nnr_st_file *f, const char *name);
/* The "__metadata__" value of key, or NULL. */
const char *nnr_st_meta(const nnr_st_file *f, const char *key);

/* Write tensors atomically (nnr_write_file_atomic). Tensors with
 * is_int set are written as I64 (their float data rounded). */
typedef struct nnr_st_out {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
    int is_int;
} nnr_st_out;
int nnr_st_write(const char *path, const nnr_st_out *t, int n, char *err, size_t errlen);
/* The same with nmeta more "__metadata__" strings: meta[2i] = key,
 * meta[2i+1] = value ("format" is always "pt"). */
int nnr_st_write_meta(const char *path, const nnr_st_out *t, int n, const char *const *meta,
                      int nmeta, char *err, size_t errlen);

/* A data set held in memory: x[rows, ncols] inputs, and either labels[rows]
 * (classification) or y[rows, ntargets] (regression) or neither. */
typedef struct nnr_dataset {
    size_t rows;
    size_t ncols;       /* input values per sample */
    float *x;
    int32_t *labels;    /* NULL unless a label column was asked for */
    size_t ntargets;
    float *y;           /* NULL unless targets > 0 */
} nnr_dataset;

typedef struct nnr_csv_opts {
    int label;          /* column index of the class label; negative counts from the end */
    int has_label;      /* 1: label column in use */
    int targets;        /* number of trailing float target columns (0: none) */
    int header;         /* 1: skip the first line */
} nnr_csv_opts;

int nnr_csv_read(const char *path, const nnr_csv_opts *o, nnr_dataset *out,
                 char *err, size_t errlen);
int nnr_csv_parse(const char *buf, size_t len, const char *path, const nnr_csv_opts *o,
                  nnr_dataset *out, char *err, size_t errlen);
/* nnr_csv_parse of the lines that follow line0 lines of a stream (messages
 * number them from line0 + 1): a program's standard input, a chunk at a time. */
int nnr_csv_parse_lines(const char *buf, size_t len, const char *path, size_t line0,
                        const nnr_csv_opts *o, nnr_dataset *out, char *err, size_t errlen);
int nnr_idx_read(const char *images, const char *labels, float scale, nnr_dataset *out,
                 char *err, size_t errlen);
/* Parse IDX buffers (labels may be NULL); the paths only name files in messages. */
int nnr_idx_parse(const unsigned char *img, size_t img_len, const char *img_path,
                  const unsigned char *lab, size_t lab_len, const char *lab_path,
                  float scale, nnr_dataset *out, char *err, size_t errlen);
/* text(path, context) (LANGUAGE.md §10): the bytes of buf as tokens 0..255;
 * sample i is x = buf[i·context .. i·context + context - 1] (as floats) and
 * its labels the next bytes (labels[rows · context]); floor((len - 1) /
 * context) samples. -1 and a message when that is none. */
int nnr_text_parse(const unsigned char *buf, size_t len, const char *path, int context,
                   nnr_dataset *out, char *err, size_t errlen);
void nnr_dataset_free(nnr_dataset *d);

/* Read a whole file into memory (NULL + message on failure). An input that
 * is not a regular file (a pipe, /dev/stdin, a device) is read up to
 * NNC_MAX_INPUT bytes (environment; default 256 MiB), then refused. */
unsigned char *nnr_read_file(const char *path, size_t *len, char *err, size_t errlen);
/* The byte limit on an input that is not a regular file, for nnc and the
 * programs alike: NNC_MAX_INPUT (bytes, optionally followed by k, M or G),
 * else 256 MiB. A value that is not that sets *bad (when bad is given) to
 * it, and the default is used. */
size_t nnr_max_input(const char **bad);
/* Writing a file atomically: the target holds its old or its new contents,
 * never a part, whenever the process stops. nnr_wfile_open gives a stream f
 * on a temporary in the target's folder; nnr_wfile_commit flushes and fsyncs
 * it and renames it to the target (0, or -1 with a message: the target is
 * untouched and the temporary gone); nnr_wfile_abort drops it. On Linux the
 * temporary is an unnamed file (O_TMPFILE) named only for the instant before
 * the rename, so a process killed while it writes leaves nothing behind;
 * elsewhere, or where the file system has no O_TMPFILE, it is
 * PATH.tmp.<pid>. A new file gets permissions 0666 (executable: 0777) less
 * the umask; a regular file replaced keeps its permission bits and, where
 * the process may set them, its owner and group (executable adds x where r
 * is set). An existing target that is not a regular file (a character or
 * block device, a FIFO, or a symbolic link to one) is written in place
 * instead: opened for writing, never replaced; a write error (ENOSPC from
 * /dev/full) is still reported by the commit. A symbolic link to a regular
 * file is replaced by the new file (the link's target is left alone). */
typedef struct nnr_wfile {
    FILE *f;        /* write the contents here */
    char *path;     /* private: the target */
    char *tmp;      /* private: PATH.tmp.<pid> */
    int fd;         /* private: the unnamed temporary, else -1 */
    int inplace;    /* private: 1 when writing through a device or FIFO */
} nnr_wfile;
int  nnr_wfile_open(nnr_wfile *w, const char *path, int executable, char *err, size_t errlen);
int  nnr_wfile_commit(nnr_wfile *w, char *err, size_t errlen);
void nnr_wfile_abort(nnr_wfile *w);
/* Write a whole buffer atomically (nnr_wfile_*). */
int nnr_write_file_atomic(const char *path, const void *buf, size_t len, char *err,
                          size_t errlen);

#endif
