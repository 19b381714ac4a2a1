/* ir_parse.c — the IR's text form read back (ARCHITECTURE.md decision 4),
 * so a pass can be tested on a small file without the front end:
 * `nnc opt FILE.nir --passes=...`. ir_print_ex() writes exactly this
 * grammar, and print(parse(print(g))) == print(g).
 *
 *   file  = { line } ;                      one statement per line
 *   line  = "#" ...                         a comment (also after a statement)
 *         | "model" NAME
 *         | "input" SHAPE                   one sample, e.g. [1, 28, 28]; the k-th
 *                                           input line defines %in (k = 0) or %in<k>
 *         | "param" NAME SHAPE [ "buffer" | "counter" ] [ "frozen" ] [ "=" "[" NUM { "," NUM } "]" ]
 *         | "fold-linear" NAME [ NAME ] "=" { NAME ( NAME | "-" ) }
 *         | "fold-bn" NAME NAME "=" NAME ( NAME | "-" ) NAME NAME NAME NAME "eps=" NUM
 *         | "pack-linear" NAME "=" NAME        a [out, in] weight in panel layout
 *         | "tie" NAME "=" NAME               a second state_dict name of a param
 *                                           (weight tying), at this place in it
 *         | VAL "=" OP VALS { KEY "=" VALUE } [ "params=" NAME { "," NAME } ] ":" SHAPE
 *         | "output" VALS                   the graph's results, in order
 *         | "planned" ;                     memplan ran
 *   VALS  = VAL { "," VAL } ;               as many as the op reads
 *   VAL   = "%in" | "%in" INT | "%" INT ;   nodes keep their numbers (gaps allowed)
 *   SHAPE = "[" [ INT { "," INT } ] "]" ;   "[]" is a scalar (num_batches_tracked)
 *
 * Parameter values are optional: without them only shapes matter (enough
 * for every pass); with them (written in row-major order, %.9g, exact for
 * float) the tensor is "known" and folds can be evaluated. A fold line
 * names its derived weight (and bias) and its sources: for fold-linear one
 * (weight, bias) pair per layer of the chain, "-" for a layer without bias;
 * for fold-bn the layer's (weight, bias) then gamma, beta, running_mean,
 * running_var; pack-linear, pack-linear-bf16 and pack-conv name the one
 * weight they lay out. An op flagged OPF_RESIDUAL (conv2d) may read one
 * value more than its nin: the residual fuse-add gave it. Node attributes
 * are those ir_print writes for the op, under PyTorch's names (the op
 * family's print and parse hooks: in_features= out_features= bias=,
 * in_channels= out_channels= kernel_size=KxK stride=SxS padding=PxP
 * dilation=DxD groups= output_padding=PxP, output_size=HxW,
 * scale_factor=SxS, normalized_shape=AxB elementwise_affine=, dim=, p=,
 * num_features= eps= momentum=; the older in=, out=, kernel=, features=,
 * affine= are read too), act=OP[(attr0)], packed=oi|oi+panel|panel|bf16|direct,
 * and the op's ATTR rows of ops.def by name, e.g. negative_slope=; a line
 * leaves out what is at ir_add_node's defaults. The shape after ':' is
 * checked against the one the op's shape rule gives. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "../ops/ops.h"
#include "nnr_prog.h"

typedef struct IrLx {
    const char *p, *line_start;
    int line;
    Diag *d;
} Lx;

static Span at(const Lx *x)
{
    int col = (int)(x->p - x->line_start) + 1;
    return (Span){x->line, col, col};
}

static void skip_ws(Lx *x)
{
    while (*x->p == ' ' || *x->p == '\t' || *x->p == '\r')
        x->p++;
}

static int at_eol(Lx *x)
{
    skip_ws(x);
    return *x->p == '\n' || *x->p == '\0' || *x->p == '#';
}

/* A word: letters, digits and _ . - ( ) % and commas inside parentheses
 * (derived names: "fold(0,1).weight"). Stops at '=' ':' ',' and blanks. */
