/* Unit tests of the training-loop kernels against PyTorch's own numbers
 * (tests/fixtures/kernels/, written by tests/pytorch/make_fixtures.py):
 * every schedule of kernels/sched.c (parsed by nnr_parse_schedule, the
 * train block's syntax) gives torch.optim.lr_scheduler's learning rate and
 * momentum / beta1 bit for bit after construction and every step;
 * nnr_clip_grad_norm is clip_grad_norm_; nnr_smooth_labels with
 * nnr_loss_f32 is F.cross_entropy(label_smoothing = eps) and its gradient.
 * Plus the parser's refusals and the limit a onecycle puts on training. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnr_prog.h"

#define MAXV 4096

/* The '|'-separated fields of each non-comment line of a fixture file;
 * returns the number of lines, fields[line][field] pointing into *buf. */
static int read_fixture(const char *name, char **buf, char *fields[][8])
{
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/kernels/%s", NNC_TEST_DIR, name);
    size_t len = 0;
    char err[256];
    *buf = (char *)nnr_read_file(path, &len, err, sizeof err);
    cr_assert(*buf != NULL, "%s", err);
    int n = 0;
    for (char *line = strtok(*buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        int f = 0;
        fields[n][f++] = line;
        for (char *p = line; *p; p++)
            if (*p == '|' && f < 8) {
                *p = '\0';
                fields[n][f++] = p + 1;
            }
        n++;
    }
    return n;
}

/* Space-separated numbers (decimal or hex floats) into v; their count. */
static int numbers(const char *s, double *v)
{
    int n = 0;
    char *end;
    for (;;) {
        double x = strtod(s, &end);
        if (end == s)
            return n;
        cr_assert(n < MAXV);
        v[n++] = x;
        s = end;
    }
}

Test(sched, every_schedule_gives_pytorchs_rates_to_the_bit)
{
    char *buf, *f[64][8];
    int n = read_fixture("sched.txt", &buf, f);
    cr_assert_geq(n, 10);
    static double lr[MAXV], mom[MAXV];
    for (int c = 0; c < n; c++) {
        char err[256] = "";
        nnr_sched s;
        char *text = f[c][0];
        text[strlen(text) - 1] = '\0';     /* the blank before '|' */
        cr_assert_eq(nnr_parse_schedule(text, &s, err, sizeof err), 0, "%s: %s", text, err);
        const int sgd = strstr(f[c][1], "sgd") != NULL;
        const long steps = strtol(f[c][2], NULL, 10);
        cr_assert_eq(numbers(f[c][3], lr), steps + 1);
        cr_assert_eq(numbers(f[c][4], mom), steps + 1);
        nnr_optim o = {0};
        o.kind = sgd ? NNR_OPT_SGD : NNR_OPT_ADAM;
        o.lr = sgd ? 0.1 : 0.01;
        o.momentum = sgd ? 0.9 : 0;
        o.beta1 = 0.9;
        o.beta2 = 0.999;
        nnr_sched_state st;
        nnr_sched_start(&s, &st, &o);
        for (long t = 0; t <= steps; t++) {
            if (t > 0)
                cr_assert_eq(nnr_sched_step(&s, &st, &o), 0, "%s: step %ld refused", text, t);
            cr_expect_eq(o.lr, lr[t], "%s, after %ld steps: lr %a, PyTorch %a", text, t, o.lr,
                         lr[t]);
            double m = sgd ? o.momentum : o.beta1;
            cr_expect_eq(m, mom[t], "%s, after %ld steps: momentum %a, PyTorch %a", text, t, m,
                         mom[t]);
        }
        long lim = nnr_sched_limit(&s);
        if (lim >= 0) {   /* a onecycle last: PyTorch's ValueError one step later */
            cr_expect_eq(lim, steps, "%s", text);
            double before = o.lr;
            cr_expect_eq(nnr_sched_step(&s, &st, &o), -1, "%s", text);
            cr_expect_eq(o.lr, before);
        }
    }
    free(buf);
}

Test(sched, clip_grad_norm_is_pytorchs)
{
    char *buf, *f[16][8];
    int n = read_fixture("clip.txt", &buf, f);
    cr_assert_eq(n, 3);
    static double sz[16], g[MAXV], want[MAXV], tot[1];
    static float gf[MAXV];
    for (int c = 0; c < n; c++) {
        double max_norm = strtod(f[c][0], NULL);
        int nt = numbers(f[c][1], sz), total = numbers(f[c][2], g);
        cr_assert_eq(numbers(f[c][3], tot), 1);
        cr_assert_eq(numbers(f[c][4], want), total);
        float *blocks[16];
        size_t lens[16], at = 0;
        for (int i = 0; i < total; i++)
            gf[i] = (float)g[i];
        for (int i = 0; i < nt; i++) {
            blocks[i] = gf + at;
            lens[i] = (size_t)sz[i];
            at += lens[i];
        }
        float got = nnr_clip_grad_norm(blocks, lens, nt, max_norm);
        cr_expect(fabs(got - tot[0]) <= 1e-6 * tot[0], "max_norm %g: total %.9g, PyTorch %.9g",
                  max_norm, (double)got, tot[0]);
        for (int i = 0; i < total; i++)
            cr_expect(fabs(gf[i] - want[i]) <= 1e-7 + 1e-6 * fabs(want[i]),
                      "max_norm %g: grad %d is %.9g, PyTorch %.9g", max_norm, i, (double)gf[i],
                      want[i]);
        if (max_norm >= 100.0)   /* not clipped: multiplied by exactly 1 */
            for (int i = 0; i < total; i++)
                cr_expect_eq(gf[i], (float)g[i]);
    }
    free(buf);
}

Test(sched, label_smoothing_is_pytorchs)
{
    char *buf, *f[16][8];
    int n = read_fixture("smooth.txt", &buf, f);
    cr_assert_eq(n, 4);
    static double x[MAXV], lab[MAXV], want[MAXV], nk[2], loss[1];
    static float xf[MAXV], t[MAXV], d[MAXV];
    static int32_t labels[MAXV];
    for (int c = 0; c < n; c++) {
        double eps = strtod(f[c][0], NULL);
        cr_assert_eq(numbers(f[c][1], nk), 2);
        int rows = (int)nk[0], k = (int)nk[1];
        cr_assert_eq(numbers(f[c][2], x), rows * k);
        cr_assert_eq(numbers(f[c][3], lab), rows);
        cr_assert_eq(numbers(f[c][4], loss), 1);
        cr_assert_eq(numbers(f[c][5], want), rows * k);
        for (int i = 0; i < rows * k; i++)
            xf[i] = (float)x[i];
        for (int i = 0; i < rows; i++)
            labels[i] = (int32_t)lab[i];
        nnr_smooth_labels(rows, k, labels, eps, t);
        double got = nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, rows, k, xf, NULL, t, d);
        cr_expect(fabs(got - loss[0]) <= 2e-6 * fabs(loss[0]), "eps %g: loss %.9g, PyTorch %.9g",
                  eps, got, loss[0]);
        for (int i = 0; i < rows * k; i++)
            cr_expect(fabs(d[i] - want[i]) <= 1e-7 + 1e-5 * fabs(want[i]),
                      "eps %g: gradient %d is %.9g, PyTorch %.9g", eps, i, (double)d[i], want[i]);
    }
    /* a label out of range makes the loss NaN */
    labels[0] = 7;
    nnr_smooth_labels(1, 3, labels, 0.1, t);
    cr_expect(isnan(nnr_loss_f32(NNR_LOSS_CROSS_ENTROPY, 1, 3, xf, NULL, t, NULL)));
    free(buf);
}

