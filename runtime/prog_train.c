/* prog_train.c — the command train: the optimizer over the trainable
 * tensors, batching and shuffling, the roll-back on a non-finite step, the
 * progress bar, the per-epoch report, log and plot, and the save. */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"
#include "prog_par.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A growing text buffer (the log file). */
typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

static int sb_printf(strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
}

/* ------------------------------------------------------------ train */

/* Is tensor i updated by the optimizer: a parameter with values that the
 * loss reaches, of no layer in freeze[0..nfreeze), nor shared with one (a
 * tied layer frozen freezes the one tensor both layers hold, as
 * requires_grad does)? */
static int trains(const nnr_model *m, int i, const int *freeze, int nfreeze)
{
    const nnr_tensor_desc *d = &m->tensors[i];
    if (m->no_grad && m->no_grad[i])
        return 0;
    for (int j = 0; j < nfreeze; j++) {
        if (freeze[j] == d->layer)
            return 0;
        for (int k = 0; k < m->nties; k++)
            if (m->ties[k].owner == i && m->ties[k].layer == freeze[j])
                return 0;
    }
    return d->kind == NNR_T_PARAM && d->numel;
}

/* freeze[0..nfreeze): layer positions whose tensors are not updated. */
int prog_trainer_init(trainer *t, const nnr_model *m, const int *freeze, int nfreeze)
{
    memset(t, 0, sizeof *t);
    t->optim = m->cfg.optim;
    t->state = prog_falloc(m->state_size);
    t->grad = prog_falloc(m->state_size);
    t->s1 = prog_falloc(m->state_size);
    t->s2 = prog_falloc(m->state_size);
    t->run_off = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t->run_off);
    t->run_len = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t->run_len);
    if (!t->state || !t->grad || !t->s1 || !t->s2 || !t->run_off || !t->run_len) {
        prog_oom();
        return -1;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (!trains(m, i, freeze, nfreeze))
            continue;
        int r = t->nruns - 1;
        if (r >= 0 && t->run_off[r] + t->run_len[r] == d->offset) {
            t->run_len[r] += d->numel;
        } else {
            t->run_off[t->nruns] = d->offset;
            t->run_len[t->nruns++] = d->numel;
        }
    }
    return 0;
}

void prog_trainer_free(trainer *t)
{
    free(t->state);
    free(t->grad);
    free(t->s1);
    free(t->s2);
    free(t->run_off);
    free(t->run_len);
}

/* No nan or inf among p[0..n): the largest magnitude as bits (a loop
 * without branches that compilers vectorise) below that of inf. */
static int all_finite(const float *p, size_t n)
{
    uint32_t mx = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t u;
        memcpy(&u, p + j, sizeof u);
        u &= 0x7fffffffu;
        mx = u > mx ? u : mx;
    }
    return mx < 0x7f800000u;
}

/* One optimizer step over the trainable tensors. Returns 0, or -1 when a
 * parameter became nan or inf. */
int prog_trainer_update(trainer *t)
{
    int finite = 1;
    t->step++;
    /* the steps check what they write (nnr_optim_step's result) */
    for (int r = 0; r < t->nruns; r++) {
        size_t off = t->run_off[r];
        finite &= nnr_optim_step(&t->optim, t->run_len[r], t->state + off, t->grad + off,
                                 t->s1 + off, t->s2 + off, t->step);
    }
    return finite ? 0 : -1;
}

/* Copy the non-trainable tensors (batch-norm running statistics and
 * counters) of a state block. */
static void copy_buffers(const nnr_model *m, float *dst, const float *src)
{
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (d->kind != NNR_T_PARAM)
            memcpy(dst + d->offset, src + d->offset, d->numel * sizeof(float));
    }
}

/* Are the gradients of every tensor the optimizer will update finite? */
static int grads_finite(const trainer *t)
{
    for (int r = 0; r < t->nruns; r++)
        if (!all_finite(t->grad + t->run_off[r], t->run_len[r]))
            return 0;
    return 1;
}

/* The progress bar on stderr, while stdout is a terminal. */
typedef struct progress {
    int on;
    double last;
    int width;          /* characters last written, to clear them */
} progress;