static char *word(Lx *x)
{
    skip_ws(x);
    const char *s = x->p;
    int depth = 0;
    while (*x->p && !isspace((unsigned char)*x->p)) {
        char c = *x->p;
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        else if (depth <= 0 && (c == '=' || c == ':' || c == ',' || c == '[' || c == ']'))
            break;
        x->p++;
    }
    return x->p > s ? xstrndup(s, (size_t)(x->p - s)) : NULL;
}

static int expect(Lx *x, char c)
{
    skip_ws(x);
    if (*x->p != c) {
        diag_error(x->d, at(x), "expected '%c'", c);
        return -1;
    }
    x->p++;
    return 0;
}

static int parse_int(Lx *x, int64_t *v)
{
    skip_ws(x);
    char *end;
    long long r = strtoll(x->p, &end, 10);
    if (end == x->p) {
        diag_error(x->d, at(x), "expected an integer");
        return -1;
    }
    x->p = end;
    *v = r;
    return 0;
}

static int parse_num(Lx *x, double *v)
{
    skip_ws(x);
    char *end;
    *v = strtod(x->p, &end);
    if (end == x->p) {
        diag_error(x->d, at(x), "expected a number");
        return -1;
    }
    x->p = end;
    return 0;
}

static int parse_shape(Lx *x, int *ndim, int64_t *d)
{
    if (expect(x, '['))
        return -1;
    *ndim = 0;
    skip_ws(x);
    if (*x->p == ']') {
        x->p++;
        return 0;
    }
    for (;;) {
        if (*ndim == NNC_MAX_DIMS) {
            diag_error(x->d, at(x), "more than %d dimensions", NNC_MAX_DIMS);
            return -1;
        }
        if (parse_int(x, &d[(*ndim)++]))
            return -1;
        if (d[*ndim - 1] <= 0) {
            diag_error(x->d, at(x), "a dimension must be positive");
            return -1;
        }
        skip_ws(x);
        if (*x->p == ']') {
            x->p++;
            return 0;
        }
        if (expect(x, ','))
            return -1;
    }
}

/* After an input's shape: "int" and "below N" (ir_print's spelling). */
static void parse_input_int(Lx *x, Graph *g, int k)
{
    if (at_eol(x))
        return;
    char *w = word(x);
    if (!w || strcmp(w, "int")) {
        diag_error(x->d, at(x), "expected 'int' or the end of the line after an input's shape");
        return;
    }
    g->input_int[k] = 1;
    if (at_eol(x))
        return;
    w = word(x);
    int64_t v;
    if (!w || strcmp(w, "below") || parse_int(x, &v) || v <= 0) {
        diag_error(x->d, at(x), "expected 'below' and a positive bound after 'int'");
        return;
    }
    g->input_int_below[k] = v;
}


#define NOVAL (-1000000)

/* "%in" -> IR_INPUT(0), "%in2" -> IR_INPUT(2), "%7" -> 7; a value that
 * names an input must name a declared one, a node one defined before
 * (live) in g. NOVAL after a diagnostic. */
static int parse_val(Lx *x, const Graph *g)
{
    skip_ws(x);
    Span sp = at(x);
    char *w = word(x);
    int in = w && !strncmp(w, "%in", 3);
    const char *digits = w ? (in ? w + 3 : w + 1) : NULL;
    if (w && w[0] == '%' && (in || isdigit((unsigned char)w[1]))) {
        char *end = (char *)digits;
        long v = in && !*digits ? 0 : strtol(digits, &end, 10);
        if ((in && !*digits) || (isdigit((unsigned char)*digits) && !*end && v < 1000000)) {
            if (in && v >= g->ninputs) {
                diag_error(x->d, sp, "%s: the graph has %d input%s", w, g->ninputs, g->ninputs == 1 ? "" : "s");
                return NOVAL;
            }
            if (!in && (v >= g->nnodes || g->nodes[v].dead)) {
                diag_error(x->d, sp, "%s is not defined before it is read", w);
                return NOVAL;
            }
            return in ? IR_INPUT((int)v) : (int)v;
        }
    }
    diag_error(x->d, sp, "expected a value: %%in, %%inK or %%N");
    return NOVAL;
}

