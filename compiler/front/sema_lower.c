/* sema_lower.c — one version-1 (sequence) model declaration to an IR
 * graph: each layer's arguments bound against its op's schema, its
 * parameters created with PyTorch state_dict names, its shape inferred; the
 * size limits (nnc_max_floats) on parameters and activations checked. The
 * helpers here serve the graph models of sema_graph.c too. */
#include <string.h>

#include "sema_int.h"
#include "../ops/ops.h"

int sema_input_shape(Sema *s, const Input *in, Shape *sh, int64_t *numel)
{
    int broken = 0;
    Span at = in->span;
    if (in->ndims < 1 || in->ndims > NNC_MAX_DIMS) {
        diag_error(s->d, at, "input must have between 1 and %d dimensions, not %d",
                   NNC_MAX_DIMS, in->ndims);
        broken = 1;
    }
    memset(sh, 0, sizeof *sh);
    sh->ndim = in->ndims > NNC_MAX_DIMS ? NNC_MAX_DIMS : in->ndims;
    int64_t ne = 1;
    for (int i = 0; i < sh->ndim; i++) {
        Value *v = sema_eval(s, in->dims[i], 0);
        if (v->kind == V_ERROR) {
            broken = 1;
            continue;
        }
        if (v->inexact) {
            diag_error(s->d, v->span, "an input dimension must be an integer, but a division in it does not divide exactly");
            broken = 1;
            continue;
        }
        if (v->kind != V_INT || v->i <= 0) {
            diag_error(s->d, v->span, "an input dimension must be a positive integer");
            broken = 1;
            continue;
        }
        sh->d[i] = v->i;
        if (__builtin_mul_overflow(ne, v->i, &ne) || ne > nnc_max_floats ||
            *numel + ne > nnc_max_floats) {
            diag_error(s->d, v->span, "the input has too many values per sample (limit %lld)",
                       (long long)nnc_max_floats);
            broken = 1;
            ne = 0;
        }
    }
    *numel += ne;
    return broken;
}

void sema_unknown_layer(Sema *s, const char *name, Span at, const char *what)
{
    const char *best = NULL;
    int bestd = 3;
    for (int k = 0; k < OP__COUNT; k++) {
        if (op_info[k].flags & OPF_TRAIN)
            continue;
        int dd = sema_edit_distance(name, op_info[k].name);
        if (dd < bestd && dd < (int)strlen(name) - 1) {   /* not most of a short name */
            bestd = dd;
            best = op_info[k].name;
        }
    }
    for (size_t k = 0; k < s->blocks.cap; k++) {
        const char *b = s->blocks.slot[k].key;
        int dd = b ? sema_edit_distance(name, b) : 99;
        if (dd < bestd) {
            bestd = dd;
            best = b;
        }
    }
    if (best)
        diag_error(s->d, at, "unknown %s '%s' (did you mean '%s'?)", what, name, best);
    else
        diag_error(s->d, at, "unknown %s '%s'", what, name);
}

int sema_check_params(Sema *s, const char *what, Span at, Graph *g, int first_param)
{
    int64_t total = 0;
    for (int k = first_param; k < g->nparams; k++) {
        Param *p = &g->params[k];
        int64_t ne = 1;
        int ovf = 0;
        for (int d = 0; d < p->ndim; d++)
            ovf |= __builtin_mul_overflow(ne, p->shape[d], &ne);
        p->numel = ne;
        if (ovf || ne > nnc_max_floats || (total += ne) > nnc_max_floats) {
            diag_error(s->d, at, "%s: parameter '%s' is too large (%s%lld floats; the limit is %lld)",
                       what, p->name, ovf ? "more than " : "", (long long)(ovf ? INT64_MAX : ne),
                       (long long)nnc_max_floats);
            return 1;
        }
    }
    return 0;
}

int sema_check_output(Sema *s, const char *what, Span at, const Graph *g, int ni)
{
    char buf[64];
    int64_t ne = 1;
    const Shape *sh = &g->nodes[ni].shape;
    for (int d = 0; d < sh->ndim; d++)
        if (sh->d[d] <= 0 || __builtin_mul_overflow(ne, sh->d[d], &ne) || ne > nnc_max_floats) {
            diag_error(s->d, at, "%s: output shape %s is empty or too large", what,
                       shape_str(sh, buf, sizeof buf));
            return 1;
        }
    return 0;
}

