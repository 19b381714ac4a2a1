/* fuzz_alloc.c — the compiler's x* allocators for fuzzing: every block is
 * linked into a list so fz_free_all() can release one input's memory. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"

typedef struct Blk {
    struct Blk *prev, *next;
    size_t size;
    size_t pad; /* keep the payload 32-byte aligned on 64-bit */
} Blk;

static Blk head = {&head, &head, 0, 0};

static _Noreturn void oom(void)
{
    fputs("nnc: out of memory\n", stderr);
    abort();
}

static void *link_blk(Blk *b, size_t n)
{
    b->size = n;
    b->next = head.next;
    b->prev = &head;
    head.next->prev = b;
    head.next = b;
    return b + 1;
}

void *xmalloc(size_t n)
{
    if (n > ((size_t)1 << 40)) oom();
    Blk *b = malloc(sizeof(Blk) + (n ? n : 1));
    if (!b) oom();
    return link_blk(b, n);
}

void *xcalloc(size_t n, size_t sz)
{
    if (sz && n > ((size_t)1 << 40) / sz) oom();
    void *p = xmalloc(n * sz);
    memset(p, 0, n * sz);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    if (!p) return xmalloc(n);
    if (n > ((size_t)1 << 40)) oom();
    Blk *b = (Blk *)p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    Blk *nb = realloc(b, sizeof(Blk) + (n ? n : 1));
    if (!nb) oom();
    return link_blk(nb, n);
}

char *xstrndup(const char *s, size_t n)
{
    const char *nul = memchr(s, '\0', n);
    size_t len = nul ? (size_t)(nul - s) : n;
    char *p = xmalloc(len + 1);
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
    Blk *b = head.next;
    while (b != &head) {
        Blk *n = b->next;
        free(b);
        b = n;
    }
    head.next = head.prev = &head;
}
