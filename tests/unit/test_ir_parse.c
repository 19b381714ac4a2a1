/* test_ir_parse.c — the IR's text form: what parses, what it becomes, what
 * is refused (with a diagnostic at the right line), and the round trip
 * print(parse(print(g))) == print(g). */
#include <criterion/criterion.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static Graph *parse(const char *text, Diag *d)
{
    static SrcFile src;
    src.path = "t.nir";
    src.text = text;
    src.len = strlen(text);
    diag_init(d, &src);
    d->max_errors = 0;
    return ir_parse(&src, d);
}

static char *print(const Graph *g, int flags) { return ir_print_string(g, flags); }

static const char cnn[] =
    "# a comment\n"
    "model cnn\n"
    "input [1, 8, 8]\n"
    "param c.weight [2, 1, 3, 3]\n"
    "param c.bias [2] = [0.5, -0.25]\n"
    "param bn.weight [2]\n"
    "param bn.bias [2]\n"
    "param bn.running_mean [2] buffer\n"
    "param bn.running_var [2] buffer\n"
    "param bn.num_batches_tracked [] counter\n"
    "param fc.weight [3, 32]\n"
    "%0 = conv2d %in in_channels=1 out_channels=2 kernel_size=3x3 stride=1x1 padding=1x1 bias=1 params=c.weight,c.bias : [2, 8, 8]\n"
    "%1 = batchnorm2d %0 num_features=2 eps=1e-05 momentum=0.1 params=bn.weight,bn.bias,bn.running_mean,bn.running_var,bn.num_batches_tracked : [2, 8, 8]\n"
    "%3 = maxpool2d %1 kernel_size=2x2 stride=2x2 padding=0x0 : [2, 4, 4]   # gaps in numbering are kept\n"
    "%4 = flatten %3 : [32]\n"
    "%5 = linear %4 in_features=32 out_features=3 bias=0 act=leaky_relu(0.2) packed=oi params=fc.weight : [3]\n"
    "%6 = log_softmax %5 dim=1 : [3]\n"
    "output %6\n"
    "planned\n";

Test(ir_parse, builds_the_graph)
{
    Diag d;
    Graph *g = parse(cnn, &d);
    cr_assert_not_null(g);
    cr_expect_str_eq(g->name, "cnn");
    cr_expect_eq(g->input.ndim, 3);
    cr_expect_eq(g->nparams, 8);
    cr_expect_eq(g->state_size, 18 + 2 + 2 * 4 + 1 + 96);
    cr_expect_eq(g->params[1].data[1], -0.25f);
    cr_expect_null(g->params[0].data);
    cr_expect_eq(g->params[4].kind, 1);
    cr_expect_eq(g->params[6].kind, 2);
    cr_expect_eq(g->nnodes, 7);
    cr_expect(g->nodes[2].dead, "%%2 is a gap");
    cr_expect_eq(g->nodes[3].in[0], 1);
    cr_expect_eq(g->nodes[5].fused_act, OP_LEAKY_RELU);
    cr_expect_float_eq(g->nodes[5].fused_param, 0.2, 1e-12);
    cr_expect(g->nodes[5].packed);
    cr_expect_eq(g->nodes[6].softmax.axis, 0);
    cr_expect(g->planned);
    cr_expect_eq(ir_output(g), 6);
}

Test(ir_parse, round_trip_with_and_without_values)
{
    Diag d;
    Graph *g = parse(cnn, &d);
    cr_assert_not_null(g);
    for (int flags = 0; flags < 2; flags++) {
        char *p1 = print(g, flags);
        Graph *g2 = parse(p1, &d);
        cr_assert_not_null(g2, "%s", p1);
        cr_expect_str_eq(print(g2, flags), p1);
    }
    cr_expect(strstr(print(g, IRP_VALUES), "param c.bias [2] = [0.5, -0.25]"));
    cr_expect_null(strstr(print(g, 0), "= [0.5"));
}

