/* test_shapes.c — shape inference and parameter naming through the real
 * front end: each layer's output shape against PyTorch's formula computed
 * here by hand, state_dict names and shapes, and shape errors. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <string.h>

#include "front/ast.h"
#include "front/sema.h"

/* Parse and check `text`; returns the first model (NULL on error). */
static Graph *lower(const char *text, int *nerrors)
{
    static SrcFile src;
    static Diag d;
    static Ast ast;
    static Program prog;
    src.path = "t.nnet";
    src.text = text;
    src.len = strlen(text);
    memset(&ast, 0, sizeof ast);
    diag_init(&d, &src);
    int rc = nnc_parse(&src, &d, &ast);
    if (rc == 0)
        rc = sema_check(&ast, &src, ".", &d, &prog);
    *nerrors = d.nerrors;
    return rc == 0 && prog.nmodels ? prog.models[0] : NULL;
}

static void expect_shape(const Node *n, int ndim, int64_t a, int64_t b, int64_t c)
{
    int64_t want[3] = {a, b, c};
    cr_assert_eq(n->shape.ndim, ndim, "%s: rank %d, want %d", op_info[n->op].name, n->shape.ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(n->shape.d[i], want[i], "%s: dim %d is %lld, want %lld", op_info[n->op].name, i,
                     (long long)n->shape.d[i], (long long)want[i]);
}

/* floor((h + 2p - k) / s) + 1, PyTorch's Conv2d/MaxPool2d size */
static int64_t out_size(int64_t h, int64_t k, int64_t s, int64_t p) { return (h + 2 * p - k) / s + 1; }

Test(shapes, conv_and_pool_follow_pytorch)
{
    int ne;
    Graph *g = lower("model m {\n input [3, 17, 13]\n conv2d(3, 5, 3, stride = 2, padding = 1)\n"
                     " maxpool2d(3, stride = 2, padding = 1)\n avgpool2d(2)\n"
                     " conv2d(5, 4, [1, 2])\n flatten\n}\n", &ne);
    cr_assert_not_null(g);
    int64_t h = out_size(17, 3, 2, 1), w = out_size(13, 3, 2, 1);
    expect_shape(&g->nodes[0], 3, 5, h, w);
    h = out_size(h, 3, 2, 1), w = out_size(w, 3, 2, 1);
    expect_shape(&g->nodes[1], 3, 5, h, w);
    h = out_size(h, 2, 2, 0), w = out_size(w, 2, 2, 0);
    expect_shape(&g->nodes[2], 3, 5, h, w);
    w = out_size(w, 2, 1, 0);
    expect_shape(&g->nodes[3], 3, 4, h, w);
    expect_shape(&g->nodes[4], 1, 4 * h * w, 0, 0);
}

Test(shapes, linear_acts_on_the_last_dimension)
{
    int ne;
    Graph *g = lower("model m { input [2, 7] linear(7, 3) softmax(dim = 1) log_softmax }", &ne);
    cr_assert_not_null(g);
    expect_shape(&g->nodes[0], 2, 2, 3, 0);
    cr_assert_eq(g->nodes[1].softmax.axis, 0, "dim = 1 is the first dimension of a sample");
    cr_assert_eq(g->nodes[2].softmax.axis, 1, "dim = -1 is the last");
}

Test(shapes, state_dict_names_and_shapes)
{
    int ne;
    Graph *g = lower("model m {\n input [4]\n linear(4, 6)\n relu\n bn = batchnorm1d(6)\n"
                     " head = linear(6, 2, bias = false)\n}\n", &ne);
    cr_assert_not_null(g);
    const char *names[] = {"0.weight", "0.bias", "bn.weight", "bn.bias", "bn.running_mean",
                           "bn.running_var", "bn.num_batches_tracked", "head.weight"};
    cr_assert_eq(g->nparams, 8);
    for (int i = 0; i < 8; i++)
        cr_assert_str_eq(g->params[i].name, names[i]);
    cr_assert_eq(g->params[0].shape[0], 6);
    cr_assert_eq(g->params[0].shape[1], 4);
    cr_assert_eq(g->params[6].ndim, 0, "num_batches_tracked is a scalar");
    cr_assert_eq(g->state_size, 24 + 6 + 4 * 6 + 1 + 12);
}

Test(shapes, mismatch_names_both_sizes, .init = cr_redirect_stderr)
{
    int ne;
    Graph *g = lower("model m {\n input [64]\n linear(100, 10)\n}\n", &ne);
    cr_assert_null(g);
    cr_assert_eq(ne, 1);
    fflush(stderr);
    cr_assert_stderr_eq_str("t.nnet:3:2: error: linear(100, 10) expects 100 input features, but its input has "
                            "shape [64] (64 features)\n"
                            " 3 |  linear(100, 10)\n"
                            "   |  ^~~~~~~~~~~~~~~\n");
}

Test(shapes, conv_needs_channels_and_room, .init = cr_redirect_stderr)
{
    int ne;
    cr_assert_null(lower("model m { input [3, 4, 4] conv2d(2, 4, 3) }", &ne));
    cr_assert_null(lower("model m { input [3, 4, 4] conv2d(3, 4, 5) }", &ne));
    cr_assert_null(lower("model m { input [12] maxpool2d(2) }", &ne));
    cr_assert_null(lower("model m { input [3] softmax(dim = 0) }", &ne));
    cr_assert_null(lower("model m { input [3] softmax(dim = 2) }", &ne));
    cr_assert_not_null(lower("model m { input [3] softmax(dim = -2 + 1) }", &ne));
}
