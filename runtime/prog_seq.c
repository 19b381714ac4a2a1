/* prog_seq.c — the program's side of sequence models: the check of `int`
 * inputs (LANGUAGE.md §7: an integer, and below the embedding's size when
 * that is known, else an error naming the row and column, both from 1). */
#include "prog_int.h"

#include <math.h>

int prog_check_int_inputs(const nnr_model *m, const float *x, size_t rows, size_t row0,
                          const char *path, size_t (*line_of)(void *ctx, size_t row), void *ctx)
{
    for (int k = 0; k < m->ninputs; k++) {
        const nnr_io_desc *in = &m->inputs[k];
        if (!in->is_int)
            continue;
        for (size_t r = 0; r < rows; r++) {
            const float *v = x + r * m->in_size + in->offset;
            for (size_t j = 0; j < in->size; j++) {
                double f = v[j];
                int integer = isfinite(f) && f == floor(f);
                if (integer && (in->int_below <= 0 || (f >= 0 && f < (double)in->int_below)))
                    continue;
                size_t row = row0 + r + 1, col = in->offset + j + 1;
                if (line_of)
                    fprintf(stderr, "%s:%zu: error: ", path, line_of(ctx, row0 + r));
                else
                    fprintf(stderr, "%s: error: ", path);
                fprintf(stderr, "row %zu, column %zu: ", row, col);
                if (!integer)
                    fprintf(stderr, "the int input%s%s holds integers, got %.9g\n", in->name ? " " : "",
                            in->name ? in->name : "", f);
                else
                    fprintf(stderr, "index %.0f is out of range for the int input%s%s (0..%lld)\n", f,
                            in->name ? " " : "", in->name ? in->name : "", (long long)in->int_below - 1);
                return -1;
            }
        }
    }
    return 0;
}
