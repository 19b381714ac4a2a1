/* file.c — whole-file reading (streams up to NNC_MAX_INPUT bytes), atomic
 * writing (nnr_wfile_*: regular files by temporary + rename keeping mode
 * and owner, devices and FIFOs in place), message helpers, and
 * nnr_dataset_free. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* O_TMPFILE */
#endif
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
#if NNR_IO_POSIX && defined(__linux__) && defined(O_TMPFILE)
#define NNR_IO_TMPFILE 1 /* unnamed temporaries (Linux 3.11 and later) */
#else
#define NNR_IO_TMPFILE 0
#endif

int nnr_io_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err == NULL || errlen == 0) return -1;
    int n = vsnprintf(err, errlen, fmt, ap);
    if (n < 0) err[0] = '\0';
    err[errlen - 1] = '\0';
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

int nnr_io_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nnr_io_verrf(err, errlen, fmt, ap);
    va_end(ap);
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

size_t nnr_max_input(const char **bad)
{
    const char *e = getenv("NNC_MAX_INPUT");
    size_t dflt = (size_t)256 << 20;
    if (bad)
        *bad = NULL;
    if (e == NULL || *e == '\0')
        return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 10);
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (errno || end == e || *e < '0' || *e > '9' || *end || v == 0 ||
        v > ((SIZE_MAX - 2) / 4) >> shift) {
        if (bad)
            *bad = e;
        return dflt;
    }
    return (size_t)v << shift;
}

static size_t max_stream_bytes(void)
{
    return nnr_max_input(NULL);
}

unsigned char *nnr_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    if (len != NULL) *len = 0;
    if (path == NULL) {
        nnr_io_errf(err, errlen, "no file name given");
        return NULL;
    }
    size_t limit = SIZE_MAX - 2, cap = 1 << 16, n = 0;
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
#if NNR_IO_POSIX
    /* A stream has no size to check against: it is read up to a limit. */
    if (fstat(fileno(f), &st) == 0) {
        if (!S_ISREG(st.st_mode))
            limit = max_stream_bytes();
        else if (st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX - 2)
            cap = (size_t)st.st_size + 2; /* one read, and one more to see the end */
    }
#endif
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
        size_t want = cap - n - 1;
        if (want > limit + 1 - n) want = limit + 1 - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (n > limit) {
            nnr_io_errf(err, errlen,
                        "%s: not a regular file, and longer than %zu bytes, the limit for "
                        "streams (NNC_MAX_INPUT=BYTES raises it)", path, limit);
            free(buf);
            fclose(f);
            return NULL;
        }
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

/* ------------------------------------------------------------ atomic writing
 *
 * A file is written beside its target and given the target's name by
 * rename(2) only once it is complete and synced, so the target always holds
 * the old or the new contents. On Linux the temporary is an unnamed file of
 * the target's folder (O_TMPFILE): a process killed while it writes leaves
 * nothing behind. It gets a name by linkat(2) through /proc/self/fd/N: the
 * target's own name when there is no target yet, else PATH.tmp.<pid> just
 * before the rename (linkat cannot replace a file), so only a kill between
 * those two calls can leave that name behind. Where O_TMPFILE is not defined
 * or not supported (the file system, no /proc), the temporary is
 * PATH.tmp.<pid> from the start.
 *
 * What is replaced is only ever a regular file (or a symbolic link, as
 * rename does): a device or FIFO is not ours to replace (--save /dev/null as
 * root must not delete /dev/null), so it is written in place, and a regular
 * file replaced keeps its permissions and, as far as the process may, its
 * owner (a 0600 weights file stays 0600). */

/* The folder of path ("." for a bare name), malloc'd; NULL when out of memory. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir == NULL) return NULL;
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    return dir;
}

static void wfile_free(nnr_wfile *w)
{
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    w->f = NULL;
    w->fd = -1;
    w->inplace = 0;
}

#if NNR_IO_POSIX
/* An existing target that is not a regular file (a device, a FIFO, or a
 * symbolic link to one) is written in place: opened for writing, without
 * O_CREAT or O_TRUNC, never replaced. A FIFO waits here for a reader, as a
 * shell redirection does. 1: w->f is open on it; 0: the target turned out
 * to be a regular file after all (replaced meanwhile), write atomically;
 * -1: an error, with the message. */
