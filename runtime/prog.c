/* prog.c — the command line of every program `nnc build` makes: usage,
 * options, the train-block values given on the command line, and nnr_main,
 * which runs infer | train | eval | bench | gradcheck (LANGUAGE.md §6).
 *
 * Everything model-specific comes through the nnr_model table (nnr_prog.h);
 * the commands live in prog_infer.c, prog_train.c and prog_tools.c, the
 * loading of state and data in prog_data.c. Exit status: 0 ok, 1 bad input
 * (message on stderr naming the file), 2 bad usage. */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"
#include "prog_par.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
            "        [--schedule SPEC] [--clip-grad-norm X] [--early-stopping N]\n"
            "        [--checkpoint F] [--label-smoothing X] [--resume F] [--plot F]\n"
            "        train as the model's train block says, with these overrides:\n"
            "        --loss mse|l1|bce|bce_with_logits|cross_entropy|nll\n"
            "        --optimizer 'sgd(lr = 0.1, momentum = 0.9)', 'adam(...)' or\n"
            "          'adamw(...)', as in the train block (--lr applies after it)\n"
            "        --shuffle, --strict: true or false (1 or 0)\n"
            "        --freeze: layers not updated, by name or 0-based position,\n"
            "          comma-separated (\"fc,2\"); replaces the train block's list,\n"
            "          \"\" freezes none\n"
            "        --schedule 'cosine(100, per = \"step\")', a list '[a, b]', or none\n"
            "        an option may be spelt as its train-block key (--clip_grad_norm)\n"
            "        --checkpoint F: written after every epoch; --resume F continues\n"
            "          from it to --epochs, as if never interrupted\n"
            "        --plot F.svg: the loss (and validation accuracy) curves per\n"
            "          epoch as an SVG, rewritten after every epoch: open it in a\n"
            "          browser and reload to watch training\n"
            "        train_loss is the mean over the epoch's samples of the loss\n"
            "  eval  [--data F] [--weights W.safetensors] [--loss NAME]\n"
            "        print loss=<value> (and accuracy=<value> for classification)\n"
            "  bench [--batch N] [--train] [--seconds S]\n"
            "        time the forward pass (or a training step); the last line is\n"
            "        median_us=<microseconds> batch=<N>\n"
            "  gradcheck [--batch N] [--seed N]\n"
            "        compare the compiled gradients with central finite differences\n"
            "        of the loss on random data (a test of the compiler)\n"
            "  generate [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]\n"
            "        [--seed S] [--weights W]\n"
            "        for a model with one int input [T] and an output [T, V]: sample\n"
            "        N tokens (default 256) from the last position, the window\n"
            "        sliding over the last T, and write them as bytes as they come\n"
            "        (temperature 0: the most likely; top-k 0: all; the prompt\n"
            "        defaults to a newline byte)\n"
            "\n"
            "options:\n"
            "  -h, --help     show this message\n"
            "  --version      show the runtime version\n"
            "\n"
            "An idx data source is given as IMAGES or IMAGES,LABELS. infer answers\n"
            "each row as soon as it is read. An input that is not a regular file (a\n"
            "pipe, a FIFO, a device) is read up to NNC_MAX_INPUT bytes (default\n"
            "256M; k, M and G suffixes), and so is one line of infer's input.\n"
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

int prog_usage_error(const nnr_model *m, const char *fmt, ...)
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

