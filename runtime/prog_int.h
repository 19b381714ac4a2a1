/* prog_int.h — what the files of the program driver (prog.c, prog_data.c,
 * prog_infer.c, prog_train.c, prog_tools.c) share: the parsed options, the
 * data set bound to a model, the optimizer state, and their helpers. Not
 * part of the runtime's interface (nnr_prog.h is). */
#ifndef NNR_PROG_INT_H
#define NNR_PROG_INT_H

#include "nnr_prog.h"

#include <stdio.h>

#define PROG_ERRLEN 1024
#define PROG_INFER_BATCH 256   /* rows per forward call of infer and eval */
#define PROG_DROPOUT_SALT 0x9E3779B97F4A7C15ull

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };
enum { CMD_INFER = 1, CMD_TRAIN = 2, CMD_EVAL = 4, CMD_BENCH = 8, CMD_GRADCHECK = 16, CMD_GENERATE = 32 };

enum {
    OPT_WEIGHTS, OPT_DATA, OPT_VALIDATION, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_SEED,
    OPT_INIT, OPT_SAVE, OPT_LOG, OPT_SECONDS, OPT_TRAIN, OPT_LOSS, OPT_OPTIMIZER, OPT_SHUFFLE,
    OPT_STRICT, OPT_FREEZE, OPT_SCHEDULE, OPT_CLIP, OPT_EARLY, OPT_CHECKPOINT, OPT_SMOOTH,
    OPT_RESUME, OPT_PROMPT, OPT_TOKENS, OPT_TEMPERATURE, OPT_TOPK, OPT_PLOT, OPT_COUNT
};

typedef struct prog_opts {
    int cmd;
    const char *cmd_name;
    const char *val[OPT_COUNT];  /* raw value (or "" for a flag) when given */
    int epochs, batch;
    double lr, seconds;
    uint64_t seed;
    nnr_loss loss;
    nnr_optim optim;
    int shuffle, strict;
    int nfreeze;
    int *freeze;                 /* layer positions (malloc'd) */
    nnr_sched schedule;          /* --schedule ("" or none: nparts 0) */
    double clip, smooth;         /* --clip-grad-norm, --label-smoothing */
    int early;                   /* --early-stopping */
} prog_opts;

/* A data set bound to the model and the loss: what train_step and
 * nnr_loss_f32 get. */
typedef struct prog_data {
    nnr_dataset d;
    const char *path;       /* for messages */
    int32_t *labels;        /* class indices (d.labels) or NULL */
    float *targets;         /* [rows, out_size] float targets or NULL */
    int own_targets;        /* targets were made from the labels */
    int accuracy;           /* 0 none, 1 argmax = label, 2 p > 0.5 and 3 logit > 0
                             * against 0/1 targets (per output), 4 argmax =
                             * argmax of the target row */
    size_t seq;             /* T: a sequence output [T, C] whose labels are T per
                             * sample (labels[rows * T], accuracy per position) */
    double smooth;          /* cross_entropy's label_smoothing for the loss that
                             * prog_evaluate reports on these rows (0: none) */
} prog_data;

typedef struct trainer {
    nnr_optim optim;
    float *state, *grad, *s1, *s2;
    /* What the optimizer updates: the trainable tensors of layers not
     * frozen, adjacent ones merged into runs of the state block (one run,
     * the whole parameter block, when nothing is frozen). */
    size_t *run_off, *run_len;
    int nruns;
    long step;
} trainer;

/* prog.c */
int prog_usage_error(const nnr_model *m, const char *fmt, ...);

/* prog_data.c */
double prog_now_s(void);
float *prog_falloc(size_t n);
void prog_oom(void);
/* "error: this model has no train block" and what to add (exit status 1). */
int prog_no_train_block(const nnr_model *m);
void prog_fresh_state(const nnr_model *m, float *state, uint64_t seed);
int prog_load_weights(const nnr_model *m, const char *path, int strict, float *state);
int prog_load_infer_state(const nnr_model *m, const char *weights, float *state);
void prog_prepare(const nnr_model *m, const float *state, float *infer);
void prog_print_file_error(const char *path, const char *err);
size_t prog_input_limit(void);
unsigned char *prog_read_input(const char *path, size_t *len, char *err, size_t errlen);
int prog_save_state(const nnr_model *m, const char *path, const float *state);
int prog_check_writable(const char *path);
void prog_data_free(prog_data *p);
const char *prog_loss_name(nnr_loss l);
int prog_override_src(const nnr_data_src *base, const char *value, nnr_data_src *out,
                      char **owned);
int prog_load_data(const nnr_model *m, nnr_loss loss, const nnr_data_src *src, prog_data *p);
int prog_evaluate(const nnr_model *m, nnr_loss loss, const float *infer, const prog_data *p,
                  int bs, float *arena, float *ybuf, double *loss_out, double *acc_out);
