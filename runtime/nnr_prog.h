/* nnr_prog.h — the contract between emitted model code and the program
 * driver (runtime/prog*.c) that gives every built program its commands
 * `infer`, `train`, `eval` and `bench` (LANGUAGE.md §6).
 *
 * The emitted model.c defines one `const nnr_model` and a main() that calls
 * nnr_main(&model, argc, argv). Everything generic (argument parsing, data
 * loading, batching, shuffling, the optimizer loop, logging, saving) lives
 * here in the runtime, once; everything model-specific (shapes, kernels,
 * the backward graph) lives in the emitted code. */
#ifndef NNR_PROG_H
#define NNR_PROG_H

#include "nnr.h"

/* What a tensor of the state block is. */
typedef enum nnr_tensor_kind {
    NNR_T_PARAM = 0,   /* trainable parameter (weight, bias, bn gamma/beta) */
    NNR_T_BUFFER,      /* saved, not trained: batch-norm running_mean / running_var */
    NNR_T_COUNTER,     /* batch-norm num_batches_tracked: a float in the block, I64 on disk */
} nnr_tensor_kind;

/* One tensor of the model's state_dict, in state_dict order. */
typedef struct nnr_tensor_desc {
    const char *name;       /* PyTorch state_dict name: "fc.weight", "0.bias" */
    int ndim;
    int64_t shape[4];
    size_t offset;          /* first float in the state block */
    size_t numel;
    nnr_tensor_kind kind;
    int layer;              /* 0-based position of its layer statement */
    const char *layer_name; /* label ("fc") or position as text ("0") */
} nnr_tensor_desc;

/* A second state_dict name of a tensor (weight tying, LANGUAGE.md §8:
 * `lm_head = linear(64, 256, bias = false, weight = wte.weight)`, PyTorch's
 * `self.lm_head.weight = self.wte.weight`). The tensor is stored, trained
 * and updated once, as its owner; the tie only names it again: saving
 * writes it under both names, in state_dict order; loading takes the
 * owner's name, and the tie's may be absent or must hold the same values. */
typedef struct nnr_tie_desc {
    const char *name;       /* "lm_head.weight" */
    int owner;              /* the tensor it names: index into the model's tensors */
    int pos;                /* its state_dict place: just before tensors[pos]
                             * (the number of tensors: after the last) */
    int layer;              /* its layer statement (freezing it freezes the owner) */
    const char *layer_name;
} nnr_tie_desc;

/* One layer statement of the model, by position: what `freeze` names and
 * the run-time checks of the loss and of batch norm read. */
typedef struct nnr_layer_desc {
    const char *name;       /* label ("fc") or position as text ("0") */
    const char *op;         /* "linear", "batchnorm1d", ... */
    int64_t per_channel;    /* batch norm: values per channel of one sample
                             * (1 for batchnorm1d on [C]); else 0 */
} nnr_layer_desc;

/* Loads the .safetensors or PyTorch .pth file path (told apart by content,
 * io/pth.c) into state, the block that the n tensors
 * t describe (runtime/io/weights.c): the one loader of `nnc build --weights`,
 * a program's --weights and `train --init`. F32, F16, BF16 and F64 tensors
 * are converted to float (and the I64 of a counter). strict: every tensor of
 * t present with its shape and no other tensor in the file, else one error
 * per offending tensor and -1 with state untouched. Not strict: a tensor
 * missing or of another shape keeps what state holds, one the model does not
 * have is ignored, a warning each. Either way a missing NNR_T_COUNTER (batch
 * norm's num_batches_tracked) loads as 0, silently, as PyTorch does. A file
 * that cannot be read is one error and -1. strict = 2 is strict, each
 * error adding that strict = false would keep the initialisation (init).
 * Each message is one line "PATH: error: MSG" or "PATH: warning: MSG", given
 * to report (kind "error" or "warning", PATH, MSG), or printed on stderr
 * when report is NULL. */
typedef void (*nnr_report_fn)(void *ctx, const char *kind, const char *path, const char *msg);
int nnr_load_state(const char *path, const nnr_tensor_desc *t, int n, int strict, float *state,
                   nnr_report_fn report, void *ctx);
/* The same for a model with ties (ties[0..nties), LANGUAGE.md §8): a tie's
 * name may be in the file or not; when it is, with another shape it is
 * what a tensor of another shape is (an error, or a warning when not
 * strict), and with other values than the owner's an error either way.
 * The owner missing but the tie present: strict, the owner's error; not
 * strict, the tensor is loaded from the tie, with a warning. */
int nnr_load_state_tied(const char *path, const nnr_tensor_desc *t, int n, const nnr_tie_desc *ties,
                        int nties, int strict, float *state, nnr_report_fn report, void *ctx);
/* The same from a file already read (path names it in messages): what the
 * emitted NAME_load.c calls. */
int nnr_load_state_from(const nnr_st_file *f, const char *path, const nnr_tensor_desc *t, int n,
                        const nnr_tie_desc *ties, int nties, int strict, float *state,
                        nnr_report_fn report, void *ctx);
