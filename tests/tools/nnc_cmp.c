/* nnc_cmp — compare what an nnc-built program produced with PyTorch's fixture.
 *
 *   nnc_cmp csv EXPECTED.csv GOT.csv [--abs A] [--rel R]
 *   nnc_cmp st  EXPECTED.safetensors GOT.safetensors [--abs A] [--rel R]
 *               [--exact NAME[,NAME...]]...
 *   nnc_cmp kv  EXPECTED.txt GOT.txt [--abs A] [--rel R]
 *
 * Two numbers agree when |expected - got| <= A + R * |expected| (defaults
 * A = R = 1e-5). The tolerance grows with the EXPECTED value only, so a wild
 * result cannot widen its own bound. NaN agrees only with NaN, an infinity
 * only with the same infinity.
 *
 *   csv  same number of rows and, row by row, of columns; every value agrees.
 *   st   every tensor of EXPECTED is in GOT with the same shape and the same
 *        kind (float, or integer such as num_batches_tracked); float values
 *        agree, integer values are equal; tensors named by --exact must be
 *        bit-identical (a frozen layer); a tensor of GOT that EXPECTED lacks
 *        is an error too. Files are read with the runtime's reader (nnr).
 *   kv   every "key=value" token of EXPECTED (whitespace separated) appears
 *        in GOT with a value that agrees; GOT may hold other text, and when a
 *        key occurs several times its last value counts.
 *
 * On a mismatch the first differences are printed (row/column, or tensor
 * name and flat index, both values) and the exit status is 1; 0 when all
 * agree; 2 for wrong usage or a file that cannot be read.
 */
#include "nnr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHOWN 6 /* differences printed per comparison (per tensor for st) */

static double tol_abs = 1e-5, tol_rel = 1e-5;

static int agree(double want, double got)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return want == got;
    return fabs(want - got) <= tol_abs + tol_rel * fabs(want);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: nnc_cmp csv EXPECTED.csv GOT.csv [--abs A] [--rel R]\n"
            "       nnc_cmp st  EXPECTED.safetensors GOT.safetensors [--abs A] [--rel R]"
            " [--exact NAME[,NAME...]]\n"
            "       nnc_cmp kv  EXPECTED.txt GOT.txt [--abs A] [--rel R]\n");
}

/* Whole file as a NUL-terminated string; NULL and a message on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "nnc_cmp: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "nnc_cmp: cannot read %s: %s\n", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* ------------------------------------------------------------------ csv */

typedef struct row {
    size_t n;
    double *v;
} row;

typedef struct table {
    size_t nrows;
    row *rows;
} table;

static void table_free(table *t)
{
    for (size_t i = 0; i < t->nrows; i++) free(t->rows[i].v);
    free(t->rows);
}

/* Rows of comma-separated numbers; blank lines are skipped. */
static int read_table(const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    char *buf = slurp(path, NULL);
    if (!buf) return -1;
    size_t cap = 0, line_no = 0;
    char *line = buf;
    int rc = 0;
    while (line && *line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0') {
            line = next;
            continue;
        }
        row r = {0, NULL};
        size_t rcap = 0;
        for (;;) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p) {
                fprintf(stderr, "nnc_cmp: %s:%zu: expected a number at column %zu, found '%.20s'\n",
                        path, line_no, (size_t)(p - line) + 1, p);
                free(r.v);
                rc = -1;
                goto out;
            }
            if (r.n == rcap) {
                rcap = rcap ? rcap * 2 : 16;
                double *nv = realloc(r.v, rcap * sizeof *nv);
                if (!nv) { free(r.v); rc = -1; goto out; }
                r.v = nv;
            }
            r.v[r.n++] = v;
            p = end;
            while (*p == ' ' || *p == '\t') p++;
            if (*p == '\0') break;
            if (*p != ',') {
                fprintf(stderr, "nnc_cmp: %s:%zu: expected ',' at column %zu, found '%.20s'\n",
                        path, line_no, (size_t)(p - line) + 1, p);
                free(r.v);
                rc = -1;
                goto out;
            }
            p++;
        }
        if (t->nrows == cap) {
            cap = cap ? cap * 2 : 64;
            row *nr = realloc(t->rows, cap * sizeof *nr);
            if (!nr) { free(r.v); rc = -1; goto out; }
            t->rows = nr;
        }
        t->rows[t->nrows++] = r;
        line = next;
    }
out:
    free(buf);
    if (rc) table_free(t);
    return rc;
}

