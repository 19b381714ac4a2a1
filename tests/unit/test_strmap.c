/* test_strmap.c — the front end's string hash table (compiler/support/
 * strmap.c): put/get/replace, growth by doubling and by strmap_reserve,
 * keys compared by content, checked against a plain array as oracle. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "support/strmap.h"

#define N 5000

static char keys[N][16];

static void make_keys(void)
{
    for (int i = 0; i < N; i++)
        snprintf(keys[i], sizeof keys[i], "k%d", i * 7919 % 100003);
}

static void check_all(const StrMap *m, int n)
{
    for (int i = 0; i < n; i++) {
        char copy[16];
        memcpy(copy, keys[i], sizeof copy);     /* by content, not by pointer */
        cr_assert_eq((intptr_t)strmap_get(m, copy), i + 1, "key %s", copy);
    }
    cr_assert_null(strmap_get(m, "absent"));
    cr_assert_eq(m->n, (size_t)n);
    cr_assert(2 * m->n <= m->cap, "at most half full: %zu of %zu", m->n, m->cap);
}

Test(strmap, grows_by_doubling)
{
    make_keys();
    StrMap m = {0};
    cr_assert_null(strmap_get(&m, "x"));
    for (int i = 0; i < N; i++)
        cr_assert_null(strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1)));
    check_all(&m, N);
    cr_assert_eq((intptr_t)strmap_put(&m, keys[3], (void *)(intptr_t)99), 4, "put returns the old value");
    cr_assert_eq((intptr_t)strmap_get(&m, keys[3]), 99);
    strmap_free(&m);
}

Test(strmap, reserve_keeps_one_table)
{
    make_keys();
    StrMap m = {0};
    cr_assert_null(strmap_put(&m, keys[0], (void *)(intptr_t)1));
    strmap_reserve(&m, N - 1);
    size_t cap = m.cap;
    cr_assert_geq(cap, 2 * (size_t)N);
    cr_assert_eq(cap & (cap - 1), 0, "a power of two");
    cr_assert_eq((intptr_t)strmap_get(&m, keys[0]), 1, "kept across the rehash");
    for (int i = 1; i < N; i++)
        strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1));
    cr_assert_eq(m.cap, cap, "no growth after reserving");
    check_all(&m, N);
    strmap_reserve(&m, 0);
    cr_assert_eq(m.cap, cap);
    strmap_free(&m);
}