static void progress_show(progress *pr, int epoch, int epochs, size_t done, size_t total,
                          double loss, int force)
{
    if (!pr->on)
        return;
    double t = prog_now_s();
    if (!force && t - pr->last < 0.1)
        return;
    pr->last = t;
    char bar[31];
    int fill = total ? (int)(30.0 * (double)done / (double)total) : 30;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[30] = '\0';
    int n = fprintf(stderr, "\repoch %d/%d [%s] %zu/%zu  loss=%.6f", epoch, epochs, bar, done,
                    total, loss);
    if (n > pr->width)
        pr->width = n;
    fflush(stderr);
}

static void progress_clear(progress *pr)
{
    if (!pr->on || !pr->width)
        return;
    fprintf(stderr, "\r%*s\r", pr->width, "");
    fflush(stderr);
    pr->width = 0;
}

/* The --log file: opened once before training, one line appended (and
 * flushed, never synced) per epoch. A failed write is a warning naming the
 * file, after which the log is closed and training goes on to its save. */
typedef struct prog_log {
    FILE *f;            /* NULL: no log, or given up */
    const char *path;
} prog_log;

/* Opens path for the log (truncated; a device or FIFO is written in place).
 * -1 after the message when it cannot be opened: nothing is trained yet. */
static int log_open(prog_log *lg, const char *path)
{
    lg->path = path;
    lg->f = fopen(path, "w");
    if (!lg->f) {
        fprintf(stderr, "%s: error: cannot open the log: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void log_fail(prog_log *lg, int err)
{
    fflush(stdout);
    fprintf(stderr, "%s: warning: cannot write the log: %s; training goes on without it\n",
            lg->path, strerror(err));
    fclose(lg->f);      /* its error is the one just reported */
    lg->f = NULL;
}

/* Appends text to the log and flushes it. */
static void log_printf(prog_log *lg, const char *fmt, ...)
{
    if (!lg->f)
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int n = vfprintf(lg->f, fmt, ap);
    va_end(ap);
    if (n < 0 || fflush(lg->f) != 0 || ferror(lg->f))
        log_fail(lg, errno ? errno : EIO);
}

static void log_close(prog_log *lg)
{
    if (!lg->f)
        return;
    errno = 0;
    if (fclose(lg->f) != 0) {
        fflush(stdout);
        fprintf(stderr, "%s: warning: cannot write the log: %s\n", lg->path,
                strerror(errno ? errno : EIO));
    }
    lg->f = NULL;
}

static void log_puts(prog_log *lg, const char *text)
{
    log_printf(lg, "%s", text);
}

/* PyTorch's batch norm refuses to train on one value per channel
 * ("Expected more than 1 value per channel when training"): a batch of one
 * row through a batch norm that sees one value per channel of a sample
 * (batchnorm1d on [C]). rows in batches of batch: -1 after the message when
 * some batch is such a row. With K processes each takes every K-th row of
 * a batch: a batch of n rows gives some process one row when n < 2K. */
static int check_batchnorm(const nnr_model *m, size_t rows, int batch)
{
    size_t b = (size_t)batch, last = rows % b, K = (size_t)prog_par_size();
    int one = rows == 1 || b == 1 || (rows > b && last == 1);
    int shard = K > 1 && ((rows >= b && b < 2 * K) || (last && last < 2 * K));
    if (!one && !shard)
        return 0;
    for (int l = 0; l < m->nlayers; l++) {
        if (m->layers[l].per_channel != 1)
            continue;
        fprintf(stderr, "error: layer '%s' (%s) would train on one value per channel: ",
                m->layers[l].name, m->layers[l].op);
        if (!one)
            fprintf(stderr, "%zu rows in batches of %d over %zu processes give some process "
                    "batches of 1 row", rows, batch, K);
        else if (rows == 1)
            fprintf(stderr, "the data has 1 row");
        else if (b == 1)
            fprintf(stderr, "batches of 1 row");
        else
            fprintf(stderr, "%zu rows in batches of %d leave a last batch of 1 row", rows, batch);
        fprintf(stderr, " (PyTorch: \"Expected more than 1 value per channel when training\")%s\n",
                rows == 1 ? "" : "; use another --batch");
        return -1;
    }
    return 0;
}

/* One run of the command train: its settings (the train block under the
 * options), its buffers, and where it is. */
typedef struct run {
    const nnr_model *m;
    trainer tr;
    prog_data data, val;
    char *owned_d, *owned_v;
    float *backup, *infer, *arena, *earena, *ybuf, *xb, *tb, *best;
    int32_t *lb, *order;
    strbuf log;                 /* the log's text (kept in checkpoints) */
    prog_log lg;                /* the --log file, appended per epoch */
    prog_plot plot;             /* the --plot file, rewritten per epoch */
    progress pr;
    int epochs, batch, shuffle, have_val, eb_n;
    uint64_t seed;
    const char *save, *logp, *ckpt;
    nnr_loss loss;
    size_t tcols;               /* target values per row given to train_step */
    nnr_sched sched;
    nnr_sched_state sst;
    long sched_steps;
    double clip, smooth;
    float **gblk;               /* clip: each trainable tensor's gradient */
    size_t *glen;
    int ngblk;
    int patience, best_epoch, bad_epochs;
    double best_loss;
    nnr_rng shuf, drop;
    int first_epoch;            /* 1, or the one after a checkpoint's */
} run;

/* The train block's value of each setting, or its option's. */
static void run_settings(run *r, const prog_opts *o)
{
    const nnr_train_cfg *cfg = &r->m->cfg;
    r->epochs = o->val[OPT_EPOCHS] ? o->epochs : cfg->epochs;
    if (r->epochs < 0)
        r->epochs = 0;
    r->batch = o->val[OPT_BATCH] ? o->batch : (cfg->batch > 0 ? cfg->batch : 32);
    r->seed = o->val[OPT_SEED] ? o->seed : cfg->seed;
    r->save = o->val[OPT_SAVE] ? o->val[OPT_SAVE] : cfg->save;
    r->logp = o->val[OPT_LOG] ? o->val[OPT_LOG] : cfg->log;
    r->ckpt = o->val[OPT_CHECKPOINT] ? o->val[OPT_CHECKPOINT] : cfg->checkpoint;
    r->loss = o->val[OPT_LOSS] ? o->loss : cfg->loss;
    r->shuffle = o->val[OPT_SHUFFLE] ? o->shuffle : cfg->shuffle;
    r->sched = o->val[OPT_SCHEDULE] ? o->schedule : cfg->schedule;
    r->clip = o->val[OPT_CLIP] ? o->clip : cfg->clip_grad_norm;
    r->patience = o->val[OPT_EARLY] ? o->early : cfg->early_stopping;
    r->smooth = o->val[OPT_SMOOTH] ? o->smooth : cfg->label_smoothing;
    if (r->loss != NNR_LOSS_CROSS_ENTROPY)
        r->smooth = 0;
    r->plot.path = o->val[OPT_PLOT];
    if (prog_par_rank() != 0)      /* rank 0 alone writes files */
        r->save = r->logp = r->ckpt = r->plot.path = NULL;
}

/* The data sources: the train block's, or the options'. */
static int run_sources(run *r, const prog_opts *o, nnr_data_src *dsrc, nnr_data_src *vsrc)
{
    const nnr_train_cfg *cfg = &r->m->cfg;
    if (o->val[OPT_DATA]) {
        if (prog_override_src(&cfg->data, o->val[OPT_DATA], dsrc, &r->owned_d))
            return EXIT_INPUT;
    } else if (cfg->data.kind != NNR_DATA_NONE) {
        *dsrc = cfg->data;
    } else {
        return prog_usage_error(r->m, "train needs --data F (the train block has no data)");
    }
    if (o->val[OPT_VALIDATION]) {
        const nnr_data_src *vb = cfg->validation.kind != NNR_DATA_NONE ? &cfg->validation
                                                                        : &cfg->data;
        if (prog_override_src(vb, o->val[OPT_VALIDATION], vsrc, &r->owned_v))
            return EXIT_INPUT;
        r->have_val = 1;
    } else if (cfg->validation.kind != NNR_DATA_NONE) {
        *vsrc = cfg->validation;
        r->have_val = 1;
    }
    if (r->patience > 0 && !r->have_val) {
        fprintf(stderr, "error: early_stopping watches the validation loss, and there is no "
                "validation data (add 'validation' to the train block, or --validation F)\n");
        return EXIT_INPUT;
    }
    return 0;
}

/* The gradient blocks clip_grad_norm sees: every trainable tensor. */
static int run_clip_blocks(run *r, const int *freeze, int nfreeze)
{
    const nnr_model *m = r->m;
    r->gblk = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *r->gblk);
    r->glen = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *r->glen);
    if (!r->gblk || !r->glen)
        return -1;
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (trains(m, i, freeze, nfreeze)) {
            r->gblk[r->ngblk] = r->tr.grad + d->offset;
            r->glen[r->ngblk++] = d->numel;
        }
    }
    return 0;
}

