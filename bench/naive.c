/* naive.c — the "naive C" baseline of W1/W2/W4: the straightforward loops a
 * C programmer writes first (PyTorch layouts, no blocking, no intrinsics),
 * compiled with -O3 -march=native like nnc's programs.
 *
 *   naive w1 WEIGHTS.bin X.bin BATCH SECONDS [REF.bin]   MLP 784-128-64-10 + softmax
 *   naive w4 WEIGHTS.bin X.bin BATCH SECONDS [REF.bin]   the small CNN on 1x28x28
 *
 * WEIGHTS.bin: the parameters in state_dict order as raw f32 (written by
 * torch_bench.py gen). Output: `maxdiff=...` (with REF.bin), then
 * `median_us=<per call> batch=<N>`. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

/* y[n,out] = x[n,in] · w[out,in]ᵀ + b, then optional relu. */
static void linear(int n, int in, int out, const float *x, const float *w, const float *b,
                   float *y, int relu)
{
    for (int s = 0; s < n; s++)
        for (int o = 0; o < out; o++) {
            float acc = b[o];
            for (int i = 0; i < in; i++)
                acc += x[(size_t)s * in + i] * w[(size_t)o * in + i];
            y[(size_t)s * out + o] = relu && acc < 0 ? 0 : acc;
        }
}

static void softmax_rows(int n, int k, float *y)
{
    for (int s = 0; s < n; s++) {
        float *r = y + (size_t)s * k, m = -FLT_MAX, sum = 0;
        for (int i = 0; i < k; i++)
            m = r[i] > m ? r[i] : m;
        for (int i = 0; i < k; i++)
            sum += r[i] = expf(r[i] - m);
        for (int i = 0; i < k; i++)
            r[i] /= sum;
    }
}

/* Direct convolution, stride 1, zero padding p, then relu. */
static void conv_relu(int c, int h, int w, int oc, int k, int p, const float *x,
                      const float *wt, const float *b, float *y)
{
    for (int o = 0; o < oc; o++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                float acc = b[o];
                for (int ci = 0; ci < c; ci++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            int ii = i + ki - p, jj = j + kj - p;
                            if (ii >= 0 && ii < h && jj >= 0 && jj < w)
                                acc += x[((size_t)ci * h + ii) * w + jj] *
                                       wt[(((size_t)o * c + ci) * k + ki) * k + kj];
                        }
                y[((size_t)o * h + i) * w + j] = acc < 0 ? 0 : acc;
            }
}

static void maxpool2(int c, int h, int w, const float *x, float *y)
{
    int oh = h / 2, ow = w / 2;
    for (int ci = 0; ci < c; ci++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                const float *r = x + ((size_t)ci * h + 2 * i) * w + 2 * j;
                float m = r[0];
                m = r[1] > m ? r[1] : m;
                m = r[w] > m ? r[w] : m;
                m = r[w + 1] > m ? r[w + 1] : m;
                y[((size_t)ci * oh + i) * ow + j] = m;
            }
}

typedef struct ctx {
    int kind, n;
    const float *p, *x;
    float *y, *t1, *t2, *t3, *t4;
} ctx;

static void run_w1(void *v)
{
    ctx *c = v;
    const float *w0 = c->p, *b0 = w0 + 128 * 784, *w2 = b0 + 128, *b2 = w2 + 64 * 128,
                *w4 = b2 + 64, *b4 = w4 + 10 * 64;
    linear(c->n, 784, 128, c->x, w0, b0, c->t1, 1);
    linear(c->n, 128, 64, c->t1, w2, b2, c->t2, 1);
    linear(c->n, 64, 10, c->t2, w4, b4, c->y, 0);
    softmax_rows(c->n, 10, c->y);
}

static void run_w4(void *v)
{
    ctx *c = v;
    const float *w0 = c->p, *b0 = w0 + 8 * 9, *w3 = b0 + 8, *b3 = w3 + 16 * 8 * 9,
                *w7 = b3 + 16, *b7 = w7 + 10 * 784;
    for (int s = 0; s < c->n; s++) {
        conv_relu(1, 28, 28, 8, 3, 1, c->x + (size_t)s * 784, w0, b0, c->t1);
        maxpool2(8, 28, 28, c->t1, c->t2);
        conv_relu(8, 14, 14, 16, 3, 1, c->t2, w3, b3, c->t3);
        maxpool2(16, 14, 14, c->t3, c->t4);
        linear(1, 784, 10, c->t4, w7, b7, c->y + (size_t)s * 10, 0);
    }
}

int main(int argc, char **argv)
{
    if (argc < 6 || (strcmp(argv[1], "w1") && strcmp(argv[1], "w4"))) {
        fprintf(stderr, "usage: %s w1|w4 WEIGHTS.bin X.bin BATCH SECONDS [REF.bin]\n", argv[0]);
        return 2;
    }
    ctx c = {0};
    c.kind = argv[1][1] == '1' ? 1 : 4;
    c.n = atoi(argv[4]);
    double seconds = atof(argv[5]);
    size_t np = 0, nx = 0, want_p = c.kind == 1 ? 109386 : 9098;
    c.p = bench_read_f32(argv[2], &np);
    c.x = bench_read_f32(argv[3], &nx);
    if (!c.p || np != want_p || !c.x || nx < (size_t)c.n * 784) {
        fprintf(stderr, "naive: bad weights (%zu floats, want %zu) or input (%zu floats)\n", np,
                want_p, nx);
        return 1;
    }
    size_t n = (size_t)c.n;
    c.y = calloc(n * 10, sizeof(float));
    c.t1 = calloc(n * 128 + 8 * 784, sizeof(float));
    c.t2 = calloc(n * 64 + 8 * 196, sizeof(float));
    c.t3 = calloc(16 * 196, sizeof(float));
    c.t4 = calloc(784, sizeof(float));
    void (*fn)(void *) = c.kind == 1 ? run_w1 : run_w4;
    fn(&c);
    if (argc > 6) {
        size_t nr = 0;
        float *ref = bench_read_f32(argv[6], &nr);
        double md = 0;
        for (size_t i = 0; ref && i < n * 10 && i < nr; i++)
            md = fmax(md, fabs((double)c.y[i] - ref[i]));
        printf("maxdiff=%.3g\n", ref ? md : -1.0);
        free(ref);
    }
    printf("median_us=%.3f batch=%d\n", bench_median(fn, &c, seconds, 5) * 1e6, c.n);
    return 0;
}