static int cmp_csv(const char *exp_path, const char *got_path)
{
    table e, g;
    if (read_table(exp_path, &e)) return 2;
    if (read_table(got_path, &g)) {
        table_free(&e);
        return 2;
    }
    int bad = 0;
    size_t shown = 0, ndiff = 0, nvals = 0, nrowbad = 0;
    double worst = 0;
    if (e.nrows != g.nrows) {
        fprintf(stderr, "nnc_cmp: %s has %zu rows, %s has %zu\n", exp_path, e.nrows, got_path,
                g.nrows);
        bad = 1;
    }
    size_t rows = e.nrows < g.nrows ? e.nrows : g.nrows;
    for (size_t i = 0; i < rows; i++) {
        if (e.rows[i].n != g.rows[i].n) {
            if (shown++ < MAX_SHOWN)
                fprintf(stderr, "  row %zu: expected %zu values, got %zu\n", i + 1, e.rows[i].n,
                        g.rows[i].n);
            bad = 1;
            nrowbad++;
            continue;
        }
        for (size_t j = 0; j < e.rows[i].n; j++) {
            double a = e.rows[i].v[j], b = g.rows[i].v[j];
            nvals++;
            if (agree(a, b)) continue;
            ndiff++;
            bad = 1;
            if (fabs(a - b) > worst || isnan(a - b)) worst = fabs(a - b);
            if (shown++ < MAX_SHOWN)
                fprintf(stderr, "  row %zu col %zu: expected %.9g, got %.9g (diff %.3g)\n", i + 1,
                        j + 1, a, b, fabs(a - b));
        }
    }
    if (nrowbad)
        fprintf(stderr, "nnc_cmp: %s differs from %s: %zu row(s) of another length\n", got_path,
                exp_path, nrowbad);
    if (ndiff)
        fprintf(stderr, "nnc_cmp: %s differs from %s: %zu of %zu values out of tolerance "
                "(abs %g + rel %g), largest difference %.3g\n",
                got_path, exp_path, ndiff, nvals, tol_abs, tol_rel, worst);
    table_free(&e);
    table_free(&g);
    return bad;
}

/* ------------------------------------------------------------------ st */

static int name_listed(const char *name, char **list, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

static void print_shape(FILE *f, const nnr_st_tensor *t)
{
    fputc('[', f);
    for (int d = 0; d < t->ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    fputc(']', f);
}

static int cmp_tensor(const nnr_st_tensor *e, const nnr_st_tensor *g, int exact)
{
    int same_shape = e->ndim == g->ndim;
    for (int d = 0; same_shape && d < e->ndim; d++) same_shape = e->shape[d] == g->shape[d];
    if (!same_shape) {
        fprintf(stderr, "  %s: expected shape ", e->name);
        print_shape(stderr, e);
        fprintf(stderr, ", got ");
        print_shape(stderr, g);
        fputc('\n', stderr);
        return 1;
    }
    if (e->dtype_was_int != g->dtype_was_int) {
        fprintf(stderr, "  %s: expected %s data, got %s data\n", e->name,
                e->dtype_was_int ? "integer (I64)" : "float", g->dtype_was_int ? "integer" : "float");
        return 1;
    }
    exact = exact || e->dtype_was_int;
    size_t ndiff = 0;
    double worst = 0;
    for (size_t i = 0; i < e->numel; i++) {
        float a = e->data[i], b = g->data[i];
        int ok = exact ? memcmp(&a, &b, sizeof a) == 0 : agree(a, b);
        if (ok) continue;
        if (fabs((double)a - b) > worst || isnan((double)a - b)) worst = fabs((double)a - b);
        if (ndiff++ < MAX_SHOWN)
            fprintf(stderr, "  %s[%zu]: expected %.9g, got %.9g (diff %.3g)%s\n", e->name, i,
                    (double)a, (double)b, fabs((double)a - b), exact ? " (must be identical)" : "");
    }
    if (ndiff)
        fprintf(stderr, "  %s: %zu of %zu values differ, largest difference %.3g\n", e->name,
                ndiff, e->numel, worst);
    return ndiff != 0;
}

static int cmp_st(const char *exp_path, const char *got_path, char **exact, int nexact)
{
    nnr_st_file e, g;
    char err[512];
    if (nnr_st_read(exp_path, &e, err, sizeof err)) {
        fprintf(stderr, "nnc_cmp: %s\n", err);
        return 2;
    }
    if (nnr_st_read(got_path, &g, err, sizeof err)) {
        fprintf(stderr, "nnc_cmp: %s\n", err);
        nnr_st_free(&e);
        return 2;
    }
    int nbad = 0;
    for (int i = 0; i < nexact; i++)
        if (!nnr_st_find(&e, exact[i])) {
            fprintf(stderr, "  --exact %s: no such tensor in %s\n", exact[i], exp_path);
            nbad++;
        }
    for (int i = 0; i < e.ntensors; i++) {
        const nnr_st_tensor *et = &e.tensors[i];
        const nnr_st_tensor *gt = nnr_st_find(&g, et->name);
        if (!gt) {
            fprintf(stderr, "  %s: missing from %s\n", et->name, got_path);
            nbad++;
            continue;
        }
        nbad += cmp_tensor(et, gt, name_listed(et->name, exact, nexact));
    }
    for (int i = 0; i < g.ntensors; i++)
        if (!nnr_st_find(&e, g.tensors[i].name)) {
            fprintf(stderr, "  %s: in %s but not expected\n", g.tensors[i].name, got_path);
            nbad++;
        }
    if (nbad)
        fprintf(stderr, "nnc_cmp: %s differs from %s in %d tensor(s) (abs %g + rel %g)\n",
                got_path, exp_path, nbad, tol_abs, tol_rel);
    nnr_st_free(&e);
    nnr_st_free(&g);
    return nbad != 0;
}

/* ------------------------------------------------------------------ kv */

typedef struct kv {
    char key[64];
    double v;
} kv;

/* Every whitespace-separated token key=NUMBER. strict: a token with '=' whose
 * value is not a number is an error (for EXPECTED); otherwise it is skipped. */
static int read_kv(const char *path, kv **out, size_t *n, int strict)
{
    char *buf = slurp(path, NULL);
    if (!buf) return -1;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    const char *sep = " \t\r\n";
    for (char *tok = strtok(buf, sep); tok; tok = strtok(NULL, sep)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) continue;
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end != '\0' || (size_t)(eq - tok) >= sizeof((kv *)0)->key) {
            if (strict) {
                fprintf(stderr, "nnc_cmp: %s: '%s' is not key=number\n", path, tok);
                free(buf);
                free(*out);
                return -1;
            }
            continue;
        }
        *eq = '\0';
        size_t i;
        for (i = 0; i < *n && strcmp((*out)[i].key, tok) != 0; i++) {}
        if (i == *n) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                kv *nk = realloc(*out, cap * sizeof *nk);
                if (!nk) { free(buf); free(*out); return -1; }
                *out = nk;
            }
            snprintf((*out)[i].key, sizeof (*out)[i].key, "%s", tok);
            (*n)++;
        }
        (*out)[i].v = v; /* the last occurrence wins */
    }
    free(buf);
    return 0;
}

