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
#include "convert.h"
#include "backend/emit_c.h"
#include "backend/emit_llvm.h"
#include "passes/autodiff.h"
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

static void weights_report(void *ctx, const char *kind, const char *path, const char *msg)
{
    (void)kind; /* a strict load has only errors */
    diag_error_file(ctx, path, "%s", msg);
}

/* --weights: every tensor of the model, with its shape; nothing else
 * (nnr_load_state, the programs' loader, over the model's parameters). */
static int load_weights(Graph *g, const char *path, Diag *d)
{
    nnr_tensor_desc *t = xcalloc((size_t)g->nparams + 1, sizeof *t);
    size_t size = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        t[i] = (nnr_tensor_desc){.name = p->name, .ndim = p->ndim, .offset = size,
                                 .numel = (size_t)p->numel, .kind = (nnr_tensor_kind)p->kind};
        _Static_assert(sizeof t[i].shape == sizeof p->shape, "shapes of the same rank");
        memcpy(t[i].shape, p->shape, sizeof p->shape);
        size += (size_t)p->numel;
    }
    float *state = xcalloc(size + 1, sizeof(float));
    if (nnr_load_state(path, t, g->nparams, 1, state, weights_report, d)) {
        free(state);
        free(t);
        return -1;
    }
    for (int i = 0; i < g->nparams; i++) {
        Param *p = &g->params[i];
        p->data = xmalloc(t[i].numel * sizeof(float) + 1);
        memcpy(p->data, state + t[i].offset, t[i].numel * sizeof(float));
        p->literal = 0;
    }
    free(state);
    free(t);
    return 0;
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
    if (convert_refuse_foreign(o->input, text, len, &u->diag))
        return -1;
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
    if (o->train) {
        TrainPlan tp;
        if (!u.train->present) {
            diag_error_nopos(&u.diag, "%s: model '%s' has no train block", o->input, u.g->name);
            return 1;
        }
        autodiff(u.g, u.train->freeze, u.train->nfreeze, &tp);
        train_memplan(&tp, g->planned);
        train_plan_print(u.g, &tp, stdout);
        return finish(&u, 0);
    }
    ir_print(g, stdout);
    return finish(&u, 0);
}

/* nnc opt FILE.nir: IR text in, passes, IR text out (with the values of
 * the parameters whose values the file gave). */