static const struct {
    const char *name;
    int takes_value;    /* 0 a flag, 1 a value, 2 a value that may be empty */
    int cmds;           /* commands that accept it */
} opt_table[OPT_COUNT] = {
    [OPT_WEIGHTS]    = {"--weights", 1, CMD_INFER | CMD_EVAL | CMD_BENCH | CMD_GENERATE},
    [OPT_DATA]       = {"--data", 1, CMD_TRAIN | CMD_EVAL},
    [OPT_VALIDATION] = {"--validation", 1, CMD_TRAIN},
    [OPT_EPOCHS]     = {"--epochs", 1, CMD_TRAIN},
    [OPT_BATCH]      = {"--batch", 1, CMD_TRAIN | CMD_BENCH | CMD_EVAL | CMD_INFER | CMD_GRADCHECK},
    [OPT_LR]         = {"--lr", 1, CMD_TRAIN},
    [OPT_SEED]       = {"--seed", 1, CMD_TRAIN | CMD_BENCH | CMD_GRADCHECK | CMD_GENERATE},
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
    [OPT_SCHEDULE]   = {"--schedule", 2, CMD_TRAIN}, /* "": none */
    [OPT_CLIP]       = {"--clip-grad-norm", 1, CMD_TRAIN},
    [OPT_EARLY]      = {"--early-stopping", 1, CMD_TRAIN},
    [OPT_CHECKPOINT] = {"--checkpoint", 1, CMD_TRAIN},
    [OPT_SMOOTH]     = {"--label-smoothing", 1, CMD_TRAIN},
    [OPT_RESUME]     = {"--resume", 1, CMD_TRAIN},
    [OPT_PLOT]       = {"--plot", 1, CMD_TRAIN},
    [OPT_PROMPT]     = {"--prompt", 2, CMD_GENERATE},    /* "": a newline byte */
    [OPT_TOKENS]     = {"--tokens", 1, CMD_GENERATE},
    [OPT_TEMPERATURE] = {"--temperature", 1, CMD_GENERATE},
    [OPT_TOPK]       = {"--top-k", 1, CMD_GENERATE},
};

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
static void prog_trim_blanks(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && (s[*a] == ' ' || s[*a] == '\t'))
        (*a)++;
    while (*b > *a && (s[*b - 1] == ' ' || s[*b - 1] == '\t'))
        (*b)--;
}

