/* driver_dot.c — nnc dot (alias graph): the model's graph in Graphviz's
 * DOT language: one box per layer (its name, op, output shape of one
 * sample and parameters with their shapes), one oval per input and output,
 * an edge per value read. Without -O the model as written; with -O1/-O2
 * the inference graph after the passes (folded, fused). `-o X.dot` (or no
 * -o: standard output) writes DOT text; `-o X.svg|.png|.pdf` runs Graphviz's
 * `dot` when it is installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver_int.h"
#include "ops/ops.h"

/* s with the characters DOT's quoted strings need escaped. */
static void dot_str(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void dot_value(FILE *out, int v)
{
    if (v < 0)
        fprintf(out, "in%d", -1 - v);
    else
        fprintf(out, "n%d", v);
}

static void dot_node(const Graph *g, int i, FILE *out)
{
    const Node *n = &g->nodes[i];
    char b[128];
    fprintf(out, "  n%d [label=\"", i);
    if (n->label) {
        dot_str(out, n->label);
        fprintf(out, ": ");
    } else if (n->layer >= 0) {
        fprintf(out, "%d: ", n->layer);
    }
    fprintf(out, "%s", op_info[n->op].name);
    if (n->fused_act >= 0 && n->fused_act < OP__COUNT)
        fprintf(out, " + %s", op_info[n->fused_act].name);
    fprintf(out, "\\n%s", shape_str(&n->shape, b, sizeof b));
    int64_t total = 0;
    for (int k = 0; k < n->nparam; k++) {
        if (n->param[k] < 0)
            continue;
        const Param *p = &g->params[n->param[k]];
        const char *dot = strrchr(p->name, '.');
        fprintf(out, "\\n");
        dot_str(out, dot ? dot + 1 : p->name);
        fprintf(out, " [");
        for (int d = 0; d < p->ndim; d++)
            fprintf(out, "%s%lld", d ? ", " : "", (long long)p->shape[d]);
        fprintf(out, "]");
        total += p->numel;
    }
    if (total)
        fprintf(out, "\\n%lld parameters", (long long)total);
    fprintf(out, "\", shape=box, style=\"rounded,filled\", fillcolor=\"%s\"];\n",
            n->nparam ? "#dbe8f6" : "#f2f2f2");
    for (int k = 0; k < n->nin; k++) {
        fprintf(out, "  ");
        dot_value(out, n->in[k]);
        fprintf(out, " -> n%d;\n", i);
    }
}

typedef struct DotCtx { const Graph *g; int optimised; } DotCtx;

static void write_dot(void *ctx, FILE *out)
{
    const Graph *g = ((DotCtx *)ctx)->g;
    char b[128];
    fprintf(out, "// %s: model %s%s, written by nnc dot\ndigraph \"", g->file, g->name,
            ((DotCtx *)ctx)->optimised ? " after the passes" : "");
    dot_str(out, g->name);
    fprintf(out, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (int k = 0; k < g->ninputs; k++) {
        fprintf(out, "  in%d [label=\"", k);
        dot_str(out, g->input_name[k] ? g->input_name[k] : "input");
        fprintf(out, "\\n%s%s\", shape=oval];\n", shape_str(&g->inputs[k], b, sizeof b),
                g->input_int[k] ? " int" : "");
    }
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead)
            dot_node(g, i, out);
    for (int k = 0; k < g->noutputs; k++) {
        fprintf(out, "  out%d [label=\"output %d\", shape=oval];\n  ", k, k);
        dot_value(out, g->outputs[k]);
        fprintf(out, " -> out%d;\n", k);
    }
    fprintf(out, "}\n");
}

/* -o X.svg, .png or .pdf: the format Graphviz is asked for; NULL for DOT text. */
static const char *image_format(const char *path)
{
    static const char *const fmts[] = {"svg", "png", "pdf", NULL};
    const char *dot = path ? strrchr(path, '.') : NULL;
    for (int i = 0; dot && fmts[i]; i++)
        if (!strcmp(dot + 1, fmts[i]))
            return fmts[i];
    return NULL;
}

int driver_dot(const DriverOpts *o)
{
    Unit u;
    if (driver_load(o, &u))
        return 1;
    DotCtx c = {u.g, o->opt_given && o->pipe.opt_level > 0};
    if (c.optimised && !(c.g = driver_optimised(o, &u)))
        return driver_finish(&u, 1);
    const char *fmt = image_format(o->output);
    if (!o->output || !strcmp(o->output, "-")) {
        write_dot(&c, stdout);
        return driver_finish(&u, fflush(stdout) != 0);
    }
    if (!fmt)
        return driver_finish(&u, driver_write_atomic(o->output, write_dot, &c, &u.diag) ? 1 : 0);
    /* An image: DOT text to a temporary file, Graphviz's dot to OUTPUT. */
    char *tmp = xasprintf("%s.tmp.%ld.dot", o->output, (long)getpid());
    char *img = xasprintf("%s.tmp.%ld", o->output, (long)getpid());
    if (driver_write_atomic(tmp, write_dot, &c, &u.diag))
        return driver_finish(&u, 1);
    const char *argv[] = {"dot", xasprintf("-T%s", fmt), "-o", img, tmp, NULL};
    int rc = driver_run_cmd(argv, NULL);
    unlink(tmp);
    if (rc != 0) {
        unlink(img);
        diag_error_nopos(&u.diag, "%s: Graphviz's dot could not draw the graph (is it installed? "
                         "Debian: apt-get install graphviz); -o %.*s.dot writes the DOT text",
                         o->output, (int)(strrchr(o->output, '.') - o->output), o->output);
        return driver_finish(&u, 1);
    }
    if (rename(img, o->output) != 0) {
        unlink(img);
        diag_error_nopos(&u.diag, "%s: cannot write the file", o->output);
        return driver_finish(&u, 1);
    }
    return driver_finish(&u, 0);
}
