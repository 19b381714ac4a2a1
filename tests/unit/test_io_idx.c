/* Unit tests of the IDX (MNIST) reader (runtime/io/idx.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"

#ifndef NNC_TEST_DIR
#error "NNC_TEST_DIR must name the tests/ folder"
#endif
#define DATA(f) NNC_TEST_DIR "/data/io/" f

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void read_err(const char *img, const char *lab, const char *frag)
{
    nnr_dataset d;
    char err[512] = "";
    cr_assert_eq(nnr_idx_read(img, lab, 1.0f, &d, err, sizeof err), -1, "expected '%s'", frag);
    cr_assert_not_null(strstr(err, frag), "message \"%s\" lacks \"%s\"", err, frag);
    cr_assert_null(d.x);
    cr_assert_null(d.labels);
    cr_assert_eq(d.rows, 0);
}

Test(idx, read_images_and_labels)
{
    nnr_dataset d;
    char err[512] = "";
    cr_assert_eq(nnr_idx_read(DATA("tiny-images-idx3-ubyte"), DATA("tiny-labels-idx1-ubyte"),
                              0.5f, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 3);
    cr_assert_eq(d.ncols, 6);
    for (int i = 0; i < 18; i++) cr_assert_eq(d.x[i], 0.5f * (float)i);
    cr_assert_eq(d.labels[0], 7);
    cr_assert_eq(d.labels[1], 0);
    cr_assert_eq(d.labels[2], 9);
    cr_assert_null(d.y);
    cr_assert_eq(d.ntargets, 0);
    nnr_dataset_free(&d);
    cr_assert_null(d.x);
}

Test(idx, images_without_labels)
{
    nnr_dataset d;
    char err[512] = "";
    cr_assert_eq(nnr_idx_read(DATA("tiny-images-idx3-ubyte"), NULL, 1.0f / 255, &d, err,
                              sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 3);
    cr_assert_null(d.labels);
    cr_assert_eq(d.x[17], 17.0f * (1.0f / 255));
    nnr_dataset_free(&d);
}

Test(idx, bad_files)
{
    read_err(DATA("bad-magic-images-idx3-ubyte"), NULL,
             "bad-magic-images-idx3-ubyte: byte offset 0: bad magic number 0x00000000 (expected 0x00000803 for images)");
    read_err(DATA("bad-short-images-idx3-ubyte"), NULL,
             "bad-short-images-idx3-ubyte: byte offset 33: the header announces 3 images of 2x3 (18 bytes of "
             "pixels) but the file holds 17 bytes");
    read_err(DATA("tiny-images-idx3-ubyte"), DATA("bad-count-labels-idx1-ubyte"),
             "bad-count-labels-idx1-ubyte: byte offset 4: 4 labels, but ");
    read_err(DATA("tiny-images-idx3-ubyte"), DATA("bad-count-labels-idx1-ubyte"),
             "tiny-images-idx3-ubyte has 3 images");
    read_err(DATA("tiny-images-idx3-ubyte"), DATA("bad-truncated-labels-idx1-ubyte"),
             "bad-truncated-labels-idx1-ubyte: byte offset 10: the header announces 3 labels but the file holds 2 bytes");
    read_err(DATA("tiny-images-idx3-ubyte"), DATA("bad-magic-labels-idx1-ubyte"),
             "expected 0x00000801 for labels");
    /* images and labels swapped */
    read_err(DATA("tiny-labels-idx1-ubyte"), NULL, "too short");
    read_err(DATA("no-such-images"), NULL, "no-such-images");
    read_err(DATA("tiny-images-idx3-ubyte"), DATA("no-such-labels"), "no-such-labels");
}

Test(idx, bad_buffers)
{
    unsigned char img[16 + 4];
    nnr_dataset d;
    char err[512] = "";
    be32(img, 0x803);
    be32(img + 4, 1);
    be32(img + 8, 2);
    be32(img + 12, 2);
    memset(img + 16, 9, 4);
    cr_assert_eq(nnr_idx_parse(img, sizeof img, "i", NULL, 0, NULL, 2.0f, &d, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(d.x[3], 18.0f);
    nnr_dataset_free(&d);

    cr_assert_eq(nnr_idx_parse(img, 0, "i", NULL, 0, NULL, 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "i: empty file"), "%s", err);
    /* huge counts: no overflow */
    be32(img + 4, 0xFFFFFFFFu);
    be32(img + 8, 0xFFFFFFFFu);
    be32(img + 12, 0xFFFFFFFFu);
    cr_assert_eq(nnr_idx_parse(img, sizeof img, "i", NULL, 0, NULL, 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "4294967295 images of 4294967295x4294967295"), "%s", err);
    be32(img + 4, 0);
    be32(img + 8, 2);
    be32(img + 12, 2);
    cr_assert_eq(nnr_idx_parse(img, 16, "i", NULL, 0, NULL, 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "no samples"), "%s", err);
    be32(img + 4, 1);
    be32(img + 8, 0);
    cr_assert_eq(nnr_idx_parse(img, 16, "i", NULL, 0, NULL, 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "hold no pixels"), "%s", err);
    be32(img + 8, 2);
    unsigned char lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 5};
    cr_assert_eq(nnr_idx_parse(img, sizeof img, "i", lab, 0, "l", 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "l: empty file"), "%s", err);
    cr_assert_eq(nnr_idx_parse(img, sizeof img, "i", lab, 5, "l", 1, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "l: byte offset 5: file too short"), "%s", err);
    cr_assert_eq(nnr_idx_parse(img, sizeof img, "i", lab, 9, "l", 1, &d, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(d.labels[0], 5);
    nnr_dataset_free(&d);
}
