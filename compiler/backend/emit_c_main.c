/* emit_c_main.c — the C backend's main.c for `nnc build`: the nnr_model
 * descriptor of the program (state_dict tensors, layers, the train block)
 * and main(), which hands it to the runtime's nnr_main. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emit_c.h"
#include "../ops/ops.h"
#include "nnr_prog.h"
#include "../passes/autodiff.h"

static void c_string(FILE *out, const char *s)
{
    if (!s) {
        fprintf(out, "NULL");
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 32 || *p >= 127)
            fprintf(out, "\\%03o", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* ", .FIELD = {d0, d1, ...}", nothing for a scalar (the field stays zero:
 * ISO C has no empty braces). */
static void c_dims(FILE *out, const char *field, int ndim, const int64_t *d)
{
    if (ndim == 0)
        return;
    fprintf(out, ", .%s = {", field);
    for (int k = 0; k < ndim; k++)
        fprintf(out, "%s%lld", k ? ", " : "", (long long)d[k]);
    fprintf(out, "}");
}

/* An entry of a table of runtime enum names, indexed by the value. */
#define ENUM_C(x) [x] = #x

static void emit_data(FILE *out, const DataSrc *d)
{
    static const char *kind_c[] = {ENUM_C(NNR_DATA_NONE), ENUM_C(NNR_DATA_CSV), ENUM_C(NNR_DATA_IDX),
                                   ENUM_C(NNR_DATA_TEXT)};
    char b[48];
    if (d->kind < 0 || d->kind > 3)
        NNC_ICE("data source kind %d", d->kind);
    fprintf(out, "{.kind = %s, .path = ", kind_c[d->kind]);
    c_string(out, d->path);
    fprintf(out, ", .path2 = ");
    c_string(out, d->path2);
    fprintf(out, ",\n                  .csv = {.label = %d, .has_label = %d, .targets = %d, .header = %d}, "
                 ".scale = %s", d->label, d->has_label, d->targets, d->header,
            c_float(d->kind == NNR_DATA_IDX ? d->scale : 1.0, b, sizeof b));
    if (d->kind == NNR_DATA_TEXT)
        fprintf(out, ", .context = %d", d->context);
    fprintf(out, "}");
}

/* v as the shortest C double constant that reads back as v. */
static const char *c_double(double v)
{
    char *b = xcalloc(40, 1);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, 40, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    if (!strpbrk(b, ".eEn"))
        strcat(b, ".0");
    return b;
}

/* [param] 1: the loss (the first output) depends on a node that reads it. */
static char *loss_reaches(const Graph *g)
{
    char *node = xcalloc((size_t)g->nnodes + 1, 1), *param = xcalloc((size_t)g->nparams + 1, 1);
    if (ir_output(g) >= 0)
        node[ir_output(g)] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {  /* a node's inputs come before it */
        const Node *nd = &g->nodes[i];
        if (!node[i] || nd->dead)
            continue;
        for (int k = 0; k < nd->nin; k++)
            if (nd->in[k] >= 0)
                node[nd->in[k]] = 1;
        for (int j = 0; j < nd->nparam; j++)
            param[nd->param[j]] = 1;
    }
    free(node);
    return param;
}

/* The state_dict tensors the program saves and loads (not the derived
 * ones of the inference block); returns how many. A parameter of the
 * training graph tg (NULL: none) that the loss does not reach is no_grad:
 * no backward step writes its gradient (for a frozen one, none would),
 * and PyTorch's optimizers skip a parameter whose grad is None, so weight
 * decay must not touch it either (emitted as no_grad[], *has_no_grad set
 * when there is one). */
