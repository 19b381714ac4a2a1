/* ckpt.c — a training checkpoint (LANGUAGE.md §10 `checkpoint`,
 * `PROG train --resume`): one .safetensors file written atomically.
 *
 * Tensors: the state_dict under its own names (so `--init` with
 * strict = false starts from a checkpoint's parameters), "optim.state1.NAME" and
 * "optim.state2.NAME" for every trainable tensor (SGD's momentum buffer;
 * Adam's exp_avg and exp_avg_sq), and with early stopping "best.NAME": the
 * best epoch's state_dict. All F32 (the counters I64), so every float comes
 * back bit for bit. Metadata strings: "nnc.checkpoint" (the format, "1"),
 * "model", "epoch", "step" (optimizer steps), "sched_steps",
 * "rng.shuffle" and "rng.dropout" (the four xoshiro words in hex),
 * "batch" and "seed" (what the run must repeat to continue it exactly),
 * "early.best_epoch", "early.bad_epochs", "early.best_loss" (a hex float)
 * and "log" (the log CSV so far). */
#include "../nnr_prog.h"
#include "io_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK_NMETA 13

/* a + b, malloc'd (NULL when out of memory) */
static char *xstrcat3(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static void rng_text(char *buf, size_t len, const nnr_rng *r)
{
    snprintf(buf, len, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, r->s[0],
             r->s[1], r->s[2], r->s[3]);
}

static int rng_parse(const char *s, nnr_rng *r)
{
    for (int i = 0; i < 4; i++) {
        char *end;
        if (!s)
            return -1;
        r->s[i] = strtoull(s, &end, 16);
        if (end == s)
            return -1;
        s = end;
    }
    return 0;
}

/* The tensors of one prefix ("", "optim.state1.", ...) of the PARAM tensors
 * only (params) or of all, from block b, appended to o[*n]. */
static int add_tensors(const nnr_model *m, const char *prefix, int params, const float *b,
                       nnr_st_out *o, int *n)
{
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (params && d->kind != NNR_T_PARAM)
            continue;
        char *name = xstrcat3(prefix, d->name);
        if (!name)
            return -1;
        o[*n] = (nnr_st_out){name, d->ndim, d->shape, b + d->offset,
                             d->kind == NNR_T_COUNTER};
        (*n)++;
    }
    return 0;
}

int nnr_ckpt_write(const char *path, const nnr_model *m, const nnr_ckpt *c, char *err,
                   size_t errlen)
{
    const int cap = 4 * (m->ntensors ? m->ntensors : 1);
    nnr_st_out *o = calloc((size_t)cap, sizeof *o);
    int n = 0, rc = -1;
    if (!o)
        return nnr_io_errf(err, errlen, "%s: out of memory", path);
    if (add_tensors(m, "", 0, c->state, o, &n) ||
        add_tensors(m, "optim.state1.", 1, c->state1, o, &n) ||
        add_tensors(m, "optim.state2.", 1, c->state2, o, &n) ||
        (c->best && add_tensors(m, "best.", 0, c->best, o, &n))) {
        nnr_io_errf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    char epoch[32], step[32], ss[32], shuf[80], drop[80], batch[32], seed[32], be[32], bad[32],
        bl[40];
    snprintf(epoch, sizeof epoch, "%d", c->epoch);
    snprintf(step, sizeof step, "%ld", c->step);
    snprintf(ss, sizeof ss, "%ld", c->sched_steps);
    rng_text(shuf, sizeof shuf, &c->shuffle);
    rng_text(drop, sizeof drop, &c->dropout);
    snprintf(batch, sizeof batch, "%d", c->batch);
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    snprintf(be, sizeof be, "%d", c->best_epoch);
    snprintf(bad, sizeof bad, "%d", c->bad_epochs);
    snprintf(bl, sizeof bl, "%a", c->best_loss);
    const char *meta[2 * CK_NMETA] = {
        "nnc.checkpoint", "1", "model", m->name, "epoch", epoch, "step", step,
        "sched_steps", ss, "rng.shuffle", shuf, "rng.dropout", drop, "batch", batch,
        "seed", seed, "early.best_epoch", be, "early.bad_epochs", bad, "early.best_loss", bl,
        "log", c->log ? c->log : "",
    };
    rc = nnr_st_write_meta(path, o, n, meta, CK_NMETA, err, errlen);
done:
    for (int i = 0; i < n; i++)
        free((char *)o[i].name);
    free(o);
    return rc;
}

/* The tensors of prefix into block b (of every tensor, or only PARAMs),
 * each present with its shape. */
static int get_tensors(const nnr_st_file *f, const char *path, const nnr_model *m,
                       const char *prefix, int params, float *b, char *err, size_t errlen)
{
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (params && d->kind != NNR_T_PARAM)
            continue;
        char *name = xstrcat3(prefix, d->name);
        if (!name)
            return nnr_io_errf(err, errlen, "%s: out of memory", path);
        const nnr_st_tensor *t = nnr_st_find(f, name);
        int ok = t && t->numel == d->numel && t->ndim == d->ndim;
        for (int k = 0; ok && k < d->ndim; k++)
            ok = t->shape[k] == d->shape[k];
        if (!ok) {
            nnr_io_errf(err, errlen, "%s: not a checkpoint of this model: tensor '%s' is %s",
                        path, name, t ? "of another shape" : "missing");
            free(name);
            return -1;
        }
        free(name);
        memcpy(b + d->offset, t->data, d->numel * sizeof(float));
    }
    return 0;
}