/* Where the run starts: fresh or --init parameters, or a checkpoint
 * (--resume), which must come from a run with the same batch and seed. */
static int run_start_state(run *r, const prog_opts *o)
{
    const nnr_model *m = r->m;
    const nnr_train_cfg *cfg = &m->cfg;
    const char *init = o->val[OPT_INIT] ? o->val[OPT_INIT] : cfg->init;
    int strict = o->val[OPT_STRICT] ? o->strict : cfg->strict;
    nnr_rng_seed(&r->shuf, r->seed);
    nnr_rng_seed(&r->drop, r->seed ^ PROG_DROPOUT_SALT);
    nnr_sched_start(&r->sched, &r->sst, &r->tr.optim);
    r->first_epoch = 1;
    r->best_loss = INFINITY;
    prog_fresh_state(m, r->tr.state, r->seed);
    if (!o->val[OPT_RESUME])
        return init && prog_load_weights(m, init, strict ? 2 : 0, r->tr.state) ? -1 : 0;
    const char *path = o->val[OPT_RESUME];
    char err[PROG_ERRLEN];
    nnr_ckpt c;
    memset(&c, 0, sizeof c);
    c.state = r->tr.state;
    c.state1 = r->tr.s1;
    c.state2 = r->tr.s2;
    c.best = r->best;
    if (nnr_ckpt_read(path, m, &c, err, sizeof err)) {
        prog_print_file_error(path, err);
        return -1;
    }
    r->log.p = c.log;
    r->log.len = r->log.cap = c.log ? strlen(c.log) + 1 : 0;
    if (r->log.len)
        r->log.len--;
    if (c.batch != r->batch || c.seed != r->seed) {
        fprintf(stderr, "%s: error: the checkpoint was written by a run with batch %d and seed "
                "%llu; this one has batch %d and seed %llu (they must be the same to continue "
                "it)\n", path, c.batch, (unsigned long long)c.seed, r->batch,
                (unsigned long long)r->seed);
        return -1;
    }
    r->tr.step = c.step;
    r->shuf = c.shuffle;
    r->drop = c.dropout;
    for (long i = 0; i < c.sched_steps; i++)
        if (nnr_sched_step(&r->sched, &r->sst, &r->tr.optim))
            break;
    r->sched_steps = c.sched_steps;
    r->best_epoch = c.best_epoch;
    r->bad_epochs = c.bad_epochs;
    r->best_loss = c.best_epoch ? c.best_loss : INFINITY;
    r->first_epoch = c.epoch + 1;
    printf("resuming from %s after epoch %d\n", path, c.epoch);
    return 0;
}

