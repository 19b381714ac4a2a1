/* ref.h — naive reference kernels: the oracle of the kernel tests, never
 * shipped. Each nnr_ref_<name> has exactly the signature of nnr_<name> in
 * nnr.h and is written as plainly as possible (direct loops, no im2col, no
 * blocking, double accumulation). */
#ifndef NNR_REF_H
#define NNR_REF_H

#include "../nnr.h"

void nnr_ref_act_f32(nnr_act act, float param, size_t len, const float *x, float *y);
void nnr_ref_act_backward_f32(nnr_act act, float param, size_t len, const float *x,
                              const float *y, const float *dy, float *dx);
void nnr_ref_act2_f32(nnr_act act, float p0, float p1, size_t len, const float *x, float *y);
void nnr_ref_act2_backward_f32(nnr_act act, float p0, float p1, size_t len, const float *x,
                               const float *y, const float *dy, float *dx);

void nnr_ref_gemm_f32(int trans_a, int trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc, int accumulate);

void nnr_ref_linear_f32(int n, int in, int out, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param);
void nnr_ref_linear_backward_f32(int n, int in, int out, const float *x, const float *w,
                                 const float *dy, float *dx, float *dw, float *db);

/* bf16 weights: the rounding of nnr_bf16_from_f32 (a NaN gives the quiet
 * NaN 0x7fc0 with its sign), and nnr_linear_packed_bf16 but with w as
 * [out, in] fp32 (rounded here), not packed. */
uint16_t nnr_ref_bf16_from_f32(float v);
void nnr_ref_linear_bf16(int n, int in, int out, const float *x, const float *w,
                         const float *b, float *y, nnr_act act, float act_param);

size_t nnr_ref_conv2d_scratch(const nnr_conv2d_shape *s); /* 0: needs none */
void nnr_ref_conv2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                        const float *b, float *y, nnr_act act, float act_param,
                        float *scratch);
void nnr_ref_conv2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *db, float *scratch);

size_t nnr_ref_conv_transpose2d_scratch(const nnr_conv2d_shape *s); /* 0: needs none */
void nnr_ref_conv_transpose2d_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                  const float *w, const float *b, float *y, float *scratch);
void nnr_ref_conv_transpose2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                           const float *w, const float *dy, float *dx,
                                           float *dw, float *db, float *scratch);
void nnr_ref_adaptive_avgpool2d_f32(int n, int c, int h, int w, int oh, int ow, const float *x,
                                    float *y);
void nnr_ref_adaptive_avgpool2d_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                             const float *dy, float *dx);
void nnr_ref_upsample_nearest_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                  float rw, const float *x, float *y);
void nnr_ref_upsample_nearest_backward_f32(int n, int c, int h, int w, int oh, int ow,
                                           float rh, float rw, const float *dy, float *dx);
void nnr_ref_upsample_linear_f32(int n, int c, int h, int w, int oh, int ow, float rh, float rw,
                                 int align, const float *x, float *y);
void nnr_ref_upsample_linear_backward_f32(int n, int c, int h, int w, int oh, int ow, float rh,
                                          float rw, int align, const float *dy, float *dx);
void nnr_ref_layernorm_f32(size_t rows, int d, const float *x, const float *w, const float *b,
                           float eps, float *y);
void nnr_ref_layernorm_train_f32(size_t rows, int d, const float *x, const float *w,
                                 const float *b, float eps, float *save_mean,
                                 float *save_rstd, float *y);
void nnr_ref_layernorm_backward_f32(size_t rows, int d, const float *x, const float *w,
                                    const float *save_mean, const float *save_rstd,
                                    const float *dy, float *dx, float *dw, float *db);

void nnr_ref_maxpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y);
void nnr_ref_maxpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *x,
                                    const float *dy, float *dx);
void nnr_ref_avgpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y);
void nnr_ref_avgpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *dy,
                                    float *dx);

void nnr_ref_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y);
void nnr_ref_log_softmax_f32(size_t outer, int dim, size_t inner, const float *x, float *y);
void nnr_ref_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                  const float *dy, float *dx);
void nnr_ref_log_softmax_backward_f32(size_t outer, int dim, size_t inner, const float *y,
                                      const float *dy, float *dx);