static int open_in_place(nnr_wfile *w, const char *path, const struct stat *st, char *err,
                         size_t errlen)
{
    if (S_ISSOCK(st->st_mode))
        return nnr_io_errf(err, errlen, "%s: is a socket, not a file", path);
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return nnr_io_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat now;
    if (fstat(fd, &now) == 0 && S_ISREG(now.st_mode)) {
        close(fd);
        return 0;
    }
    if ((w->f = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        close(fd);
        return nnr_io_errf(err, errlen, "%s: cannot open: %s", path, strerror(e));
    }
    w->inplace = 1;
    return 1;
}

/* The replacement of the regular file described by old gets its permission
 * bits and, where the process may set them, its owner and group (root may;
 * others may keep a group they belong to). Group bits are dropped when the
 * group cannot be kept, so no one gains access. executable adds x where r
 * is set. 0, or -1 with errno set. */
static int keep_mode(int fd, const struct stat *old, int executable)
{
    mode_t m = old->st_mode & 0777;
    if (executable) m |= (m & 0444) >> 2;
    struct stat now;
    if (fstat(fd, &now) != 0) return -1;
    if (now.st_uid != old->st_uid || now.st_gid != old->st_gid) {
        if (fchown(fd, old->st_uid, old->st_gid) != 0 &&
            fchown(fd, (uid_t)-1, old->st_gid) != 0) {
            /* neither the owner nor the group: the check below drops the group bits */
        }
        if (fstat(fd, &now) != 0) return -1;
        if (now.st_gid != old->st_gid) m &= ~(mode_t)070;
    }
    return fchmod(fd, m);
}
#endif

/* Opens the temporary: an unnamed one where the folder takes it, else
 * w->tmp; mode is its permission (less the umask). 0, or -1 with errno set. */
static int open_temporary(nnr_wfile *w, unsigned mode)
{
#if NNR_IO_TMPFILE
    /* Any failure here (EOPNOTSUPP, EISDIR or EINVAL where the file system or
     * the kernel has no O_TMPFILE, or a real error such as EACCES) falls back
     * to the named temporary, which then reports a real error itself. */
    char *dir = folder_of(w->path);
    if (dir != NULL) {
        int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
        free(dir);
        if (fd >= 0 && access("/proc/self/fd", X_OK) != 0) { /* no way to name it */
            close(fd);
            fd = -1;
        }
        if (fd >= 0) {
            w->f = fdopen(fd, "wb");
            if (w->f != NULL) {
                w->fd = fd;
                return 0;
            }
            close(fd);
        }
    }
#endif
#if NNR_IO_POSIX
    if (unlink(w->tmp) != 0 && errno != ENOENT) /* stale, of a process with our pid */
        return -1;
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd >= 0 && (w->f = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        close(fd);
        unlink(w->tmp);
        errno = e;
    }
#else
    (void)mode;
    w->f = fopen(w->tmp, "wb");
#endif
    return w->f != NULL ? 0 : -1;
}

int nnr_wfile_open(nnr_wfile *w, const char *path, int executable, char *err, size_t errlen)
{
    w->f = NULL;
    w->path = w->tmp = NULL;
    w->fd = -1;
    w->inplace = 0;
    if (path == NULL || path[0] == '\0')
        return nnr_io_errf(err, errlen, "no file name given");
    size_t plen = strlen(path), tlen;
    if (nnr_io_add(plen, 32, &tlen) != 0)
        return nnr_io_errf(err, errlen, "%s: file name too long", path);
    w->path = malloc(plen + 1);
    w->tmp = malloc(tlen);
    if (w->path == NULL || w->tmp == NULL) {
        wfile_free(w);
        return nnr_io_errf(err, errlen, "%s: out of memory", path);
    }
    memcpy(w->path, path, plen + 1);
#if NNR_IO_POSIX
    struct stat st;
    int regular = 0; /* an existing regular file, whose mode and owner are kept */
    unsigned mode = executable ? 0777 : 0666;   /* less the umask, as cc and fopen do */
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            wfile_free(w);
            return nnr_io_errf(err, errlen, "%s: is a directory", path);
        }
        regular = S_ISREG(st.st_mode);
        if (!regular) {
            int rc = open_in_place(w, path, &st, err, errlen);
            if (rc != 0) {
                if (rc < 0) wfile_free(w);
                return rc < 0 ? -1 : 0;
            }
            regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        }
        if (regular) mode &= (unsigned)st.st_mode | (executable ? 0111u : 0u); /* never wider meanwhile */
    }
    snprintf(w->tmp, tlen, "%s.tmp.%lu", path, (unsigned long)getpid());
#else
    unsigned mode = 0666;
    (void)executable;
    snprintf(w->tmp, tlen, "%s.tmp.0", path);
#endif
    if (open_temporary(w, mode) != 0) {
        nnr_io_errf(err, errlen, "%s: cannot create temporary file %s: %s", path, w->tmp,
                    strerror(errno));
        wfile_free(w);
        return -1;
    }
#if NNR_IO_POSIX
    if (regular && keep_mode(fileno(w->f), &st, executable) != 0) {
        nnr_io_errf(err, errlen, "%s: cannot give the new file the old one's permissions: %s",
                    path, strerror(errno));
        nnr_wfile_abort(w);
        return -1;
    }
#endif
    return 0;
}

void nnr_wfile_abort(nnr_wfile *w)
{
    if (w->f != NULL) {
        fclose(w->f);
        if (w->fd < 0 && !w->inplace) remove(w->tmp);
    }
    wfile_free(w);
}