/* Has the model a parameter to train (frozen or not)? */
static int has_params(const nnr_model *m)
{
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].kind == NNR_T_PARAM && m->tensors[i].numel)
            return 1;
    return 0;
}

/* Everything before the first epoch: settings, parameters, data, buffers. */
static int run_setup(run *r, const prog_opts *o)
{
    const nnr_model *m = r->m;
    const nnr_train_cfg *cfg = &m->cfg;
    nnr_data_src dsrc, vsrc;
    run_settings(r, o);
    int rc = run_sources(r, o, &dsrc, &vsrc);
    if (rc)
        return rc;
    const int *freeze = o->val[OPT_FREEZE] ? o->freeze : cfg->freeze;
    int nfreeze = o->val[OPT_FREEZE] ? o->nfreeze : cfg->nfreeze;
    /* Parameters, then data: every input is checked before training starts. */
    if (prog_check_loss_model(m, r->loss, o->val[OPT_LOSS] != NULL))
        return EXIT_INPUT;
    if ((r->save && prog_check_writable(r->save)) || (r->ckpt && prog_check_writable(r->ckpt)) ||
        (r->plot.path && prog_check_writable(r->plot.path)))
        return EXIT_INPUT;
    if (prog_trainer_init(&r->tr, m, freeze, nfreeze))
        return EXIT_INPUT;
    /* --freeze of every layer with parameters (nnc checks the block's) */
    if (nfreeze > 0 && r->tr.nruns == 0 && has_params(m))
        return prog_usage_error(m, "%sfreeze leaves nothing to train: every layer with "
                                "parameters is frozen (PyTorch's optimizer refuses an empty "
                                "parameter list)", o->val[OPT_FREEZE] ? "--" : "");
    if (o->val[OPT_OPTIMIZER])
        r->tr.optim = o->optim;
    if (o->val[OPT_LR])
        r->tr.optim.lr = o->lr;
    r->best = r->patience > 0 ? prog_falloc(m->state_size) : NULL;
    if ((r->patience > 0 && !r->best) || run_clip_blocks(r, freeze, nfreeze)) {
        prog_oom();
        return EXIT_INPUT;
    }
    if (run_start_state(r, o))
        return EXIT_INPUT;
    if (prog_load_data(m, r->loss, &dsrc, &r->data))
        return EXIT_INPUT;
    if (r->have_val && prog_load_data(m, r->loss, &vsrc, &r->val))
        return EXIT_INPUT;
    r->val.smooth = r->smooth;     /* the validation loss is the training loss's */
    if (r->epochs >= r->first_epoch && check_batchnorm(m, r->data.d.rows, r->batch))
        return EXIT_INPUT;
    return 0;
}