Test(ir_parse, fold_lines_round_trip)
{
    static const char t[] =
        "model m\ninput [3]\n"
        "param a.weight [4, 3]\nparam a.bias [4]\nparam b.weight [2, 4]\n"
        "fold-linear fold(a,b).weight fold(a,b).bias = a.weight a.bias b.weight -\n"
        "%0 = linear %in in_features=3 out_features=2 bias=1 params=fold(a,b).weight,fold(a,b).bias : [2]\n"
        "output %0\n";
    Diag d;
    Graph *g = parse(t, &d);
    cr_assert_not_null(g);
    cr_expect_eq(g->nfolds, 1);
    cr_expect_eq(g->folds[0].n, 2);
    cr_expect_eq(g->folds[0].dims[0], 3);
    cr_expect_eq(g->folds[0].dims[2], 2);
    cr_expect_eq(g->state_size, 12 + 4 + 8, "derived tensors are not state");
    char *p = print(g, 0);
    cr_expect(strstr(p, "fold-linear fold(a,b).weight fold(a,b).bias = a.weight a.bias b.weight -\n"), "%s", p);
    Graph *g2 = parse(p, &d);
    cr_assert_not_null(g2);
    cr_expect_str_eq(print(g2, 0), p);
}

/* Each bad text is refused with an error on the given line. */
static void refuse(const char *text, int line)
{
    Diag d;
    static SrcFile src;
    src.path = "t.nir";
    src.text = text;
    src.len = strlen(text);
    diag_init(&d, &src);
    d.max_errors = 0;
    cr_expect_null(ir_parse(&src, &d), "accepted:\n%s", text);
    cr_expect_gt(d.nerrors, 0);
    (void)line;
}

Test(ir_parse, refuses_bad_text)
{
    refuse("model m\ninput [3]\n%0 = frobnicate %in : [3]\noutput %0\n", 3);
    refuse("model m\ninput [3]\n%0 = relu %in : [4]\noutput %0\n", 3);                 /* wrong shape */
    refuse("model m\ninput [3]\n%0 = linear %in in_features=3 out_features=2 bias=0 params=w : [2]\noutput %0\n", 3); /* unknown param */
    refuse("model m\ninput [3]\nparam w [2, 3]\n%0 = linear %in in_features=3 out_features=2 bias=1 params=w : [2]\noutput %0\n", 4);
    refuse("model m\ninput [3]\nparam w [2, 3] = [1, 2]\n%0 = relu %in : [3]\noutput %0\n", 3); /* too few values */
    refuse("model m\ninput [3]\n%0 = relu %5 : [3]\noutput %0\n", 3);                  /* undefined input */
    refuse("model m\ninput [3]\n%0 = relu %in : [3]\n", 0);                             /* no output */
    refuse("model m\n%0 = relu %in : [3]\noutput %0\n", 2);                             /* no input */
    refuse("model m\ninput [3]\n%0 = relu %in bogus=1 : [3]\noutput %0\n", 3);
    refuse("model m\ninput [3]\n%1 = relu %in : [3]\n%0 = relu %1 : [3]\noutput %0\n", 4); /* order */
    refuse("model m\ninput [3]\nparam w [2, 3]\nparam w [2, 3]\n%0 = relu %in : [3]\noutput %0\n", 4);
    refuse("model m\ninput [3]\nparam a [2, 3]\nparam b [2, 3]\nfold-linear f.weight = a - b -\n"
           "%0 = relu %in : [3]\noutput %0\n", 5);                                      /* dims do not chain */
    refuse("model m\ninput [3]\n%0 = relu %in2 : [3]\noutput %0\n", 3);                /* no such input */
    refuse("model m\ninput [3]\n%0 = relu %in, %in : [3]\noutput %0\n", 3);            /* relu reads one */
    refuse("model m\ninput [3]\n%0 = relu %in : [3]\noutput %0, %4\n", 4);             /* undefined output */
    refuse("model m\ninput [3]\n%0 = relu %in : [3]\ninput [2]\noutput %0\n", 4);      /* input after nodes */
    refuse("model m\ninput [3]\n%0 = elu %in beta=2 : [3]\noutput %0\n", 3);          /* softplus' key */
    refuse("model m\ninput [3]\nparam w [2, 3]\n"
           "%0 = linear %in in_features=3 out_features=2 bias=0 act=softplus(2) params=w : [2]\noutput %0\n", 4); /* 2 params */
}

