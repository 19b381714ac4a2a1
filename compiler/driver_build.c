/* driver_build.c — nnc build: the model's C and the runtime into a
 * temporary folder, the C compiler over them (with the runtime's cached
 * objects when there are), the program installed atomically. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver_int.h"
#include "nnr_prog.h"

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

void driver_remove_tree(const char *dir)
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
int driver_run_cmd(const char *const *argv, const char *cwd)
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

int driver_runtime_compiled(const char *path, const DriverOpts *o)
{
    if (!driver_has_ext(path, ".c"))
        return 0;
    if (strncmp(path, "mpi/", 4) == 0)
        return o->mpi && strcmp(path, "mpi/prog_mpi.c") == 0;
    return !(o->mpi && strcmp(path, "prog_par.c") == 0);
}

/* The MPI compiler wrapper of --mpi: $NNC_MPICC or mpicc. */
static const char *mpicc_name(void)
{
    const char *w = getenv("NNC_MPICC");
    return w && *w ? w : "mpicc";
}

/* Is the command name found (as execvp would find it)? */
static int on_path(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    char *dup = xstrdup(path && *path ? path : "/usr/bin:/bin");
    for (char *dir = strtok(dup, ":"); dir; dir = strtok(NULL, ":"))
        if (access(xasprintf("%s/%s", *dir ? dir : ".", name), X_OK) == 0)
            return 1;
    return 0;
}

/* $CC (may hold words: "ccache gcc") and the flags every compile uses. */
void driver_cc_base(CcCmd *c, const DriverOpts *o)
{
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    if (o->mpi)
        cc = mpicc_name();
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

int driver_build(const DriverOpts *o)
{
    Unit u;
    if (driver_load(o, &u))
        return 1;
    if (o->mpi && !on_path(mpicc_name())) {
        diag_error_nopos(&u.diag, "--mpi needs the MPI C compiler wrapper '%s', which is not "
                         "installed (Debian, Ubuntu: apt-get install libopenmpi-dev "
                         "openmpi-bin)", mpicc_name());
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR");
    char *dir = xasprintf("%s/nnc-build-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        diag_error_nopos(&u.diag, "cannot create a temporary folder: %s", strerror(errno));
        return 1;
    }
    int status = 1;
    if (driver_emit_model(o, &u, dir, 1) == 0) {
        /* cc [flags] -I dir -o dir/nnc_program nnc_program_main.c NAME.c (runtime objects | sources) -lm,
         * then the program is installed as OUTPUT atomically: nothing is
         * written beside OUTPUT while cc runs */
        const char *cache = driver_runtime_cache(o, &u.diag);
        char *out_tmp = xasprintf("%s/nnc_program", dir);
        CcCmd c;
        driver_cc_base(&c, o);
        c.argv[c.argc++] = xasprintf("-I%s", dir);
        c.argv[c.argc++] = "-o";
        c.argv[c.argc++] = out_tmp;
        c.argv[c.argc++] = xasprintf("%s/nnc_program_main.c", dir);
        if (o->llvm) {     /* the object LLVM wrote, and generate's cached step in C */
            c.argv[c.argc++] = xasprintf("%s/model_%s.o", dir, u.g->name);
            c.argv[c.argc++] = xasprintf("%s/model_%s_step.c", dir, u.g->name);
        } else {
            c.argv[c.argc++] = xasprintf("%s/model_%s.c", dir, u.g->name);
        }
        for (const NncBlob *b = nnc_runtime_files; b->path && c.argc < 90; b++) {
            if (driver_runtime_compiled(b->path, o)) {
                const char *f = driver_flat_name(b->path);
                c.argv[c.argc++] = cache ? xasprintf("%s/%.*s.o", cache, (int)strlen(f) - 2, f)
                                         : xasprintf("%s/%s", dir, f);
            }
        }
        c.argv[c.argc++] = "-lm";
        c.argv[c.argc] = NULL;
        if (driver_run_cmd(c.argv, NULL) != 0) {
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
        driver_remove_tree(dir);
    return driver_finish(&u, status);
}
