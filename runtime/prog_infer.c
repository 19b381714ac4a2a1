/* prog_infer.c — the commands infer (CSV rows on standard input, one CSV
 * row of outputs per sample on standard output, streamed: each row answered
 * as soon as it is read, in bounded memory) and eval (loss and accuracy of
 * a data set). */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"
#include "prog_par.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ infer */

/* Standard input as it comes: buf[0..len) holds the bytes read and not yet
 * answered, the first of them on line line0 + 1. */
typedef struct infer_in {
    char *buf;
    size_t cap, len;
    size_t line0;
    size_t limit;           /* longest line (prog_input_limit) */
    int eof;
} infer_in;

/* The forward pass of infer and its buffers, grown to the largest batch
 * met (at most bs rows). */
typedef struct infer_out {
    const nnr_model *m;
    const float *infer;
    int bs, have;           /* batch limit; rows that y and arena hold */
    float *y;               /* [have, out_size] */
    float *arena;
    size_t rows_done;       /* rows answered before this chunk */
} infer_out;

/* Reads what standard input has (blocking only while it has nothing),
 * growing the buffer when one line fills it, up to in->limit bytes.
 * 0, or -1 after the message. */
static int in_fill(infer_in *in)
{
    if (in->len == in->cap) {
        if (in->cap > in->limit) {
            fprintf(stderr, "<stdin>:%zu: error: line longer than %zu bytes, the limit of an "
                    "input that is not a regular file (set NNC_MAX_INPUT to raise it)\n",
                    in->line0 + 1, in->limit);
            return -1;
        }
        size_t ncap = in->cap > in->limit / 2 ? in->limit + 1 : in->cap * 2;
        char *nb = realloc(in->buf, ncap);
        if (!nb) {
            prog_oom();
            return -1;
        }
        in->buf = nb;
        in->cap = ncap;
    }
    ssize_t got;
    do
        got = read(STDIN_FILENO, in->buf + in->len, in->cap - in->len);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        fprintf(stderr, "<stdin>: error: cannot read standard input: %s\n", strerror(errno));
        return -1;
    }
    in->eof = got == 0;
    in->len += (size_t)got;
    return 0;
}

/* Room for n rows of outputs and scratch: 0, or -1 after the message. */
static int out_reserve(infer_out *o, int n)
{
    if (n <= o->have)
        return 0;
    free(o->y);
    free(o->arena);
    o->y = prog_falloc((size_t)n * prog_ysize(o->m));
    o->arena = prog_falloc(o->m->arena_size ? o->m->arena_size(n) : 0);
    o->have = o->y && o->arena ? n : 0;
    if (!o->have) {
        prog_oom();
        return -1;
    }
    return 0;
}

/* The first data row of text[0..n) (lines line0 + 1 ...) whose number of
 * values is not the model's input size: its offset (n when none), with its
 * line and count. *rows tells whether a data row comes before it. */
static size_t find_bad_row(const nnr_model *m, const char *text, size_t n, size_t line0,
                           size_t *line, size_t *count, int *rows)
{
    size_t pos = 0;
    *line = line0;
    *rows = 0;
    while (pos < n) {
        const char *ls = text + pos, *nl = memchr(ls, '\n', n - pos);
        size_t ll = nl ? (size_t)(nl - ls) : n - pos, k = 0, cells = 1;
        ++*line;
        if (ll > 0 && ls[ll - 1] == '\r')
            ll--;   /* as the CSV reader takes a line */
        while (k < ll && (ls[k] == ' ' || ls[k] == '\t'))
            k++;
        if (k < ll) {
            for (const char *c = ls; (c = memchr(c, ',', ll - (size_t)(c - ls))) != NULL; c++)
                cells++;
            if (cells != m->in_size) {
                *count = cells;
                return pos;
            }
            *rows = 1;
        }
        pos += (size_t)(nl ? nl - ls + 1 : (ptrdiff_t)(n - pos));
    }
    return n;
}

