/* driver_int.h — what the files of the driver share: the unit being
 * compiled (driver.c loads it), writing files (driver_emit.c), running
 * the C compiler (driver_build.c) and the runtime cache (driver_cache.c). */
#ifndef NNC_DRIVER_INT_H
#define NNC_DRIVER_INT_H

#include <stdio.h>

#include "driver.h"

/* The runtime sources, embedded at build time (backend/embed.cmake). */
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

/* driver.c */
/* Load, parse and check; 0 when the model is ready to compile. */
int driver_load(const DriverOpts *o, Unit *u);
/* status, or 1 when errors were reported. */
int driver_finish(Unit *u, int status);
/* The inference graph: a copy of the model through the pass pipeline. */
Graph *driver_optimised(const DriverOpts *o, Unit *u);

/* driver_emit.c */
/* Write text produced by fn to path atomically (the runtime's nnr_wfile:
 * a killed nnc leaves the old file and, on Linux, no temporary). */
typedef void (*WriteFn)(void *ctx, FILE *out);
int driver_write_atomic(const char *path, WriteFn fn, void *ctx, Diag *d);
/* IR text from path, parsed (NULL after diagnostics in *diag, which reads
 * from *src). */
Graph *driver_read_nir(const char *path, SrcFile *src, Diag *diag);
/* Does path end in ext (".c", ".h")? */
int driver_has_ext(const char *path, const char *ext);
/* The flattened name of runtime file rel ("kernels/gemm.c": "nnr_gemm.c"). */
const char *driver_flat_name(const char *rel);
/* Write the runtime into dir; with_driver adds the program driver and the
 * file readers (a program), else only the kernels (embeddable). */
int driver_write_runtime(const char *dir, int with_driver, Diag *d);
/* The model's files (and a program's main and runtime) into dir. */
int driver_emit_model(const DriverOpts *o, Unit *u, const char *dir, int program);

/* driver_build.c */
void driver_remove_tree(const char *dir);
/* Run argv (NULL-terminated) in folder cwd (NULL: here); 0 when it exits 0. */
int driver_run_cmd(const char *const *argv, const char *cwd);
typedef struct CcCmd {
    const char *argv[96];
    int argc;
} CcCmd;
/* $CC (may hold words: "ccache gcc"), or with --mpi the MPI wrapper
 * ($NNC_MPICC, default mpicc), and the flags every compile uses. */
void driver_cc_base(CcCmd *c, const DriverOpts *o);
/* Is runtime file path compiled into a program? Its .c files, with the
 * one-process prog_par.c, or with --mpi mpi/prog_mpi.c instead. */
int driver_runtime_compiled(const char *path, const DriverOpts *o);

/* driver_cache.c: the folder of the runtime's compiled objects, or NULL
 * when no cache can be used (then the sources are compiled with the model). */
const char *driver_runtime_cache(const DriverOpts *o, Diag *d);

#endif
