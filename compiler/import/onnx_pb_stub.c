/* onnx_pb_stub.c — stands in for onnx_pb.c when nnc is built without
 * protobuf-c (libprotobuf-c-dev, protobuf-c-compiler) or without the ONNX
 * schema (libonnx-dev): `nnc import` then says which packages it needs. */
#include <stdio.h>

#include "onnx_model.h"

#define NEED "nnc was built without ONNX support: install Debian's libprotobuf-c-dev, " \
             "protobuf-c-compiler and libonnx-dev, then rebuild nnc"

int onnx_available(void) { return 0; }

int onnx_read_model(const unsigned char *buf, size_t len, OxModel *m, char *err, size_t errlen)
{
    (void)buf, (void)len, (void)m;
    snprintf(err, errlen, "%s", NEED);
    return -1;
}

int onnx_read_tensor(const unsigned char *buf, size_t len, OxTensor *t, char *err, size_t errlen)
{
    (void)buf, (void)len, (void)t;
    snprintf(err, errlen, "%s", NEED);
    return -1;
}
