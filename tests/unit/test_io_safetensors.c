/* Unit tests of the safetensors reader and writer (runtime/io/safetensors.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnr.h"

#ifndef NNC_TEST_DIR
#error "NNC_TEST_DIR must name the tests/ folder"
#endif
#define DATA(f) NNC_TEST_DIR "/data/io/" f

/* A safetensors buffer: u64 LE header length, header text, data bytes. */
static unsigned char *mk(const char *hdr, const void *data, size_t dlen, size_t *len)
{
    size_t h = strlen(hdr);
    *len = 8 + h + dlen;
    unsigned char *b = malloc(*len + 1);
    cr_assert_not_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    return b;
}

static void expect_ok(const char *hdr, const void *data, size_t dlen, nnr_st_file *f)
{
    size_t len;
    char err[512] = "";
    unsigned char *b = mk(hdr, data, dlen, &len);
    int rc = nnr_st_parse(b, len, "w.safetensors", f, err, sizeof err);
    free(b);
    cr_assert_eq(rc, 0, "unexpected failure: %s", err);
}

static void expect_err_buf(const unsigned char *b, size_t len, const char *frag)
{
    nnr_st_file f;
    char err[512] = "";
    int rc = nnr_st_parse(b, len, "w.safetensors", &f, err, sizeof err);
    cr_assert_eq(rc, -1, "expected a failure with '%s'", frag);
    cr_assert_not_null(strstr(err, frag), "message \"%s\" lacks \"%s\"", err, frag);
    cr_assert_not_null(strstr(err, "w.safetensors"), "message \"%s\" names no file", err);
    cr_assert_null(strchr(err, '\n'));
    cr_assert_eq(f.ntensors, 0);
    cr_assert_null(f.tensors);
}

static void expect_err(const char *hdr, size_t dlen, const char *frag)
{
    size_t len;
    unsigned char *zeros = calloc(1, dlen + 1);
    unsigned char *b = mk(hdr, zeros, dlen, &len);
    expect_err_buf(b, len, frag);
    free(b);
    free(zeros);
}

static void le16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

/* ------------------------------------------------------------ dtypes */

Test(safetensors, f16_values)
{
    unsigned char d[12];
    uint16_t v[6] = {0x3E00, 0xC000, 0x0001, 0x7C00, 0x8000, 0x7BFF};
    for (int i = 0; i < 6; i++) le16(d + 2 * i, v[i]);
    nnr_st_file f;
    expect_ok("{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]}}", d, 12, &f);
    const nnr_st_tensor *t = nnr_st_find(&f, "h");
    cr_assert_not_null(t);
    cr_assert_eq(t->numel, 6);
    cr_assert_eq(t->data[0], 1.5f);
    cr_assert_eq(t->data[1], -2.0f);
    cr_assert_eq(t->data[2], ldexpf(1.0f, -24));
    cr_assert(isinf(t->data[3]) && t->data[3] > 0);
    cr_assert(t->data[4] == 0.0f && signbit(t->data[4]));
    cr_assert_eq(t->data[5], 65504.0f);
    cr_assert_eq(t->dtype_was_int, 0);
    nnr_st_free(&f);
    cr_assert_null(f.tensors);
    cr_assert_eq(f.ntensors, 0);
}

Test(safetensors, bf16_values)
{
    unsigned char d[6];
    le16(d, 0x3FC0);     /* 1.5 */
    le16(d + 2, 0xC049); /* -3.140625 */
    le16(d + 4, 0x7FC0); /* NaN */
    nnr_st_file f;
    expect_ok("{\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", d, 6, &f);
    cr_assert_eq(f.tensors[0].data[0], 1.5f);
    cr_assert_eq(f.tensors[0].data[1], -3.140625f);
    cr_assert(isnan(f.tensors[0].data[2]));
    nnr_st_free(&f);
}

