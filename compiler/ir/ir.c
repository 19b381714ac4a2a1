/* ir.c — graph construction, shapes, parameter layout, the text form and
 * the default initialisation of the state block. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "nnr_prog.h"

const OpInfo op_info[OP__COUNT] = {
#define OP(id, name, fam, flags) {name, flags},
#include "ops.def"
#undef OP
};

int op_lookup(const char *name)
{
    for (int i = 0; i < OP__COUNT; i++)
        if (strcmp(op_info[i].name, name) == 0)
            return i;
    return -1;
}

int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->d[i];
    return n;
}

const char *shape_str(const Shape *s, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < s->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%" PRId64, i ? ", " : "", s->d[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

Graph *ir_new_graph(const char *name, const char *file)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->name = name;
    g->file = file;
    return g;
}

int ir_add_node(Graph *g, Op op)
{
    if (g->nnodes == g->capnodes) {
        g->capnodes = g->capnodes ? 2 * g->capnodes : 16;
        g->nodes = xrealloc(g->nodes, (size_t)g->capnodes * sizeof *g->nodes);
    }
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->input = g->nnodes - 1;
    n->fused_act = -1;
    n->layer = -1;
    for (int i = 0; i < NNC_MAX_NODE_PARAMS; i++)
        n->param[i] = -1;
    return g->nnodes++;
}

int ir_add_param(Graph *g, const Param *p)
{
    if (g->nparams == g->capparams) {
        g->capparams = g->capparams ? 2 * g->capparams : 16;
        g->params = xrealloc(g->params, (size_t)g->capparams * sizeof *g->params);
    }
    g->params[g->nparams] = *p;
    return g->nparams++;
}

int ir_output(const Graph *g)
{
    for (int i = g->nnodes - 1; i >= 0; i--)
        if (!g->nodes[i].dead)
            return i;
    return -1;
}

const Shape *ir_value_shape(const Graph *g, int v)
{
    return v < 0 ? &g->input : &g->nodes[v].shape;
}

void ir_layout_params(Graph *g)
{
    int64_t off = 0;
    for (int i = 0; i < g->nparams; i++) {
        g->params[i].offset = off;
        off += g->params[i].numel;
    }
    g->state_size = off;
}

int ir_count_op(const Graph *g, Op op)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        c += !g->nodes[i].dead && g->nodes[i].op == op;
    return c;
}

static void print_val(FILE *out, int v)
{
    if (v < 0)
        fprintf(out, "%%in");
    else
        fprintf(out, "%%%d", v);
}

void ir_print(const Graph *g, FILE *out)
{
    char buf[128];
    fprintf(out, "# model %s: input %s, %d parameter tensors, %" PRId64 " floats of state\n",
            g->name, shape_str(&g->input, buf, sizeof buf), g->nparams, g->state_size);
    fprintf(out, "input %s\n", shape_str(&g->input, buf, sizeof buf));
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        print_val(out, i);
        fprintf(out, " = %s ", op_info[n->op].name);
        print_val(out, n->input);
        switch (n->op) {
        case OP_LINEAR:
            fprintf(out, " in=%" PRId64 " out=%" PRId64 " bias=%d", n->in_f, n->out_f, n->has_bias);
            break;
        case OP_CONV2D:
            fprintf(out, " in=%" PRId64 " out=%" PRId64 " kernel=%" PRId64 "x%" PRId64
                    " stride=%" PRId64 "x%" PRId64 " padding=%" PRId64 "x%" PRId64 " bias=%d",
                    n->in_f, n->out_f, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw, n->has_bias);
            break;
        case OP_MAXPOOL2D: case OP_AVGPOOL2D:
            fprintf(out, " kernel=%" PRId64 "x%" PRId64 " stride=%" PRId64 "x%" PRId64
                    " padding=%" PRId64 "x%" PRId64, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
            break;
        case OP_LEAKY_RELU:
            fprintf(out, " slope=%.9g", n->alpha);
            break;
        case OP_SOFTMAX: case OP_LOG_SOFTMAX:
            fprintf(out, " dim=%d", n->dim + 1);
            break;
        case OP_DROPOUT:
            fprintf(out, " p=%.9g", n->alpha);
            break;
        case OP_BATCHNORM1D: case OP_BATCHNORM2D:
            fprintf(out, " features=%" PRId64 " eps=%.9g momentum=%.9g", n->in_f, n->alpha, n->momentum);
            break;
        default:
            break;
        }
        if (n->fused_act >= 0) {
            fprintf(out, " act=%s", op_info[n->fused_act].name);
            if (n->fused_act == OP_LEAKY_RELU)
                fprintf(out, "(%.9g)", n->fused_alpha);
        }
        for (int k = 0; k < n->nparam; k++)
            fprintf(out, "%s%s", k ? "," : " params=", g->params[n->param[k]].name);
        fprintf(out, " : %s\n", shape_str(&n->shape, buf, sizeof buf));
    }
    fprintf(out, "output ");
    print_val(out, ir_output(g));
    fprintf(out, "\n");
}

void ir_init_state(const Graph *g, uint64_t seed, float *state)
{
    nnr_rng rng;
    nnr_rng_seed(&rng, seed);
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        float *dst = state + p->offset;
        if (p->data) {
            memcpy(dst, p->data, (size_t)p->numel * sizeof(float));
            continue;
        }
        switch (p->init) {
        case INIT_UNIFORM:
            nnr_init_uniform(&rng, dst, (size_t)p->numel, p->bound);
            break;
        case INIT_ONES:
            for (int64_t k = 0; k < p->numel; k++)
                dst[k] = 1.0f;
            break;
        case INIT_ZEROS:
            memset(dst, 0, (size_t)p->numel * sizeof(float));
            break;
        }
    }
}

Graph *ir_clone(const Graph *g)
{
    Graph *c = xcalloc(1, sizeof *c);
    *c = *g;
    c->nodes = xcalloc((size_t)g->capnodes + 1, sizeof *c->nodes);
    memcpy(c->nodes, g->nodes, (size_t)g->nnodes * sizeof *c->nodes);
    c->params = xcalloc((size_t)g->capparams + 1, sizeof *c->params);
    memcpy(c->params, g->params, (size_t)g->nparams * sizeof *c->params);
    return c;
}
