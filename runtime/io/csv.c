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

/* The powers of ten that are exact in a double. */
static const double csv_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Strict decimal number: [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?, the
 * whole of s[0..n). The value is the nearest double (strtod), then checked
 * to fit a float. */
static int parse_num(const char *s, size_t n, double *out)
{
    size_t i = 0, nd = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) { neg = s[i] == '-'; i++; }
    size_t ds = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    nd = i - ds;
    if (i < n && s[i] == '.') {
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
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t es = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == es) return NUM_SYNTAX;
    }
    if (i != n) return NUM_SYNTAX;

    if (nd <= 15) {
        /* Clinger's fast path: with at most 15 digits the digits form an
         * integer M < 2^53, exact in a double, and 10^p for |p| <= 22 is
         * exact too; one multiplication or division then rounds once, to
         * the same nearest double strtod gives. */
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
            double v = p10 >= 0 ? m * csv_pow10[p10] : m / csv_pow10[-p10];
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

/* Where a parsed row's values go: the layout the first data row fixed. */
typedef struct csv_row {
    size_t ncols, nx, nt, label_col; /* label_col (size_t)-1: none */
    float *xr, *yr;                  /* this row's inputs and targets */
    int32_t *lab;                    /* this row's label */
} csv_row;

/* Stores the value of cell j of a row; -1 when a label is not a class index
 * (the general loop reports it). */
static int store_cell(const csv_row *r, size_t j, size_t *xi, double v)
{
    if (j == r->label_col) {
        if (!(v >= 0 && v <= 2147483647.0 && v == floor(v))) return -1;
        *r->lab = (int32_t)v;
    } else if (j >= r->nx + (r->label_col != (size_t)-1)) {
        r->yr[j - (r->ncols - r->nt)] = (float)v;
    } else {
        r->xr[(*xi)++] = (float)v;
    }
    return 0;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Short cells eight bytes at a time (SWAR, the first byte lowest): no loop
 * or branch per character, so the cells of a row do not wait on each
 * other's mispredicted branches. */
#define CSV_SWAR 1
#define CSV_B(c) (0x0101010101010101ull * (uint64_t)(c))

static uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The top bit of every byte of v that is 0 (exactly: no carry crosses). */
static uint64_t zero_bytes(uint64_t v)
{
    const uint64_t lo7 = CSV_B(0x7f);
    return ~(((v & lo7) + lo7) | v | lo7);
}

/* The value of the first k (1..8) bytes of v, all digits. Borrows of the
 * subtraction only move towards later bytes, which the shift drops. */
static uint64_t digits_value(uint64_t v, int k)
{
    v -= CSV_B('0');
    v <<= 8 * (8 - k) / 2;
    v <<= 8 * (8 - k) - 8 * (8 - k) / 2; /* two shifts: k = 8 shifts by 0 */
    v = v * 10 + (v >> 8);
    v = ((v & 0x000000ff000000ffull) * 0x000f424000000064ull +
         ((v >> 16) & 0x000000ff000000ffull) * 0x0000271000000001ull) >> 32;
    return v;
}

/* A cell of 1 to 7 digits and at most one '.' at a (8 bytes readable),
 * ended by ',' or by the end of the line e: its length, *v its value (what
 * parse_num gives: the digits as one integer, divided once by a power of
 * ten). 0 for any other cell. */
static size_t swar_cell(const char *a, const char *e, double *v)
{
    const uint64_t w = load8(a), top = CSV_B(0x80);
    const uint64_t a7 = w & CSV_B(0x7f);
    const uint64_t nondigit = (w | (a7 + CSV_B(0x46)) | ~(a7 + CSV_B(0x50))) & top;
    const uint64_t dot = zero_bytes(w ^ CSV_B('.')) & top;
    const uint64_t other = nondigit & ~dot;
    if (other == 0) return 0; /* 8 characters or more */
    const int len = __builtin_ctzll(other) >> 3;
    if (len == 0 || (a + len != e && a[len] != ',')) return 0;
    const uint64_t dots = dot & ((1ull << (8 * len)) - 1);
    if (dots & (dots - 1)) return 0;
    /* with or without a '.' alike, without branches (they would mispredict):
     * no '.' is one at len, dividing by 10^0 */
    const int has = dots != 0;
    const int d = __builtin_ctzll(dots | (1ull << (8 * len))) >> 3;
    const int nd = len - has;
    if (nd == 0) return 0;
    const uint64_t keep = (1ull << (8 * d)) - 1; /* d <= 7 */
    const uint64_t digits = (w & keep) | ((w >> 8) & ~keep); /* the '.' taken out */
    *v = (double)digits_value(digits, nd) / csv_pow10[len - has - d];
    return (size_t)len;
}
#else
#define CSV_SWAR 0
#endif

/* The cell at *pp of the line ending at e, by the general rules: spaces or
 * tabs around; a number of up to 15 digits, an optional fraction, no
 * exponent read as scanned (the arithmetic of parse_num), anything else by
 * parse_num itself. *pp ends at the ',' or e after the cell; -1 when the
 * cell is no number (the general loop names the error). */
static int scan_cell(const char **pp, const char *e, double *out)
{
    const char *p = *pp, *c0 = p;
    while (p < e && is_space(*p)) p++;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    uint64_t m = 0;
    size_t nd = 0, frac = 0;
    while (p < e && (unsigned)(*p - '0') < 10u) {
        m = m * 10 + (uint64_t)(*p++ - '0');
        nd++;
    }
    if (p < e && *p == '.') {
        const char *f = ++p;
        while (p < e && (unsigned)(*p - '0') < 10u) m = m * 10 + (uint64_t)(*p++ - '0');
        frac = (size_t)(p - f);
        nd += frac;
    }
    while (p < e && is_space(*p)) p++;
    if (nd > 0 && nd <= 15 && (p == e || *p == ',')) {
        /* m < 10^15 is exact in a double; one division rounds once */
        double v = (double)m / csv_pow10[frac];
        *out = neg ? -v : v;
        *pp = p;
        return 0;
    }
    const char *ce = memchr(c0, ',', (size_t)(e - c0));
    const char *a = c0, *b = ce != NULL ? ce : e;
    while (a < b && is_space(*a)) a++;
    while (b > a && is_space(b[-1])) b--;
    if (a == b || parse_num(a, (size_t)(b - a), out) != NUM_OK) return -1;
    *pp = ce != NULL ? ce : e;
    return 0;
}

/* A data row [s, s + ll) of a buffer ending at buf_end, in one pass: each
 * cell read as it is scanned (swar_cell, else scan_cell). 0 when the row
 * has exactly r->ncols cells, all numbers (labels class indices), and every
 * value is stored; -1 otherwise, and the general loop parses the row again
 * to name the error. */
static int fast_row(const char *s, size_t ll, const char *buf_end, const csv_row *r)
{
    const char *p = s, *e = s + ll;
    size_t xi = 0;
    (void)buf_end;
    for (size_t j = 0; j < r->ncols; j++) {
        double v;
#if CSV_SWAR
        /* the line's '\n' or '\r' ends a cell as a ',' does */
        size_t n = buf_end - p >= 8 ? swar_cell(p, e, &v) : 0;
        if (n != 0)
            p += n;
        else
#endif
        if (scan_cell(&p, e, &v) != 0)
            return -1;
        if (store_cell(r, j, &xi, v) != 0) return -1;
        if (j + 1 < r->ncols) {
            if (p == e) return -1; /* too few cells */
            p++;                   /* the comma */
        } else if (p != e) {
            return -1;             /* too many cells */
        }
    }
    return 0;
}

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

/* A data row [ls, ls + ll) (line `line`) by the general rules, cell by
 * cell, every value stored: 0, or -1 with the message naming the cell. */
static int slow_row(const char *ls, size_t ll, const csv_row *r, const char *pn, size_t line,
                    char *err, size_t errlen)
{
    char snip[CSV_SNIP + 8];
    size_t c0 = 0, xi = 0;
    for (size_t j = 0; j < r->ncols; j++) {
        const char *ce = memchr(ls + c0, ',', ll - c0);
        size_t c1 = ce != NULL ? (size_t)(ce - ls) : ll; /* cell is [c0, c1) */
        size_t a = c0, b = c1;
        while (a < b && is_space(ls[a])) a++;
        while (b > a && is_space(ls[b - 1])) b--;
        double v = 0;
        int rc = a == b ? NUM_SYNTAX : parse_num(ls + a, b - a, &v);
        if (rc != NUM_OK) {
            size_t col = (a == b ? c0 : a) + 1;
            nnr_io_snip(snip, sizeof snip, ls + a, b - a, CSV_SNIP);
            if (a == b)
                nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a number, found an empty "
                            "cell", pn, line, col);
            else if (rc == NUM_NONFINITE)
                nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a finite number, found "
                            "'%s' (NaN and infinity are not allowed)", pn, line, col, snip);
            else if (rc == NUM_RANGE)
                nnr_io_errf(err, errlen, "%s:%zu:%zu: number '%s' is out of the range of "
                            "a float", pn, line, col, snip);
            else
                nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a number, found '%s'", pn,
                            line, col, snip);
            return -1;
        }
        if (store_cell(r, j, &xi, v) != 0) {
            nnr_io_snip(snip, sizeof snip, ls + a, b - a, CSV_SNIP);
            nnr_io_errf(err, errlen, "%s:%zu:%zu: expected a class label (an integer "
                        ">= 0), found '%s'", pn, line, a + 1, snip);
            return -1;
        }
        c0 = c1 + 1;
    }
    return 0;
}

