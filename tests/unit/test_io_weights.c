/* Unit tests of nnr_load_state (runtime/io/weights.c): the strict and the
 * lenient load of a model's state, shared by `nnc build --weights` and the
 * programs' --weights / --init. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnr_prog.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/nnc_io_weights_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(weights, .init = setup, .fini = teardown);

/* fc.weight [2, 2], fc.bias [2], bn.num_batches_tracked (a counter): 5 floats. */
static const nnr_tensor_desc T[] = {
    {"fc.weight", 2, {2, 2}, 0, 4, NNR_T_PARAM, 0, "fc"},
    {"fc.bias", 1, {2}, 4, 2, NNR_T_PARAM, 0, "fc"},
    {"bn.num_batches_tracked", 0, {0}, 6, 1, NNR_T_COUNTER, 1, "bn"},
};
#define NT 3
#define NS 7

/* Writes a safetensors file: header text, then data bytes. */
static const char *put(const char *name, const char *hdr, const void *data, size_t dlen)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t h = strlen(hdr), len = 8 + h + dlen;
    unsigned char *b = malloc(len);
    cr_assert_not_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    char err[256] = "";
    cr_assert_eq(nnr_write_file_atomic(path, b, len, err, sizeof err), 0, "%s", err);
    free(b);
    return path;
}

/* The messages given to the report callback, one "KIND|PATH|MSG" line each. */
static char said[4096];

static void collect(void *ctx, const char *kind, const char *path, const char *msg)
{
    cr_assert_eq(ctx, (void *)said);
    size_t n = strlen(said);
    snprintf(said + n, sizeof said - n, "%s|%s|%s\n", kind, path, msg);
}

static void fill(float *s, float v)
{
    for (int i = 0; i < NS; i++) s[i] = v;
}

Test(weights, strict_converts_and_counts)
{
    /* fc.weight F16 [1, -2, 0.5, 3], fc.bias F64 [0.25, -8], counter I64 42 */
    unsigned char d[8 + 16 + 8] = {
        0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x42,
        0, 0, 0, 0, 0, 0, 0xd0, 0x3f, 0, 0, 0, 0, 0, 0, 0x20, 0xc0,
        42, 0, 0, 0, 0, 0, 0, 0};
    const char *p = put("ok.safetensors",
                        "{\"fc.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                        "\"fc.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                        "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                        "\"data_offsets\":[24,32]}}",
                        d, sizeof d);
    float s[NS];
    fill(s, 9);
    said[0] = '\0';
    cr_assert_eq(nnr_load_state(p, T, NT, 1, s, collect, said), 0, "%s", said);
    cr_expect_str_empty(said);
    const float want[NS] = {1, -2, 0.5f, 3, 0.25f, -8, 42};
    for (int i = 0; i < NS; i++)
        cr_expect_eq(s[i], want[i], "state[%d] = %g", i, (double)s[i]);
}

Test(weights, missing_counter_loads_as_zero)
{
    float d[6] = {1, 2, 3, 4, 5, 6};
    const char *p = put("nocount.safetensors",
                        "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                        "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                        d, sizeof d);
    for (int strict = 0; strict < 2; strict++) {
        float s[NS];
        fill(s, 9);
        said[0] = '\0';
        cr_assert_eq(nnr_load_state(p, T, NT, strict, s, collect, said), 0);
        cr_expect_str_empty(said, "a missing num_batches_tracked is silent");
        cr_expect_eq(s[5], 6);
        cr_expect_eq(s[6], 0);
    }
}

static const char *bad_file(void)
{
    float d[7] = {1, 2, 3, 4, 5, 6, 7};
    /* fc.weight of another shape, fc.bias missing, an extra tensor */
    return put("bad.safetensors",
               "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"bn.num_batches_tracked\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]},"
               "\"head.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}",
               d, sizeof d);
}

Test(weights, strict_errors_leave_state_untouched)
{
    const char *p = bad_file();
    float s[NS];
    fill(s, 9);
    said[0] = '\0';
    cr_assert_eq(nnr_load_state(p, T, NT, 1, s, collect, said), -1);
    char want[1024];
    snprintf(want, sizeof want,
             "error|%s|tensor 'fc.weight' has shape [4], the model expects [2, 2]\n"
             "error|%s|missing tensor 'fc.bias' (shape [2])\n"
             "error|%s|unexpected tensor 'head.bias': the model has no such parameter\n",
             p, p, p);
    cr_expect_str_eq(said, want);
    for (int i = 0; i < NS; i++)
        cr_expect_eq(s[i], 9, "state[%d] changed", i);
}

Test(weights, lenient_load_keeps_the_rest)
{
    const char *p = bad_file();
    float s[NS];
    fill(s, 9);
    said[0] = '\0';
    cr_assert_eq(nnr_load_state(p, T, NT, 0, s, collect, said), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "warning|%s|tensor 'fc.weight' has shape [4], the model expects [2, 2]; keeping "
             "its initialisation\n"
             "warning|%s|missing tensor 'fc.bias' (shape [2]); keeping its initialisation\n"
             "warning|%s|unexpected tensor 'head.bias': the model has no such parameter; "
             "ignoring it\n",
             p, p, p);
    cr_expect_str_eq(said, want);
    const float expect[NS] = {9, 9, 9, 9, 9, 9, 5};
    for (int i = 0; i < NS; i++)
        cr_expect_eq(s[i], expect[i], "state[%d] = %g", i, (double)s[i]);
}

