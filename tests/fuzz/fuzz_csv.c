/* fuzz_csv.c — libFuzzer target for the CSV reader (nnr_csv_parse). The
 * first byte picks the options (label column, targets, header); the rest
 * is the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    nnr_csv_opts o;
    memset(&o, 0, sizeof o);
    uint8_t sel = data[0];
    o.header = sel & 1;
    switch ((sel >> 1) & 3) {
    case 0: o.has_label = 1; o.label = -1; break;
    case 1: o.has_label = 1; o.label = (int)((sel >> 3) & 7) - 4; break;
    case 2: o.targets = (int)((sel >> 3) & 7); break;
    default: break; /* inputs only */
    }
    size--;
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) return 0;
    if (size) memcpy(buf, data + 1, size);
    nnr_dataset ds;
    char err[512];
    if (nnr_csv_parse(buf, size, "fuzz.csv", &o, &ds, err, sizeof err) == 0) {
        volatile float s = 0;
        for (size_t i = 0; i < ds.rows * ds.ncols; i++) s += ds.x[i];
        if (ds.labels)
            for (size_t i = 0; i < ds.rows; i++) s += (float)ds.labels[i];
        if (ds.y)
            for (size_t i = 0; i < ds.rows * ds.ntargets; i++) s += ds.y[i];
        nnr_dataset_free(&ds);
    } else if (strncmp(err, "fuzz.csv", 8) != 0) {
        abort(); /* every error names the file */
    }
    free(buf);
    return 0;
}