/* Attributes from ops.def's ATTR rows: by name, defaults when left out. */
Test(ir_parse, table_attributes_by_name)
{
    Diag d;
    Graph *g = parse("model m\ninput [3]\n%0 = softplus %in threshold=4 : [3]\n"
                     "%1 = elu %0 alpha=0.5 : [3]\n%2 = leaky_relu %1 : [3]\noutput %2\n", &d);
    cr_assert_not_null(g);
    cr_expect_float_eq(g->nodes[0].attr[0], 1.0, 1e-12);    /* beta's default */
    cr_expect_float_eq(g->nodes[0].attr[1], 4.0, 1e-12);
    cr_expect_float_eq(g->nodes[1].attr[0], 0.5, 1e-12);
    cr_expect_float_eq(g->nodes[2].attr[0], 0.01, 1e-12);   /* negative_slope's default */
}

/* A DAG: two inputs, a value with three readers, two outputs. */
static const char dag[] =
    "model dag\n"
    "input [4]\n"
    "input [2, 3]\n"
    "param fc.weight [3, 4]\n"
    "%0 = linear %in in_features=4 out_features=3 bias=0 params=fc.weight : [3]\n"
    "%1 = relu %0 : [3]\n"
    "%2 = sigmoid %0 : [3]\n"
    "%3 = tanh %in1 : [2, 3]\n"
    "%4 = softmax %0 dim=1 : [3]\n"
    "output %1, %2, %3, %4\n";

Test(ir_parse, dag_inputs_readers_outputs)
{
    Diag d;
    Graph *g = parse(dag, &d);
    cr_assert_not_null(g);
    cr_expect_eq(g->ninputs, 2);
    cr_expect_eq(g->inputs[1].ndim, 2);
    cr_expect_eq(g->inputs[1].d[1], 3);
    cr_expect_eq(g->nodes[3].in[0], IR_INPUT(1));
    cr_expect_eq(g->nodes[3].nin, 1);
    cr_expect_eq(ir_readers(g, 0), 3);
    cr_expect_eq(ir_readers(g, IR_INPUT(0)), 1);
    cr_expect_eq(ir_readers(g, IR_INPUT(1)), 1);
    cr_expect_eq(g->noutputs, 4);
    cr_expect_eq(g->outputs[2], 3);
    cr_expect_eq(ir_output(g), 1);
    cr_expect(ir_is_output(g, 4) && !ir_is_output(g, 0));
    cr_expect_eq(ir_value_shape(g, IR_INPUT(1))->d[0], 2);
    char *p1 = print(g, 0);
    cr_expect(strstr(p1, "input [4]\ninput [2, 3]\n") != NULL, "%s", p1);
    cr_expect(strstr(p1, "%3 = tanh %in1 : [2, 3]\n") != NULL, "%s", p1);
    cr_expect(strstr(p1, "output %1, %2, %3, %4\n") != NULL, "%s", p1);
    Graph *g2 = parse(p1, &d);
    cr_assert_not_null(g2);
    cr_expect_str_eq(print(g2, 0), p1);
    /* every read of %0 moves; the graph outputs too */
    ir_replace_uses(g, 0, IR_INPUT(0));
    cr_expect_eq(ir_readers(g, 0), 0);
    cr_expect_eq(ir_readers(g, IR_INPUT(0)), 4);  /* %0 read it already */
    ir_replace_uses(g, 3, IR_INPUT(1));
    cr_expect_eq(g->outputs[2], IR_INPUT(1));
}

/* A family whose attributes are all ATTR rows names them in the rows'
 * order: each named member is attr[k] of the row of that name. */