int driver_opt(const DriverOpts *o)
{
    SrcFile src;
    Diag diag;
    const char *err;
    size_t len;
    char *text = read_file(o->input, &len, &err);
    src.path = o->input;
    src.text = text ? text : "";
    src.len = text ? len : 0;
    diag_init(&diag, &src);
    if (!text) {
        diag_error_nopos(&diag, "%s: %s", o->input, err);
        return 1;
    }
    Graph *g = ir_parse(&src, &diag);
    if (!g)
        return 1;
    int values = 0;
    for (int i = 0; i < g->nparams; i++)
        values |= g->params[i].data != NULL;
    if (pipeline_run(g, &o->pipe, &diag))
        return 1;
    ir_print_ex(g, stdout, values ? IRP_VALUES : 0);
    return diag.nerrors ? 1 : 0;
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
    Graph *og = ir_clone(u.g);
    unsigned changed = 0;
    if (pipeline_run_report(og, &o->pipe, &u.diag, &changed))
        return 1;
    memplan_inference(og, &after);
    int64_t of = 0;
    for (int i = 0; i < og->nnodes; i++)
        if (!og->nodes[i].dead)
            of += op_hooks[og->nodes[i].op].flops(og, &og->nodes[i]);
    printf("inference at -O%d: %d ops before the passes, %d after; %lld FLOPs per sample after; "
           "%lld floats of inference parameters\n",
           o->pipe.opt_level, live_nodes(g), live_nodes(og), (long long)of, (long long)og->infer_size);
    printf("arena per sample: %lld bytes before planning, %lld bytes after\n",
           (long long)before.unplanned * 4, (long long)after.per_sample * 4);
    printf("passes that changed the graph:");
    int any = 0;
    for (int i = 0; i < nnc_npasses; i++)
        if (changed & (1u << i)) {
            printf("%s %s", any ? "," : "", nnc_passes[i].name);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    if (u.train->present) {
        TrainPlan tp;
        autodiff(g, u.train->freeze, u.train->nfreeze, &tp);
        train_memplan(&tp, og->planned);
        int64_t opt = u.train->optim == NNR_OPT_SGD ? (u.train->momentum != 0 ? 1 : 0) : 2;
        printf("training: state %lld bytes, gradients %lld bytes, optimizer state %lld bytes;\n"
               "          arena %lld bytes per sample + %lld bytes (%lld + %lld before planning)\n",
               (long long)g->state_size * 4, (long long)g->state_size * 4, (long long)(opt * g->state_size * 4),
               (long long)tp.per_sample * 4, (long long)tp.fixed * 4, (long long)tp.unplanned_ps * 4,
               (long long)tp.unplanned_fx * 4);
    }
    return finish(&u, 0);
}

/* ---------------------------------------------------------------- files */

/* Write text produced by fn to path atomically (the runtime's nnr_wfile:
 * a killed nnc leaves the old file and, on Linux, no temporary). */
typedef void (*WriteFn)(void *ctx, FILE *out);

static int write_atomic(const char *path, WriteFn fn, void *ctx, Diag *d)
{
    char err[1024];
    nnr_wfile w;
    if (nnr_wfile_open(&w, path, 0, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", err);
        return -1;
    }
    fn(ctx, w.f);
    if (nnr_wfile_commit(&w, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", err);
        return -1;
    }
    return 0;
}

/* Install the program cc wrote at from as path, atomically (nnr_wfile). */
static int install_program(const char *from, const char *path, Diag *d)
{
    char err[1024];
    size_t len;
    unsigned char *buf = nnr_read_file(from, &len, err, sizeof err);
    nnr_wfile w;
    if (!buf || nnr_wfile_open(&w, path, 1, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", err);
        free(buf);
        return -1;
    }
    int bad = len && fwrite(buf, 1, len, w.f) != len;
    int e = errno;
    free(buf);
    if (bad) {
        diag_error_nopos(d, "%s: cannot write: %s", path, strerror(e));
        nnr_wfile_abort(&w);
        return -1;
    }
    if (nnr_wfile_commit(&w, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", err);
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

/* Does path end in ext (".c", ".h")? */
static int has_ext(const char *path, const char *ext)
{
    size_t l = strlen(path), e = strlen(ext);
    return l > e && strcmp(path + l - e, ext) == 0;
}

static const char *flat_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (has_ext(base, ".h"))
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
        int is_h = has_ext(b->path, ".h");
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

static void write_ll(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_llvm_ir(m->og, &m->eo, out);
}

static void write_train_c(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_train_source(m->og, m->g, m->t, &m->eo, out);
}

/* --backend=llvm: `emit` writes STEM.ll; a program gets STEM.o, compiled
 * by LLVM for the target of -march/--portable, and STEM_train.c, the
 * training step from the C backend (LLVM builds inference only). */
static int emit_llvm_model(const DriverOpts *o, Unit *u, ModelCtx *m, const char *dir, int program)
{
    const char *stem = m->eo.stem;
    if (!program)
        return write_atomic(xasprintf("%s/%s.ll", dir, stem), write_ll, m, &u->diag);
    char err[1024];
    const char *cpu = o->portable ? "generic" : o->march ? o->march : "native";
    if (emit_llvm_object(m->og, &m->eo, cpu, xasprintf("%s/%s.o", dir, stem), err, sizeof err)) {
        diag_error_nopos(&u->diag, "%s", err);
        return -1;
    }
    return write_atomic(xasprintf("%s/%s_train.c", dir, stem), write_train_c, m, &u->diag);
}

/* Is stem the name of a runtime file written beside the model? */
static int runtime_stem(const char *stem)
{
    for (const NncBlob *b = nnc_runtime_files; b->path; b++) {
        const char *f = flat_name(b->path);
        size_t l = strlen(stem);
        if (strncmp(f, stem, l) == 0 && (!strcmp(f + l, ".c") || !strcmp(f + l, ".h")))
            return 1;
    }
    return 0;
}

/* Program builds name the model's files model_NAME.[ch] (no runtime file
 * starts so); `nnc emit` keeps NAME.[ch] as documented and refuses a name
 * that would overwrite a runtime file. */
static int emit_model(const DriverOpts *o, Unit *u, const char *dir, int program)
{
    Graph *og = optimised(o, u);
    if (!og)
        return -1;
    const char *stem = program ? xasprintf("model_%s", og->name) : og->name;
    if (runtime_stem(stem)) {
        diag_error_nopos(&u->diag, "%s: model name '%s' is also the name of a runtime file that nnc emit "
                         "writes beside it; rename the model", o->input, og->name);
        return -1;
    }
    ModelCtx m = {u->g, og, u->train, {o->cmdline, u->train->present ? u->train->seed : 0, o->weights != NULL, stem}};
    if (write_atomic(xasprintf("%s/%s.h", dir, stem), write_h, &m, &u->diag) ||
        (o->llvm ? emit_llvm_model(o, u, &m, dir, program)
                 : write_atomic(xasprintf("%s/%s.c", dir, stem), write_c, &m, &u->diag)))
        return -1;
    if (program && write_atomic(xasprintf("%s/nnc_program_main.c", dir), write_main, &m, &u->diag))
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

/* Run argv (NULL-terminated) in folder cwd (NULL: here); 0 when it exits 0. */
static int run_cmd(const char *const *argv, const char *cwd)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0)
            _exit(127);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "nnc: error: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0)
        return -1;
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
}

typedef struct CcCmd {
    const char *argv[96];
    int argc;
} CcCmd;

/* $CC (may hold words: "ccache gcc") and the flags every compile uses. */
static void cc_base(CcCmd *c, const DriverOpts *o)
{
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    c->argc = 0;
    char *ccdup = xstrdup(cc);
    for (char *tok = strtok(ccdup, " \t"); tok && c->argc < 8; tok = strtok(NULL, " \t"))
        c->argv[c->argc++] = tok;
    c->argv[c->argc++] = "-std=c11";
    c->argv[c->argc++] = "-O3";
    c->argv[c->argc++] = "-D_POSIX_C_SOURCE=200809L";
    if (!o->portable)
        c->argv[c->argc++] = xasprintf("-march=%s", o->march ? o->march : "native");
    if (o->threads)
        c->argv[c->argc++] = "-fopenmp";    /* large GEMMs split across cores */
    /* NNC_EXTRA_CFLAGS: words added to every compile and link of generated
     * code (e.g. "-fsanitize=address,undefined" in the sanitizer test run);
     * part of the runtime cache key since the whole argv is. */
    const char *extra = getenv("NNC_EXTRA_CFLAGS");
    if (extra && *extra) {
        char *xdup = xstrdup(extra);
        for (char *tok = strtok(xdup, " \t"); tok && c->argc < 32; tok = strtok(NULL, " \t"))
            c->argv[c->argc++] = tok;
    }
}

/* The runtime's objects, compiled once per (compiler, flags, runtime
 * sources) into a cache folder shared by later builds; NULL when no cache
 * can be used (then the sources are compiled with the model). */
static const char *runtime_cache(const DriverOpts *o, Diag *d)
{
    if (getenv("NNC_NO_CACHE"))
        return NULL;
    CcCmd c;
    cc_base(&c, o);
    uint64_t h = 1469598103934665603ULL;
#define MIX(p, n) for (size_t k_ = 0; k_ < (n); k_++) h = (h ^ ((const unsigned char *)(p))[k_]) * 1099511628211ULL
    for (int i = 0; i < c.argc; i++)
        MIX(c.argv[i], strlen(c.argv[i]) + 1);
    for (const NncBlob *b = nnc_runtime_files; b->path; b++) {
        MIX(b->path, strlen(b->path) + 1);
        MIX(b->text, b->len);
    }
    /* -march=native means this CPU: a cache shared by machines (a network
     * home) must not hand one CPU's objects to another */
    size_t cpulen = 0;
    const char *cerr;
    char *cpu = read_file("/proc/cpuinfo", &cpulen, &cerr);
    if (cpu) {
        const char *f = strstr(cpu, "\nflags");
        const char *e = f ? strchr(f + 1, '\n') : NULL;
        if (f && e)
            MIX(f, (size_t)(e - f));
        free(cpu);
    }
#undef MIX
    const char *root = getenv("NNC_CACHE_DIR");
    if (!root || !*root) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        root = xdg && *xdg ? xasprintf("%s/nnc", xdg) : home && *home ? xasprintf("%s/.cache/nnc", home)
                                                                       : xasprintf("/tmp/nnc-cache-%ld", (long)getuid());
        if (xdg && *xdg)
            mkdir(xdg, 0777);
        else if (home && *home)
            mkdir(xasprintf("%s/.cache", home), 0777);
    }
    mkdir(root, 0777);
    const char *dir = xasprintf("%s/rt-%016llx", root, (unsigned long long)h);
    struct stat st;
    if (stat(xasprintf("%s/ok", dir), &st) == 0)
        return dir;
    char *tmp = xasprintf("%s.tmp.%ld", dir, (long)getpid());
    if (mkdir(tmp, 0777) != 0)
        return NULL;
    Diag quiet = *d;
    if (write_runtime(tmp, 1, &quiet)) {
        remove_tree(tmp);
        return NULL;
    }
    c.argv[c.argc++] = "-c";
    for (const NncBlob *b = nnc_runtime_files; b->path && c.argc < 90; b++)
        if (has_ext(b->path, ".c"))
            c.argv[c.argc++] = flat_name(b->path);
    c.argv[c.argc] = NULL;
    FILE *ok = NULL;
    if (run_cmd(c.argv, tmp) != 0 || !(ok = fopen(xasprintf("%s/ok", tmp), "w"))) {
        remove_tree(tmp);
        return NULL;
    }
    fclose(ok);
    if (rename(tmp, dir) != 0)      /* another build got there first: use its */
        remove_tree(tmp);
    return stat(xasprintf("%s/ok", dir), &st) == 0 ? dir : NULL;
}

int driver_build(const DriverOpts *o)
{
    Unit u;
    if (load(o, &u))
        return 1;
    const char *tmpdir = getenv("TMPDIR");
    char *dir = xasprintf("%s/nnc-build-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        diag_error_nopos(&u.diag, "cannot create a temporary folder: %s", strerror(errno));
        return 1;
    }
    int status = 1;
    if (emit_model(o, &u, dir, 1) == 0) {
        /* cc [flags] -I dir -o dir/nnc_program nnc_program_main.c NAME.c (runtime objects | sources) -lm,
         * then the program is installed as OUTPUT atomically: nothing is
         * written beside OUTPUT while cc runs */
        const char *cache = runtime_cache(o, &u.diag);
        char *out_tmp = xasprintf("%s/nnc_program", dir);
        CcCmd c;
        cc_base(&c, o);
        c.argv[c.argc++] = xasprintf("-I%s", dir);
        c.argv[c.argc++] = "-o";
        c.argv[c.argc++] = out_tmp;
        c.argv[c.argc++] = xasprintf("%s/nnc_program_main.c", dir);
        if (o->llvm) {     /* the inference object LLVM wrote, and the training step in C */
            c.argv[c.argc++] = xasprintf("%s/model_%s.o", dir, u.g->name);
            c.argv[c.argc++] = xasprintf("%s/model_%s_train.c", dir, u.g->name);
        } else {
            c.argv[c.argc++] = xasprintf("%s/model_%s.c", dir, u.g->name);
        }
        for (const NncBlob *b = nnc_runtime_files; b->path && c.argc < 90; b++) {
            if (has_ext(b->path, ".c")) {
                const char *f = flat_name(b->path);
                c.argv[c.argc++] = cache ? xasprintf("%s/%.*s.o", cache, (int)strlen(f) - 2, f)
                                         : xasprintf("%s/%s", dir, f);
            }
        }
        c.argv[c.argc++] = "-lm";
        c.argv[c.argc] = NULL;
        if (run_cmd(c.argv, NULL) != 0) {
            diag_error_nopos(&u.diag, "the C compiler failed on the generated code%s%s",
                             o->keep ? " in " : "", o->keep ? dir : " (rerun with --keep to inspect it)");
        } else if (install_program(out_tmp, o->output, &u.diag) == 0) {
            status = 0;
        }
        unlink(out_tmp);
    }
    if (o->keep)
        fprintf(stderr, "nnc: the generated C is in %s\n", dir);
    else
        remove_tree(dir);
    return finish(&u, status);
}