/* ------------------------------------------------------------ train-block values */

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
    int l = nnr_loss_find(s);
    if (l < 0)
        return -1;
    *out = (nnr_loss)l;
    return 0;
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
    prog_trim_blanks(s, &a, &b);
    if (b - a >= 2 && s[a] == '[' && s[b - 1] == ']') {
        a++, b--;
        prog_trim_blanks(s, &a, &b);
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
        prog_trim_blanks(s, &p, &q);
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

/* The options of the train-block keys of LANGUAGE.md §10. -1 to go on, or
 * an exit status. */
static int parse_train_v2(const nnr_model *m, prog_opts *o)
{
    char err[PROG_ERRLEN];
    const char *sc = o->val[OPT_SCHEDULE];
    if (sc && *sc && strcmp(sc, "none") &&
        nnr_parse_schedule(sc, &o->schedule, err, sizeof err))
        return prog_usage_error(m, "--schedule: %s", err);
    if (o->val[OPT_CLIP] && (parse_double(o->val[OPT_CLIP], &o->clip) || o->clip < 0))
        return prog_usage_error(m, "--clip-grad-norm expects a positive number (0: none), got "
                                "'%s'", o->val[OPT_CLIP]);
    long v;
    if (o->val[OPT_EARLY]) {
        if (parse_int(o->val[OPT_EARLY], 0, &v))
            return prog_usage_error(m, "--early-stopping expects a number of epochs (0: none), "
                                    "got '%s'", o->val[OPT_EARLY]);
        o->early = (int)v;
    }
    if (o->val[OPT_SMOOTH] &&
        (parse_double(o->val[OPT_SMOOTH], &o->smooth) || o->smooth < 0 || o->smooth > 1))
        return prog_usage_error(m, "--label-smoothing expects a number in [0, 1], got '%s'",
                                o->val[OPT_SMOOTH]);
    return -1;
}

/* Whether a[0..n) names the option NAME; an '_' of a stands for a '-' of NAME,
 * so the train block's key works as its option (--clip_grad_norm). */
static int opt_name_is(const char *name, const char *a, size_t n)
{
    if (strlen(name) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != name[i] && !(i >= 2 && a[i] == '_' && name[i] == '-'))
            return 0;
    return 1;
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
                if (opt_name_is(opt_table[k].name, a, nlen))
                    break;
            if (k == OPT_COUNT)
                return prog_usage_error(m, "unknown option '%.*s'", (int)nlen, a);
            if (!opt_table[k].takes_value) {
                if (eq)
                    return prog_usage_error(m, "option '%s' takes no value", opt_table[k].name);
                o->val[k] = "";
            } else if (eq) {
                o->val[k] = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return prog_usage_error(m, "option '%s' needs a value", opt_table[k].name);
                o->val[k] = argv[++i];
            }
            continue;
        }
        if (a[0] == '-' && a[1])
            return prog_usage_error(m, "unknown option '%s'", a);
        if (o->cmd)
            return prog_usage_error(m, "unexpected argument '%s'", a);
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
        else if (!strcmp(a, "generate"))
            o->cmd = CMD_GENERATE;
        else
            return prog_usage_error(m, "unknown command '%s'", a);
        o->cmd_name = a;
    }
    if (!o->cmd)
        return prog_usage_error(m, "missing command (infer, train, eval, bench, gradcheck or generate)");
    for (int k = 0; k < OPT_COUNT; k++)
        if (o->val[k] && !(opt_table[k].cmds & o->cmd))
            return prog_usage_error(m, "option '%s' does not apply to '%s'", opt_table[k].name,
                               o->cmd_name);
    for (int k = 0; k < OPT_COUNT; k++)
        if (o->val[k] && opt_table[k].takes_value == 1 && !o->val[k][0])
            return prog_usage_error(m, "option '%s' needs a value", opt_table[k].name);

    long v;
    if (o->val[OPT_EPOCHS]) {
        if (parse_int(o->val[OPT_EPOCHS], 0, &v))
            return prog_usage_error(m, "--epochs expects a non-negative integer, got '%s'",
                               o->val[OPT_EPOCHS]);
        o->epochs = (int)v;
    }
    if (o->val[OPT_BATCH]) {
        if (parse_int(o->val[OPT_BATCH], 1, &v))
            return prog_usage_error(m, "--batch expects a positive integer, got '%s'",
                               o->val[OPT_BATCH]);
        o->batch = (int)v;
    }
    if (o->val[OPT_LR]) {
        if (parse_double(o->val[OPT_LR], &o->lr) || o->lr < 0)
            return prog_usage_error(m, "--lr expects a non-negative number, got '%s'",
                               o->val[OPT_LR]);
    }
    if (o->val[OPT_SEED]) {
        if (parse_u64(o->val[OPT_SEED], &o->seed))
            return prog_usage_error(m, "--seed expects a non-negative integer, got '%s'",
                               o->val[OPT_SEED]);
    }
    if (o->val[OPT_SECONDS]) {
        if (parse_double(o->val[OPT_SECONDS], &o->seconds) || o->seconds <= 0)
            return prog_usage_error(m, "--seconds expects a positive number, got '%s'",
                               o->val[OPT_SECONDS]);
    }
    if (o->val[OPT_LOSS] && parse_loss(o->val[OPT_LOSS], &o->loss))
        return prog_usage_error(m, "--loss expects %s, got '%s'", nnr_loss_list(),
                                o->val[OPT_LOSS]);
    if (o->val[OPT_SHUFFLE] && parse_bool(o->val[OPT_SHUFFLE], &o->shuffle))
        return prog_usage_error(m, "--shuffle expects true or false, got '%s'", o->val[OPT_SHUFFLE]);
    if (o->val[OPT_STRICT] && parse_bool(o->val[OPT_STRICT], &o->strict))
        return prog_usage_error(m, "--strict expects true or false, got '%s'", o->val[OPT_STRICT]);
    char err[PROG_ERRLEN];
    if (o->val[OPT_OPTIMIZER] && nnr_parse_optimizer(o->val[OPT_OPTIMIZER], &o->optim, err, sizeof err))
        return prog_usage_error(m, "--optimizer: %s", err);
    if (o->val[OPT_FREEZE] && parse_freeze(m, o->val[OPT_FREEZE], o, err, sizeof err))
        return prog_usage_error(m, "%s", err);
    return parse_train_v2(m, o);
}

/* ------------------------------------------------------------ main */

int nnr_main(const nnr_model *m, int argc, char **argv)
{
    prog_opts o;
    if (prog_par_start(&argc, &argv))
        return EXIT_INPUT;
    int rc = parse_args(m, argc, argv, &o);
    if (rc >= 0) {
        fflush(stdout);
    } else if (prog_par_rank() != 0 && o.cmd != CMD_TRAIN && o.cmd != CMD_EVAL) {
        rc = EXIT_OK;   /* under mpirun, infer, bench and gradcheck run on rank 0 alone */
    } else {
        switch (o.cmd) {
        case CMD_INFER: rc = prog_cmd_infer(m, &o); break;
        case CMD_TRAIN: rc = prog_cmd_train(m, &o); break;
        case CMD_EVAL: rc = prog_cmd_eval(m, &o); break;
        case CMD_BENCH: rc = prog_cmd_bench(m, &o); break;
        case CMD_GRADCHECK: rc = prog_cmd_gradcheck(m, &o); break;
        case CMD_GENERATE: rc = prog_cmd_generate(m, &o); break;
        default: rc = EXIT_USAGE; break;
        }
    }
    free(o.freeze);
    return prog_par_finish(rc);
}
