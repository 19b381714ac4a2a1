/* diag.h — source spans and user diagnostics (file:line:col, quoted line, caret).
 *
 * Errors accumulate in a Diag context (several per run, cascades capped);
 * the caller checks diag->nerrors after each phase. Compiler bugs are not
 * diagnostics: they go through nnc_ice() which names the running pass. */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdarg.h>
#include <stddef.h>

/* A span in one source file: 1-based line and column of the first byte,
 * and the 1-based column one past its last byte on that same line
 * (end_col == col means "just a point"). */
typedef struct Span {
    int line;
    int col;
    int end_col;
} Span;

/* One source file, kept whole so messages can quote lines. */
typedef struct SrcFile {
    const char *path;   /* as the user wrote it */
    const char *text;   /* whole contents, NUL-terminated */
    size_t len;         /* bytes, not counting the NUL */
} SrcFile;

typedef struct Diag {
    const SrcFile *src; /* file the spans refer to (may be NULL) */
    int nerrors;
    int nwarnings;
    int max_errors;     /* after this many, further errors are counted, not shown */
} Diag;

void diag_init(Diag *d, const SrcFile *src);
void diag_error(Diag *d, Span sp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, Span sp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, Span sp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error with no position in the source (e.g. a file that cannot be read):
 * printed as "nnc: error: MESSAGE"; the message names the file it is about. */
void diag_error_nopos(Diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An error about a whole file other than the source (a weights file), in the
 * style of the runtime's loader: printed as "FILE: error: MESSAGE". */
void diag_error_file(Diag *d, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Internal compiler error: prints "nnc: internal error in <pass>: ..." and aborts. */
extern const char *nnc_current_pass;
_Noreturn void nnc_ice(const char *file, int line, const char *fmt, ...);
#define NNC_ICE(...) nnc_ice(__FILE__, __LINE__, __VA_ARGS__)

/* Memory: the compiler is a short-lived process; allocations live until exit.
 * On exhaustion these never return NULL: nnc_out_of_memory() reports
 * "nnc: error: out of memory" and exits with status 1. */
_Noreturn void nnc_out_of_memory(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* n zeroed bytes from a bump allocator, for the many small nodes that live
 * until exit (syntax tree, values): never freed nor reallocated. */
void *xnew(size_t n);
/* Ask for huge pages under a large buffer not yet touched (advice only). */
void xhuge(void *p, size_t n);

/* Read a whole file; returns NULL and sets *err (static string) on failure. */
char *read_file(const char *path, size_t *len, const char **err);

#endif