int emit_c_tensors(const Graph *g, const Graph *tg, int *has_no_grad, FILE *out)
{
    static const char *kind_c[] = {"NNR_T_PARAM", "NNR_T_BUFFER", "NNR_T_COUNTER"};
    int ntensors = 0, nng = 0;
    int *no_grad = xcalloc((size_t)g->nparams + 1, sizeof(int));
    TrainPlan tp = {0};
    char *reached = tg ? loss_reaches(tg) : NULL;
    if (tg && train_plan(tg, &tp) != 0)
        tg = NULL;   /* cannot happen for the pass's own graph; then no no_grad list */
    fprintf(out, "static const nnr_tensor_desc tensors[] = {\n");
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->fold)
            continue;
        ntensors++;
        fprintf(out, "    {.name = ");
        c_string(out, p->name);
        fprintf(out, ", .ndim = %d", p->ndim);
        c_dims(out, "shape", p->ndim, p->shape);
        fprintf(out, ", .offset = %lld, .numel = %lld,\n     .kind = %s, .layer = %d, .layer_name = ",
                (long long)p->offset, (long long)p->numel,
                kind_c[p->kind == NNR_T_PARAM ? 0 : p->kind == NNR_T_BUFFER ? 1 : 2], p->layer);
        c_string(out, p->layer_name);
        fprintf(out, "},\n");
        if (tg && p->kind == NNR_T_PARAM && i < tg->nparams &&
            !(tg->params[i].frozen ? reached[i] : tp.pwritten[i]) && strcmp(tg->params[i].name, p->name) == 0)
            no_grad[nng++] = ntensors - 1;
    }
    if (ntensors == 0)
        fprintf(out, "    {.name = \"\"}, /* none (an array needs an element) */\n");
    fprintf(out, "};\n\n");
    if (nng) {
        fprintf(out, "/* Parameters no gradient reaches from the loss: not updated. */\n"
                     "static const unsigned char no_grad[%d] = {", ntensors);
        for (int k = 0; k < nng; k++)
            fprintf(out, "%s[%d] = 1", k ? ", " : "", no_grad[k]);
        fprintf(out, "};\n\n");
    }
    if (has_no_grad)
        *has_no_grad = nng > 0;
    if (g->nties) {
        fprintf(out, "/* Weight tying: second state_dict names of tensors (saved under both,\n"
                     " * stored and trained once). */\nstatic const nnr_tie_desc ties[] = {\n");
        for (int t = 0; t < g->nties; t++) {
            const Tie *ti = &g->ties[t];
            int owner = 0, pos = 0;
            for (int i = 0; i < g->nparams; i++) {
                owner += i < ti->param && !g->params[i].fold;
                pos += i < ti->before && !g->params[i].fold;
            }
            fprintf(out, "    {.name = ");
            c_string(out, ti->name);
            fprintf(out, ", .owner = %d, .pos = %d, .layer = %d, .layer_name = ", owner, pos, ti->layer);
            c_string(out, ti->layer_name);
            fprintf(out, "}, /* = %s */\n", g->params[ti->param].name);
        }
        fprintf(out, "};\n\n");
    }
    return ntensors;
}

/* Layer statements: one past the largest position of a node (passes mark
 * nodes dead but keep them, with their layer). */
static int layer_count(const Graph *g)
{
    int nl = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].layer >= nl)
            nl = g->nodes[i].layer + 1;
    return nl;
}

/* The layer table: name, op and, for batch norm, the values per channel of
 * one sample (PyTorch refuses to train on one value per channel). */
static void emit_layers(const Graph *g, FILE *out)
{
    int nl = layer_count(g);
    fprintf(out, "static const nnr_layer_desc layers[] = {\n");
    for (int l = 0; l < nl; l++) {
        const Node *nd = NULL;
        for (int i = 0; i < g->nnodes && !nd; i++)
            if (g->nodes[i].layer == l)
                nd = &g->nodes[i];
        int64_t per_channel = 0;
        if (nd && (nd->op == OP_BATCHNORM1D || nd->op == OP_BATCHNORM2D) && nd->shape.ndim > 0 &&
            nd->shape.d[0] > 0)
            per_channel = shape_numel(&nd->shape) / nd->shape.d[0];
        fprintf(out, "    {.name = ");
        c_string(out, nd && nd->label ? nd->label : xasprintf("%d", l));
        fprintf(out, ", .op = \"%s\", .per_channel = %lld},\n", nd ? op_info[nd->op].name : "",
                (long long)per_channel);
    }
    if (nl == 0)
        fprintf(out, "    {.name = \"\", .op = \"\"}, /* none (an array needs an element) */\n");
    fprintf(out, "};\n\n");
}

/* The train-block keys of LANGUAGE.md §10, only those given (a file without
 * them emits what it always did). */
