/* prog.c — the driver behind every program `nnc build` makes: argument
 * parsing and the commands infer | train | eval | bench (LANGUAGE.md §6).
 *
 * Everything model-specific comes through the nnr_model table (nnr_prog.h);
 * this file only loads state and data, batches, shuffles, steps the
 * optimizer, logs and saves. Every input is validated before any work is
 * done, so a bad file never leaves half an output or half a training run.
 * Exit status: 0 ok, 1 bad input (message on stderr naming the file),
 * 2 bad usage. Plain C11 + POSIX (isatty, clock_gettime), libc and libm. */
#define _POSIX_C_SOURCE 200809L

#include "nnr_prog.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG_ERRLEN 1024
#define PROG_INFER_BATCH 256   /* rows per forward call of infer and eval */
#define PROG_DROPOUT_SALT 0x9E3779B97F4A7C15ull

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

/* ------------------------------------------------------------ small helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A float buffer of at least one element, zeroed; NULL only when out of memory. */
static float *falloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

static void oom(void)
{
    fprintf(stderr, "error: out of memory\n");
}

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

/* ------------------------------------------------------------ usage */

static void usage(const nnr_model *m, FILE *f)
{
    const char *n = m->name ? m->name : "program";
    fprintf(f,
            "usage: %s COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  infer [--weights W.safetensors]\n"
            "        read samples as CSV rows on standard input (%zu values each),\n"
            "        write one CSV row of %zu outputs per sample on standard output\n"
            "  train [--data F] [--validation F] [--epochs N] [--batch N] [--lr X]\n"
            "        [--seed N] [--init W] [--save W] [--log F] [--loss NAME]\n"
            "        [--optimizer SPEC] [--shuffle BOOL] [--strict BOOL] [--freeze LIST]\n"
            "        train as the model's train block says, with these overrides:\n"
            "        --loss mse|l1|bce|bce_with_logits|cross_entropy|nll\n"
            "        --optimizer 'sgd(lr = 0.1, momentum = 0.9)', 'adam(...)' or\n"
            "          'adamw(...)', as in the train block (--lr applies after it)\n"
            "        --shuffle, --strict: true or false (1 or 0)\n"
            "        --freeze: layers not updated, by name or 0-based position,\n"
            "          comma-separated (\"fc,2\"); replaces the train block's list,\n"
            "          \"\" freezes none\n"
            "  eval  [--data F] [--weights W.safetensors] [--loss NAME]\n"
            "        print loss=<value> (and accuracy=<value> for classification)\n"
            "  bench [--batch N] [--train] [--seconds S]\n"
            "        time the forward pass (or a training step); the last line is\n"
            "        median_us=<microseconds> batch=<N>\n"
            "  gradcheck [--batch N] [--seed N]\n"
            "        compare the compiled gradients with central finite differences\n"
            "        of the loss on random data (a test of the compiler)\n"
            "\n"
            "options:\n"
            "  -h, --help     show this message\n"
            "  --version      show the runtime version\n"
            "\n"
            "An idx data source is given as IMAGES or IMAGES,LABELS.\n"
            "Exit status: 0 success, 1 bad input, 2 bad usage.\n",
            n, m->in_size, m->out_size);
}

static void usage_short(const nnr_model *m, FILE *f)
{
    const char *n = m->name ? m->name : "program";
    fprintf(f,
            "usage: %s infer [--weights W]\n"
            "       %s train [--data F] [--validation F] [--epochs N] [--batch N] [--lr X]\n"
            "             [--seed N] [--init W] [--save W] [--log F] [--loss NAME]\n"
            "             [--optimizer SPEC] [--shuffle BOOL] [--strict BOOL] [--freeze LIST]\n"
            "       %s eval [--data F] [--weights W] [--loss NAME]\n"
            "       %s bench [--batch N] [--train] [--seconds S]\n"
            "Run '%s --help' for more.\n",
            n, n, n, n, n);
}

static int usage_error(const nnr_model *m, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", m->name ? m->name : "program");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage_short(m, stderr);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------ options */

enum { CMD_INFER = 1, CMD_TRAIN = 2, CMD_EVAL = 4, CMD_BENCH = 8, CMD_GRADCHECK = 16 };

enum {
    OPT_WEIGHTS, OPT_DATA, OPT_VALIDATION, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_SEED,
    OPT_INIT, OPT_SAVE, OPT_LOG, OPT_SECONDS, OPT_TRAIN, OPT_LOSS, OPT_OPTIMIZER, OPT_SHUFFLE,
    OPT_STRICT, OPT_FREEZE, OPT_COUNT
};

static const struct {
    const char *name;
    int takes_value;    /* 0 a flag, 1 a value, 2 a value that may be empty */
    int cmds;           /* commands that accept it */
} opt_table[OPT_COUNT] = {
    [OPT_WEIGHTS]    = {"--weights", 1, CMD_INFER | CMD_EVAL | CMD_BENCH},
    [OPT_DATA]       = {"--data", 1, CMD_TRAIN | CMD_EVAL},
    [OPT_VALIDATION] = {"--validation", 1, CMD_TRAIN},
    [OPT_EPOCHS]     = {"--epochs", 1, CMD_TRAIN},
    [OPT_BATCH]      = {"--batch", 1, CMD_TRAIN | CMD_BENCH | CMD_EVAL | CMD_INFER | CMD_GRADCHECK},
    [OPT_LR]         = {"--lr", 1, CMD_TRAIN},
    [OPT_SEED]       = {"--seed", 1, CMD_TRAIN | CMD_BENCH | CMD_GRADCHECK},
    [OPT_INIT]       = {"--init", 1, CMD_TRAIN},
    [OPT_SAVE]       = {"--save", 1, CMD_TRAIN},
    [OPT_LOG]        = {"--log", 1, CMD_TRAIN},
    [OPT_SECONDS]    = {"--seconds", 1, CMD_BENCH},
    [OPT_TRAIN]      = {"--train", 0, CMD_BENCH},
    [OPT_LOSS]       = {"--loss", 1, CMD_TRAIN | CMD_EVAL},
    [OPT_OPTIMIZER]  = {"--optimizer", 1, CMD_TRAIN},
    [OPT_SHUFFLE]    = {"--shuffle", 1, CMD_TRAIN},
    [OPT_STRICT]     = {"--strict", 1, CMD_TRAIN},
    [OPT_FREEZE]     = {"--freeze", 2, CMD_TRAIN},   /* "": freeze none */
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
} prog_opts;

static int parse_int(const char *s, long min, long *out)
{
    char *end;
    errno = 0;
    if (!*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > INT_MAX)
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == ' ' || *s == '\t')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Moves [*a, *b) of s past the spaces and tabs at either end. */
static void trim_blanks(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && (s[*a] == ' ' || s[*a] == '\t'))
        (*a)++;
    while (*b > *a && (s[*b - 1] == ' ' || s[*b - 1] == '\t'))
        (*b)--;
}

