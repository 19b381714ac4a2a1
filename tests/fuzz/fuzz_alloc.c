/* fuzz_alloc.c — the compiler's x* allocators for fuzzing: every block they
 * hand out is remembered in a hash set so fz_free_all() can release one
 * input's memory. The compiler sources are built with -Dfree=fz_free (see
 * build.sh): a block freed early is forgotten; other pointers (flex's own
 * buffers) go straight to free(). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"

#define TOMB ((void *)1)
static void **set;
static size_t cap, used, live; /* used counts tombstones too */

static _Noreturn void oom(void)
{
    fputs("nnc: out of memory\n", stderr);
    abort();
}

static size_t hash(void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void put(void *p);

static void grow(void)
{
    void **old = set;
    size_t oc = cap;
    cap = cap ? (live * 4 > cap ? cap * 2 : cap) : 1024;
    set = calloc(cap, sizeof *set);
    if (!set) oom();
    used = live = 0;
    for (size_t i = 0; i < oc; i++)
        if (old[i] && old[i] != TOMB) put(old[i]);
    free(old);
}

static void put(void *p)
{
    if ((used + 1) * 2 > cap) grow();
    size_t i = hash(p) & (cap - 1);
    while (set[i] && set[i] != TOMB) i = (i + 1) & (cap - 1);
    if (!set[i]) used++;
    set[i] = p;
    live++;
}

static int take(void *p)
{
    if (!cap) return 0;
    size_t i = hash(p) & (cap - 1);
    while (set[i]) {
        if (set[i] == p) {
            set[i] = TOMB;
            live--;
            return 1;
        }
        i = (i + 1) & (cap - 1);
    }
    return 0;
}

void fz_free(void *p)
{
    if (!p) return;
    take(p);
    free(p);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    put(p);
    return p;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) oom();
    put(p);
    return p;
}

/* The front end's bump allocator: here one tracked block each, freed with
 * the rest after every input. */
void *xnew(size_t n)
{
    return xcalloc(1, n);
}

void *xrealloc(void *p, size_t n)
{
    if (p) take(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) oom();
    put(q);
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    /* n == 0 may come with s == NULL (an empty protobuf bytes field):
     * memchr and memcpy must not see the null pointer. */
    const char *nul = n ? memchr(s, '\0', n) : NULL;
    size_t len = nul ? (size_t)(nul - s) : n;
    char *p = xmalloc(len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void fz_free_all(void)
{
    for (size_t i = 0; i < cap; i++)
        if (set[i] && set[i] != TOMB) free(set[i]);
    if (cap) memset(set, 0, cap * sizeof *set);
    used = live = 0;
}
