/* io_util.h — helpers shared by the file readers and writers in runtime/io/
 * (internal to the runtime; not part of the nnr.h API). */
#ifndef NNR_IO_UTIL_H
#define NNR_IO_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define NNR_IO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NNR_IO_PRINTF(f, a)
#endif

/* Formats a message into err (when err != NULL and errlen > 0), truncated
 * safely and kept on a single line (control characters become '?').
 * Always returns -1 so callers can `return nnr_io_errf(...)`; nnr_io_verrf
 * takes the arguments as a va_list. */
int nnr_io_errf(char *err, size_t errlen, const char *fmt, ...) NNR_IO_PRINTF(3, 4);
int nnr_io_verrf(char *err, size_t errlen, const char *fmt, va_list ap) NNR_IO_PRINTF(3, 0);

/* Copies at most max bytes of s[0..n) into dst (size dstlen, NUL-terminated)
 * for quoting in a message: control bytes become '?', and "..." marks a cut.
 * Returns dst. */
char *nnr_io_snip(char *dst, size_t dstlen, const char *s, size_t n, size_t max);

/* The name used for a buffer in messages when no path is given. */
#define NNR_IO_NAME(p) ((p) != NULL ? (p) : "<buffer>")

/* Overflow-checked size arithmetic: 0 on success, -1 on overflow. */
static inline int nnr_io_mul(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *r = a * b;
    return 0;
}
static inline int nnr_io_add(size_t a, size_t b, size_t *r)
{
    if (b > SIZE_MAX - a) return -1;
    *r = a + b;
    return 0;
}

#endif
