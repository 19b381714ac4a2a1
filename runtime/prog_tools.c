/* prog_tools.c — the commands that test the compiled model rather than use
 * it: bench (median time of a forward pass or a training step) and
 * gradcheck (compiled gradients against central finite differences). */
#define _POSIX_C_SOURCE 200809L

#include "prog_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ bench */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed unit of work: a forward pass, or a training step and its update. */
static void bench_call(const nnr_model *m, int train, trainer *tr, const float *infer,
                       int batch, const float *x, float *y, const int32_t *lab,
                       const float *tgt, float *arena, nnr_rng *drop)
{
    if (train) {
        m->train_step(&(nnr_ctx){.n = batch, .state = tr->state, .grad = tr->grad, .arena = arena, .rng = drop},
                      x, lab, tgt, m->cfg.loss);
        prog_trainer_update(tr);
    } else {
        m->forward(&(nnr_ctx){.n = batch, .params = infer, .arena = arena}, x, y);
    }
}

/* The clock of one sample: wall time, or with NNC_BENCH_CLOCK=cpu the
 * process's CPU time, which a shared machine's time slicing leaves out
 * (bench/run.sh's BENCH_CLOCK). The run length stays wall time. */
static double bench_sample_clock(int cpu)
{
    if (!cpu)
        return prog_now_s();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int prog_cmd_bench(const nnr_model *m, const prog_opts *o)
{
    const char *clk = getenv("NNC_BENCH_CLOCK");
    const int cpu = clk && !strcmp(clk, "cpu");
    int train = o->val[OPT_TRAIN] != NULL;
    if (train && (!m->train_step || !m->cfg.present)) {
        return prog_no_train_block(m);
    }
    int rc = EXIT_INPUT;
    int batch = o->val[OPT_BATCH] ? o->batch
              : (m->cfg.present && m->cfg.batch > 0 ? m->cfg.batch : 32);
    double seconds = o->val[OPT_SECONDS] ? o->seconds : 1.0;
    size_t k = m->out_size;
    trainer tr;
    memset(&tr, 0, sizeof tr);
    float *infer = NULL, *x = NULL, *y = NULL, *arena = NULL, *tgt = NULL;
    int32_t *lab = NULL;
    double *times = NULL;
    size_t ntimes = 0, cap = 0;

    if (prog_trainer_init(&tr, m, m->cfg.freeze, m->cfg.nfreeze))
        goto done;
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], tr.state))
        goto done;
    infer = prog_falloc(m->infer_size);
    x = prog_falloc((size_t)batch * m->in_size);
    y = prog_falloc((size_t)batch * prog_ysize(m));
    tgt = prog_falloc((size_t)batch * k);
    size_t seq = prog_seq_len(m, m->cfg.loss);   /* T labels per sample of a sequence output */
    lab = calloc((size_t)batch * (seq ? seq : 1), sizeof *lab);
    size_t asz = train ? (m->train_arena_size ? m->train_arena_size(batch) : 0)
                       : (m->arena_size ? m->arena_size(batch) : 0);
    arena = prog_falloc(asz);
    if (!infer || !x || !y || !tgt || !lab || !arena) {
        prog_oom();
        goto done;
    }
    nnr_rng rng, drop;
    nnr_rng_seed(&rng, o->val[OPT_SEED] ? o->seed : 1);
    nnr_rng_seed(&drop, (o->val[OPT_SEED] ? o->seed : 1) ^ PROG_DROPOUT_SALT);
    for (size_t i = 0; i < (size_t)batch * m->in_size; i++) {
        double u = nnr_rng_uniform(&rng);
        x[i] = (float)(2.0 * u - 1.0);
        for (int j = 0; j < m->ninputs; j++) {    /* an int input: indices in its range */
            const nnr_io_desc *in = &m->inputs[j];
            size_t c = i % m->in_size;
            if (in->is_int && c >= in->offset && c < in->offset + in->size)
                x[i] = (float)floor(u * (double)(in->int_below > 0 ? in->int_below : 4));
        }
    }
    for (size_t i = 0; i < (size_t)batch * k; i++)
        tgt[i] = (float)nnr_rng_uniform(&rng);
    for (int i = 0; i < batch; i++)
        lab[i] = k ? (int32_t)nnr_rng_below(&rng, k) : 0;
    for (size_t i = 0; seq && i < (size_t)batch * seq; i++)   /* a sequence output: T labels each */
        lab[i] = (int32_t)nnr_rng_below(&rng, (uint64_t)m->out_shape[1]);
    int by_label = m->cfg.loss == NNR_LOSS_CROSS_ENTROPY || m->cfg.loss == NNR_LOSS_NLL;
    prog_prepare(m, tr.state, infer);

    /* Warm up for a tenth of the time (at least 3 calls). A sample times
     * `reps` calls, enough for ~20 us, so that the clock's own cost does not
     * dominate tiny models; per-call times are sample / reps. */
    double start = prog_now_s(), warm = seconds * 0.1;
    long calls = 0, reps = 1;
    while (calls < 3 || prog_now_s() - start < warm) {
        bench_call(m, train, &tr, infer, batch, x, y, by_label ? lab : NULL,
                   by_label ? NULL : tgt, arena, &drop);
        calls++;
    }
    double per_call = (prog_now_s() - start) / (double)calls;
    if (per_call < 20e-6)
        reps = (long)(20e-6 / (per_call > 1e-9 ? per_call : 1e-9)) + 1;
    double t_end = prog_now_s() + seconds;
    for (;;) {
        double c0 = bench_sample_clock(cpu);
        for (long r = 0; r < reps; r++)
            bench_call(m, train, &tr, infer, batch, x, y, by_label ? lab : NULL,
                       by_label ? NULL : tgt, arena, &drop);
        double t1 = prog_now_s(), c1 = bench_sample_clock(cpu);
        if (ntimes == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            double *nt = realloc(times, ncap * sizeof *nt);
            if (!nt) {
                prog_oom();
                goto done;
            }
            times = nt;
            cap = ncap;
        }
        times[ntimes++] = (c1 - c0) / (double)reps;
        if ((t1 >= t_end && ntimes >= 5) || ntimes >= 1000000)
            break;
    }
    qsort(times, ntimes, sizeof *times, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < ntimes; i++)
        sum += times[i];
    double med = ntimes % 2 ? times[ntimes / 2]
                            : 0.5 * (times[ntimes / 2 - 1] + times[ntimes / 2]);
    printf("model %s: %s, batch %d, %zu samples of %ld call%s\n", m->name ? m->name : "?",
           train ? "training step" : "forward", batch, ntimes, reps, reps == 1 ? "" : "s");
    printf("min_us=%.3f mean_us=%.3f max_us=%.3f\n", times[0] * 1e6, sum / (double)ntimes * 1e6,
           times[ntimes - 1] * 1e6);
    printf("samples_per_s=%.1f\n", med > 0 ? (double)batch / med : 0.0);
    printf("median_us=%.3f batch=%d\n", med * 1e6, batch);
    fflush(stdout);
    rc = EXIT_OK;
