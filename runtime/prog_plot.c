/* prog_plot.c — train --plot FILE: the training curves per epoch as one
 * SVG written by the program itself, rewritten atomically (nnr_wfile) after
 * every epoch so that a browser watching the file sees the epochs so far
 * and never half a file. The loss panel draws train_loss and, with
 * validation data, val_loss; a second panel draws val_accuracy when the
 * loss is a classification one. The values are those of the epoch's --log
 * line (%.9g), parsed back, so picture and log agree to the digit; each
 * curve also carries them in data-epochs and data-values attributes. No
 * time is drawn: the same run gives the same bytes. */
#include "prog_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The picture: one panel PANEL_W x PANEL_H per chart, a title row above. */
#define PANEL_W 420
#define PANEL_H 300
#define TOP 34                       /* the title row */
#define ML 64                        /* plot area margins inside a panel */
#define MR 18
#define MT 34
#define MB 46
#define AREA_W (PANEL_W - ML - MR)
#define AREA_H (PANEL_H - MT - MB)
#define MARKERS_UP_TO 60             /* a dot per epoch up to this many epochs */

enum { C_TRAIN, C_VAL, C_ACC, C_COUNT };

static const struct {
    const char *cls, *label, *colour;
} curves[C_COUNT] = {
    [C_TRAIN] = {"train_loss", "train", "#1f77b4"},
    [C_VAL] = {"val_loss", "validation", "#ff7f0e"},
    [C_ACC] = {"val_accuracy", "validation", "#2ca02c"},
};

/* A linear axis: [lo, hi] with ticks every step from the first multiple of
 * step at or above lo; labels with decimals digits after the point. */
typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

/* ------------------------------------------------------------ data */

/* The number of the next comma-separated field of a line, or NAN. */
static double field(const char **p)
{
    const char *s = *p, *end = s + strcspn(s, ",\n");
    *p = *end == ',' ? end + 1 : end;   /* a line's end stays the end */
    if (end == s)
        return NAN;
    char *stop;
    double v = strtod(s, &stop);
    return stop == s ? NAN : v;
}

int prog_plot_add(prog_plot *p, const char *line)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        int *e = realloc(p->epoch, cap * sizeof *e);
        if (e)
            p->epoch = e;
        for (int c = 0; c < C_COUNT && e; c++) {
            double *v = realloc(p->v[c], cap * sizeof *v);
            if (!v)
                e = NULL;
            else
                p->v[c] = v;
        }
        if (!e) {
            prog_oom();
            return -1;
        }
        p->cap = cap;
    }
    const char *s = line;
    double e = field(&s);
    if (!(e >= 1 && e <= 1e9))
        return 0;   /* not an epoch's line (the header) */
    p->epoch[p->n] = (int)e;
    for (int c = 0; c < C_COUNT; c++)
        p->v[c][p->n] = field(&s);
    p->n++;
    return 0;
}

int prog_plot_add_log(prog_plot *p, const char *text)
{
    for (const char *s = text; s && *s;) {
        if (prog_plot_add(p, s))
            return -1;
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return 0;
}

void prog_plot_free(prog_plot *p)
{
    free(p->epoch);
    for (int c = 0; c < C_COUNT; c++)
        free(p->v[c]);
    p->epoch = NULL;
    p->n = p->cap = 0;
}

/* ------------------------------------------------------------ scales */

/* 1, 2 or 5 times a power of ten, at least raw. */
static double nice_step(double raw)
{
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1.0 + 1e-9 ? 1 : f <= 2.0 + 1e-9 ? 2 : f <= 5.0 + 1e-9 ? 5 : 10) * mag;
}