Test(safetensors, f64_values)
{
    double v[3] = {-0.125, 1e300, 0.1};
    unsigned char d[24];
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int k = 0; k < 8; k++) d[8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    nnr_st_file f;
    expect_ok("{\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}}", d, 24, &f);
    cr_assert_eq(f.tensors[0].data[0], -0.125f);
    cr_assert(isinf(f.tensors[0].data[1]));
    cr_assert_eq(f.tensors[0].data[2], 0.1f);
    nnr_st_free(&f);
}

Test(safetensors, i64_i32_values)
{
    unsigned char d[24];
    int64_t a[2] = {42, -5};
    int32_t b[2] = {-3, 7};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 8; k++) d[8 * i + k] = (unsigned char)((uint64_t)a[i] >> (8 * k));
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) d[16 + 4 * i + k] = (unsigned char)((uint32_t)b[i] >> (8 * k));
    nnr_st_file f;
    expect_ok("{\"n\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
              "\"m\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[16,24]}}", d, 24, &f);
    const nnr_st_tensor *n = nnr_st_find(&f, "n"), *m = nnr_st_find(&f, "m");
    cr_assert(n && m);
    cr_assert_eq(n->data[0], 42.0f);
    cr_assert_eq(n->data[1], -5.0f);
    cr_assert_eq(n->dtype_was_int, 1);
    cr_assert_eq(m->data[0], -3.0f);
    cr_assert_eq(m->data[1], 7.0f);
    cr_assert_eq(m->dtype_was_int, 1);
    nnr_st_free(&f);
}

Test(safetensors, f32_unaligned_data_and_scalar)
{
    /* Header of odd length: the data section starts unaligned. */
    unsigned char d[8];
    float v[2] = {3.25f, -1.0f};
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) d[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    nnr_st_file f;
    expect_ok("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
              "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} ", d, 8, &f);
    cr_assert_eq(f.ntensors, 3);
    const nnr_st_tensor *s = nnr_st_find(&f, "s"), *e = nnr_st_find(&f, "e");
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->numel, 1);
    cr_assert_eq(s->data[0], -1.0f);
    cr_assert_eq(e->numel, 0);
    cr_assert_eq(e->ndim, 2);
    cr_assert_eq(nnr_st_find(&f, "t")->data[0], 3.25f);
    cr_assert_null(nnr_st_find(&f, "x"));
    cr_assert_null(nnr_st_find(&f, "t "));
    /* header order is kept */
    cr_assert_str_eq(f.tensors[0].name, "s");
    cr_assert_str_eq(f.tensors[2].name, "t");
    nnr_st_free(&f);
}

