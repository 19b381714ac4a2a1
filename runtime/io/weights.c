/* weights.c — loading a model's state from a .safetensors or .pth file
 * (told apart by content, pth.c), strictly or not: the one loader behind
 * `nnc build --weights`, a program's --weights and `train --init`
 * (LANGUAGE.md §5, §6, §11). */
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

int nnr_load_state(const char *path, const nnr_tensor_desc *t, int n, int strict, float *state,
                   nnr_report_fn report, void *ctx)
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
    const char *kind = strict ? "error" : "warning";
    const char *keep = strict == 2 ? " (strict = false in the train block, or --strict false, "
                                     "keeps the model's initialisation for it)"
                       : strict ? "" : "; keeping its initialisation";
    int bad = 0;
    char nm[LW_SNIP + 8], have[256], want[256];
    for (int i = 0; i < n; i++) {
        const nnr_tensor_desc *d = &t[i];
        const nnr_st_tensor *s = nnr_st_find(&f, d->name);
        if (s == NULL && d->kind == NNR_T_COUNTER) {
            continue; /* PyTorch's batch norm fills a missing num_batches_tracked with 0 */
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
    for (int j = 0; j < f.ntensors; j++) {
        const char *name = f.tensors[j].name;
        int known = 0;
        for (int i = 0; i < n && !known; i++)
            known = strcmp(t[i].name, name) == 0;
        if (!known) {
            say(&r, kind, "unexpected tensor '%s': the model has no such parameter%s",
                quote(nm, sizeof nm, name), strict == 2 ? " (strict = false in the train "
                "block, or --strict false, ignores it)" : strict ? "" : "; ignoring it");
            bad++;
        }
    }
    if (strict && bad) {
        nnr_st_free(&f);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const nnr_tensor_desc *d = &t[i];
        const nnr_st_tensor *s = nnr_st_find(&f, d->name);
        if (s != NULL && same_shape(d, s) && d->numel > 0)
            memcpy(state + d->offset, s->data, d->numel * sizeof(float));
        else if (s == NULL && d->kind == NNR_T_COUNTER && d->numel > 0)
            memset(state + d->offset, 0, d->numel * sizeof(float));
    }
    nnr_st_free(&f);
    return 0;
}
