/* safetensors.c — reading and writing .safetensors parameter files.
 *
 * Layout: 8-byte little-endian u64 N, N bytes of JSON header, data section.
 * The header maps tensor names to {"dtype", "shape", "data_offsets"}
 * (offsets relative to the data section) plus an optional "__metadata__"
 * string map. */
#include "../nnr.h"
#include "io_util.h"
#include "json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_DIMS 8
#define ST_SNIP 80 /* longest tensor name quoted in a message */

typedef enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32 } st_dtype;

static const struct {
    const char *name;
    st_dtype dt;
    size_t size;
} st_dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2},
    {"F64", ST_F64, 8}, {"I64", ST_I64, 8}, {"I32", ST_I32, 4},
};

typedef struct st_ent {
    const char *name;    /* NUL-terminated, in the JSON arena */
    size_t name_len;
    st_dtype dt;
    size_t dsize;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    uint64_t begin, end;
} st_ent;

/* ------------------------------------------------------------ conversions */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0) {
        float v = ldexpf((float)m, -24); /* zero or subnormal, exact */
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7F800000u | (m << 13)); /* inf / NaN */
    return bits_f32(sign | ((e - 15 + 127) << 23) | (m << 13));
}

static float f64_to_f32(double d)
{
    if (d > FLT_MAX) return INFINITY;   /* out of float range: saturate (no UB) */
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;                    /* NaN passes through */
}

static void convert(const st_ent *e, const unsigned char *src, float *dst)
{
    size_t n = e->numel;
    switch (e->dt) {
    case ST_F32:
        for (size_t i = 0; i < n; i++) dst[i] = bits_f32(rd32(src + 4 * i));
        break;
    case ST_F16:
        for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(rd16(src + 2 * i));
        break;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = bits_f32((uint32_t)rd16(src + 2 * i) << 16);
        break;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = rd64(src + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = f64_to_f32(d);
        }
        break;
    case ST_I64:
        for (size_t i = 0; i < n; i++) dst[i] = (float)(int64_t)rd64(src + 8 * i);
        break;
    case ST_I32:
        for (size_t i = 0; i < n; i++) dst[i] = (float)(int32_t)rd32(src + 4 * i);
        break;
    }
}

/* ------------------------------------------------------------ reader */

typedef struct st_ctx {
    const char *path;
    char *err;
    size_t errlen;
} st_ctx;

/* "PATH: tensor 'NAME': " + message. */
static int tensor_err(const st_ctx *c, const st_ent *e, const char *fmt, ...)
    NNR_IO_PRINTF(3, 4);
static int tensor_err(const st_ctx *c, const st_ent *e, const char *fmt, ...)
{
    char msg[256], nm[ST_SNIP + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nnr_io_snip(nm, sizeof nm, e->name, e->name_len, ST_SNIP);
    return nnr_io_errf(c->err, c->errlen, "%s: tensor '%s': %s", c->path, nm, msg);
}

static int key_is(const nnr_json_value *v, const char *k)
{
    size_t n = strlen(k);
    return v->key_len == n && memcmp(v->key, k, n) == 0;
}

static void fmt_shape(char *buf, size_t len, const st_ent *e)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < e->ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, "%s%" PRId64, d ? ", " : "", e->shape[d]);
    if (k < len) snprintf(buf + k, len - k, "]");
}