static int cmp_kv(const char *exp_path, const char *got_path)
{
    kv *e, *g;
    size_t ne, ng;
    if (read_kv(exp_path, &e, &ne, 1)) return 2;
    if (read_kv(got_path, &g, &ng, 0)) {
        free(e);
        return 2;
    }
    int bad = 0;
    if (ne == 0) {
        fprintf(stderr, "nnc_cmp: %s holds no key=value\n", exp_path);
        bad = 1;
    }
    for (size_t i = 0; i < ne; i++) {
        size_t j;
        for (j = 0; j < ng && strcmp(e[i].key, g[j].key) != 0; j++) {}
        if (j == ng) {
            fprintf(stderr, "  %s: missing from %s\n", e[i].key, got_path);
            bad = 1;
        } else if (!agree(e[i].v, g[j].v)) {
            fprintf(stderr, "  %s: expected %.9g, got %.9g (diff %.3g)\n", e[i].key, e[i].v,
                    g[j].v, fabs(e[i].v - g[j].v));
            bad = 1;
        }
    }
    if (bad)
        fprintf(stderr, "nnc_cmp: %s differs from %s (abs %g + rel %g)\n", got_path, exp_path,
                tol_abs, tol_rel);
    free(e);
    free(g);
    return bad;
}

/* ------------------------------------------------------------------ main */

static int parse_tol(const char *opt, const char *s, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end != '\0' || !(v >= 0)) {
        fprintf(stderr, "nnc_cmp: %s needs a non-negative number\n", opt);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        usage();
        return 2;
    }
    const char *mode = argv[1], *exp_path = argv[2], *got_path = argv[3];
    char *exact[64];
    int nexact = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--abs") == 0) {
            if (parse_tol("--abs", i + 1 < argc ? argv[++i] : NULL, &tol_abs)) return 2;
        } else if (strcmp(argv[i], "--rel") == 0) {
            if (parse_tol("--rel", i + 1 < argc ? argv[++i] : NULL, &tol_rel)) return 2;
        } else if (strcmp(argv[i], "--exact") == 0 && i + 1 < argc && strcmp(mode, "st") == 0) {
            for (char *tok = strtok(argv[++i], ","); tok; tok = strtok(NULL, ",")) {
                if (nexact == (int)(sizeof exact / sizeof exact[0])) {
                    fprintf(stderr, "nnc_cmp: too many --exact names\n");
                    return 2;
                }
                exact[nexact++] = tok;
            }
        } else {
            fprintf(stderr, "nnc_cmp: unknown option '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (strcmp(mode, "csv") == 0) return cmp_csv(exp_path, got_path);
    if (strcmp(mode, "st") == 0) return cmp_st(exp_path, got_path, exact, nexact);
    if (strcmp(mode, "kv") == 0) return cmp_kv(exp_path, got_path);
    fprintf(stderr, "nnc_cmp: unknown mode '%s'\n", mode);
    usage();
    return 2;
}
