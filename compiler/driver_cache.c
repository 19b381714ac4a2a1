/* driver_cache.c — the runtime's objects, compiled once per (compiler,
 * flags, runtime sources, CPU) into a cache folder shared by later builds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver_int.h"

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
    if (driver_write_runtime(tmp, 1, &quiet)) {
        driver_remove_tree(tmp);
        return NULL;
    }
    c.argv[c.argc++] = "-c";
    for (const NncBlob *b = nnc_runtime_files; b->path && c.argc < 90; b++)
        if (driver_has_ext(b->path, ".c"))
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