static void sched_bad(const char *s, const char *want)
{
    nnr_sched sc;
    char err[256] = "";
    cr_expect_eq(nnr_parse_schedule(s, &sc, err, sizeof err), -1, "%s was accepted", s);
    cr_expect(strstr(err, want) != NULL, "%s: expected '%s' in '%s'", s, want, err);
}

Test(sched, parse_defaults_per_and_refusals)
{
    nnr_sched s;
    char err[256] = "";
    cr_assert_eq(nnr_parse_schedule("linear_warmup(4, per = \"step\")", &s, err, sizeof err), 0,
                 "%s", err);
    cr_expect_eq(s.nparts, 1);
    cr_expect_eq(s.per_step, 1);
    cr_expect_eq(s.part[0].a, 0.25);
    cr_assert_eq(nnr_parse_schedule(" [ steplr(step_size = 2) , cosine(t_max = 9, eta_min = 0.5, "
                                    "per = \"epoch\") ] ", &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.nparts, 2);
    cr_expect_eq(s.per_step, 0);
    cr_expect_eq(s.part[0].a, 0.1);
    cr_expect_eq(s.part[1].n, 9);
    cr_expect_eq(s.part[1].a, 0.5);
    sched_bad("exponential(0.9)", "unknown schedule 'exponential'");
    sched_bad("[]", "an empty list of schedules");
    sched_bad(" [ ] ", "an empty list of schedules");
    sched_bad("cosine", "needs its arguments");
    sched_bad("cosine(0)", "integer >= 1");
    sched_bad("steplr(2.5)", "integer >= 1");
    sched_bad("onecycle(0.1)", "missing argument 'total_steps'");
    sched_bad("cosine(5, per = \"batch\")", "per must be");
    sched_bad("cosine(5, tmax = 3)", "no argument 'tmax'");
    sched_bad("[linear_warmup(5, per = \"step\"), cosine(10)]", "same per");
    sched_bad("[cosine(5)", "expected ',' or ']'");
    sched_bad("linear_warmup(5, start_factor = 0)", "start_factor");
    sched_bad("cosine(5) x", "unexpected");
}