/* ------------------------------------------------------------ train-block values */

static const char *loss_name(nnr_loss l);
static int check_loss_model(const nnr_model *m, nnr_loss loss, int warn);

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_loss(const char *s, nnr_loss *out)
{
    for (int i = NNR_LOSS_MSE; i <= NNR_LOSS_NLL; i++)
        if (!strcmp(s, loss_name((nnr_loss)i))) {
            *out = (nnr_loss)i;
            return 0;
        }
    return -1;
}

/* The layer at position pos, or named name (label, or the position as text
 * for an unnamed layer, as in the state_dict): its position, or -1. Without
 * a layer table, the layers that have tensors. */
static int find_layer(const nnr_model *m, long pos, const char *name)
{
    if (m->layers && m->nlayers > 0) {
        for (int l = 0; l < m->nlayers; l++)
            if (name ? !strcmp(m->layers[l].name, name) : l == pos)
                return l;
        return -1;
    }
    for (int i = 0; i < m->ntensors; i++)
        if (name ? !strcmp(m->tensors[i].layer_name, name) : m->tensors[i].layer == pos)
            return m->tensors[i].layer;
    return -1;
}

/* --freeze: comma-separated layer names or 0-based positions (digits), in
 * optional brackets, a name optionally in quotes; empty: none. Fills
 * o->freeze. 0, or -1 with a message in err. */
static int parse_freeze(const nnr_model *m, const char *s, prog_opts *o, char *err,
                        size_t errlen)
{
    size_t len = strlen(s), a = 0, b = len;
    trim_blanks(s, &a, &b);
    if (b - a >= 2 && s[a] == '[' && s[b - 1] == ']') {
        a++, b--;
        trim_blanks(s, &a, &b);
    }
    o->freeze = calloc(len + 1, sizeof *o->freeze);
    if (!o->freeze) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->nfreeze = 0;
    if (a == b)
        return 0;   /* nothing frozen */
    const char *mname = m->name ? m->name : "program";
    while (a <= b) {
        size_t e = a;
        while (e < b && s[e] != ',')
            e++;
        size_t p = a, q = e;
        trim_blanks(s, &p, &q);
        int quoted = q - p >= 2 && (s[p] == '"' || s[p] == '\'') && s[q - 1] == s[p];
        if (quoted)
            p++, q--;
        if (p == q) {
            snprintf(err, errlen, "--freeze: empty layer name in '%s'", s);
            return -1;
        }
        char item[256];
        int ilen = q - p < sizeof item ? (int)(q - p) : (int)sizeof item - 1;
        memcpy(item, s + p, (size_t)ilen);
        item[ilen] = '\0';
        size_t digits = 0;
        while (digits < (size_t)ilen && item[digits] >= '0' && item[digits] <= '9')
            digits++;
        int layer;
        if (!quoted && digits == (size_t)ilen) {
            long pos;
            layer = parse_int(item, 0, &pos) ? -1 : find_layer(m, pos, NULL);
            if (layer < 0) {
                snprintf(err, errlen, "--freeze: model '%s' has no layer at position %s", mname,
                         item);
                return -1;
            }
        } else {
            layer = find_layer(m, 0, item);
            if (layer < 0) {
                snprintf(err, errlen, "--freeze: model '%s' has no layer named '%s'", mname,
                         item);
                return -1;
            }
        }
        o->freeze[o->nfreeze++] = layer;
        a = e + 1;
    }
    return 0;
}

