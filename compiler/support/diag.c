/* diag.c — user diagnostics, internal errors, allocation and file reading.
 *
 * A diagnostic is printed to stderr as
 *     digits.nnet:7:5: error: MESSAGE
 *      7 |     linear(100, 10)
 *        |     ^~~~~~~~~~~~~~~
 * The gutter is one space plus the digits of LINE. The quoted line is shown
 * as it is (tabs kept) except that control bytes and bytes that are not
 * valid UTF-8 are shown as '?'. The caret line repeats each tab before the
 * caret and puts one space for every other character (a UTF-8 sequence is
 * one character), so the caret stays under its column in a terminal; then
 * '^' and one '~' per further character of the span. A line of more than
 * 150 bytes is cut to 150 around the caret, "..." marking each cut. After
 * max_errors errors, errors are still counted but nothing more is printed
 * except one "nnc: too many errors, stopping". max_errors <= 0 makes a silent Diag
 * (it only counts: e.g. a pass re-running a shape check for verification). */
#define _DEFAULT_SOURCE 1  /* madvise MADV_HUGEPAGE (xnew) */
#include "diag.h"
#include "nnr.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *nnc_current_pass = NULL;

void diag_init(Diag *d, const SrcFile *src)
{
    d->src = src;
    d->nerrors = 0;
    d->nwarnings = 0;
    d->max_errors = 20;
}

/* ---- quoting a source line ---- */

/* The length of the character at p (n bytes available) and whether it can
   be shown: 1 for ASCII; 2-4 for a valid UTF-8 sequence; 1 (not
   printable) for a byte that starts no valid sequence. */
static size_t char_at(const unsigned char *p, size_t n, int *printable)
{
    unsigned char c = p[0];
    *printable = 0;
    if (c < 0x80) {
        *printable = c == '\t' || (c >= 0x20 && c < 0x7f);
        return 1;
    }
    size_t k;
    unsigned char lo = 0x80, hi = 0xbf;     /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
        if (c == 0xc2)
            lo = 0xa0;                      /* U+0080..U+009F are controls */
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0) lo = 0xa0;           /* overlong */
        if (c == 0xed) hi = 0x9f;           /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0) lo = 0x90;           /* overlong */
        if (c == 0xf4) hi = 0x8f;           /* beyond U+10FFFF */
    } else {
        return 1;
    }
    if (n < k || p[1] < lo || p[1] > hi)
        return 1;
    for (size_t i = 2; i < k; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 1;
    *printable = 1;
    return k;
}

static int ndigits(int v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Finds line `line` (1-based) of src; returns 0 if the file has no such line. */
static int find_line(const SrcFile *src, int line, const unsigned char **start, size_t *len)
{
    const unsigned char *p = (const unsigned char *)src->text;
    const unsigned char *end = p + src->len;
    for (int l = 1; l < line; l++) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return 0;
        p = nl + 1;
    }
    if (p == end && line > 1 && p[-1] == '\n')
        return 0;           /* the empty "line" after a final newline: none */
    const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *start = p;
    *len = n;
    return 1;
}

/* Bytes p[from, to) of a quoted line; unprintable characters as '?'. */
static void put_chars(FILE *out, const unsigned char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        int ok;
        size_t k = char_at(p + i, to - i, &ok);
        if (ok)
            fwrite(p + i, 1, k, out);
        else
            fputc('?', out);
        i += k;
    }
}

/* The first byte at or after i that starts a character (not a UTF-8
 * continuation byte), at most n. */
static size_t char_start(const unsigned char *p, size_t n, size_t i)
{
    while (i < n && (p[i] & 0xc0) == 0x80)
        i++;
    return i;
}

/* A line longer than QUOTE_MAX bytes is quoted as a window of that many
 * around the caret (QUOTE_BEFORE of them before it), with "..." where it
 * was cut, as clang does: a 40 MB line is not copied to stderr. */
#define QUOTE_MAX 150
#define QUOTE_BEFORE 50

