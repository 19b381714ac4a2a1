/* csv.c — numeric CSV data sets: one sample per line, comma-separated numbers. */
#include "../nnr.h"
#include "io_util.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_SNIP 32 /* longest cell quoted in a message */

enum { NUM_OK = 0, NUM_SYNTAX = -1, NUM_NONFINITE = -2, NUM_RANGE = -3 };

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n != k) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != w[i]) return 0;
    return 1;
}

/* Strict decimal number: [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?, the
 * whole of s[0..n). The value is the nearest double (strtod), then checked
 * to fit a float. */
static int parse_num(const char *s, size_t n, double *out)
{
    size_t i = 0, nd = 0;
    int neg = 0, simple = 1;
    if (i < n && (s[i] == '+' || s[i] == '-')) { neg = s[i] == '-'; i++; }
    size_t ds = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    nd = i - ds;
    if (i < n && s[i] == '.') {
        simple = 0;
        i++;
        size_t fs = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        nd += i - fs;
    }
    if (nd == 0) {
        const char *w = s + ds;
        size_t wn = n - ds;
        if (word_is(w, wn, "nan") || word_is(w, wn, "inf") || word_is(w, wn, "infinity"))
            return NUM_NONFINITE;
        return NUM_SYNTAX;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        simple = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t es = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == es) return NUM_SYNTAX;
    }
    if (i != n) return NUM_SYNTAX;

    if (simple && nd <= 15) { /* exact in a double */
        double v = 0;
        for (size_t k = ds; k < n; k++) v = v * 10 + (s[k] - '0');
        *out = neg ? -v : v;
        return NUM_OK;
    }
    if (nd <= 15) {
        /* Clinger's fast path: with at most 15 digits the digits form an
         * integer M < 2^53, exact in a double, and 10^p for |p| <= 22 is
         * exact too; one multiplication or division then rounds once, to
         * the same nearest double strtod gives. */
        static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        double m = 0;
        long frac = 0, e = 0;
        size_t k = ds;
        for (; k < n && s[k] >= '0' && s[k] <= '9'; k++) m = m * 10 + (s[k] - '0');
        if (k < n && s[k] == '.')
            for (k++; k < n && s[k] >= '0' && s[k] <= '9'; k++, frac++) m = m * 10 + (s[k] - '0');
        int big = 0;
        if (k < n && (s[k] == 'e' || s[k] == 'E')) {
            int eneg = 0;
            k++;
            if (k < n && (s[k] == '+' || s[k] == '-')) eneg = s[k++] == '-';
            for (; k < n; k++) {
                e = e * 10 + (s[k] - '0');
                if (e > 1000) big = 1, e = 1000;
            }
            if (eneg) e = -e;
        }
        long p10 = e - frac;
        if (!big && p10 >= -22 && p10 <= 22) {
            double v = p10 >= 0 ? m * pow10[p10] : m / pow10[-p10];
            if (fabs(v) < 3.4028235677973366e38) {
                *out = neg ? -v : v;
                return NUM_OK;
            }
        }
    }
    char small[128], *tmp = small;
    if (n >= sizeof small) {
        tmp = malloc(n + 1);
        if (tmp == NULL) return NUM_RANGE;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + n) {
        /* A locale whose decimal point is not '.': retry with its own. */
        const char *dp = localeconv()->decimal_point;
        char *dot = memchr(tmp, '.', n);
        if (dot != NULL && dp != NULL && dp[0] != '\0' && dp[1] == '\0') {
            *dot = dp[0];
            v = strtod(tmp, &end);
        }
    }
    int ok = end == tmp + n;
    if (tmp != small) free(tmp);
    if (!ok) return NUM_SYNTAX;
    /* Values that round to a finite float are accepted. */
    const double lim = 3.4028235677973366e38; /* 2^128 - 2^103 */
    if (!(fabs(v) < lim)) return NUM_RANGE;
    if (v > FLT_MAX) v = FLT_MAX;
    if (v < -FLT_MAX) v = -FLT_MAX;
    *out = v;
    return NUM_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

