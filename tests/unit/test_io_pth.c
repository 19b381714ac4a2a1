/* Unit tests of the PyTorch .pth reader (runtime/io/pth.c, pth_pickle.c):
 * files written by torch.save (tests/pytorch/make_pth.py) against the
 * safetensors of the same state_dict written by that script's own writer;
 * hand-made archives and pickles for the refusals; recognition by content;
 * and nnr_load_state on a .pth. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pth.h"
#include "nnr_prog.h"

#ifndef NNC_TEST_DIR
#error "NNC_TEST_DIR must name the tests/ folder"
#endif
#define PTH(f) NNC_TEST_DIR "/data/pth/" f

/* Every tensor of a equals b's: same order, names, shapes, bits, int-ness. */
static void same_file(const nnr_st_file *a, const nnr_st_file *b)
{
    cr_assert_eq(a->ntensors, b->ntensors);
    for (int i = 0; i < a->ntensors; i++) {
        const nnr_st_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        cr_assert_str_eq(x->name, y->name);
        cr_assert_eq(x->ndim, y->ndim, "%s", x->name);
        for (int d = 0; d < x->ndim; d++) cr_assert_eq(x->shape[d], y->shape[d], "%s", x->name);
        cr_assert_eq(x->numel, y->numel, "%s", x->name);
        cr_assert_eq(x->dtype_was_int, y->dtype_was_int, "%s", x->name);
        for (size_t k = 0; k < x->numel; k++)
            cr_assert_eq(memcmp(&x->data[k], &y->data[k], sizeof(float)), 0,
                         "%s[%zu]: %.9g vs %.9g", x->name, k, (double)x->data[k],
                         (double)y->data[k]);
    }
}

