/* sema_graph.c — models that are graphs (LANGUAGE.md §7-§8): declared
 * layers as instances (an op with its arguments bound and its parameters
 * made at the declaration, a block instance, a sequential), applying an
 * instance to values (a second call shares the first's parameters), and
 * the lowering of a whole model: its inputs, its layers, its forward (or
 * its sequence) and its outputs. State_dict names nest as PyTorch's:
 * "layer1.0.conv1.weight". The forward statements are in sema_fwd.c. */
#include <stdint.h>
#include <string.h>

#include "sema_graph.h"

FVal fv_error(Span at)
{
    FVal f = {0};
    f.kind = FV_ERROR;
    f.span = at;
    return f;
}

FVal fv_value(int v, Span at)
{
    FVal f = {0};
    f.kind = FV_VALUE;
    f.v = v;
    f.span = at;
    return f;
}

void gl_warn_once(GL *gl, Span at, const char *fmt, const char *a1, const char *a2)
{
    char *key = xasprintf("%d:%d:%s", at.line, at.col, a1 ? a1 : "");
    if (strmap_put(&gl->s->warned, key, (void *)1))
        return;
    diag_warning(gl->s->d, at, fmt, a1, a2);
}

static const char *join(const char *prefix, const char *name)
{
    return prefix ? xasprintf("%s.%s", prefix, name) : name;
}

/* A model is a graph model when it has forward, several, named or int
 * inputs, or a block or sequential among its layers. */
int sema_is_graph_model(Sema *s, const Decl *m)
{
    if (m->has_forward || m->ninputs != 1 || m->inputs->name || m->inputs->is_int)
        return 1;
    for (const Layer *l = m->layers; l; l = l->next) {
        if (!strcmp(l->op, "sequential") || strmap_get(&s->blocks, l->op))
            return 1;
        for (const Arg *a = l->args; a; a = a->next)
            if (a->value->kind == EX_ATTR)
                return 1;   /* weight tying: layers are looked up by name */
    }
    return 0;
}

/* An item of sequential(...) as a layer statement: a call or a name. */
static int item_layer(GL *gl, const Expr *e, Layer *out)
{
    memset(out, 0, sizeof *out);
    if (e->kind != EX_CALL && e->kind != EX_IDENT) {
        diag_error(gl->s->d, e->span, "sequential: an item must be a layer (conv2d(...), relu, a block)");
        return -1;
    }
    out->op = e->name;
    out->op_span = e->span;
    out->label_span = e->span;
    out->has_parens = e->kind == EX_CALL;
    if (e->kind == EX_CALL) {
        out->args = e->args;
        out->nargs = e->nargs;
    }
    return 0;
}

static void add_kid(GL *gl, Inst *parent, Inst *kid, Span at)
{
    if (strmap_put(&parent->byname, kid->name, kid))
        diag_error(gl->s->d, at, "layer name '%s' is used twice in %s '%s'", kid->name,
                   parent->kind == INST_SEQ ? "sequential" : parent->block && parent->block->kind == DECL_BLOCK
                   ? "block" : "model", parent->kind == INST_SEQ ? parent->prefix : parent->block->name);
    if ((parent->nkids & (parent->nkids - 1)) == 0)   /* 0 or a power of two: full; doubling */
        parent->kids = xrealloc(parent->kids, (size_t)(parent->nkids ? 2 * parent->nkids : 1) * sizeof *parent->kids);
    parent->kids[parent->nkids++] = kid;
}

/* The layers of a model or block body into in->kids. */
static void declare_body(GL *gl, Inst *in, const Decl *b, const char *prefix)
{
    int pos = 0;
    Inst *outer = gl->cur;
    gl->cur = in;
    for (const Layer *l = b->layers; l; l = l->next, pos++) {
        if (b->has_forward && !l->label) {
            diag_error(gl->s->d, l->op_span, "with forward, every layer is declared with a name: "
                       "name = %s%s", l->op, l->has_parens ? "(...)" : "");
            continue;
        }
        const char *name = l->label ? l->label : xasprintf("%d", pos);
        Inst *kid = gl_declare(gl, l, name, join(prefix, name));
        if (kid)
            add_kid(gl, in, kid, l->label ? l->label_span : l->op_span);
    }
    gl->cur = outer;
}

