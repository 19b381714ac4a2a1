/* kern.h — declarations shared between the kernel files only (not part of
 * the public runtime API in nnr.h): the GEMM with a fused epilogue that
 * linear and conv2d build on. */
#ifndef NNR_KERN_H
#define NNR_KERN_H

#include "../nnr.h"

/* nnr_gemm_f32, then on every finished tile of C: add row_bias[i] (per row
 * of C) and/or col_bias[j] (per column), then apply act. Either bias may be
 * NULL; with NNR_ACT_NONE and no bias this is exactly nnr_gemm_f32. */
void nnr_gemm_ex_f32(int trans_a, int trans_b, int m, int n, int k,
                     const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc, int accumulate,
                     const float *row_bias, const float *col_bias,
                     nnr_act act, float act_param);

/* The convolution's column matrix of one sample (s: one group, dilation
 * and groups already read as 1 when 0): col[(ci·kh + ki)·kw + kj][oy·ow + ox]
 * = x[ci][oy·sh - ph + ki·dh][ox·sw - pw + kj·dw], or 0 in the padding;
 * and its adjoint, dx (zeroed first) = Σ of the col entries read from each
 * input position (runtime/kernels/conv.c). */
void nnr_kern_im2col_f32(const nnr_conv2d_shape *s, const float *x, float *col);
void nnr_kern_col2im_f32(const nnr_conv2d_shape *s, const float *col, float *dx);
/* the same with the rows of col ld floats apart (ld >= oh*ow) */
void nnr_kern_im2col_ld_f32(const nnr_conv2d_shape *s, const float *x, float *col, size_t ld);
void nnr_kern_col2im_ld_f32(const nnr_conv2d_shape *s, const float *col, float *dx, size_t ld);

/* the direct convolution of few channels on small planes (conv_small.c):
 * whether it takes s (dilation and groups read as 1), its scratch (floats,
 * for any n), forward and backward with nnr_conv2d_f32's arguments (db is
 * the caller's) */
int nnr_conv_small_ok(const nnr_conv2d_shape *s);
size_t nnr_conv_small_scratch(const nnr_conv2d_shape *s);
void nnr_conv_small_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param,
                        float *scratch);
void nnr_conv_small_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *scratch);

#endif
