/* onnx_lower.c — `nnc import`: an ONNX model (onnx_pb.c) translated node by
 * node (onnx_ops.c, onnx_ops2.c) into statements, then written as
 * DIR/NAME.nnet — a version-1 sequence when the graph is one chain, else a
 * §7 model with declared layers and a forward block — and DIR/NAME.safetensors
 * with the parameters under the layers' names (absent when there are none).
 * Both files are written atomically (the runtime's nnr_wfile). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "ir/ir.h"
#include "nnr.h"
#include "onnx_int.h"
#include "support/diag.h"

/* ---- the working state ---- */

IVal *imp_val(Imp *c, const char *name)
{
    void *p = name && name[0] ? strmap_get(&c->byname, name) : NULL;
    return p ? &c->val[(size_t)p - 1] : NULL;
}

static IVal *new_val(Imp *c, const char *name)
{
    if (c->nval == c->capval) {
        c->capval = c->capval ? 2 * c->capval : 64;
        c->val = xrealloc(c->val, (size_t)c->capval * sizeof *c->val);
    }
    IVal *v = &c->val[c->nval++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->stmt = -1;
    strmap_put(&c->byname, name, (void *)(size_t)c->nval);
    return v;
}

IVal *imp_const(Imp *c, const char *name, OxTensor *t)
{
    IVal *v = new_val(c, name);
    v->kind = IV_CONST;
    v->c = t;
    return v;
}

IVal *imp_run(Imp *c, const char *name, int st, int r, int ndim, const int64_t *d)
{
    IVal *v = new_val(c, name);
    v->kind = IV_RUN;
    v->stmt = st;
    v->result = r;
    v->ndim = ndim;
    memcpy(v->d, d, (size_t)ndim * sizeof *d);
    if (st >= 0)
        c->st[st].out[c->st[st].nout++] = c->nval - 1;
    return v;
}

void imp_alias(Imp *c, const char *name, IVal *v)
{
    strmap_put(&c->byname, name, (void *)(size_t)(v - c->val + 1));
}

IStmt *imp_stmt(Imp *c)
{
    if (c->nst == c->capst) {
        c->capst = c->capst ? 2 * c->capst : 32;
        c->st = xrealloc(c->st, (size_t)c->capst * sizeof *c->st);
    }
    IStmt *s = &c->st[c->nst++];
    memset(s, 0, sizeof *s);
    return s;
}

int imp_fail(Imp *c, const char *fmt, ...)
{
    const OxNode *n = &c->m->nodes[c->node];
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->name[0])
        snprintf(c->err, c->errlen, "node '%s' (%s): %s", n->name, n->op, msg);
    else
        snprintf(c->err, c->errlen, "node %d (%s): %s", c->node, n->op, msg);
    return -1;
}

OxTensor *imp_tensor(int dtype, int ndim, const int64_t *dims)
{
    OxTensor *t = xcalloc(1, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->numel *= dims[i];
    }
    t->v = xcalloc((size_t)(t->numel ? t->numel : 1), sizeof(double));
    return t;
}

const OxAttr *ox_attr(const OxNode *n, const char *name)
{
    for (int k = 0; k < n->nattr; k++)
        if (!strcmp(n->attr[k].name, name))
            return &n->attr[k];
    return NULL;
}

/* ---- from the model to statements ---- */