/* sequential(l0, l1, ...): items named 0, 1, ... */
static Inst *declare_seq(GL *gl, const Layer *l, Inst *in)
{
    in->kind = INST_SEQ;
    int pos = 0;
    Inst *outer = gl->cur;
    gl->cur = in;
    for (const Arg *a = l->args; a; a = a->next, pos++) {
        Layer item;
        if (a->name) {
            diag_error(gl->s->d, a->name_span, "sequential takes layers, not keyword arguments");
            continue;
        }
        if (item_layer(gl, a->value, &item))
            continue;
        const char *name = xasprintf("%d", pos);
        Inst *kid = gl_declare(gl, &item, name, join(in->prefix, name));
        if (kid)
            add_kid(gl, in, kid, a->value->span);
    }
    gl->cur = outer;
    if (pos == 0)
        diag_error(gl->s->d, l->op_span, "sequential needs at least one layer");
    return in;
}

/* The block's parameters bound to the call's arguments: a new scope. */
static StrMap *block_scope(GL *gl, const Layer *l, const Decl *b)
{
    Sema *s = gl->s;
    int nargs, bad = 0;
    ValueArg *args = sema_eval_args(s, l->args, &nargs);
    StrMap *scope = xcalloc(1, sizeof *scope);
    const BlockParam **ps = xcalloc((size_t)b->nparams + 1, sizeof *ps);
    int np = 0;
    for (const BlockParam *p = b->params; p; p = p->next)
        ps[np++] = p;
    Value **val = xcalloc((size_t)np + 1, sizeof *val);
    int pos = 0;
    for (int i = 0; i < nargs; i++) {
        int k = -1;
        if (args[i].name) {
            for (int j = 0; j < np && k < 0; j++)
                if (!strcmp(ps[j]->name, args[i].name))
                    k = j;
            if (k < 0) {
                const char *best = NULL;
                int bd = 3;
                for (int j = 0; j < np; j++) {
                    int dd = sema_edit_distance(args[i].name, ps[j]->name);
                    if (dd < bd) {
                        bd = dd;
                        best = ps[j]->name;
                    }
                }
                if (best)
                    diag_error(s->d, args[i].name_span, "block '%s' has no parameter '%s' (did you mean '%s'?)",
                               b->name, args[i].name, best);
                else
                    diag_error(s->d, args[i].name_span, "block '%s' has no parameter '%s'", b->name, args[i].name);
                bad = 1;
                continue;
            }
        } else if ((k = pos++) >= np) {
            diag_error(s->d, args[i].v->span, "block '%s' takes %d argument%s, but %d were given", b->name, np,
                       np == 1 ? "" : "s", nargs);
            bad = 1;
            break;
        }
        if (val[k]) {
            diag_error(s->d, args[i].name_span, "block '%s': argument '%s' is given twice", b->name, ps[k]->name);
            bad = 1;
        }
        val[k] = args[i].v;
    }
    StrMap *saved = s->scope;
    s->scope = NULL;    /* defaults see the file's lets only */
    for (int j = 0; j < np; j++) {
        if (!val[j] && ps[j]->dflt)
            val[j] = sema_eval(s, ps[j]->dflt, 0);
        if (!val[j]) {
            if (!bad)
                diag_error(s->d, l->op_span, "block '%s': missing argument '%s'", b->name, ps[j]->name);
            bad = 1;
            continue;
        }
        strmap_put(scope, ps[j]->name, val[j]);
    }
    s->scope = saved;
    return bad ? NULL : scope;
}

