/* emit_c.h — the C backend: a model as NAME.h + NAME.c against the runtime,
 * and the main.c that turns it into a program (nnr_main). */
#ifndef NNC_EMIT_C_H
#define NNC_EMIT_C_H

#include <stdio.h>
#include "../front/sema.h"

typedef struct EmitOpts {
    const char *cmdline;    /* recorded in the front matter */
    uint64_t seed;          /* default initialisation of emitted parameters */
    int weights_given;      /* every parameter's value is known (--weights) */
    const char *stem;       /* file name of NAME.h / NAME.c without extension (NULL: the model name) */
    const TrainCfg *train;  /* the train block (NULL: none): with a loss and an optimizer,
                             * NAME.h declares the training step too */
} EmitOpts;

/* Shared by the C backend's files: NAME in capitals (macros); the
 * comment that opens an emitted file; the training step's declarations. */
const char *emit_c_upper(const char *s);
void emit_c_front_matter(const Graph *g, const EmitOpts *o, FILE *out, const char *file,
                         const char *what);
void emit_c_train_decls(const char *n, FILE *out);
/* Does the model get a training step (a train block with a loss and an
 * optimizer, and an output)? NAME.h, NAME.c and main.c all ask this. */
int emit_c_trainable(const Graph *g, const TrainCfg *t);

/* path relative to the working folder (absolute paths only; a relative
 * one is returned as is): how emitted text names the source file. */
const char *emit_c_relpath(const char *path);

/* C identifier-safe model name ("net"); NAME_UPPER for macros. */
void emit_c_header(const Graph *g, const EmitOpts *o, FILE *out);
/* inf: the optimised inference graph; train: the model as written (the
 * training step keeps PyTorch's parameterisation). Same state layout. */
void emit_c_source(const Graph *inf, const Graph *train, const TrainCfg *t, const EmitOpts *o,
                   FILE *out);
/* The training step of emit_c_source alone (NAME_train_step and its arena
 * size): the C half of a program whose inference comes from the LLVM
 * backend. */
void emit_c_train_source(const Graph *inf, const Graph *train, const TrainCfg *t, const EmitOpts *o,
                         FILE *out);
/* main.c for `nnc build`: the nnr_model descriptor and main(). */
void emit_c_main(const Graph *g, const TrainCfg *t, const EmitOpts *o, FILE *out);

#endif