/* An integer metadata value >= 0 into *v. */
static int meta_long(const nnr_st_file *f, const char *key, long *v)
{
    const char *s = nnr_st_meta(f, key);
    char *end;
    if (!s || !*s)
        return -1;
    *v = strtol(s, &end, 10);
    return *end || *v < 0 ? -1 : 0;
}

int nnr_ckpt_read(const char *path, const nnr_model *m, nnr_ckpt *c, char *err, size_t errlen)
{
    nnr_st_file f;
    if (nnr_st_read(path, &f, err, errlen))
        return -1;
    int rc = -1;
    long epoch, step, ss, batch, be, bad;
    const char *fmt = nnr_st_meta(&f, "nnc.checkpoint"), *model = nnr_st_meta(&f, "model");
    const char *bl = nnr_st_meta(&f, "early.best_loss"), *log = nnr_st_meta(&f, "log");
    const char *seed = nnr_st_meta(&f, "seed");
    if (!fmt || strcmp(fmt, "1") != 0) {
        nnr_io_errf(err, errlen, "%s: not an nnc checkpoint (no \"nnc.checkpoint\": \"1\" in "
                    "its metadata)", path);
        goto done;
    }
    if (!model || strcmp(model, m->name) != 0) {
        nnr_io_errf(err, errlen, "%s: a checkpoint of model '%s', not of '%s'", path,
                    model ? model : "?", m->name);
        goto done;
    }
    if (meta_long(&f, "epoch", &epoch) || meta_long(&f, "step", &step) ||
        meta_long(&f, "sched_steps", &ss) || meta_long(&f, "batch", &batch) ||
        meta_long(&f, "early.best_epoch", &be) || meta_long(&f, "early.bad_epochs", &bad) ||
        rng_parse(nnr_st_meta(&f, "rng.shuffle"), &c->shuffle) ||
        rng_parse(nnr_st_meta(&f, "rng.dropout"), &c->dropout) || !bl || !seed || !log ||
        epoch > 1000000000 || batch > 1000000000 || be > epoch || bad > epoch) {
        nnr_io_errf(err, errlen, "%s: a checkpoint whose metadata is damaged or incomplete",
                    path);
        goto done;
    }
    if (get_tensors(&f, path, m, "", 0, c->state, err, errlen) ||
        get_tensors(&f, path, m, "optim.state1.", 1, c->state1, err, errlen) ||
        get_tensors(&f, path, m, "optim.state2.", 1, c->state2, err, errlen) ||
        (c->best && be > 0 && get_tensors(&f, path, m, "best.", 0, c->best, err, errlen)))
        goto done;
    c->epoch = (int)epoch;
    c->step = step;
    c->sched_steps = ss;
    c->batch = (int)batch;
    c->seed = strtoull(seed, NULL, 10);
    c->best_epoch = (int)be;
    c->bad_epochs = (int)bad;
    c->best_loss = strtod(bl, NULL);
    c->log = *log ? xstrcat3(log, "") : NULL;
    if (*log && !c->log) {
        nnr_io_errf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    rc = 0;
done:
    nnr_st_free(&f);
    return rc;
}