static void pth_vs_st(const char *pth, const char *st)
{
    nnr_st_file a, b;
    char err[512] = "";
    cr_assert_eq(nnr_weights_read(pth, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(nnr_st_read(st, &b, err, sizeof err), 0, "%s", err);
    same_file(&a, &b);
    nnr_st_free(&a);
    nnr_st_free(&b);
}

Test(pth, net_state_dict_matches_safetensors) { pth_vs_st(PTH("net.pth"), PTH("net.safetensors")); }
Test(pth, shared_storage_and_transposed_views) { pth_vs_st(PTH("shared_net.pth"), PTH("net.safetensors")); }
Test(pth, views_offsets_strides) { pth_vs_st(PTH("views.pth"), PTH("views.safetensors")); }
Test(pth, every_dtype) { pth_vs_st(PTH("dtypes.pth"), PTH("dtypes.safetensors")); }
Test(pth, zip64_records) { pth_vs_st(PTH("zip64.pth"), PTH("net.safetensors")); }

Test(pth, views_hand_checked)
{
    nnr_st_file f;
    char err[512] = "";
    cr_assert_eq(nnr_weights_read(PTH("views.pth"), &f, err, sizeof err), 0, "%s", err);
    const nnr_st_tensor *whole = nnr_st_find(&f, "whole"), *t = nnr_st_find(&f, "t");
    const nnr_st_tensor *cube = nnr_st_find(&f, "cube"), *sc = nnr_st_find(&f, "scalar");
    cr_assert(whole && t && cube && sc);
    /* t = whole.t(): t[j][i] == whole[i][j], whole is [6, 5] */
    cr_assert_eq(t->shape[0], 5);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 5; j++) cr_assert_eq(t->data[j * 6 + i], whole->data[i * 5 + j]);
    cr_assert_eq(sc->ndim, 0);
    cr_assert_eq(sc->data[0], whole->data[24]);
    /* cube = arange(24).view(2, 3, 4).permute(2, 0, 1): cube[c][a][b] = 12a + 4b + c */
    for (int c = 0; c < 4; c++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                cr_assert_eq(cube->data[c * 6 + a * 3 + b], (float)(12 * a + 4 * b + c));
    cr_assert_eq(nnr_st_find(&f, "empty")->numel, 0);
    nnr_st_free(&f);
}

static void expect_err_file(const char *path, const char *frag)
{
    nnr_st_file f;
    char err[640] = "";
    cr_assert_eq(nnr_weights_read(path, &f, err, sizeof err), -1, "expected '%s'", frag);
    cr_assert_not_null(strstr(err, frag), "message \"%s\" lacks \"%s\"", err, frag);
    cr_assert_eq(strncmp(err, path, strlen(path)), 0, "message \"%s\" names no file", err);
    cr_assert_null(strchr(err, '\n'));
    cr_assert_eq(f.ntensors, 0);
    cr_assert_null(f.tensors);
}

Test(pth, refusals_from_torch)
{
    expect_err_file(PTH("bad_legacy.pth"), "save it again with a current PyTorch");
    expect_err_file(PTH("bad_eval.pth"),
                    "pickle calls builtins.eval, which a state_dict does not hold (at byte offset");
    expect_err_file(PTH("bad_model.pth"), "torch.nn.modules.container.Sequential");
    expect_err_file(PTH("bad_model.pth"), "save model.state_dict() instead");
    expect_err_file(PTH("bad_checkpoint.pth"), "entry 'model' holds a dict, not a tensor");
    expect_err_file(PTH("bad_deflate.pth"), "is compressed (method 8, deflate)");
    expect_err_file(PTH("bad_nopickle.pth"), "without a FOLDER/data.pkl");
    expect_err_file(PTH("bad_nostorage.pth"), "storage 'net/data/0' is not in the archive");
    expect_err_file(PTH("bad_truncated.pth"), "no zip end of central directory");
    expect_err_file(PTH("bad_crc.pth"), "'net/data/0' is corrupt");
}

/* ------------------------------------------------------------ hand-made archives */

typedef struct buf {
    unsigned char b[8192];
    size_t n;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    cr_assert(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put16(buf *o, uint32_t v) { unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)}; put(o, c, 2); }
static void put32(buf *o, uint32_t v) { put16(o, v & 0xFFFF); put16(o, v >> 16); }

static uint32_t crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* A stored zip of n entries (name, bytes, length), method given. */
static void mkzip(buf *o, int n, const char *const *names, const unsigned char *const *data,
                  const size_t *lens, unsigned method)
{
    size_t offs[8];
    o->n = 0;
    for (int i = 0; i < n; i++) {
        offs[i] = o->n;
        put32(o, 0x04034b50u); put16(o, 20); put16(o, 0); put16(o, method);
        put32(o, 0); put32(o, crc(data[i], lens[i]));
        put32(o, (uint32_t)lens[i]); put32(o, (uint32_t)lens[i]);
        put16(o, (uint32_t)strlen(names[i])); put16(o, 0);
        put(o, names[i], strlen(names[i]));
        put(o, data[i], lens[i]);
    }
    size_t cd = o->n;
    for (int i = 0; i < n; i++) {
        put32(o, 0x02014b50u); put16(o, 20); put16(o, 20); put16(o, 0); put16(o, method);
        put32(o, 0); put32(o, crc(data[i], lens[i]));
        put32(o, (uint32_t)lens[i]); put32(o, (uint32_t)lens[i]);
        put16(o, (uint32_t)strlen(names[i])); put16(o, 0); put16(o, 0); put16(o, 0);
        put16(o, 0); put32(o, 0); put32(o, (uint32_t)offs[i]);
        put(o, names[i], strlen(names[i]));
    }
    size_t cdlen = o->n - cd;
    put32(o, 0x06054b50u); put16(o, 0); put16(o, 0); put16(o, (uint32_t)n); put16(o, (uint32_t)n);
    put32(o, (uint32_t)cdlen); put32(o, (uint32_t)cd); put16(o, 0);
}

/* An archive "a/" holding pickle pk (pklen bytes) and one storage a/data/0
 * of 4 floats 1, 2, 3, 4. */
static void mkpth(buf *o, const char *pk, size_t pklen)
{
    static const float four[4] = {1, 2, 3, 4};
    const char *names[2] = {"a/data.pkl", "a/data/0"};
    const unsigned char *data[2] = {(const unsigned char *)pk, (const unsigned char *)four};
    size_t lens[2] = {pklen, sizeof four};
    mkzip(o, 2, names, data, lens, 0);
}

static int parse(const char *pk, size_t pklen, nnr_st_file *f, char *err, size_t errlen)
{
    static buf o;
    mkpth(&o, pk, pklen);
    return nnr_weights_parse(o.b, o.n, "h.pth", f, err, errlen);
}

#define PK(s) s, sizeof s - 1

/* {'w': tensor(storage 0, offset OFF, size (A,), stride (S,))} in protocol 2,
 * with the storage's numel N. */
#define TENSOR_PK(OFF, A, S, N)                                                                \
    "\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n("                     \
    "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK" N \
    "tQK" OFF "K" A "\x85K" S "\x85\x89" "ccollections\nOrderedDict\n)RtRs."

Test(pth, hand_made_tensor_and_protocol4)
{
    nnr_st_file f;
    char err[512] = "";
    cr_assert_eq(parse(PK(TENSOR_PK("\x01", "\x02", "\x02", "\x04")), &f, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(f.ntensors, 1);
    cr_assert_eq(f.tensors[0].numel, 2);
    cr_assert_eq(f.tensors[0].data[0], 2.0f); /* elements 1 and 3 */
    cr_assert_eq(f.tensors[0].data[1], 4.0f);
    nnr_st_free(&f);
    /* protocol 4: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, an empty dict */
    cr_assert_eq(parse(PK("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00"
                          "\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94."),
                       &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 0);
    nnr_st_free(&f);
}

static void expect_pk_err(const char *pk, size_t len, const char *frag)
{
    nnr_st_file f;
    char err[640] = "";
    cr_assert_eq(parse(pk, len, &f, err, sizeof err), -1, "expected '%s'", frag);
    cr_assert_not_null(strstr(err, frag), "message \"%s\" lacks \"%s\"", err, frag);
    cr_assert_eq(strncmp(err, "h.pth: ", 7), 0, "message \"%s\" names no file", err);
    cr_assert_null(f.tensors);
}

Test(pth, hand_made_refusals)
{
    /* a view past the end of its storage of 4: offset 3, 2 elements of stride 1 */
    expect_pk_err(PK(TENSOR_PK("\x03", "\x02", "\x01", "\x04")), "reach element 4 of a storage of 4");
    /* the storage claims 5 floats, the entry holds 16 bytes */
    expect_pk_err(PK(TENSOR_PK("\x00", "\x02", "\x01", "\x05")), "holds 16 bytes, not 5 elements");
    expect_pk_err(PK("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsR."),
                  "pickle calls os.system, which a state_dict does not hold (at byte offset");
    expect_pk_err(PK("\x80\x02" "c__builtin__\nset\n)R."), "builtins.set");
    expect_pk_err(PK("\x80\x02}q\x00"), "pickle ends without STOP");
    expect_pk_err(PK("\x80\x02h\x05."), "memo index 5 was never set");
    expect_pk_err(PK("\x80\x02s."), "stack underflow");
    expect_pk_err(PK("\x80\x02X\xff\x00\x00\x00" "ab."), "runs past the end");
    expect_pk_err(PK("\x80\x02I1\n."), "pickle opcode 'I' (0x49), which a state_dict does not use");
    expect_pk_err(PK("\x80\x02]."), "the pickle holds a list, not a state_dict");
    expect_pk_err(PK("\x80\x02}K\x01K\x02s."), "a key that is an int");
    expect_pk_err(PK("\x80\x09}."), "pickle protocol 9");
    expect_pk_err(PK("\x80\x02(}."), "leaves values on the stack");
}

Test(pth, deflate_is_refused_by_name)
{
    static buf o;
    const char *names[1] = {"a/data.pkl"};
    const unsigned char *data[1] = {(const unsigned char *)"\x80\x02}."};
    size_t lens[1] = {4};
    mkzip(&o, 1, names, data, lens, 8);
    nnr_st_file f;
    char err[640] = "";
    cr_assert_eq(nnr_weights_parse(o.b, o.n, "d.pth", &f, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "'a/data.pkl' is compressed (method 8, deflate)"), "%s", err);
    /* every byte cut short: an error, never a crash */
    mkzip(&o, 1, names, data, lens, 0);
    for (size_t n = 0; n < o.n; n++) {
        err[0] = '\0';
        cr_assert_eq(nnr_weights_parse(o.b, n, "d.pth", &f, err, sizeof err), -1, "%zu", n);
        cr_assert_neq(err[0], '\0');
    }
    cr_assert_eq(nnr_weights_parse(o.b, o.n, "d.pth", &f, err, sizeof err), 0, "%s", err);
    nnr_st_free(&f);
}

Test(pth, sniff)
{
    static const unsigned char st[] = "\x0a\x00\x00\x00\x00\x00\x00\x00{\"a\":1}   ";
    cr_assert_eq(nnr_file_sniff(st, sizeof st - 1), NNR_FILE_SAFETENSORS);
    cr_assert_eq(nnr_file_sniff((const unsigned char *)"PK\x03\x04xxxx", 8), NNR_FILE_ZIP);
    cr_assert_eq(nnr_file_sniff((const unsigned char *)"\x80\x02}q\x00.", 6), NNR_FILE_PICKLE);
    /* an ONNX ModelProto: ir_version 8, then producer_name "pytorch" */
    cr_assert_eq(nnr_file_sniff((const unsigned char *)"\x08\x08\x12\x07pytorch", 11),
                 NNR_FILE_ONNX);
    cr_assert_eq(nnr_file_sniff((const unsigned char *)"model net {\n", 12), NNR_FILE_OTHER);
    cr_assert_eq(nnr_file_sniff((const unsigned char *)"", 0), NNR_FILE_OTHER);
    size_t len;
    char err[256];
    unsigned char *b = nnr_read_file(PTH("bad_legacy.pth"), &len, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    cr_assert_eq(nnr_file_sniff(b, len), NNR_FILE_PTH_LEGACY);
    free(b);
    nnr_st_file f;
    cr_assert_eq(nnr_weights_parse((const unsigned char *)"\x08\x08\x12\x07pytorch", 11, "m.onnx",
                                   &f, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "an ONNX model, not a weights file: `nnc import m.onnx"), "%s",
                       err);
}

/* A safetensors file whose header is 640, 896, 1152 or 1408 bytes long starts
 * with the bytes 0x80 0x02..0x05 (its length, little-endian), as a pickle's
 * PROTO opcode does: it is still safetensors (torch writes such files). */
Test(pth, safetensors_header_length_like_a_pickle)
{
    static const char tensor[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    for (unsigned proto = 2; proto <= 5; proto++) {
        size_t hlen = 0x80 + 256 * proto, n = 8 + hlen + 4;
        unsigned char *b = malloc(n);
        cr_assert_not_null(b);
        memset(b, 0, 8);
        b[0] = 0x80;
        b[1] = (unsigned char)proto;
        memset(b + 8, ' ', hlen);
        memcpy(b + 8, tensor, sizeof tensor - 1);
        b[8 + hlen - 1] = '}';
        const float v = 2.5f;
        memcpy(b + 8 + hlen, &v, 4);
        cr_assert_eq(nnr_file_sniff(b, n), NNR_FILE_SAFETENSORS, "header length %zu", hlen);
        nnr_st_file f;
        char err[256] = "";
        cr_assert_eq(nnr_weights_parse(b, n, "w.safetensors", &f, err, sizeof err), 0, "%s", err);
        const nnr_st_tensor *t = nnr_st_find(&f, "a");
        cr_assert_not_null(t);
        cr_assert_eq(t->numel, 1);
        cr_assert_eq(t->data[0], 2.5f);
        nnr_st_free(&f);
        free(b);
    }
}

/* nnr_load_state (weights.c) reads a .pth by content, whatever its name. */
Test(pth, load_state_reads_pth)
{
    static const nnr_tensor_desc T[] = {
        {"0.weight", 4, {3, 2, 3, 3}, 0, 54, NNR_T_PARAM, 0, "0"},
        {"0.bias", 1, {3}, 54, 3, NNR_T_PARAM, 0, "0"},
        {"1.weight", 1, {3}, 57, 3, NNR_T_PARAM, 1, "1"},
        {"1.bias", 1, {3}, 60, 3, NNR_T_PARAM, 1, "1"},
        {"1.running_mean", 1, {3}, 63, 3, NNR_T_BUFFER, 1, "1"},
        {"1.running_var", 1, {3}, 66, 3, NNR_T_BUFFER, 1, "1"},
        {"1.num_batches_tracked", 0, {0}, 69, 1, NNR_T_COUNTER, 1, "1"},
        {"5.weight", 2, {4, 12}, 70, 48, NNR_T_PARAM, 5, "5"},
        {"5.bias", 1, {4}, 118, 4, NNR_T_PARAM, 5, "5"},
    };
    float a[122], b[122];
    memset(a, 0, sizeof a);
    memset(b, 0xff, sizeof b);
    cr_assert_eq(nnr_load_state(PTH("shared_net.pth"), T, 9, 1, a, NULL, NULL), 0);
    cr_assert_eq(nnr_load_state(PTH("net.safetensors"), T, 9, 1, b, NULL, NULL), 0);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(a[69], 10.0f);
    cr_assert_eq(nnr_load_state(PTH("bad_eval.pth"), T, 9, 1, a, NULL, NULL), -1);
}

/* zip64.pth with its classic end record saying "see the zip64 record"
 * (0xFFFF entries, 0xFFFFFFFF size and offset): read through the zip64 one. */
Test(pth, zip64_end_record)
{
    size_t len;
    char err[512] = "";
    unsigned char *b = nnr_read_file(PTH("zip64.pth"), &len, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    size_t at = len - 22;
    cr_assert_eq(memcmp(b + at, "PK\x05\x06", 4), 0);
    cr_assert_eq(memcmp(b + at - 20, "PK\x06\x07", 4), 0);
    memset(b + at + 8, 0xff, 12); /* entries (both), directory size and offset */
    nnr_st_file a, s;
    cr_assert_eq(nnr_weights_parse(b, len, "z.pth", &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(nnr_st_read(PTH("net.safetensors"), &s, err, sizeof err), 0, "%s", err);
    same_file(&a, &s);
    nnr_st_free(&a);
    nnr_st_free(&s);
    b[at - 20] = 'X'; /* no locator: refused by name */
    cr_assert_eq(nnr_weights_parse(b, len, "z.pth", &a, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "zip64"), "%s", err);
    free(b);
}
