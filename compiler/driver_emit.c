/* driver_emit.c — writing a model's files: the model's C (or LLVM IR),
 * the program's main, the runtime sources flattened into one folder;
 * `nnc emit`. Every file is written atomically. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "driver_int.h"
#include "backend/emit_c.h"
#include "backend/emit_llvm.h"
#include "passes/autodiff.h"
#include "nnr_prog.h"

/* While `nnc emit` writes into its temporary folder, messages name the
 * folder the user gave instead (issue 17): every "TMP" in them becomes
 * "OUT" (shown_as, set by driver_emit). */
static const char *alias_tmp, *alias_out;

static const char *shown_as(const char *msg)
{
    const char *hit = alias_tmp ? strstr(msg, alias_tmp) : NULL;
    if (!hit)
        return msg;
    size_t tl = strlen(alias_tmp);
    return xasprintf("%.*s%s%s", (int)(hit - msg), msg, alias_out, shown_as(hit + tl));
}

int driver_write_atomic(const char *path, WriteFn fn, void *ctx, Diag *d)
{
    char err[1024];
    nnr_wfile w;
    if (nnr_wfile_open(&w, path, 0, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", shown_as(err));
        return -1;
    }
    /* A write that failed in fn left errno set (ENOSPC): reported as it
       is, not as the EIO that a stream in error would give. */
    errno = 0;
    fn(ctx, w.f);
    if (ferror(w.f) || fflush(w.f) != 0) {
        int e = errno ? errno : EIO;
        nnr_wfile_abort(&w);
        diag_error_nopos(d, "%s: cannot write the file: %s", shown_as(path), strerror(e));
        return -1;
    }
    if (nnr_wfile_commit(&w, err, sizeof err) != 0) {
        diag_error_nopos(d, "%s", shown_as(err));
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
int driver_has_ext(const char *path, const char *ext)
{
    size_t l = strlen(path), e = strlen(ext);
    return l > e && strcmp(path + l - e, ext) == 0;
}

const char *driver_flat_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (driver_has_ext(base, ".h"))
        return base;
    if (strncmp(base, "nnr", 3) == 0)
        return base;
    if (slash && strncmp(rel, "io/", 3) == 0)
        return xasprintf("nnr_io_%s", base);
    return xasprintf("nnr_%s", base);
}

/* The runtime files NAME_load.c needs beside the kernels: the safetensors
 * and .pth readers and what they use (no program driver, no writer). */
static int loader_file(const char *path)
{
    static const char *const files[] = {"nnr_prog.h", "io/io_util.h", "io/json.h", "io/json.c",
                                        "io/safetensors.c", "io/pth.h", "io/pth.c",
                                        "io/pth_pickle.c", "io/file.c", "io/weights.c", NULL};
    for (int i = 0; files[i]; i++)
        if (!strcmp(path, files[i]))
            return 1;
    return 0;
}

/* Write the runtime into dir; with_driver: everything (a program's driver
 * and file readers), 2: the kernels and the weights readers (emit
 * --with-loader), 0: only the kernels (embeddable). */
int driver_write_runtime(const char *dir, int with_driver, Diag *d)
{
    for (const NncBlob *b = nnc_runtime_files; b->path; b++) {
        int is_h = driver_has_ext(b->path, ".h");
        int is_kernel = strncmp(b->path, "kernels/", 8) == 0 || strcmp(b->path, "nnr.h") == 0 ||
                        strcmp(b->path, "simd.h") == 0;
        if (with_driver == 2 && loader_file(b->path))
            is_kernel = 1;
        if (with_driver != 1 && !is_kernel && !(is_h && strncmp(b->path, "kernels/", 8) == 0))
            continue;
        BlobCtx c = {b};
        if (driver_write_atomic(xasprintf("%s/%s", dir, driver_flat_name(b->path)), write_blob, &c, d))
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

static void write_load_h(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_load_header(m->og, &m->eo, out);
}

static void write_load_c(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_load_source(m->og, &m->eo, out);
}

static void write_ll(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_llvm_ir(m->og, m->g, &m->eo, out);
}

static void write_step_c(void *ctx, FILE *out)
{
    ModelCtx *m = ctx;
    emit_c_step_source(m->og, &m->eo, out);
}

/* --backend=llvm: `emit` writes STEM.ll; a program gets STEM.o, compiled
 * by LLVM for the target of -march/--portable (inference and the training
 * step), and STEM_step.c, generate's cached step from the C backend. */
static int emit_llvm_model(const DriverOpts *o, Unit *u, ModelCtx *m, const char *dir, int program)
{
    const char *stem = m->eo.stem;
    if (m->og->ninputs > 1 || m->og->noutputs > 1) {
        diag_error_nopos(&u->diag, "%s: model '%s' has %d inputs and %d outputs; the LLVM backend compiles "
                         "models with one of each so far (the C backend, the default, compiles it)",
                         o->input, m->og->name, m->og->ninputs, m->og->noutputs);
        return -1;
    }
    if (!program)
        return driver_write_atomic(xasprintf("%s/%s.ll", dir, stem), write_ll, m, &u->diag);
    char err[1024];
    const char *cpu = o->portable ? "generic" : o->march ? o->march : "native";
    if (emit_llvm_object(m->og, m->g, &m->eo, cpu, xasprintf("%s/%s.o", dir, stem), err, sizeof err)) {
        diag_error_nopos(&u->diag, "%s", err);
        return -1;
    }
    return driver_write_atomic(xasprintf("%s/%s_step.c", dir, stem), write_step_c, m, &u->diag);
}

/* Is stem the name of a runtime file written beside the model? */
static int runtime_stem(const char *stem)
{
    for (const NncBlob *b = nnc_runtime_files; b->path; b++) {
        const char *f = driver_flat_name(b->path);
        size_t l = strlen(stem);
        if (strncmp(f, stem, l) == 0 && (!strcmp(f + l, ".c") || !strcmp(f + l, ".h")))
            return 1;
    }
    return 0;
}

/* Program builds name the model's files model_NAME.[ch] (no runtime file
 * starts so); `nnc emit` keeps NAME.[ch] as documented and refuses a name
 * that would overwrite a runtime file. */
int driver_emit_model(const DriverOpts *o, Unit *u, const char *dir, int program)
{
    Graph *og = driver_optimised(o, u);
    if (!og)
        return -1;
    const char *stem = program ? xasprintf("model_%s", og->name) : og->name;
    if (runtime_stem(stem)) {
        diag_error_nopos(&u->diag, "%s: model name '%s' is also the name of a runtime file that nnc emit "
                         "writes beside it; rename the model", o->input, og->name);
        return -1;
    }
    ModelCtx m = {u->g, og, u->train,
                  {.cmdline = o->cmdline, .seed = u->train->present ? u->train->seed : 0,
                   .weights_given = o->weights != NULL, .stem = stem, .train = u->train,
                   .no_step = o->llvm && !program}};   /* the step is C: only programs get it beside the .ll */
    /* the training graph, once for every emitter (the training step, the
     * program's no_grad list) */
    if (ir_output(u->g) >= 0)
        m.eo.train_graph = train_graph(u->g, u->train->freeze, u->train->nfreeze, og->planned);
    if (driver_write_atomic(xasprintf("%s/%s.h", dir, stem), write_h, &m, &u->diag) ||
        (o->llvm ? emit_llvm_model(o, u, &m, dir, program)
                 : driver_write_atomic(xasprintf("%s/%s.c", dir, stem), write_c, &m, &u->diag)))
        return -1;
    if (program && driver_write_atomic(xasprintf("%s/nnc_program_main.c", dir), write_main, &m, &u->diag))
        return -1;
    int loader = !program && o->with_loader;
    if (loader && (driver_write_atomic(xasprintf("%s/%s_load.h", dir, stem), write_load_h, &m, &u->diag) ||
                   driver_write_atomic(xasprintf("%s/%s_load.c", dir, stem), write_load_c, &m, &u->diag)))
        return -1;
    return driver_write_runtime(dir, program ? 1 : loader ? 2 : 0, &u->diag);
}

/* Move the files of the complete folder tmp into the existing folder out,
 * one rename each (nothing is copied, nothing can run out of space). */
static int move_files(const char *tmp, const char *out, Diag *d)
{
    DIR *dp = opendir(tmp);
    if (!dp) {
        diag_error_nopos(d, "%s: cannot write the folder: %s", out, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int bad = 0;
    while (!bad && (e = readdir(dp)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        const char *to = xasprintf("%s/%s", out, e->d_name);
        if (rename(xasprintf("%s/%s", tmp, e->d_name), to) != 0) {
            diag_error_nopos(d, "%s: cannot write the file: %s", to, strerror(errno));
            bad = 1;
        }
    }
    closedir(dp);
    return bad ? -1 : 0;
}

/* nnc emit: every file is written into a temporary folder beside OUTPUT,
 * which becomes OUTPUT by one rename once all are written (or, when OUTPUT
 * is a folder that has files already, gives its files to it one rename
 * each). A failure (a full disk) leaves OUTPUT as it was and no temporary. */
int driver_emit(const DriverOpts *o)
{
    Unit u;
    if (driver_load(o, &u))
        return 1;
    size_t len = strlen(o->output);   /* "out/": the temporary is "out.tmp.XXXXXX" */
    while (len > 1 && o->output[len - 1] == '/')
        len--;
    char *tmp = xasprintf("%.*s.tmp.XXXXXX", (int)len, o->output);
    struct stat st;
    if (stat(o->output, &st) == 0 && !S_ISDIR(st.st_mode)) {
        diag_error_nopos(&u.diag, "%s: cannot create the folder: %s", o->output, strerror(EEXIST));
        return 1;
    }
    if (!mkdtemp(tmp)) {
        diag_error_nopos(&u.diag, "%s: cannot create the folder: %s", o->output, strerror(errno));
        return 1;
    }
    mode_t mask = umask(0);     /* the mode mkdir(OUTPUT, 0777) would give */
    umask(mask);
    int rc = chmod(tmp, 0777 & ~mask);
    if (rc != 0)
        diag_error_nopos(&u.diag, "%s: cannot create the folder: %s", o->output, strerror(errno));
    if (!o->weights)
        fprintf(stderr, "nnc: warning: no --weights: the parameters compiled into the emitted C are the "
                "default initialisation (seed %llu), not trained ones; pass --weights W.safetensors "
                "(or a .pth), or load them at run time (--with-loader: NAME_load)\n",
                (unsigned long long)(u.train->present ? u.train->seed : 0));
    if (rc == 0) {
        alias_tmp = tmp;
        alias_out = xasprintf("%.*s", (int)len, o->output);
        rc = driver_emit_model(o, &u, tmp, 0);
        alias_tmp = NULL;
    }
    if (rc == 0 && rename(tmp, o->output) != 0) {
        int e = errno;          /* ENOTEMPTY, EEXIST; EBUSY for "." */
        if (stat(o->output, &st) == 0 && S_ISDIR(st.st_mode))
            rc = move_files(tmp, o->output, &u.diag);
        else {
            diag_error_nopos(&u.diag, "%s: cannot create the folder: %s", o->output, strerror(e));
            rc = -1;
        }
    }
    if (rc != 0 || stat(tmp, &st) == 0)
        driver_remove_tree(tmp);
    return rc != 0 ? 1 : driver_finish(&u, 0);
}