static Inst *declare_block(GL *gl, const Layer *l, const Decl *b, Inst *in)
{
    Sema *s = gl->s;
    for (int i = 0; i < gl->depth; i++)
        if (gl->stack[i] == b) {
            char chain[512] = "";
            size_t at = 0;
            for (int j = i; j < gl->depth && at < sizeof chain - 80; j++)
                at += (size_t)snprintf(chain + at, sizeof chain - at, "%s -> ", gl->stack[j]->name);
            snprintf(chain + at, sizeof chain - at, "%s", b->name);
            diag_error(s->d, l->op_span, "block '%s' uses itself (%s): recursion is not allowed", b->name, chain);
            return NULL;
        }
    if (gl->depth == (int)(sizeof gl->stack / sizeof gl->stack[0])) {
        diag_error(s->d, l->op_span, "blocks nested too deeply");
        return NULL;
    }
    in->kind = INST_BLOCK;
    in->block = b;
    in->scope = block_scope(gl, l, b);
    if (!in->scope)
        return NULL;
    StrMap *saved = s->scope;
    s->scope = in->scope;
    gl->stack[gl->depth++] = b;
    declare_body(gl, in, b, in->prefix);
    gl->depth--;
    s->scope = saved;
    return in;
}

/* "wte.weight", "enc.fc.weight": a dotted name as written. */
static const char *expr_path(const Expr *e)
{
    if (e->kind == EX_ATTR)
        return xasprintf("%s.%s", expr_path(e->lhs), e->name);
    return e->kind == EX_IDENT ? e->name : "...";
}

/* The layer instance an expression names among the layers declared so far
 * in gl->cur ("wte", "h.0.attn"), or NULL after a diagnostic. */
static Inst *tie_layer(GL *gl, const Expr *e, const char *who)
{
    if (e->kind == EX_IDENT) {
        Inst *in = gl->cur ? strmap_get(&gl->cur->byname, e->name) : NULL;
        if (!in)
            diag_error(gl->s->d, e->span, "%s: no layer '%s' is declared before it here (a shared parameter "
                       "is another layer's: weight = OTHER.weight)", who, e->name);
        return in;
    }
    if (e->kind == EX_ATTR) {
        Inst *in = tie_layer(gl, e->lhs, who);
        if (!in)
            return NULL;
        Inst *kid = in->kind != INST_OP ? strmap_get(&in->byname, e->name) : NULL;
        if (!kid)
            diag_error(gl->s->d, e->span, "%s: '%s' (%s) has no layer '%s'", who, in->prefix, in->what, e->name);
        return kid;
    }
    diag_error(gl->s->d, e->span, "%s: a shared parameter is written OTHER.weight", who);
    return NULL;
}

/* The state tensor that `OTHER.name` (e) names: its index, or -1 after a
 * diagnostic. */
static int tie_owner(GL *gl, const Expr *e, const char *who)
{
    Graph *g = gl->g;
    Inst *in = tie_layer(gl, e->lhs, who);
    if (!in)
        return -1;
    const char *name = xasprintf("%s.%s", in->prefix, e->name);
    for (int k = 0; k < g->nparams; k++)
        if (!strcmp(g->params[k].name, name))
            return k;
    for (int t = 0; t < g->nties; t++)
        if (!strcmp(g->ties[t].name, name))
            return g->ties[t].param;
    diag_error(gl->s->d, e->span, "%s: layer '%s' (%s) has no parameter '%s'", who, in->prefix, in->what, e->name);
    return -1;
}

/* Layer node ni's new parameter `slot` (named prefix.slot) becomes the
 * owner's tensor: it leaves Graph.params, the node reads the owner, and a
 * tie keeps its name at its place in the state_dict. 0, or -1 after a
 * diagnostic (shapes or kinds differ, no such parameter). */
