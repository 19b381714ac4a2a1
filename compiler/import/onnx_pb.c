/* onnx_pb.c — reading ONNX files with protobuf-c: the C code of onnx.proto
 * is generated at build time by protoc-c (compiler/CMakeLists.txt) from the
 * schema that libonnx-dev installs. protobuf-c parses; this file copies the
 * ModelProto into the importer's OxModel (onnx_model.h). Where protobuf-c
 * refuses a file, a walk of the wire format driven by the same generated
 * descriptors finds the byte offset of the first malformed field, so the
 * message can say where the file is broken. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx_model.h"
#include "support/diag.h"

int onnx_available(void) { return 1; }

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- where the wire format breaks ---- */

static int varint(const uint8_t *b, size_t len, size_t *p, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 70 && *p < len; sh += 7) {
        uint8_t c = b[(*p)++];
        if (sh < 64)
            *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d, uint32_t id)
{
    for (unsigned i = 0; d && i < d->n_fields; i++)
        if (d->fields[i].id == id)
            return &d->fields[i];
    return NULL;
}

/* Offset of the first malformed byte of the message b[start, end) of
 * descriptor d (NULL: unknown fields), with what is wrong; 0 when sound. */
static int wire_check(const uint8_t *b, size_t start, size_t end,
                      const ProtobufCMessageDescriptor *d, int depth, size_t *at,
                      const char **what)
{
    size_t p = start;
    if (depth > 64) {
        *at = start, *what = "messages nested too deeply";
        return -1;
    }
    while (p < end) {
        size_t key_at = p;
        uint64_t key, n;
        if (varint(b, end, &p, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
            *at = key_at, *what = "a field key that is not a valid varint";
            return -1;
        }
        const ProtobufCFieldDescriptor *f = field_of(d, (uint32_t)(key >> 3));
        switch (key & 7) {
        case 0:
            if (varint(b, end, &p, &n)) {
                *at = key_at, *what = "a varint field cut short";
                return -1;
            }
            break;
        case 1: case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if (end - p < w) {
                *at = key_at, *what = "a fixed-size field cut short";
                return -1;
            }
            p += w;
            break;
        }
        case 2:
            if (varint(b, end, &p, &n) || n > end - p) {
                *at = key_at, *what = "a length-delimited field longer than what holds it";
                return -1;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                wire_check(b, p, p + n, f->descriptor, depth + 1, at, what))
                return -1;
            p += n;
            break;
        default:
            *at = key_at, *what = "a field of an unknown wire type";
            return -1;
        }
    }
    return 0;
}

static void unpack_error(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *d,
                         const char *kind, char *err, size_t errlen)
{
    size_t at = 0;
    const char *what = NULL;
    if (len == 0)
        fail(err, errlen, "an empty file is not an ONNX %s", kind);
    else if (wire_check(buf, 0, len, d, 0, &at, &what))
        fail(err, errlen, "at byte %zu: not a valid ONNX %s (truncated or corrupt: %s)", at,
             kind, what);
    else
        fail(err, errlen, "at byte 0: not a valid ONNX %s (protobuf-c refuses it: a field "
             "of the wrong type, or a missing required field)", kind);
}

/* ---- copying into OxModel ---- */