/* The batch buffers, and the log's first line. */
static int run_buffers(run *r)
{
    const nnr_model *m = r->m;
    size_t rows = r->data.d.rows, in = m->in_size, k = m->out_size;
    int tb_n = (size_t)r->batch < rows ? r->batch : (int)rows;
    r->tcols = r->data.targets ? (r->data.own_targets ? 1 : k) : 0;
    if (r->smooth > 0)
        r->tcols = k;   /* the labels become smoothed target rows */
    r->backup = prog_falloc(m->state_size);
    r->infer = prog_falloc(m->infer_size);
    r->arena = prog_falloc(m->train_arena_size ? m->train_arena_size(tb_n) : 0);
    r->xb = prog_falloc((size_t)tb_n * in);
    r->tb = prog_falloc((size_t)tb_n * (r->tcols ? r->tcols : 1));
    r->lb = calloc((size_t)tb_n * (r->data.seq ? r->data.seq : 1), sizeof *r->lb);
    r->order = calloc(rows, sizeof *r->order);
    if (r->have_val) {
        r->eb_n = (size_t)r->batch < r->val.d.rows ? r->batch : (int)r->val.d.rows;
        r->earena = prog_falloc(m->arena_size ? m->arena_size(r->eb_n) : 0);
        r->ybuf = prog_falloc((size_t)r->eb_n * prog_ysize(r->m));
    }
    if (!r->backup || !r->infer || !r->arena || !r->xb || !r->tb || !r->lb || !r->order ||
        (r->have_val && (!r->earena || !r->ybuf))) {
        prog_oom();
        return -1;
    }
    long lim = nnr_sched_limit(&r->sched);
    long nsteps = r->sched.per_step ? (long)r->epochs * (long)((rows + (size_t)r->batch - 1) /
                                                               (size_t)r->batch)
                                    : (long)r->epochs;
    if (lim >= 0 && nsteps > lim) {
        fprintf(stderr, "error: the schedule ends with a onecycle that allows %ld %s steps in "
                "all, and %d epochs take %ld (PyTorch: \"Tried to step %ld times\")\n", lim,
                r->sched.per_step ? "optimizer" : "epoch", r->epochs, nsteps, lim + 2);
        return -1;
    }
    if ((r->logp || r->plot.path) && !r->log.len &&
        sb_printf(&r->log, "epoch,train_loss,val_loss,val_accuracy,seconds\n")) {
        prog_oom();
        return -1;
    }
    /* the plot: the epochs of a checkpoint's log, then one per epoch */
    r->plot.name = m->name ? m->name : "model";
    r->plot.epochs = r->epochs;
    r->plot.val = r->have_val;
    r->plot.acc = r->have_val && r->val.accuracy;
    if (r->plot.path && prog_plot_add_log(&r->plot, r->log.p))
        return -1;
    if (!r->logp)
        return 0;
    if (log_open(&r->lg, r->logp))
        return -1;
    log_puts(&r->lg, r->log.p);
    return 0;
}