/* The state_dict as safetensors entries, in order: every tensor of t with
 * each tie's name inserted at its place (out: n + nties entries; data
 * points into state). */
void nnr_state_entries(const nnr_tensor_desc *t, int n, const nnr_tie_desc *ties, int nties,
                       const float *state, nnr_st_out *out);

/* The rules of training, once for nnc's train-block checks and a program's
 * --optimizer and --loss (io/optspec.c). An optimizer takes NNR_OPTIM_NARGS
 * arguments, positional in this order or by name. */
#define NNR_OPTIM_NARGS 5
#define NNR_OPTIM_COUNT 3
#define NNR_LOSS_COUNT 6

/* One argument of an optimizer: the value when not given, whether it must
 * be given, and the range PyTorch accepts (lo <= v, and v < hi when hi_open
 * else v <= hi; a bool is 0 or 1). */
typedef struct nnr_optim_arg {
    const char *name;       /* PyTorch's: "lr", "momentum", ... */
    int is_bool;            /* true / false (nesterov), else a number */
    int required;           /* no default (sgd's lr) */
    double def;
    double lo, hi;
    int hi_open;
    const char *range_msg;  /* the message when out of range, after "NAME: "
                             * unless it starts with "the " */
} nnr_optim_arg;

typedef struct nnr_optim_spec {
    const char *name;       /* "sgd", "adam", "adamw" */
    nnr_optim_kind kind;
    nnr_optim_arg args[NNR_OPTIM_NARGS];
} nnr_optim_spec;

extern const nnr_optim_spec nnr_optim_specs[NNR_OPTIM_COUNT];

/* The spec named name[0..len), or NULL. */
const nnr_optim_spec *nnr_optim_find(const char *name, size_t len);

/* The optimizer of spec with v[i] for the arguments given (given[i] != 0)
 * and the defaults for the others, checked against the ranges: 0, or -1
 * with a message in err (a required argument missing, a value out of
 * range, nesterov without momentum or with dampening). */
int nnr_optim_make(const nnr_optim_spec *spec, const double *v, const int *given, nnr_optim *o,
                   char *err, size_t errlen);

/* The names of the losses, by nnr_loss ("mse", ..., "nll"); the loss named
 * s, or -1; and "mse, l1, ... or nll" for messages. */
extern const char *const nnr_loss_names[NNR_LOSS_COUNT];
int nnr_loss_find(const char *s);
const char *nnr_loss_list(void);

/* An optimizer in the train block's syntax ("adam(lr = 0.01)") into o, with
 * the train block's defaults and checks (nnr_optim_make): 0, or -1 with a
 * message in err. */
int nnr_parse_optimizer(const char *s, nnr_optim *o, char *err, size_t errlen);

/* A schedule in the train block's syntax ("cosine(100, per = \"step\")", or a
 * list "[linear_warmup(5), cosine(10)]") into s (io/optspec.c): 0, or -1
 * with a message in err. */
int nnr_parse_schedule(const char *s, nnr_sched *out, char *err, size_t errlen);

typedef enum nnr_data_kind { NNR_DATA_NONE = 0, NNR_DATA_CSV, NNR_DATA_IDX, NNR_DATA_TEXT } nnr_data_kind;

typedef struct nnr_data_src {
    nnr_data_kind kind;
    const char *path;       /* csv file, or idx images */
    const char *path2;      /* idx labels */
    nnr_csv_opts csv;
    float scale;            /* idx pixel scale */
    int context;            /* text: tokens per sample */
} nnr_data_src;

/* The train block, with defaults applied by the compiler. Paths are as the
 * compiler resolved them (relative to the .nnet file's folder). */
typedef struct nnr_train_cfg {
    int present;            /* the file had a train block for this model */
    nnr_data_src data, validation;
    nnr_loss loss;
    nnr_optim optim;
    int epochs, batch, shuffle;
    uint64_t seed;
    const char *init;       /* NULL: default initialisation */
    int strict;
    const char *save, *log; /* NULL: none */
    int nfreeze;
    const int *freeze;      /* layer positions whose tensors are not updated */
    /* LANGUAGE.md §10 (all zero: none) */
    nnr_sched schedule;     /* nparts 0: a constant rate */
    double clip_grad_norm;  /* 0: no clipping */
    int early_stopping;     /* patience in epochs; 0: none */
    const char *checkpoint; /* NULL: none */
    double label_smoothing; /* cross_entropy's */
} nnr_train_cfg;

/* One input or output of a model (LANGUAGE.md §7). */
typedef struct nnr_io_desc {
    const char *name;       /* the input's name in the .nnet, or NULL */
    int ndim;
    int64_t shape[4];       /* one sample */
    size_t size;            /* floats of one sample */
    size_t offset;          /* where its values start in a sample's x (or y) row */
    int is_int;             /* an `int` input: each value must be an integer */
    int64_t int_below;      /* ... in 0 .. int_below - 1 (0: no bound known) */
} nnr_io_desc;