void nnr_ref_batchnorm_f32(int n, int c, int spatial, const float *x, const float *gamma,
                           const float *beta, const float *mean, const float *var,
                           float eps, float *y);
void nnr_ref_batchnorm_train_f32(int n, int c, int spatial, const float *x,
                                 const float *gamma, const float *beta,
                                 float *running_mean, float *running_var, float eps,
                                 float momentum, float *save_mean, float *save_invstd,
                                 float *y);
void nnr_ref_batchnorm_backward_f32(int n, int c, int spatial, const float *x,
                                    const float *gamma, const float *save_mean,
                                    const float *save_invstd, const float *dy, float *dx,
                                    float *dgamma, float *dbeta);

void     nnr_ref_rng_seed(nnr_rng *r, uint64_t seed);
uint64_t nnr_ref_rng_next(nnr_rng *r);
double   nnr_ref_rng_uniform(nnr_rng *r);
uint64_t nnr_ref_rng_below(nnr_rng *r, uint64_t n);
void     nnr_ref_rng_shuffle(nnr_rng *r, int32_t *idx, size_t n);
void     nnr_ref_init_uniform(nnr_rng *r, float *p, size_t len, float bound);
void     nnr_ref_dropout_f32(nnr_rng *r, float p, size_t len, const float *x, float *y,
                             float *mask);

double nnr_ref_loss_f32(nnr_loss loss, int n, int k, const float *pred,
                        const int32_t *labels, const float *target, float *dpred);

void nnr_ref_optim_step(const nnr_optim *o, size_t len, float *p, const float *g,
                        float *state1, float *state2, long step);


/* tensor ops (ref_tensor.c) */
void nnr_ref_binary_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                        const float *b, float *y);
void nnr_ref_binary_backward_f32(int op, int n, const nnr_bcast_shape *s, const float *a,
                                 const float *b, const float *dy, float *da, float *db);
void nnr_ref_scalar_f32(int op, float c, size_t len, const float *x, float *y);
void nnr_ref_scalar_backward_f32(int op, float c, size_t len, const float *x, const float *y,
                                 const float *dy, float *dx);
void nnr_ref_matmul_f32(int n, const nnr_matmul_shape *s, const float *a, const float *b,
                        float *y);
void nnr_ref_matmul_backward_f32(int n, const nnr_matmul_shape *s, const float *a,
                                 const float *b, const float *dy, float *da, float *db);
void nnr_ref_narrow_f32(size_t outer, int xrows, int start, int rows, size_t inner,
                        const float *x, float *y);
void nnr_ref_place_f32(size_t outer, int yrows, int start, int rows, size_t inner,
                       const float *x, float *y);
void nnr_ref_permute_f32(int n, const nnr_permute_shape *s, const float *x, float *y);
void nnr_ref_reduce_f32(int kind, int n, const nnr_reduce_shape *s, const float *x, float *y);
void nnr_ref_reduce_extreme_backward_f32(int n, const nnr_reduce_shape *s, const float *x,
                                         const float *y, const float *dy, float *dx);
void nnr_ref_reduce_backward_f32(int mean, int n, const nnr_reduce_shape *s, const float *dy,
                                 float *dx);
void nnr_ref_embedding_f32(size_t rows, int num, int dim, const float *idx, const float *w,
                           float *y);
void nnr_ref_embedding_backward_f32(size_t rows, int num, int dim, int padding_idx,
                                    const float *idx, const float *dy, float *dw);
void nnr_ref_sdpa_f32(int bh, int tq, int tk, int e, int ev, int causal, const float *q,
                      const float *k, const float *v, float *y, float *lse);
void nnr_ref_sdpa_backward_f32(int bh, int tq, int tk, int e, int ev, int causal,
                               const float *q, const float *k, const float *v, const float *y,
                               const float *lse, const float *dy, float *dq, float *dk, float *dv);
void nnr_ref_rnn_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p, float *y);
double nnr_ref_seq_loss_f32(nnr_loss loss, size_t rows, int k, const float *pred,
                            const int32_t *labels, int ignore_index, float *dpred);
double nnr_ref_seq_loss_soft_f32(size_t rows, int k, const float *pred, const int32_t *labels,
                                 const float *soft, int ignore_index, float *dpred);

#endif