/* VAL { "," VAL } into v[0..max); the count, or -1 after a diagnostic. */
static int parse_vals(Lx *x, const Graph *g, int *v, int max)
{
    int n = 0;
    for (;;) {
        if (n == max) {
            diag_error(x->d, at(x), "more than %d values", max);
            return -1;
        }
        if ((v[n++] = parse_val(x, g)) == NOVAL)
            return -1;
        skip_ws(x);
        if (*x->p != ',')
            return n;
        x->p++;
    }
}

static int find_param(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nparams; i++)
        if (!strcmp(g->params[i].name, name))
            return i;
    return -1;
}

static int param_ref(Lx *x, const Graph *g, int allow_none)
{
    skip_ws(x);
    Span sp = at(x);
    char *w = word(x);
    if (!w) {
        diag_error(x->d, sp, "expected a parameter name");
        return -2;
    }
    if (allow_none && !strcmp(w, "-"))
        return -1;
    int p = find_param(g, w);
    if (p < 0)
        diag_error(x->d, sp, "unknown parameter '%s' (declare it on a param line first)", w);
    return p < 0 ? -2 : p;
}

/* "0.weight" -> "0"; "fold(0,1).weight" -> "0,1" (what ir_add_fold joins). */
static const char *layer_of(const char *name)
{
    if (!strncmp(name, "fold(", 5) || !strncmp(name, "pack(", 5)) {
        const char *close = strrchr(name, ')');
        if (close)
            return xstrndup(name + 5, (size_t)(close - name - 5));
    }
    const char *dot = strrchr(name, '.');
    return dot ? xstrndup(name, (size_t)(dot - name)) : name;
}

static int parse_param(Lx *x, Graph *g)
{
    Span sp = at(x);
    Param p;
    memset(&p, 0, sizeof p);
    p.name = word(x);
    if (!p.name) {
        diag_error(x->d, sp, "expected a parameter name");
        return -1;
    }
    if (find_param(g, p.name) >= 0) {
        diag_error(x->d, sp, "parameter '%s' declared twice", p.name);
        return -1;
    }
    if (parse_shape(x, &p.ndim, p.shape))
        return -1;
    p.numel = 1;
    for (int k = 0; k < p.ndim; k++)
        p.numel *= p.shape[k];
    p.kind = NNR_T_PARAM;
    p.init = INIT_ZEROS;
    p.layer = -1;
    p.layer_name = layer_of(p.name);
    for (int kinds = 0; !at_eol(x) && *x->p != '=';) {
        Span ks = at(x);
        char *k = word(x);
        if (k && !kinds && !p.frozen && !strcmp(k, "buffer"))
            p.kind = NNR_T_BUFFER, kinds = 1;
        else if (k && !kinds && !p.frozen && !strcmp(k, "counter"))
            p.kind = NNR_T_COUNTER, kinds = 1;
        else if (k && !p.frozen && !strcmp(k, "frozen"))
            p.frozen = 1;
        else {
            diag_error(x->d, ks, "expected 'buffer', 'counter', 'frozen' or '= [values]'");
            return -1;
        }
    }
    skip_ws(x);
    if (*x->p == '=') {
        x->p++;
        if (expect(x, '['))
            return -1;
        p.data = xcalloc((size_t)p.numel + 1, sizeof(float));
        for (int64_t k = 0; k < p.numel; k++) {
            double v;
            if ((k && expect(x, ',')) || parse_num(x, &v))
                return -1;
            p.data[k] = (float)v;
        }
        skip_ws(x);
        if (*x->p != ']') {
            diag_error(x->d, at(x), "expected ']' after %lld values (the shape's count)", (long long)p.numel);
            return -1;
        }
        x->p++;
    }
    ir_add_param(g, &p);
    return 0;
}