/* Fills o from argv. Returns -1 to go on, or an exit status (0 after --help). */
static int parse_args(const nnr_model *m, int argc, char **argv, prog_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(m, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("%s (nnc runtime %s)\n", m->name ? m->name : "program", NNR_VERSION);
            return EXIT_OK;
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            int k;
            for (k = 0; k < OPT_COUNT; k++)
                if (strlen(opt_table[k].name) == nlen && !strncmp(opt_table[k].name, a, nlen))
                    break;
            if (k == OPT_COUNT)
                return usage_error(m, "unknown option '%.*s'", (int)nlen, a);
            if (!opt_table[k].takes_value) {
                if (eq)
                    return usage_error(m, "option '%s' takes no value", opt_table[k].name);
                o->val[k] = "";
            } else if (eq) {
                o->val[k] = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return usage_error(m, "option '%s' needs a value", opt_table[k].name);
                o->val[k] = argv[++i];
            }
            continue;
        }
        if (a[0] == '-' && a[1])
            return usage_error(m, "unknown option '%s'", a);
        if (o->cmd)
            return usage_error(m, "unexpected argument '%s'", a);
        if (!strcmp(a, "infer"))
            o->cmd = CMD_INFER;
        else if (!strcmp(a, "train"))
            o->cmd = CMD_TRAIN;
        else if (!strcmp(a, "eval"))
            o->cmd = CMD_EVAL;
        else if (!strcmp(a, "bench"))
            o->cmd = CMD_BENCH;
        else if (!strcmp(a, "gradcheck"))
            o->cmd = CMD_GRADCHECK;
        else
            return usage_error(m, "unknown command '%s'", a);
        o->cmd_name = a;
    }
    if (!o->cmd)
        return usage_error(m, "missing command (infer, train, eval or bench)");
    for (int k = 0; k < OPT_COUNT; k++)
        if (o->val[k] && !(opt_table[k].cmds & o->cmd))
            return usage_error(m, "option '%s' does not apply to '%s'", opt_table[k].name,
                               o->cmd_name);
    for (int k = 0; k < OPT_COUNT; k++)
        if (o->val[k] && opt_table[k].takes_value == 1 && !o->val[k][0])
            return usage_error(m, "option '%s' needs a value", opt_table[k].name);

    long v;
    if (o->val[OPT_EPOCHS]) {
        if (parse_int(o->val[OPT_EPOCHS], 0, &v))
            return usage_error(m, "--epochs expects a non-negative integer, got '%s'",
                               o->val[OPT_EPOCHS]);
        o->epochs = (int)v;
    }
    if (o->val[OPT_BATCH]) {
        if (parse_int(o->val[OPT_BATCH], 1, &v))
            return usage_error(m, "--batch expects a positive integer, got '%s'",
                               o->val[OPT_BATCH]);
        o->batch = (int)v;
    }
    if (o->val[OPT_LR]) {
        if (parse_double(o->val[OPT_LR], &o->lr) || o->lr < 0)
            return usage_error(m, "--lr expects a non-negative number, got '%s'",
                               o->val[OPT_LR]);
    }
    if (o->val[OPT_SEED]) {
        if (parse_u64(o->val[OPT_SEED], &o->seed))
            return usage_error(m, "--seed expects a non-negative integer, got '%s'",
                               o->val[OPT_SEED]);
    }
    if (o->val[OPT_SECONDS]) {
        if (parse_double(o->val[OPT_SECONDS], &o->seconds) || o->seconds <= 0)
            return usage_error(m, "--seconds expects a positive number, got '%s'",
                               o->val[OPT_SECONDS]);
    }
    if (o->val[OPT_LOSS] && parse_loss(o->val[OPT_LOSS], &o->loss))
        return usage_error(m, "--loss expects mse, l1, bce, bce_with_logits, cross_entropy or "
                           "nll, got '%s'", o->val[OPT_LOSS]);
    if (o->val[OPT_SHUFFLE] && parse_bool(o->val[OPT_SHUFFLE], &o->shuffle))
        return usage_error(m, "--shuffle expects true or false, got '%s'", o->val[OPT_SHUFFLE]);
    if (o->val[OPT_STRICT] && parse_bool(o->val[OPT_STRICT], &o->strict))
        return usage_error(m, "--strict expects true or false, got '%s'", o->val[OPT_STRICT]);
    char err[PROG_ERRLEN];
    if (o->val[OPT_OPTIMIZER] && nnr_parse_optimizer(o->val[OPT_OPTIMIZER], &o->optim, err, sizeof err))
        return usage_error(m, "--optimizer: %s", err);
    if (o->val[OPT_FREEZE] && parse_freeze(m, o->val[OPT_FREEZE], o, err, sizeof err))
        return usage_error(m, "%s", err);
    return -1;
}

/* ------------------------------------------------------------ state */

/* The fresh initialisation: compiled-in parameters, else init(seed). */
static void fresh_state(const nnr_model *m, float *state, uint64_t seed)
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
static int load_weights(const nnr_model *m, const char *path, int strict, float *state)
{
    return nnr_load_state(path, m->tensors, m->ntensors, strict, state, NULL, NULL);
}

/* State for infer / eval / bench: --weights (strict), else the compiled-in
 * parameters or the seeded default initialisation. */
static int load_infer_state(const nnr_model *m, const char *weights, float *state)
{
    fresh_state(m, state, m->cfg.seed);
    if (weights && load_weights(m, weights, 1, state))
        return -1;
    return 0;
}

static void prepare(const nnr_model *m, const float *state, float *infer)
{
    if (m->prepare)
        m->prepare(state, infer);
}

/* A reader's or writer's message "PATH[:LINE[:COL]]: text" (or "PATH: byte
 * offset N: text") printed as "PATH[:LINE[:COL]]: error: text" ("PATH: byte
 * offset N: error: text"), the form of every other diagnostic; a message
 * that does not start with path gets "error: " in front. */
static void print_file_error(const char *path, const char *err)
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

static int save_state(const nnr_model *m, const char *path, const float *state)
{
    char err[PROG_ERRLEN];
    nnr_st_out *t = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t);
    if (!t) {
        oom();
        return -1;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        t[i].name = d->name;
        t[i].ndim = d->ndim;
        t[i].shape = d->shape;
        t[i].data = state + d->offset;
        t[i].is_int = d->kind == NNR_T_COUNTER;
    }
    int rc = nnr_st_write(path, t, m->ntensors, err, sizeof err);
    free(t);
    if (rc) {
        print_file_error(path, err);
        return -1;
    }
    printf("saved %s\n", path);
    fflush(stdout);
    return 0;
}

/* Checks before training that the folder of path can take the file, so a
 * long run does not end in an unsaved result. */
static int check_writable(const char *path)
{
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
} prog_data;

static void data_free(prog_data *p)
{
    if (p->own_targets)
        free(p->targets);
    nnr_dataset_free(&p->d);
    memset(p, 0, sizeof *p);
}

static const char *loss_name(nnr_loss l)
{
    switch (l) {
    case NNR_LOSS_MSE: return "mse";
    case NNR_LOSS_L1: return "l1";
    case NNR_LOSS_BCE: return "bce";
    case NNR_LOSS_BCE_WITH_LOGITS: return "bce_with_logits";
    case NNR_LOSS_CROSS_ENTROPY: return "cross_entropy";
    case NNR_LOSS_NLL: return "nll";
    }
    return "loss";
}

