/* pth.c — reading torch.save(model.state_dict()) files (PyTorch >= 1.6):
 * a zip archive (central directory, zip64 too) of stored entries holding
 * ARCHIVE/data.pkl (run by pth_pickle.c) and the storages ARCHIVE/data/KEY,
 * from which each tensor (a view: offset, sizes, strides) is gathered into
 * floats. Also tells weight and model files apart by content. */
#include "pth.h"
#include "io_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PTH_SNIP 80
#define PTH_MAX_EXPAND ((uint64_t)1 << 24) /* elements beyond the storages' (stride 0) */

/* ------------------------------------------------------------ bytes */

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return rd16(p) | ((uint32_t)rd16(p + 2) << 16);
}
static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* CRC-32 (zip's, reflected 0xEDB88320), a byte at a time through a table. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t tab[256], c;
    for (uint32_t i = 0; i < 256; i++) {
        c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        tab[i] = c;
    }
    c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = tab[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

/* ------------------------------------------------------------ sniffing */

static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

/* ONNX: field 1 (ir_version, a varint) first, then another ModelProto field. */
static int looks_onnx(const unsigned char *b, size_t len)
{
    if (len < 4 || b[0] != 0x08) return 0;
    size_t i = 1;
    uint64_t v = 0;
    for (int sh = 0; i < len && sh < 64; sh += 7, i++) {
        v |= (uint64_t)(b[i] & 0x7f) << sh;
        if (!(b[i] & 0x80)) break;
    }
    if (i + 1 >= len || v == 0 || v > 64) return 0;
    unsigned tag = b[i + 1], field = tag >> 3, wire = tag & 7;
    return field >= 2 && field <= 20 && (wire == 0 || wire == 2);
}

nnr_file_kind nnr_file_sniff(const unsigned char *b, size_t len)
{
    if (b == NULL) return NNR_FILE_OTHER;
    if (len >= 4 && b[0] == 'P' && b[1] == 'K' &&
        ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6)))
        return NNR_FILE_ZIP;
    /* safetensors before the pickle: a header of 640 bytes (0x280) starts
     * with 0x80 0x02, as a pickle does; a pickle never passes this test. */
    if (len >= 10) {
        uint64_t h = rd64(b);
        size_t i = 8;
        while (i < len && i < 8 + h && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t')) i++;
        if (h >= 2 && h <= (uint64_t)(len - 8) && i < len && b[i] == '{')
            return NNR_FILE_SAFETENSORS;
    }
    if (len >= sizeof legacy_magic && memcmp(b, legacy_magic, sizeof legacy_magic) == 0)
        return NNR_FILE_PTH_LEGACY;
    if (len >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return NNR_FILE_PICKLE;
    if (looks_onnx(b, len)) return NNR_FILE_ONNX;
    return NNR_FILE_OTHER;
}

/* ------------------------------------------------------------ zip */

typedef struct zent {
    const char *name;   /* in the central directory, not NUL-terminated */
    size_t name_len;
    size_t data;        /* offset of the entry's bytes in the file */
    size_t size;
    uint32_t crc;
    int crc_ok;         /* checked once */
} zent;

typedef struct zctx {
    const unsigned char *b;
    size_t len;
    const char *path;
    char *err;
    size_t errlen;
    zent *e;
    size_t n;
} zctx;

static int zfail(zctx *z, size_t at, const char *fmt, ...) NNR_IO_PRINTF(3, 4);
static int zfail(zctx *z, size_t at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    nnr_io_verrf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nnr_io_errf(z->err, z->errlen, "%s: %s (at byte offset %zu)", z->path, msg, at);
}

/* The end of central directory record, and the directory's place and size
 * (from the zip64 record when the classic one says 0xFFFF...). */
static int zip_end(zctx *z, uint64_t *count, uint64_t *cd_off, uint64_t *cd_size)
{
    size_t lo = z->len > 22 + 65535 ? z->len - 22 - 65535 : 0, at = SIZE_MAX;
    for (size_t i = z->len >= 22 ? z->len - 22 + 1 : 0; i-- > lo;)
        if (rd32(z->b + i) == 0x06054b50u && i + 22 + rd16(z->b + i + 20) <= z->len) {
            at = i;
            break;
        }
    if (at == SIZE_MAX)
        return zfail(z, z->len, "no zip end of central directory record: the archive is "
                     "truncated or not a zip");
    const unsigned char *r = z->b + at;
    if (rd16(r + 4) != 0 || rd16(r + 6) != 0)
        return zfail(z, at, "a zip archive split over several disks");
    *count = rd16(r + 10);
    *cd_size = rd32(r + 12);
    *cd_off = rd32(r + 16);
    if (*count == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_off == 0xFFFFFFFFu) {
        if (at < 20 || rd32(z->b + at - 20) != 0x07064b50u)
            return zfail(z, at, "zip64 archive without a zip64 end of central directory "
                         "locator");
        uint64_t e64 = rd64(z->b + at - 20 + 8);
        if (e64 > at - 20 || at - 20 - e64 < 56 || rd32(z->b + e64) != 0x06064b50u)
            return zfail(z, at - 20, "zip64 end of central directory record not found at "
                         "byte offset %" PRIu64, e64);
        r = z->b + e64;
        *count = rd64(r + 32);
        *cd_size = rd64(r + 40);
        *cd_off = rd64(r + 48);
        at = (size_t)e64;
    }
    if (*cd_off > at || *cd_size > at - *cd_off)
        return zfail(z, at, "the zip central directory (offset %" PRIu64 ", %" PRIu64
                     " bytes) lies outside the file", *cd_off, *cd_size);
    if (*count > *cd_size / 46)
        return zfail(z, at, "the zip central directory cannot hold %" PRIu64 " entries",
                     *count);
    return 0;
}

/* Sizes and offset from the zip64 extra field where the header says 0xFFFFFFFF. */
static int zip64_extra(zctx *z, size_t at, const unsigned char *x, size_t xlen,
                       uint64_t *usize, uint64_t *csize, uint64_t *off)
{
    uint64_t *want[3] = {usize, csize, off};
    for (size_t i = 0; i + 4 <= xlen;) {
        size_t id = rd16(x + i), n = rd16(x + i + 2);
        if (n > xlen - i - 4) break;
        if (id == 1) {
            size_t k = 0;
            for (int f = 0; f < 3; f++) {
                if (*want[f] != 0xFFFFFFFFu) continue;
                if (k + 8 > n) return zfail(z, at, "zip64 extra field too short");
                *want[f] = rd64(x + i + 4 + k);
                k += 8;
            }
            return 0;
        }
        i += 4 + n;
    }
    if (*usize == 0xFFFFFFFFu || *csize == 0xFFFFFFFFu || *off == 0xFFFFFFFFu)
        return zfail(z, at, "zip entry needs a zip64 extra field and has none");
    return 0;
}

static const char *method_name(unsigned m)
{
    return m == 8 ? "deflate" : m == 12 ? "bzip2" : m == 14 ? "lzma" : m == 93 ? "zstd"
           : m == 9 ? "deflate64" : "unknown";
}

/* One central directory header at *at; advances *at. */
static int zip_entry(zctx *z, size_t *at, size_t end, zent *e)
{
    size_t h = *at;
    if (end - h < 46 || rd32(z->b + h) != 0x02014b50u)
        return zfail(z, h, "bad zip central directory header");
    const unsigned char *r = z->b + h;
    unsigned flags = rd16(r + 8), method = rd16(r + 10);
    size_t nlen = rd16(r + 28), xlen = rd16(r + 30), clen = rd16(r + 32);
    if (end - h - 46 < nlen + xlen + clen)
        return zfail(z, h, "zip central directory header runs past the directory");
    uint64_t csize = rd32(r + 20), usize = rd32(r + 24), off = rd32(r + 42);
    e->name = (const char *)r + 46;
    e->name_len = nlen;
    e->crc = rd32(r + 16);
    char nm[PTH_SNIP + 8];
    nnr_io_snip(nm, sizeof nm, e->name, nlen, PTH_SNIP);
    if (zip64_extra(z, h, r + 46 + nlen, xlen, &usize, &csize, &off)) return -1;
    if (flags & 1) return zfail(z, h, "zip entry '%s' is encrypted", nm);
    if (method != 0)
        return zfail(z, h, "zip entry '%s' is compressed (method %u, %s); torch.save stores "
                     "its entries uncompressed, and nnc reads only stored entries", nm,
                     method, method_name(method));
    if (csize != usize)
        return zfail(z, h, "stored zip entry '%s' has sizes %" PRIu64 " and %" PRIu64, nm,
                     csize, usize);
    if (off > z->len || z->len - off < 30 || rd32(z->b + off) != 0x04034b50u)
        return zfail(z, h, "zip entry '%s': no local header at byte offset %" PRIu64, nm, off);
    size_t data = (size_t)off + 30 + rd16(z->b + off + 26) + rd16(z->b + off + 28);
    if (data > z->len || csize > z->len - data)
        return zfail(z, (size_t)off, "zip entry '%s' (%" PRIu64 " bytes) runs past the end of "
                     "the file", nm, csize);
    e->data = data;
    e->size = (size_t)csize;
    *at = h + 46 + nlen + xlen + clen;
    return 0;
}

static int zip_read(zctx *z)
{
    uint64_t count = 0, cd_off = 0, cd_size = 0;
    if (zip_end(z, &count, &cd_off, &cd_size)) return -1;
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (z->e == NULL) return zfail(z, 0, "out of memory");
    size_t at = (size_t)cd_off, end = (size_t)(cd_off + cd_size);
    for (z->n = 0; z->n < count; z->n++)
        if (zip_entry(z, &at, end, &z->e[z->n])) return -1;
    return 0;
}

/* The entry named prefix + rest (prefix of plen bytes), or NULL. */
static zent *zip_find(zctx *z, const char *prefix, size_t plen, const char *rest, size_t rlen)
{
    for (size_t i = 0; i < z->n; i++) {
        zent *e = &z->e[i];
        if (e->name_len == plen + rlen && memcmp(e->name, prefix, plen) == 0 &&
            memcmp(e->name + plen, rest, rlen) == 0)
            return e;
    }
    return NULL;
}

static int zip_crc(zctx *z, zent *e)
{
    (void)z;
    if (e->crc_ok) return 0;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* fuzz_pth: let mutants reach the pickle */
    if (crc32_of(z->b + e->data, e->size) != e->crc) {
        char nm[PTH_SNIP + 8];
        return zfail(z, e->data, "zip entry '%s' is corrupt (its CRC-32 does not match)",
                     nnr_io_snip(nm, sizeof nm, e->name, e->name_len, PTH_SNIP));
    }
#endif
    e->crc_ok = 1;
    return 0;
}

/* ------------------------------------------------------------ tensors */

static size_t dtype_size(nnr_pth_dtype d)
{
    switch (d) {
    case NNR_PT_F64: case NNR_PT_I64: return 8;
    case NNR_PT_F32: case NNR_PT_I32: return 4;
    case NNR_PT_F16: case NNR_PT_BF16: case NNR_PT_I16: return 2;
    case NNR_PT_I8: case NNR_PT_U8: case NNR_PT_BOOL: return 1;
    }
    return 1;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float f16_to_f32(uint32_t h)
{
    uint32_t sign = (h >> 15) << 31, e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7F800000u | (m << 13));
    return bits_f32(sign | ((e - 15 + 127) << 23) | (m << 13));
}

static float elem(nnr_pth_dtype d, const unsigned char *p)
{
    double x;
    uint64_t u;
    switch (d) {
    case NNR_PT_F32: return bits_f32(rd32(p));
    case NNR_PT_F16: return f16_to_f32(rd16(p));
    case NNR_PT_BF16: return bits_f32(rd16(p) << 16);
    case NNR_PT_F64:
        u = rd64(p);
        memcpy(&x, &u, sizeof x);
        return x > 3.4028234663852886e38 ? INFINITY : x < -3.4028234663852886e38 ? -INFINITY
                                                                                   : (float)x;
    case NNR_PT_I64: return (float)(int64_t)rd64(p);
    case NNR_PT_I32: return (float)(int32_t)rd32(p);
    case NNR_PT_I16: return (float)(int16_t)rd16(p);
    case NNR_PT_I8: return (float)(signed char)p[0];
    case NNR_PT_U8: return (float)p[0];
    case NNR_PT_BOOL: return p[0] ? 1.0f : 0.0f;
    }
    return 0.0f;
}

typedef struct pctx {
    zctx *z;
    const char *prefix; /* "ARCHIVE/" */
    size_t plen;
    uint64_t expanded;  /* elements made beyond the storages' sizes so far */
} pctx;

/* Checks a view against its storage; its element count in *numel. */
static int check_view(pctx *c, const nnr_pth_view *v, const zent *e, const char *nm,
                      size_t *numel)
{
    zctx *z = c->z;
    size_t es = dtype_size(v->dtype);
    if (v->storage_numel > e->size / es || v->storage_numel * es != e->size)
        return zfail(z, v->pos, "tensor '%s': its storage holds %zu bytes, not %" PRIu64
                     " elements of %zu bytes", nm, e->size, v->storage_numel, es);
    uint64_t n = 1, last = v->offset;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] == 0) n = 0;
        else if (n != 0 && v->shape[d] > UINT64_MAX / n) n = UINT64_MAX;
        else n *= v->shape[d];
    }
    for (int d = 0; d < v->ndim && n != 0; d++) {
        uint64_t s = v->shape[d] - 1;
        if (s != 0 && (v->stride[d] > (UINT64_MAX - last) / s))
            return zfail(z, v->pos, "tensor '%s': sizes and strides reach too far", nm);
        last += s * v->stride[d];
    }
    if (n != 0 && last >= v->storage_numel)
        return zfail(z, v->pos, "tensor '%s': sizes, strides and offset %" PRIu64 " reach "
                     "element %" PRIu64 " of a storage of %" PRIu64, nm, v->offset, last,
                     v->storage_numel);
    if (n > v->storage_numel) {
        uint64_t extra = n - v->storage_numel;
        if (extra > PTH_MAX_EXPAND - c->expanded || n > SIZE_MAX / sizeof(float))
            return zfail(z, v->pos, "tensor '%s': %" PRIu64 " elements from a storage of %"
                         PRIu64 " (too many)", nm, n, v->storage_numel);
        c->expanded += extra;
    }
    *numel = (size_t)n;
    return 0;
}

