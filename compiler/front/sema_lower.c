/* sema_lower.c — one model declaration to an IR graph: each layer's
 * arguments bound against its op's schema, its parameters created with
 * PyTorch state_dict names, its shape inferred; the size limits
 * (nnc_max_floats) on parameters and activations checked. */
#include <string.h>

#include "sema_int.h"
#include "../ops/ops.h"

/* The input shape into g->input; *numel: its values per sample. Returns 1
 * when it is broken (errors reported). */
static int lower_input(Sema *s, const Decl *m, Graph *g, int64_t *numel)
{
    int broken = 0;
    if (m->ninput < 1 || m->ninput > NNC_MAX_DIMS) {
        diag_error(s->d, m->input_span, "input must have between 1 and %d dimensions, not %d",
                   NNC_MAX_DIMS, m->ninput);
        broken = 1;
    }
    g->input.ndim = m->ninput > NNC_MAX_DIMS ? NNC_MAX_DIMS : m->ninput;
    g->ninputs = 1;     /* a v1 model: one input, %in */
    *numel = 1;
    for (int i = 0; i < g->input.ndim; i++) {
        Value *v = sema_eval(s, m->input[i], 0);
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
        g->input.d[i] = v->i;
        if (__builtin_mul_overflow(*numel, v->i, numel) || *numel > nnc_max_floats) {
            diag_error(s->d, v->span, "the input has too many values per sample (limit %lld)",
                       (long long)nnc_max_floats);
            broken = 1;
            *numel = 1;
        }
    }
    return broken;
}

/* "unknown layer", with the closest op name when one is close. */
static void unknown_layer(Sema *s, const Layer *l)
{
    const char *best = NULL;
    int bestd = 3;
    for (int k = 0; k < OP__COUNT; k++) {
        int dd = sema_edit_distance(l->op, op_info[k].name);
        if (dd < bestd) {
            bestd = dd;
            best = op_info[k].name;
        }
    }
    if (best)
        diag_error(s->d, l->op_span, "unknown layer '%s' (did you mean '%s'?)", l->op, best);
    else
        diag_error(s->d, l->op_span, "unknown layer '%s'", l->op);
}

/* The parameters node ni created (from first_param on): their sizes, and
 * the limit on them. Returns 1 when one is too large. */
static int check_layer_params(Sema *s, const Layer *l, Graph *g, int first_param)
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
            diag_error(s->d, l->op_span, "%s: parameter '%s' is too large (%s%lld floats; the limit is %lld)",
                       l->op, p->name, ovf ? "more than " : "", (long long)(ovf ? INT64_MAX : ne),
                       (long long)nnc_max_floats);
            return 1;
        }
    }
    return 0;
}

/* Layer l at position pos: its arguments are always checked; it is added
 * to g only while the model is not broken. Returns the new broken flag. */
static int lower_layer(Sema *s, Graph *g, const Layer *l, int pos, int broken)
{
    char buf[64];
    int op = op_lookup(l->op);
    if (op < 0) {
        unknown_layer(s, l);
        return 1;
    }
    int nargs;
    ValueArg *args = sema_eval_args(s, l->args, &nargs);
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int nspec = 0;
    while (spec[nspec].name)
        nspec++;
    Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
    if (sema_bind_args(s, l->op, l->op_span, spec, args, nargs, slot))
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
    if (check_layer_params(s, l, g, first_param))
        return 1;
    g->nodes[ni].span = l->op_span;
    if (op_hooks[op].shape(g, &g->nodes[ni], s->d))
        return 1;
    /* in a sequence, a recurrent layer passes on its output sequence */
    if ((op == OP_LSTM || op == OP_GRU) && (ni = seq_rnn_result(g, ni, 0, s->d)) < 0)
        return 1;
    int64_t ne = 1;
    const Shape *sh = &g->nodes[ni].shape;
    for (int d = 0; d < sh->ndim; d++)
        if (sh->d[d] <= 0 || __builtin_mul_overflow(ne, sh->d[d], &ne) || ne > nnc_max_floats) {
            diag_error(s->d, l->op_span, "%s: output shape %s is empty or too large", l->op,
                       shape_str(sh, buf, sizeof buf));
            return 1;
        }
    return 0;
}

/* The whole model's parameters and its arena (every activation of one
 * sample, as training keeps them and -O0 lays them out, the input of
 * numel values included) against the limit. Returns 1 when over. */
static int check_model_limits(Sema *s, const Decl *m, const Graph *g, int64_t numel)
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
    Graph *g = ir_new_graph(m->name, src->path);
    int64_t numel;
    int broken = lower_input(s, m, g, &numel);
    int pos = 0;
    StrMap labels = {0};
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
    if (check_model_limits(s, m, g, numel))
        return NULL;
    ir_layout_params(g);
    return g;
}
