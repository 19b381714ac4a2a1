/* idx.c — the IDX format of MNIST: u8 images (magic 0x00000803) and u8
 * labels (magic 0x00000801), big-endian headers. */
#include "../nnr.h"
#include "io_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int nnr_idx_parse(const unsigned char *img, size_t img_len, const char *img_path,
                  const unsigned char *lab, size_t lab_len, const char *lab_path,
                  float scale, nnr_dataset *out, char *err, size_t errlen)
{
    const char *ip = NNR_IO_NAME(img_path);
    const char *lp = NNR_IO_NAME(lab_path);
    if (out == NULL) return nnr_io_errf(err, errlen, "%s: no output given", ip);
    memset(out, 0, sizeof *out);

    /* Images. */
    if (img == NULL || img_len == 0) return nnr_io_errf(err, errlen, "%s: empty file", ip);
    if (img_len < 16)
        return nnr_io_errf(err, errlen, "%s: byte offset %zu: file too short for an IDX image "
                           "header (%zu bytes, need 16)", ip, img_len, img_len);
    uint32_t magic = be32(img);
    if (magic != IDX_IMAGES)
        return nnr_io_errf(err, errlen, "%s: byte offset 0: bad magic number 0x%08" PRIX32
                           " (expected 0x%08X for images)", ip, magic, IDX_IMAGES);
    uint32_t count = be32(img + 4), nrows = be32(img + 8), ncols = be32(img + 12);
    uint64_t pix = (uint64_t)nrows * ncols; /* < 2^64 */
    /* count * pix may overflow 64 bits: compare by division instead. */
    uint64_t avail = (uint64_t)(img_len - 16);
    if (pix == 0)
        return nnr_io_errf(err, errlen, "%s: byte offset 8: images of %" PRIu32 "x%" PRIu32
                           " hold no pixels", ip, nrows, ncols);
    if (count == 0)
        return nnr_io_errf(err, errlen, "%s: byte offset 4: no samples (the image count is 0)",
                           ip);
    if (avail % pix != 0 || avail / pix != count) {
        /* Where the pixels stop matching the header: the end of a short
         * file, or the first byte past the announced images. */
        uint64_t whole = avail / pix;
        size_t at = whole < count ? img_len : (size_t)(16 + (uint64_t)count * pix);
        return nnr_io_errf(err, errlen, "%s: byte offset %zu: the header announces %" PRIu32
                           " images of %" PRIu32 "x%" PRIu32 " (%.0f bytes of pixels) but the "
                           "file holds %zu bytes after its 16-byte header", ip, at, count,
                           nrows, ncols, (double)count * (double)pix, img_len - 16);
    }
    size_t npix = (size_t)img_len - 16; /* == count * pix, fits size_t */
    size_t fbytes;
    if (nnr_io_mul(npix, sizeof(float), &fbytes) != 0)
        return nnr_io_errf(err, errlen, "%s: out of memory", ip);

    /* Labels. */
    if (lab != NULL) {
        if (lab_len == 0) return nnr_io_errf(err, errlen, "%s: empty file", lp);
        if (lab_len < 8)
            return nnr_io_errf(err, errlen, "%s: byte offset %zu: file too short for an IDX "
                               "label header (%zu bytes, need 8)", lp, lab_len, lab_len);
        uint32_t lm = be32(lab);
        if (lm != IDX_LABELS)
            return nnr_io_errf(err, errlen, "%s: byte offset 0: bad magic number 0x%08" PRIX32
                               " (expected 0x%08X for labels)", lp, lm, IDX_LABELS);
        uint32_t lc = be32(lab + 4);
        if ((uint64_t)(lab_len - 8) != lc)
            return nnr_io_errf(err, errlen, "%s: byte offset %zu: the header announces %" PRIu32
                               " labels but the file holds %zu bytes after its 8-byte header",
                               lp, (uint64_t)(lab_len - 8) < lc ? lab_len : (size_t)8 + lc, lc,
                               lab_len - 8);
        if (lc != count)
            return nnr_io_errf(err, errlen, "%s: byte offset 4: %" PRIu32 " labels, but %s has %"
                               PRIu32 " images", lp, lc, ip, count);
    }

    float *x = malloc(fbytes);
    int32_t *labels = NULL;
    if (x == NULL) return nnr_io_errf(err, errlen, "%s: out of memory", ip);
    if (lab != NULL) {
        labels = malloc((size_t)count * sizeof *labels);
        if (labels == NULL) {
            free(x);
            return nnr_io_errf(err, errlen, "%s: out of memory", lp);
        }
        for (size_t i = 0; i < count; i++) labels[i] = lab[8 + i];
    }
    const unsigned char *p = img + 16;
    for (size_t i = 0; i < npix; i++) x[i] = (float)p[i] * scale;
    out->rows = count;
    out->ncols = (size_t)pix;
    out->x = x;
    out->labels = labels;
    return 0;
}

int nnr_idx_read(const char *images, const char *labels, float scale, nnr_dataset *out,
                 char *err, size_t errlen)
{
    if (out != NULL) memset(out, 0, sizeof *out);
    size_t il = 0, ll = 0;
    unsigned char *ib = nnr_read_file(images, &il, err, errlen), *lb = NULL;
    if (ib == NULL) return -1;
    if (labels != NULL) {
        lb = nnr_read_file(labels, &ll, err, errlen);
        if (lb == NULL) {
            free(ib);
            return -1;
        }
    }
    int rc = nnr_idx_parse(ib, il, images, lb, ll, labels, scale, out, err, errlen);
    free(ib);
    free(lb);
    return rc;
}