/* tie NAME = PARAM: NAME names PARAM again, here in the state_dict. */
static int parse_tie(Lx *x, Graph *g)
{
    Span sp = at(x);
    Tie t = {0};
    t.name = word(x);
    if (!t.name) {
        diag_error(x->d, sp, "expected the tie's name");
        return -1;
    }
    int dup = find_param(g, t.name) >= 0;
    for (int i = 0; i < g->nties; i++)
        dup |= !strcmp(g->ties[i].name, t.name);
    if (dup) {
        diag_error(x->d, sp, "parameter '%s' declared twice", t.name);
        return -1;
    }
    if (expect(x, '='))
        return -1;
    if ((t.param = param_ref(x, g, 0)) < 0)
        return -1;
    if (g->params[t.param].fold) {
        diag_error(x->d, sp, "a tie names a state tensor, not '%s' (derived by a pass)", g->params[t.param].name);
        return -1;
    }
    t.before = g->nparams;
    t.layer = -1;
    t.layer_name = layer_of(t.name);
    ir_add_tie(g, &t);
    return 0;
}

static int parse_fold(Lx *x, Graph *g, FoldKind kind)
{
    Span sp = at(x);
    char *wname = word(x), *bname = NULL;
    if (!wname) {
        diag_error(x->d, sp, "expected the derived weight's name");
        return -1;
    }
    skip_ws(x);
    if (*x->p != '=')
        bname = word(x);
    if (expect(x, '='))
        return -1;
    Fold f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    if (kind == FOLD_PACK_CONV || kind == FOLD_PACK_CONV_PANEL) {
        const char *what = kind == FOLD_PACK_CONV ? "pack-conv" : "pack-conv-panel";
        if (bname) {
            diag_error(x->d, sp, "%s makes no bias", what);
            return -1;
        }
        if ((f.w[0] = param_ref(x, g, 0)) < 0)
            return -1;
        f.b[0] = -1;
        f.n = 1;
        const Param *w = &g->params[f.w[0]];
        if (w->ndim != 4 || w->shape[0] < 1 || w->numel > INT32_MAX) {
            diag_error(x->d, sp, "%s: %s is not a [out, in, kh, kw] weight", what, w->name);
            return -1;
        }
        f.rows = w->shape[0];
        f.cols = w->numel / w->shape[0];
        goto made;
    }
    if (kind == FOLD_PACK || kind == FOLD_PACK_BF16) {
        if (bname) {
            diag_error(x->d, sp, "pack-linear makes no bias");
            return -1;
        }
        if ((f.w[0] = param_ref(x, g, 0)) < 0)
            return -1;
        f.b[0] = -1;
        f.n = 1;
        const Param *w = &g->params[f.w[0]];
        if (w->ndim != 2) {
            diag_error(x->d, sp, "pack-linear: %s is not a [out, in] weight", w->name);
            return -1;
        }
        f.rows = w->shape[0];
        f.cols = w->shape[1];
        goto made;
    }
    int maxn = kind == FOLD_BN ? 1 : NNC_MAX_FOLD_CHAIN;
    while (!at_eol(x) && strncmp(x->p, "eps=", 4) && f.n < maxn) {
        if ((f.w[f.n] = param_ref(x, g, 0)) < -1 || (f.b[f.n] = param_ref(x, g, 1)) < -1)
            return -1;
        f.n++;
    }
    if (f.n == 0 || (kind == FOLD_LINEAR && f.n < 2)) {
        diag_error(x->d, sp, "%s needs %s", kind == FOLD_BN ? "fold-bn" : "fold-linear",
                   kind == FOLD_BN ? "the layer's weight and bias" : "two layers or more");
        return -1;
    }
    if (kind == FOLD_LINEAR) {
        const Param *w0 = &g->params[f.w[0]];
        f.dims[0] = w0->ndim == 2 ? w0->shape[1] : 0;
        for (int k = 0; k < f.n; k++) {
            const Param *w = &g->params[f.w[k]];
            if (w->ndim != 2 || w->shape[1] != f.dims[k]) {
                diag_error(x->d, sp, "fold-linear: %s is not a [out, %lld] weight", w->name, (long long)f.dims[k]);
                return -1;
            }
            f.dims[k + 1] = w->shape[0];
            if (f.b[k] >= 0 && g->params[f.b[k]].numel != w->shape[0]) {
                diag_error(x->d, sp, "fold-linear: bias %s does not match %s", g->params[f.b[k]].name, w->name);
                return -1;
            }
        }
    } else {
        for (int k = 0; k < 4; k++)
            if ((f.bn[k] = param_ref(x, g, 0)) < 0)
                return -1;
        skip_ws(x);
        if (strncmp(x->p, "eps=", 4)) {
            diag_error(x->d, at(x), "expected eps=");
            return -1;
        }
        x->p += 4;
        if (parse_num(x, &f.eps))
            return -1;
        const Param *w = &g->params[f.w[0]];
        f.rows = w->ndim ? w->shape[0] : 0;
        f.cols = f.rows ? w->numel / f.rows : 0;
        for (int k = 0; k < 4; k++)
            if (g->params[f.bn[k]].numel != f.rows) {
                diag_error(x->d, sp, "fold-bn: %s has %lld values, the layer %lld channels",
                           g->params[f.bn[k]].name, (long long)g->params[f.bn[k]].numel, (long long)f.rows);
                return -1;
            }
    }
made:
    if (find_param(g, wname) >= 0 || (bname && find_param(g, bname) >= 0)) {
        diag_error(x->d, sp, "parameter '%s' declared twice", find_param(g, wname) >= 0 ? wname : bname);
        return -1;
    }
    int fi = ir_add_fold(g, &f);
    const Fold *made = &g->folds[fi];
    if ((made->out_b >= 0) != (bname != NULL)) {
        diag_error(x->d, sp, "the fold %s a bias, but the line %s", made->out_b >= 0 ? "makes" : "makes no",
                   bname ? "names one" : "names none");
        return -1;
    }
    g->params[made->out_w].name = wname;
    g->params[made->out_w].layer_name = layer_of(wname);
    if (bname) {
        g->params[made->out_b].name = bname;
        g->params[made->out_b].layer_name = layer_of(bname);
    }
    return 0;
}

