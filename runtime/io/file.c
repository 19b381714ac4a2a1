/* file.c — whole-file reading, atomic writing, message helpers, and
 * nnr_dataset_free. */
#if !defined(_POSIX_C_SOURCE) && !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include "../nnr.h"
#include "io_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define NNR_IO_POSIX 1
#else
#define NNR_IO_POSIX 0
#endif

int nnr_io_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n < 0) err[0] = '\0';
    err[errlen - 1] = '\0';
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

char *nnr_io_snip(char *dst, size_t dstlen, const char *s, size_t n, size_t max)
{
    if (dst == NULL || dstlen == 0) return dst;
    size_t avail = dstlen - 1;
    size_t take = n < max ? n : max;
    if (take > avail) take = avail;
    int cut = take < n;
    if (cut && avail >= 3 && take + 3 > avail) take = avail - 3;
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    size_t k = take;
    if (cut && avail - k >= 3) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
    return dst;
}

unsigned char *nnr_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    if (len != NULL) *len = 0;
    if (path == NULL) {
        nnr_io_errf(err, errlen, "no file name given");
        return NULL;
    }
#if NNR_IO_POSIX
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        nnr_io_errf(err, errlen, "%s: is a directory, not a file", path);
        return NULL;
    }
#endif
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        nnr_io_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) goto oom;
    for (;;) {
        if (cap - n < 2) { /* keep room for the NUL terminator */
            if (cap > SIZE_MAX / 2) goto oom;
            unsigned char *nb = realloc(buf, cap * 2);
            if (nb == NULL) goto oom;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                nnr_io_errf(err, errlen, "%s: read error: %s", path, strerror(errno));
                free(buf);
                fclose(f);
                return NULL;
            }
            break;
        }
    }
    fclose(f);
    buf[n] = '\0'; /* convenience terminator, not counted in *len */
    if (len != NULL) *len = n;
    return buf;
oom:
    free(buf);
    fclose(f);
    nnr_io_errf(err, errlen, "%s: out of memory reading the file", path);
    return NULL;
}

int nnr_write_file_atomic(const char *path, const void *buf, size_t len, char *err,
                          size_t errlen)
{
    if (path == NULL || path[0] == '\0')
        return nnr_io_errf(err, errlen, "no file name given");
    if (buf == NULL && len > 0)
        return nnr_io_errf(err, errlen, "%s: no data to write", path);
#if NNR_IO_POSIX
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return nnr_io_errf(err, errlen, "%s: is a directory", path);
    unsigned long pid = (unsigned long)getpid();
#else
    unsigned long pid = 0;
#endif
    size_t plen = strlen(path), tlen;
    if (nnr_io_add(plen, 32, &tlen) != 0)
        return nnr_io_errf(err, errlen, "%s: file name too long", path);
    char *tmp = malloc(tlen);
    if (tmp == NULL) return nnr_io_errf(err, errlen, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%lu", path, pid);

    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        nnr_io_errf(err, errlen, "%s: cannot create temporary file %s: %s", path, tmp,
                    strerror(errno));
        free(tmp);
        return -1;
    }
    const char *what = NULL;
    int e = 0;
    if (len > 0 && fwrite(buf, 1, len, f) != len) { what = "write"; e = errno; }
    if (what == NULL && fflush(f) != 0) { what = "write"; e = errno; }
#if NNR_IO_POSIX
    if (what == NULL && fsync(fileno(f)) != 0) { what = "sync"; e = errno; }
#endif
    if (fclose(f) != 0 && what == NULL) { what = "close"; e = errno; }
    if (what == NULL && rename(tmp, path) != 0) { what = "rename"; e = errno; }
    if (what != NULL) {
        remove(tmp);
        nnr_io_errf(err, errlen, "%s: cannot %s the file: %s (previous contents kept)",
                    path, what, strerror(e));
        free(tmp);
        return -1;
    }
    free(tmp);
#if NNR_IO_POSIX
    /* Make the rename durable: sync the folder (best effort). */
    {
        const char *slash = strrchr(path, '/');
        char *dir = NULL;
        if (slash == NULL) {
            dir = malloc(2);
            if (dir) strcpy(dir, ".");
        } else {
            size_t dl = (size_t)(slash - path);
            if (dl == 0) dl = 1; /* "/file" */
            dir = malloc(dl + 1);
            if (dir) { memcpy(dir, path, dl); dir[dl] = '\0'; }
        }
        if (dir != NULL) {
            int fd = open(dir, O_RDONLY);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
            free(dir);
        }
    }
#endif
    return 0;
}

void nnr_dataset_free(nnr_dataset *d)
{
    if (d == NULL) return;
    free(d->x);
    free(d->labels);
    free(d->y);
    memset(d, 0, sizeof *d);
}