/* The layout of the data rows from the first one, of ncells cells (at line
 * `line`): the input, target and label columns. 0, or -1 with the message. */
static int csv_layout(const nnr_csv_opts *o, size_t ncells, const char *pn, size_t line,
                      csv_row *r, char *err, size_t errlen)
{
    r->ncols = ncells;
    r->nt = 0;
    r->label_col = (size_t)-1;
    if (o->targets > 0) {
        if ((size_t)o->targets >= ncells)
            return nnr_io_errf(err, errlen, "%s:%zu: targets = %d leaves no input column "
                               "(rows have %zu columns)", pn, line, o->targets, ncells);
        r->nt = (size_t)o->targets;
        r->nx = ncells - r->nt;
    } else if (o->has_label) {
        long long lc = o->label < 0 ? (long long)ncells + o->label : o->label;
        if (lc < 0 || (unsigned long long)lc >= ncells)
            return nnr_io_errf(err, errlen, "%s:%zu: label column %d does not exist (rows "
                               "have %zu columns)", pn, line, o->label, ncells);
        if (ncells == 1)
            return nnr_io_errf(err, errlen, "%s:%zu: rows have a single column: no input "
                               "is left besides the label", pn, line);
        r->label_col = (size_t)lc;
        r->nx = ncells - 1;
    } else {
        r->nx = ncells;
    }
    return 0;
}