done:
    prog_trainer_free(&tr);
    free(infer);
    free(x);
    free(y);
    free(tgt);
    free(lab);
    free(arena);
    free(times);
    return rc;
}

/* ------------------------------------------------------------ gradcheck */

/* Loss of one training step from a fixed state and a fixed dropout stream:
 * a pure function of the parameters, as finite differences need. */
static double gc_loss(const nnr_model *m, const float *base, float *state, float *grad, int n,
                      const float *x, const int32_t *lab, const float *tgt, float *arena,
                      uint64_t seed)
{
    nnr_rng drop;
    nnr_rng_seed(&drop, seed ^ PROG_DROPOUT_SALT);
    memcpy(state, base, m->state_size * sizeof(float));
    const nnr_ctx ctx = {.n = n, .state = state, .grad = grad, .arena = arena, .rng = &drop};
    return m->train_step(&ctx, x, lab, tgt, m->cfg.loss);
}

/* Checks every trainable tensor (up to 24 evenly spaced elements each):
 * |numeric - analytic| <= 1e-3 + 2e-2 |analytic|, with central differences
 * of step 1e-2 in float... computed on the double loss. */
int prog_cmd_gradcheck(const nnr_model *m, const prog_opts *o)
{
    if (!m->train_step || !m->cfg.present) {
        return prog_no_train_block(m);
    }
    int n = o->val[OPT_BATCH] ? o->batch : 4;
    uint64_t seed = o->val[OPT_SEED] ? o->seed : 7;
    size_t k = m->out_size;
    float *base = prog_falloc(m->state_size), *state = prog_falloc(m->state_size);
    float *grad = prog_falloc(m->state_size), *g2 = prog_falloc(m->state_size);
    float *x = prog_falloc((size_t)n * m->in_size), *tgt = prog_falloc((size_t)n * k);
    size_t seq = prog_seq_len(m, m->cfg.loss);   /* T labels per sample of a sequence output */
    int32_t *lab = calloc((size_t)n * (seq ? seq : 1), sizeof *lab);
    float *arena = prog_falloc(m->train_arena_size(n));
    if (!base || !state || !grad || !g2 || !x || !tgt || !lab || !arena) {
        prog_oom();
        return EXIT_INPUT;
    }
    prog_fresh_state(m, base, seed);
    nnr_rng rng;
    nnr_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)n * m->in_size; i++) {
        double u = nnr_rng_uniform(&rng);
        x[i] = (float)(2.0 * u - 1.0);
        /* an int input gets indices in its range (4 when none is known) */
        for (int k = 0; k < m->ninputs; k++) {
            const nnr_io_desc *in = &m->inputs[k];
            size_t c = i % m->in_size;
            if (in->is_int && c >= in->offset && c < in->offset + in->size)
                x[i] = (float)floor(u * (double)(in->int_below > 0 ? in->int_below : 4));
        }
    }
    for (size_t i = 0; i < (size_t)n * k; i++)
        tgt[i] = (float)(0.05 + 0.9 * nnr_rng_uniform(&rng));
    for (int i = 0; i < n; i++)
        lab[i] = k ? (int32_t)nnr_rng_below(&rng, k) : 0;
    for (size_t i = 0; seq && i < (size_t)n * seq; i++)
        lab[i] = (int32_t)nnr_rng_below(&rng, (uint64_t)m->out_shape[1]);
    int by_label = m->cfg.loss == NNR_LOSS_CROSS_ENTROPY || m->cfg.loss == NNR_LOSS_NLL;
    const int32_t *L = by_label ? lab : NULL;
    const float *T = by_label ? NULL : tgt;
    memset(grad, 0, m->state_size * sizeof(float));
    double loss = gc_loss(m, base, state, grad, n, x, L, T, arena, seed);
    printf("loss=%.9g batch=%d\n", loss, n);
    int passed = 0, failed = 0;
    for (int t = 0; t < m->ntensors; t++) {
        const nnr_tensor_desc *d = &m->tensors[t];
        if (d->kind != NNR_T_PARAM)
            continue;
        size_t step = d->numel > 24 ? d->numel / 24 : 1;
        double worst = 0;
        int bad = 0, checked = 0;
        for (size_t j = 0; j < d->numel; j += step) {
            size_t at = d->offset + j;
            float p0 = base[at];
            double h = 1e-2;
            base[at] = (float)(p0 + h);
            double lp = gc_loss(m, base, state, g2, n, x, L, T, arena, seed);
            base[at] = (float)(p0 - h);
            double lm = gc_loss(m, base, state, g2, n, x, L, T, arena, seed);
            double hh = (double)(float)(p0 + h) - (double)(float)(p0 - h);
            base[at] = p0;
            double num = (lp - lm) / hh, ana = grad[at];
            double err = fabs(num - ana), tol = 1e-3 + 2e-2 * fabs(ana);
            if (err / tol > worst)
                worst = err / tol;
            if (err > tol) {
                if (bad < 3)
                    printf("  %s[%zu]: analytic %.6g, numeric %.6g\n", d->name, j, ana, num);
                bad++;
            }
            checked++;
        }
        printf("%-28s %s  checked=%d  worst=%.3f of tolerance\n", d->name, bad ? "FAIL" : "ok", checked,
               worst);
        if (bad)
            failed++;
        else
            passed++;
    }
    printf("gradcheck: %d passed, %d failed\n", passed, failed);
    free(base); free(state); free(grad); free(g2); free(x); free(tgt); free(lab); free(arena);
    return failed ? EXIT_INPUT : EXIT_OK;
}