/* n rows into xb, lb and tb: order[r0], order[r0 + stride], ... */
static void run_fill(run *r, size_t r0, int n, size_t stride)
{
    const size_t in = r->m->in_size, k = r->m->out_size, tcols = r->tcols;
    const prog_data *d = &r->data;
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)r->order[r0 + (size_t)i * stride];
        memcpy(r->xb + (size_t)i * in, d->d.x + row * in, in * sizeof(float));
        if (d->labels && d->seq)    /* T labels per sample */
            memcpy(r->lb + (size_t)i * d->seq, d->labels + row * d->seq, d->seq * sizeof *r->lb);
        else if (d->labels)
            r->lb[i] = d->labels[row];
        if (d->targets && tcols)
            memcpy(r->tb + (size_t)i * tcols, d->targets + row * tcols, tcols * sizeof(float));
    }
    if (r->smooth > 0 && d->labels && d->seq) {    /* a target row per position; the labels stay */
        nnr_smooth_labels(n * (int)d->seq, (int)(k / d->seq), r->lb, r->smooth, r->tb);
    } else if (r->smooth > 0 && d->labels) {
        nnr_smooth_labels(n, (int)k, r->lb, r->smooth, r->tb);
    } else if (r->smooth > 0) {   /* probability rows: (1 - eps) t + eps / k, as PyTorch */
        for (size_t j = 0; j < (size_t)n * k; j++)
            r->tb[j] = (float)((1.0 - r->smooth) * r->tb[j] + r->smooth / (double)k);
    }
}

/* The error of a step that went wrong (bad: 1 loss, 2 gradients, 3
 * parameters), and the save of the last good parameters. */
static void run_bad_step(run *r, int bad, double l, int e, size_t b)
{
    copy_buffers(r->m, r->tr.state, r->backup);
    progress_clear(&r->pr);
    fflush(stdout);
    if (bad == 1)
        fprintf(stderr, "error: loss is %s at epoch %d, batch %zu; stopping with "
                "the last good parameters%s\n", isnan(l) ? "nan" : "inf", e, b + 1,
                r->loss == NNR_LOSS_BCE && isnan(l)
                    ? " (bce needs the model's outputs in [0, 1]: end the model "
                      "in sigmoid, or use bce_with_logits)"
                    : "");
    else if (bad == 2)
        fprintf(stderr, "error: gradients became nan or inf at epoch %d, batch "
                "%zu; stopping with the last good parameters\n", e, b + 1);
    else
        fprintf(stderr, "error: parameters became nan or inf at epoch %d, batch "
                "%zu; stopping\n", e, b + 1);
    if (r->save && bad != 3)
        prog_save_state(r->m, r->save, r->tr.state);
}

/* One scheduler step (after an optimizer step, or an epoch). */
static int run_sched_step(run *r)
{
    if (!r->sched.nparts)
        return 0;
    if (nnr_sched_step(&r->sched, &r->sst, &r->tr.optim)) {
        progress_clear(&r->pr);
        fprintf(stderr, "error: the schedule's onecycle has %ld steps, and training takes "
                "more (PyTorch: \"Tried to step %ld times\")\n",
                r->sched.part[r->sched.nparts - 1].n, r->sched_steps + 2);
        return -1;
    }
    r->sched_steps++;
    return 0;
}

/* The batches of epoch e; their mean loss in *train_loss. With several
 * processes (prog_shard.c), each steps on its share of every batch, with
 * its own dropout stream drawn from the run's at the epoch's start. */