/* The source for a command-line path: base's options with the path(s)
 * replaced. *owned receives memory to free (idx "IMAGES,LABELS"). */
static int override_src(const nnr_data_src *base, const char *value, nnr_data_src *out,
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
                oom();
                return -1;
            }
            strcpy(s, value);
            memcpy(s + (img - value), "labels-idx1", 11);
            out->path2 = s;
            *owned = s;
        } else if (comma) {
            char *s = malloc(strlen(value) + 1);
            if (!s) {
                oom();
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

/* The 1-based line of data row `row` of a CSV file (blank lines and the
 * header skipped, as the reader does), for messages. */
static size_t csv_line_of_row(const char *path, int header, size_t row)
{
    char err[PROG_ERRLEN];
    size_t len, pos = 0, line = 0, seen = 0;
    unsigned char *buf = nnr_read_file(path, &len, err, sizeof err);
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
    free(buf);
    return line;
}

/* Reads src and checks it against the model and the loss. Prints the error
 * and returns -1 on failure. */
static int load_data(const nnr_model *m, nnr_loss loss, const nnr_data_src *src, prog_data *p)
{
    char err[PROG_ERRLEN];
    memset(p, 0, sizeof *p);
    p->path = src->path;
    int rc;
    if (src->kind == NNR_DATA_IDX)
        rc = nnr_idx_read(src->path, src->path2, src->scale, &p->d, err, sizeof err);
    else
        rc = nnr_csv_read(src->path, &src->csv, &p->d, err, sizeof err);
    if (rc) {
        /* an IDX error names the images file or the labels file */
        size_t l1 = strlen(src->path), l2 = src->path2 ? strlen(src->path2) : 0;
        int is2 = l2 && strncmp(err, src->path2, l2) == 0 &&
                  (l2 > l1 || strncmp(err, src->path, l1) != 0);
        print_file_error(is2 ? src->path2 : src->path, err);
        memset(&p->d, 0, sizeof p->d);
        return -1;
    }
    const nnr_dataset *d = &p->d;
    if (d->rows == 0) {
        fprintf(stderr, "%s: error: no samples\n", src->path);
        goto fail;
    }
    if (d->ncols != m->in_size) {
        if (src->kind == NNR_DATA_CSV)
            fprintf(stderr, "%s:%zu: error: expected %zu input values per row (the model's input), found %zu\n",
                    src->path, csv_line_of_row(src->path, src->csv.header, 0), m->in_size, d->ncols);
        else
            fprintf(stderr, "%s: byte 8: error: images have %zu values each, the model's input needs %zu\n",
                    src->path, d->ncols, m->in_size);
        goto fail;
    }
    const char *lpath = src->kind == NNR_DATA_IDX && src->path2 ? src->path2 : src->path;
    size_t k = m->out_size;
    int classify = loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL;
    int binary = (loss == NNR_LOSS_BCE || loss == NNR_LOSS_BCE_WITH_LOGITS) && k == 1;
    if (d->labels && (classify || binary)) {
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
                        "%zu output%s\n", lpath, csv_line_of_row(src->path, src->csv.header, r),
                        (int)c, k, k == 1 ? "" : "s");
            goto fail;
        }
    }
    if (classify) {
        if (d->labels) {
            p->labels = d->labels;
            p->accuracy = 1;
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
            goto fail;
        } else {
            fprintf(stderr, "%s: error: the loss %s needs class labels, the data has none\n",
                    src->path, loss_name(loss));
            goto fail;
        }
        return 0;
    }
    /* mse, l1, bce, bce_with_logits: float targets. */
    if (d->y) {
        if (d->ntargets != k) {
            fprintf(stderr, "%s: error: samples have %zu targets, the model has %zu outputs\n",
                    src->path, d->ntargets, k);
            goto fail;
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
        p->targets = falloc(d->rows);
        if (!p->targets) {
            oom();
            goto fail;
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
                "class labels\n", src->path, loss_name(loss), k, k);
    else
        fprintf(stderr, "%s: error: the loss %s needs %zu target columns, the data has none\n",
                src->path, loss_name(loss), k);
fail:
    data_free(p);
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

/* Forward over the whole data set in batches of bs (infer must be prepared):
 * the mean loss and the accuracy (NAN when there is none). -1 after the
 * message when bce meets an output outside [0, 1]. */
static int evaluate(const nnr_model *m, nnr_loss loss, const float *infer, const prog_data *p,
                    int bs, float *arena, float *ybuf, double *loss_out, double *acc_out)
{
    size_t k = m->out_size, rows = p->d.rows, correct = 0;
    double total = 0;
    for (size_t r = 0; r < rows; r += (size_t)bs) {
        int n = (int)(rows - r < (size_t)bs ? rows - r : (size_t)bs);
        m->forward(infer, n, p->d.x + r * m->in_size, ybuf, arena);
        if (loss == NNR_LOSS_BCE && check_bce_input(p, r, n, k, ybuf))
            return -1;
        double l = nnr_loss_f32(loss, n, (int)k, ybuf, p->labels ? p->labels + r : NULL,
                                p->targets ? p->targets + r * (p->own_targets ? 1 : k) : NULL,
                                NULL);
        total += l * n;
        if (p->accuracy)
            correct += count_correct(p, r, n, k, ybuf);
    }
    *loss_out = total / (double)rows;
    size_t per_row = p->accuracy == 2 || p->accuracy == 3 ? k : 1;
    *acc_out = p->accuracy ? (double)correct / (double)(rows * per_row) : NAN;
    return 0;
}

/* ------------------------------------------------------------ infer */

/* A decimal number, the whole of s[0..n): [+-]? (d+ (. d*)? | . d+)
 * ([eE] [+-]? d+)? — the grammar of the CSV reader (no nan, inf or hex).
 * 0, -1 not a number, -2 out of the range of a float. */
static int parse_cell(const char *s, size_t n, double *out)
{
    size_t i = 0, nd = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, nd++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, nd++;
    }
    if (nd == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t es = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == es)
            return -1;
    }
    if (i != n)
        return -1;
    char small[64], *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    if (!(fabs(v) < 3.4028235677973366e38))   /* rounds to a finite float */
        return -2;
    if (v > FLT_MAX)
        v = FLT_MAX;
    if (v < -FLT_MAX)
        v = -FLT_MAX;
    *out = v;
    return 0;
}

/* Parses CSV rows of exactly m->in_size numbers from buf. Blank lines are
 * skipped. Returns the number of rows (>= 0) with *xs (malloc'd), or -1 after
 * printing "<stdin>:LINE[:COL]: error: ...". */
static long parse_stdin_rows(const nnr_model *m, const char *buf, size_t len, float **xs)
{
    size_t cap = 0, nvals = 0, rows = 0, line = 0, pos = 0;
    float *x = NULL;
    *xs = NULL;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        line++;
        size_t lend = end;
        if (lend > pos && buf[lend - 1] == '\r')
            lend--;
        size_t q = pos;
        while (q < lend && (buf[q] == ' ' || buf[q] == '\t'))
            q++;
        if (q < lend) {
            size_t count = 0, c = pos;
            for (;;) {
                size_t ce = c;
                while (ce < lend && buf[ce] != ',')
                    ce++;
                size_t s = c, e = ce;
                trim_blanks(buf, &s, &e);
                double v = 0;
                int r = parse_cell(buf + s, e - s, &v);
                if (r) {
                    int show = e - s > 32 ? 32 : (int)(e - s);
                    if (e == s)
                        fprintf(stderr, "<stdin>:%zu:%zu: error: expected a number, found an empty "
                                "cell\n", line, c - pos + 1);
                    else if (r == -2)
                        fprintf(stderr, "<stdin>:%zu:%zu: error: number '%.*s' is out of the range "
                                "of a float\n", line, s - pos + 1, show, buf + s);
                    else
                        fprintf(stderr, "<stdin>:%zu:%zu: error: expected a number, found '%.*s'\n",
                                line, s - pos + 1, show, buf + s);
                    free(x);
                    return -1;
                }
                if (count < m->in_size) {
                    if (nvals == cap) {
                        size_t ncap = cap ? cap * 2 : 1024;
                        float *nx = realloc(x, ncap * sizeof *nx);
                        if (!nx) {
                            free(x);
                            oom();
                            return -1;
                        }
                        x = nx;
                        cap = ncap;
                    }
                    x[nvals++] = (float)v;
                }
                count++;
                if (ce >= lend)
                    break;
                c = ce + 1;
            }
            if (count != m->in_size) {
                fprintf(stderr, "<stdin>:%zu: error: expected %zu value%s, found %zu\n", line,
                        m->in_size, m->in_size == 1 ? "" : "s", count);
                free(x);
                return -1;
            }
            rows++;
        }
        pos = end + 1;
    }
    if (rows > (size_t)LONG_MAX) {
        free(x);
        return -1;
    }
    *xs = x;
    return (long)rows;
}

