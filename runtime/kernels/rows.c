/* rows.c — moving a model's several inputs and outputs between the row
 * layout of a sample (values of every input side by side) and one
 * contiguous buffer per value; summing gradient shares. */
#include <string.h>

#include "../nnr.h"

void nnr_rows_take(int n, const float *src, size_t row, size_t off, size_t len, float *dst)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * len, src + (size_t)i * row + off, len * sizeof(float));
}

void nnr_rows_put(int n, const float *src, size_t len, float *dst, size_t row, size_t off)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * row + off, src + (size_t)i * len, len * sizeof(float));
}

void nnr_acc_f32(size_t len, const float *x, float *y)
{
    for (size_t i = 0; i < len; i++)
        y[i] += x[i];
}