nnr_loss prog_default_loss(const nnr_model *m);
int prog_check_loss_model(const nnr_model *m, nnr_loss loss, int warn);

/* prog_seq.c */
/* The `int` inputs of rows x[rows, in_size] (rows row0 + 1 ... of path):
 * integers, below their bound when known; 0, or -1 after a message
 * "PATH:LINE: error: row R, column C: ..." (line_of: a row's line, or NULL). */
int prog_check_int_inputs(const nnr_model *m, const float *x, size_t rows, size_t row0,
                          const char *path, size_t (*line_of)(void *ctx, size_t row), void *ctx);

/* T when the loss takes the model's first output [T, C] as a sequence
 * (cross_entropy or nll: T class labels per sample), else 0. */
size_t prog_seq_len(const nnr_model *m, nnr_loss loss);
/* d->y [rows, T] (the last T columns of a CSV) into d->labels [rows * T]:
 * integers in 0..C-1 or -100 (ignored), else -1 after a message naming
 * the row and column. */
int prog_seq_labels(const nnr_model *m, nnr_dataset *d, const char *path,
                    size_t (*line_of)(void *ctx, size_t row), void *ctx);
/* The mean loss over the positions not ignored, and their count; correct
 * argmax predictions among them (loss and accuracy of eval). soft (NULL:
 * none) holds n * T * C floats: cross_entropy is then label-smoothed by eps. */
double prog_seq_eval(const nnr_model *m, nnr_loss loss, const float *y, int n,
                     const int32_t *labels, double eps, float *soft, size_t *counted,
                     size_t *correct);

/* A text() data set against the model: its labels are T per sample (a
 * sequence output [T, V] with cross_entropy or nll) and every byte is a
 * class of it; 0, or -1 after a message naming the byte offset. */
int prog_text_check(const nnr_model *m, nnr_loss loss, prog_data *p);

/* prog_generate.c */
int prog_cmd_generate(const nnr_model *m, const prog_opts *o);

/* prog_infer.c */
int prog_cmd_infer(const nnr_model *m, const prog_opts *o);
int prog_cmd_eval(const nnr_model *m, const prog_opts *o);

/* prog_train.c */
int prog_trainer_init(trainer *t, const nnr_model *m, const int *freeze, int nfreeze);
void prog_trainer_free(trainer *t);
int prog_trainer_update(trainer *t);
int prog_cmd_train(const nnr_model *m, const prog_opts *o);

/* prog_shard.c: train and eval over the processes of prog_par.h */
/* This process's share of a batch of n rows: its count, the first at
 * *first, then every K-th. */
size_t prog_shard_count(size_t n, size_t *first);
/* After the train step on mine of the batch's n rows: the gradients of
 * t's runs and the loss (returned) of the whole batch, on every rank. */
double prog_shard_reduce(trainer *t, double loss, size_t mine, size_t n);
/* The non-trainable tensors (batch-norm statistics) of rank 0 to all, as
 * DistributedDataParallel's broadcast_buffers. */
void prog_shard_buffers(const nnr_model *m, float *state);
/* prog_evaluate over the processes, each on a contiguous share of rows. */
int prog_shard_evaluate(const nnr_model *m, nnr_loss loss, const float *infer,
                        const prog_data *p, int bs, float *arena, float *ybuf, double *loss_out,
                        double *acc_out);
/* Is state the same on every rank? -1 after a warning on rank 0 if not. */
int prog_shard_same_state(const nnr_model *m, const float *state);

/* prog_plot.c: train --plot FILE, the curves per epoch as SVG. */
typedef struct prog_plot {
    const char *path;       /* NULL: no plot */
    const char *name;       /* the model's, in the title */
    int epochs;             /* the run's last epoch, in the title */
    int val, acc;           /* draw val_loss; draw val_accuracy (a second panel) */
    size_t n, cap;
    int *epoch;             /* [n] */
    double *v[3];           /* [n] train_loss, val_loss, val_accuracy (NAN: none) */
    int warned;             /* a write failed and was reported */
} prog_plot;
/* Adds the epoch of a --log line ("epoch,train_loss,val_loss,val_accuracy,
 * seconds"; other lines are skipped); -1 after a message when out of memory. */
int prog_plot_add(prog_plot *p, const char *line);
/* Adds the epochs of a whole --log text (a checkpoint's history). */
int prog_plot_add_log(prog_plot *p, const char *text);
/* Rewrites p->path atomically; a failure is a warning (once). */
void prog_plot_write(prog_plot *p);
void prog_plot_free(prog_plot *p);

/* prog_tools.c */
int prog_cmd_bench(const nnr_model *m, const prog_opts *o);
int prog_cmd_gradcheck(const nnr_model *m, const prog_opts *o);

/* Floats of one sample's y row: every output (m->out_size is the first's). */
static inline size_t prog_ysize(const nnr_model *m)
{
    return m->y_size ? m->y_size : m->out_size;
}

#endif
