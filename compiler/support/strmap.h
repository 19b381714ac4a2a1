/* strmap.h — a hash table from NUL-terminated strings to non-NULL pointers
 * (open addressing, FNV-1a), so that name lookups in the front end are
 * O(1) and checking a file is linear in its size. Keys are not copied:
 * they must live as long as the map (the AST's strings live until exit). */
#ifndef NNC_STRMAP_H
#define NNC_STRMAP_H

#include <stddef.h>

typedef struct StrMapSlot {
    const char *key;    /* NULL: empty */
    void *val;
    size_t hash;        /* of key: probing compares it before the bytes */
} StrMapSlot;

typedef struct StrMap {
    StrMapSlot *slot;
    size_t cap;         /* 0 or a power of two */
    size_t n;
} StrMap;

/* The value of key, or NULL. */
void *strmap_get(const StrMap *m, const char *key);
/* Sets key to val (non-NULL); returns the value it had, or NULL. */
void *strmap_put(StrMap *m, const char *key, void *val);
/* Where the value of key is kept (to read it and then set it with one
 * lookup), or NULL when key is absent. Valid until the next put. */
void **strmap_ref(StrMap *m, const char *key);
/* Room for n more keys without growing (one table instead of log n). */
void strmap_reserve(StrMap *m, size_t n);
void strmap_free(StrMap *m);

#endif