static void quote_line(FILE *out, const SrcFile *src, Span sp)
{
    const unsigned char *p;
    size_t n;
    if (!src->text || !find_line(src, sp.line, &p, &n))
        return;
    int w = ndigits(sp.line);
    size_t col0 = sp.col > 0 ? (size_t)sp.col - 1 : 0;  /* byte index of the caret */
    size_t end0 = sp.end_col > sp.col ? (size_t)sp.end_col - 1 : col0 + 1;
    size_t ws = 0, we = n;                              /* the window shown */
    if (n > QUOTE_MAX) {
        size_t at = col0 < n ? col0 : n;
        ws = at > QUOTE_BEFORE ? at - QUOTE_BEFORE : 0;
        if (ws + QUOTE_MAX > n)
            ws = n - QUOTE_MAX;
        we = ws + QUOTE_MAX;
        ws = char_start(p, n, ws);
        we = char_start(p, n, we);
    }

    fprintf(out, " %d | %s", sp.line, ws > 0 ? "..." : "");
    put_chars(out, p, ws, we);
    fputs(we < n ? "...\n" : "\n", out);

    if (sp.col < 1)
        return;
    fprintf(out, " %*s | %s", w, "", ws > 0 ? "   " : "");
    size_t i = ws;
    while (i < we && i < col0) {                        /* up to the caret */
        int ok;
        size_t k = char_at(p + i, n - i, &ok);
        fputc(p[i] == '\t' ? '\t' : ' ', out);
        i += k;
    }
    for (; i < col0 && (we == n || i < we + 3); i++)   /* past the end of the line */
        fputc(' ', out);
    fputc('^', out);
    if (i < n) {
        int ok;
        i += char_at(p + i, n - i, &ok);
    }
    while (i < we && i < end0) {                        /* the rest of the span */
        int ok;
        i += char_at(p + i, n - i, &ok);
        fputc('~', out);
    }
    fputc('\n', out);
}

/* ---- diagnostics ---- */

/* Nothing more is printed (the notes of a suppressed error included). */
static int capped(const Diag *d)
{
    return d && (d->max_errors <= 0 || d->nerrors > d->max_errors);
}

static void vreport(Diag *d, const char *kind, int has_pos, Span sp,
                    const char *fmt, va_list ap)
{
    FILE *out = stderr;
    const SrcFile *src = d ? d->src : NULL;
    if (src && has_pos && sp.line > 0) {
        const char *path = src->path ? src->path : "<input>";
        if (sp.col > 0)
            fprintf(out, "%s:%d:%d: %s: ", path, sp.line, sp.col, kind);
        else
            fprintf(out, "%s:%d: %s: ", path, sp.line, kind);
    } else {
        fprintf(out, "%s: %s: ", src && src->path ? src->path : "nnc", kind);
    }
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    if (src && has_pos && sp.line > 0)
        quote_line(out, src, sp);
    fflush(out);
}

/* Counts an error; returns 1 if it is to be printed. */
static int count_error(Diag *d)
{
    if (!d)
        return 1;
    d->nerrors++;
    if (!capped(d))
        return 1;
    if (d->max_errors > 0 && d->nerrors == d->max_errors + 1) {
        fputs("nnc: too many errors, stopping\n", stderr);
        fflush(stderr);
    }
    return 0;
}

