/* strmap.c — the string hash table of strmap.h: linear probing in a table
 * kept at most half full, grown by doubling. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

/* The slot holding key (of hash h), or the empty slot where it would go. */
static StrMapSlot *find(const StrMap *m, const char *key, size_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const StrMapSlot *s = &m->slot[i];
        /* the same pointer (a name looked up by the string it was put
         * with) needs no read of the bytes */
        if (!s->key || (s->hash == h && (s->key == key || strcmp(s->key, key) == 0)))
            return &m->slot[i];
    }
}

void *strmap_get(const StrMap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    return find(m, key, hash(key))->val;
}

void **strmap_ref(StrMap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    StrMapSlot *s = find(m, key, hash(key));
    return s->key ? &s->val : NULL;
}

/* Rehash m into a table of cap slots (a power of two above 2 * m->n). */
static void rehash(StrMap *m, size_t cap)
{
    StrMap big = {0};
    big.cap = cap;
    big.slot = xcalloc(big.cap, sizeof *big.slot);
    xhuge(big.slot, big.cap * sizeof *big.slot);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].key)
            *find(&big, m->slot[i].key, m->slot[i].hash) = m->slot[i];
    big.n = m->n;
    free(m->slot);
    *m = big;
}

/* A table of at least cap slots (a power of two, at least 16). */
static size_t table_size(size_t cap)
{
    size_t c = 16;
    while (c < cap) {
        if (c > SIZE_MAX / 4 / sizeof(StrMapSlot))
            nnc_out_of_memory();
        c *= 2;
    }
    return c;
}

void strmap_reserve(StrMap *m, size_t n)
{
    if (2 * (m->n + n) > m->cap)
        rehash(m, table_size(2 * (m->n + n)));
}

void *strmap_put(StrMap *m, const char *key, void *val)
{
    if (2 * (m->n + 1) > m->cap)
        rehash(m, table_size(m->cap * 2));
    size_t h = hash(key);
    StrMapSlot *s = find(m, key, h);
    void *old = s->val;
    if (!s->key) {
        s->key = key;
        s->hash = h;
        m->n++;
    }
    s->val = val;
    return old;
}

void strmap_free(StrMap *m)
{
    free(m->slot);
    *m = (StrMap){0};
}