/* The 'x' between the two halves of a pair "AxB". */
static int pair_sep(Lx *x)
{
    if (*x->p != 'x') {
        diag_error(x->d, at(x), "expected AxB");
        return -1;
    }
    x->p++;
    return 0;
}

static int parse_pair(Lx *x, int64_t *a, int64_t *b)
{
    return parse_int(x, a) || pair_sep(x) ? -1 : parse_int(x, b);
}

/* The readers the op families' parse hooks use (ir.h). */
int ir_lx_int(IrLx *x, int64_t *v) { return parse_int(x, v); }
int ir_lx_num(IrLx *x, double *v) { return parse_num(x, v); }
int ir_lx_pair(IrLx *x, int64_t *a, int64_t *b) { return parse_pair(x, a, b); }

int ir_lx_list(IrLx *x, char sep, int64_t *v, int max)
{
    int c = 0;
    for (;;) {
        if (c == max || parse_int(x, &v[c]))
            return -1;
        c++;
        if (*x->p != sep)
            return c;
        x->p++;
    }
}

int ir_lx_numpair(IrLx *x, double *a, double *b)
{
    return parse_num(x, a) || pair_sep(x) ? -1 : parse_num(x, b);
}

/* The position of attribute key among op's ATTR rows (ops.def), or -1. */
static int attr_index(Op op, const char *key)
{
    for (int k = 0; k < op_nattr(op); k++)
        if (!strcmp(op_attr[op][k].name, key))
            return k;
    return -1;
}

