/* prog_data.c — what the commands of a built program load and check: the
 * state block (fresh, from --weights or --init, saved with --save), the data
 * sets bound to the model and the loss, and the evaluation of a data set
 * (loss and accuracy). Every input is validated before any work is done, so
 * a bad file never leaves half an output or half a training run. */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ small helpers */

double prog_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A float buffer of at least one element, zeroed; NULL only when out of memory. */
float *prog_falloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

void prog_oom(void)
{
    fprintf(stderr, "error: out of memory\n");
}

int prog_no_train_block(const nnr_model *m)
{
    const char *n = m->name ? m->name : "NAME";
    fprintf(stderr,
            "error: this model has no train block\n"
            "hint: add one to the .nnet file after the model and build again, e.g.\n"
            "    train %s {\n"
            "        data      = csv(\"train.csv\", label = -1)   # or idx(images, labels)\n"
            "        loss      = cross_entropy\n"
            "        optimizer = sgd(lr = 0.1)\n"
            "        epochs    = 10\n"
            "    }\n", n);
    return EXIT_INPUT;
}

/* ------------------------------------------------------------ state */

/* The fresh initialisation: compiled-in parameters, else init(seed). */
void prog_fresh_state(const nnr_model *m, float *state, uint64_t seed)
{
    if (m->builtin_state)
        memcpy(state, m->builtin_state, m->state_size * sizeof(float));
    else if (m->init)
        m->init(state, seed);
    else
        memset(state, 0, m->state_size * sizeof(float));
}

/* Loads path into state (nnr_load_state): strict, or keeping the fresh
 * initialisation of missing and differently shaped tensors, a warning each. */
int prog_load_weights(const nnr_model *m, const char *path, int strict, float *state)
{
    return nnr_load_state_tied(path, m->tensors, m->ntensors, m->ties, m->nties, strict, state, NULL,
                               NULL);
}

/* State for infer / eval / bench: --weights (strict), else the compiled-in
 * parameters or the seeded default initialisation. */
int prog_load_infer_state(const nnr_model *m, const char *weights, float *state)
{
    prog_fresh_state(m, state, m->cfg.seed);
    if (weights && prog_load_weights(m, weights, 1, state))
        return -1;
    return 0;
}

void prog_prepare(const nnr_model *m, const float *state, float *infer)
{
    if (m->prepare)
        m->prepare(state, infer);
}

/* A reader's or writer's message "PATH[:LINE[:COL]]: text" (or "PATH: byte
 * offset N: text") printed as "PATH[:LINE[:COL]]: error: text" ("PATH: byte
 * offset N: error: text"), the form of every other diagnostic; a message
 * that does not start with path gets "error: " in front. */
void prog_print_file_error(const char *path, const char *err)
{
    size_t pl = path ? strlen(path) : 0;
    if (pl && strncmp(err, path, pl) == 0) {
        const char *q = err + pl;
        while (q[0] == ':' && q[1] >= '0' && q[1] <= '9') {
            q++;
            while (*q >= '0' && *q <= '9') q++;
        }
        static const char at[] = ": byte offset ";
        if (strncmp(q, at, sizeof at - 1) == 0 && q[sizeof at - 1] >= '0' &&
            q[sizeof at - 1] <= '9') {
            q += sizeof at - 1;
            while (*q >= '0' && *q <= '9') q++;
        }
        if (q[0] == ':' && q[1] == ' ') {
            fprintf(stderr, "%.*s: error: %s\n", (int)(q - err), err, q + 2);
            return;
        }
    }
    fprintf(stderr, "error: %s\n", err);
}

int prog_save_state(const nnr_model *m, const char *path, const float *state)
{
    char err[PROG_ERRLEN];
    size_t nt = (size_t)m->ntensors + (size_t)m->nties;
    nnr_st_out *t = calloc(nt ? nt : 1, sizeof *t);
    if (!t) {
        prog_oom();
        return -1;
    }
    /* the whole state_dict: a tied tensor under both its names (§8) */
    nnr_state_entries(m->tensors, m->ntensors, m->ties, m->nties, state, t);
    int rc = nnr_st_write(path, t, (int)nt, err, sizeof err);
    free(t);
    if (rc) {
        prog_print_file_error(path, err);
        return -1;
    }
    printf("saved %s\n", path);
    fflush(stdout);
    return 0;
}