static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int cmd_infer(const nnr_model *m, const prog_opts *o)
{
    int rc = EXIT_INPUT;
    float *state = falloc(m->state_size), *infer = falloc(m->infer_size);
    float *x = NULL, *y = NULL, *arena = NULL;
    char *buf = NULL;
    if (!state || !infer) {
        oom();
        goto done;
    }
    if (load_infer_state(m, o->val[OPT_WEIGHTS], state))
        goto done;
    size_t len = 0;
    buf = read_stream(stdin, &len);
    if (!buf) {
        fprintf(stderr, "<stdin>: error: cannot read standard input\n");
        goto done;
    }
    long rows = parse_stdin_rows(m, buf, len, &x);
    if (rows < 0)
        goto done;
    free(buf);
    buf = NULL;
    prepare(m, state, infer);
    int bs = o->batch ? o->batch : PROG_INFER_BATCH;
    if ((long)bs > rows)
        bs = rows > 0 ? (int)rows : 1;
    y = falloc((size_t)bs * m->out_size);
    arena = falloc(m->arena_size ? m->arena_size(bs) : 0);
    if (!y || !arena) {
        oom();
        goto done;
    }
    for (long r = 0; r < rows; r += bs) {
        int n = (int)(rows - r < bs ? rows - r : bs);
        m->forward(infer, n, x + (size_t)r * m->in_size, y, arena);
        for (int i = 0; i < n; i++) {
            const float *yi = y + (size_t)i * m->out_size;
            for (size_t j = 0; j < m->out_size; j++)
                printf(j ? ",%.9g" : "%.9g", (double)yi[j]);
            putchar('\n');
        }
    }
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "error: cannot write standard output\n");
        goto done;
    }
    rc = EXIT_OK;
done:
    free(state);
    free(infer);
    free(x);
    free(y);
    free(arena);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ eval */

static nnr_loss default_loss(const nnr_model *m)
{
    return m->cfg.present ? m->cfg.loss : NNR_LOSS_CROSS_ENTROPY;
}

