/* import.h — `nnc import MODEL.onnx -o DIR` (LANGUAGE.md §11): writes
 * DIR/NAME.nnet and DIR/NAME.safetensors from an ONNX model. */
#ifndef NNC_IMPORT_H
#define NNC_IMPORT_H

#include "driver.h"

/* The exit status: 0, or 1 with a message on stderr. */
int import_main(const DriverOpts *o);

#endif
