/* driver_cache.c — the runtime's objects, compiled once per (compiler,
 * flags, runtime sources, CPU) into a cache folder shared by later builds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver_int.h"

/* Objects in the cache are linked into every program built: the folder
 * must be ours and writable by nobody else (a shared /tmp/nnc-cache-0
 * made by another user with mode 0777 is refused, issue 17 item 7). Says
 * why on stderr when it is refused; the build then goes on without it. */
static int cache_root_ok(const char *root)
{
    struct stat st;
    const char *why = NULL;
    if (stat(root, &st) != 0)
        return 0;       /* cannot be made: no cache, as before */
    if (!S_ISDIR(st.st_mode))
        why = xasprintf("it is not a folder");
    else if (st.st_uid != geteuid())
        why = xasprintf("it is owned by another user (uid %ld)", (long)st.st_uid);
    else if (st.st_mode & S_IWOTH)
        why = xasprintf("it is writable by others (mode %04o)", (unsigned)(st.st_mode & 07777));
    if (!why)
        return 1;
    fflush(stdout);
    fprintf(stderr, "nnc: warning: not using the runtime cache %s: %s; building without it\n", root, why);
    return 0;
}

/* The runtime's objects, compiled once per (compiler, flags, runtime
 * sources) into a cache folder shared by later builds; NULL when no cache
 * can be used (then the sources are compiled with the model). */
const char *driver_runtime_cache(const DriverOpts *o, Diag *d)
{
    if (getenv("NNC_NO_CACHE"))
        return NULL;
    CcCmd c;
    driver_cc_base(&c, o);
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
            mkdir(xdg, 0700);
        else if (home && *home)
            mkdir(xasprintf("%s/.cache", home), 0700);
    }
    mkdir(root, 0700);
    if (!cache_root_ok(root))
        return NULL;
    const char *dir = xasprintf("%s/rt-%016llx", root, (unsigned long long)h);
    struct stat st;
    if (stat(xasprintf("%s/ok", dir), &st) == 0)
        return dir;
    char *tmp = xasprintf("%s.tmp.%ld", dir, (long)getpid());
    if (mkdir(tmp, 0777) != 0)
        return NULL;
    Diag quiet = *d;
    if (driver_write_runtime(tmp, 1, &quiet)) {
        driver_remove_tree(tmp);
        return NULL;
    }
    c.argv[c.argc++] = "-c";
    for (const NncBlob *b = nnc_runtime_files; b->path && c.argc < 90; b++)
        if (driver_runtime_compiled(b->path, o))
            c.argv[c.argc++] = driver_flat_name(b->path);
    c.argv[c.argc] = NULL;
    FILE *ok = NULL;
    if (driver_run_cmd(c.argv, tmp) != 0 || !(ok = fopen(xasprintf("%s/ok", tmp), "w"))) {
        driver_remove_tree(tmp);
        return NULL;
    }
    fclose(ok);
    if (rename(tmp, dir) != 0)      /* another build got there first: use its */
        driver_remove_tree(tmp);
    return stat(xasprintf("%s/ok", dir), &st) == 0 ? dir : NULL;
}