/* The line (from line0 + 1) of the row-th non-blank line of text. */
typedef struct infer_lines { const char *text; size_t n, line0; } infer_lines;

static size_t infer_line_cb(void *ctx, size_t row)
{
    const infer_lines *c = ctx;
    size_t pos = 0, line = c->line0, seen = 0;
    while (pos < c->n) {
        const char *ls = c->text + pos, *nl = memchr(ls, '\n', c->n - pos);
        size_t ll = nl ? (size_t)(nl - ls) : c->n - pos, k = 0;
        line++;
        while (k < ll && (ls[k] == ' ' || ls[k] == '\t' || ls[k] == '\r'))
            k++;
        if (k < ll && seen++ == row)
            return line;
        pos += ll + 1;
    }
    return line;
}

/* Answers the complete lines text[0..n) (lines line0 + 1 ...): the rows
 * through the CSV reader (the one number grammar of data files), forward in
 * batches, one output row each on stdout, flushed. 0, or -1 after the
 * message (the rows of text before the bad one are not answered). */
static int infer_chunk(infer_out *o, const char *text, size_t n, size_t line0)
{
    const nnr_model *m = o->m;
    size_t line, count = 0;
    int rows;
    size_t bad = find_bad_row(m, text, n, line0, &line, &count, &rows);
    nnr_dataset d;
    memset(&d, 0, sizeof d);
    if (rows) {
        char err[PROG_ERRLEN];
        const nnr_csv_opts co = {0, 0, 0, 0};   /* inputs only, no header */
        if (nnr_csv_parse_lines(text, bad, "<stdin>", line0, &co, &d, err, sizeof err)) {
            prog_print_file_error("<stdin>", err);
            return -1;
        }
    }
    int rc = 0;
    infer_lines il = {text, bad, line0};
    if (rows && prog_check_int_inputs(m, d.x, d.rows, o->rows_done, "<stdin>", infer_line_cb, &il))
        rc = -1;
    else if (bad < n) {
        fprintf(stderr, "<stdin>:%zu: error: expected %zu value%s, found %zu\n", line,
                m->in_size, m->in_size == 1 ? "" : "s", count);
        rc = -1;
    }
    for (size_t r = 0; rc == 0 && r < d.rows; r += (size_t)o->bs) {
        int nb = (int)(d.rows - r < (size_t)o->bs ? d.rows - r : (size_t)o->bs);
        if (out_reserve(o, nb)) {
            rc = -1;
            break;
        }
        m->forward(&(nnr_ctx){.n = nb, .params = o->infer, .arena = o->arena}, d.x + r * m->in_size, o->y);
        for (int i = 0; i < nb; i++) {
            const float *yi = o->y + (size_t)i * prog_ysize(m);
            for (size_t j = 0; j < prog_ysize(m); j++) {
                /* a NaN's sign bit is the machine's (x86 makes -nan): print
                 * "nan" as Python does */
                if (isnan(yi[j]))
                    fputs(j ? ",nan" : "nan", stdout);
                else
                    printf(j ? ",%.9g" : "%.9g", (double)yi[j]);
            }
            putchar('\n');
        }
    }
    o->rows_done += d.rows;
    nnr_dataset_free(&d);
    if (rc == 0 && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "error: cannot write standard output\n");
        rc = -1;
    }
    return rc;
}

/* infer streams: each read of standard input is answered (and stdout
 * flushed) before the next, so a row's output comes as soon as the row is
 * in, in memory bounded by the batch and the longest line. */