static int cmd_eval(const nnr_model *m, const prog_opts *o)
{
    int rc = EXIT_INPUT;
    char *owned = NULL;
    nnr_data_src src;
    prog_data data;
    memset(&data, 0, sizeof data);
    float *state = NULL, *infer = NULL, *y = NULL, *arena = NULL;
    const nnr_data_src *base = m->cfg.present ? &m->cfg.data : NULL;
    if (o->val[OPT_DATA]) {
        if (override_src(base, o->val[OPT_DATA], &src, &owned))
            return EXIT_INPUT;
    } else if (base && base->kind != NNR_DATA_NONE) {
        src = *base;
    } else {
        return usage_error(m, "eval needs --data F (the model has no data source)");
    }
    nnr_loss loss = default_loss(m);
    if (!m->cfg.present && src.csv.targets > 0)
        loss = NNR_LOSS_MSE;
    if (o->val[OPT_LOSS]) {
        loss = o->loss;
        if (check_loss_model(m, loss, 0)) {
            free(owned);
            return EXIT_INPUT;
        }
    }
    state = falloc(m->state_size);
    infer = falloc(m->infer_size);
    if (!state || !infer) {
        oom();
        goto done;
    }
    if (load_infer_state(m, o->val[OPT_WEIGHTS], state))
        goto done;
    if (load_data(m, loss, &src, &data))
        goto done;
    prepare(m, state, infer);
    int bs = o->batch ? o->batch : PROG_INFER_BATCH;
    if ((size_t)bs > data.d.rows)
        bs = (int)data.d.rows;
    y = falloc((size_t)bs * m->out_size);
    arena = falloc(m->arena_size ? m->arena_size(bs) : 0);
    if (!y || !arena) {
        oom();
        goto done;
    }
    double l, acc;
    if (evaluate(m, loss, infer, &data, bs, arena, y, &l, &acc))
        goto done;
    printf("loss=%.9g\n", l);
    if (data.accuracy)
        printf("accuracy=%.9g\n", acc);
    fflush(stdout);
    rc = EXIT_OK;
done:
    data_free(&data);
    free(owned);
    free(state);
    free(infer);
    free(y);
    free(arena);
    return rc;
}

/* ------------------------------------------------------------ train */

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

/* freeze[0..nfreeze): layer positions whose tensors are not updated. */
static int trainer_init(trainer *t, const nnr_model *m, const int *freeze, int nfreeze)
{
    memset(t, 0, sizeof *t);
    t->optim = m->cfg.optim;
    t->state = falloc(m->state_size);
    t->grad = falloc(m->state_size);
    t->s1 = falloc(m->state_size);
    t->s2 = falloc(m->state_size);
    t->run_off = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t->run_off);
    t->run_len = calloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t->run_len);
    if (!t->state || !t->grad || !t->s1 || !t->s2 || !t->run_off || !t->run_len) {
        oom();
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

static void trainer_free(trainer *t)
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
static int trainer_update(trainer *t)
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
    double t = now_s();
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
        print_file_error(path, err);
        return -1;
    }
    return 0;
}

/* The checks `nnc check` makes of a train block's loss against the model,
 * for a loss chosen at run time: cross_entropy and nll need one vector of
 * class scores per sample (an error: -1), and cross_entropy after a final
 * softmax applies it twice (a warning, when warn is set). */
static int check_loss_model(const nnr_model *m, nnr_loss loss, int warn)
{
    const char *ln = loss_name(loss);
    if ((loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL) && m->out_ndim != 1) {
        char sh[128];
        int at = snprintf(sh, sizeof sh, "[");
        for (int i = 0; i < m->out_ndim && at < (int)sizeof sh - 24; i++)
            at += snprintf(sh + at, sizeof sh - (size_t)at, "%s%lld", i ? ", " : "",
                           (long long)m->out_shape[i]);
        snprintf(sh + at, sizeof sh - (size_t)at, "]");
        fprintf(stderr, "error: the loss %s needs one vector of class scores per sample, but "
                "the model's output has shape %s (add flatten)\n", ln, sh);
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

static int cmd_train(const nnr_model *m, const prog_opts *o)
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
        if (override_src(&cfg->data, o->val[OPT_DATA], &dsrc, &owned_d))
            goto done;
    } else if (cfg->data.kind != NNR_DATA_NONE) {
        dsrc = cfg->data;
    } else {
        rc = usage_error(m, "train needs --data F (the train block has no data)");
        goto done;
    }
    if (o->val[OPT_VALIDATION]) {
        const nnr_data_src *vb = cfg->validation.kind != NNR_DATA_NONE ? &cfg->validation
                                                                        : &cfg->data;
        if (override_src(vb, o->val[OPT_VALIDATION], &vsrc, &owned_v))
            goto done;
        have_val = 1;
    } else if (cfg->validation.kind != NNR_DATA_NONE) {
        vsrc = cfg->validation;
        have_val = 1;
    }

    /* Parameters, then data: every input is checked before training starts. */
    if (check_loss_model(m, loss, o->val[OPT_LOSS] != NULL))
        goto done;
    if (save && check_writable(save))
        goto done;
    if (trainer_init(&tr, m, freeze, nfreeze))
        goto done;
    if (o->val[OPT_OPTIMIZER])
        tr.optim = o->optim;
    if (o->val[OPT_LR])
        tr.optim.lr = o->lr;
    fresh_state(m, tr.state, seed);
    if (init && load_weights(m, init, strict, tr.state))
        goto done;
    if (load_data(m, loss, &dsrc, &data))
        goto done;
    if (have_val && load_data(m, loss, &vsrc, &val))
        goto done;
    if (epochs > 0 && check_batchnorm(m, data.d.rows, batch))
        goto done;

    size_t rows = data.d.rows, in = m->in_size, k = m->out_size;
    int tb_n = (size_t)batch < rows ? batch : (int)rows;
    size_t tcols = data.targets ? (data.own_targets ? 1 : k) : 0;
    backup = falloc(m->state_size);
    infer = falloc(m->infer_size);
    arena = falloc(m->train_arena_size ? m->train_arena_size(tb_n) : 0);
    xb = falloc((size_t)tb_n * in);
    tb = falloc((size_t)tb_n * (tcols ? tcols : 1));
    lb = calloc((size_t)tb_n, sizeof *lb);
    order = calloc(rows, sizeof *order);
    int eb_n = 0;
    if (have_val) {
        eb_n = (size_t)batch < val.d.rows ? batch : (int)val.d.rows;
        earena = falloc(m->arena_size ? m->arena_size(eb_n) : 0);
        ybuf = falloc((size_t)eb_n * k);
    }
    if (!backup || !infer || !arena || !xb || !tb || !lb || !order ||
        (have_val && (!earena || !ybuf))) {
        oom();
        goto done;
    }
    if (logp) {
        if (sb_printf(&log, "epoch,train_loss,val_loss,val_accuracy,seconds\n")) {
            oom();
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
        double t0 = now_s(), sum = 0;
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
            if (!bad && trainer_update(&tr))
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
                    save_state(m, save, tr.state);
                rc = EXIT_INPUT;
                goto done;
            }
            sum += l * n;
            progress_show(&pr, e, epochs, b + 1, nbatches, sum / (double)(r0 + (size_t)n),
                          b + 1 == nbatches);
        }
        double train_loss = sum / (double)rows, vl = NAN, va = NAN;
        if (have_val) {
            prepare(m, tr.state, infer);
            if (evaluate(m, loss, infer, &val, eb_n, earena, ybuf, &vl, &va)) {
                rc = EXIT_INPUT;
                goto done;
            }
        }
        double secs = now_s() - t0;
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
                oom();
                goto done;
            }
            if (write_log(logp, &log))
                goto done;
        }
    }
    if (save && save_state(m, save, tr.state))
        goto done;
    rc = EXIT_OK;