static int fail_model(Imp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_model(Imp *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int add_inputs(Imp *c)
{
    const OxModel *m = c->m;
    int nin = 0;
    c->batch0 = -1;
    for (int k = 0; k < m->ninputs; k++) {
        const OxIO *io = &m->inputs[k];
        if (imp_val(c, io->name))
            continue;                       /* an initialiser */
        if (!io->elem || !io->has_shape)
            return fail_model(c, "graph input '%s' has no tensor shape: nnc needs each "
                              "input's shape", io->name);
        /* integer and bool inputs are `int` inputs: floats holding exact
         * integers (exact up to 2^24, as every int input of nnc) */
        int isint = io->elem == OX_INT64 || io->elem == OX_INT32 || io->elem == OX_INT16 ||
                    io->elem == OX_INT8 || io->elem == OX_UINT64 || io->elem == OX_UINT32 ||
                    io->elem == OX_UINT16 || io->elem == OX_UINT8 || io->elem == OX_BOOL;
        /* double and half precision inputs are read, and computed, as float */
        if (io->elem != OX_FLOAT && io->elem != OX_DOUBLE && io->elem != OX_FLOAT16 &&
            io->elem != OX_BFLOAT16 && !isint)
            return fail_model(c, "graph input '%s' has element type %d: nnc reads float "
                              "and integer inputs", io->name, io->elem);
        if (io->ndim < 1 || io->ndim > 5)
            return fail_model(c, "graph input '%s' has %d dimensions: nnc needs the batch "
                              "then 0 to 4 dimensions of one sample", io->name, io->ndim);
        for (int i = 1; i < io->ndim; i++)
            if (io->dims[i] <= 0)
                return fail_model(c, "graph input '%s': dimension %d is %s%s%s, nnc needs "
                                  "a fixed size (a dynamic shape is supported only for the "
                                  "batch, dimension 0)", io->name, i,
                                  io->dim_param[i] ? "the symbol '" : "unknown",
                                  io->dim_param[i] ? io->dim_param[i] : "",
                                  io->dim_param[i] ? "'" : "");
        if (nin++ == 0)
            c->batch0 = io->dims[0];
        if (nin > NNC_MAX_GRAPH_IO)
            return fail_model(c, "more than %d graph inputs", NNC_MAX_GRAPH_IO);
        IVal *v = imp_run(c, io->name, -1, 0, io->ndim, io->dims);
        v->is_int = isint;
    }
    if (nin == 0)
        return fail_model(c, "the graph has no input besides its initialisers");
    return 0;
}

/* `--const T.pb`: the graph input named by the tensor in each file becomes a
 * constant holding it (as an initialiser would). */
static int add_consts(Imp *c, const char *const *files, int n)
{
    for (int f = 0; f < n; f++) {
        char err[512];
        size_t len = 0;
        unsigned char *buf = nnr_read_file(files[f], &len, err, sizeof err);
        OxTensor *t = xcalloc(1, sizeof *t);
        int rc = buf ? onnx_read_tensor(buf, len, t, err, sizeof err) : -1;
        free(buf);
        if (rc)
            return fail_model(c, "%s: %s", files[f], err);
        int k = 0;
        while (k < c->m->ninputs && (!t->name || strcmp(c->m->inputs[k].name, t->name)))
            k++;
        if (k == c->m->ninputs || imp_val(c, t->name))
            return fail_model(c, "%s: the tensor '%s' names no graph input (besides the "
                              "initialisers and other constants)", files[f],
                              t->name ? t->name : "");
        imp_const(c, t->name, t);
    }
    return 0;
}

static int translate(Imp *c, const char *const *consts, int nconsts)
{
    const OxModel *m = c->m;
    for (int k = 0; k < m->ninits; k++)
        imp_const(c, m->inits[k].name, &m->inits[k]);
    if (add_consts(c, consts, nconsts))
        return -1;
    if (add_inputs(c))
        return -1;
    c->consumed = xcalloc((size_t)m->nnodes + 1, sizeof(int));
    for (int k = 0; k < m->nnodes; k++) {
        if (c->consumed[k])
            continue;
        c->node = k;
        if (m->nodes[k].nout < 1 || !m->nodes[k].out[0][0])
            return imp_fail(c, "the node has no output");
        int nv = c->nval;
        if (imp_node(c, &m->nodes[k]))
            return -1;
        for (int i = nv; i < c->nval; i++)
            if (c->val[i].kind == IV_RUN && (c->val[i].ndim < 1 || c->val[i].ndim > 5))
                return imp_fail(c, "the result '%s' has %d dimensions: nnc needs the batch "
                                "then 0 to 4 dimensions of one sample", c->val[i].name,
                                c->val[i].ndim);
        for (int o = 0; o < m->nodes[k].nout; o++)
            if (m->nodes[k].out[o][0] && !imp_val(c, m->nodes[k].out[o]) &&
                node_output_read(c, m->nodes[k].out[o], 1))
                return imp_fail(c, "output %d is not computed by nnc", o);
    }
    if (m->noutputs < 1 || m->noutputs > NNC_MAX_GRAPH_IO)
        return fail_model(c, "the graph has %d outputs (nnc: 1 to %d)", m->noutputs,
                          NNC_MAX_GRAPH_IO);
    for (int k = 0; k < m->noutputs; k++) {
        IVal *v = imp_val(c, m->outputs[k].name);
        if (!v)
            return fail_model(c, "graph output '%s' is computed by no node",
                              m->outputs[k].name);
        if (v->kind == IV_VIEW && v->state) {
            c->val[v->base].readers++;      /* nnc's output: ONNX's, batch first */
            continue;
        }
        if (v->kind == IV_VIEW || v->kind == IV_ZERO)
            return fail_model(c, "graph output '%s' does not have the batch first (nnc "
                              "returns the final states of LSTM and GRU with it moved "
                              "first, nothing else)", m->outputs[k].name);
        if (v->kind != IV_RUN)
            return fail_model(c, "graph output '%s' is a constant: nnc's outputs are "
                              "computed from the inputs", m->outputs[k].name);
        v->readers++;
    }
    return 0;
}

/* ---- names ---- */

static int reserved(const char *s)
{
    static const char *const kw[] = {
        "model", "train", "input", "let", "true", "false", "forward", "return", "block",
        "int", "none", "sequential", "reshape", "transpose", "permute", "cat", "split",
        "chunk", "matmul", "mean", "sum", "scaled_dot_product_attention", "arange",
        "add", "sub", "mul", "div", "x_", NULL};
    for (int i = 0; kw[i]; i++)
        if (!strcmp(s, kw[i]))
            return 1;
    return op_lookup(s) >= 0;
}

/* An identifier made of s. */
static char *ident(const char *s)
{
    size_t n = strlen(s);
    char *r = xcalloc(n + 3, 1), *p = r;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        *p++ = 'v';
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_';
        *p++ = ok ? ch : '_';
    }
    return reserved(r) ? xasprintf("%s_", r) : r;
}

static const char *unique(StrMap *used, const char *want)
{
    const char *s = want;
    for (int k = 2; strmap_get(used, s); k++)
        s = xasprintf("%s_%d", want, k);
    strmap_put(used, s, (void *)1);
    return s;
}

/* 1 when the statements form one chain from the one input to the one output. */
static int is_chain(const Imp *c)
{
    if (c->m->noutputs != 1)
        return 0;
    int prev = -1, ninputs = 0;
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_RUN && c->val[i].stmt < 0)
            ninputs++, prev = i;
    if (ninputs != 1)
        return 0;                           /* (no statement: the sequence `identity`) */
    for (int s = 0; s < c->nst; s++) {
        const IStmt *st = &c->st[s];
        if (st->nin != 1 || st->nout != 1 || st->in[0] != prev || c->val[prev].readers != 1 ||
            (!st->ctor && !st->seq))
            return 0;
        prev = st->out[0];
    }
    const IVal *out = imp_val((Imp *)c, c->m->outputs[0].name);
    return out == &c->val[prev] || (out->kind == IV_VIEW && out->base == prev);
}