/* An axis over the values [lo, hi] with about ticks intervals. */
static axis axis_for(double lo, double hi, int ticks)
{
    axis a;
    if (!(hi > lo)) {
        double d = fabs(lo) > 1e-12 ? fabs(lo) * 0.05 : 0.5;
        lo -= d;
        hi += d;
    }
    a.step = nice_step((hi - lo) / ticks);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

static double sx(const axis *a, int x0, double v)
{
    return x0 + AREA_W * (v - a->lo) / (a->hi - a->lo);
}

static double sy(const axis *a, double v)
{
    return TOP + MT + AREA_H * (1.0 - (v - a->lo) / (a->hi - a->lo));
}

/* ------------------------------------------------------------ drawing */

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

/* The frame, the grid, the ticks and labels of a panel at x px. */
static void draw_axes(FILE *f, int px, const char *title, const axis *xa, const axis *ya,
                      const char *yname)
{
    int x0 = px + ML, y0 = TOP + MT;
    fprintf(f, "<g class=\"axes\">\n<text x=\"%d\" y=\"%d\" font-size=\"14\" "
            "font-weight=\"bold\">%s</text>\n", x0, TOP + 20, title);
    fprintf(f, "<g stroke=\"#e3e3e3\">\n");
    for (int i = 0;; i++) {
        double v = ya->lo + i * ya->step;
        if (v > ya->hi + ya->step * 1e-6)
            break;
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.2f\" y2=\"%.2f\"/>\n", x0, x0 + AREA_W,
                sy(ya, v), sy(ya, v));
    }
    fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#444\"/>\n<g font-size=\"11\" fill=\"#222\" text-anchor=\"end\">\n",
            x0, y0, AREA_W, AREA_H);
    for (int i = 0;; i++) {
        double v = ya->lo + i * ya->step;
        if (v > ya->hi + ya->step * 1e-6)
            break;
        if (fabs(v) < ya->step * 1e-6)
            v = 0;
        fprintf(f, "<text x=\"%d\" y=\"%.2f\">%.*f</text>\n", x0 - 6, sy(ya, v) + 4,
                ya->decimals, v);
    }
    fprintf(f, "</g>\n<g font-size=\"11\" fill=\"#222\" text-anchor=\"middle\">\n");
    for (double v = ceil(xa->lo / xa->step) * xa->step; v <= xa->hi + 1e-9; v += xa->step) {
        double x = sx(xa, x0, v);
        fprintf(f, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", x, x,
                y0 + AREA_H, y0 + AREA_H + 5);
        fprintf(f, "<text x=\"%.2f\" y=\"%d\">%.0f</text>\n", x, y0 + AREA_H + 18, v);
    }
    fprintf(f, "</g>\n<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">epoch"
            "</text>\n", x0 + AREA_W / 2, y0 + AREA_H + 36);
    fprintf(f, "<text transform=\"translate(%d %d) rotate(-90)\" font-size=\"12\" "
            "text-anchor=\"middle\">%s</text>\n</g>\n", px + 16, y0 + AREA_H / 2, yname);
}

/* Curve c of p: its finite points as a polyline with the values in data-
 * attributes, and a dot per epoch when there are few. */
static void draw_curve(FILE *f, const prog_plot *p, int c, int px, const axis *xa,
                       const axis *ya)
{
    const double *v = p->v[c];
    fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "stroke-linejoin=\"round\" data-epochs=\"", curves[c].cls, curves[c].colour);
    const char *sep = "";
    for (size_t i = 0; i < p->n; i++)
        if (isfinite(v[i])) {
            fprintf(f, "%s%d", sep, p->epoch[i]);
            sep = " ";
        }
    fputs("\" data-values=\"", f);
    sep = "";
    for (size_t i = 0; i < p->n; i++)
        if (isfinite(v[i])) {
            fprintf(f, "%s%.9g", sep, v[i]);
            sep = " ";
        }
    fputs("\" points=\"", f);
    sep = "";
    for (size_t i = 0; i < p->n; i++)
        if (isfinite(v[i])) {
            fprintf(f, "%s%.2f,%.2f", sep, sx(xa, px + ML, p->epoch[i]), sy(ya, v[i]));
            sep = " ";
        }
    fputs("\"/>\n", f);
    if (p->n > MARKERS_UP_TO)
        return;
    fprintf(f, "<g fill=\"%s\">\n", curves[c].colour);
    for (size_t i = 0; i < p->n; i++)
        if (isfinite(v[i]))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\"/>\n",
                    sx(xa, px + ML, p->epoch[i]), sy(ya, v[i]));
    fputs("</g>\n", f);
}

/* The last finite value of curve c, or NAN. */
static double last_value(const prog_plot *p, int c)
{
    for (size_t i = p->n; i-- > 0;)
        if (isfinite(p->v[c][i]))
            return p->v[c][i];
    return NAN;
}

/* The legend of curves cs[0..n) in the top right corner of the panel at px
 * (bottom right when bottom): a line of each colour, its name, its last
 * value. */