done:
    fflush(stdout);
    trainer_free(&tr);
    data_free(&data);
    data_free(&val);
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

/* ------------------------------------------------------------ bench */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed unit of work: a forward pass, or a training step and its update. */
static void bench_call(const nnr_model *m, int train, trainer *tr, const float *infer,
                       int batch, const float *x, float *y, const int32_t *lab,
                       const float *tgt, float *arena, nnr_rng *drop)
{
    if (train) {
        m->train_step(tr->state, tr->grad, batch, x, lab, tgt, arena, drop, m->cfg.loss);
        trainer_update(tr);
    } else {
        m->forward(infer, batch, x, y, arena);
    }
}

static int cmd_bench(const nnr_model *m, const prog_opts *o)
{
    int train = o->val[OPT_TRAIN] != NULL;
    if (train && (!m->train_step || !m->cfg.present)) {
        fprintf(stderr, "error: this model has no train block\n");
        return EXIT_INPUT;
    }
    int rc = EXIT_INPUT;
    int batch = o->val[OPT_BATCH] ? o->batch
              : (m->cfg.present && m->cfg.batch > 0 ? m->cfg.batch : 32);
    double seconds = o->val[OPT_SECONDS] ? o->seconds : 1.0;
    size_t k = m->out_size;
    trainer tr;
    memset(&tr, 0, sizeof tr);
    float *infer = NULL, *x = NULL, *y = NULL, *arena = NULL, *tgt = NULL;
    int32_t *lab = NULL;
    double *times = NULL;
    size_t ntimes = 0, cap = 0;

    if (trainer_init(&tr, m, m->cfg.freeze, m->cfg.nfreeze))
        goto done;
    if (load_infer_state(m, o->val[OPT_WEIGHTS], tr.state))
        goto done;
    infer = falloc(m->infer_size);
    x = falloc((size_t)batch * m->in_size);
    y = falloc((size_t)batch * k);
    tgt = falloc((size_t)batch * k);
    lab = calloc((size_t)batch, sizeof *lab);
    size_t asz = train ? (m->train_arena_size ? m->train_arena_size(batch) : 0)
                       : (m->arena_size ? m->arena_size(batch) : 0);
    arena = falloc(asz);
    if (!infer || !x || !y || !tgt || !lab || !arena) {
        oom();
        goto done;
    }
    nnr_rng rng, drop;
    nnr_rng_seed(&rng, o->val[OPT_SEED] ? o->seed : 1);
    nnr_rng_seed(&drop, (o->val[OPT_SEED] ? o->seed : 1) ^ PROG_DROPOUT_SALT);
    for (size_t i = 0; i < (size_t)batch * m->in_size; i++)
        x[i] = (float)(2.0 * nnr_rng_uniform(&rng) - 1.0);
    for (size_t i = 0; i < (size_t)batch * k; i++)
        tgt[i] = (float)nnr_rng_uniform(&rng);
    for (int i = 0; i < batch; i++)
        lab[i] = k ? (int32_t)nnr_rng_below(&rng, k) : 0;
    int by_label = m->cfg.loss == NNR_LOSS_CROSS_ENTROPY || m->cfg.loss == NNR_LOSS_NLL;
    prepare(m, tr.state, infer);

    /* Warm up for a tenth of the time (at least 3 calls). A sample times
     * `reps` calls, enough for ~20 us, so that the clock's own cost does not
     * dominate tiny models; per-call times are sample / reps. */
    double start = now_s(), warm = seconds * 0.1;
    long calls = 0, reps = 1;
    while (calls < 3 || now_s() - start < warm) {
        bench_call(m, train, &tr, infer, batch, x, y, by_label ? lab : NULL,
                   by_label ? NULL : tgt, arena, &drop);
        calls++;
    }
    double per_call = (now_s() - start) / (double)calls;
    if (per_call < 20e-6)
        reps = (long)(20e-6 / (per_call > 1e-9 ? per_call : 1e-9)) + 1;
    double t_end = now_s() + seconds;
    for (;;) {
        double t0 = now_s();
        for (long r = 0; r < reps; r++)
            bench_call(m, train, &tr, infer, batch, x, y, by_label ? lab : NULL,
                       by_label ? NULL : tgt, arena, &drop);
        double t1 = now_s();
        if (ntimes == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            double *nt = realloc(times, ncap * sizeof *nt);
            if (!nt) {
                oom();
                goto done;
            }
            times = nt;
            cap = ncap;
        }
        times[ntimes++] = (t1 - t0) / (double)reps;
        if ((t1 >= t_end && ntimes >= 5) || ntimes >= 1000000)
            break;
    }
    qsort(times, ntimes, sizeof *times, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < ntimes; i++)
        sum += times[i];
    double med = ntimes % 2 ? times[ntimes / 2]
                            : 0.5 * (times[ntimes / 2 - 1] + times[ntimes / 2]);
    printf("model %s: %s, batch %d, %zu samples of %ld call%s\n", m->name ? m->name : "?",
           train ? "training step" : "forward", batch, ntimes, reps, reps == 1 ? "" : "s");
    printf("min_us=%.3f mean_us=%.3f max_us=%.3f\n", times[0] * 1e6, sum / (double)ntimes * 1e6,
           times[ntimes - 1] * 1e6);
    printf("samples_per_s=%.1f\n", med > 0 ? (double)batch / med : 0.0);
    printf("median_us=%.3f batch=%d\n", med * 1e6, batch);
    fflush(stdout);
    rc = EXIT_OK;
done:
    trainer_free(&tr);
    free(infer);
    free(x);
    free(y);
    free(tgt);
    free(lab);
    free(arena);
    free(times);
    return rc;
}