static int all_digits(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Chooses each declared layer's name. In a sequence, a layer whose
 * initialisers are named by a position (nn.Sequential's "4.weight") stays
 * unnamed at that position: identity statements (pad) stand in for modules
 * that left no ONNX node (a batch norm folded into its conv, a dropout). */
static void name_layers(Imp *c, int chain, StrMap *used)
{
    static const char *const dflt[] = {"fc", "conv", "bn", "ln", "pool", "emb", "up", "rnn",
                                       NULL};
    int count[9] = {0}, pos = 0;
    for (int s = 0; s < c->nst; s++, pos++) {
        IStmt *st = &c->st[s];
        if (chain && st->ctor && all_digits(st->base) && atoi(st->base) > pos &&
            atoi(st->base) - pos < 1000) {
            st->pad = atoi(st->base) - pos;
            pos = atoi(st->base);
        }
        st->pos = pos;
        if (!st->ctor)
            continue;
        if (chain && (!st->base || (all_digits(st->base) && atoi(st->base) == pos))) {
            st->name = xasprintf("%d", pos);    /* unnamed: its position */
            continue;
        }
        const char *want = all_digits(st->base) ? xasprintf("layer%s", st->base)
                         : st->base ? ident(st->base) : NULL;
        if (!want) {
            int k = 0;
            while (dflt[k] && strcmp(dflt[k], st->kind))
                k++;
            want = xasprintf("%s%d", st->kind, ++count[k]);
        }
        st->name = unique(used, want);
    }
}

/* ---- writing ---- */

static void put_expr(FILE *f, const Imp *c, const IStmt *st, const char *tmpl)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            fputs(c->val[st->in[p[1] - '0']].var, f);
            p++;
        } else {
            fputc(*p, f);
        }
    }
}