static void draw_legend(FILE *f, const prog_plot *p, int px, const int *cs, int n, int bottom)
{
    int w = 176, h = 8 + 18 * n;
    int x = px + ML + AREA_W - w - 8, y = bottom ? TOP + MT + AREA_H - h - 8 : TOP + MT + 8;
    fprintf(f, "<g class=\"legend\" font-size=\"12\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
            "height=\"%d\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
            x, y, w, h);
    for (int k = 0; k < n; k++) {
        int c = cs[k], ly = y + 16 + 18 * k;
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n", x + 8, x + 30, ly - 4, ly - 4, curves[c].colour);
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 36, ly, curves[c].label);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", x + w - 8, ly,
                last_value(p, c));
    }
    fputs("</g>\n", f);
}

/* The range of the finite values of the curves cs[0..n): 0 when none. */
static int value_range(const prog_plot *p, const int *cs, int n, double *lo, double *hi)
{
    int any = 0;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < p->n; i++) {
            double v = p->v[cs[k]][i];
            if (!isfinite(v))
                continue;
            if (!any || v < *lo)
                *lo = v;
            if (!any || v > *hi)
                *hi = v;
            any = 1;
        }
    return any;
}

/* The panel at px of the curves cs[0..n). */
static void draw_panel(FILE *f, const prog_plot *p, int px, const char *title,
                       const char *yname, const int *cs, int n, int is_acc, const axis *xa)
{
    double lo = 0, hi = 1;
    value_range(p, cs, n, &lo, &hi);
    axis ya = axis_for(lo, hi, 5);
    if (is_acc) {   /* accuracy lives in [0, 1] */
        ya.lo = ya.lo < 0 ? 0 : ya.lo;
        ya.hi = ya.hi > 1 ? 1 : ya.hi;
    }
    draw_axes(f, px, title, xa, &ya, yname);
    for (int k = 0; k < n; k++)
        draw_curve(f, p, cs[k], px, xa, &ya);
    draw_legend(f, p, px, cs, n, is_acc);
}

static void plot_svg(const prog_plot *p, FILE *f)
{
    int acc = p->acc, width = PANEL_W * (acc ? 2 : 1), height = TOP + PANEL_H;
    int first = p->epoch[0], last = p->epoch[p->n - 1];
    axis xa = {first, last > first ? last : first + 1, 1, 0};
    while ((xa.hi - xa.lo) / xa.step > 10)
        xa.step = nice_step(xa.step * 1.5);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<title>", width, height, width,
            height);
    xml_text(f, p->name);
    fprintf(f, ": training curves</title>\n<desc>Written by the program's train --plot after "
            "each epoch; data-values hold the --log values of the epochs in data-epochs."
            "</desc>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"12\" y=\"22\" font-size=\"15\">");
    xml_text(f, p->name);
    fprintf(f, " \xe2\x80\x94 epoch %d of %d</text>\n", last, p->epochs > last ? p->epochs : last);
    int loss[2] = {C_TRAIN, C_VAL}, accs[1] = {C_ACC};
    draw_panel(f, p, 0, "loss", "loss", loss, p->val ? 2 : 1, 0, &xa);
    if (acc)
        draw_panel(f, p, PANEL_W, "validation accuracy", "accuracy", accs, 1, 1, &xa);
    fputs("</svg>\n", f);
}

/* Writes the curves of the epochs so far. A failure is a warning naming
 * the file, once; training goes on and every later epoch tries again. */
void prog_plot_write(prog_plot *p)
{
    if (!p->path || p->n == 0)
        return;
    char err[PROG_ERRLEN];
    nnr_wfile w;
    int rc = nnr_wfile_open(&w, p->path, 0, err, sizeof err);
    if (rc == 0) {
        plot_svg(p, w.f);
        rc = nnr_wfile_commit(&w, err, sizeof err);
    }
    if (rc == 0 || p->warned)
        return;
    p->warned = 1;
    size_t n = strlen(p->path);
    const char *why = !strncmp(err, p->path, n) && !strncmp(err + n, ": ", 2) ? err + n + 2 : err;
    fflush(stdout);
    fprintf(stderr, "%s: warning: cannot write the plot: %s; training goes on (each epoch "
            "tries again)\n", p->path, why);
}