void diag_error(Diag *d, Span sp, const char *fmt, ...)
{
    if (!count_error(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "error", 1, sp, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, Span sp, const char *fmt, ...)
{
    if (d)
        d->nwarnings++;
    if (capped(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "warning", 1, sp, fmt, ap);
    va_end(ap);
}

/* A note belongs to the diagnostic before it: silent once errors are capped. */
void diag_note(Diag *d, Span sp, const char *fmt, ...)
{
    if (capped(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "note", 1, sp, fmt, ap);
    va_end(ap);
}

void diag_error_nopos(Diag *d, const char *fmt, ...)
{
    if (!count_error(d))
        return;
    /* the message names its own file (a weights file, a missing .nnet...) */
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("nnc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void diag_error_file(Diag *d, const char *file, const char *fmt, ...)
{
    if (!count_error(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: error: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

_Noreturn void nnc_ice(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "nnc: internal error in %s: ",
            nnc_current_pass ? nnc_current_pass : "driver");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (at %s:%d)\n", file, line);
    fflush(stderr);
    abort();
}

/* ---- memory ---- */

/* An error like any other, exit status 1 (never abort(): issue 17). Files
 * being written are nnr_wfile temporaries (O_TMPFILE), which vanish. */
_Noreturn void nnc_out_of_memory(void)
{
    static const char msg[] = "nnc: error: out of memory\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to try */
    }
    _exit(1);   /* no half-printed output flushed after the message */
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        nnc_out_of_memory();
    return p;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        nnc_out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        nnc_out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

/* Copies at most n bytes of s, stopping at a NUL; always NUL-terminated. */
char *xstrndup(const char *s, size_t n)
{
    /* n == 0 may come with s == NULL (an empty protobuf bytes field):
     * memchr and memcpy must not see the null pointer. */
    const char *nul = n ? memchr(s, '\0', n) : NULL;
    size_t len = nul ? (size_t)(nul - s) : n;
    if (len == SIZE_MAX)
        nnc_out_of_memory();
    char *p = xmalloc(len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        NNC_ICE("xasprintf: bad format \"%s\"", fmt);
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

/* Advice for a large buffer that is about to be filled: back it with huge
 * pages where the system lets a process ask (a page fault costs the same
 * for 4 KiB as for 2 MiB, and on a virtual machine it costs much). Buffers
 * under 4 MiB are left alone. */
void xhuge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t from = ((uintptr_t)p + huge - 1) & ~(huge - 1), to = ((uintptr_t)p + n) & ~(huge - 1);
    if (n >= ((size_t)4 << 20) && to > from)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);    /* advice only */
#else
    (void)p, (void)n;
#endif
}

/* Chunks of 1 MiB, then twice as large each time up to 64 MiB (or the
 * size asked, when larger), carved 16-byte aligned. They live as long as
 * the process; each chunk's first 16 bytes link the one before, so every
 * chunk stays reachable (no leak reports). A large chunk is fresh, zeroed
 * memory from the system that is only touched as it is carved: it is
 * asked for in huge pages (issue 17: a file of 10^6 lines makes a
 * quarter of a million page faults in 4 KiB pages, a third of the time). */
#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer each block is its own allocation, so that a read
 * past a block (a node allocated for its kind's fields only, as the syntax
 * tree's are) is reported. */
void *xnew(size_t n)
{
    return xcalloc(1, n);
}
#else
void *xnew(size_t n)
{
    static unsigned char *cur, *end, *last;
    static size_t next = (size_t)1 << 20;
    n = (n + 15) & ~(size_t)15;
    if (n == 0 || n < 16)
        n = 16;
    if ((size_t)(end - cur) < n) {
        size_t chunk = (n > next ? n : next) + 16;
        if (next < ((size_t)64 << 20))
            next *= 2;
        unsigned char *c = xcalloc(1, chunk);
        xhuge(c, chunk);
        memcpy(c, &last, sizeof last);
        last = c;
        cur = c + 16;
        end = c + chunk;
    }
    void *p = cur;
    cur += n;
    return p;
}
#endif

/* ---- files ---- */

/* NNC_MAX_INPUT, else 256 MiB: how much of an input that is not a regular
 * file (a pipe, a device such as /dev/zero) nnc reads (the runtime's
 * nnr_max_input, shared with the programs). */
static size_t max_stream_bytes(void)
{
    return nnr_max_input(NULL);
}

/* Reads in chunks (works on pipes and /dev/stdin too); the copy has a NUL
   after the last byte, and may contain NUL bytes itself. An input that is
   not a regular file is a stream: reading stops with an error past
   max_stream_bytes() instead of growing without end. */
char *read_file(const char *path, size_t *len, const char **err)
{
    static char msg[200];
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err)
            *err = strerror(errno);
        return NULL;
    }
    struct stat st;
    size_t limit = SIZE_MAX - 2, cap = 1 << 16, n = 0;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode))
        limit = max_stream_bytes();
    else if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX - 2)
        cap = (size_t)st.st_size + 2;      /* one read, and one more to see the end */
    char *buf = xmalloc(cap);
    for (;;) {
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2)
                nnc_out_of_memory();
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        errno = 0;
        size_t want = cap - n - 1;
        if (want > limit + 1 - n)
            want = limit + 1 - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (n > limit) {
            fclose(f);
            free(buf);
            snprintf(msg, sizeof msg, "not a regular file, and longer than %zu bytes, the limit for "
                     "streams (NNC_MAX_INPUT=BYTES raises it)", limit);
            if (err)
                *err = msg;
            return NULL;
        }
        if (got == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                fclose(f);
                free(buf);
                if (err)
                    *err = strerror(e);
                return NULL;
            }
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
