/* prog_seq.c — the program's side of sequence models: the check of `int`
 * inputs (LANGUAGE.md §7: an integer, and below the embedding's size when
 * that is known, else an error naming the row and column, both from 1). */
#include "prog_int.h"

#include <math.h>
#include <stdlib.h>

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

size_t prog_seq_len(const nnr_model *m, nnr_loss loss)
{
    int classify = loss == NNR_LOSS_CROSS_ENTROPY || loss == NNR_LOSS_NLL;
    return classify && m->out_ndim == 2 ? (size_t)m->out_shape[0] : 0;
}

int prog_seq_labels(const nnr_model *m, nnr_dataset *d, const char *path,
                    size_t (*line_of)(void *ctx, size_t row), void *ctx)
{
    size_t t = (size_t)m->out_shape[0], c = (size_t)m->out_shape[1];
    size_t nl = d->rows * t;
    int32_t *lab = malloc((nl ? nl : 1) * sizeof *lab);
    if (!lab) {
        prog_oom();
        return -1;
    }
    for (size_t r = 0; r < d->rows; r++)
        for (size_t j = 0; j < t; j++) {
            double v = d->y[r * t + j];
            if (v == floor(v) && ((v >= 0 && v < (double)c) || v == NNR_IGNORE_INDEX)) {
                lab[r * t + j] = (int32_t)v;
                continue;
            }
            if (line_of)
                fprintf(stderr, "%s:%zu: error: ", path, line_of(ctx, r));
            else
                fprintf(stderr, "%s: error: ", path);
            fprintf(stderr, "row %zu, column %zu: the target of position %zu is a class index in 0..%zu "
                    "or -100 (ignored), got %.9g\n", r + 1, d->ncols + j + 1, j + 1, c - 1, v);
            free(lab);
            return -1;
        }
    free(d->y);
    d->y = NULL;
    d->ntargets = 0;
    free(d->labels);
    d->labels = lab;
    return 0;
}

double prog_seq_eval(const nnr_model *m, nnr_loss loss, const float *y, int n,
                     const int32_t *labels, double eps, float *soft, size_t *counted,
                     size_t *correct)
{
    size_t rows = (size_t)n * (size_t)m->out_shape[0];
    int c = (int)m->out_shape[1];
    *correct = nnr_seq_correct(rows, c, y, labels, NNR_IGNORE_INDEX, counted);
    if (!*counted)
        return 0.0;
    if (soft) {     /* label_smoothing: the ignored positions' rows are not read */
        nnr_smooth_labels((int)rows, c, labels, eps, soft);
        return nnr_seq_loss_soft_f32(rows, c, y, labels, soft, NNR_IGNORE_INDEX, NULL);
    }
    return nnr_seq_loss_f32(loss, rows, c, y, labels, NNR_IGNORE_INDEX, NULL);
}

int prog_text_check(const nnr_model *m, nnr_loss loss, prog_data *p)
{
    size_t t = prog_seq_len(m, loss);
    if (!t || t != p->d.ncols) {
        fprintf(stderr, "%s: error: text() data trains a sequence: the model's output must be [%zu, V] "
                "with the loss cross_entropy or nll\n", p->path, p->d.ncols);
        return -1;
    }
    int64_t v = m->out_shape[1];
    for (size_t i = 0; i < p->d.rows * t; i++)
        if (p->d.labels[i] >= v) {
            fprintf(stderr, "%s: byte %zu: error: byte %d is not a class of the model's output [%zu, %lld]\n",
                    p->path, i + 1, (int)p->d.labels[i], t, (long long)v);
            return -1;
        }
    return 0;
}