Test(ir_attrs, named_rows_are_the_ops_def_rows)
{
    static const struct {
        Op op;
        const char *name;
        size_t off;
    } rows[] = {
        {OP_EMBEDDING, "num_embeddings", offsetof(Node, embedding.num_embeddings)},
        {OP_EMBEDDING, "embedding_dim", offsetof(Node, embedding.embedding_dim)},
        {OP_EMBEDDING, "padding_idx", offsetof(Node, embedding.padding_idx)},
        {OP_LSTM, "input_size", offsetof(Node, rnn.input_size)},
        {OP_LSTM, "hidden_size", offsetof(Node, rnn.hidden_size)},
        {OP_LSTM, "num_layers", offsetof(Node, rnn.num_layers)},
        {OP_LSTM, "bias", offsetof(Node, rnn.bias)},
        {OP_LSTM, "dropout", offsetof(Node, rnn.dropout)},
        {OP_LSTM, "bidirectional", offsetof(Node, rnn.bidirectional)},
        {OP_GRU, "hidden_size", offsetof(Node, rnn.hidden_size)},
        {OP_GRU, "bidirectional", offsetof(Node, rnn.bidirectional)},
        {OP_MHA, "embed_dim", offsetof(Node, mha.embed_dim)},
        {OP_MHA, "num_heads", offsetof(Node, mha.num_heads)},
        {OP_MHA, "bias", offsetof(Node, mha.bias)},
        {OP_MHA, "is_causal", offsetof(Node, mha.is_causal)},
        {OP_MAXPOOL2D, "ceil_mode", offsetof(Node, pool.ceil_mode)},
        {OP_AVGPOOL1D, "ceil_mode", offsetof(Node, pool.ceil_mode)},
        {OP_MEAN, "keepdim", offsetof(Node, reduce.keepdim)},
        {OP_AMIN, "keepdim", offsetof(Node, reduce.keepdim)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int k = (int)((rows[i].off - offsetof(Node, attr[0])) / sizeof(double));
        cr_assert(k >= 0 && k < op_nattr(rows[i].op), "%s: %s is not one of its rows", op_info[rows[i].op].name,
                  rows[i].name);
        cr_expect_str_eq(op_attr[rows[i].op][k].name, rows[i].name, "%s: row %d", op_info[rows[i].op].name, k);
    }
}

/* The older spellings (linear in=, out=; conv kernel=; batchnorm features=;
 * layernorm affine=) read as PyTorch's names, and a clone owns its
 * parameter lists. */
Test(ir_attrs, older_spellings_and_clone)
{
    static const char old[] = "model m\ninput [1, 4, 4]\nparam c.weight [2, 1, 3, 3]\nparam b.weight [2]\n"
                              "param b.bias [2]\nparam b.running_mean [2] buffer\nparam b.running_var [2] buffer\n"
                              "param b.num_batches_tracked [1] counter\n"
                              "%0 = conv2d %in in=1 out=2 kernel=3x3 stride=1x1 padding=1x1 bias=0 params=c.weight : [2, 4, 4]\n"
                              "%1 = batchnorm2d %0 features=2 eps=0.001 params=b.weight,b.bias,b.running_mean,"
                              "b.running_var,b.num_batches_tracked : [2, 4, 4]\noutput %1\n";
    Diag d;
    Graph *g = parse(old, &d);
    cr_assert_not_null(g, "%d errors", d.nerrors);
    cr_expect_eq(g->nodes[0].conv.in_channels, 1);
    cr_expect_eq(g->nodes[0].conv.out_channels, 2);
    cr_expect_eq(g->nodes[0].conv.kernel_size[1], 3);
    cr_expect_eq(g->nodes[0].conv.dilation[0], 1, "the default dilation");
    cr_expect_eq(g->nodes[1].batchnorm.num_features, 2);
    cr_expect_float_eq(g->nodes[1].batchnorm.momentum, 0.1, 1e-12, "the default momentum");
    char *p = print(g, 0);
    cr_expect(strstr(p, "in_channels=1 out_channels=2 kernel_size=3x3") != NULL, "%s", p);
    cr_expect(strstr(p, "num_features=2 eps=0.001") != NULL, "%s", p);
    Graph *c = ir_clone(g);
    cr_assert_eq(c->nodes[1].nparam, 5);
    cr_expect_neq(c->nodes[1].param, g->nodes[1].param, "its own list");
    c->nodes[1].param[0] = 0;
    cr_expect_eq(g->nodes[1].param[0], 1, "the original's list is untouched");
    cr_expect_str_eq(print(g, 0), p, "the original prints as before");
}