int nnr_csv_parse(const char *buf, size_t len, const char *path, const nnr_csv_opts *o,
                  nnr_dataset *out, char *err, size_t errlen)
{
    return nnr_csv_parse_lines(buf, len, path, 0, o, out, err, errlen);
}

int nnr_csv_parse_lines(const char *buf, size_t len, const char *path, size_t line0,
                        const nnr_csv_opts *o, nnr_dataset *out, char *err, size_t errlen)
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
    size_t pos = 0, line = line0;
    int header_pending = o->header != 0;

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
        if (ncols != 0 && rows < ax.cap && (nt == 0 || rows < ay.cap) &&
            (label_col == (size_t)-1 || rows < al.cap)) {
            /* the layout is known and the row has room: the one-pass reader */
            csv_row r = {ncols, nx, nt, label_col, (float *)ax.p + rows * nx,
                         nt ? (float *)ay.p + rows * nt : NULL,
                         label_col != (size_t)-1 ? (int32_t *)al.p + rows : NULL};
            if (fast_row(ls, ll, buf + len, &r) == 0) {
                rows++;
                continue;
            }
        }
        size_t ncells = 1;
        for (const char *c = ls, *e = ls + ll; (c = memchr(c, ',', (size_t)(e - c))) != NULL; c++)
            ncells++;
        if (ncols == 0) {
            /* The first data row fixes the layout. */
            csv_row lay = {0};
            if (csv_layout(o, ncells, pn, line, &lay, err, errlen) != 0) goto fail;
            ncols = lay.ncols;
            nx = lay.nx;
            nt = lay.nt;
            label_col = lay.label_col;
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
        csv_row r = {ncols, nx, nt, label_col, (float *)ax.p + rows * nx,
                     nt ? (float *)ay.p + rows * nt : NULL,
                     label_col != (size_t)-1 ? (int32_t *)al.p + rows : NULL};
        if (slow_row(ls, ll, &r, pn, line, err, errlen) != 0) goto fail;
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
