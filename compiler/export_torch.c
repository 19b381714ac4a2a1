/* export_torch.c — a model's graph as a self-contained PyTorch script
 * (`nnc export FILE.nnet --torch -o model.py`, LANGUAGE.md §11).
 *
 * The script holds: a header saying where it came from and how to run it;
 * the model's inputs and outputs (INPUTS, OUTPUTS); one nn.Module class
 * whose submodules are nested by the parameters' dotted names, so that its
 * state_dict keys are exactly nnc's (`layer1.0.conv1.weight` is
 * self.layer1["0"].conv1.weight, containers being nn.ModuleDict), with one
 * forward line per node of the graph as lowered (before the optimisation
 * passes, so every op of the table is met as the user wrote it); and a
 * main that reads a .safetensors or .pth file and CSV rows and prints what
 * `PROG infer --weights W` prints (%.9g, outputs in return order on one
 * row). A layer called twice is one module called twice. The script is
 * inference only: the module runs in eval(). */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_torch.h"

/* Python's keywords: a submodule so named is reached as getattr(self,
 * "name") or container["name"]. */
static const char *const keywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", NULL,
};

/* The methods and attributes of nn.Module and nn.ModuleDict: add_module
 * refuses them as names, so a submodule so named is put in and reached
 * through the parent's _modules (as the state_dict finds it). */
static const char *const module_attrs[] = {
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "clear", "compile", "cpu", "cuda", "double", "dump_patches", "eval",
    "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter",
    "get_submodule", "half", "ipu", "items", "keys", "load_state_dict", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "pop",
    "register_backward_hook", "register_buffer", "register_forward_hook",
    "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "smart_apply", "state_dict", "to",
    "to_empty", "train", "training", "type", "update", "values", "xpu", "zero_grad", NULL,
};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* Can `name` be written as an attribute (self.name)? */
static int attr_ok(const char *name)
{
    if (!(isalpha((unsigned char)name[0])))
        return 0;       /* digits, and _private names */
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return 0;
    return !in_list(keywords, name) && !in_list(module_attrs, name);
}

/* A Python string literal of a name ("\"0\""). Names are identifiers and
 * digits joined by dots, so no character needs escaping; any other is. */
static char *pystr(const char *s)
{
    size_t n = strlen(s);
    char *o = xmalloc(4 * n + 3), *p = o;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            p += sprintf(p, "\\%c", c);
        else if (c < 32 || c > 126)
            p += sprintf(p, "\\x%02x", c);
        else
            *p++ = (char)c;
    }
    *p++ = '"';
    *p = 0;
    return o;
}

/* The modules of the class, one per path (a parameter name without its
 * last component): leaves are layers, the others nn.ModuleDict. */
typedef struct XtMod {
    char *path;
    char *expr;         /* how forward reaches it */
    int leaf;           /* a layer: node `node` makes it */
    int node;
} XtMod;

typedef struct Xt {
    const Graph *g;
    Diag *d;
    FILE *o;
    XtMod *mods;
    int nmods;
    char **mod_of;      /* [node]: the expression of its module, or NULL */
    char **val;         /* [node + ninputs]: Python name of each value */
} Xt;

static XtMod *find_mod(Xt *x, const char *path)
{
    for (int i = 0; i < x->nmods; i++)
        if (strcmp(x->mods[i].path, path) == 0)
            return &x->mods[i];
    return NULL;
}

/* The module at `path`, created (with its containers) when new: its
 * registration is printed to x->o. */
static XtMod *add_mod(Xt *x, const char *path, int leaf, int node, const char *ctor)
{
    XtMod *m = find_mod(x, path);
    if (m)
        return m;
    const char *dot = strrchr(path, '.');
    const char *parent = "self", *comp = path;
    int parent_root = 1;
    if (dot) {
        char *pp = xstrndup(path, (size_t)(dot - path));
        XtMod *pm = add_mod(x, pp, 0, -1, "nn.ModuleDict()");
        parent = pm->expr;
        comp = dot + 1;
        parent_root = 0;
    }
    char *expr, *reg;
    if (attr_ok(comp)) {
        expr = xasprintf("%s.%s", parent, comp);
        reg = xasprintf("%s = %s", expr, ctor);
    } else if (in_list(module_attrs, comp) || comp[0] == '_') {
        expr = xasprintf("%s._modules[%s]", parent, pystr(comp));
        reg = xasprintf("%s = %s", expr, ctor);
    } else if (parent_root) {
        expr = xasprintf("getattr(self, %s)", pystr(comp));
        reg = xasprintf("self.add_module(%s, %s)", pystr(comp), ctor);
    } else {
        expr = xasprintf("%s[%s]", parent, pystr(comp));
        reg = xasprintf("%s = %s", expr, ctor);
    }
    fprintf(x->o, "        %s\n", reg);
    x->mods = xrealloc(x->mods, (size_t)(x->nmods + 1) * sizeof *x->mods);
    x->mods[x->nmods] = (XtMod){xstrdup(path), expr, leaf, node};
    return &x->mods[x->nmods++];
}

