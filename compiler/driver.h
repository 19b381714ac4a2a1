/* driver.h — from a .nnet file to checked IR, optimised IR, C files and
 * programs: what each nnc command does, behind main.c's argument parsing. */
#ifndef NNC_DRIVER_H
#define NNC_DRIVER_H

#include "passes/pass.h"
#include "front/sema.h"

typedef struct DriverOpts {
    const char *input;          /* the .nnet (or .nir) file */
    const char *output;         /* -o */
    const char *weights;        /* --weights */
    const char *model;          /* --model NAME (default: the first) */
    const char *march;          /* --march=... (default native) */
    int portable;               /* --portable: no -march */
    int threads;                /* --threads: compile with OpenMP */
    int keep;                   /* --keep: keep the generated C of `build` */
    int train;                  /* ir --train: print the training step instead */
    int llvm;                   /* --backend=llvm: the LLVM backend (build, emit) */
    int opt_given;              /* an -O option was given (dot: the graph after the passes) */
    int with_loader;            /* emit --with-loader: NAME_load.[ch] and the file readers */
    int mpi;                    /* build --mpi: data-parallel training under mpirun */
    int torch;                  /* export --torch: a PyTorch module */
    int no_model_ok;            /* check: a file of blocks alone is accepted */
    const char *consts[16];     /* import --const T.pb: graph inputs made constants */
    int nconsts;
    PipelineOpts pipe;
    const char *cmdline;
} DriverOpts;

/* Each returns the process exit status (0, or 1 for an error in the input). */
int driver_check(const DriverOpts *o);
int driver_ir(const DriverOpts *o);
/* nnc opt FILE.nir: parse IR text, run the passes, print IR text. */
int driver_opt(const DriverOpts *o);
int driver_summary(const DriverOpts *o);
int driver_emit(const DriverOpts *o);
int driver_build(const DriverOpts *o);
/* nnc export FILE.nnet --torch -o model.py (driver_export.c). */
int driver_export(const DriverOpts *o);
/* nnc dot FILE.nnet [-O2] [-o X.dot|X.svg]: the graph in Graphviz's DOT (driver_dot.c). */
int driver_dot(const DriverOpts *o);

#endif
