/* weights.c — loading a model's state from a .safetensors or .pth file
 * (told apart by content, pth.c), strictly or not: the one loader behind
 * `nnc build --weights`, a program's --weights and `train --init`, and
 * the NAME_load.c of `nnc emit --with-loader` (LANGUAGE.md §5, §6, §11);
 * with weight tying (§8) a tensor's second name is optional in the file
 * and must hold the owner's values. Also the state_dict's entries for
 * saving, both names of a tied tensor included. */
#include "../nnr_prog.h"
#include "io_util.h"
#include "pth.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LW_SNIP 80 /* longest tensor name quoted in a message */

typedef struct reporter {
    const char *path;
    nnr_report_fn fn;
    void *ctx;
} reporter;

static void say(const reporter *r, const char *kind, const char *fmt, ...) NNR_IO_PRINTF(3, 4);
static void say(const reporter *r, const char *kind, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    nnr_io_verrf(msg, sizeof msg, fmt, ap); /* one line */
    va_end(ap);
    if (r->fn != NULL) {
        r->fn(r->ctx, kind, r->path, msg);
    } else {
        fflush(stdout);
        fprintf(stderr, "%s: %s: %s\n", r->path, kind, msg);
        fflush(stderr);
    }
}

static const char *shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

static const char *quote(char *buf, size_t len, const char *name)
{
    return nnr_io_snip(buf, len, name, strlen(name), LW_SNIP);
}

static int same_shape(const nnr_tensor_desc *d, const nnr_st_tensor *t)
{
    if (d->ndim != t->ndim) return 0;
    for (int i = 0; i < d->ndim; i++)
        if (d->shape[i] != t->shape[i]) return 0;
    return t->numel == d->numel;
}

/* The tie of tensor i found in f with its shape, or NULL. */
static const nnr_st_tensor *tie_in_file(const nnr_st_file *f, const nnr_tensor_desc *t, int i,
                                        const nnr_tie_desc *ties, int nties, const char **name)
{
    for (int k = 0; k < nties; k++) {
        const nnr_st_tensor *s = ties[k].owner == i ? nnr_st_find(f, ties[k].name) : NULL;
        if (s != NULL && same_shape(&t[i], s)) {
            *name = ties[k].name;
            return s;
        }
    }
    return NULL;
}

static int known_name(const char *name, const nnr_tensor_desc *t, int n, const nnr_tie_desc *ties,
                      int nties)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return 1;
    for (int k = 0; k < nties; k++)
        if (strcmp(ties[k].name, name) == 0)
            return 1;
    return 0;
}

/* The ties' checks: shape (bad), and the same values as the owner (an
 * error even when not strict: *unequal). */
static int check_ties(const reporter *r, const nnr_st_file *f, const nnr_tensor_desc *t,
                      const nnr_tie_desc *ties, int nties, const char *kind, const char *keep,
                      int *unequal)
{
    char nm[LW_SNIP + 8], nm2[LW_SNIP + 8], have[256], want[256];
    int bad = 0;
    for (int k = 0; k < nties; k++) {
        const nnr_tensor_desc *d = &t[ties[k].owner];
        const nnr_st_tensor *s = nnr_st_find(f, ties[k].name), *o = nnr_st_find(f, d->name);
        if (s == NULL)
            continue;   /* LANGUAGE.md §8: the second name may be absent */
        if (!same_shape(d, s)) {
            say(r, kind, "tensor '%s' has shape %s, the model expects %s (the shape of '%s', which "
                "it shares)%s", quote(nm, sizeof nm, ties[k].name),
                shape_str(have, sizeof have, s->ndim, s->shape),
                shape_str(want, sizeof want, d->ndim, d->shape), quote(nm2, sizeof nm2, d->name), keep);
            bad++;
        } else if (o != NULL && same_shape(d, o) && d->numel > 0 &&
                   memcmp(o->data, s->data, d->numel * sizeof(float)) != 0) {
            say(r, "error", "tensors '%s' and '%s' hold different values, but they are one tensor of "
                "the model (weight tying: %s = %s)", quote(nm2, sizeof nm2, d->name),
                quote(nm, sizeof nm, ties[k].name), ties[k].name, d->name);
            (*unequal)++;
        }
    }
    return bad;
}

int nnr_load_state(const char *path, const nnr_tensor_desc *t, int n, int strict, float *state,
                   nnr_report_fn report, void *ctx)
{
    return nnr_load_state_tied(path, t, n, NULL, 0, strict, state, report, ctx);
}

