/* driver.c — the compilation pipeline behind every nnc command:
 * read → parse → check and lower → passes → C backend → cc. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "backend/emit_c.h"
#include "ops/ops.h"
#include "nnr_prog.h"

typedef struct NncBlob { const char *path; const char *text; size_t len; } NncBlob;
extern const NncBlob nnc_runtime_files[];

typedef struct Unit {
    SrcFile src;
    Diag diag;
    Ast ast;
    Program prog;
    Graph *g;           /* the model, as written (training keeps it so) */
    TrainCfg *train;
} Unit;

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    if (!dir[0])
        dir = xstrdup("/");
    char *abs = realpath(dir, NULL);
    return abs ? abs : dir;
}

static const char *param_shape_str(const Param *p, char *buf, size_t len)
{
    Shape s = {p->ndim, {0}};
    memcpy(s.d, p->shape, sizeof s.d);
    return shape_str(&s, buf, len);
}

/* --weights: every tensor of the model, with its shape; nothing else. */
static int load_weights(Graph *g, const char *path, Diag *d)
{
    nnr_st_file f;
    char err[512];
    if (nnr_st_read(path, &f, err, sizeof err)) {
        diag_error_nopos(d, "%s", err);
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < g->nparams; i++) {
        Param *p = &g->params[i];
        const nnr_st_tensor *t = nnr_st_find(&f, p->name);
        char b1[96], b2[96];
        if (!t) {
            diag_error_nopos(d, "%s: missing tensor '%s' (shape %s)", path, p->name,
                             param_shape_str(p, b1, sizeof b1));
            bad = 1;
            continue;
        }
        int same = t->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++)
            same = t->shape[k] == p->shape[k];
        if (!same) {
            Shape ts = {t->ndim > NNC_MAX_DIMS ? NNC_MAX_DIMS : t->ndim, {0}};
            for (int k = 0; k < ts.ndim; k++)
                ts.d[k] = t->shape[k];
            diag_error_nopos(d, "%s: tensor '%s' has shape %s%s, the model expects %s", path, p->name,
                             shape_str(&ts, b2, sizeof b2), t->ndim > NNC_MAX_DIMS ? " (and more)" : "",
                             param_shape_str(p, b1, sizeof b1));
            bad = 1;
            continue;
        }
        p->data = xmalloc((size_t)p->numel * sizeof(float) + 1);
        memcpy(p->data, t->data, (size_t)p->numel * sizeof(float));
        p->literal = 0;
    }
    for (int k = 0; k < f.ntensors; k++) {
        int known = 0;
        for (int i = 0; i < g->nparams && !known; i++)
            known = strcmp(g->params[i].name, f.tensors[k].name) == 0;
        if (!known) {
            diag_error_nopos(d, "%s: unexpected tensor '%s': the model has no such parameter", path,
                             f.tensors[k].name);
            bad = 1;
        }
    }
    nnr_st_free(&f);
    return bad ? -1 : 0;
}

/* Load, parse and check; 0 when the model is ready to compile. */
static int load(const DriverOpts *o, Unit *u)
{
    memset(u, 0, sizeof *u);
    const char *err;
    size_t len;
    char *text = read_file(o->input, &len, &err);
    u->src.path = o->input;
    u->src.text = text ? text : "";
    u->src.len = text ? len : 0;
    diag_init(&u->diag, &u->src);
    if (!text) {
        diag_error_nopos(&u->diag, "%s: %s", o->input, err);
        return -1;
    }
    if (nnc_parse(&u->src, &u->diag, &u->ast))
        return -1;
    if (sema_check(&u->ast, &u->src, dir_of(o->input), &u->diag, &u->prog))
        return -1;
    int pick = 0;
    if (o->model) {
        for (pick = 0; pick < u->prog.nmodels; pick++)
            if (strcmp(u->prog.models[pick]->name, o->model) == 0)
                break;
        if (pick == u->prog.nmodels) {
            diag_error_nopos(&u->diag, "%s: no model named '%s'", o->input, o->model);
            return -1;
        }
    }
    u->g = u->prog.models[pick];
    u->train = &u->prog.trains[pick];
    if (o->weights && load_weights(u->g, o->weights, &u->diag))
        return -1;
    return 0;
}

static int finish(Unit *u, int status)
{
    return u->diag.nerrors ? 1 : status;
}

int driver_check(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    return finish(&u, 0);
}

/* The inference graph: a copy of the model through the pass pipeline. */
static Graph *optimised(const DriverOpts *o, Unit *u)
{
    Graph *g = ir_clone(u->g);
    if (pipeline_run(g, &o->pipe, &u->diag))
        return NULL;
    return g;
}