static const char *str(const char *s) { return s ? xstrdup(s) : ""; }

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element i of raw little-endian data of type dt. */
static double raw_elem(const uint8_t *r, int dt, int64_t i)
{
    const uint8_t *p;
    switch (dt) {
    case OX_FLOAT: { float f; memcpy(&f, r + 4 * i, 4); return f; }
    case OX_DOUBLE: { double f; memcpy(&f, r + 8 * i, 8); return f; }
    case OX_INT64: { int64_t v; memcpy(&v, r + 8 * i, 8); return (double)v; }
    case OX_UINT64: { uint64_t v; memcpy(&v, r + 8 * i, 8); return (double)v; }
    case OX_INT32: { int32_t v; memcpy(&v, r + 4 * i, 4); return v; }
    case OX_UINT32: { uint32_t v; memcpy(&v, r + 4 * i, 4); return v; }
    case OX_INT16: { int16_t v; memcpy(&v, r + 2 * i, 2); return v; }
    case OX_UINT16: { uint16_t v; memcpy(&v, r + 2 * i, 2); return v; }
    case OX_INT8: return (int8_t)r[i];
    case OX_UINT8: case OX_BOOL: return r[i];
    case OX_FLOAT16: p = r + 2 * i; return half_to_double((uint16_t)(p[0] | p[1] << 8));
    case OX_BFLOAT16: {
        p = r + 2 * i;
        uint32_t u = (uint32_t)(p[0] | p[1] << 8) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    }
    return 0;
}

static int elem_size(int dt)
{
    switch (dt) {
    case OX_FLOAT: case OX_INT32: case OX_UINT32: return 4;
    case OX_DOUBLE: case OX_INT64: case OX_UINT64: return 8;
    case OX_INT16: case OX_UINT16: case OX_FLOAT16: case OX_BFLOAT16: return 2;
    case OX_INT8: case OX_UINT8: case OX_BOOL: return 1;
    }
    return 0;
}

static int copy_tensor(const Onnx__TensorProto *p, OxTensor *t, char *err, size_t errlen)
{
    const char *nm = p->name ? p->name : "";
    memset(t, 0, sizeof *t);
    t->name = str(p->name);
    t->dtype = p->has_data_type ? p->data_type : 0;
    if (p->n_dims > OX_MAX_DIMS) {
        fail(err, errlen, "tensor '%s' has %zu dimensions (at most %d)", nm, p->n_dims,
             OX_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)p->n_dims;
    t->numel = 1;
    for (size_t k = 0; k < p->n_dims; k++) {
        if (p->dims[k] < 0 || p->dims[k] > ((int64_t)1 << 31) ||
            t->numel * p->dims[k] > ((int64_t)1 << 31)) {
            fail(err, errlen, "tensor '%s': dimension %zu is %lld", nm, k,
                 (long long)p->dims[k]);
            return -1;
        }
        t->dims[k] = p->dims[k];
        t->numel *= p->dims[k];
    }
    if (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        fail(err, errlen, "tensor '%s' keeps its data in an external file, which nnc does "
             "not read", nm);
        return -1;
    }
    int es = elem_size(t->dtype);
    if (es == 0) {
        fail(err, errlen, "tensor '%s' has element type %d (nnc reads numbers only: float, "
             "double, float16, bfloat16, integers, bool)", nm, t->dtype);
        return -1;
    }
    t->v = xcalloc((size_t)(t->numel ? t->numel : 1), sizeof(double));
    size_t n = (size_t)t->numel;
    if (p->has_raw_data && (p->raw_data.len || n == 0)) {
        if (p->raw_data.len != n * (size_t)es) {
            fail(err, errlen, "tensor '%s': raw_data holds %zu bytes, its shape needs %zu",
                 nm, p->raw_data.len, n * (size_t)es);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            t->v[i] = raw_elem(p->raw_data.data, t->dtype, (int64_t)i);
        return 0;
    }
    size_t have = t->dtype == OX_FLOAT ? p->n_float_data
                : t->dtype == OX_DOUBLE ? p->n_double_data
                : t->dtype == OX_INT64 ? p->n_int64_data
                : t->dtype == OX_UINT64 || t->dtype == OX_UINT32 ? p->n_uint64_data
                : p->n_int32_data;
    if (have != n) {
        fail(err, errlen, "tensor '%s' holds %zu values, its shape needs %zu", nm, have, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case OX_FLOAT: t->v[i] = p->float_data[i]; break;
        case OX_DOUBLE: t->v[i] = p->double_data[i]; break;
        case OX_INT64: t->v[i] = (double)p->int64_data[i]; break;
        case OX_UINT64: case OX_UINT32: t->v[i] = (double)p->uint64_data[i]; break;
        case OX_FLOAT16: t->v[i] = half_to_double((uint16_t)p->int32_data[i]); break;
        case OX_BFLOAT16: {
            uint32_t u = (uint32_t)p->int32_data[i] << 16;
            float f;
            memcpy(&f, &u, 4);
            t->v[i] = f;
            break;
        }
        default: t->v[i] = p->int32_data[i]; break;
        }
    }
    return 0;
}

static int copy_attr(const Onnx__AttributeProto *p, OxAttr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->name = str(p->name);
    a->type = p->has_type ? (int)p->type : 0;
    a->f = p->f;
    a->i = p->i;
    if (p->has_s)   /* an empty string's bytes may be NULL */
        a->s = p->s.len ? xstrndup((const char *)p->s.data, p->s.len) : xstrdup("");
    if (p->n_floats) {
        a->n = (int)p->n_floats;
        a->fs = xcalloc(p->n_floats, sizeof(double));
        for (size_t k = 0; k < p->n_floats; k++)
            a->fs[k] = p->floats[k];
    }
    if (p->n_ints) {
        a->n = (int)p->n_ints;
        a->is = xcalloc(p->n_ints, sizeof(int64_t));
        memcpy(a->is, p->ints, p->n_ints * sizeof(int64_t));
    }
    if (p->n_strings) {
        a->n = (int)p->n_strings;
        a->ss = xcalloc(p->n_strings, sizeof(char *));
        for (size_t k = 0; k < p->n_strings; k++)
            a->ss[k] = xstrndup((const char *)p->strings[k].data, p->strings[k].len);
    }
    if (p->t) {
        a->t = xcalloc(1, sizeof *a->t);
        if (copy_tensor(p->t, a->t, err, errlen))
            return -1;
    }
    return 0;
}

static void copy_io(const Onnx__ValueInfoProto *p, OxIO *io)
{
    memset(io, 0, sizeof *io);
    io->name = str(p->name);
    const Onnx__TypeProto *ty = p->type;
    if (!ty || ty->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !ty->tensor_type)
        return;
    io->elem = ty->tensor_type->has_elem_type ? ty->tensor_type->elem_type : 0;
    const Onnx__TensorShapeProto *sh = ty->tensor_type->shape;
    if (!sh || sh->n_dim > OX_MAX_DIMS)
        return;
    io->has_shape = 1;
    io->ndim = (int)sh->n_dim;
    for (size_t k = 0; k < sh->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[k];
        io->dims[k] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            io->dims[k] = d->dim_value;
        else
            io->dim_param[k] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                   && d->dim_param ? xstrdup(d->dim_param) : "?";
    }
}

static int copy_node(const Onnx__NodeProto *p, OxNode *n, char *err, size_t errlen)
{
    n->name = str(p->name);
    n->op = str(p->op_type);
    n->domain = str(p->domain);
    n->nin = (int)p->n_input;
    n->nout = (int)p->n_output;
    n->nattr = (int)p->n_attribute;
    n->in = xcalloc(p->n_input + 1, sizeof(char *));
    n->out = xcalloc(p->n_output + 1, sizeof(char *));
    n->attr = xcalloc(p->n_attribute + 1, sizeof(OxAttr));
    for (size_t k = 0; k < p->n_input; k++)
        n->in[k] = str(p->input[k]);
    for (size_t k = 0; k < p->n_output; k++)
        n->out[k] = str(p->output[k]);
    for (size_t k = 0; k < p->n_attribute; k++)
        if (copy_attr(p->attribute[k], &n->attr[k], err, errlen))
            return -1;
    return 0;
}

static int copy_model(const Onnx__ModelProto *mp, OxModel *m, char *err, size_t errlen)
{
    const Onnx__GraphProto *g = mp->graph;
    memset(m, 0, sizeof *m);
    if (!g) {
        fail(err, errlen, "at byte 0: not an ONNX model (no graph in it)");
        return -1;
    }
    m->opset = 1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx"))
            m->opset = o->version;
    }
    m->graph_name = str(g->name);
    m->nnodes = (int)g->n_node;
    m->ninits = (int)g->n_initializer;
    m->ninputs = (int)g->n_input;
    m->noutputs = (int)g->n_output;
    m->nodes = xcalloc(g->n_node + 1, sizeof(OxNode));
    m->inits = xcalloc(g->n_initializer + 1, sizeof(OxTensor));
    m->inputs = xcalloc(g->n_input + 1, sizeof(OxIO));
    m->outputs = xcalloc(g->n_output + 1, sizeof(OxIO));
    for (size_t k = 0; k < g->n_node; k++)
        if (copy_node(g->node[k], &m->nodes[k], err, errlen))
            return -1;
    for (size_t k = 0; k < g->n_initializer; k++)
        if (copy_tensor(g->initializer[k], &m->inits[k], err, errlen))
            return -1;
    if (g->n_sparse_initializer) {
        fail(err, errlen, "the graph has sparse initialisers, which nnc does not read");
        return -1;
    }
    for (size_t k = 0; k < g->n_input; k++)
        copy_io(g->input[k], &m->inputs[k]);
    for (size_t k = 0; k < g->n_output; k++)
        copy_io(g->output[k], &m->outputs[k]);
    return 0;
}

int onnx_read_model(const unsigned char *buf, size_t len, OxModel *m, char *err, size_t errlen)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) {
        unpack_error(buf, len, &onnx__model_proto__descriptor, "model", err, errlen);
        return -1;
    }
    int rc = copy_model(mp, m, err, errlen);
    onnx__model_proto__free_unpacked(mp, NULL);
    return rc;
}

int onnx_read_tensor(const unsigned char *buf, size_t len, OxTensor *t, char *err, size_t errlen)
{
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp) {
        unpack_error(buf, len, &onnx__tensor_proto__descriptor, "tensor", err, errlen);
        return -1;
    }
    int rc = copy_tensor(tp, t, err, errlen);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