/* The path of node n's module: its label (the state_dict prefix of a
 * named layer: "fc", "layer1.0.conv1"), else its first parameter's name
 * without the last component ("0.weight": "0"). */
static char *mod_path(const Graph *g, const Node *n)
{
    const char *name = ir_param_name(g, n, 0);
    size_t ll = n->label ? strlen(n->label) : 0;
    if (ll && strncmp(name, n->label, ll) == 0 && name[ll] == '.')
        return xstrdup(n->label);
    const char *dot = strrchr(name, '.');
    return dot ? xstrndup(name, (size_t)(dot - name)) : xstrdup(name);
}

static int has_params(const Node *n)
{
    return n->nparam > 0 && n->param[0] >= 0;
}

/* Why node n, changed by an optimisation pass, has no PyTorch spelling
 * (a fused activation, a weight in a kernel's layout, a folded or packed
 * parameter that no state_dict holds), or NULL. */
static const char *pass_made(const Graph *g, const Node *n)
{
    if (n->fused_act >= 0)
        return xasprintf("its activation %s was fused into it", op_info[n->fused_act].name);
    if (n->packed)
        return "its weight is in a kernel's layout";
    for (int k = 0; k < n->nparam; k++)
        if (n->param[k] >= 0 && g->params[n->param[k]].fold)
            return xasprintf("it reads '%s', derived by a pass", g->params[n->param[k]].name);
    return NULL;
}

/* "layer 'fc'", "layer 3" (a position in a sequence) or "node %5" for
 * messages (the diagnostic's position says where it is). */
static char *layer_desc(const Graph *g, const Node *n)
{
    if (n->label)
        return xasprintf("layer '%s'", n->label);
    if (n->layer >= 0)
        return xasprintf("layer %d", n->layer);
    return xasprintf("node %%%d", (int)(n - g->nodes));
}

/* A nested list of the values of tensor t from dimension k on. */
static void emit_list(FILE *o, const float **v, const int64_t *shape, int ndim, int k)
{
    if (k == ndim) {
        fprintf(o, "%.9g", (double)*(*v)++);
        return;
    }
    fprintf(o, "[");
    for (int64_t i = 0; i < shape[k]; i++) {
        if (i)
            fprintf(o, ", ");
        emit_list(o, v, shape, ndim, k + 1);
    }
    fprintf(o, "]");
}

/* Parameters whose values the model gives (literals) set in __init__. */
static void emit_literals(Xt *x)
{
    const Graph *g = x->g;
    int first = 1;
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        const char *dot = strrchr(p->name, '.');
        XtMod *m = p->literal && p->data && dot ? find_mod(x, xstrndup(p->name, (size_t)(dot - p->name)))
                                                : NULL;
        if (!m || !m->leaf)
            continue;
        if (first)
            fprintf(x->o, "        # the values the model gives (literals)\n"
                    "        with torch.no_grad():\n");
        first = 0;
        const float *v = p->data;
        fprintf(x->o, "            %s.%s.copy_(torch.tensor(", m->expr, dot + 1);
        emit_list(x->o, &v, p->shape, p->ndim, 0);
        fprintf(x->o, "))\n");
    }
}

/* Where node n's first parameter is in the state_dict (twice its index; a
 * tied one, twice its tie's place less one: just before that parameter). */
static int sd_place(const Graph *g, const Node *n)
{
    const Tie *t = ir_tie_of(g, n->param[0], n->layer);
    return t ? 2 * t->before - 1 : 2 * n->param[0];
}

/* The tying lines of node nd's module (registered as expr):
 * `self.lm_head.weight = self.wte.weight`, as PyTorch ties weights. */
static void emit_ties(Xt *x, const Node *nd, const char *expr)
{
    const Graph *g = x->g;
    for (int k = 0; k < nd->nparam; k++) {
        const Tie *t = nd->param[k] >= 0 ? ir_tie_of(g, nd->param[k], nd->layer) : NULL;
        if (!t)
            continue;
        const char *own = g->params[t->param].name, *dot = strrchr(own, '.'), *tdot = strrchr(t->name, '.');
        XtMod *om = dot ? find_mod(x, xstrndup(own, (size_t)(dot - own))) : NULL;
        if (om && tdot)
            fprintf(x->o, "        %s.%s = %s.%s  # weight tying: one tensor\n", expr, tdot + 1, om->expr, dot + 1);
    }
}

