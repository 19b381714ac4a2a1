/* fuzz_idx.c — libFuzzer target for the IDX reader (nnr_idx_parse). The
 * input is split in two files, images and labels: the first two bytes give
 * the length of the labels part (0xFFFF: no labels file). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t lab_len = (size_t)data[0] | ((size_t)data[1] << 8);
    int no_labels = lab_len == 0xFFFF;
    data += 2;
    size -= 2;
    if (no_labels) lab_len = 0;
    if (lab_len > size) lab_len = size;
    size_t img_len = size - lab_len;
    unsigned char *lab = lab_len ? malloc(lab_len) : NULL;
    unsigned char *img = img_len ? malloc(img_len) : NULL;
    if ((lab_len && !lab) || (img_len && !img)) {
        free(lab);
        free(img);
        return 0;
    }
    if (lab_len) memcpy(lab, data, lab_len);
    if (img_len) memcpy(img, data + lab_len, img_len);
    nnr_dataset ds;
    char err[512];
    if (nnr_idx_parse(img, img_len, "fuzz-images", no_labels ? NULL : lab, lab_len,
                      no_labels ? NULL : "fuzz-labels", 0.5f, &ds, err, sizeof err) == 0) {
        volatile float s = 0;
        for (size_t i = 0; i < ds.rows * ds.ncols; i++) s += ds.x[i];
        if (ds.labels)
            for (size_t i = 0; i < ds.rows; i++) s += (float)ds.labels[i];
        nnr_dataset_free(&ds);
    } else if (strncmp(err, "fuzz-", 5) != 0) {
        abort(); /* every error names a file */
    }
    free(lab);
    free(img);
    return 0;
}