Test(safetensors, sample_file_all_dtypes)
{
    nnr_st_file f;
    char err[512] = "";
    cr_assert_eq(nnr_st_read(DATA("good.safetensors"), &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 6);
    const nnr_st_tensor *w = nnr_st_find(&f, "fc.weight");
    cr_assert_not_null(w);
    cr_assert_eq(w->ndim, 2);
    cr_assert_eq(w->shape[0], 2);
    cr_assert_eq(w->shape[1], 3);
    for (int i = 0; i < 6; i++) cr_assert_eq(w->data[i], (float)(i + 1));
    cr_assert_eq(nnr_st_find(&f, "half")->data[0], 1.5f);
    cr_assert_eq(nnr_st_find(&f, "half")->data[1], -2.0f);
    cr_assert_eq(nnr_st_find(&f, "bhalf")->data[1], 3.140625f);
    cr_assert_eq(nnr_st_find(&f, "dbl")->data[0], -0.125f);
    const nnr_st_tensor *nb = nnr_st_find(&f, "bn.num_batches_tracked");
    cr_assert_eq(nb->data[0], 42.0f);
    cr_assert_eq(nb->dtype_was_int, 1);
    cr_assert_eq(nb->ndim, 0);
    cr_assert_eq(nnr_st_find(&f, "ints")->data[0], -3.0f);
    nnr_st_free(&f);
}

/* ------------------------------------------------------------ JSON */

Test(safetensors, json_escapes_key_order_whitespace)
{
    unsigned char d[4] = {0, 0, 0x80, 0x3F}; /* 1.0f */
    nnr_st_file f;
    expect_ok(" \t\r\n{ \"__metadata__\" : { \"k\\\"ey\" : \"v\\\\al\" } ,\n"
              "  \"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\" : { \"data_offsets\" : [ 0 , 4 ] ,"
              " \"extra\": [1, 2.5e3, -0.5, true, false, null, {\"x\": []}],"
              " \"shape\" : [ 1 ] , \"dtype\" : \"F32\" } }   ", d, 4, &f);
    cr_assert_eq(f.ntensors, 1);
    cr_assert_str_eq(f.tensors[0].name, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_eq(f.tensors[0].data[0], 1.0f);
    nnr_st_free(&f);
}

Test(safetensors, json_errors)
{
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2] \"data_offsets\":[0,8]}}", 8,
               "malformed JSON at byte offset 40: expected ',' or '}'");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8,
               "malformed JSON at byte offset");
    expect_err("{\"w\\q\":1}", 0, "bad escape");
    expect_err("{\"w\\u12G4\":1}", 0, "bad \\u escape");
    expect_err("{\"w\\ud800\":1}", 0, "surrogate");
    expect_err("{\"w\x01\":1}", 0, "control character");
    expect_err("{\"w\xff\":1}", 0, "invalid UTF-8");
    expect_err("{\"w\":01}", 0, "leading zero");
    expect_err("{\"w\":1.}", 0, "malformed JSON");
    expect_err("{\"w\":tru}", 0, "malformed JSON");
    expect_err("{} x", 0, "malformed JSON at byte offset 11");
    expect_err("", 0, "malformed JSON at byte offset 8");
    expect_err("[1,2]", 0, "not a JSON object");
    expect_err("{'a':1}", 0, "malformed JSON at byte offset 9");
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 199);
    deep[399] = '\0';
    expect_err(deep, 0, "nesting too deep");
}

/* ------------------------------------------------------------ validation */

Test(safetensors, bad_headers)
{
    expect_err_buf((const unsigned char *)"", 0, "w.safetensors: empty file");
    expect_err_buf((const unsigned char *)"\x05\0\0", 3, "too short");
    unsigned char b[100] = {0x40, 0xE2, 0x01}; /* 123456 */
    expect_err_buf(b, sizeof b,
                   "w.safetensors: header length 123456 runs past the end of the file (size 100)");
    unsigned char big[16];
    memset(big, 0xFF, 8);
    memcpy(big + 8, "{}      ", 8);
    expect_err_buf(big, sizeof big, "runs past the end of the file (size 16)");
}

Test(safetensors, bad_tensors)
{
    expect_err("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 256,
               "w.safetensors: tensor '0.weight': data_offsets [0, 400] out of range "
               "(data section is 256 bytes)");
    expect_err("{\"fc.bias\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
               "w.safetensors: tensor 'fc.bias': unsupported dtype 'U8'");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24,
               "tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
    expect_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24,
               "tensors 'a' and 'b' overlap");
    expect_err("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 24,
               "overlap");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
               "tensor 'w': duplicate tensor name");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
               8, "9 dimensions");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
               "not a non-negative integer");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
               "not a non-negative integer");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
               "end before they begin");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
               "must be [begin, end]");
    expect_err("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing \"dtype\"");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing \"shape\"");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing \"data_offsets\"");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "duplicate key \"dtype\"");
    expect_err("{\"w\":[1]}", 8, "expected an object");
    expect_err("{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "must be a string");
    expect_err("{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "NUL");
    expect_err("{\"__metadata__\":{\"a\":1}}", 0, "\"__metadata__\" values must be strings");
    expect_err("{\"__metadata__\":[]}", 0, "\"__metadata__\" must be an object");
    /* overflowing shapes and offsets */
    expect_err("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
               "\"data_offsets\":[0,8]}}", 8, "too large");
    expect_err("{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
               "\"data_offsets\":[0,0]}}", 8, "tensor 'w'");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,"
               "18446744073709551616]}}", 8, "must be [begin, end]");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18446744073709551615,"
               "18446744073709551615]}}", 8, "out of range");
}