static int run_epoch(run *r, int e, double *train_loss)
{
    const size_t rows = r->data.d.rows, batch = (size_t)r->batch;
    const size_t nbatches = (rows + batch - 1) / batch, K = (size_t)prog_par_size();
    double sum = 0;
    for (size_t i = 0; i < rows; i++)
        r->order[i] = (int32_t)i;
    if (r->shuffle)
        nnr_rng_shuffle(&r->shuf, r->order, rows);
    nnr_rng rank_drop, *drop = &r->drop;
    if (K > 1) {
        uint64_t s = nnr_rng_next(&r->drop);
        nnr_rng_seed(&rank_drop, s ^ ((uint64_t)prog_par_rank() + 1) * PROG_DROPOUT_SALT);
        drop = &rank_drop;
    }
    for (size_t b = 0; b < nbatches; b++) {
        size_t r0 = b * batch, first;
        int n = (int)(rows - r0 < batch ? rows - r0 : batch);
        size_t mine = prog_shard_count((size_t)n, &first);
        run_fill(r, r0 + first, (int)mine, K);
        int labels = r->data.labels && (r->smooth <= 0 || r->data.seq);
        /* The step moves only the batch-norm buffers before the update,
         * and the update runs only on a finite loss and finite
         * gradients: keeping the buffers is enough to roll back. */
        copy_buffers(r->m, r->backup, r->tr.state);
        double l = !mine ? 0
                         : r->m->train_step(&(nnr_ctx){.n = (int)mine, .state = r->tr.state,
                                                       .grad = r->tr.grad, .arena = r->arena, .rng = drop},
                                            r->xb, labels ? r->lb : NULL, r->tcols ? r->tb : NULL, r->loss);
        l = prog_shard_reduce(&r->tr, l, mine, (size_t)n);
        prog_shard_buffers(r->m, r->tr.state);
        int bad = !isfinite(l) ? 1 : !grads_finite(&r->tr) ? 2 : 0;
        if (!bad && r->clip > 0)
            nnr_clip_grad_norm(r->gblk, r->glen, r->ngblk, r->clip);
        if (!bad && prog_trainer_update(&r->tr))
            bad = 3;
        if (bad) {
            run_bad_step(r, bad, l, e, b);
            return -1;
        }
        if (r->sched.per_step && run_sched_step(r))
            return -1;
        sum += l * n;
        progress_show(&r->pr, e, r->epochs, b + 1, nbatches, sum / (double)(r0 + (size_t)n),
                      b + 1 == nbatches);
    }
    *train_loss = sum / (double)rows;
    return 0;
}

/* The epoch's line on stdout and in the log, and the plot so far. */
static int run_report(run *r, int e, double train_loss, double lr, double vl, double va,
                      double secs)
{
    progress_clear(&r->pr);
    printf("epoch %d/%d  train_loss=%.6f", e, r->epochs, train_loss);
    if (r->have_val) {
        printf("  val_loss=%.6f", vl);
        if (r->val.accuracy)
            printf("  val_acc=%.4f", va);
    }
    if (r->sched.nparts)
        printf("  lr=%.6g", lr);
    printf("  time=%.3fs\n", secs);
    fflush(stdout);
    if (!r->logp && !r->plot.path)
        return 0;
    char vls[64] = "", vas[64] = "";
    if (r->have_val)
        snprintf(vls, sizeof vls, "%.9g", vl);
    if (r->have_val && r->val.accuracy)
        snprintf(vas, sizeof vas, "%.9g", va);
    size_t at = r->log.len;
    if (sb_printf(&r->log, "%d,%.9g,%s,%s,%.3f\n", e, train_loss, vls, vas, secs)) {
        prog_oom();
        return -1;
    }
    log_puts(&r->lg, r->log.p + at);
    if (r->plot.path) {
        if (prog_plot_add(&r->plot, r->log.p + at))
            return -1;
        prog_plot_write(&r->plot);
    }
    return 0;
}

/* Early stopping's bookkeeping after epoch e: 1 to stop. */
static int run_early(run *r, int e, double vl)
{
    if (r->patience <= 0)
        return 0;
    if (vl < r->best_loss) {
        r->best_loss = vl;
        r->best_epoch = e;
        r->bad_epochs = 0;
        memcpy(r->best, r->tr.state, r->m->state_size * sizeof(float));
        return 0;
    }
    return ++r->bad_epochs >= r->patience;
}

/* The checkpoint of epoch e. A failed write is a warning naming the file:
 * training goes on to its save (the next epoch tries again). */