static int tie_param(GL *gl, int ni, int first, const Arg *a, int owner, const char *prefix)
{
    Graph *g = gl->g;
    Node *n = &g->nodes[ni];
    const char *name = xasprintf("%s.%s", prefix, a->name);
    int k = first;
    while (k < g->nparams && strcmp(g->params[k].name, name))
        k++;
    if (k == g->nparams) {
        diag_error(gl->s->d, a->name_span, "%s (%s) has no parameter '%s' to share", prefix,
                   op_info[n->op].name, a->name);
        return -1;
    }
    const Param *p = &g->params[k], *o = &g->params[owner];
    int same = p->ndim == o->ndim && p->kind == o->kind;
    for (int d = 0; same && d < p->ndim; d++)
        same = p->shape[d] == o->shape[d];
    if (!same) {
        char b1[96], b2[96];
        Shape s1 = {p->ndim, {0}}, s2 = {o->ndim, {0}};
        memcpy(s1.d, p->shape, sizeof s1.d);
        memcpy(s2.d, o->shape, sizeof s2.d);
        diag_error(gl->s->d, a->value->span, "weight tying: %s %s and %s %s %s", name, shape_str(&s1, b1, sizeof b1),
                   o->name, shape_str(&s2, b2, sizeof b2),
                   p->kind == o->kind ? "must have the same shape" : "are not both trainable parameters");
        return -1;
    }
    memmove(&g->params[k], &g->params[k + 1], (size_t)(g->nparams - k - 1) * sizeof *g->params);
    g->nparams--;
    for (int j = 0; j < n->nparam; j++)
        if (n->param[j] == k)
            n->param[j] = owner;
        else if (n->param[j] > k)
            n->param[j]--;
    for (int t = 0; t < g->nties; t++)
        if (g->ties[t].before > k)
            g->ties[t].before--;
    Tie t = {name, owner, k, n->layer, prefix};
    ir_add_tie(g, &t);
    return 0;
}

/* An op layer: arguments bound (the non-value ones), parameters made now;
 * `weight = OTHER.weight` shares OTHER's tensor instead of making one. */
static Inst *declare_op(GL *gl, const Layer *l, int op, Inst *in)
{
    Sema *s = gl->s;
    Graph *g = gl->g;
    int nargs = 0, nties = 0, bad = 0;
    for (const Arg *a = l->args; a; a = a->next)
        nargs++;
    ValueArg *args = xcalloc((size_t)nargs + 1, sizeof *args);
    const Arg **tie = xcalloc((size_t)nargs + 1, sizeof *tie);
    int *owner = xcalloc((size_t)nargs + 1, sizeof *owner);
    nargs = 0;
    for (const Arg *a = l->args; a; a = a->next) {
        if (a->value->kind != EX_ATTR) {
            args[nargs++] = (ValueArg){a->name, a->name_span, sema_eval(s, a->value, 0)};
            continue;
        }
        if (!a->name) {
            diag_error(s->d, a->value->span, "%s: a shared parameter is given by keyword (%s = %s), not by "
                       "position", in->prefix, a->value->name, expr_path(a->value));
            bad = 1;
            continue;
        }
        if ((owner[nties] = tie_owner(gl, a->value, in->prefix)) < 0)
            bad = 1;
        tie[nties++] = a;
    }
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int nspec = 0, nval = 0;
    while (spec[nspec].name)
        nspec++;
    while (nval < nspec && (spec[nval].types & (AT_VALUE | AT_VALUES)))
        nval++;
    Value **slot = xcalloc((size_t)nspec + 1, sizeof *slot);
    if (sema_bind_args(s, l->op, l->op_span, spec + nval, args, nargs, slot + nval) || bad)
        return NULL;
    in->kind = INST_OP;
    in->op = op;
    int ni = ir_add_node(g, (Op)op);
    Node *n = &g->nodes[ni];
    n->span = l->op_span;
    n->layer = gl->nlayers++;
    n->label = in->prefix;
    BuildCtx cx = {g, s->d, ni, slot, l->op_span, in->prefix};
    int first = g->nparams;
    bad = op_hooks[op].build(&cx);
    for (int t = 0; t < nties && !bad; t++)
        bad = tie_param(gl, ni, first, tie[t], owner[t], in->prefix);
    bad = bad || sema_check_params(s, l->op, l->op_span, g, first);
    in->proto = g->nodes[ni];
    g->nnodes--;        /* a template: each call makes its node from it */
    return bad ? NULL : in;
}

Inst *gl_declare(GL *gl, const Layer *l, const char *name, const char *prefix)
{
    Inst *in = xcalloc(1, sizeof *in);
    in->name = name;
    in->prefix = prefix;
    in->what = l->op;
    in->span = l->label ? l->label_span : l->op_span;
    in->op_span = l->op_span;
    if (!strcmp(l->op, "sequential"))
        return declare_seq(gl, l, in);
    const Decl *b = strmap_get(&gl->s->blocks, l->op);
    if (b)
        return declare_block(gl, l, b, in);
    int op = op_lookup(l->op);
    if (op < 0) {
        sema_unknown_layer(gl->s, l->op, l->op_span, "layer");
        return NULL;
    }
    return declare_op(gl, l, op, in);
}