int nnr_load_state_tied(const char *path, const nnr_tensor_desc *t, int n, const nnr_tie_desc *ties,
                        int nties, int strict, float *state, nnr_report_fn report, void *ctx)
{
    reporter r = {NNR_IO_NAME(path), report, ctx};
    char err[640];
    nnr_st_file f;
    if (nnr_weights_read(path, &f, err, sizeof err) != 0) {
        /* the reader's message starts "PATH: ": say it as "PATH: error: ..." */
        size_t pl = strlen(r.path);
        const char *msg = err;
        if (strncmp(err, r.path, pl) == 0 && err[pl] == ':' && err[pl + 1] == ' ')
            msg = err + pl + 2;
        say(&r, "error", "%s", msg);
        return -1;
    }
    int rc = nnr_load_state_from(&f, path, t, n, ties, nties, strict, state, report, ctx);
    nnr_st_free(&f);
    return rc;
}

int nnr_load_state_from(const nnr_st_file *fp, const char *path, const nnr_tensor_desc *t, int n,
                        const nnr_tie_desc *ties, int nties, int strict, float *state,
                        nnr_report_fn report, void *ctx)
{
    reporter r = {NNR_IO_NAME(path), report, ctx};
    const nnr_st_file f = *fp;
    const char *kind = strict ? "error" : "warning";
    const char *keep = strict == 2 ? " (strict = false in the train block, or --strict false, "
                                     "keeps the model's initialisation for it)"
                       : strict ? "" : "; keeping its initialisation";
    int bad = 0, unequal = 0;
    char nm[LW_SNIP + 8], nm2[LW_SNIP + 8], have[256], want[256];
    for (int i = 0; i < n; i++) {
        const nnr_tensor_desc *d = &t[i];
        const nnr_st_tensor *s = nnr_st_find(&f, d->name);
        const char *alt = NULL;
        if (s == NULL && d->kind == NNR_T_COUNTER) {
            continue; /* PyTorch's batch norm fills a missing num_batches_tracked with 0 */
        } else if (s == NULL && !strict && tie_in_file(&f, t, i, ties, nties, &alt)) {
            say(&r, "warning", "missing tensor '%s'; loading it from '%s', the same tensor of the "
                "model (weight tying)", quote(nm, sizeof nm, d->name), quote(nm2, sizeof nm2, alt));
        } else if (s == NULL) {
            say(&r, kind, "missing tensor '%s' (shape %s)%s", quote(nm, sizeof nm, d->name),
                shape_str(want, sizeof want, d->ndim, d->shape), keep);
            bad++;
        } else if (!same_shape(d, s)) {
            say(&r, kind, "tensor '%s' has shape %s, the model expects %s%s",
                quote(nm, sizeof nm, d->name), shape_str(have, sizeof have, s->ndim, s->shape),
                shape_str(want, sizeof want, d->ndim, d->shape), keep);
            bad++;
        }
    }
    bad += check_ties(&r, &f, t, ties, nties, kind, keep, &unequal);
    for (int j = 0; j < f.ntensors; j++) {
        const char *name = f.tensors[j].name;
        if (!known_name(name, t, n, ties, nties)) {
            say(&r, kind, "unexpected tensor '%s': the model has no such parameter%s",
                quote(nm, sizeof nm, name), strict == 2 ? " (strict = false in the train "
                "block, or --strict false, ignores it)" : strict ? "" : "; ignoring it");
            bad++;
        }
    }
    if ((strict && bad) || unequal)
        return -1;
    for (int i = 0; i < n; i++) {
        const nnr_tensor_desc *d = &t[i];
        const nnr_st_tensor *s = nnr_st_find(&f, d->name);
        const char *alt = NULL;
        if (s == NULL)
            s = tie_in_file(&f, t, i, ties, nties, &alt);
        if (s != NULL && same_shape(d, s) && d->numel > 0)
            memcpy(state + d->offset, s->data, d->numel * sizeof(float));
        else if (s == NULL && d->kind == NNR_T_COUNTER && d->numel > 0)
            memset(state + d->offset, 0, d->numel * sizeof(float));
    }
    return 0;
}

void nnr_state_entries(const nnr_tensor_desc *t, int n, const nnr_tie_desc *ties, int nties,
                       const float *state, nnr_st_out *out)
{
    int k = 0;
    for (int i = 0; i <= n; i++) {
        for (int j = 0; j < nties; j++) {
            const nnr_tie_desc *e = &ties[j];
            if (e->pos == i || (i == n && (e->pos < 0 || e->pos > n))) {
                const nnr_tensor_desc *d = &t[e->owner];
                out[k++] = (nnr_st_out){e->name, d->ndim, d->shape, state + d->offset,
                                        d->kind == NNR_T_COUNTER};
            }
        }
        if (i < n)
            out[k++] = (nnr_st_out){t[i].name, t[i].ndim, t[i].shape, state + t[i].offset,
                                    t[i].kind == NNR_T_COUNTER};
    }
}