static void emit_train_v2(FILE *out, const TrainCfg *t)
{
    static const char *kind_c[] = {"NNR_SCHED_STEPLR", "NNR_SCHED_COSINE", "NNR_SCHED_WARMUP",
                                   "NNR_SCHED_ONECYCLE"};
    nnr_sched sc;
    char err[256];
    if (t->schedule && nnr_parse_schedule(t->schedule, &sc, err, sizeof err) == 0) {
        fprintf(out, "        /* schedule = %s */\n        .schedule = {%d, {", t->schedule, sc.nparts);
        for (int i = 0; i < sc.nparts; i++)
            fprintf(out, "%s{%s, %ld, %.17g}", i ? ", " : "", kind_c[sc.part[i].kind], sc.part[i].n,
                    sc.part[i].a);
        fprintf(out, "}, %d},\n", sc.per_step);
    }
    if (t->clip_grad_norm > 0)
        fprintf(out, "        .clip_grad_norm = %.17g,\n", t->clip_grad_norm);
    if (t->early_stopping > 0)
        fprintf(out, "        .early_stopping = %lld,\n", (long long)t->early_stopping);
    if (t->checkpoint) {
        fprintf(out, "        .checkpoint = ");
        c_string(out, t->checkpoint);
        fprintf(out, ",\n");
    }
    if (t->label_smoothing > 0)
        fprintf(out, "        .label_smoothing = %.17g,\n", t->label_smoothing);
}

static void emit_io_desc(FILE *out, const char *name, const Shape *s, int64_t off, int is_int, int64_t below)
{
    fprintf(out, "    {.name = ");
    c_string(out, name);
    fprintf(out, ", .ndim = %d", s->ndim);
    c_dims(out, "shape", s->ndim, s->d);
    fprintf(out, ", .size = %lld, .offset = %lld", (long long)shape_numel(s), (long long)off);
    if (is_int)
        fprintf(out, ", .is_int = 1, .int_below = %lld", (long long)below);
    fprintf(out, "},\n");
}

/* The inputs and outputs: shapes, where each sits in a row, int inputs. */
static void emit_io(const Graph *g, FILE *out)
{
    int64_t off = 0;
    fprintf(out, "static const nnr_io_desc inputs[] = {\n");
    for (int k = 0; k < g->ninputs; k++) {
        emit_io_desc(out, g->input_name[k], &g->inputs[k], off, g->input_int[k], g->input_int_below[k]);
        off += shape_numel(&g->inputs[k]);
    }
    fprintf(out, "};\n\nstatic const nnr_io_desc outputs[] = {\n");
    off = 0;
    for (int k = 0; k < g->noutputs; k++) {
        const Shape *s = ir_value_shape(g, g->outputs[k]);
        emit_io_desc(out, NULL, s, off, 0, 0);
        off += shape_numel(s);
    }
    fprintf(out, "};\n\n");
}

