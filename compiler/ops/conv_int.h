/* conv_int.h — what the convolution families (conv.c, convt.c) share: the
 * kernels' nnr_conv2d_shape of a node, as a KCall's shape struct or as C,
 * and their backward call. */
#ifndef NNC_CONV_INT_H
#define NNC_CONV_INT_H

#include "ops.h"

/* conv1d/conv2d: their convolution (conv1d as height 1); conv_transpose2d:
 * its own geometry (c, h, w its input; oc, oh, ow its output). */
void conv_kcall_shape(const Graph *g, const Node *n, KCall *c);
/* The backward call fn (nnr_conv2d_backward_f32 or its transposed twin):
 * shape, x, weight, dy, dx, dweight, dbias, scratch. */
void conv_grad_call(EmitCtx *e, const Node *n, const char *fn);
/* That struct spelled in C ("&(const nnr_conv2d_shape){...}"). */
const char *conv_shape_c(const Graph *g, const Node *n);

#endif