/* Layer l at position pos: its arguments are always checked; it is added
 * to g only while the model is not broken. Returns the new broken flag. */
static int lower_layer(Sema *s, Graph *g, const Layer *l, int pos, int broken)
{
    int op = op_lookup(l->op);
    if (op < 0) {
        sema_unknown_layer(s, l->op, l->op_span, "layer");
        return 1;
    }
    int nargs;
    ValueArg *args = sema_eval_args(s, l->args, &nargs);
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int nspec = 0, nval = 0;
    while (spec[nspec].name)
        nspec++;
    while (nval < nspec && (spec[nval].types & (AT_VALUE | AT_VALUES)))
        nval++;     /* a layer statement gives only the non-value arguments */
    Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
    if (sema_bind_args(s, l->op, l->op_span, spec + nval, args, nargs, slot + nval))
        return 1;
    if (broken)
        return 1;
    int ni = ir_add_node(g, (Op)op);
    ir_read(g, ni, ni - 1);     /* a v1 model is a sequence: a layer reads the one before */
    Node *n = &g->nodes[ni];
    n->span = l->op_span;
    n->layer = pos;
    n->label = l->label;
    BuildCtx cx = {g, s->d, ni, slot, l->op_span,
                   l->label ? l->label : xasprintf("%d", pos)};
    int first_param = g->nparams;
    if (op_hooks[op].build(&cx))
        return 1;
    if (sema_check_params(s, l->op, l->op_span, g, first_param))
        return 1;
    g->nodes[ni].span = l->op_span;
    if (op_hooks[op].shape(g, &g->nodes[ni], s->d))
        return 1;
    /* in a sequence, a recurrent layer passes on its output sequence */
    if ((op == OP_LSTM || op == OP_GRU) && (ni = seq_rnn_result(g, ni, 0, s->d)) < 0)
        return 1;
    return sema_check_output(s, l->op, l->op_span, g, ni);
}

int sema_check_limits(Sema *s, const Decl *m, const Graph *g, int64_t numel)
{
    int64_t total = 0;
    for (int k = 0; k < g->nparams; k++)
        total += g->params[k].numel;
    if (total > nnc_max_floats) {
        diag_error(s->d, m->name_span, "model '%s' has %lld parameters; the limit is %lld floats", m->name,
                   (long long)total, (long long)nnc_max_floats);
        return 1;
    }
    int64_t acts = numel;
    int acts_ovf = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t ne = 1;
        for (int d = 0; d < g->nodes[i].shape.ndim; d++)
            acts_ovf |= __builtin_mul_overflow(ne, g->nodes[i].shape.d[d], &ne);
        acts_ovf |= __builtin_add_overflow(acts, ne, &acts);
    }
    if (acts_ovf || acts > nnc_max_floats) {
        diag_error(s->d, m->name_span, "model '%s' needs %s%lld floats of activations per sample "
                   "(its arena); the limit is %lld floats", m->name, acts_ovf ? "more than " : "",
                   (long long)(acts_ovf ? INT64_MAX : acts), (long long)nnc_max_floats);
        return 1;
    }
    return 0;
}

Graph *sema_lower_model(Sema *s, const Decl *m, const SrcFile *src)
{
    if (sema_is_graph_model(s, m))
        return sema_lower_graph(s, m, src);
    Graph *g = ir_new_graph(m->name, src->path);
    ir_reserve_nodes(g, m->nlayers + 1);    /* a layer is a node (a few are more) */
    int64_t numel = 0;
    Shape sh;
    int broken = sema_input_shape(s, m->inputs, &sh, &numel);
    ir_add_input(g, &sh);   /* a v1 model: one input, %in */
    int pos = 0;
    StrMap labels = {0};
    strmap_reserve(&labels, (size_t)m->nlayers);
    for (const Layer *l = m->layers; l; l = l->next, pos++) {
        if (l->label && strmap_put(&labels, l->label, (void *)l)) {
            diag_error(s->d, l->label_span, "layer name '%s' is used twice in model '%s'", l->label, m->name);
            broken = 1;
        }
        broken = lower_layer(s, g, l, pos, broken);
    }
    strmap_free(&labels);
    if (broken)
        return NULL;
    ir_add_output(g, g->nnodes - 1);
    if (sema_check_limits(s, m, g, numel))
        return NULL;
    ir_layout_params(g);
    return g;
}