typedef struct csv_arr {
    void *p;
    size_t cap;  /* rows */
} csv_arr;

static int grow(csv_arr *a, size_t rows_needed, size_t row_bytes)
{
    if (rows_needed <= a->cap || row_bytes == 0) return 0;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < rows_needed) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    size_t bytes;
    if (nnr_io_mul(cap, row_bytes, &bytes) != 0) return -1;
    void *p = realloc(a->p, bytes);
    if (p == NULL) return -1;
    a->p = p;
    a->cap = cap;
    return 0;
}

static void shrink(csv_arr *a, size_t rows, size_t row_bytes)
{
    if (a->p == NULL || rows == 0 || row_bytes == 0 || rows >= a->cap) return;
    void *p = realloc(a->p, rows * row_bytes);
    if (p != NULL) a->p = p;
}

int nnr_csv_parse(const char *buf, size_t len, const char *path, const nnr_csv_opts *o,
                  nnr_dataset *out, char *err, size_t errlen)
{
    static const nnr_csv_opts defaults = {0, 0, 0, 0};
    const char *pn = NNR_IO_NAME(path);
    if (out == NULL) return nnr_io_errf(err, errlen, "%s: no output given", pn);
    memset(out, 0, sizeof *out);
    if (o == NULL) o = &defaults;
    if (buf == NULL || len == 0) return nnr_io_errf(err, errlen, "%s: empty file", pn);
    if (o->targets < 0)
        return nnr_io_errf(err, errlen, "%s: targets must be >= 0, not %d", pn, o->targets);

    csv_arr ax = {0}, al = {0}, ay = {0};
    size_t rows = 0, ncols = 0, nx = 0, nt = 0, label_col = (size_t)-1;
    size_t pos = 0, line = 0;
    int header_pending = o->header != 0;
    char snip[CSV_SNIP + 8];

    while (pos < len) {
        line++;
        const char *ls = buf + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - ls) : len - pos;
        pos += ll + (nl != NULL);
        if (ll > 0 && ls[ll - 1] == '\r') ll--;
        size_t k = 0;
        while (k < ll && is_space(ls[k])) k++;
        if (k == ll) continue; /* blank line */
        if (header_pending) {
            header_pending = 0;
            continue;
        }
        size_t ncells = 1;
        for (const char *c = ls, *e = ls + ll; (c = memchr(c, ',', (size_t)(e - c))) != NULL; c++)
            ncells++;
        if (ncols == 0) {
            /* The first data row fixes the layout. */
            ncols = ncells;
            if (o->targets > 0) {
                if ((size_t)o->targets >= ncols) {
                    nnr_io_errf(err, errlen, "%s:%zu: targets = %d leaves no input column "
                                "(rows have %zu columns)", pn, line, o->targets, ncols);
                    goto fail;
                }
                nt = (size_t)o->targets;
                nx = ncols - nt;
            } else if (o->has_label) {
                long long lc = o->label < 0 ? (long long)ncols + o->label : o->label;
                if (lc < 0 || (unsigned long long)lc >= ncols) {
                    nnr_io_errf(err, errlen, "%s:%zu: label column %d does not exist (rows "
                                "have %zu columns)", pn, line, o->label, ncols);
                    goto fail;
                }
                if (ncols == 1) {
                    nnr_io_errf(err, errlen, "%s:%zu: rows have a single column: no input "
                                "is left besides the label", pn, line);
                    goto fail;
                }
                label_col = (size_t)lc;
                nx = ncols - 1;
            } else {
                nx = ncols;
            }
            /* First guess of the row count from the first line's length. */
            size_t guess = len / (ll + 1) + 1;
            if (grow(&ax, guess, nx * sizeof(float)) != 0 ||
                grow(&ay, guess, nt * sizeof(float)) != 0 ||
                (label_col != (size_t)-1 && grow(&al, guess, sizeof(int32_t)) != 0)) {
                /* the guess is only a hint: fall back to growing on demand */
            }
        } else if (ncells != ncols) {
            nnr_io_errf(err, errlen, "%s:%zu: expected %zu columns, found %zu", pn, line,
                        ncols, ncells);
            goto fail;
        }
        size_t need;
        if (nnr_io_add(rows, 1, &need) != 0 || nnr_io_mul(need, ncols, &need) != 0 ||
            grow(&ax, rows + 1, nx * sizeof(float)) != 0 ||
            grow(&ay, rows + 1, nt * sizeof(float)) != 0 ||
            (label_col != (size_t)-1 && grow(&al, rows + 1, sizeof(int32_t)) != 0)) {
            nnr_io_errf(err, errlen, "%s:%zu: out of memory", pn, line);
            goto fail;
        }
        float *xr = (float *)ax.p + rows * nx;
        float *yr = nt ? (float *)ay.p + rows * nt : NULL;
        size_t c0 = 0, xi = 0;
        for (size_t j = 0; j < ncols; j++) {
            const char *ce = memchr(ls + c0, ',', ll - c0);
            size_t c1 = ce != NULL ? (size_t)(ce - ls) : ll; /* cell is [c0, c1) */
            size_t a = c0, b = c1;
            while (a < b && is_space(ls[a])) a++;
            while (b > a && is_space(ls[b - 1])) b--;
            double v = 0;
            int r = a == b ? NUM_SYNTAX : parse_num(ls + a, b - a, &v);
            if (r != NUM_OK) {
                size_t col = (a == b ? c0 : a) + 1;
                nnr_io_snip(snip, sizeof snip, ls + a, b - a, CSV_SNIP);
                if (a == b)
                    nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a number, found an empty "
                                "cell", pn, line, col);
                else if (r == NUM_NONFINITE)
                    nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a finite number, found "
                                "'%s' (NaN and infinity are not allowed)", pn, line, col, snip);
                else if (r == NUM_RANGE)
                    nnr_io_errf(err, errlen, "%s:%zu:%zu: number '%s' is out of the range of "
                                "a float", pn, line, col, snip);
                else
                    nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a number, found '%s'", pn,
                                line, col, snip);
                goto fail;
            }
            if (j == label_col) {
                if (!(v >= 0 && v <= 2147483647.0 && v == floor(v))) {
                    nnr_io_snip(snip, sizeof snip, ls + a, b - a, CSV_SNIP);
                    nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a class label (an integer "
                                ">= 0), found '%s'", pn, line, a + 1, snip);
                    goto fail;
                }
                ((int32_t *)al.p)[rows] = (int32_t)v;
            } else if (j >= nx + (label_col != (size_t)-1)) {
                yr[j - (ncols - nt)] = (float)v;
            } else {
                xr[xi++] = (float)v;
            }
            c0 = c1 + 1;
        }
        rows++;
    }
    if (rows == 0) {
        nnr_io_errf(err, errlen, "%s: no samples (the file has no data rows)", pn);
        goto fail;
    }
    shrink(&ax, rows, nx * sizeof(float));
    shrink(&ay, rows, nt * sizeof(float));
    shrink(&al, rows, sizeof(int32_t));
    out->rows = rows;
    out->ncols = nx;
    out->x = ax.p;
    out->labels = al.p;
    out->ntargets = nt;
    out->y = ay.p;
    return 0;
fail:
    free(ax.p);
    free(ay.p);
    free(al.p);
    return -1;
}

int nnr_csv_read(const char *path, const nnr_csv_opts *o, nnr_dataset *out, char *err,
                 size_t errlen)
{
    size_t len;
    if (out != NULL) memset(out, 0, sizeof *out);
    unsigned char *buf = nnr_read_file(path, &len, err, errlen);
    if (buf == NULL) return -1;
    int rc = nnr_csv_parse((const char *)buf, len, path, o, out, err, errlen);
    free(buf);
    return rc;
}