/* __init__: the modules in the order of their first parameter (the
 * state_dict's order). 0, or -1 after a diagnostic. */
static int emit_init(Xt *x)
{
    const Graph *g = x->g;
    int *order = xcalloc((size_t)g->nnodes + 1, sizeof *order), n = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && has_params(&g->nodes[i]))
            order[n++] = i;
    for (int a = 1; a < n; a++)     /* insertion sort by first parameter: stable */
        for (int b = a; b > 0 && sd_place(g, &g->nodes[order[b - 1]]) > sd_place(g, &g->nodes[order[b]]); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    fprintf(x->o, "    def __init__(self):\n        super().__init__()\n");
    int bad = 0;
    for (int k = 0; k < n; k++) {
        const Node *nd = &g->nodes[order[k]];
        char *path = mod_path(g, nd);
        XtMod *m = find_mod(x, path);
        if (m && m->leaf) {     /* the same layer called again */
            x->mod_of[order[k]] = m->expr;
            continue;
        }
        const char *why = pass_made(g, nd);
        char *ctor = why ? NULL : xt_module(g, nd);
        if (why) {
            diag_error(x->d, nd->span, "export --torch: %s: the op '%s' has no PyTorch spelling "
                       "here: %s (export the model before the optimisation passes)",
                       layer_desc(g, nd), op_info[nd->op].name, why);
            bad = 1;
            continue;
        }
        if (!ctor) {
            diag_error(x->d, nd->span, "export --torch: %s: the op '%s' has no PyTorch spelling",
                       layer_desc(g, nd), op_info[nd->op].name);
            bad = 1;
            continue;
        }
        if (m) {
            diag_error(x->d, nd->span, "export --torch: %s: the parameters '%s.*' are also a "
                       "container of other layers", layer_desc(g, nd), path);
            bad = 1;
            continue;
        }
        x->mod_of[order[k]] = add_mod(x, path, 1, order[k], ctor)->expr;
        emit_ties(x, nd, x->mod_of[order[k]]);
    }
    if (!bad)
        emit_literals(x);
    if (n == 0)
        fprintf(x->o, "        pass\n");
    free(order);
    return bad ? -1 : 0;
}

/* Can input k be called by its .nnet name in forward? Not when it could
 * be taken for another name there (h3, self, torch, F, ...). */
static int input_name_ok(const Graph *g, int k)
{
    static const char *const taken[] = {"self", "torch", "nn", "F", "math", "sys", "json",
                                        "OrderedDict", "B", NULL};
    const char *s = g->input_name[k];
    if (!s || !attr_ok(s))
        return 0;
    if (s[0] == 'h' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1))
        return 0;
    for (int i = 0; taken[i]; i++)
        if (!strcmp(s, taken[i]))
            return 0;
    for (int j = 0; j < k; j++)
        if (g->input_name[j] && !strcmp(g->input_name[j], s))
            return 0;
    return 1;
}

/* The Python names of the values: each input its .nnet name where it has
 * one that can be (else x, or x0, x1, ... when several), node i h<i>. */
static void name_values(Xt *x)
{
    const Graph *g = x->g;
    x->val = xcalloc((size_t)(g->nnodes + g->ninputs), sizeof *x->val);
    for (int k = 0; k < g->ninputs; k++)
        x->val[k] = input_name_ok(g, k) ? xstrdup(g->input_name[k])
                    : g->ninputs == 1 ? xstrdup("x") : xasprintf("x%d", k);
    for (int k = 0; k < g->ninputs; k++)    /* x1 given as a name, and x1 for an unnamed one */
        for (int j = 0; j < g->ninputs; j++)
            if (j != k && !strcmp(x->val[j], x->val[k]) && !input_name_ok(g, k))
                x->val[k] = xasprintf("input%d", k);
    for (int i = 0; i < g->nnodes; i++)
        x->val[g->ninputs + i] = xasprintf("h%d", i);
}

static const char *val_name(const Xt *x, int v)
{
    return v < 0 ? x->val[ir_input_index(v)] : x->val[x->g->ninputs + v];
}