static void run_checkpoint(run *r, int e)
{
    char err[PROG_ERRLEN];
    nnr_ckpt c = {r->tr.state, r->tr.s1, r->tr.s2, r->best_epoch ? r->best : NULL, e,
                  r->tr.step, r->sched_steps, r->shuf, r->drop, r->batch, r->seed,
                  r->best_epoch, r->bad_epochs, r->best_epoch ? r->best_loss : 0, r->log.p};
    if (nnr_ckpt_write(r->ckpt, r->m, &c, err, sizeof err)) {
        progress_clear(&r->pr);
        fflush(stdout);
        fprintf(stderr, "%s: warning: %s; training goes on without this checkpoint\n",
                r->ckpt, err);
    }
}

/* The epochs, from the first (or the checkpoint's next) to the last. */
static int run_epochs(run *r)
{
    r->pr.on = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
    int stopped = r->patience > 0 && r->best_epoch > 0 && r->bad_epochs >= r->patience;
    if (stopped)    /* --resume from the last checkpoint of a run that stopped early */
        printf("early stopping: the checkpoint's run had stopped (no better validation loss for "
               "%d epochs); keeping epoch %d (val_loss=%.6f)\n", r->patience, r->best_epoch,
               r->best_loss);
    for (int e = r->first_epoch; !stopped && e <= r->epochs; e++) {
        double t0 = prog_now_s(), train_loss, vl = NAN, va = NAN, lr = r->tr.optim.lr;
        if (run_epoch(r, e, &train_loss))
            return -1;
        if (r->have_val) {
            prog_prepare(r->m, r->tr.state, r->infer);
            if (prog_shard_evaluate(r->m, r->loss, r->infer, &r->val, r->eb_n, r->earena,
                                    r->ybuf, &vl, &va))
                return -1;
        }
        if (run_report(r, e, train_loss, lr, vl, va, prog_now_s() - t0))
            return -1;
        if (!r->sched.per_step && run_sched_step(r))
            return -1;
        int stop = run_early(r, e, vl);
        if (r->ckpt)
            run_checkpoint(r, e);
        if (stop) {
            printf("early stopping at epoch %d: no better validation loss for %d epochs; "
                   "keeping epoch %d (val_loss=%.6f)\n", e, r->patience, r->best_epoch,
                   r->best_loss);
            break;
        }
    }
    if (r->patience > 0 && r->best_epoch > 0) {
        if (r->bad_epochs < r->patience)
            printf("early stopping: not triggered; keeping epoch %d (val_loss=%.6f)\n",
                   r->best_epoch, r->best_loss);
        memcpy(r->tr.state, r->best, r->m->state_size * sizeof(float));
    }
    return 0;
}

static void run_free(run *r)
{
    prog_trainer_free(&r->tr);
    prog_data_free(&r->data);
    prog_data_free(&r->val);
    free(r->owned_d);
    free(r->owned_v);
    free(r->backup);
    free(r->infer);
    free(r->arena);
    free(r->earena);
    free(r->ybuf);
    free(r->xb);
    free(r->tb);
    free(r->best);
    free(r->lb);
    free(r->order);
    free(r->gblk);
    free(r->glen);
    log_close(&r->lg);
    prog_plot_free(&r->plot);
    free(r->log.p);
}

int prog_cmd_train(const nnr_model *m, const prog_opts *o)
{
    if (!m->train_step && m->cfg.present) {
        fprintf(stderr, "error: the train block of '%s' has no 'optimizer' (eval needs none; "
                "to train, give one, e.g. optimizer = sgd(lr = 0.1))\n", m->name);
        return EXIT_INPUT;
    }
    if (!m->train_step || !m->cfg.present) {
        return prog_no_train_block(m);
    }
    run r;
    memset(&r, 0, sizeof r);
    r.m = m;
    /* every rank sets up alike; they agree before the first collective step */
    int rc = prog_par_agree(run_setup(&r, o));
    if (!rc)
        rc = prog_par_agree(run_buffers(&r) ? EXIT_INPUT : EXIT_OK);
    if (!rc)
        rc = run_epochs(&r) ? EXIT_INPUT : EXIT_OK;
    if (rc == EXIT_OK && prog_par_size() > 1)
        prog_shard_same_state(m, r.tr.state);
    if (rc == EXIT_OK && r.save && prog_save_state(m, r.save, r.tr.state))
        rc = EXIT_INPUT;
    fflush(stdout);
    run_free(&r);
    return rc;
}