void emit_c_main(const Graph *g, const TrainCfg *t, const EmitOpts *o, FILE *out)
{
    const char *n = g->name, *N = emit_c_upper(n);
    const Shape *os = ir_value_shape(g, ir_output(g));
    emit_c_front_matter(g, o, out, "main.c", "the program of model");
    fprintf(out, "#include \"nnr_prog.h\"\n#include \"%s.h\"\n\n", o->stem ? o->stem : n);
    int trainable = emit_c_trainable(g, t);
    emit_io(g, out);
    int has_no_grad = 0;
    int ntensors = emit_c_tensors(g, o->train_graph, &has_no_grad, out);
    emit_layers(g, out);
    if (t && t->nfreeze) {
        fprintf(out, "static const int freeze[] = {");
        for (int i = 0; i < t->nfreeze; i++)
            fprintf(out, "%s%d", i ? ", " : "", t->freeze[i]);
        fprintf(out, "};\n\n");
    }
    fprintf(out, "static const nnr_model model = {\n");
    fprintf(out, "    .name = \"%s\",\n", n);
    fprintf(out, "    .in_ndim = %d", g->input.ndim);
    c_dims(out, "in_shape", g->input.ndim, g->input.d);
    fprintf(out, ", .in_size = %s_IN_SIZE,\n", N);
    fprintf(out, "    .out_ndim = %d", os->ndim);
    c_dims(out, "out_shape", os->ndim, os->d);
    fprintf(out, ", .out_size = %lld, .y_size = %s_OUT_SIZE,\n", (long long)shape_numel(os), N);
    fprintf(out, "    .ninputs = %d, .inputs = inputs, .noutputs = %d, .outputs = outputs,\n", g->ninputs,
            g->noutputs);
    fprintf(out, "    .ntensors = %d, .tensors = tensors, .state_size = %lld,\n", ntensors,
            (long long)g->state_size);
    if (has_no_grad)
        fprintf(out, "    .no_grad = no_grad,\n");
    if (g->nties)
        fprintf(out, "    .nties = %d, .ties = ties,\n", g->nties);
    fprintf(out, "    .nlayers = %d, .layers = layers,\n", layer_count(g));
    /* builtin_state is the STATE block (training and saving need the
     * state_dict layout); prepare() turns it into the inference block */
    fprintf(out, "    .builtin_state = %s,\n",
            o->weights_given && g->state_size > 0 ? xasprintf("%s_state", n) : "NULL");
    if (emit_c_has_state(g))     /* else init and prepare are NULL: nothing to do */
        fprintf(out, "    .init = %s_init,\n", n);
    if (g->infer_size > 0)
        fprintf(out, "    .infer_size = %s_PARAMS_SIZE, .prepare = %s_prepare,\n", N, n);
    fprintf(out, "    .arena_size = %s_arena_size, .forward = %s_forward,\n", n, n);
    if (emit_c_step_ok(g))
        fprintf(out, "    .step_cache_size = %s_STEP_CACHE_SIZE, .step_arena_size = %s_step_arena_size,\n"
                     "    .step = %s_step,\n", N, n, n);
    if (trainable)
        fprintf(out, "    .train_arena_size = %s_train_arena, .train_step = %s_train_step,\n", n, n);
    if (t && t->present) {
        static const char *opt_c[] = {"NNR_OPT_SGD", "NNR_OPT_ADAM", "NNR_OPT_ADAMW"};
        fprintf(out, "    .cfg = {\n        .present = 1,\n        .data = ");
        emit_data(out, &t->data);
        fprintf(out, ",\n        .validation = ");
        emit_data(out, &t->validation);
        static const char *loss_c[] = {ENUM_C(NNR_LOSS_MSE), ENUM_C(NNR_LOSS_L1), ENUM_C(NNR_LOSS_BCE),
                                       ENUM_C(NNR_LOSS_BCE_WITH_LOGITS), ENUM_C(NNR_LOSS_CROSS_ENTROPY),
                                       ENUM_C(NNR_LOSS_NLL)};
        if (t->loss >= 0 && t->loss < (int)(sizeof loss_c / sizeof loss_c[0]) && loss_c[t->loss])
            fprintf(out, ",\n        .loss = %s,\n", loss_c[t->loss]);
        else
            fprintf(out, ",\n        .loss = %d,\n", t->loss);
        fprintf(out, "        .optim = {.kind = %s, .lr = %s, .momentum = %s, .dampening = %s,\n"
                     "                  .weight_decay = %s, .nesterov = %d, .beta1 = %s, .beta2 = %s, .eps = %s},\n",
                opt_c[t->optim], c_double(t->lr), c_double(t->momentum), c_double(t->dampening),
                c_double(t->weight_decay), t->nesterov, c_double(t->beta1), c_double(t->beta2), c_double(t->eps));
        fprintf(out, "        .epochs = %lld, .batch = %lld, .shuffle = %d, .seed = %" PRIu64 "u,\n",
                (long long)t->epochs, (long long)t->batch, t->shuffle, t->seed);
        fprintf(out, "        .init = ");
        c_string(out, t->init);
        fprintf(out, ", .strict = %d,\n        .save = ", t->strict);
        c_string(out, t->save);
        fprintf(out, ", .log = ");
        c_string(out, t->log);
        fprintf(out, ",\n        .nfreeze = %d, .freeze = %s,\n", t->nfreeze, t->nfreeze ? "freeze" : "NULL");
        emit_train_v2(out, t);
        fprintf(out, "    },\n");
    }
    fprintf(out, "};\n\nint main(int argc, char **argv)\n{\n    return nnr_main(&model, argc, argv);\n}\n");
}