Test(safetensors, zero_sized_tensors_do_not_overlap)
{
    unsigned char d[8] = {0};
    nnr_st_file f;
    expect_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
              "\"c\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[4,4]}}", d, 8, &f);
    cr_assert_eq(f.ntensors, 3);
    nnr_st_free(&f);
}

Test(safetensors, message_truncation_is_safe)
{
    unsigned char b[100] = {0x40, 0xE2, 0x01};
    nnr_st_file f;
    char err[12];
    memset(err, 'Z', sizeof err);
    cr_assert_eq(nnr_st_parse(b, sizeof b, "w.safetensors", &f, err, 8), -1);
    cr_assert_eq(err[7], '\0');
    cr_assert_eq(err[8], 'Z');
    cr_assert_str_eq(err, "w.safet");
    cr_assert_eq(nnr_st_parse(b, sizeof b, "w.safetensors", &f, NULL, 0), -1);
    cr_assert_eq(nnr_st_parse(b, sizeof b, NULL, &f, err, sizeof err), -1);
}

Test(safetensors, read_missing_file)
{
    nnr_st_file f;
    char err[512];
    cr_assert_eq(nnr_st_read(DATA("no-such-file.safetensors"), &f, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "no-such-file.safetensors"), "%s", err);
    cr_assert_null(f.tensors);
}

/* ------------------------------------------------------------ writer */

static char tmpdir[64];

