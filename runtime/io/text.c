/* text.c — the text(path, context) data source (LANGUAGE.md §10): a file's
 * bytes are tokens 0..255; sample i is context bytes from i·context, its
 * targets the bytes one further on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nnr.h"

int nnr_text_parse(const unsigned char *buf, size_t len, const char *path, int context,
                   nnr_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t c = context > 0 ? (size_t)context : 0;
    size_t rows = c && len > 0 ? (len - 1) / c : 0;
    if (rows == 0) {
        snprintf(err, errlen, "%s: %zu bytes make no sample of text(context = %d): it needs at "
                 "least %zu bytes", path, len, context, c + 1);
        return -1;
    }
    out->x = malloc(rows * c * sizeof *out->x);
    out->labels = malloc(rows * c * sizeof *out->labels);
    if (!out->x || !out->labels) {
        free(out->x);
        free(out->labels);
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "%s: out of memory for %zu samples", path, rows);
        return -1;
    }
    for (size_t i = 0; i < rows * c; i++) {
        out->x[i] = (float)buf[i];
        out->labels[i] = (int32_t)buf[i + 1];
    }
    out->rows = rows;
    out->ncols = c;
    return 0;
}