int prog_cmd_infer(const nnr_model *m, const prog_opts *o)
{
    int rc = EXIT_INPUT;
    float *state = prog_falloc(m->state_size), *infer = prog_falloc(m->infer_size);
    infer_in in = {NULL, 0, 0, 0, prog_input_limit(), 0};
    infer_out out = {m, infer, o->batch ? o->batch : PROG_INFER_BATCH, 0, NULL, NULL, 0};
    in.cap = in.limit < ((size_t)1 << 16) ? in.limit + 1 : (size_t)1 << 16;
    in.buf = malloc(in.cap);
    if (!state || !infer || !in.buf) {
        prog_oom();
        goto done;
    }
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], state))
        goto done;
    prog_prepare(m, state, infer);
    do {
        if (in_fill(&in))
            goto done;
        size_t n = in.len;   /* the complete lines; all that is left at the end */
        while (!in.eof && n > 0 && in.buf[n - 1] != '\n')
            n--;
        if (n == 0)
            continue;
        if (infer_chunk(&out, in.buf, n, in.line0))
            goto done;
        for (const char *p = in.buf; (p = memchr(p, '\n', n - (size_t)(p - in.buf))) != NULL; p++)
            in.line0++;
        memmove(in.buf, in.buf + n, in.len - n);
        in.len -= n;
    } while (!in.eof);
    rc = EXIT_OK;
done:
    free(state);
    free(infer);
    free(in.buf);
    free(out.y);
    free(out.arena);
    return rc;
}

/* ------------------------------------------------------------ eval */

int prog_cmd_eval(const nnr_model *m, const prog_opts *o)
{
    int rc = EXIT_INPUT;
    char *owned = NULL;
    nnr_data_src src;
    prog_data data;
    memset(&data, 0, sizeof data);
    float *state = NULL, *infer = NULL, *y = NULL, *arena = NULL;
    const nnr_data_src *base = m->cfg.present ? &m->cfg.data : NULL;
    if (o->val[OPT_DATA]) {
        if (prog_override_src(base, o->val[OPT_DATA], &src, &owned))
            return EXIT_INPUT;
    } else if (base && base->kind != NNR_DATA_NONE) {
        src = *base;
    } else {
        return prog_usage_error(m, "eval needs --data F (the model has no data source)");
    }
    nnr_loss loss = prog_default_loss(m);
    if (!m->cfg.present && src.csv.targets > 0)
        loss = NNR_LOSS_MSE;
    if (o->val[OPT_LOSS]) {
        loss = o->loss;
        if (prog_check_loss_model(m, loss, 0)) {
            free(owned);
            return EXIT_INPUT;
        }
    }
    state = prog_falloc(m->state_size);
    infer = prog_falloc(m->infer_size);
    if (!state || !infer) {
        prog_oom();
        goto fail;
    }
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], state))
        goto fail;
    if (prog_load_data(m, loss, &src, &data))
        goto fail;
    /* the train block's loss: cross_entropy with its label_smoothing */
    data.smooth = loss == NNR_LOSS_CROSS_ENTROPY && m->cfg.present ? m->cfg.label_smoothing : 0;
    prog_prepare(m, state, infer);
    int bs = o->batch ? o->batch : PROG_INFER_BATCH;
    if ((size_t)bs > data.d.rows)
        bs = (int)data.d.rows;
    y = prog_falloc((size_t)bs * prog_ysize(m));
    arena = prog_falloc(m->arena_size ? m->arena_size(bs) : 0);
    if (!y || !arena) {
        prog_oom();
        goto fail;
    }
    if (prog_par_agree(EXIT_OK))   /* mpirun: every rank is ready */
        goto done;
    double l, acc;
    if (prog_shard_evaluate(m, loss, infer, &data, bs, arena, y, &l, &acc))
        goto done;
    printf("loss=%.9g\n", l);
    if (data.accuracy)
        printf("accuracy=%.9g\n", acc);
    fflush(stdout);
    rc = EXIT_OK;
    goto done;
fail:
    prog_par_agree(EXIT_INPUT);
done:
    prog_data_free(&data);
    free(owned);
    free(state);
    free(infer);
    free(y);
    free(arena);
    return rc;
}

