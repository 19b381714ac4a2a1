/* fake_model.h — a hand-written stand-in for emitted model code, for the
 * driver tests (test_prog.c): linear 2 -> 3 ("fc.weight" [3, 2], "fc.bias"
 * [3]) plus a batch-norm-like counter ("bn.num_batches_tracked", I64 on disk)
 * that every training step increments. Forward and backward are written
 * out by hand so the tests depend on no kernel. */
#ifndef FAKE_MODEL_H
#define FAKE_MODEL_H

#include "nnr_prog.h"

#include <math.h>
#include <string.h>

#define FAKE_IN 2
#define FAKE_OUT 3
#define FAKE_STATE 10   /* 6 weights, 3 biases, 1 counter */

static const nnr_tensor_desc fake_tensors[] = {
    {"fc.weight", 2, {FAKE_OUT, FAKE_IN}, 0, 6, NNR_T_PARAM, 0, "fc"},
    {"fc.bias", 1, {FAKE_OUT}, 6, 3, NNR_T_PARAM, 0, "fc"},
    {"bn.num_batches_tracked", 0, {0}, 9, 1, NNR_T_COUNTER, 1, "bn"},
};

/* Knobs the tests turn. */
static int fake_nan_at = 0;     /* train_step call (1-based) that returns NAN; 0 never */
static int fake_calls = 0;      /* train_step calls so far */

static void fake_init(float *state, uint64_t seed)
{
    for (int i = 0; i < 9; i++)
        state[i] = 0.1f * (float)((i % 5) - 2) + 0.001f * (float)(seed % 7);
    state[9] = 0;
}

static void fake_prepare(const float *state, float *infer)
{
    memcpy(infer, state, 9 * sizeof(float));
}

static size_t fake_arena_size(int n)
{
    return (size_t)n * FAKE_OUT;
}

/* y = x·Wᵀ + b, computed in the arena then copied (so a too-small arena shows). */
static void fake_linear(const float *infer, int n, const float *x, float *y, float *arena)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < FAKE_OUT; o++) {
            float s = infer[6 + o];
            for (int j = 0; j < FAKE_IN; j++)
                s += x[i * FAKE_IN + j] * infer[o * FAKE_IN + j];
            arena[i * FAKE_OUT + o] = s;
        }
    memcpy(y, arena, (size_t)n * FAKE_OUT * sizeof(float));
}

static void fake_forward(const nnr_ctx *ctx, const float *x, float *y)
{
    fake_linear(ctx->params, ctx->n, x, y, ctx->arena);
}

static size_t fake_train_arena_size(int n)
{
    return (size_t)n * FAKE_OUT * 2;
}

/* Forward, loss (cross_entropy on labels, else mse on targets) and gradients. */
static double fake_train_step(const nnr_ctx *ctx, const float *x, const int32_t *labels,
                              const float *targets, nnr_loss fake_loss)
{
    int n = ctx->n;
    float *state = ctx->state, *grad = ctx->grad, *arena = ctx->arena;
    fake_calls++;
    float *y = arena, *dy = arena + (size_t)n * FAKE_OUT;
    fake_linear(state, n, x, y, dy);
    double loss = 0;
    for (int i = 0; i < n; i++) {
        float *yi = y + i * FAKE_OUT, *di = dy + i * FAKE_OUT;
        if (fake_loss == NNR_LOSS_CROSS_ENTROPY) {
            float mx = yi[0];
            for (int o = 1; o < FAKE_OUT; o++)
                mx = yi[o] > mx ? yi[o] : mx;
            double z = 0;
            for (int o = 0; o < FAKE_OUT; o++)
                z += exp((double)(yi[o] - mx));
            for (int o = 0; o < FAKE_OUT; o++) {
                double p = exp((double)(yi[o] - mx)) / z;
                di[o] = (float)((p - (o == labels[i])) / n);
            }
            loss += -((double)(yi[labels[i]] - mx) - log(z));
        } else { /* mse */
            for (int o = 0; o < FAKE_OUT; o++) {
                double d = (double)yi[o] - targets[i * FAKE_OUT + o];
                loss += d * d;
                di[o] = (float)(2 * d / (n * FAKE_OUT));
            }
        }
    }
    loss /= fake_loss == NNR_LOSS_CROSS_ENTROPY ? n : n * FAKE_OUT;
    memset(grad, 0, FAKE_STATE * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int o = 0; o < FAKE_OUT; o++) {
            for (int j = 0; j < FAKE_IN; j++)
                grad[o * FAKE_IN + j] += dy[i * FAKE_OUT + o] * x[i * FAKE_IN + j];
            grad[6 + o] += dy[i * FAKE_OUT + o];
        }
    state[9] += 1;
    if (fake_nan_at && fake_calls == fake_nan_at)
        return NAN;
    return loss;
}

/* The model, with a train block whose data the tests fill in. */
static nnr_model fake_model(void)
{
    nnr_model m;
    memset(&m, 0, sizeof m);
    m.name = "fake";
    m.in_ndim = 1;
    m.in_shape[0] = FAKE_IN;
    m.in_size = FAKE_IN;
    m.out_ndim = 1;
    m.out_shape[0] = FAKE_OUT;
    m.out_size = FAKE_OUT;
    m.ntensors = 3;
    m.tensors = fake_tensors;
    m.state_size = FAKE_STATE;
    m.builtin_state = NULL;
    m.init = fake_init;
    m.infer_size = 9;
    m.prepare = fake_prepare;
    m.arena_size = fake_arena_size;
    m.forward = fake_forward;
    m.train_arena_size = fake_train_arena_size;
    m.train_step = fake_train_step;
    m.cfg.present = 1;
    m.cfg.loss = NNR_LOSS_CROSS_ENTROPY;
    m.cfg.optim.kind = NNR_OPT_SGD;
    m.cfg.optim.lr = 0.5f;
    m.cfg.epochs = 1;
    m.cfg.batch = 4;
    m.cfg.shuffle = 1;
    m.cfg.seed = 0;
    m.cfg.strict = 1;
    return m;
}

#endif