static void put_input(FILE *f, const IVal *v, int named)
{
    fprintf(f, "    input ");
    if (named)
        fprintf(f, "%s ", v->var);
    fputc('[', f);
    for (int i = 1; i < v->ndim; i++)
        fprintf(f, "%s%lld", i > 1 ? ", " : "", (long long)v->d[i]);
    if (v->ndim == 1)
        fputc('1', f);                      /* a sample that is one number */
    fprintf(f, "]%s\n", v->is_int ? " int" : "");
}

static void write_nnet(FILE *f, Imp *c, const char *file, const char *model, int chain)
{
    const OxModel *m = c->m;
    fprintf(f, "# %s.nnet — imported by `nnc import` from an ONNX model (opset %lld), "
            "%s\n", file, (long long)m->opset,
            chain ? "a sequence" : "a graph: declared layers, then forward");
    for (int k = 0; k < m->noutputs; k++)
        if (imp_val(c, m->outputs[k].name)->kind == IV_VIEW)
            fprintf(f, "# output %d ('%s'): ONNX's dimensions 0 and 1 swapped, the batch "
                    "first\n", k, m->outputs[k].name);
    fprintf(f, "model %s {\n", model);
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_RUN && c->val[i].stmt < 0)
            put_input(f, &c->val[i], !chain);
    for (int s = 0; s < c->nst; s++) {
        const IStmt *st = &c->st[s];
        if (chain) {
            const char *pos = xasprintf("%d", st->pos);
            for (int k = 0; k < st->pad; k++)
                fprintf(f, "    identity%s\n", k ? "" : "    # a module that left no ONNX node");
            if (st->ctor && strcmp(st->name, pos))
                fprintf(f, "    %s = %s\n", st->name, st->ctor);
            else
                fprintf(f, "    %s\n", st->ctor ? st->ctor : st->seq);
        } else if (st->ctor) {
            fprintf(f, "    %s = %s\n", st->name, st->ctor);
        }
    }
    if (chain && c->nst == 0)
        fprintf(f, "    identity\n");
    if (!chain) {
        fprintf(f, "\n    forward {\n");
        for (int s = 0; s < c->nst; s++) {
            const IStmt *st = &c->st[s];
            fprintf(f, "        ");
            for (int o = 0; o < st->nout; o++)
                fprintf(f, "%s%s", o ? ", " : "", c->val[st->out[o]].var);
            fprintf(f, " = ");
            if (st->ctor)
                put_expr(f, c, st, xasprintf("%s($0)", st->name));
            else
                put_expr(f, c, st, st->fwd);
            fputc('\n', f);
        }
        fprintf(f, "        return ");
        for (int k = 0; k < m->noutputs; k++)
            fprintf(f, "%s%s", k ? ", " : "", imp_val(c, m->outputs[k].name)->var);
        fprintf(f, "\n    }\n");
    }
    fprintf(f, "}\n");
}

