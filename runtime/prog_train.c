/* prog_train.c — the command train: the optimizer over the trainable
 * tensors, batching and shuffling, the roll-back on a non-finite step, the
 * progress bar, the per-epoch report and log, and the save. */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"

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

static int write_log(const char *path, const strbuf *b)
{
    char err[PROG_ERRLEN];
    if (nnr_write_file_atomic(path, b->p, b->len, err, sizeof err)) {
        prog_print_file_error(path, err);
        return -1;
    }
    return 0;
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

int prog_cmd_train(const nnr_model *m, const prog_opts *o)
{
    const nnr_train_cfg *cfg = &m->cfg;
    if (!m->train_step || !cfg->present) {
        fprintf(stderr, "error: this model has no train block\n");
        return EXIT_INPUT;
    }
    int rc = EXIT_INPUT;
    trainer tr;
    memset(&tr, 0, sizeof tr);
    prog_data data, val;
    memset(&data, 0, sizeof data);
    memset(&val, 0, sizeof val);
    char *owned_d = NULL, *owned_v = NULL;
    float *backup = NULL, *infer = NULL, *arena = NULL, *earena = NULL, *ybuf = NULL;
    float *xb = NULL, *tb = NULL;
    int32_t *lb = NULL, *order = NULL;
    strbuf log;
    memset(&log, 0, sizeof log);
    progress pr;
    memset(&pr, 0, sizeof pr);

    /* Options over the train block. */
    int epochs = o->val[OPT_EPOCHS] ? o->epochs : cfg->epochs;
    int batch = o->val[OPT_BATCH] ? o->batch : (cfg->batch > 0 ? cfg->batch : 32);
    uint64_t seed = o->val[OPT_SEED] ? o->seed : cfg->seed;
    const char *init = o->val[OPT_INIT] ? o->val[OPT_INIT] : cfg->init;
    const char *save = o->val[OPT_SAVE] ? o->val[OPT_SAVE] : cfg->save;
    const char *logp = o->val[OPT_LOG] ? o->val[OPT_LOG] : cfg->log;
    nnr_loss loss = o->val[OPT_LOSS] ? o->loss : cfg->loss;
    int shuffle = o->val[OPT_SHUFFLE] ? o->shuffle : cfg->shuffle;
    int strict = o->val[OPT_STRICT] ? o->strict : cfg->strict;
    const int *freeze = o->val[OPT_FREEZE] ? o->freeze : cfg->freeze;
    int nfreeze = o->val[OPT_FREEZE] ? o->nfreeze : cfg->nfreeze;
    nnr_data_src dsrc, vsrc;
    int have_val = 0;
    if (epochs < 0)
        epochs = 0;
    if (o->val[OPT_DATA]) {
        if (prog_override_src(&cfg->data, o->val[OPT_DATA], &dsrc, &owned_d))
            goto done;
    } else if (cfg->data.kind != NNR_DATA_NONE) {
        dsrc = cfg->data;
    } else {
        rc = prog_usage_error(m, "train needs --data F (the train block has no data)");
        goto done;
    }
    if (o->val[OPT_VALIDATION]) {
        const nnr_data_src *vb = cfg->validation.kind != NNR_DATA_NONE ? &cfg->validation
                                                                        : &cfg->data;
        if (prog_override_src(vb, o->val[OPT_VALIDATION], &vsrc, &owned_v))
            goto done;
        have_val = 1;
    } else if (cfg->validation.kind != NNR_DATA_NONE) {
        vsrc = cfg->validation;
        have_val = 1;
    }

    /* Parameters, then data: every input is checked before training starts. */
    if (prog_check_loss_model(m, loss, o->val[OPT_LOSS] != NULL))
        goto done;
    if (save && prog_check_writable(save))
        goto done;
    if (prog_trainer_init(&tr, m, freeze, nfreeze))
        goto done;
    if (o->val[OPT_OPTIMIZER])
        tr.optim = o->optim;
    if (o->val[OPT_LR])
        tr.optim.lr = o->lr;
    prog_fresh_state(m, tr.state, seed);
    if (init && prog_load_weights(m, init, strict, tr.state))
        goto done;
    if (prog_load_data(m, loss, &dsrc, &data))
        goto done;
    if (have_val && prog_load_data(m, loss, &vsrc, &val))
        goto done;
    if (epochs > 0 && check_batchnorm(m, data.d.rows, batch))
        goto done;

    size_t rows = data.d.rows, in = m->in_size, k = m->out_size;
    int tb_n = (size_t)batch < rows ? batch : (int)rows;
    size_t tcols = data.targets ? (data.own_targets ? 1 : k) : 0;
    backup = prog_falloc(m->state_size);
    infer = prog_falloc(m->infer_size);
    arena = prog_falloc(m->train_arena_size ? m->train_arena_size(tb_n) : 0);
    xb = prog_falloc((size_t)tb_n * in);
    tb = prog_falloc((size_t)tb_n * (tcols ? tcols : 1));
    lb = calloc((size_t)tb_n, sizeof *lb);
    order = calloc(rows, sizeof *order);
    int eb_n = 0;
    if (have_val) {
        eb_n = (size_t)batch < val.d.rows ? batch : (int)val.d.rows;
        earena = prog_falloc(m->arena_size ? m->arena_size(eb_n) : 0);
        ybuf = prog_falloc((size_t)eb_n * k);
    }
    if (!backup || !infer || !arena || !xb || !tb || !lb || !order ||
        (have_val && (!earena || !ybuf))) {
        prog_oom();
        goto done;
    }
    if (logp) {
        if (sb_printf(&log, "epoch,train_loss,val_loss,val_accuracy,seconds\n")) {
            prog_oom();
            goto done;
        }
        if (write_log(logp, &log))
            goto done;
    }

    nnr_rng shuf, drop;
    nnr_rng_seed(&shuf, seed);
    nnr_rng_seed(&drop, seed ^ PROG_DROPOUT_SALT);
    pr.on = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
    size_t nbatches = (rows + (size_t)batch - 1) / (size_t)batch;
    for (int e = 1; e <= epochs; e++) {
        double t0 = prog_now_s(), sum = 0;
        for (size_t i = 0; i < rows; i++)
            order[i] = (int32_t)i;
        if (shuffle)
            nnr_rng_shuffle(&shuf, order, rows);
        for (size_t b = 0; b < nbatches; b++) {
            size_t r0 = b * (size_t)batch;
            int n = (int)(rows - r0 < (size_t)batch ? rows - r0 : (size_t)batch);
            for (int i = 0; i < n; i++) {
                size_t r = (size_t)order[r0 + (size_t)i];
                memcpy(xb + (size_t)i * in, data.d.x + r * in, in * sizeof(float));
                if (data.labels)
                    lb[i] = data.labels[r];
                if (tcols)
                    memcpy(tb + (size_t)i * tcols, data.targets + r * tcols,
                           tcols * sizeof(float));
            }
            /* The step moves only the batch-norm buffers before the update,
             * and the update runs only on a finite loss and finite
             * gradients: keeping the buffers is enough to roll back. */
            copy_buffers(m, backup, tr.state);
            double l = m->train_step(tr.state, tr.grad, n, xb, data.labels ? lb : NULL,
                                     tcols ? tb : NULL, arena, &drop, loss);
            int bad = !isfinite(l) ? 1 : !grads_finite(&tr) ? 2 : 0;
            if (!bad && prog_trainer_update(&tr))
                bad = 3;
            if (bad) {
                copy_buffers(m, tr.state, backup);
                progress_clear(&pr);
                fflush(stdout);
                if (bad == 1)
                    fprintf(stderr, "error: loss is %s at epoch %d, batch %zu; stopping with "
                            "the last good parameters%s\n", isnan(l) ? "nan" : "inf", e, b + 1,
                            loss == NNR_LOSS_BCE && isnan(l)
                                ? " (bce needs the model's outputs in [0, 1]: end the model "
                                  "in sigmoid, or use bce_with_logits)"
                                : "");
                else if (bad == 2)
                    fprintf(stderr, "error: gradients became nan or inf at epoch %d, batch "
                            "%zu; stopping with the last good parameters\n", e, b + 1);
                else
                    fprintf(stderr, "error: parameters became nan or inf at epoch %d, batch "
                            "%zu; stopping\n", e, b + 1);
                if (save && bad != 3)
                    prog_save_state(m, save, tr.state);
                rc = EXIT_INPUT;
                goto done;
            }
            sum += l * n;
            progress_show(&pr, e, epochs, b + 1, nbatches, sum / (double)(r0 + (size_t)n),
                          b + 1 == nbatches);
        }
        double train_loss = sum / (double)rows, vl = NAN, va = NAN;
        if (have_val) {
            prog_prepare(m, tr.state, infer);
            if (prog_evaluate(m, loss, infer, &val, eb_n, earena, ybuf, &vl, &va)) {
                rc = EXIT_INPUT;
                goto done;
            }
        }
        double secs = prog_now_s() - t0;
        progress_clear(&pr);
        printf("epoch %d/%d  train_loss=%.6f", e, epochs, train_loss);
        if (have_val) {
            printf("  val_loss=%.6f", vl);
            if (val.accuracy)
                printf("  val_acc=%.4f", va);
        }
        printf("  time=%.3fs\n", secs);
        fflush(stdout);
        if (logp) {
            char vls[64] = "", vas[64] = "";
            if (have_val)
                snprintf(vls, sizeof vls, "%.9g", vl);
            if (have_val && val.accuracy)
                snprintf(vas, sizeof vas, "%.9g", va);
            if (sb_printf(&log, "%d,%.9g,%s,%s,%.3f\n", e, train_loss, vls, vas, secs)) {
                prog_oom();
                goto done;
            }
            if (write_log(logp, &log))
                goto done;
        }
    }
    if (save && prog_save_state(m, save, tr.state))
        goto done;
    rc = EXIT_OK;
done:
    fflush(stdout);
    prog_trainer_free(&tr);
    prog_data_free(&data);
    prog_data_free(&val);
    free(owned_d);
    free(owned_v);
    free(backup);
    free(infer);
    free(arena);
    free(earena);
    free(ybuf);
    free(xb);
    free(tb);
    free(lb);
    free(order);
    free(log.p);
    return rc;
}