/* The attributes of node i, up to the ':' before its shape. */
static int parse_attrs(Lx *x, Graph *g, int i)
{
    Node *n = &g->nodes[i];
    Op op = n->op;
    while (!at_eol(x) && *x->p != ':') {
        Span ks = at(x);
        char *key = word(x);
        if (!key || expect(x, '='))
            return -1;
        int bad = 0, ak = attr_index(op, key), fam = 0;
        if (ak >= 0)
            bad = parse_num(x, &n->attr[ak]);
        else if ((fam = op_hooks[op].parse(x, n, key)) != 0)
            bad = fam < 0;
        else if (!strcmp(key, "packed")) {
            char *w = word(x);
            n->packed = w && !strcmp(w, "oi+panel") ? 5 : w && !strcmp(w, "panel") ? 2 : w && !strcmp(w, "bf16") ? 3 : w && !strcmp(w, "direct") ? 4 : 1;
            bad = !w || (strcmp(w, "oi") && strcmp(w, "oi+panel") && strcmp(w, "panel") && strcmp(w, "bf16") &&
                          strcmp(w, "direct"));
        } else if (!strcmp(key, "act")) {
            Span as = at(x);
            char *w = word(x);
            char *paren = w ? strchr(w, '(') : NULL;
            if (paren) {
                *paren = '\0';
                n->fused_param = strtod(paren + 1, NULL);
            }
            int a = w ? op_lookup(w) : -1;
            if (a < 0 || !(op_info[a].flags & OPF_ACT) || op_nattr(a) > 1) {
                diag_error(x->d, as, "act= expects an activation of at most one parameter");
                return -1;
            }
            n->fused_act = a;
        } else if (!strcmp(key, "params")) {
            for (;;) {
                if (n->nparam == NNC_MAX_NODE_PARAMS) {
                    diag_error(x->d, at(x), "too many parameters");
                    return -1;
                }
                int p = param_ref(x, g, 0);
                if (p < 0)
                    return -1;
                ir_param_push(g, i, p);
                n = &g->nodes[i];
                skip_ws(x);
                if (*x->p != ',')
                    break;
                x->p++;
            }
        } else {
            diag_error(x->d, ks, "unknown attribute '%s' of %s", key, op_info[op].name);
            return -1;
        }
        if (bad) {
            if (!x->d->nerrors)
                diag_error(x->d, ks, "bad value of %s", key);
            return -1;
        }
    }
    return 0;
}

static int parse_node(Lx *x, Graph *g, int id, Span sp)
{
    if (expect(x, '='))
        return -1;
    skip_ws(x);
    Span os = at(x);
    char *opname = word(x);
    int op = opname ? op_lookup_ir(opname) : -1;
    if (op < 0) {
        diag_error(x->d, os, "unknown op '%s'", opname ? opname : "");
        return -1;
    }
    if (id < g->nnodes) {
        diag_error(x->d, sp, "node %%%d: numbers must increase", id);
        return -1;
    }
    int in[NNC_MAX_NODE_INPUTS];
    /* an op that reads nothing (arange) goes straight to its attributes */
    int nin = op_info[op].nin == 0 ? 0 : parse_vals(x, g, in, NNC_MAX_NODE_INPUTS);
    if (nin < 0)
        return -1;
    if (op_info[op].nin >= 0 ? nin != op_info[op].nin && !(op_info[op].flags & OPF_RESIDUAL && nin == op_info[op].nin + 1)
                             : nin < 1) {
        diag_error(x->d, sp, "%s reads %d value%s, not %d", op_info[op].name, op_info[op].nin,
                   op_info[op].nin == 1 ? "" : "s", nin);
        return -1;
    }
    while (g->nnodes < id) {
        int gap = ir_add_node(g, OP_IDENTITY);   /* may move g->nodes */
        ir_kill(g, gap);
    }
    int i = ir_add_node(g, (Op)op);
    for (int k = 0; k < nin; k++)
        ir_read(g, i, in[k]);
    Node *n = &g->nodes[i];
    n->span = sp;
    /* attributes a line leaves out keep ir_add_node's defaults (PyTorch's) */
    if (parse_attrs(x, g, i))
        return -1;
    n = &g->nodes[i];
    int want = op_hooks[n->op].nparams(n);
    if (n->nparam != want) {
        diag_error(x->d, sp, "%s needs %d parameters in params=, it has %d", op_info[op].name, want, n->nparam);
        return -1;
    }
    char why[256];
    if (op_hooks[n->op].verify(g, n, why, sizeof why)) {
        diag_error(x->d, sp, "%s", why);
        return -1;
    }
    if (expect(x, ':'))
        return -1;
    Shape s;
    if (parse_shape(x, &s.ndim, s.d))
        return -1;
    if (n->op == OP_RESHAPE) {
        memset(&n->shape, 0, sizeof n->shape);
        n->shape.ndim = s.ndim;
        memcpy(n->shape.d, s.d, sizeof(int64_t) * (size_t)s.ndim);
    }   /* reshape's target is the shape written */
    if (op_hooks[op].shape(g, n, x->d))
        return -1;
    n = &g->nodes[i];
    if (memcmp(&s.d, &n->shape.d, sizeof(int64_t) * (size_t)s.ndim) || s.ndim != n->shape.ndim) {
        char b1[64], b2[64];
        diag_error(x->d, sp, "%%%d: the shape written is %s, the op gives %s", id, shape_str(&s, b1, sizeof b1),
                   shape_str(&n->shape, b2, sizeof b2));
        return -1;
    }
    return 0;
}

