/* import.h — `nnc import MODEL.onnx -o DIR` (LANGUAGE.md §11): writes
 * DIR/NAME.nnet and DIR/NAME.safetensors from an ONNX model. */
#ifndef NNC_IMPORT_H
#define NNC_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "driver.h"

/* The exit status: 0, or 1 with a message on stderr. */
int import_main(const DriverOpts *o);
/* The ONNX model in buf translated to .nnet text on out (model NAME, no
 * weights written): 0, or -1 with the message in err. The fuzz target's
 * entry point. */
int onnx_import_text(const unsigned char *buf, size_t len, const char *name, FILE *out,
                     char *err, size_t errlen);

#endif
