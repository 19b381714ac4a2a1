/* fuzz_safetensors.c — libFuzzer target for the safetensors reader
 * (nnr_st_parse): every tensor it accepts is read whole; every error
 * message names the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so reads past the end hit the sanitizer's redzone. */
    unsigned char *buf = size ? malloc(size) : NULL;
    if (size && !buf) return 0;
    if (size) memcpy(buf, data, size);
    nnr_st_file f;
    char err[512];
    if (nnr_st_parse(buf, size, "fuzz.safetensors", &f, err, sizeof err) == 0) {
        for (int i = 0; i < f.ntensors; i++) {
            const nnr_st_tensor *t = &f.tensors[i];
            if (nnr_st_find(&f, t->name) == NULL) abort();
            volatile float sum = 0;
            for (size_t k = 0; k < t->numel; k++) sum += t->data[k];
        }
        nnr_st_free(&f);
    } else if (err[0] == '\0' || strncmp(err, "fuzz.safetensors", 16) != 0) {
        abort(); /* every error names the file */
    }
    free(buf);
    return 0;
}