/* The values an op's call takes (its AT_VALUE slots; the table's nin for
 * an op whose schema names none); -1: any number (AT_VALUES). */
static int op_nvalues(int op)
{
    const ArgSpec *spec = op_hooks[op].args((Op)op);
    int n = 0;
    for (int k = 0; spec[k].name && (spec[k].types & (AT_VALUE | AT_VALUES)); k++) {
        if (spec[k].types & AT_VALUES)
            return -1;
        n++;
    }
    return n ? n : op_info[op].nin;
}

static FVal apply_op(GL *gl, Inst *in, const FVal *args, int nargs, Span at)
{
    Sema *s = gl->s;
    Graph *g = gl->g;
    int want = op_nvalues(in->op);
    if ((want >= 0 && nargs != want) || nargs < 1 || nargs > NNC_MAX_NODE_INPUTS) {
        diag_error(s->d, at, "'%s' (%s) takes %d input value%s, but %d %s given", in->name, in->what,
                   want, want == 1 ? "" : "s", nargs, nargs == 1 ? "was" : "were");
        return fv_error(at);
    }
    int ni = ir_add_node(g, (Op)in->op);
    ir_copy_node(g, ni, &in->proto);
    Node *n = &g->nodes[ni];
    n->nin = 0;
    memset(n->in, 0, sizeof n->in);
    n->span = at;
    for (int k = 0; k < nargs; k++)
        ir_read(g, ni, args[k].v);
    if (op_hooks[in->op].shape(g, &g->nodes[ni], s->d) || sema_check_output(s, in->what, at, g, ni))
        return fv_error(at);
    if (in->op == OP_LSTM || in->op == OP_GRU) {
        /* its value is out; `out, h, c = lstm1(x)` takes the final states too */
        FVal r = fv_value(0, at);
        r.n = in->op == OP_LSTM ? 3 : 2;
        r.vs = xcalloc((size_t)r.n, sizeof *r.vs);
        for (int k = 0; k < r.n; k++)
            if ((r.vs[k] = seq_rnn_result(g, ni, k, s->d)) < 0)
                return fv_error(at);
        r.v = r.vs[0];
        return r;
    }
    return fv_value(ni, at);
}

static FVal chain(GL *gl, Inst *in, const FVal *args, int nargs, Span at)
{
    if (nargs != 1) {
        diag_error(gl->s->d, at, "'%s' is a sequence of layers: it takes one input value, not %d", in->name, nargs);
        return fv_error(at);
    }
    FVal v = args[0];
    for (int k = 0; k < in->nkids && v.kind == FV_VALUE; k++)
        v = gl_apply(gl, in->kids[k], &v, 1, at);
    return v;
}

FVal gl_apply(GL *gl, Inst *in, const FVal *args, int nargs, Span at)
{
    for (int k = 0; k < nargs; k++)
        if (args[k].kind != FV_VALUE) {
            if (args[k].kind != FV_ERROR)
                diag_error(gl->s->d, args[k].span, "'%s' is called with tensor values only (its other "
                           "arguments are given where it is declared)", in->name);
            return fv_error(at);
        }
    in->ncalls++;
    switch (in->kind) {
    case INST_OP:
        return apply_op(gl, in, args, nargs, at);
    case INST_SEQ:
        return chain(gl, in, args, nargs, at);
    case INST_BLOCK:
        if (in->block->has_forward)
            return fwd_run(gl, in->block, in, args, nargs, at);
        return chain(gl, in, args, nargs, at);
    }
    return fv_error(at);
}

FVal gl_node(GL *gl, int op, const int *ins, int nin, Value **slot, Span at, const char *what)
{
    Sema *s = gl->s;
    Graph *g = gl->g;
    int ni = ir_add_node(g, (Op)op);
    g->nodes[ni].span = at;
    g->nodes[ni].layer = gl->nlayers++;
    for (int k = 0; k < nin; k++)
        ir_read(g, ni, ins[k]);
    BuildCtx cx = {g, s->d, ni, slot, at, xasprintf("%d", g->nodes[ni].layer)};
    if (op_hooks[op].build(&cx))
        return fv_error(at);
    g->nodes[ni].span = at;
    if (op_hooks[op].shape(g, &g->nodes[ni], s->d) || sema_check_output(s, what, at, g, ni))
        return fv_error(at);
    return fv_value(ni, at);
}

