/* fuzz_pth.c — libFuzzer target for the PyTorch .pth reader: byte 0 even,
 * the rest is a whole file for nnr_weights_parse (zip, pickle, views; built
 * with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so CRC-32 mismatches do not
 * stop a mutant); byte 0 odd, the rest is a pickle for nnr_pth_unpickle
 * alone. Every tensor accepted is read whole; every error names the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t n = size - 1;
    /* A private copy, so reads past the end hit the sanitizer's redzone. */
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, n);
    char err[640];
    err[0] = '\0';
    if (data[0] & 1) {
        nnr_pth_view *v = NULL;
        size_t nv = 0;
        if (nnr_pth_unpickle(buf, n, 0, "fuzz.pkl", &v, &nv, err, sizeof err) == 0) {
            volatile size_t sum = 0;
            for (size_t i = 0; i < nv; i++) sum += v[i].name_len + v[i].key_len + (size_t)v[i].ndim;
            free(v);
        } else if (strncmp(err, "fuzz.pkl: ", 10) != 0) {
            abort();
        }
    } else {
        (void)nnr_file_sniff(buf, n);
        nnr_st_file f;
        if (nnr_weights_parse(buf, n, "fuzz.pth", &f, err, sizeof err) == 0) {
            for (int i = 0; i < f.ntensors; i++) {
                const nnr_st_tensor *t = &f.tensors[i];
                if (nnr_st_find(&f, t->name) == NULL) abort();
                volatile float sum = 0;
                for (size_t k = 0; k < t->numel; k++) sum += t->data[k];
            }
            nnr_st_free(&f);
        } else if (strncmp(err, "fuzz.pth: ", 10) != 0) {
            abort(); /* every error names the file */
        }
    }
    free(buf);
    return 0;
}
