/* prog_infer.c — the commands infer (CSV rows on standard input, one CSV
 * row of outputs per sample on standard output) and eval (loss and accuracy
 * of a data set). */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
                prog_trim_blanks(buf, &s, &e);
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
                            prog_oom();
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

int prog_cmd_infer(const nnr_model *m, const prog_opts *o)
{
    int rc = EXIT_INPUT;
    float *state = prog_falloc(m->state_size), *infer = prog_falloc(m->infer_size);
    float *x = NULL, *y = NULL, *arena = NULL;
    char *buf = NULL;
    if (!state || !infer) {
        prog_oom();
        goto done;
    }
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], state))
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
    prog_prepare(m, state, infer);
    int bs = o->batch ? o->batch : PROG_INFER_BATCH;
    if ((long)bs > rows)
        bs = rows > 0 ? (int)rows : 1;
    y = prog_falloc((size_t)bs * m->out_size);
    arena = prog_falloc(m->arena_size ? m->arena_size(bs) : 0);
    if (!y || !arena) {
        prog_oom();
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
        goto done;
    }
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], state))
        goto done;
    if (prog_load_data(m, loss, &src, &data))
        goto done;
    prog_prepare(m, state, infer);
    int bs = o->batch ? o->batch : PROG_INFER_BATCH;
    if ((size_t)bs > data.d.rows)
        bs = (int)data.d.rows;
    y = prog_falloc((size_t)bs * m->out_size);
    arena = prog_falloc(m->arena_size ? m->arena_size(bs) : 0);
    if (!y || !arena) {
        prog_oom();
        goto done;
    }
    double l, acc;
    if (prog_evaluate(m, loss, infer, &data, bs, arena, y, &l, &acc))
        goto done;
    printf("loss=%.9g\n", l);
    if (data.accuracy)
        printf("accuracy=%.9g\n", acc);
    fflush(stdout);
    rc = EXIT_OK;
done:
    prog_data_free(&data);
    free(owned);
    free(state);
    free(infer);
    free(y);
    free(arena);
    return rc;
}