static int write_weights(Imp *c, const char *path, char *err, size_t errlen)
{
    int n = 0;
    for (int s = 0; s < c->nst; s++)
        n += c->st[s].nparam;
    if (n == 0) {
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot remove the old file: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    nnr_st_out *t = xcalloc((size_t)n, sizeof *t);
    int k = 0;
    for (int s = 0; s < c->nst; s++)
        for (int p = 0; p < c->st[s].nparam; p++) {
            const IParam *q = &c->st[s].param[p];
            t[k++] = (nnr_st_out){xasprintf("%s.%s", c->st[s].name, q->suffix), q->ndim,
                                  q->shape, q->data, q->is_int};
        }
    return nnr_st_write(path, t, n, err, errlen);
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    return dot && dot != b ? xstrndup(b, (size_t)(dot - b)) : xstrdup(b);
}

/* Chooses the form and every name; returns the model's identifier. */
/* Whether value i is read by a statement or a graph output, directly or
 * through a view of it. */
static int read_anywhere(const Imp *c, int i)
{
    if (c->val[i].readers > 0)
        return 1;
    for (int j = 0; j < c->nval; j++)
        if (c->val[j].kind == IV_VIEW && c->val[j].base == i && c->val[j].readers > 0)
            return 1;
    return 0;
}

static const char *prepare(Imp *c, const char *name, int *chain)
{
    const char *model = ident(name);
    *chain = is_chain(c);
    StrMap used = {0};
    strmap_put(&used, model, (void *)1);
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_RUN && c->val[i].stmt < 0)
            c->val[i].var = unique(&used, ident(c->val[i].name));
    name_layers(c, *chain, &used);
    int h = 0;
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_RUN && c->val[i].stmt >= 0) {
            const char *want;
            do
                want = xasprintf("h%d", ++h);
            while (strmap_get(&used, want));
            c->val[i].var = unique(&used, want);
        }
    /* a result of a several-result statement that nothing reads (an LSTM's
     * final states, say) is named with a leading '_', which tells nnc it is
     * dropped on purpose: no never-used warning */
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_RUN && c->val[i].stmt >= 0 &&
            c->st[c->val[i].stmt].nout > 1 && !read_anywhere(c, i))
            c->val[i].var = unique(&used, xasprintf("_%s", c->val[i].var));
    for (int i = 0; i < c->nval; i++)
        if (c->val[i].kind == IV_VIEW)
            c->val[i].var = c->val[c->val[i].base].var;
    return model;
}

static int emit(Imp *c, const DriverOpts *o, char *err, size_t errlen)
{
    const char *name = base_name(o->input);
    int chain;
    const char *model = prepare(c, name, &chain);
    char *dir = xstrdup(o->output);
    for (char *p = dir + 1; *p; p++)        /* its parents first, as mkdir -p */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0777);
            *p = '/';
        }
    if (mkdir(o->output, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the folder: %s", o->output, strerror(errno));
        return -1;
    }
    const char *wpath = xasprintf("%s/%s.safetensors", o->output, name);
    const char *npath = xasprintf("%s/%s.nnet", o->output, name);
    nnr_wfile w;
    if (nnr_wfile_open(&w, npath, 0, err, errlen))
        return -1;
    write_nnet(w.f, c, name, model, chain);
    if (write_weights(c, wpath, err, errlen)) {
        nnr_wfile_abort(&w);
        return -1;
    }
    return nnr_wfile_commit(&w, err, errlen);
}

int onnx_import_text(const unsigned char *buf, size_t len, const char *name, FILE *out,
                     char *err, size_t errlen)
{
    OxModel m;
    Imp c;
    memset(&c, 0, sizeof c);
    c.m = &m;
    c.path = name;
    c.err = err;
    c.errlen = errlen;
    if (onnx_read_model(buf, len, &m, err, errlen) || translate(&c, NULL, 0))
        return -1;
    int chain;
    const char *model = prepare(&c, name, &chain);
    write_nnet(out, &c, name, model, chain);
    return 0;
}

int import_main(const DriverOpts *o)
{
    char err[1024];
    size_t len = 0;
    unsigned char *buf = nnr_read_file(o->input, &len, err, sizeof err);
    OxModel m;
    Imp c;
    memset(&c, 0, sizeof c);
    c.m = &m;
    c.path = o->input;
    c.err = err;
    c.errlen = sizeof err;
    int rc = -1;
    if (!buf) {
        fprintf(stderr, "nnc: error: %s\n", err);
        return 1;
    }
    if (onnx_read_model(buf, len, &m, err, sizeof err) == 0 && translate(&c, o->consts, o->nconsts) == 0)
        rc = emit(&c, o, err, sizeof err);
    free(buf);
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "%s: error: %s\n", o->input, err);
        return 1;
    }
    return 0;
}