/* "layer 'x' is declared but never called", in forward bodies, once per
 * declaration; the layers of a called instance are looked at too. */
static void warn_uncalled(GL *gl, const Inst *in)
{
    int fwd = in->kind == INST_BLOCK && in->block->has_forward;
    for (int k = 0; k < in->nkids; k++) {
        const Inst *kid = in->kids[k];
        if (fwd && kid->ncalls == 0)
            gl_warn_once(gl, kid->span, "layer '%s' is declared but never called in forward%s", kid->name, "");
        if (kid->ncalls)
            warn_uncalled(gl, kid);
    }
}

/* The model's inputs into g; *names: their names by position. */
static int lower_inputs(GL *gl, const Decl *m, int64_t *numel)
{
    Sema *s = gl->s;
    int broken = 0, k = 0;
    StrMap seen = {0};
    for (const Input *in = m->inputs; in; in = in->next, k++) {
        if (k == NNC_MAX_GRAPH_IO) {
            diag_error(s->d, in->span, "a model has at most %d inputs", NNC_MAX_GRAPH_IO);
            broken = 1;
            break;
        }
        Shape sh = {0};
        if (!in->has_shape) {
            diag_error(s->d, in->name_span, "input '%s' of a model needs its shape (one sample): input %s [d0, ...]",
                       in->name, in->name);
            broken = 1;
            sh.ndim = 1;
            sh.d[0] = 1;
        } else {
            broken |= sema_input_shape(s, in, &sh, numel);
        }
        if (in->name && strmap_put(&seen, in->name, (void *)in)) {
            diag_error(s->d, in->name_span, "input name '%s' is used twice", in->name);
            broken = 1;
        }
        if (m->has_forward && !in->name) {
            diag_error(s->d, in->span, "with forward, each input is named: input x [...]");
            broken = 1;
        }
        int v = ir_add_input(gl->g, &sh);
        gl->g->input_name[ir_input_index(v)] = in->name;
        gl->g->input_int[ir_input_index(v)] = in->is_int;
    }
    if (!m->has_forward && m->ninputs > 1) {
        diag_error(s->d, m->inputs->next->span, "a model with several inputs says how they flow in a forward block");
        broken = 1;
    }
    strmap_free(&seen);
    return broken;
}

Graph *sema_lower_graph(Sema *s, const Decl *m, const SrcFile *src)
{
    GL gl = {0};
    gl.s = s;
    gl.g = ir_new_graph(m->name, src->path);
    int errors = s->d->nerrors;
    int64_t numel = 0;
    int broken = lower_inputs(&gl, m, &numel);
    Inst root = {0};
    root.kind = INST_BLOCK;
    root.block = m;
    root.name = m->name;
    declare_body(&gl, &root, m, NULL);
    if (broken || s->d->nerrors > errors)
        return NULL;
    Graph *g = gl.g;
    FVal r;
    if (m->has_forward) {
        FVal args[NNC_MAX_GRAPH_IO];
        for (int k = 0; k < g->ninputs; k++)
            args[k] = fv_value(IR_INPUT(k), m->inputs->span);
        root.ncalls = 1;
        r = fwd_run(&gl, m, &root, args, g->ninputs, m->name_span);
    } else {
        FVal x = fv_value(IR_INPUT(0), m->inputs->span);
        r = chain(&gl, &root, &x, 1, m->name_span);
        root.ncalls = 1;
    }
    if (r.kind == FV_VALUE)
        ir_add_output(g, r.v);
    for (int k = 0; r.kind == FV_TUPLE && k < r.n; k++)
        ir_add_output(g, r.vs[k]);
    if (s->d->nerrors > errors || g->noutputs == 0)
        return NULL;
    warn_uncalled(&gl, &root);
    if (sema_check_limits(s, m, g, numel))
        return NULL;
    ir_layout_params(g);
    return g;
}