Graph *ir_parse(const SrcFile *src, Diag *d)
{
    Graph *g = ir_new_graph("model", src->path);
    Lx x = {src->text, src->text, 1, d};
    int have_nodes = 0, have_output = 0;
    while (*x.p) {
        x.line_start = x.p;
        int errs = d->nerrors;
        if (!at_eol(&x)) {
            Span sp = at(&x);
            char *kw = word(&x);
            if (!kw) {
                diag_error(d, sp, "expected a statement");
            } else if (have_output && strcmp(kw, "planned")) {
                diag_error(d, sp, "nothing but 'planned' may follow the output line");
            } else if (!strcmp(kw, "model")) {
                char *name = word(&x);
                if (!name)
                    diag_error(d, at(&x), "expected the model's name");
                else
                    g->name = name;
            } else if (!strcmp(kw, "input")) {
                Shape s = {0, {0}};     /* unused dimensions zero: shapes compare whole */
                if (have_nodes)
                    diag_error(d, sp, "the input lines must come before the nodes");
                else if (g->ninputs == NNC_MAX_GRAPH_IO)
                    diag_error(d, sp, "more than %d inputs", NNC_MAX_GRAPH_IO);
                else if (!parse_shape(&x, &s.ndim, s.d)) {
                    if (s.ndim == 0)
                        diag_error(d, sp, "an input needs at least one dimension");
                    int k = ir_input_index(ir_add_input(g, &s));
                    parse_input_int(&x, g, k);
                }
            } else if (!strcmp(kw, "param")) {
                parse_param(&x, g);
            } else if (!strcmp(kw, "tie")) {
                parse_tie(&x, g);
            } else if (!strcmp(kw, "fold-linear") || !strcmp(kw, "fold-bn") || !strcmp(kw, "pack-linear") ||
                       !strcmp(kw, "pack-linear-bf16") || !strcmp(kw, "pack-conv") || !strcmp(kw, "pack-conv-panel")) {
                parse_fold(&x, g, !strcmp(kw, "fold-bn") ? FOLD_BN : !strcmp(kw, "pack-linear") ? FOLD_PACK
                                  : !strcmp(kw, "pack-conv") ? FOLD_PACK_CONV
                                  : !strcmp(kw, "pack-conv-panel") ? FOLD_PACK_CONV_PANEL
                                  : !strcmp(kw, "pack-linear-bf16") ? FOLD_PACK_BF16 : FOLD_LINEAR);
            } else if (!strcmp(kw, "output")) {
                int nout = g->ninputs ? parse_vals(&x, g, g->outputs, NNC_MAX_GRAPH_IO) : -1;
                if (!g->ninputs)
                    diag_error(d, sp, "no input line before the output");
                g->noutputs = nout > 0 ? nout : 0;
                have_output = 1;
            } else if (!strcmp(kw, "planned")) {
                g->planned = 1;
            } else if (kw[0] == '%' && isdigit((unsigned char)kw[1])) {
                if (!g->ninputs)
                    diag_error(d, sp, "the input line must come before the nodes");
                else
                    parse_node(&x, g, atoi(kw + 1), sp);
                have_nodes = 1;
            } else {
                diag_error(d, sp, "unknown statement '%s'", kw);
            }
            if (d->nerrors == errs && !at_eol(&x))
                diag_error(d, at(&x), "unexpected text at the end of the line");
        }
        while (*x.p && *x.p != '\n')
            x.p++;
        if (*x.p == '\n')
            x.p++;
        x.line++;
    }
    if (!d->nerrors && !g->ninputs)
        diag_error_nopos(d, "%s: no input line", src->path);
    if (!d->nerrors && !have_output)
        diag_error_nopos(d, "%s: no output line", src->path);
    if (d->nerrors)
        return NULL;
    ir_layout_params(g);
    return g;
}