/* The first error of a stream f that was written: the step that failed and
 * its errno, or NULL. After a failed write stdio keeps the unwritten bytes,
 * so flushing again gives the real cause (ENOSPC, not EIO). */
static const char *flush_error(FILE *f, int *e)
{
    if (ferror(f)) {
        errno = 0;
        *e = fflush(f) != 0 && errno != 0 ? errno : EIO;
        return "write";
    }
    if (fflush(f) != 0) {
        *e = errno;
        return "write";
    }
    return NULL;
}

#if NNR_IO_POSIX
/* Commit of a write in place (a device or FIFO): flush, sync where the file
 * can be synced, close. */
static int commit_in_place(nnr_wfile *w, char *err, size_t errlen)
{
    int e = 0;
    const char *what = flush_error(w->f, &e);
    if (what == NULL && fsync(fileno(w->f)) != 0 && errno != EINVAL && errno != EROFS &&
        errno != ENOTSUP) {
        what = "sync";
        e = errno;
    }
    if (fclose(w->f) != 0 && what == NULL) {
        what = "close";
        e = errno;
    }
    w->f = NULL;
    if (what != NULL)
        nnr_io_errf(err, errlen, "%s: cannot %s the file: %s", w->path, what, strerror(e));
    wfile_free(w);
    return what != NULL ? -1 : 0;
}
#endif

#if NNR_IO_TMPFILE
/* Names the unnamed temporary: the target itself when there is none yet,
 * else PATH.tmp.<pid>, then rename. NULL, or the step that failed (errno set). */
static const char *name_tmpfile(const nnr_wfile *w)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, w->path, AT_SYMLINK_FOLLOW) == 0) return NULL;
    if (errno != EEXIST) return "link";
    for (int tries = 0; linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp, AT_SYMLINK_FOLLOW) != 0;
         tries++)
        if (errno != EEXIST || tries > 0 || unlink(w->tmp) != 0) return "link";
    /* a kill here, and only here, leaves PATH.tmp.<pid> (complete) behind */
    if (rename(w->tmp, w->path) == 0) return NULL;
    int e = errno;
    unlink(w->tmp);
    errno = e;
    return "rename";
}
#endif

int nnr_wfile_commit(nnr_wfile *w, char *err, size_t errlen)
{
    if (w->f == NULL) {
        wfile_free(w);
        return nnr_io_errf(err, errlen, "no file open for writing");
    }
#if NNR_IO_POSIX
    if (w->inplace) return commit_in_place(w, err, errlen);
#endif
    int e = 0;
    const char *what = flush_error(w->f, &e);
#if NNR_IO_POSIX
    if (what == NULL && fsync(fileno(w->f)) != 0) { what = "sync"; e = errno; }
#endif
#if NNR_IO_TMPFILE
    if (w->fd >= 0) {
        /* synced: the name is given before the close (it needs the fd) */
        if (what == NULL && (what = name_tmpfile(w)) != NULL) e = errno;
        fclose(w->f);
        w->f = NULL;
    }
#endif
    if (w->f != NULL) {
        if (fclose(w->f) != 0 && what == NULL) { what = "close"; e = errno; }
        w->f = NULL;
        if (what == NULL && rename(w->tmp, w->path) != 0) { what = "rename"; e = errno; }
        if (what != NULL) remove(w->tmp);
    }
    if (what != NULL) {
        nnr_io_errf(err, errlen, "%s: cannot %s the file: %s (previous contents kept)",
                    w->path, what, strerror(e));
        wfile_free(w);
        return -1;
    }
#if NNR_IO_POSIX
    /* Make the new name durable: sync the folder (best effort). */
    char *dir = folder_of(w->path);
    if (dir != NULL) {
        int fd = open(dir, O_RDONLY);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
        free(dir);
    }
#endif
    wfile_free(w);
    return 0;
}

int nnr_write_file_atomic(const char *path, const void *buf, size_t len, char *err,
                          size_t errlen)
{
    if (buf == NULL && len > 0)
        return nnr_io_errf(err, errlen, "%s: no data to write", NNR_IO_NAME(path));
    nnr_wfile w;
    if (nnr_wfile_open(&w, path, 0, err, errlen) != 0) return -1;
    if (len > 0 && fwrite(buf, 1, len, w.f) != len) {
        int e = errno;
        nnr_io_errf(err, errlen, "%s: cannot write the file: %s%s", path, strerror(e),
                    w.inplace ? "" : " (previous contents kept)");
        nnr_wfile_abort(&w);
        return -1;
    }
    return nnr_wfile_commit(&w, err, errlen);
}

void nnr_dataset_free(nnr_dataset *d)
{
    if (d == NULL) return;
    free(d->x);
    free(d->labels);
    free(d->y);
    memset(d, 0, sizeof *d);
}
