/* fuzz_onnx.c — libFuzzer target for `nnc import`: the ONNX reader
 * (protobuf-c over the code protoc-c generates from onnx.proto, then the
 * copy into the importer's model and the byte-offset walk of a refused
 * file) and the whole translation to .nnet text (written to /dev/null).
 * Refusals are expected; crashes, leaks and sanitizer reports are bugs.
 * Built by build.sh with the compiler's allocators tracked per input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "import/import.h"
#include "fuzz_alloc.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    onnx_import_text(data, size, "fuzz", devnull, err, sizeof err);
    fz_free_all();
    return 0;
}