/* The view v gathered into floats in t. */
static int materialise(pctx *c, const nnr_pth_view *v, nnr_st_tensor *t)
{
    zctx *z = c->z;
    char nm[PTH_SNIP + 8];
    nnr_io_snip(nm, sizeof nm, v->name, v->name_len, PTH_SNIP);
    if (memchr(v->name, '\0', v->name_len) != NULL)
        return zfail(z, v->pos, "tensor '%s': its name contains a NUL character", nm);
    char dkey[16 + PTH_SNIP];
    zent *e = NULL;
    if (v->key_len + 5 < sizeof dkey) {
        memcpy(dkey, "data/", 5);
        memcpy(dkey + 5, v->key, v->key_len);
        e = zip_find(z, c->prefix, c->plen, dkey, 5 + v->key_len);
    }
    if (e == NULL) {
        char k[PTH_SNIP + 8];
        return zfail(z, v->pos, "tensor '%s': its storage '%.*sdata/%s' is not in the "
                     "archive", nm, (int)c->plen, c->prefix,
                     nnr_io_snip(k, sizeof k, v->key, v->key_len, PTH_SNIP));
    }
    size_t numel = 0;
    if (check_view(c, v, e, nm, &numel) || zip_crc(z, e)) return -1;
    t->name = malloc(v->name_len + 1);
    t->data = malloc((numel ? numel : 1) * sizeof(float));
    if (t->name == NULL || t->data == NULL) return zfail(z, v->pos, "out of memory");
    memcpy(t->name, v->name, v->name_len);
    t->name[v->name_len] = '\0';
    t->ndim = v->ndim;
    for (int d = 0; d < v->ndim; d++) t->shape[d] = (int64_t)v->shape[d];
    t->numel = numel;
    t->dtype_was_int = v->dtype != NNR_PT_F32 && v->dtype != NNR_PT_F16 &&
                       v->dtype != NNR_PT_BF16 && v->dtype != NNR_PT_F64;
    const unsigned char *base = z->b + e->data;
    size_t es = dtype_size(v->dtype);
    uint64_t idx[NNR_PTH_MAX_DIMS] = {0}, off = v->offset;
    for (size_t k = 0; k < numel; k++) {
        t->data[k] = elem(v->dtype, base + off * es);
        for (int d = v->ndim - 1; d >= 0; d--) {
            off += v->stride[d];
            if (++idx[d] < v->shape[d]) break;
            off -= v->stride[d] * v->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the file */

static int cmp_name(const void *a, const void *b)
{
    const nnr_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Fails on two tensors of the same name. */
static int unique_names(zctx *z, const nnr_st_tensor *t, size_t n)
{
    if (n < 2) return 0;
    nnr_st_tensor *s = malloc(n * sizeof *s);
    if (s == NULL) return zfail(z, 0, "out of memory");
    memcpy(s, t, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(s[i - 1].name, s[i].name) == 0) {
            char nm[PTH_SNIP + 8];
            nnr_io_snip(nm, sizeof nm, s[i].name, strlen(s[i].name), PTH_SNIP);
            free(s);
            return nnr_io_errf(z->err, z->errlen, "%s: tensor '%s' appears twice", z->path, nm);
        }
    free(s);
    return 0;
}

/* ARCHIVE/data.pkl: the one entry named "<folder>/data.pkl". */
static zent *find_pickle(zctx *z)
{
    zent *found = NULL;
    for (size_t i = 0; i < z->n; i++) {
        zent *e = &z->e[i];
        const char *slash = memchr(e->name, '/', e->name_len);
        if (slash != NULL && slash > e->name &&
            (size_t)(e->name + e->name_len - slash) == 9 && memcmp(slash, "/data.pkl", 9) == 0) {
            if (found != NULL) {
                zfail(z, 0, "the zip holds two data.pkl entries: not one saved state_dict");
                return NULL;
            }
            found = e;
        }
    }
    if (found == NULL)
        zfail(z, 0, "a zip archive without a FOLDER/data.pkl entry: not a file written by "
              "torch.save");
    return found;
}

/* byteorder "big" (PyTorch on a big-endian machine): refused. */
static int check_byteorder(zctx *z, const char *prefix, size_t plen)
{
    zent *e = zip_find(z, prefix, plen, "byteorder", 9);
    if (e == NULL || (e->size == 6 && memcmp(z->b + e->data, "little", 6) == 0)) return 0;
    return zfail(z, e->data, "the tensors are stored big-endian (archive's byteorder is not "
                 "\"little\"): save them again on a little-endian machine");
}

static int pth_convert(zctx *z, const char *prefix, size_t plen, const nnr_pth_view *v,
                       size_t n, nnr_st_file *out)
{
    if (n > (size_t)INT32_MAX) return zfail(z, 0, "too many tensors");
    nnr_st_tensor *ts = calloc(n ? n : 1, sizeof *ts);
    if (ts == NULL) return zfail(z, 0, "out of memory");
    pctx c = {z, prefix, plen, 0};
    size_t i;
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) rc = materialise(&c, &v[i], &ts[i]);
    if (rc == 0) rc = unique_names(z, ts, n);
    out->tensors = ts;
    out->ntensors = (int)i;
    if (rc != 0) nnr_st_free(out);
    return rc;
}

int nnr_pth_parse(const unsigned char *buf, size_t len, const char *path, nnr_st_file *out,
                  char *err, size_t errlen)
{
    zctx z = {buf, len, NNR_IO_NAME(path), err, errlen, NULL, 0};
    if (out == NULL) return nnr_io_errf(err, errlen, "%s: no output given", z.path);
    memset(out, 0, sizeof *out);
    if (buf == NULL || len == 0) return nnr_io_errf(err, errlen, "%s: empty file", z.path);
    int rc = -1;
    nnr_pth_view *views = NULL;
    size_t nviews = 0;
    zent *pkl;
    if (zip_read(&z) == 0 && (pkl = find_pickle(&z)) != NULL) {
        size_t plen = pkl->name_len - 8; /* "ARCHIVE/" */
        if (check_byteorder(&z, pkl->name, plen) == 0 && zip_crc(&z, pkl) == 0 &&
            nnr_pth_unpickle(buf + pkl->data, pkl->size, pkl->data, z.path, &views, &nviews,
                             err, errlen) == 0)
            rc = pth_convert(&z, pkl->name, plen, views, nviews, out);
    }
    free(views);
    free(z.e);
    return rc;
}

/* ------------------------------------------------------------ any weights */

int nnr_weights_parse(const unsigned char *buf, size_t len, const char *path,
                      nnr_st_file *out, char *err, size_t errlen)
{
    const char *pn = NNR_IO_NAME(path);
    if (out != NULL) memset(out, 0, sizeof *out);
    switch (nnr_file_sniff(buf, len)) {
    case NNR_FILE_ZIP:
        return nnr_pth_parse(buf, len, path, out, err, errlen);
    case NNR_FILE_PTH_LEGACY:
        return nnr_io_errf(err, errlen, "%s: a PyTorch file in the legacy format (PyTorch "
                           "before 1.6, or _use_new_zipfile_serialization=False), which nnc "
                           "does not read: load it and save it again with a current PyTorch "
                           "(torch.save(torch.load(OLD), NEW))", pn);
    case NNR_FILE_PICKLE:
        return nnr_io_errf(err, errlen, "%s: a bare Python pickle, not a weights file (nnc "
                           "reads .safetensors and the zip files of torch.save)", pn);
    case NNR_FILE_ONNX:
        return nnr_io_errf(err, errlen, "%s: an ONNX model, not a weights file: `nnc import "
                           "%s -o DIR` reads it", pn, pn);
    case NNR_FILE_SAFETENSORS:
    case NNR_FILE_OTHER:
        break;
    }
    return nnr_st_parse(buf, len, path, out, err, errlen);
}

int nnr_weights_read(const char *path, nnr_st_file *out, char *err, size_t errlen)
{
    size_t len;
    if (out != NULL) memset(out, 0, sizeof *out);
    unsigned char *buf = nnr_read_file(path, &len, err, errlen);
    if (buf == NULL) return -1;
    int rc = nnr_weights_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}
