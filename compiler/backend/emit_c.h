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
    int no_step;            /* NAME.h declares no NAME_step (nnc emit --backend=llvm: the
                             * .ll has none) */
    const Graph *train_graph;   /* the model's training graph (train_graph: autodiff and
                                 * fuse-act on the model as written, frozen layers marked),
                                 * built once by the driver for every emitter; NULL: none */
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
/* Does g have a state block (a tensor not made by a fold)? Then, and only
 * then, NAME_init exists (NAME_prepare: when g->infer_size > 0). */
int emit_c_has_state(const Graph *g);

/* Helpers shared by emit_c.c and emit_c_train.c: an array of C
 * expressions indexed by value + 1 (graph inputs at 0, -1, ...); a graph
 * input's C name; the per-sample floats and the code that give a model
 * with several inputs one buffer per input (copied out of x's rows); a
 * tensor's shape comment; the arena-size function (static when is_static). */
const char **emit_c_value_array(const Graph *g);
const char *emit_c_input_name(const Graph *g, int k);
int64_t emit_c_inputs_size(const Graph *g);
void emit_c_take_inputs(const Graph *g, const char *arena, int64_t base, FILE *out);
void emit_c_shape_comment(FILE *out, const Shape *s);
void emit_c_scratch_fn(const Graph *g, const char **shapes, FILE *out, const char *name,
                       int64_t per_sample, int is_static);
/* The training step (NAME_train_step, NAME_train_arena) of model (the
 * graph as written) from its training graph tg (EmitOpts.train_graph);
 * poff: each tg parameter's offset in the state block spelled in C
 * ("state_at.fc1_weight"; NULL: numbers). */
void emit_c_train(const Graph *model, const Graph *tg, const char **poff, FILE *out);

/* The key/value-cached step of a causal sequence model (emit_c_step.c):
 * does g qualify; its cache floats; its declarations in NAME.h; NAME_step
 * and NAME_step_arena_size (pexpr: each parameter's C expression, NULL:
 * "params + offset"). */
int emit_c_step_ok(const Graph *g);
int64_t emit_c_step_cache_size(const Graph *g);
void emit_c_step_decls(const Graph *g, FILE *out);
void emit_c_step(const Graph *g, const char **pexpr, FILE *out);

/* path relative to the working folder (absolute paths only; a relative
 * one is returned as is): how emitted text names the source file. */
const char *emit_c_relpath(const char *path);
/* The command line with its absolute paths (words, or values of
 * --opt=PATH) written relative to the working folder. */
const char *emit_c_rel_cmdline(const char *cmd);

/* C identifier-safe model name ("net"); NAME_UPPER for macros. */
void emit_c_header(const Graph *g, const EmitOpts *o, FILE *out);
/* inf: the optimised inference graph; train: the model as written (the
 * training step keeps PyTorch's parameterisation). Same state layout. */
void emit_c_source(const Graph *inf, const Graph *train, const TrainCfg *t, const EmitOpts *o,
                   FILE *out);
/* The C half of a program whose model comes from the LLVM backend:
 * NAME_step of emit_c_source alone (a comment when the model has none). */
void emit_c_step_source(const Graph *inf, const EmitOpts *o, FILE *out);
/* The state_dict tensors as `static const nnr_tensor_desc tensors[]`
 * (nnr_prog.h); returns how many (emit_c_main.c). tg: the training graph
 * (EmitOpts.train_graph; NULL: no no_grad list). */
int emit_c_tensors(const Graph *g, const Graph *tg, int *has_no_grad, FILE *out);
/* nnc emit --with-loader: NAME_load.h and NAME_load.c, reading a state
 * block from a weights file or a blob in memory (emit_c_load.c). */
void emit_c_load_header(const Graph *g, const EmitOpts *o, FILE *out);
void emit_c_load_source(const Graph *g, const EmitOpts *o, FILE *out);
/* main.c for `nnc build`: the nnr_model descriptor and main(). */
/* Parameters of o->train_graph that no gradient reaches are marked no_grad. */
void emit_c_main(const Graph *g, const TrainCfg *t, const EmitOpts *o, FILE *out);

#endif