static void mkdir_tmp(void)
{
    strcpy(tmpdir, "/tmp/nnc_io_st_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmp(const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, file);
    remove(p);
    rmdir(tmpdir);
}

Test(safetensors, write_read_round_trip)
{
    mkdir_tmp();
    char path[256];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    float w[6] = {1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f};
    float b[3] = {0.1f, 0.2f, 0.3f};
    float s = 4.0f, nbt = 17.0f, ints[3] = {-2.4f, 2.6f, 1e6f};
    float deep[2] = {5.0f, 6.0f};
    int64_t ws[2] = {2, 3}, bs[1] = {3}, es[2] = {0, 4}, is[1] = {3};
    int64_t ds[8] = {1, 1, 1, 1, 1, 1, 1, 2};
    nnr_st_out t[] = {
        {"fc1.weight", 2, ws, w, 0},
        {"fc1.bias", 1, bs, b, 0},
        {"scalar", 0, NULL, &s, 0},
        {"empty", 2, es, NULL, 0},
        {"bn.num_batches_tracked", 0, NULL, &nbt, 1},
        {"rounded", 1, is, ints, 1},
        {"deep \"quoted\"\\name\n", 8, ds, deep, 0},
    };
    char err[512] = "";
    cr_assert_eq(nnr_st_write(path, t, 7, err, sizeof err), 0, "%s", err);

    /* Raw layout: header length multiple of 8, metadata, LE data. */
    size_t len;
    unsigned char *raw = nnr_read_file(path, &len, err, sizeof err);
    cr_assert_not_null(raw, "%s", err);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)raw[i] << (8 * i);
    cr_assert_eq((8 + h) % 8, 0);
    cr_assert_eq(raw[8], '{');
    cr_assert_not_null(strstr((char *)raw + 8, "\"__metadata__\":{\"format\":\"pt\"}"));
    cr_assert_eq(len, 8 + h + 6 * 4 + 3 * 4 + 4 + 0 + 8 + 3 * 8 + 2 * 4);
    /* I64 tensors first (8-byte aligned, no gaps): 17 little-endian, then
     * -2, 3, 1000000; then the F32 ones: 1.5f = 0x3FC00000 little-endian. */
    const unsigned char *d = raw + 8 + h;
    cr_assert(d[0] == 17 && d[1] == 0 && d[7] == 0);
    cr_assert(d[8] == 0xFE && d[15] == 0xFF);
    cr_assert(d[32] == 0x00 && d[33] == 0x00 && d[34] == 0xC0 && d[35] == 0x3F);
    cr_assert_not_null(strstr((char *)raw + 8, "\"bn.num_batches_tracked\":{\"dtype\":\"I64\","
                                                "\"shape\":[],\"data_offsets\":[0,8]}"));
    cr_assert_not_null(strstr((char *)raw + 8, "\"fc1.weight\":{\"dtype\":\"F32\","
                                                "\"shape\":[2,3],\"data_offsets\":[32,56]}"));
    free(raw);

    nnr_st_file f;
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 7);
    for (int i = 0; i < 7; i++) {
        const nnr_st_tensor *r = &f.tensors[i];
        cr_assert_str_eq(r->name, t[i].name);
        cr_assert_eq(r->ndim, t[i].ndim);
        size_t numel = 1;
        for (int k = 0; k < r->ndim; k++) {
            cr_assert_eq(r->shape[k], t[i].shape[k]);
            numel *= (size_t)t[i].shape[k];
        }
        cr_assert_eq(r->numel, numel);
        cr_assert_eq(r->dtype_was_int, t[i].is_int);
        for (size_t k = 0; k < numel && !t[i].is_int; k++)
            cr_assert_eq(memcmp(&r->data[k], &t[i].data[k], 4), 0, "%s[%zu]", r->name, k);
    }
    const nnr_st_tensor *r = nnr_st_find(&f, "rounded");
    cr_assert_eq(r->data[0], -2.0f);
    cr_assert_eq(r->data[1], 3.0f);
    cr_assert_eq(r->data[2], 1e6f);
    cr_assert_eq(nnr_st_find(&f, "bn.num_batches_tracked")->data[0], 17.0f);
    nnr_st_free(&f);

    /* Overwrite with fewer tensors: the file is replaced. */
    cr_assert_eq(nnr_st_write(path, t, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 1);
    nnr_st_free(&f);
    /* Zero tensors is a valid file. */
    cr_assert_eq(nnr_st_write(path, NULL, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 0);
    nnr_st_free(&f);
    rm_tmp("w.safetensors");
}

Test(safetensors, write_errors_keep_old_file)
{
    mkdir_tmp();
    char path[256];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    float v[2] = {1, 2};
    int64_t sh[1] = {2}, neg[1] = {-1};
    nnr_st_out good = {"a", 1, sh, v, 0};
    char err[512] = "";
    cr_assert_eq(nnr_st_write(path, &good, 1, err, sizeof err), 0, "%s", err);

    nnr_st_out dup[2] = {{"a", 1, sh, v, 0}, {"a", 1, sh, v, 0}};
    cr_assert_eq(nnr_st_write(path, dup, 2, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "duplicate tensor name 'a'"), "%s", err);
    nnr_st_out meta = {"__metadata__", 1, sh, v, 0};
    cr_assert_eq(nnr_st_write(path, &meta, 1, err, sizeof err), -1);
    nnr_st_out bad = {"n", 1, neg, v, 0};
    cr_assert_eq(nnr_st_write(path, &bad, 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "bad shape"), "%s", err);
    float nan2[2] = {NAN, 1};
    nnr_st_out nanint = {"i", 1, sh, nan2, 1};
    cr_assert_eq(nnr_st_write(path, &nanint, 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "cannot be stored as I64"), "%s", err);

    nnr_st_file f;
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 1);
    cr_assert_str_eq(f.tensors[0].name, "a");
    nnr_st_free(&f);

    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/missing/w.safetensors", tmpdir);
    cr_assert_eq(nnr_st_write(nodir, &good, 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, nodir), "%s", err);
    rm_tmp("w.safetensors");
}