int driver_ir(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    Graph *g = optimised(o, &u);
    if (!g)
        return 1;
    ir_print(g, stdout);
    return finish(&u, 0);
}

static int live_nodes(const Graph *g)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        c += !g->nodes[i].dead;
    return c;
}

int driver_summary(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    Graph *g = u.g;
    char b[64];
    printf("model %s (%s): input %s\n\n", g->name, g->file, shape_str(&g->input, b, sizeof b));
    printf("%-4s %-14s %-12s %-18s %12s %14s\n", "#", "layer", "op", "output shape", "parameters", "FLOPs/sample");
    int64_t tp = 0, tf = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        int64_t np = 0;
        for (int k = 0; k < n->nparam; k++)
            if (g->params[n->param[k]].kind == NNR_T_PARAM)
                np += g->params[n->param[k]].numel;
        int64_t fl = op_hooks[n->op].flops(g, n);
        tp += np;
        tf += fl;
        printf("%-4d %-14s %-12s %-18s %12lld %14lld\n", n->layer, n->label ? n->label : xasprintf("%d", n->layer),
               op_info[n->op].name, shape_str(&n->shape, b, sizeof b), (long long)np, (long long)fl);
    }
    printf("\ntotal: %lld trainable parameters, %lld floats of state (%lld bytes), %lld FLOPs per sample\n",
           (long long)tp, (long long)g->state_size, (long long)g->state_size * 4, (long long)tf);
    MemPlan before, after;
    memplan_inference(g, &before);
    Graph *og = optimised(o, &u);
    if (!og)
        return 1;
    memplan_inference(og, &after);
    printf("arena per sample: %lld bytes before planning, %lld bytes after (%d ops before, %d after)\n",
           (long long)before.unplanned * 4, (long long)after.per_sample * 4,
           live_nodes(g), live_nodes(og));
    if (u.train->present) {
        int64_t acts = 0;
        for (int i = 0; i < g->nnodes; i++)
            acts += 2 * shape_numel(&g->nodes[i].shape);
        printf("training: %lld floats of state + %lld of gradients + %lld of optimizer state; %lld bytes of activations and their gradients per sample\n",
               (long long)g->state_size, (long long)g->state_size,
               (long long)(u.train->optim == NNR_OPT_SGD ? (u.train->momentum != 0 ? 1 : 0) : 2) * g->state_size,
               (long long)acts * 4);
    }
    return finish(&u, 0);
}

/* ---------------------------------------------------------------- files */

/* Write text produced by fn to path atomically (temporary file + rename). */
typedef void (*WriteFn)(void *ctx, FILE *out);

static int write_atomic(const char *path, WriteFn fn, void *ctx, Diag *d)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        diag_error_nopos(d, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    fn(ctx, f);
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        diag_error_nopos(d, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

typedef struct BlobCtx { const NncBlob *b; } BlobCtx;

/* Runtime sources are flattened into one folder: "kernels/gemm.c" becomes
 * "nnr_gemm.c" and includes of "../x.h" or "kernels/x.h" become "x.h". */
static void write_blob(void *ctx, FILE *out)
{
    const NncBlob *b = ((BlobCtx *)ctx)->b;
    const char *p = b->text, *end = b->text + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        const char *inc = "#include \"";
        if (len > 10 && strncmp(p, inc, 10) == 0) {
            const char *q = p + 10, *close = memchr(q, '"', len - 10);
            if (close) {
                const char *base = q;
                for (const char *r = q; r < close; r++)
                    if (*r == '/')
                        base = r + 1;
                fprintf(out, "#include \"%.*s\"%.*s", (int)(close - base), base,
                        (int)(len - (size_t)(close + 1 - p)), close + 1);
                p += len;
                continue;
            }
        }
        fwrite(p, 1, len, out);
        p += len;
    }
}

static const char *flat_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    size_t bl = strlen(base);
    if (bl > 2 && strcmp(base + bl - 2, ".h") == 0)
        return base;
    if (strncmp(base, "nnr", 3) == 0)
        return base;
    if (slash && strncmp(rel, "io/", 3) == 0)
        return xasprintf("nnr_io_%s", base);
    return xasprintf("nnr_%s", base);
}

/* Write the runtime into dir; with_driver adds the program driver and the
 * file readers (a program), else only the kernels (embeddable). */