typedef struct nnr_model {
    const char *name;
    /* A sample's x row holds every input's values, one input after the
     * other in declaration order (in_size floats in all); in_shape is the
     * first input's. out_* describe the FIRST output, the one the loss
     * takes; a sample's y row (what forward writes) holds every output in
     * return order, y_size floats. */
    int in_ndim;  int64_t in_shape[4];  size_t in_size;   /* one sample */
    int out_ndim; int64_t out_shape[4]; size_t out_size;  /* one sample */
    size_t y_size;
    int ninputs, noutputs;
    const nnr_io_desc *inputs, *outputs;

    int ntensors;
    const nnr_tensor_desc *tensors;
    /* Per tensor, 1 for a parameter no gradient reaches from the loss (a
     * layer only other outputs use, or never called): PyTorch leaves its
     * grad None and the optimizer skips it, weight decay included (NULL:
     * every parameter is reached). */
    const unsigned char *no_grad;
    int nties;              /* weight tying: second names of tensors (0 / NULL: none) */
    const nnr_tie_desc *ties;
    size_t state_size;      /* floats in the state block (all tensors) */
    int nlayers;            /* the layer statements, in order (0 / NULL: */
    const nnr_layer_desc *layers;   /* only the tensors' layers are known) */

    /* Parameters compiled in (from --weights or literals), or NULL when the
     * program must draw the default initialisation from cfg.seed via init(). */
    const float *builtin_state;
    /* Default initialisation (literal tensors keep their value). NULL when
     * the state block is empty. */
    void (*init)(float *state, uint64_t seed);

    /* Inference. prepare() runs once after the state is loaded: it folds and
     * pre-packs into the inference block (infer_size floats; NULL when that
     * is empty). forward() reads ctx->n, ->params and ->arena (nnr_ctx). */
    size_t infer_size;
    void (*prepare)(const float *state, float *infer);
    size_t (*arena_size)(int n);            /* floats of scratch for batch n */
    void (*forward)(const nnr_ctx *ctx, const float *x, float *y);
    /* A model whose outputs at a position depend only on the positions up
     * to it (causal attention; everything else position by position) also
     * has step(): the outputs of positions pos .. pos + n - 1 of ONE
     * sequence (x: their n tokens, y: n rows of the output), reading the
     * keys and values of positions < pos from cache (step_cache_size
     * floats) and adding theirs; generate's key/value cache. It reads
     * ctx->n, ->params, ->arena, ->cache and ->pos. NULL: none. */
    size_t step_cache_size;
    size_t (*step_arena_size)(int n);
    void (*step)(const nnr_ctx *ctx, const float *x, float *y);

    /* Training (NULL when the model cannot be trained). One step of forward
     * in training mode (dropout from rng, batch-norm batch statistics and
     * running-statistics update in state), the loss, and the backward pass;
     * ctx->grad mirrors ctx->state and is overwritten for every PARAM
     * (it reads ctx->n, ->state, ->grad, ->arena and ->rng).
     * loss is the loss to take (the train block's, or --loss). Returns the
     * mean loss of the batch. The optimizer update is the driver's: the
     * NNR_T_PARAM tensors whose layer is not frozen, runs of adjacent ones
     * as one flat nnr_optim_step loop. */
    size_t (*train_arena_size)(int n);
    double (*train_step)(const nnr_ctx *ctx, const float *x, const int32_t *labels,
                         const float *targets, nnr_loss loss);

    nnr_train_cfg cfg;
} nnr_model;

/* A training checkpoint (io/ckpt.c): the blocks (state_size floats each;
 * best may be NULL: no early stopping) and where the run is. */
typedef struct nnr_ckpt {
    float *state, *state1, *state2, *best;
    int epoch;              /* epochs finished */
    long step;              /* optimizer steps taken */
    long sched_steps;       /* schedule steps taken */
    nnr_rng shuffle, dropout;
    int batch;              /* the run's batch and seed (a resumed run must */
    uint64_t seed;          /* repeat them to continue it exactly) */
    int best_epoch, bad_epochs;     /* early stopping (0, 0 without it) */
    double best_loss;
    char *log;              /* the log CSV so far, or NULL (read: malloc'd) */
} nnr_ckpt;

/* Writes c atomically to path (0, or -1 with a message in err). */
int nnr_ckpt_write(const char *path, const nnr_model *m, const nnr_ckpt *c, char *err,
                   size_t errlen);
/* Reads path into c, whose blocks the caller gives (best only filled when
 * the checkpoint has a best epoch); -1 with a message when the file is not
 * a checkpoint of m. */
int nnr_ckpt_read(const char *path, const nnr_model *m, nnr_ckpt *c, char *err, size_t errlen);

/* The program: parses argv, runs infer | train | eval | bench.
 * Exit status 0 ok, 1 bad input (message on stderr), 2 bad usage. */
int nnr_main(const nnr_model *m, int argc, char **argv);

#endif
