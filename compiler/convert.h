/* convert.h — `nnc convert IN.pth -o OUT.safetensors`, and the refusal of
 * a weights or ONNX file given where a .nnet model is expected (convert.c). */
#ifndef NNC_CONVERT_H
#define NNC_CONVERT_H

#include <stddef.h>

#include "driver.h"

/* nnc convert: reads o->input (a .pth or .safetensors, by content) and writes
 * its tensors to o->output as safetensors (F32, integers as I64), atomically.
 * Returns the exit status (0, or 1 with a message on stderr). */
int convert_main(const DriverOpts *o);

/* When text[0..len) (the file path, given as a model) is a safetensors, .pth,
 * legacy PyTorch, pickle or ONNX file, reports what it is and which command
 * reads it, and returns 1; else 0. */
int convert_refuse_foreign(const char *path, const char *text, size_t len, Diag *d);

#endif