/* "[B, 64, 8, 8]" of a value of shape s. */
static char *batch_shape(const Shape *s)
{
    char *t = xstrdup("[B");
    for (int i = 0; i < s->ndim; i++)
        t = xasprintf("%s, %lld", t, (long long)s->d[i]);
    return xasprintf("%s]", t);
}

/* forward: one line per live node. 0, or -1 after a diagnostic. */
static int emit_forward(Xt *x)
{
    const Graph *g = x->g;
    fprintf(x->o, "\n    def forward(self");
    for (int k = 0; k < g->ninputs; k++)
        fprintf(x->o, ", %s", x->val[k]);
    fprintf(x->o, "):\n");
    for (int k = 0; k < g->ninputs; k++)
        fprintf(x->o, "        # %s: %s\n", x->val[k], batch_shape(&g->inputs[k]));
    int batch = 0;
    for (int i = 0; i < g->nnodes; i++)
        batch |= !g->nodes[i].dead && (xt_helpers(&g->nodes[i]) & XT_H_BATCH);
    if (batch && g->ninputs > 0)
        fprintf(x->o, "        B = %s.shape[0]\n", x->val[0]);
    int bad = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        char *in[NNC_MAX_NODE_INPUTS];
        for (int k = 0; k < n->nin; k++)
            in[k] = (char *)val_name(x, n->in[k]);
        const char *why = pass_made(g, n);
        char *e = why ? NULL : xt_forward(g, n, x->mod_of[i], in);
        if (!e) {
            if (has_params(n))      /* emit_init said it */
                ;
            else if (why)
                diag_error(x->d, n->span, "export --torch: %s: the op '%s' has no PyTorch spelling "
                           "here: %s (export the model before the optimisation passes)",
                           layer_desc(g, n), op_info[n->op].name, why);
            else
                diag_error(x->d, n->span, "export --torch: %s: the op '%s' has no PyTorch spelling",
                           layer_desc(g, n), op_info[n->op].name);
            bad = 1;
            continue;
        }
        fprintf(x->o, "        %s = %s  # %s\n", val_name(x, i), e,
                n->op == OP_LSTM ? "(out, (h_n, c_n)), read below"
                : n->op == OP_GRU ? "(out, h_n), read below" : batch_shape(&n->shape));
    }
    fprintf(x->o, "        return ");
    for (int k = 0; k < g->noutputs; k++)
        fprintf(x->o, "%s%s", k ? ", " : "", val_name(x, g->outputs[k]));
    fprintf(x->o, "\n");
    return bad ? -1 : 0;
}

/* The class name: the model's name in CamelCase ("mnist_cnn": MnistCnn). */
static char *class_name(const char *model)
{
    char *s = xmalloc(strlen(model) + 8), *p = s;
    int up = 1;
    for (const char *c = model; *c; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        *p++ = up ? (char)toupper((unsigned char)*c) : *c;
        up = 0;
    }
    *p = 0;
    if (!s[0] || isdigit((unsigned char)s[0]) || !strcmp(s, "F") || !strcmp(s, "OrderedDict"))
        return xasprintf("Net%s", s);
    return s;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Does input k hold integers (declared int, or read by an embedding as
 * indices)? *below: the bound they stay below (the graph's, else the
 * smallest num_embeddings of the embeddings that read it; 0: none). */
static int input_is_index(const Graph *g, int k, int64_t *below)
{
    int is_int = g->input_int[k];
    *below = is_int ? g->input_int_below[k] : 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_EMBEDDING || n->in[0] != IR_INPUT(k))
            continue;
        int64_t num = (int64_t)n->attr[0];
        if (!is_int || !g->input_int_below[k])
            *below = !*below || num < *below ? num : *below;
        is_int = 1;
    }
    return is_int;
}

/* "model" of "out/model.py". */
static char *module_name(const char *script)
{
    char *s = xstrdup(script);
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = 0;
    return s;
}