static int parse_entry(const st_ctx *c, const nnr_json_doc *doc, const nnr_json_value *tv,
                       size_t data_len, st_ent *e)
{
    const nnr_json_value *dtype = NULL, *shape = NULL, *offs = NULL;
    if (strlen(e->name) != e->name_len)
        return tensor_err(c, e, "name contains a NUL character");
    if (tv->type != NNR_JSON_OBJECT)
        return tensor_err(c, e, "expected an object with \"dtype\", \"shape\" and "
                                "\"data_offsets\" (at byte offset %zu)", 8 + tv->pos);
    for (size_t i = tv->first; i != NNR_JSON_NONE; i = doc->v[i].next) {
        const nnr_json_value *m = &doc->v[i];
        const nnr_json_value **slot = key_is(m, "dtype") ? &dtype
                                      : key_is(m, "shape") ? &shape
                                      : key_is(m, "data_offsets") ? &offs : NULL;
        if (slot == NULL) continue; /* unknown keys are ignored */
        if (*slot != NULL)
            return tensor_err(c, e, "duplicate key \"%s\" (at byte offset %zu)", m->key,
                              8 + m->key_pos);
        *slot = m;
    }
    if (dtype == NULL) return tensor_err(c, e, "missing \"dtype\"");
    if (shape == NULL) return tensor_err(c, e, "missing \"shape\"");
    if (offs == NULL) return tensor_err(c, e, "missing \"data_offsets\"");

    /* dtype */
    if (dtype->type != NNR_JSON_STRING)
        return tensor_err(c, e, "\"dtype\" must be a string (at byte offset %zu)",
                          8 + dtype->pos);
    size_t k, ndt = sizeof st_dtypes / sizeof st_dtypes[0];
    for (k = 0; k < ndt; k++)
        if (strlen(st_dtypes[k].name) == dtype->str_len &&
            memcmp(st_dtypes[k].name, dtype->str, dtype->str_len) == 0)
            break;
    if (k == ndt) {
        char dn[40];
        nnr_io_snip(dn, sizeof dn, dtype->str, dtype->str_len, 24);
        return tensor_err(c, e, "unsupported dtype '%s' (supported: F32, F16, BF16, F64, "
                                "I64, I32)", dn);
    }
    e->dt = st_dtypes[k].dt;
    e->dsize = st_dtypes[k].size;

    /* shape */
    if (shape->type != NNR_JSON_ARRAY)
        return tensor_err(c, e, "\"shape\" must be an array of integers (at byte offset %zu)",
                          8 + shape->pos);
    if (shape->count > ST_MAX_DIMS)
        return tensor_err(c, e, "shape has %zu dimensions (at most %d supported)",
                          shape->count, ST_MAX_DIMS);
    e->ndim = 0;
    int zero = 0;
    for (size_t i = shape->first; i != NNR_JSON_NONE; i = doc->v[i].next) {
        const nnr_json_value *d = &doc->v[i];
        if (d->type != NNR_JSON_NUMBER || !d->is_uint || d->u > (uint64_t)INT64_MAX)
            return tensor_err(c, e, "shape dimension %d is not a non-negative integer (at "
                                    "byte offset %zu)", e->ndim, 8 + d->pos);
        e->shape[e->ndim++] = (int64_t)d->u;
        if (d->u == 0) zero = 1;
    }
    e->numel = 1;
    if (zero) {
        e->numel = 0;
    } else {
        for (int d = 0; d < e->ndim; d++) {
            if ((uint64_t)e->shape[d] > SIZE_MAX ||
                nnr_io_mul(e->numel, (size_t)e->shape[d], &e->numel) != 0) {
                char sh[200];
                fmt_shape(sh, sizeof sh, e);
                return tensor_err(c, e, "shape %s is too large", sh);
            }
        }
    }

    /* data_offsets */
    if (offs->type != NNR_JSON_ARRAY || offs->count != 2 ||
        doc->v[offs->first].type != NNR_JSON_NUMBER || !doc->v[offs->first].is_uint ||
        doc->v[doc->v[offs->first].next].type != NNR_JSON_NUMBER ||
        !doc->v[doc->v[offs->first].next].is_uint)
        return tensor_err(c, e, "\"data_offsets\" must be [begin, end], two non-negative "
                                "integers (at byte offset %zu)", 8 + offs->pos);
    e->begin = doc->v[offs->first].u;
    e->end = doc->v[doc->v[offs->first].next].u;
    if (e->begin > e->end)
        return tensor_err(c, e, "data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                          e->begin, e->end);
    if (e->end > (uint64_t)data_len)
        return tensor_err(c, e, "data_offsets [%" PRIu64 ", %" PRIu64 "] out of range (data "
                                "section is %zu bytes)", e->begin, e->end, data_len);
    size_t bytes;
    if (nnr_io_mul(e->numel, e->dsize, &bytes) != 0 || (uint64_t)bytes != e->end - e->begin) {
        char sh[200];
        fmt_shape(sh, sizeof sh, e);
        if (nnr_io_mul(e->numel, e->dsize, &bytes) != 0)
            return tensor_err(c, e, "shape %s is too large", sh);
        return tensor_err(c, e, "shape %s of %s needs %zu bytes but data_offsets [%" PRIu64
                                ", %" PRIu64 "] hold %" PRIu64, sh, st_dtypes[k].name, bytes,
                          e->begin, e->end, e->end - e->begin);
    }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    const st_ent *x = *(const st_ent *const *)a, *y = *(const st_ent *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_offset(const void *a, const void *b)
{
    const st_ent *x = *(const st_ent *const *)a, *y = *(const st_ent *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int check_metadata(const st_ctx *c, const nnr_json_doc *doc, const nnr_json_value *m)
{
    if (m->type != NNR_JSON_OBJECT)
        return nnr_io_errf(c->err, c->errlen, "%s: \"__metadata__\" must be an object of "
                           "strings (at byte offset %zu)", c->path, 8 + m->pos);
    for (size_t i = m->first; i != NNR_JSON_NONE; i = doc->v[i].next)
        if (doc->v[i].type != NNR_JSON_STRING)
            return nnr_io_errf(c->err, c->errlen, "%s: \"__metadata__\" values must be "
                               "strings (at byte offset %zu)", c->path, 8 + doc->v[i].pos);
    return 0;
}

/* Unique names, and no overlap between non-empty tensors (order is
 * sorted in place). */
static int check_layout(const st_ctx *c, st_ent **order, size_t n)
{
    qsort(order, n, sizeof *order, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            tensor_err(c, order[i], "duplicate tensor name");
            return -1;
        }
    /* No overlap between non-empty tensors. */
    qsort(order, n, sizeof *order, cmp_offset);
    const st_ent *reach = NULL; /* the non-empty tensor ending furthest so far */
    for (size_t i = 0; i < n; i++) {
        const st_ent *e = order[i];
        if (e->begin == e->end) continue;
        if (reach != NULL && e->begin < reach->end) {
            char a[ST_SNIP + 8], b[ST_SNIP + 8];
            nnr_io_snip(a, sizeof a, reach->name, reach->name_len, ST_SNIP);
            nnr_io_snip(b, sizeof b, e->name, e->name_len, ST_SNIP);
            nnr_io_errf(c->err, c->errlen, "%s: tensors '%s' and '%s' overlap (data_offsets [%"
                        PRIu64 ", %" PRIu64 "] and [%" PRIu64 ", %" PRIu64 "])", c->path,
                        a, b, reach->begin, reach->end, e->begin, e->end);
            return -1;
        }
        if (reach == NULL || e->end > reach->end) reach = e;
    }
    return 0;
}

/* The "__metadata__" object m (checked: strings only) into f->meta. */
static int copy_metadata(const nnr_json_doc *doc, const nnr_json_value *m, nnr_st_file *f)
{
    if (m->count == 0) return 0;
    f->meta = calloc(2 * m->count, sizeof *f->meta);
    if (f->meta == NULL) return -1;
    for (size_t i = m->first; i != NNR_JSON_NONE; i = doc->v[i].next) {
        char **kv = f->meta + 2 * f->nmeta;
        kv[0] = malloc(doc->v[i].key_len + 1);
        kv[1] = malloc(doc->v[i].str_len + 1);
        f->nmeta++;
        if (kv[0] == NULL || kv[1] == NULL) return -1;
        memcpy(kv[0], doc->v[i].key, doc->v[i].key_len + 1);
        memcpy(kv[1], doc->v[i].str, doc->v[i].str_len + 1);
    }
    return 0;
}

int nnr_st_parse(const unsigned char *buf, size_t len, const char *path, nnr_st_file *out,
                 char *err, size_t errlen)
{
    st_ctx c = {NNR_IO_NAME(path), err, errlen};
    if (out == NULL) return nnr_io_errf(err, errlen, "%s: no output given", c.path);
    memset(out, 0, sizeof *out);
    if (buf == NULL || len == 0) return nnr_io_errf(err, errlen, "%s: empty file", c.path);
    if (len < 8)
        return nnr_io_errf(err, errlen, "%s: file too short for a safetensors header (%zu "
                           "bytes, need at least 8)", c.path, len);
    uint64_t hlen = rd64(buf);
    if (hlen > (uint64_t)(len - 8))
        return nnr_io_errf(err, errlen, "%s: header length %" PRIu64 " runs past the end of "
                           "the file (size %zu)", c.path, hlen, len);
    const unsigned char *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;

    nnr_json_doc doc;
    size_t epos = 0;
    char jmsg[128];
    if (nnr_json_parse((const char *)buf + 8, (size_t)hlen, &doc, &epos, jmsg, sizeof jmsg) != 0)
        return nnr_io_errf(err, errlen, "%s: malformed JSON at byte offset %zu: %s", c.path,
                           8 + epos, jmsg);
    int rc = -1;
    st_ent *ents = NULL, **order = NULL;
    nnr_st_tensor *ts = NULL;
    size_t n = 0;
    const nnr_json_value *root = &doc.v[0];
    if (root->type != NNR_JSON_OBJECT) {
        nnr_io_errf(err, errlen, "%s: the header is not a JSON object", c.path);
        goto done;
    }
    if (root->count > 0) {
        ents = calloc(root->count, sizeof *ents);
        order = calloc(root->count, sizeof *order);
        if (ents == NULL || order == NULL) {
            nnr_io_errf(err, errlen, "%s: out of memory", c.path);
            goto done;
        }
    }
    int seen_meta = 0;
    const nnr_json_value *meta = NULL;
    for (size_t i = root->first; i != NNR_JSON_NONE; i = doc.v[i].next) {
        const nnr_json_value *m = &doc.v[i];
        if (key_is(m, "__metadata__")) {
            if (seen_meta) {
                nnr_io_errf(err, errlen, "%s: duplicate \"__metadata__\" (at byte offset %zu)",
                            c.path, 8 + m->key_pos);
                goto done;
            }
            seen_meta = 1;
            meta = m;
            if (check_metadata(&c, &doc, m) != 0) goto done;
            continue;
        }
        st_ent *e = &ents[n];
        e->name = m->key;
        e->name_len = m->key_len;
        if (parse_entry(&c, &doc, m, data_len, e) != 0) goto done;
        order[n] = e;
        n++;
    }

    if (n > 1 && check_layout(&c, order, n) != 0) goto done;

    /* Convert, in header order. */
    if (n > 0) {
        ts = calloc(n, sizeof *ts);
        if (ts == NULL) {
            nnr_io_errf(err, errlen, "%s: out of memory", c.path);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const st_ent *e = &ents[i];
        nnr_st_tensor *t = &ts[i];
        size_t fbytes;
        t->name = malloc(e->name_len + 1);
        if (nnr_io_mul(e->numel ? e->numel : 1, sizeof(float), &fbytes) == 0)
            t->data = malloc(fbytes);
        if (t->name == NULL || t->data == NULL) {
            nnr_io_errf(err, errlen, "%s: out of memory", c.path);
            out->ntensors = (int)n;
            out->tensors = ts;
            nnr_st_free(out);
            ts = NULL;
            goto done;
        }
        memcpy(t->name, e->name, e->name_len + 1);
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        t->numel = e->numel;
        t->dtype_was_int = e->dt == ST_I64 || e->dt == ST_I32;
        convert(e, data + e->begin, t->data);
    }
    if (n > (size_t)INT32_MAX) {
        nnr_io_errf(err, errlen, "%s: too many tensors", c.path);
        goto done;
    }
    out->ntensors = (int)n;
    out->tensors = ts;
    ts = NULL;
    if (meta != NULL && copy_metadata(&doc, meta, out) != 0) {
        nnr_st_free(out);
        nnr_io_errf(err, errlen, "%s: out of memory", c.path);
        goto done;
    }
    rc = 0;
done:
    if (ts != NULL) {
        for (size_t i = 0; i < n; i++) {
            free(ts[i].name);
            free(ts[i].data);
        }
        free(ts);
    }
    free(ents);
    free(order);
    nnr_json_free(&doc);
    return rc;
}

int nnr_st_read(const char *path, nnr_st_file *out, char *err, size_t errlen)
{
    size_t len;
    if (out != NULL) memset(out, 0, sizeof *out);
    unsigned char *buf = nnr_read_file(path, &len, err, errlen);
    if (buf == NULL) return -1;
    int rc = nnr_st_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

void nnr_st_free(nnr_st_file *f)
{
    if (f == NULL) return;
    for (int i = 0; i < f->ntensors && f->tensors != NULL; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    for (int i = 0; i < 2 * f->nmeta && f->meta != NULL; i++)
        free(f->meta[i]);
    free(f->meta);
    memset(f, 0, sizeof *f);
}

const char *nnr_st_meta(const nnr_st_file *f, const char *key)
{
    if (f == NULL || key == NULL || f->meta == NULL) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

const nnr_st_tensor *nnr_st_find(const nnr_st_file *f, const char *name)
{
    if (f == NULL || name == NULL || f->tensors == NULL) return NULL;
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------ writer */

typedef struct sbuf {
    char *b;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->oom) return;
    if (s->cap - s->n < n + 1) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap - s->n < n + 1) {
            if (cap > SIZE_MAX / 2) { s->oom = 1; return; }
            cap *= 2;
        }
        char *b = realloc(s->b, cap);
        if (b == NULL) { s->oom = 1; return; }
        s->b = b;
        s->cap = cap;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = '\0';
}

static void sb_str(sbuf *s, const char *p) { sb_put(s, p, strlen(p)); }

static void sb_u64(sbuf *s, uint64_t v)
{
    char t[32];
    int k = snprintf(t, sizeof t, "%" PRIu64, v);
    sb_put(s, t, (size_t)k);
}

static void sb_json_str(sbuf *s, const char *p)
{
    sb_put(s, "\"", 1);
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"') sb_put(s, "\\\"", 2);
        else if (ch == '\\') sb_put(s, "\\\\", 2);
        else if (ch < 0x20) {
            char t[8];
            snprintf(t, sizeof t, "\\u%04x", ch);
            sb_put(s, t, 6);
        } else sb_put(s, p, 1);
    }
    sb_put(s, "\"", 1);
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* The header of nnr_st_write_meta into h, and each tensor's offset in
 * the data section into offs (the I64 ones first). */
static void st_header(sbuf *h, const nnr_st_out *t, int n, const size_t *bytes, size_t *offs,
                      size_t int_len, const char *const *meta, int nmeta)
{
    size_t at_int = 0, at_float = int_len;
    sb_str(h, "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; i < nmeta; i++) {
        if (strcmp(meta[2 * i], "format") == 0) continue;
        sb_str(h, ",");
        sb_json_str(h, meta[2 * i]);
        sb_str(h, ":");
        sb_json_str(h, meta[2 * i + 1]);
    }
    sb_str(h, "}");
    for (int i = 0; i < n; i++) {
        const nnr_st_out *o = &t[i];
        size_t *at = o->is_int ? &at_int : &at_float;
        offs[i] = *at;
        *at += bytes[i];
        sb_str(h, ",");
        sb_json_str(h, o->name);
        sb_str(h, o->is_int ? ":{\"dtype\":\"I64\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < o->ndim; d++) {
            if (d) sb_str(h, ",");
            sb_u64(h, (uint64_t)o->shape[d]);
        }
        sb_str(h, "],\"data_offsets\":[");
        sb_u64(h, (uint64_t)offs[i]);
        sb_str(h, ",");
        sb_u64(h, (uint64_t)(offs[i] + bytes[i]));
        sb_str(h, "]}");
    }
    sb_str(h, "}");
}

/* Header entries and tensors come in the order given. In the data section
 * the I64 tensors come first, then the F32 ones (each group in the order
 * given), so that every tensor is naturally aligned in the file (the data
 * section starts at a multiple of 8) without leaving gaps, which safetensors
 * readers reject. */
int nnr_st_write(const char *path, const nnr_st_out *t, int n, char *err, size_t errlen)
{
    return nnr_st_write_meta(path, t, n, NULL, 0, err, errlen);
}

int nnr_st_write_meta(const char *path, const nnr_st_out *t, int n, const char *const *meta,
                      int nmeta, char *err, size_t errlen)
{
    const char *pn = NNR_IO_NAME(path);
    if (n < 0 || (n > 0 && t == NULL))
        return nnr_io_errf(err, errlen, "%s: no tensors given", pn);
    size_t *bytes = n > 0 ? calloc((size_t)n, sizeof *bytes) : NULL;
    size_t *offs = n > 0 ? calloc((size_t)n, sizeof *offs) : NULL;
    sbuf h = {0};
    unsigned char *file = NULL;
    int rc = -1;
    size_t int_len = 0, data_len = 0;
    if (n > 0 && (bytes == NULL || offs == NULL)) {
        nnr_io_errf(err, errlen, "%s: out of memory", pn);
        goto done;
    }

    /* Validate, and size every tensor. */
    for (int i = 0; i < n; i++) {
        const nnr_st_out *o = &t[i];
        if (o->name == NULL) {
            nnr_io_errf(err, errlen, "%s: tensor %d has no name", pn, i);
            goto done;
        }
        char nm[ST_SNIP + 8];
        nnr_io_snip(nm, sizeof nm, o->name, strlen(o->name), ST_SNIP);
        if (strcmp(o->name, "__metadata__") == 0) {
            nnr_io_errf(err, errlen, "%s: '__metadata__' is not a valid tensor name", pn);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, o->name) == 0) {
                nnr_io_errf(err, errlen, "%s: duplicate tensor name '%s'", pn, nm);
                goto done;
            }
        if (o->ndim < 0 || o->ndim > ST_MAX_DIMS || (o->ndim > 0 && o->shape == NULL)) {
            nnr_io_errf(err, errlen, "%s: tensor '%s': bad number of dimensions %d", pn, nm,
                        o->ndim);
            goto done;
        }
        size_t numel = 1;
        int zero = 0, bad = 0;
        for (int d = 0; d < o->ndim; d++) {
            if (o->shape[d] < 0) bad = 1;
            else if (o->shape[d] == 0) zero = 1;
        }
        for (int d = 0; d < o->ndim && !bad && !zero; d++)
            if ((uint64_t)o->shape[d] > SIZE_MAX ||
                nnr_io_mul(numel, (size_t)o->shape[d], &numel) != 0)
                bad = 1;
        if (zero) numel = 0;
        if (bad || nnr_io_mul(numel, o->is_int ? 8 : 4, &bytes[i]) != 0 ||
            nnr_io_add(data_len, bytes[i], &data_len) != 0) {
            nnr_io_errf(err, errlen, "%s: tensor '%s': bad shape", pn, nm);
            goto done;
        }
        if (o->is_int) int_len += bytes[i];
        if (numel > 0 && o->data == NULL) {
            nnr_io_errf(err, errlen, "%s: tensor '%s': no data", pn, nm);
            goto done;
        }
        if (o->is_int)
            for (size_t k = 0; k < numel; k++) {
                float v = o->data[k];
                if (!(v >= -9223372036854775808.0f && v < 9223372036854775808.0f)) {
                    nnr_io_errf(err, errlen, "%s: tensor '%s': value %g at index %zu cannot "
                                "be stored as I64", pn, nm, (double)v, k);
                    goto done;
                }
            }
    }

    /* Lay out the data section and write the header. */
    st_header(&h, t, n, bytes, offs, int_len, meta, nmeta);
    while (!h.oom && h.n % 8 != 0) sb_str(&h, " "); /* data starts 8-aligned */
    size_t total;
    if (h.oom || nnr_io_add(8 + h.n, data_len, &total) != 0 ||
        (file = malloc(total)) == NULL) {
        nnr_io_errf(err, errlen, "%s: out of memory", pn);
        goto done;
    }
    wr64(file, (uint64_t)h.n);
    memcpy(file + 8, h.b, h.n);
    unsigned char *data = file + 8 + h.n;
    for (int i = 0; i < n; i++) {
        unsigned char *p = data + offs[i];
        size_t numel = bytes[i] / (t[i].is_int ? 8 : 4);
        for (size_t k = 0; k < numel; k++) {
            if (t[i].is_int) {
                wr64(p, (uint64_t)(int64_t)llroundf(t[i].data[k]));
                p += 8;
            } else {
                uint32_t u;
                memcpy(&u, &t[i].data[k], sizeof u);
                wr32(p, u);
                p += 4;
            }
        }
    }
    rc = nnr_write_file_atomic(pn, file, total, err, errlen);
done:
    free(bytes);
    free(offs);
    free(h.b);
    free(file);
    return rc;
}
