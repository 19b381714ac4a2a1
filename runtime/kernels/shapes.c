/* shapes.c — the public entry points of the kernels that take a shape
 * struct: each fills the kernels' private geometry (kern.h, short names
 * for the math) once from nnr.h's struct (PyTorch's names) and calls the
 * internal entry point. */
#include "kern.h"

size_t nnr_conv2d_scratch(const nnr_conv2d_shape *s)
{
    const nnr_kconv k = nnr_kconv_of(s);
    return nnr_kern_conv2d_scratch(&k);
}

void nnr_conv2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                    const float *b, float *y, nnr_act act, float act_param, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv2d_f32(n, &k, x, w, b, y, act, act_param, scratch);
}

void nnr_conv2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv2d_backward_f32(n, &k, x, w, dy, dx, dw, db, scratch);
}

int nnr_conv2d_panel_ok(const nnr_conv2d_shape *s)
{
    const nnr_kconv k = nnr_kconv_of(s);
    return nnr_kern_conv2d_panel_ok(&k);
}

void nnr_conv2d_panel_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *wp,
                          const float *b, float *y, nnr_act act, float act_param, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv2d_panel_f32(n, &k, x, wp, b, y, act, act_param, scratch);
}

int nnr_conv2d_packed_ok(const nnr_conv2d_shape *s)
{
    const nnr_kconv k = nnr_kconv_of(s);
    return nnr_kern_conv2d_packed_ok(&k);
}

void nnr_conv2d_packed_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *wp,
                           const float *b, const float *r, float *y, nnr_act act,
                           float act_param, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv2d_packed_f32(n, &k, x, wp, b, r, y, act, act_param, scratch);
}

void nnr_conv2d_add_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                        const float *b, const float *r, float *y, nnr_act act, float act_param,
                        float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv2d_add_f32(n, &k, x, w, b, r, y, act, act_param, scratch);
}

size_t nnr_conv_transpose2d_scratch(const nnr_conv2d_shape *s)
{
    const nnr_kconv k = nnr_kconv_of(s);
    return nnr_kern_conv_transpose2d_scratch(&k);
}

void nnr_conv_transpose2d_f32(int n, const nnr_conv2d_shape *s, const float *x, const float *w,
                              const float *b, float *y, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv_transpose2d_f32(n, &k, x, w, b, y, scratch);
}

void nnr_conv_transpose2d_backward_f32(int n, const nnr_conv2d_shape *s, const float *x,
                                       const float *w, const float *dy, float *dx, float *dw,
                                       float *db, float *scratch)
{
    const nnr_kconv k = nnr_kconv_of(s);
    nnr_kern_conv_transpose2d_backward_f32(n, &k, x, w, dy, dx, dw, db, scratch);
}

void nnr_maxpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    const nnr_kpool k = nnr_kpool_of(s);
    nnr_kern_maxpool2d_f32(n, &k, x, y);
}

void nnr_maxpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *x,
                                const float *dy, float *dx)
{
    const nnr_kpool k = nnr_kpool_of(s);
    nnr_kern_maxpool2d_backward_f32(n, &k, x, dy, dx);
}

void nnr_avgpool2d_f32(int n, const nnr_pool2d_shape *s, const float *x, float *y)
{
    const nnr_kpool k = nnr_kpool_of(s);
    nnr_kern_avgpool2d_f32(n, &k, x, y);
}

void nnr_avgpool2d_backward_f32(int n, const nnr_pool2d_shape *s, const float *dy, float *dx)
{
    const nnr_kpool k = nnr_kpool_of(s);
    nnr_kern_avgpool2d_backward_f32(n, &k, dy, dx);
}

size_t nnr_mha_saved(const nnr_mha_shape *s)
{
    const nnr_kmha k = nnr_kmha_of(s);
    return nnr_kern_mha_saved(&k);
}

void nnr_mha_f32(const nnr_mha_shape *s, int n, const float *q, const float *k, const float *v,
                 const float *p, float *y, float *saved)
{
    const nnr_kmha g = nnr_kmha_of(s);
    nnr_kern_mha_f32(&g, n, q, k, v, p, y, saved);
}

void nnr_mha_step_f32(const nnr_mha_shape *s, int pos, int n, const float *q, const float *k,
                      const float *v, const float *p, float *kc, float *vc, float *y)
{
    const nnr_kmha g = nnr_kmha_of(s);
    nnr_kern_mha_step_f32(&g, pos, n, q, k, v, p, kc, vc, y);
}

void nnr_mha_backward_f32(const nnr_mha_shape *s, int n, const float *q, const float *k,
                          const float *v, const float *p, const float *saved, const float *dy,
                          float *dq, float *dk, float *dv, float *dp)
{
    const nnr_kmha g = nnr_kmha_of(s);
    nnr_kern_mha_backward_f32(&g, n, q, k, v, p, saved, dy, dq, dk, dv, dp);
}

size_t nnr_rnn_packed(const nnr_rnn_shape *s)
{
    const nnr_krnn k = nnr_krnn_of(s);
    return nnr_kern_rnn_packed(&k);
}

size_t nnr_rnn_params(const nnr_rnn_shape *s)
{
    const nnr_krnn k = nnr_krnn_of(s);
    return nnr_kern_rnn_params(&k);
}

size_t nnr_rnn_saved(const nnr_rnn_shape *s)
{
    const nnr_krnn k = nnr_krnn_of(s);
    return nnr_kern_rnn_saved(&k);
}

void nnr_rnn_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p, float *y)
{
    const nnr_krnn k = nnr_krnn_of(s);
    nnr_kern_rnn_f32(&k, n, x, p, y);
}

void nnr_rnn_train_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p, float *y,
                       float *saved, nnr_rng *rng, float dropout)
{
    const nnr_krnn k = nnr_krnn_of(s);
    nnr_kern_rnn_train_f32(&k, n, x, p, y, saved, rng, dropout);
}

void nnr_rnn_backward_f32(const nnr_rnn_shape *s, int n, const float *x, const float *p,
                          const float *y, const float *saved, const float *dy, float *dx,
                          float *dp)
{
    const nnr_krnn k = nnr_krnn_of(s);
    nnr_kern_rnn_backward_f32(&k, n, x, p, y, saved, dy, dx, dp);
}
