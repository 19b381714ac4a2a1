/* onnx_model.h — an ONNX model as the importer sees it, independent of the
 * protobuf library: the graph's nodes with their attributes, initialisers
 * and constant tensors (values as doubles, whatever their element type),
 * and the graph's inputs and outputs with their shapes. onnx_pb.c fills it
 * from a ModelProto (protobuf-c); onnx_lower.c turns it into a .nnet model. */
#ifndef NNC_ONNX_MODEL_H
#define NNC_ONNX_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define OX_MAX_DIMS 8

/* ONNX TensorProto.DataType values the importer reads. */
enum {
    OX_FLOAT = 1, OX_UINT8 = 2, OX_INT8 = 3, OX_UINT16 = 4, OX_INT16 = 5, OX_INT32 = 6,
    OX_INT64 = 7, OX_STRING = 8, OX_BOOL = 9, OX_FLOAT16 = 10, OX_DOUBLE = 11,
    OX_UINT32 = 12, OX_UINT64 = 13, OX_BFLOAT16 = 16,
};

/* The batch dimension inside an integer tensor folded from Shape (its size
 * is chosen at run time): a value no real dimension takes. */
#define OX_BATCH (-4611686018427387904.0)

typedef struct OxTensor {
    const char *name;
    int dtype;                  /* OX_* */
    int ndim;
    int64_t dims[OX_MAX_DIMS];
    int64_t numel;
    double *v;                  /* numel values */
} OxTensor;

/* AttributeProto.AttributeType values. */
enum { OXA_FLOAT = 1, OXA_INT = 2, OXA_STRING = 3, OXA_TENSOR = 4, OXA_GRAPH = 5,
       OXA_FLOATS = 6, OXA_INTS = 7, OXA_STRINGS = 8 };

typedef struct OxAttr {
    const char *name;
    int type;                   /* OXA_* */
    double f;
    int64_t i;
    const char *s;
    int n;                      /* FLOATS / INTS / STRINGS: count */
    double *fs;
    int64_t *is;
    const char **ss;            /* STRINGS: n strings */
    OxTensor *t;
} OxAttr;

typedef struct OxNode {
    const char *name;           /* may be empty */
    const char *op;             /* op_type */
    const char *domain;         /* "" or "ai.onnx" for the standard set */
    int nin, nout, nattr;
    const char **in;            /* "" for an omitted optional input */
    const char **out;
    OxAttr *attr;
} OxNode;

/* A graph input or output: element type and shape (dim_param[k] non-NULL
 * for a symbolic dimension, dims[k] then -1). */
typedef struct OxIO {
    const char *name;
    int elem;                   /* OX_*, 0 when not a tensor */
    int has_shape;
    int ndim;
    int64_t dims[OX_MAX_DIMS];
    const char *dim_param[OX_MAX_DIMS];
} OxIO;

typedef struct OxModel {
    int64_t opset;              /* of the default domain */
    const char *graph_name;
    int nnodes, ninits, ninputs, noutputs;
    OxNode *nodes;
    OxTensor *inits;
    OxIO *inputs;               /* every graph input, initialisers included */
    OxIO *outputs;
} OxModel;

/* Reads an ONNX ModelProto from buf. 0 on success; -1 with a message in
 * err ("at byte N: ..." where the file is malformed). Everything read is
 * allocated with the compiler's xnew (lives until exit). */
int onnx_read_model(const unsigned char *buf, size_t len, OxModel *m, char *err, size_t errlen);
/* Reads one TensorProto (a conformance test's input_0.pb) into t. */
int onnx_read_tensor(const unsigned char *buf, size_t len, OxTensor *t, char *err, size_t errlen);
/* 1 when nnc was built with the ONNX reader (protobuf-c), else 0. */
int onnx_available(void);

/* The attribute called name of node n, or NULL. */
const OxAttr *ox_attr(const OxNode *n, const char *name);

#endif