/* Checks before training that the folder of path can take the file, so a
 * long run does not end in an unsaved result. An existing device or FIFO is
 * written in place (nnr_wfile): it must be writable itself; a folder is
 * never a file's target. */
int prog_check_writable(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: error: is a directory, not a file\n", path);
        return -1;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (access(path, W_OK) == 0)
            return 0;
        fprintf(stderr, "%s: error: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return 0;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "%s: error: cannot write in the folder '%s': %s\n", path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ data */


void prog_data_free(prog_data *p)
{
    if (p->own_targets)
        free(p->targets);
    nnr_dataset_free(&p->d);
    memset(p, 0, sizeof *p);
}

/* The loss's name, from the one table of training rules (io/optspec.c). */
const char *prog_loss_name(nnr_loss l)
{
    return (unsigned)l < NNR_LOSS_COUNT ? nnr_loss_names[l] : "loss";
}

/* The source for a command-line path: base's options with the path(s)
 * replaced. *owned receives memory to free (idx "IMAGES,LABELS"). */
int prog_override_src(const nnr_data_src *base, const char *value, nnr_data_src *out,
                        char **owned)
{
    *owned = NULL;
    if (base && base->kind != NNR_DATA_NONE) {
        *out = *base;
    } else {
        memset(out, 0, sizeof *out);
        out->kind = NNR_DATA_CSV;
        out->csv.label = -1;
        out->csv.has_label = 1;
        out->scale = 1.0f;
    }
    out->path = value;
    if (out->kind == NNR_DATA_IDX) {
        const char *comma = strchr(value, ',');
        const char *img = strstr(value, "images-idx3");
        out->path2 = NULL;
        if (!comma && img) {
            /* MNIST naming: X-images-idx3-ubyte goes with X-labels-idx1-ubyte. */
            char *s = malloc(strlen(value) + 1);
            if (!s) {
                prog_oom();
                return -1;
            }
            strcpy(s, value);
            memcpy(s + (img - value), "labels-idx1", 11);
            out->path2 = s;
            *owned = s;
        } else if (comma) {
            char *s = malloc(strlen(value) + 1);
            if (!s) {
                prog_oom();
                return -1;
            }
            strcpy(s, value);
            s[comma - value] = '\0';
            out->path = s;
            out->path2 = s + (comma - value) + 1;
            if (!*out->path2)
                out->path2 = NULL;
            *owned = s;
        }
    }
    return 0;
}

/* The 1-based line of data row `row` of a CSV text buf[0..len) (blank
 * lines and the header skipped, as the reader does), for messages. */
static size_t csv_line_of_row(const unsigned char *buf, size_t len, int header, size_t row)
{
    size_t pos = 0, line = 0, seen = 0;
    if (!buf)
        return row + 1 + (header ? 1 : 0);
    while (pos < len) {
        size_t end = pos, q = pos;
        while (end < len && buf[end] != '\n')
            end++;
        line++;
        while (q < end && (buf[q] == ' ' || buf[q] == '\t' || buf[q] == '\r'))
            q++;
        if (q < end) {
            if (header)
                header = 0;
            else if (seen++ == row)
                break;
        }
        pos = end + 1;
    }
    return line;
}

/* The byte limit of an input that is not a regular file (nnr_max_input:
 * NNC_MAX_INPUT, else 256 MiB); a bad value is a warning. */
size_t prog_input_limit(void)
{
    const char *bad;
    size_t limit = nnr_max_input(&bad);
    if (bad)
        fprintf(stderr, "warning: NNC_MAX_INPUT='%s' is not a positive number of bytes "
                "(k, M or G may follow); using %zu\n", bad, limit);
    return limit;
}

/* The bytes of path into *len (NUL-terminated): a regular file whole (its
 * size bounds it), anything else (a pipe, a FIFO, a device such as
 * /dev/zero) as a stream of at most prog_input_limit() bytes. NULL with the
 * message "PATH: ..." in err. */
unsigned char *prog_read_input(const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return nnr_read_file(path, len, err, errlen);
    size_t limit = prog_input_limit(), cap = 1 << 16, n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 1 >= cap) {   /* room for one byte past the limit and a NUL */
            size_t ncap = cap > limit / 2 ? limit + 2 : cap * 2;
            unsigned char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
                cap = ncap;
            }
        }
        if (!buf) {
            snprintf(err, errlen, "%s: out of memory reading the file", path);
            break;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (n > limit) {
            snprintf(err, errlen, "%s: more than %zu bytes, the limit of an input that is not "
                     "a regular file (set NNC_MAX_INPUT to raise it)", path, limit);
            break;
        }
        if (got == 0 && ferror(f)) {
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (got == 0) {
            fclose(f);
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    fclose(f);
    free(buf);
    return NULL;
}

/* Reads and parses src into p->d; *text keeps a CSV file's bytes for the
 * line numbers of later messages (NULL for IDX). 0, or -1 after the message. */
static int read_source(const nnr_data_src *src, prog_data *p, unsigned char **text,
                       size_t *tlen)
{
    char err[PROG_ERRLEN];
    int rc = -1;
    size_t il = 0, ll = 0;
    unsigned char *ib = prog_read_input(src->path, &il, err, sizeof err), *lb = NULL;
    *text = NULL;
    if (ib && src->kind == NNR_DATA_TEXT) {
        rc = nnr_text_parse(ib, il, src->path, src->context, &p->d, err, sizeof err);
        free(ib);
    } else if (ib && src->kind == NNR_DATA_IDX) {
        if (!src->path2 || (lb = prog_read_input(src->path2, &ll, err, sizeof err)) != NULL)
            rc = nnr_idx_parse(ib, il, src->path, lb, ll, src->path2, src->scale, &p->d, err,
                               sizeof err);
        free(lb);
        free(ib);
    } else if (ib) {
        rc = nnr_csv_parse((const char *)ib, il, src->path, &src->csv, &p->d, err, sizeof err);
        *text = ib;
        *tlen = il;
    }
    if (rc) {
        /* an IDX error names the images file or the labels file */
        size_t l1 = strlen(src->path), l2 = src->path2 ? strlen(src->path2) : 0;
        int is2 = l2 && strncmp(err, src->path2, l2) == 0 &&
                  (l2 > l1 || strncmp(err, src->path, l1) != 0);
        prog_print_file_error(is2 ? src->path2 : src->path, err);
        memset(&p->d, 0, sizeof p->d);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* What the loss reads of the data p->d: class labels or float targets
 * (made from the labels for one output), and the kind of accuracy. 0, or -1
 * after the message. */
static int bind_targets(const nnr_model *m, nnr_loss loss, const nnr_data_src *src, prog_data *p)
{
    const nnr_dataset *d = &p->d;
    size_t k = m->out_size;
    int classify = loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL;
    if (classify) {
        if (d->labels) {
            p->labels = d->labels;
            p->accuracy = p->seq ? 5 : 1;
        } else if (d->y && loss == NNR_LOSS_CROSS_ENTROPY && d->ntargets == k) {
            p->targets = d->y;
            p->accuracy = 4;
        } else if (d->y) {
            if (loss == NNR_LOSS_NLL)
                fprintf(stderr, "%s: error: the loss nll needs class labels, the data has %zu target "
                        "columns\n", src->path, d->ntargets);
            else
                fprintf(stderr, "%s: error: samples have %zu targets, the model has %zu outputs\n",
                        src->path, d->ntargets, k);
            return -1;
        } else {
            fprintf(stderr, "%s: error: the loss %s needs class labels, the data has none\n",
                    src->path, prog_loss_name(loss));
            return -1;
        }
        return 0;
    }
    /* mse, l1, bce, bce_with_logits: float targets. */
    if (d->y) {
        if (d->ntargets != k) {
            fprintf(stderr, "%s: error: samples have %zu targets, the model has %zu outputs\n",
                    src->path, d->ntargets, k);
            return -1;
        }
        p->targets = d->y;
        /* bce on 0/1 targets is a (multi-label) classification. */
        size_t nt = d->rows * k, i = 0;
        while (i < nt && (d->y[i] == 0.0f || d->y[i] == 1.0f))
            i++;
        if (i == nt && loss == NNR_LOSS_BCE)
            p->accuracy = 2;
        else if (i == nt && loss == NNR_LOSS_BCE_WITH_LOGITS)
            p->accuracy = 3;
        return 0;
    }
    if (d->labels && k == 1) {
        p->targets = prog_falloc(d->rows);
        if (!p->targets) {
            prog_oom();
            return -1;
        }
        p->own_targets = 1;
        for (size_t r = 0; r < d->rows; r++)
            p->targets[r] = (float)d->labels[r];
        if (loss == NNR_LOSS_BCE)
            p->accuracy = 2;
        else if (loss == NNR_LOSS_BCE_WITH_LOGITS)
            p->accuracy = 3;
        return 0;
    }
    if (d->labels)
        fprintf(stderr, "%s: error: the loss %s needs %zu target columns (targets = %zu), the data has "
                "class labels\n", src->path, prog_loss_name(loss), k, k);
    else
        fprintf(stderr, "%s: error: the loss %s needs %zu target columns, the data has none\n",
                src->path, prog_loss_name(loss), k);
    return -1;
}

/* Reads src and checks it against the model and the loss. Prints the error
 * and returns -1 on failure. */
/* The line of a CSV row, for prog_check_int_inputs. */
typedef struct csv_lines { const unsigned char *text; size_t len; int header; } csv_lines;

static size_t csv_line_cb(void *ctx, size_t row)
{
    const csv_lines *c = ctx;
    return csv_line_of_row(c->text, c->len, c->header, row);
}

int prog_load_data(const nnr_model *m, nnr_loss loss, const nnr_data_src *src, prog_data *p)
{
    unsigned char *text;
    size_t tlen = 0;
    memset(p, 0, sizeof *p);
    p->path = src->path;
    nnr_data_src s2 = *src;     /* a sequence output takes the last T columns as its labels */
    size_t seq = prog_seq_len(m, loss);
    if (seq && src->kind == NNR_DATA_CSV && src->csv.targets == 0)
        s2.csv.has_label = 0, s2.csv.targets = (int)seq;
    if (read_source(&s2, p, &text, &tlen))
        return -1;
    const nnr_dataset *d = &p->d;
    if (d->rows == 0) {
        fprintf(stderr, "%s: error: no samples\n", src->path);
        goto fail;
    }
    if (d->ncols != m->in_size) {
        if (src->kind == NNR_DATA_TEXT)
            fprintf(stderr, "%s: error: text(context = %d) makes samples of %zu tokens, the model's input needs %zu\n",
                    src->path, src->context, d->ncols, m->in_size);
        else if (src->kind == NNR_DATA_CSV)
            fprintf(stderr, "%s:%zu: error: expected %zu input values per row (the model's input), found %zu\n",
                    src->path, csv_line_of_row(text, tlen, src->csv.header, 0), m->in_size, d->ncols);
        else
            fprintf(stderr, "%s: byte 8: error: images have %zu values each, the model's input needs %zu\n",
                    src->path, d->ncols, m->in_size);
        goto fail;
    }
    csv_lines cl = {text, tlen, src->csv.header};
    if (prog_check_int_inputs(m, d->x, d->rows, 0, src->path, src->kind == NNR_DATA_CSV ? csv_line_cb : NULL, &cl))
        goto fail;
    if (seq && d->y && prog_seq_labels(m, &p->d, src->path, src->kind == NNR_DATA_CSV ? csv_line_cb : NULL, &cl))
        goto fail;
    p->seq = seq;
    if (src->kind == NNR_DATA_TEXT && prog_text_check(m, loss, p))
        goto fail;
    const char *lpath = src->kind == NNR_DATA_IDX && src->path2 ? src->path2 : src->path;
    size_t k = m->out_size;
    int classify = loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL;
    int binary = (loss == NNR_LOSS_BCE || loss == NNR_LOSS_BCE_WITH_LOGITS) && k == 1;
    if (d->labels && (classify || binary) && !seq) {
        /* Class labels must fit the model's outputs (0 or 1 for a single
         * binary output). */
        size_t nclass = classify ? k : 2;
        for (size_t r = 0; r < d->rows; r++) {
            int32_t c = d->labels[r];
            if (c >= 0 && (size_t)c < nclass)
                continue;
            if (src->kind == NNR_DATA_IDX)
                fprintf(stderr, "%s: byte %zu: error: class label %d is out of range for a model "
                        "with %zu output%s\n", lpath, (size_t)8 + r, (int)c, k,
                        k == 1 ? "" : "s");
            else
                fprintf(stderr, "%s:%zu: error: class label %d is out of range for a model with "
                        "%zu output%s\n", lpath, csv_line_of_row(text, tlen, src->csv.header, r),
                        (int)c, k, k == 1 ? "" : "s");
            goto fail;
        }
    }
    if (bind_targets(m, loss, src, p))
        goto fail;
    free(text);
    return 0;
fail:
    free(text);
    prog_data_free(p);
    return -1;
}

/* The index of the first largest of v[0..k), as torch.argmax. */
static size_t argmax_of(const float *v, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

/* Correct predictions among pred[n, k] for rows starting at row0: one per
 * row (argmax), or one per output (thresholded against 0/1 targets). */
static size_t count_correct(const prog_data *p, size_t row0, int n, size_t k, const float *pred)
{
    size_t ok = 0;
    for (int i = 0; i < n; i++) {
        const float *y = pred + (size_t)i * k;
        const float *t = p->targets ? p->targets + (row0 + (size_t)i) * k : NULL;
        if (p->accuracy == 1)
            ok += argmax_of(y, k) == (size_t)p->d.labels[row0 + (size_t)i];
        else if (p->accuracy == 4)
            ok += argmax_of(y, k) == argmax_of(t, k);
        else
            for (size_t j = 0; j < k; j++)
                ok += (p->accuracy == 2 ? y[j] > 0.5f : y[j] > 0.0f) == (t[j] == 1.0f);
    }
    return ok;
}

/* bce takes probabilities: PyTorch refuses an input outside [0, 1] ("all
 * elements of input should be between 0 and 1"). Prints the error for the
 * first such output of rows r0.. and returns -1. */
static int check_bce_input(const prog_data *p, size_t r0, int n, size_t k, const float *y)
{
    for (size_t i = 0; i < (size_t)n * k; i++) {
        if (y[i] >= 0.0f && y[i] <= 1.0f)
            continue;
        fprintf(stderr, "error: bce needs probabilities in [0, 1], but the model's output for "
                "sample %zu of %s is %.9g (end the model in sigmoid, or use "
                "bce_with_logits)\n", r0 + i / k + 1, p->path, (double)y[i]);
        return -1;
    }
    return 0;
}

/* The batch's loss of cross_entropy with label_smoothing eps (PyTorch's):
 * on the labels' smoothed rows, or on (1 - eps) t + eps / k of probability
 * rows t; soft holds n * k floats. */
static double smoothed_loss(const prog_data *p, size_t r, int n, size_t k, const float *y,
                            float *soft)
{
    if (p->labels) {
        nnr_smooth_labels(n, (int)k, p->labels + r, p->smooth, soft);
    } else {
        const float *t = p->targets + r * k;
        for (size_t j = 0; j < (size_t)n * k; j++)
            soft[j] = (float)((1.0 - p->smooth) * t[j] + p->smooth / (double)k);
    }
    return nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, n, (int)k, y, NULL, soft, NULL);
}

/* Forward over the whole data set in batches of bs (infer must be prepared):
 * the mean loss (label-smoothed when p->smooth is set and the loss is
 * cross_entropy, as the training loss) and the accuracy (NAN when there is
 * none). -1 after the message when bce meets an output outside [0, 1]. */
int prog_evaluate(const nnr_model *m, nnr_loss loss, const float *infer, const prog_data *p,
                    int bs, float *arena, float *ybuf, double *loss_out, double *acc_out)
{
    size_t k = m->out_size, rows = p->d.rows, correct = 0, counted = 0;
    double total = 0;
    float *soft = NULL;
    if (p->smooth > 0 && loss == NNR_LOSS_CROSS_ENTROPY && (p->labels || (p->targets && !p->own_targets))) {
        soft = prog_falloc((size_t)bs * k);
        if (!soft) {
            prog_oom();
            return -1;
        }
    }
    if (p->seq && p->labels) {  /* a sequence output: means over the positions not ignored */
        for (size_t r = 0; r < rows; r += (size_t)bs) {
            int n = (int)(rows - r < (size_t)bs ? rows - r : (size_t)bs);
            m->forward(&(nnr_ctx){.n = n, .params = infer, .arena = arena}, p->d.x + r * m->in_size, ybuf);
            for (int i = 1; i < n && prog_ysize(m) > k; i++)
                memmove(ybuf + (size_t)i * k, ybuf + (size_t)i * prog_ysize(m), k * sizeof *ybuf);
            size_t c = 0, ok = 0;
            double l = prog_seq_eval(m, loss, ybuf, n, p->labels + r * p->seq, p->smooth, soft, &c, &ok);
            if (c)
                total += l * (double)c;
            counted += c, correct += ok;
        }
        *loss_out = counted ? total / (double)counted : NAN;
        *acc_out = counted ? (double)correct / (double)counted : NAN;
        free(soft);
        return 0;
    }
    for (size_t r = 0; r < rows; r += (size_t)bs) {
        int n = (int)(rows - r < (size_t)bs ? rows - r : (size_t)bs);
        m->forward(&(nnr_ctx){.n = n, .params = infer, .arena = arena}, p->d.x + r * m->in_size, ybuf);
        for (int i = 1; i < n && prog_ysize(m) > k; i++)    /* the loss's output: the first */
            memmove(ybuf + (size_t)i * k, ybuf + (size_t)i * prog_ysize(m), k * sizeof *ybuf);
        if (loss == NNR_LOSS_BCE && check_bce_input(p, r, n, k, ybuf))
            return -1;
        double l = soft ? smoothed_loss(p, r, n, k, ybuf, soft)
                        : nnr_loss_f32(loss, n, (int)k, ybuf, p->labels ? p->labels + r : NULL,
                                       p->targets ? p->targets + r * (p->own_targets ? 1 : k) : NULL,
                                       NULL);
        total += l * n;
        if (p->accuracy)
            correct += count_correct(p, r, n, k, ybuf);
    }
    free(soft);
    *loss_out = total / (double)rows;
    size_t per_row = p->accuracy == 2 || p->accuracy == 3 ? k : 1;
    *acc_out = p->accuracy ? (double)correct / (double)(rows * per_row) : NAN;
    return 0;
}

nnr_loss prog_default_loss(const nnr_model *m)
{
    return m->cfg.present ? m->cfg.loss : NNR_LOSS_CROSS_ENTROPY;
}

/* The checks `nnc check` makes of a train block's loss against the model,
 * for a loss chosen at run time: cross_entropy and nll need one vector of
 * class scores per sample (an error: -1), and cross_entropy after a final
 * softmax applies it twice (a warning, when warn is set). */
int prog_check_loss_model(const nnr_model *m, nnr_loss loss, int warn)
{
    const char *ln = prog_loss_name(loss);
    if ((loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL) && m->out_ndim != 1 && m->out_ndim != 2) {
        char sh[128];
        int at = snprintf(sh, sizeof sh, "[");
        for (int i = 0; i < m->out_ndim && at < (int)sizeof sh - 24; i++)
            at += snprintf(sh + at, sizeof sh - (size_t)at, "%s%lld", i ? ", " : "",
                           (long long)m->out_shape[i]);
        snprintf(sh + at, sizeof sh - (size_t)at, "]");
        fprintf(stderr, "error: the loss %s needs one vector of class scores per sample (or a "
                "sequence [T, C] of them), but the model's output has shape %s (add flatten)\n", ln, sh);
        return -1;
    }
    if (warn && loss == NNR_LOSS_CROSS_ENTROPY && m->layers) {
        /* flatten, identity and dropout do not hide a final softmax */
        int l = m->nlayers - 1;
        while (l >= 0 && (!strcmp(m->layers[l].op, "flatten") ||
                          !strcmp(m->layers[l].op, "identity") ||
                          !strcmp(m->layers[l].op, "dropout")))
            l--;
        if (l >= 0 && !strcmp(m->layers[l].op, "softmax"))
            fprintf(stderr, "warning: the model ends in softmax and cross_entropy applies "
                    "log_softmax itself: the softmax is applied twice (use the logits, or nll "
                    "after log_softmax)\n");
    }
    return 0;
}