Test(weights, unreadable_file_is_one_error)
{
    char p[128];
    snprintf(p, sizeof p, "%s/absent.safetensors", dir);
    float s[NS];
    said[0] = '\0';
    cr_assert_eq(nnr_load_state(p, T, NT, 0, s, collect, said), -1);
    char want[256];
    snprintf(want, sizeof want, "error|%s|cannot open: ", p);
    cr_expect_eq(strncmp(said, want, strlen(want)), 0, "%s", said);
    cr_expect_eq(strchr(said, '\n'), said + strlen(said) - 1, "one message: %s", said);
}

/* Weight tying (LANGUAGE.md §8): head.weight names fc.weight again, after
 * fc.bias in the state_dict. */
static const nnr_tie_desc TIE[] = {{"head.weight", 0, 2, 1, "head"}};

/* fc.weight, fc.bias, then head.weight when hw (4 floats) is given. */
static const char *tied_file(const char *name, const float *hw)
{
    float d[10] = {1, 2, 3, 4, 5, 6};
    if (hw)
        memcpy(d + 6, hw, 4 * sizeof(float));
    return put(name,
               hw ? "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                    "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                    "\"head.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]}}"
                  : "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                    "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
               d, hw ? sizeof d : 24);
}

Test(weights, tie_both_names_or_only_the_owner)
{
    const float same[4] = {1, 2, 3, 4};
    char paths[2][128];     /* put() returns its own buffer */
    snprintf(paths[0], sizeof paths[0], "%s", tied_file("both.safetensors", same));
    snprintf(paths[1], sizeof paths[1], "%s", tied_file("owner.safetensors", NULL));
    for (int f = 0; f < 2; f++)
        for (int strict = 0; strict < 2; strict++) {
            float s[NS];
            fill(s, 9);
            said[0] = '\0';
            cr_assert_eq(nnr_load_state_tied(paths[f], T, NT, TIE, 1, strict, s, collect, said), 0,
                         "%s", said);
            cr_expect_str_empty(said, "file %d strict %d: %s", f, strict, said);
            const float want[NS] = {1, 2, 3, 4, 5, 6, 0};
            for (int i = 0; i < NS; i++)
                cr_expect_eq(s[i], want[i], "state[%d] = %g", i, (double)s[i]);
        }
    /* without the tie, its name is an unexpected tensor */
    said[0] = '\0';
    cr_expect_eq(nnr_load_state(paths[0], T, NT, 1, (float[NS]){0}, collect, said), -1);
}

Test(weights, tie_with_other_values_is_an_error)
{
    const float other[4] = {1, 2, 3, 4.5f};
    const char *p = tied_file("differ.safetensors", other);
    for (int strict = 0; strict < 2; strict++) {
        float s[NS];
        fill(s, 9);
        said[0] = '\0';
        cr_assert_eq(nnr_load_state_tied(p, T, NT, TIE, 1, strict, s, collect, said), -1);
        char want[512];
        snprintf(want, sizeof want, "error|%s|tensors 'fc.weight' and 'head.weight' hold different values, "
                 "but they are one tensor of the model (weight tying: head.weight = fc.weight)\n", p);
        cr_expect_str_eq(said, want);
        for (int i = 0; i < NS; i++)
            cr_expect_eq(s[i], 9, "state[%d] changed", i);
    }
}

Test(weights, tie_stands_in_for_a_missing_owner_when_not_strict)
{
    float d[6] = {5, 6, 7, 8, 9, 10};
    const char *p = put("tieonly.safetensors",
                        "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"head.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}",
                        d, sizeof d);
    float s[NS];
    fill(s, 9);
    said[0] = '\0';
    cr_expect_eq(nnr_load_state_tied(p, T, NT, TIE, 1, 1, s, collect, said), -1);
    cr_expect_neq(strstr(said, "missing tensor 'fc.weight'"), NULL, "%s", said);
    said[0] = '\0';
    cr_assert_eq(nnr_load_state_tied(p, T, NT, TIE, 1, 0, s, collect, said), 0);
    char want[512];
    snprintf(want, sizeof want, "warning|%s|missing tensor 'fc.weight'; loading it from 'head.weight', the "
             "same tensor of the model (weight tying)\n", p);
    cr_expect_str_eq(said, want);
    const float expect[NS] = {7, 8, 9, 10, 5, 6, 0};
    for (int i = 0; i < NS; i++)
        cr_expect_eq(s[i], expect[i], "state[%d] = %g", i, (double)s[i]);
}

Test(weights, tie_saved_in_state_dict_order)
{
    float s[NS] = {1, 2, 3, 4, 5, 6, 7};
    nnr_st_out o[NT + 1];
    nnr_state_entries(T, NT, TIE, 1, s, o);
    const char *names[] = {"fc.weight", "fc.bias", "head.weight", "bn.num_batches_tracked"};
    for (int i = 0; i < NT + 1; i++)
        cr_expect_str_eq(o[i].name, names[i]);
    cr_expect_eq(o[2].data, s, "the tie is the owner's floats");
    cr_expect_eq(o[2].ndim, 2);
    cr_expect_eq(o[3].is_int, 1);
}