static void emit_header(Xt *x, const char *source, const char *script, const char *cls)
{
    const Graph *g = x->g;
    fprintf(x->o,
            "# PyTorch module of model '%s' of %s, written by `nnc export --torch`.\n"
            "#\n"
            "#   python3 %s WEIGHTS < rows.csv\n"
            "#\n"
            "# WEIGHTS is a .safetensors or .pth state_dict with nnc's parameter names\n"
            "# (what `PROG train --save` writes, or torch.save(model.state_dict(), ...)).\n"
            "# Each CSV row holds one sample: the inputs' values one after the other;\n"
            "# each output row the outputs' values (%%.9g), as `PROG infer --weights\n"
            "# WEIGHTS` prints them. Inference only: the module runs in eval() mode\n"
            "# (dropout off, batch norm on its running statistics).\n"
            "#\n"
            "# As a module: `from %s import %s, read_weights`.\n"
            "import json\n"
            "import math\n"
            "import sys\n"
            "from collections import OrderedDict\n"
            "\n"
            "import torch\n"
            "import torch.nn.functional as F\n"
            "from torch import nn\n"
            "\n",
            g->name, base_name(source), script, module_name(script), cls);
    fprintf(x->o, "# each input, in order: (name, shape of one sample, holds integers,\n"
            "# the bound its integers stay below or 0)\nINPUTS = [");
    for (int k = 0; k < g->ninputs; k++) {
        fprintf(x->o, "%s(%s, [", k ? ", " : "", pystr(x->val[k]));
        for (int i = 0; i < g->inputs[k].ndim; i++)
            fprintf(x->o, "%s%lld", i ? ", " : "", (long long)g->inputs[k].d[i]);
        int64_t below = 0;
        int is_int = input_is_index(g, k, &below);
        fprintf(x->o, "], %s, %lld)", is_int ? "True" : "False", (long long)below);
    }
    fprintf(x->o, "]\n# shape of one sample of each output, in return order\nOUTPUTS = [");
    for (int k = 0; k < g->noutputs; k++) {
        const Shape *s = ir_value_shape(g, g->outputs[k]);
        fprintf(x->o, "%s[", k ? ", " : "");
        for (int i = 0; i < s->ndim; i++)
            fprintf(x->o, "%s%lld", i ? ", " : "", (long long)s->d[i]);
        fprintf(x->o, "]");
    }
    fprintf(x->o, "]\n\n\n");
}

/* The helpers some spellings call (xt_helpers), before the class. */
static void emit_helpers(FILE *o, int helpers)
{
    if (helpers & XT_H_NOBIAS)
        fputs("def _without_bias(module):\n"
              "    \"\"\"module without its bias parameter (nn.LayerNorm(..., bias=False)\n"
              "    of PyTorch 2.1, on any version).\"\"\"\n"
              "    module.bias = None\n"
              "    return module\n\n\n", o);
    if (helpers & XT_H_SDPA)
        fputs("def _sdpa(q, k, v, is_causal=False):\n"
              "    \"\"\"F.scaled_dot_product_attention(q, k, v, is_causal=is_causal) (scale\n"
              "    1/sqrt(E), no dropout), spelled out where PyTorch (before 2.0) lacks it.\"\"\"\n"
              "    if hasattr(F, \"scaled_dot_product_attention\"):\n"
              "        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)\n"
              "    s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])\n"
              "    if is_causal:\n"
              "        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()\n"
              "        s = s.masked_fill(~keep, float(\"-inf\"))\n"
              "    return torch.matmul(torch.softmax(s, dim=-1), v)\n\n\n", o);
    if (helpers & XT_H_CAUSAL)
        fputs("def _causal_mask(q, k):\n"
              "    \"\"\"The attn_mask of is_causal=True for batch-first q [B, L, E] and\n"
              "    k [B, S, E]: True above the diagonal (masked).\"\"\"\n"
              "    return torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).triu(1)\n\n\n", o);
}

char *export_torch(const Graph *g, const char *source, const char *script, Diag *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);
    if (!o)
        nnc_out_of_memory();
    Xt x = {g, d, o, NULL, 0, xcalloc((size_t)g->nnodes + 1, sizeof(char *)), NULL};
    name_values(&x);
    char *cls = class_name(g->name);
    emit_header(&x, source, base_name(script), cls);
    int helpers = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead)
            helpers |= xt_helpers(&g->nodes[i]);
    emit_helpers(o, helpers);
    fprintf(o, "class %s(nn.Module):\n", cls);
    fprintf(o, "    \"\"\"Model '%s' of %s.\"\"\"\n\n", g->name, base_name(source));
    int bad = emit_init(&x);
    bad |= emit_forward(&x);
    int need = 0;   /* a parameter whose value only a weights file gives */
    for (int i = 0; i < g->nparams; i++)
        need |= !(g->params[i].literal && g->params[i].data);
    fprintf(o, "\n\nMODEL_CLASS = %s\n# whether WEIGHTS must be given (the model's literals are in __init__)\n"
            "HAS_PARAMETERS = %s\n", cls, need ? "True" : "False");
    for (int i = 0; xt_python_main[i]; i++)
        fprintf(o, "%s\n", xt_python_main[i]);
    if (fclose(o) != 0)
        nnc_out_of_memory();
    if (bad) {
        free(text);
        return NULL;
    }
    return text;
}