static int write_runtime(const char *dir, int with_driver, Diag *d)
{
    for (const NncBlob *b = nnc_runtime_files; b->path; b++) {
        int is_h = strlen(b->path) > 2 && strcmp(b->path + strlen(b->path) - 2, ".h") == 0;
        int is_kernel = strncmp(b->path, "kernels/", 8) == 0 || strcmp(b->path, "nnr.h") == 0 ||
                        strcmp(b->path, "simd.h") == 0;
        if (!with_driver && !is_kernel && !(is_h && strncmp(b->path, "kernels/", 8) == 0))
            continue;
        BlobCtx c = {b};
        if (write_atomic(xasprintf("%s/%s", dir, flat_name(b->path)), write_blob, &c, d))
            return -1;
    }
    return 0;
}

typedef struct ModelCtx {
    const Graph *g, *og;
    const TrainCfg *t;
    EmitOpts eo;
} ModelCtx;

static void write_h(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_header(m->og, &m->eo, out);
}

static void write_c(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_source(m->og, m->g, m->t, &m->eo, out);
}

static void write_main(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_main(m->og, m->t, &m->eo, out);
}

static int emit_model(const DriverOpts *o, Unit *u, const char *dir, int program)
{
    Graph *og = optimised(o, u);
    if (!og)
        return -1;
    ModelCtx m = {u->g, og, u->train, {o->cmdline, u->train->present ? u->train->seed : 0, o->weights != NULL}};
    if (write_atomic(xasprintf("%s/%s.h", dir, og->name), write_h, &m, &u->diag) ||
        write_atomic(xasprintf("%s/%s.c", dir, og->name), write_c, &m, &u->diag))
        return -1;
    if (program && write_atomic(xasprintf("%s/main.c", dir), write_main, &m, &u->diag))
        return -1;
    return write_runtime(dir, program, &u->diag);
}

int driver_emit(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    if (mkdir(o->output, 0777) != 0 && errno != EEXIST) {
        diag_error_nopos(&u.diag, "%s: cannot create the folder: %s", o->output, strerror(errno));
        return 1;
    }
    if (emit_model(o, &u, o->output, 0))
        return 1;
    return finish(&u, 0);
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

int driver_build(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    char tmpl[] = "/tmp/nnc-build-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char *dir = tmpdir && *tmpdir ? xasprintf("%s/nnc-build-XXXXXX", tmpdir) : xstrdup(tmpl);
    if (!mkdtemp(dir)) {
        diag_error_nopos(&u.diag, "cannot create a temporary folder: %s", strerror(errno));
        return 1;
    }
    int status = 1;
    if (emit_model(o, &u, dir, 1) == 0) {
        /* cc [flags] -o OUTPUT.tmp.PID dir/\*.c -lm */
        const char *cc = getenv("CC");
        if (!cc || !*cc)
            cc = "cc";
        char *out_tmp = xasprintf("%s.tmp.%ld", o->output, (long)getpid());
        const char *argv[64];
        int argc = 0;
        char *ccdup = xstrdup(cc);
        for (char *tok = strtok(ccdup, " \t"); tok && argc < 8; tok = strtok(NULL, " \t"))
            argv[argc++] = tok;
        argv[argc++] = "-std=c11";
        argv[argc++] = "-O3";
        argv[argc++] = "-D_POSIX_C_SOURCE=200809L";
        if (!o->portable)
            argv[argc++] = xasprintf("-march=%s", o->march ? o->march : "native");
        argv[argc++] = xasprintf("-I%s", dir);
        argv[argc++] = "-o";
        argv[argc++] = out_tmp;
        /* the sources, in a stable order */
        argv[argc++] = xasprintf("%s/main.c", dir);
        argv[argc++] = xasprintf("%s/%s.c", dir, u.g->name);
        for (const NncBlob *b = nnc_runtime_files; b->path && argc < 60; b++) {
            size_t l = strlen(b->path);
            if (l > 2 && strcmp(b->path + l - 2, ".c") == 0)
                argv[argc++] = xasprintf("%s/%s", dir, flat_name(b->path));
        }
        argv[argc++] = "-lm";
        argv[argc] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            execvp(argv[0], (char *const *)argv);
            fprintf(stderr, "nnc: error: cannot run the C compiler '%s': %s\n", argv[0], strerror(errno));
            _exit(127);
        }
        int ws = 0;
        if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            diag_error_nopos(&u.diag, "the C compiler failed on the generated code%s%s",
                             o->keep ? " in " : "", o->keep ? dir : " (rerun with --keep to inspect it)");
            unlink(out_tmp);
        } else if (rename(out_tmp, o->output) != 0) {
            diag_error_nopos(&u.diag, "%s: cannot write: %s", o->output, strerror(errno));
            unlink(out_tmp);
        } else {
            status = 0;
        }
    }
    if (o->keep)
        fprintf(stderr, "nnc: the generated C is in %s\n", dir);
    else
        remove_tree(dir);
    return finish(&u, status);
}
