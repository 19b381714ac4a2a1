/* prog_train.c — the command train: the optimizer over the trainable
 * tensors, batching and shuffling, the roll-back on a non-finite step, the
 * progress bar, the per-epoch report and log, and the save. */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ train */

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
        int frozen = 0;
        for (int j = 0; j < nfreeze && !frozen; j++)
            frozen = freeze[j] == d->layer;
        if (d->kind != NNR_T_PARAM || frozen || !d->numel)
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

/* Appends one line to the log and flushes it. */
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

/* PyTorch's batch norm refuses to train on one value per channel
 * ("Expected more than 1 value per channel when training"): a batch of one
 * row through a batch norm that sees one value per channel of a sample
 * (batchnorm1d on [C]). rows in batches of batch: -1 after the message when
 * some batch is such a row. */
static int check_batchnorm(const nnr_model *m, size_t rows, int batch)
{
    size_t b = (size_t)batch, last = rows % b;
    int one = rows == 1 || b == 1 || (rows > b && last == 1);
    if (!one)
        return 0;
    for (int l = 0; l < m->nlayers; l++) {
        if (m->layers[l].per_channel != 1)
            continue;
        fprintf(stderr, "error: layer '%s' (%s) would train on one value per channel: ",
                m->layers[l].name, m->layers[l].op);
        if (rows == 1)
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

/* One run of `train`: the settings (options over the train block), the
 * data, the optimizer and the buffers of a batch. */
typedef struct train_run {
    const nnr_model *m;
    int epochs, batch, shuffle, strict, nfreeze, have_val;
    uint64_t seed;
    const char *init, *save, *logp;
    nnr_loss loss;
    const int *freeze;
    nnr_data_src dsrc, vsrc;
    char *owned_d, *owned_v;        /* memory of dsrc / vsrc paths */
    trainer tr;
    prog_data data, val;
    size_t tcols;                   /* target columns of a row (0: labels) */
    int eb_n;                       /* validation batch */
    float *backup;                  /* [state_size] buffers before the step */
    float *infer;                   /* [infer_size] for validation */
    float *arena, *earena;          /* train step / validation scratch */
    float *ybuf;                    /* [eb_n, out_size] validation outputs */
    float *xb, *tb;                 /* [batch, in_size], [batch, tcols] */
    int32_t *lb, *order;            /* [batch] labels, [rows] row order */
    prog_log log;
    progress pr;
    nnr_rng shuf, drop;
} train_run;

/* The options over the train block into t: -1 to go on, else an exit status. */
static int train_settings(train_run *t, const prog_opts *o)
{
    const nnr_model *m = t->m;
    const nnr_train_cfg *cfg = &m->cfg;
    t->epochs = o->val[OPT_EPOCHS] ? o->epochs : cfg->epochs;
    t->batch = o->val[OPT_BATCH] ? o->batch : (cfg->batch > 0 ? cfg->batch : 32);
    t->seed = o->val[OPT_SEED] ? o->seed : cfg->seed;
    t->init = o->val[OPT_INIT] ? o->val[OPT_INIT] : cfg->init;
    t->save = o->val[OPT_SAVE] ? o->val[OPT_SAVE] : cfg->save;
    t->logp = o->val[OPT_LOG] ? o->val[OPT_LOG] : cfg->log;
    t->loss = o->val[OPT_LOSS] ? o->loss : cfg->loss;
    t->shuffle = o->val[OPT_SHUFFLE] ? o->shuffle : cfg->shuffle;
    t->strict = o->val[OPT_STRICT] ? o->strict : cfg->strict;
    t->freeze = o->val[OPT_FREEZE] ? o->freeze : cfg->freeze;
    t->nfreeze = o->val[OPT_FREEZE] ? o->nfreeze : cfg->nfreeze;
    if (t->epochs < 0)
        t->epochs = 0;
    if (o->val[OPT_DATA]) {
        if (prog_override_src(&cfg->data, o->val[OPT_DATA], &t->dsrc, &t->owned_d))
            return EXIT_INPUT;
    } else if (cfg->data.kind != NNR_DATA_NONE) {
        t->dsrc = cfg->data;
    } else {
        return prog_usage_error(m, "train needs --data F (the train block has no data)");
    }
    if (o->val[OPT_VALIDATION]) {
        const nnr_data_src *vb = cfg->validation.kind != NNR_DATA_NONE ? &cfg->validation
                                                                        : &cfg->data;
        if (prog_override_src(vb, o->val[OPT_VALIDATION], &t->vsrc, &t->owned_v))
            return EXIT_INPUT;
        t->have_val = 1;
    } else if (cfg->validation.kind != NNR_DATA_NONE) {
        t->vsrc = cfg->validation;
        t->have_val = 1;
    }
    return -1;
}

/* Parameters, then data, then the buffers: every input is checked before
 * training starts. 0, or -1 after the message. */
static int train_prepare(train_run *t, const prog_opts *o)
{
    const nnr_model *m = t->m;
    if (prog_check_loss_model(m, t->loss, o->val[OPT_LOSS] != NULL))
        return -1;
    if (t->save && prog_check_writable(t->save))
        return -1;
    if (prog_trainer_init(&t->tr, m, t->freeze, t->nfreeze))
        return -1;
    if (o->val[OPT_OPTIMIZER])
        t->tr.optim = o->optim;
    if (o->val[OPT_LR])
        t->tr.optim.lr = o->lr;
    prog_fresh_state(m, t->tr.state, t->seed);
    if (t->init && prog_load_weights(m, t->init, t->strict, t->tr.state))
        return -1;
    if (prog_load_data(m, t->loss, &t->dsrc, &t->data))
        return -1;
    if (t->have_val && prog_load_data(m, t->loss, &t->vsrc, &t->val))
        return -1;
    if (t->epochs > 0 && check_batchnorm(m, t->data.d.rows, t->batch))
        return -1;

    size_t rows = t->data.d.rows, k = m->out_size;
    int tb_n = (size_t)t->batch < rows ? t->batch : (int)rows;
    t->tcols = t->data.targets ? (t->data.own_targets ? 1 : k) : 0;
    t->backup = prog_falloc(m->state_size);
    t->infer = prog_falloc(m->infer_size);
    t->arena = prog_falloc(m->train_arena_size ? m->train_arena_size(tb_n) : 0);
    t->xb = prog_falloc((size_t)tb_n * m->in_size);
    t->tb = prog_falloc((size_t)tb_n * (t->tcols ? t->tcols : 1));
    t->lb = calloc((size_t)tb_n, sizeof *t->lb);
    t->order = calloc(rows, sizeof *t->order);
    if (t->have_val) {
        t->eb_n = (size_t)t->batch < t->val.d.rows ? t->batch : (int)t->val.d.rows;
        t->earena = prog_falloc(m->arena_size ? m->arena_size(t->eb_n) : 0);
        t->ybuf = prog_falloc((size_t)t->eb_n * k);
    }
    if (!t->backup || !t->infer || !t->arena || !t->xb || !t->tb || !t->lb || !t->order ||
        (t->have_val && (!t->earena || !t->ybuf))) {
        prog_oom();
        return -1;
    }
    if (t->logp) {
        if (log_open(&t->log, t->logp))
            return -1;
        log_printf(&t->log, "epoch,train_loss,val_loss,val_accuracy,seconds\n");
    }
    return 0;
}

/* The message of a step that went wrong (bad: 1 the loss, 2 the gradients,
 * 3 the parameters are not finite), and the save of the last good
 * parameters (not after 3: the update already spoilt them). */
static void train_stop(train_run *t, int bad, double l, int e, size_t b)
{
    progress_clear(&t->pr);
    fflush(stdout);
    if (bad == 1)
        fprintf(stderr, "error: loss is %s at epoch %d, batch %zu; stopping with "
                "the last good parameters%s\n", isnan(l) ? "nan" : "inf", e, b + 1,
                t->loss == NNR_LOSS_BCE && isnan(l)
                    ? " (bce needs the model's outputs in [0, 1]: end the model "
                      "in sigmoid, or use bce_with_logits)"
                    : "");
    else if (bad == 2)
        fprintf(stderr, "error: gradients became nan or inf at epoch %d, batch "
                "%zu; stopping with the last good parameters\n", e, b + 1);
    else
        fprintf(stderr, "error: parameters became nan or inf at epoch %d, batch "
                "%zu; stopping\n", e, b + 1);
    log_close(&t->log);
    if (t->save && bad != 3)
        prog_save_state(t->m, t->save, t->tr.state);
}

/* One epoch (1-based e) of batches: 0 with its mean loss in *mean, or -1
 * after a step that went wrong (train_stop). */
static int train_epoch(train_run *t, int e, double *mean)
{
    const nnr_model *m = t->m;
    size_t rows = t->data.d.rows, in = m->in_size, bs = (size_t)t->batch;
    size_t nbatches = (rows + bs - 1) / bs;
    double sum = 0;
    for (size_t i = 0; i < rows; i++)
        t->order[i] = (int32_t)i;
    if (t->shuffle)
        nnr_rng_shuffle(&t->shuf, t->order, rows);
    for (size_t b = 0; b < nbatches; b++) {
        size_t r0 = b * bs;
        int n = (int)(rows - r0 < bs ? rows - r0 : bs);
        for (int i = 0; i < n; i++) {
            size_t r = (size_t)t->order[r0 + (size_t)i];
            memcpy(t->xb + (size_t)i * in, t->data.d.x + r * in, in * sizeof(float));
            if (t->data.labels)
                t->lb[i] = t->data.labels[r];
            if (t->tcols)
                memcpy(t->tb + (size_t)i * t->tcols, t->data.targets + r * t->tcols,
                       t->tcols * sizeof(float));
        }
        /* The step moves only the batch-norm buffers before the update,
         * and the update runs only on a finite loss and finite
         * gradients: keeping the buffers is enough to roll back. */
        copy_buffers(m, t->backup, t->tr.state);
        double l = m->train_step(t->tr.state, t->tr.grad, n, t->xb,
                                 t->data.labels ? t->lb : NULL, t->tcols ? t->tb : NULL,
                                 t->arena, &t->drop, t->loss);
        int bad = !isfinite(l) ? 1 : !grads_finite(&t->tr) ? 2 : 0;
        if (!bad && prog_trainer_update(&t->tr))
            bad = 3;
        if (bad) {
            copy_buffers(m, t->tr.state, t->backup);
            train_stop(t, bad, l, e, b);
            return -1;
        }
        sum += l * n;
        progress_show(&t->pr, e, t->epochs, b + 1, nbatches, sum / (double)(r0 + (size_t)n),
                      b + 1 == nbatches);
    }
    *mean = sum / (double)rows;
    return 0;
}

/* The line of epoch e on stdout and in the log; validation first. 0, or -1
 * after the message when bce meets an output outside [0, 1]. */
static int train_report(train_run *t, int e, double train_loss, double t0)
{
    double vl = NAN, va = NAN;
    if (t->have_val) {
        prog_prepare(t->m, t->tr.state, t->infer);
        if (prog_evaluate(t->m, t->loss, t->infer, &t->val, t->eb_n, t->earena, t->ybuf, &vl,
                          &va))
            return -1;
    }
    double secs = prog_now_s() - t0;
    progress_clear(&t->pr);
    printf("epoch %d/%d  train_loss=%.6f", e, t->epochs, train_loss);
    if (t->have_val) {
        printf("  val_loss=%.6f", vl);
        if (t->val.accuracy)
            printf("  val_acc=%.4f", va);
    }
    printf("  time=%.3fs\n", secs);
    fflush(stdout);
    char vls[64] = "", vas[64] = "";
    if (t->have_val)
        snprintf(vls, sizeof vls, "%.9g", vl);
    if (t->have_val && t->val.accuracy)
        snprintf(vas, sizeof vas, "%.9g", va);
    log_printf(&t->log, "%d,%.9g,%s,%s,%.3f\n", e, train_loss, vls, vas, secs);
    return 0;
}

static void train_free(train_run *t)
{
    log_close(&t->log);
    prog_trainer_free(&t->tr);
    prog_data_free(&t->data);
    prog_data_free(&t->val);
    free(t->owned_d);
    free(t->owned_v);
    free(t->backup);
    free(t->infer);
    free(t->arena);
    free(t->earena);
    free(t->ybuf);
    free(t->xb);
    free(t->tb);
    free(t->lb);
    free(t->order);
}

int prog_cmd_train(const nnr_model *m, const prog_opts *o)
{
    if (!m->train_step || !m->cfg.present) {
        fprintf(stderr, "error: this model has no train block\n");
        return EXIT_INPUT;
    }
    train_run t;
    memset(&t, 0, sizeof t);
    t.m = m;
    int rc = train_settings(&t, o);
    if (rc >= 0)
        goto done;
    rc = EXIT_INPUT;
    if (train_prepare(&t, o))
        goto done;
    nnr_rng_seed(&t.shuf, t.seed);
    nnr_rng_seed(&t.drop, t.seed ^ PROG_DROPOUT_SALT);
    t.pr.on = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
    for (int e = 1; e <= t.epochs; e++) {
        double t0 = prog_now_s(), train_loss;
        if (train_epoch(&t, e, &train_loss) || train_report(&t, e, train_loss, t0))
            goto done;
    }
    log_close(&t.log);
    if (t.save && prog_save_state(m, t.save, t.tr.state))
        goto done;
    rc = EXIT_OK;
done:
    fflush(stdout);
    train_free(&t);
    return rc;
}
