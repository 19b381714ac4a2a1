/* Unit tests of the checkpoint file (runtime/io/ckpt.c) and the safetensors
 * metadata it rides on: every block and counter comes back bit for bit,
 * the file is a valid safetensors file whose state_dict part loads as
 * weights, and files that are not checkpoints of the model are refused with
 * a message naming the file. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_model.h"

static char dir[64], path[128];
static int nwarn;

static void count_warning(void *ctx, const char *kind, const char *file, const char *msg)
{
    (void)ctx;
    (void)file;
    (void)msg;
    nwarn += strcmp(kind, "warning") == 0;
}

static void setup(void)
{
    strcpy(dir, "/tmp/nnc_ckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

/* Blocks of FAKE_STATE floats with awkward values (a NaN payload, -0,
 * denormals) that only a bit-exact round trip keeps. */
static void fill(float *b, int salt)
{
    for (int i = 0; i < FAKE_STATE; i++) {
        uint32_t u = 0x3f800000u + (uint32_t)(i * 7919 + salt * 104729);
        memcpy(&b[i], &u, sizeof u);
    }
    b[2] = -0.0f;
    b[3] = 1e-42f;
    b[FAKE_STATE - 1] = (float)(12 + salt);   /* the counter: an integer */
}

Test(ckpt, round_trip_is_bit_exact, .init = setup, .fini = teardown)
{
    nnr_model m = fake_model();
    float st[FAKE_STATE], s1[FAKE_STATE] = {0}, s2[FAKE_STATE] = {0}, best[FAKE_STATE];
    fill(st, 1);
    fill(s1, 2);
    fill(s2, 3);
    fill(best, 4);
    nnr_ckpt c = {st, s1, s2, best, 7, 123, 45, {{1, 2, 3, UINT64_MAX}},
                  {{0x0123456789abcdefULL, 5, 6, 7}}, 16, 99, 5, 2, 0.1234567890123,
                  "epoch,train_loss\n1,0.5\n"};
    char err[256] = "";
    cr_assert_eq(nnr_ckpt_write(path, &m, &c, err, sizeof err), 0, "%s", err);

    float rst[FAKE_STATE], r1[FAKE_STATE] = {0}, r2[FAKE_STATE] = {0}, rb[FAKE_STATE];
    nnr_ckpt r;
    memset(&r, 0, sizeof r);
    r.state = rst;
    r.state1 = r1;
    r.state2 = r2;
    r.best = rb;
    cr_assert_eq(nnr_ckpt_read(path, &m, &r, err, sizeof err), 0, "%s", err);
    cr_expect_eq(memcmp(rst, st, sizeof st), 0);
    cr_expect_eq(memcmp(r1, s1, 9 * sizeof(float)), 0);   /* the PARAM tensors */
    cr_expect_eq(memcmp(r2, s2, 9 * sizeof(float)), 0);
    cr_expect_eq(memcmp(rb, best, sizeof best), 0);
    cr_expect_eq(r.epoch, 7);
    cr_expect_eq(r.step, 123);
    cr_expect_eq(r.sched_steps, 45);
    cr_expect_eq(memcmp(&r.shuffle, &c.shuffle, sizeof r.shuffle), 0);
    cr_expect_eq(memcmp(&r.dropout, &c.dropout, sizeof r.dropout), 0);
    cr_expect_eq(r.batch, 16);
    cr_expect_eq(r.seed, 99);
    cr_expect_eq(r.best_epoch, 5);
    cr_expect_eq(r.bad_epochs, 2);
    cr_expect_eq(r.best_loss, 0.1234567890123);
    cr_expect_str_eq(r.log, "epoch,train_loss\n1,0.5\n");
    free(r.log);

    /* the state_dict part is what --init with strict = false reads (the
     * optimizer's and the best epoch's tensors are warned about) */
    float w[FAKE_STATE];
    cr_expect_eq(nnr_load_state(path, m.tensors, m.ntensors, 0, w, count_warning, NULL), 0);
    cr_expect_eq(memcmp(w, st, sizeof w), 0);
    cr_expect_eq(nwarn, 7);
    nnr_st_file f;
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(nnr_st_meta(&f, "format"), "pt");
    cr_expect_str_eq(nnr_st_meta(&f, "epoch"), "7");
    cr_expect_null(nnr_st_meta(&f, "nothing"));
    nnr_st_free(&f);
}

Test(ckpt, refuses_what_is_not_a_checkpoint_of_the_model, .init = setup, .fini = teardown)
{
    nnr_model m = fake_model();
    float st[FAKE_STATE], s1[FAKE_STATE], s2[FAKE_STATE];
    fill(st, 1);
    char err[256] = "";
    /* plain weights: no checkpoint metadata */
    int64_t shp[2] = {3, 2};
    nnr_st_out o = {"fc.weight", 2, shp, st, 0};
    cr_assert_eq(nnr_st_write(path, &o, 1, err, sizeof err), 0, "%s", err);
    nnr_ckpt r;
    memset(&r, 0, sizeof r);
    r.state = st;
    r.state1 = s1;
    r.state2 = s2;
    cr_expect_eq(nnr_ckpt_read(path, &m, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "not an nnc checkpoint") && strstr(err, path), "%s", err);

    /* another model's checkpoint */
    nnr_ckpt c;
    memset(&c, 0, sizeof c);
    c.state = st;
    c.state1 = s1;
    c.state2 = s2;
    cr_assert_eq(nnr_ckpt_write(path, &m, &c, err, sizeof err), 0, "%s", err);
    nnr_model other = m;
    other.name = "other";
    cr_expect_eq(nnr_ckpt_read(path, &other, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "model 'fake', not of 'other'"), "%s", err);
    /* same name, another shape */
    nnr_tensor_desc t2[3];
    memcpy(t2, fake_tensors, sizeof t2);
    t2[1].shape[0] = 4;
    other = m;
    other.tensors = t2;
    cr_expect_eq(nnr_ckpt_read(path, &other, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "tensor 'fc.bias' is of another shape"), "%s", err);
    /* a missing file */
    unlink(path);
    cr_expect_eq(nnr_ckpt_read(path, &m, &r, err, sizeof err), -1);
}

Test(ckpt, metadata_is_escaped_and_read_back, .init = setup, .fini = teardown)
{
    char err[256] = "";
    float v = 1.5f;
    nnr_st_out o = {"x", 0, NULL, &v, 0};
    const char *meta[] = {"a\"b", "line1\nline2\t\"q\"\\", "format", "ignored"};
    cr_assert_eq(nnr_st_write_meta(path, &o, 1, meta, 2, err, sizeof err), 0, "%s", err);
    nnr_st_file f;
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_expect_eq(f.nmeta, 2);
    cr_expect_str_eq(nnr_st_meta(&f, "a\"b"), "line1\nline2\t\"q\"\\");
    cr_expect_str_eq(nnr_st_meta(&f, "format"), "pt");
    nnr_st_free(&f);
}