/* ------------------------------------------------------------ gradcheck */

/* Loss of one training step from a fixed state and a fixed dropout stream:
 * a pure function of the parameters, as finite differences need. */
static double gc_loss(const nnr_model *m, const float *base, float *state, float *grad, int n,
                      const float *x, const int32_t *lab, const float *tgt, float *arena,
                      uint64_t seed)
{
    nnr_rng drop;
    nnr_rng_seed(&drop, seed ^ PROG_DROPOUT_SALT);
    memcpy(state, base, m->state_size * sizeof(float));
    return m->train_step(state, grad, n, x, lab, tgt, arena, &drop, m->cfg.loss);
}

/* Checks every trainable tensor (up to 24 evenly spaced elements each):
 * |numeric - analytic| <= 1e-3 + 2e-2 |analytic|, with central differences
 * of step 1e-2 in float... computed on the double loss. */
static int cmd_gradcheck(const nnr_model *m, const prog_opts *o)
{
    if (!m->train_step || !m->cfg.present) {
        fprintf(stderr, "error: this model has no train block\n");
        return EXIT_INPUT;
    }
    int n = o->val[OPT_BATCH] ? o->batch : 4;
    uint64_t seed = o->val[OPT_SEED] ? o->seed : 7;
    size_t k = m->out_size;
    float *base = falloc(m->state_size), *state = falloc(m->state_size);
    float *grad = falloc(m->state_size), *g2 = falloc(m->state_size);
    float *x = falloc((size_t)n * m->in_size), *tgt = falloc((size_t)n * k);
    int32_t *lab = calloc((size_t)n, sizeof *lab);
    float *arena = falloc(m->train_arena_size(n));
    if (!base || !state || !grad || !g2 || !x || !tgt || !lab || !arena) {
        oom();
        return EXIT_INPUT;
    }
    fresh_state(m, base, seed);
    nnr_rng rng;
    nnr_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)n * m->in_size; i++)
        x[i] = (float)(2.0 * nnr_rng_uniform(&rng) - 1.0);
    for (size_t i = 0; i < (size_t)n * k; i++)
        tgt[i] = (float)(0.05 + 0.9 * nnr_rng_uniform(&rng));
    for (int i = 0; i < n; i++)
        lab[i] = k ? (int32_t)nnr_rng_below(&rng, k) : 0;
    int by_label = m->cfg.loss == NNR_LOSS_CROSS_ENTROPY || m->cfg.loss == NNR_LOSS_NLL;
    const int32_t *L = by_label ? lab : NULL;
    const float *T = by_label ? NULL : tgt;
    memset(grad, 0, m->state_size * sizeof(float));
    double loss = gc_loss(m, base, state, grad, n, x, L, T, arena, seed);
    printf("loss=%.9g batch=%d\n", loss, n);
    int passed = 0, failed = 0;
    for (int t = 0; t < m->ntensors; t++) {
        const nnr_tensor_desc *d = &m->tensors[t];
        if (d->kind != NNR_T_PARAM)
            continue;
        size_t step = d->numel > 24 ? d->numel / 24 : 1;
        double worst = 0;
        int bad = 0, checked = 0;
        for (size_t j = 0; j < d->numel; j += step) {
            size_t at = d->offset + j;
            float p0 = base[at];
            double h = 1e-2;
            base[at] = (float)(p0 + h);
            double lp = gc_loss(m, base, state, g2, n, x, L, T, arena, seed);
            base[at] = (float)(p0 - h);
            double lm = gc_loss(m, base, state, g2, n, x, L, T, arena, seed);
            double hh = (double)(float)(p0 + h) - (double)(float)(p0 - h);
            base[at] = p0;
            double num = (lp - lm) / hh, ana = grad[at];
            double err = fabs(num - ana), tol = 1e-3 + 2e-2 * fabs(ana);
            if (err / tol > worst)
                worst = err / tol;
            if (err > tol) {
                if (bad < 3)
                    printf("  %s[%zu]: analytic %.6g, numeric %.6g\n", d->name, j, ana, num);
                bad++;
            }
            checked++;
        }
        printf("%-28s %s  checked=%d  worst=%.3f of tolerance\n", d->name, bad ? "FAIL" : "ok", checked,
               worst);
        if (bad)
            failed++;
        else
            passed++;
    }
    printf("gradcheck: %d passed, %d failed\n", passed, failed);
    free(base); free(state); free(grad); free(g2); free(x); free(tgt); free(lab); free(arena);
    return failed ? EXIT_INPUT : EXIT_OK;
}

/* ------------------------------------------------------------ main */

int nnr_main(const nnr_model *m, int argc, char **argv)
{
    prog_opts o;
    int rc = parse_args(m, argc, argv, &o);
    if (rc >= 0) {
        fflush(stdout);
    } else {
        switch (o.cmd) {
        case CMD_INFER: rc = cmd_infer(m, &o); break;
        case CMD_TRAIN: rc = cmd_train(m, &o); break;
        case CMD_EVAL: rc = cmd_eval(m, &o); break;
        case CMD_BENCH: rc = cmd_bench(m, &o); break;
        case CMD_GRADCHECK: rc = cmd_gradcheck(m, &o); break;
        default: rc = EXIT_USAGE; break;
        }
    }
    free(o.freeze);
    return rc;
}
