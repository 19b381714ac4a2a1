/* test_prog_plot.c — the SVG of `PROG train --plot` (runtime/prog_plot.c)
 * from hand-written --log lines: one polyline per curve with the log's
 * numbers, points on a linear scale, non-finite values left out, the
 * accuracy panel only when asked, escaped text, the same bytes twice, and
 * a write failure reported once as a warning naming the file. The end to
 * end test (a trained program, XML parsed) is tests/run_train_plot.sh. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog_int.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/test_prog_plot_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) { /* best effort */ }
}

TestSuite(prog_plot, .init = make_dir, .fini = remove_dir);

static const char *path_in(const char *name)
{
    static char b[4][256];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, sizeof b[0], "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path)
{
    size_t n;
    char err[256];
    char *s = (char *)nnr_read_file(path, &n, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The attribute attr of the polyline of class cls, malloc'd. */
static char *curve_attr(const char *svg, const char *cls, const char *attr)
{
    char key[64];
    snprintf(key, sizeof key, "<polyline class=\"%s\"", cls);
    const char *p = strstr(svg, key);
    cr_assert_not_null(p, "no curve %s in:\n%s", cls, svg);
    const char *end = strstr(p, "/>");
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(p, key);
    cr_assert(a && a < end, "no %s on curve %s", attr, cls);
    a += strlen(key);
    size_t n = strcspn(a, "\"");
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

static const char *LOG =
    "epoch,train_loss,val_loss,val_accuracy,seconds\n"
    "1,2.5,2,0.25,0.100\n"
    "2,1.5,1.25,0.5,0.120\n"
    "3,0.75,1,0.625,0.090\n"
    "4,0.5,1.125,0.75,0.110\n";

static prog_plot plot_of(const char *log, int val, int acc, const char *file)
{
    prog_plot p;
    memset(&p, 0, sizeof p);
    p.path = path_in(file);
    p.name = "net";
    p.epochs = 10;
    p.val = val;
    p.acc = acc;
    cr_assert_eq(prog_plot_add_log(&p, log), 0);
    return p;
}

Test(prog_plot, curves_hold_the_log_values_on_a_linear_scale)
{
    prog_plot p = plot_of(LOG, 1, 1, "c.svg");
    cr_assert_eq(p.n, 4);
    prog_plot_write(&p);
    char *svg = slurp(p.path);
    cr_expect_eq(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44), 0);
    cr_expect_eq(count(svg, "<polyline"), 3);
    cr_expect_eq(count(svg, "<svg"), 1);
    cr_expect_eq(count(svg, "</svg>"), 1);
    cr_expect_not_null(strstr(svg, "net \xe2\x80\x94 epoch 4 of 10"));
    cr_expect_not_null(strstr(svg, ">validation accuracy<"));
    static const char *cls[3] = {"train_loss", "val_loss", "val_accuracy"};
    static const char *want[3] = {"2.5 1.5 0.75 0.5", "2 1.25 1 1.125", "0.25 0.5 0.625 0.75"};
    static const double v[3][4] = {{2.5, 1.5, 0.75, 0.5}, {2, 1.25, 1, 1.125},
                                   {0.25, 0.5, 0.625, 0.75}};
    for (int c = 0; c < 3; c++) {
        char *vals = curve_attr(svg, cls[c], "data-values");
        char *eps = curve_attr(svg, cls[c], "data-epochs");
        char *pts = curve_attr(svg, cls[c], "points");
        cr_expect_str_eq(vals, want[c]);
        cr_expect_str_eq(eps, "1 2 3 4");
        double x[4], y[4];
        const char *s = pts;
        for (int i = 0; i < 4; i++) {
            char *e;
            x[i] = strtod(s, &e);
            cr_assert_eq(*e, ',', "points: %s", pts);
            y[i] = strtod(e + 1, &e);
            s = e;
        }
        /* equal epoch steps, and y linear in the value, larger drawn higher */
        cr_expect_float_eq(x[1] - x[0], x[3] - x[2], 0.011, "points: %s", pts);
        cr_expect_gt(x[1], x[0]);
        double slope = (y[0] - y[3]) / (v[c][0] - v[c][3]);
        cr_expect_lt(slope, 0);
        for (int i = 1; i < 3; i++)
            cr_expect_float_eq(y[i], y[0] + slope * (v[c][i] - v[c][0]), 0.02,
                               "%s point %d: %s", cls[c], i, pts);
        free(vals);
        free(eps);
        free(pts);
    }
    free(svg);
    prog_plot_free(&p);
}

Test(prog_plot, train_loss_alone_without_validation)
{
    prog_plot p = plot_of("epoch,train_loss,val_loss,val_accuracy,seconds\n"
                          "1,0.5,,,0.001\n2,0.25,,,0.001\n", 0, 0, "t.svg");
    prog_plot_write(&p);
    char *svg = slurp(p.path);
    cr_expect_eq(count(svg, "<polyline"), 1);
    cr_expect_not_null(strstr(svg, "class=\"train_loss\""));
    cr_expect_null(strstr(svg, "accuracy"));
    cr_expect_null(strstr(svg, ">validation<"));
    free(svg);
    prog_plot_free(&p);
}

Test(prog_plot, non_finite_values_are_left_out)
{
    prog_plot p = plot_of("1,0.5,nan,0.5,0\n2,0.25,inf,0.5,0\n3,0.125,0.5,0.75,0\n", 1, 1,
                          "n.svg");
    cr_assert_eq(p.n, 3);
    prog_plot_write(&p);
    char *svg = slurp(p.path);
    char *vals = curve_attr(svg, "val_loss", "data-values");
    char *eps = curve_attr(svg, "val_loss", "data-epochs");
    cr_expect_str_eq(vals, "0.5");
    cr_expect_str_eq(eps, "3");
    cr_expect_null(strstr(svg, "nan"));
    cr_expect_null(strstr(svg, "inf"));
    free(vals);
    free(eps);
    free(svg);
    prog_plot_free(&p);
}

Test(prog_plot, same_bytes_and_one_more_epoch)
{
    prog_plot p = plot_of(LOG, 1, 1, "a.svg");
    prog_plot_write(&p);
    char *a = slurp(p.path);
    prog_plot_write(&p);
    char *b = slurp(p.path);
    cr_expect_str_eq(a, b);
    cr_assert_eq(prog_plot_add(&p, "5,0.25,1.5,0.75,9.999\n"), 0);
    prog_plot_write(&p);
    char *c = slurp(p.path);
    char *eps = curve_attr(c, "train_loss", "data-epochs");
    cr_expect_str_eq(eps, "1 2 3 4 5");
    /* the seconds column is never drawn */
    prog_plot q = plot_of(LOG, 1, 1, "q.svg");
    cr_assert_eq(prog_plot_add(&q, "5,0.25,1.5,0.75,0.001\n"), 0);
    prog_plot_write(&q);
    char *d = slurp(q.path);
    cr_expect_str_eq(c, d);
    free(a);
    free(b);
    free(c);
    free(d);
    free(eps);
    prog_plot_free(&p);
    prog_plot_free(&q);
}

Test(prog_plot, text_is_escaped)
{
    prog_plot p = plot_of(LOG, 1, 0, "e.svg");
    p.name = "a<b&\"c\"";
    prog_plot_write(&p);
    char *svg = slurp(p.path);
    cr_expect_not_null(strstr(svg, "<title>a&lt;b&amp;&quot;c&quot;: training curves</title>"));
    cr_expect_null(strstr(svg, "a<b"));
    free(svg);
    prog_plot_free(&p);
}

/* A failed write is one warning naming the file, however many epochs try. */
Test(prog_plot, write_failure_is_one_warning)
{
    prog_plot p = plot_of(LOG, 1, 1, "no/such/folder/c.svg");
    const char *errf = path_in("stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    cr_assert(freopen(errf, "w", stderr) != NULL);
    prog_plot_write(&p);
    prog_plot_write(&p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *err = slurp(errf);
    char want[512];
    snprintf(want, sizeof want, "%s: warning: cannot write the plot: ", p.path);
    cr_expect_eq(strncmp(err, want, strlen(want)), 0, "stderr: %s", err);
    cr_expect_not_null(strstr(err, "No such file or directory"), "stderr: %s", err);
    cr_expect_eq(count(err, "warning"), 1, "stderr: %s", err);
    cr_expect(p.warned);
    free(err);
    prog_plot_free(&p);
}
