/* emit_c_step.c — NAME_step: the forward of a causal sequence model for a
 * few new positions of one sequence against a key/value cache, what
 * `PROG generate` runs instead of recomputing the whole window per token.
 *
 * A model qualifies when its one int input is [T], its first output is
 * [T, V], and every value between them is "per position": its first
 * per-sample dimension is T and position t of it depends only on positions
 * <= t. The ops that keep that are position-wise (embedding of the tokens,
 * arange(T) — the position itself —, linear, layernorm over trailing
 * dimensions, activations, dropout, elementwise ops of two per-position
 * values of one shape, softmax over a trailing axis, reshapes that keep
 * the first dimension) and causal attention (multihead_attention and a
 * two-dimensional scaled_dot_product_attention with is_causal), whose keys
 * and values of earlier positions are what the cache holds. Anything else
 * (a reduction or transpose over positions, a recurrent layer, attention
 * without the mask) and the model gets no step: generate recomputes.
 *
 * The step is the forward of a copy of the graph whose first dimension is
 * 1, with the positions as the batch (n new positions: "n" of every
 * kernel call), arange giving pos + i, and each attention node calling
 * its cached kernel (nnr_mha_step_f32, nnr_sdpa_step_f32) on its own
 * slice of the cache. */
#include <string.h>

#include "emit_c.h"
#include "../ops/ops.h"
#include "../passes/pass.h"

/* Does node nd keep its value per position, given its inputs' (seq[v + 1]:
 * value v is per position)? */
static int node_seq(const Graph *g, const Node *nd, const char *seq, int64_t T)
{
    const Shape *in = nd->nin > 0 ? ir_value_shape(g, nd->in[0]) : NULL;
    if (nd->shape.ndim < 1 || nd->shape.d[0] != T)
        return 0;
    for (int k = 0; k < nd->nin; k++)
        if (!seq[nd->in[k] + 1] || ir_value_shape(g, nd->in[k])->d[0] != T)
            return 0;
    switch (nd->op) {
    case OP_ARANGE:
        return nd->attr[0] == (double)T && nd->shape.ndim == 1;
    case OP_EMBEDDING:
        return in->ndim == 1;
    case OP_LINEAR:
        return in->ndim >= 2;
    case OP_LAYERNORM:
        return nd->layernorm.ndim < in->ndim;
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
        return nd->softmax.axis > 0;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: {
        const Shape *b = ir_value_shape(g, nd->in[1]);
        return b->ndim == in->ndim && !memcmp(b->d, in->d, sizeof b->d[0] * (size_t)b->ndim);
    }
    case OP_ADD_SCALAR: case OP_RSUB_SCALAR: case OP_MUL_SCALAR: case OP_DIV_SCALAR:
    case OP_RDIV_SCALAR: case OP_DROPOUT: case OP_IDENTITY:
        return 1;
    case OP_RESHAPE: case OP_FLATTEN:
        return in->ndim >= 1;       /* the first dimension is T on both sides */
    case OP_MHA:
        return nd->mha.is_causal != 0 && in->ndim == 2;
    case OP_SDPA:
        return nd->attr[0] != 0 && in->ndim == 2;
    default:
        return (op_info[nd->op].flags & OPF_ACT) != 0;
    }
}

int emit_c_step_ok(const Graph *g)
{
    if (g->ninputs != 1 || !g->input_int[0] || g->input.ndim != 1 || g->noutputs != 1 || ir_output(g) < 0)
        return 0;
    int64_t T = g->input.d[0];
    const Shape *os = ir_value_shape(g, ir_output(g));
    if (os->ndim != 2 || os->d[0] != T)
        return 0;
    char *seq = xcalloc((size_t)g->nnodes + 2, 1);
    seq[0] = 1;     /* the tokens */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = &g->nodes[i];
        if (nd->dead)
            continue;
        if (!node_seq(g, nd, seq, T))
            return 0;
        seq[i + 1] = 1;
    }
    return 1;
}

/* Floats of cache of attention node nd: its keys and values of T positions. */
static int64_t cache_of(const Graph *g, const Node *nd, int64_t T, int64_t *kw, int64_t *vw)
{
    *kw = ir_value_shape(g, nd->in[nd->op == OP_MHA ? 0 : 1])->d[1];
    *vw = nd->op == OP_MHA ? *kw : ir_value_shape(g, nd->in[2])->d[1];
    return T * (*kw + *vw);
}

int64_t emit_c_step_cache_size(const Graph *g)
{
    int64_t T = g->input.d[0], total = 0, kw, vw;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && (g->nodes[i].op == OP_MHA || g->nodes[i].op == OP_SDPA))
            total += cache_of(g, &g->nodes[i], T, &kw, &vw);
    return total;
}

void emit_c_step_decls(const Graph *g, FILE *out)
{
    const char *n = g->name;
    fprintf(out, "/* Generation with a key/value cache (the model is causal, position by\n"
                 " * position elsewhere): y[n, %lld] for the n = ctx->n new positions\n"
                 " * pos .. pos + n - 1 (pos = ctx->pos, pos + n <= %lld) of one sequence,\n"
                 " * x[n] their tokens; ctx->cache holds the keys and values of positions\n"
                 " * < pos and gets theirs; ctx->params as for forward, ctx->arena\n"
                 " * %s_step_arena_size(n) floats. The same numbers as %s_forward's rows of\n"
                 " * a window holding the sequence from position 0. */\n",
            (long long)ir_value_shape(g, ir_output(g))->d[1], (long long)g->input.d[0], n, n);
    fprintf(out, "#define %s_STEP_CACHE_SIZE %lld\n", emit_c_upper(n), (long long)emit_c_step_cache_size(g));
    fprintf(out, "size_t %s_step_arena_size(int n);\n", n);
    fprintf(out, "void %s_step(const nnr_ctx *ctx, const float *x, float *y);\n\n", n);
}

/* The graph of one position: every value's first dimension 1. */
static Graph *step_graph(const Graph *g)
{
    Graph *s = ir_clone(g);
    s->input.d[0] = 1;
    for (int i = 0; i < s->nnodes; i++) {
        Node *nd = &s->nodes[i];
        if (nd->dead)
            continue;
        nd->shape.d[0] = 1;
        if (nd->op == OP_ARANGE)
            nd->attr[0] = 1;
    }
    return s;
}

/* An attention node's cached call; kc, vc its slice of the cache. */
static void emit_attn_step(const EmitCtx *e, const Node *nd, const char *kc, const char *vc, int64_t kw,
                           int64_t vw)
{
    int self = (int)(nd - e->g->nodes);
    if (nd->op == OP_SDPA) {
        fprintf(e->out, "    nnr_sdpa_step_f32(pos, n, %lld, %lld, %s, %s, %s, %s, %s, %s);\n", (long long)kw,
                (long long)vw, VAL(e, nd->in[0]), VAL(e, nd->in[1]), VAL(e, nd->in[2]), kc, vc, VAL(e, self));
        return;
    }
    fprintf(e->out, "    nnr_mha_step_f32(&(const nnr_mha_shape){.embed_dim = %d, .num_heads = %d,\n"
                    "                                            .bias = %d, .is_causal = 1},\n"
                    "                     pos, n, %s, %s, %s, %s,\n                     %s, %s, %s);\n",
            (int)nd->mha.embed_dim, (int)nd->mha.num_heads, nd->mha.bias != 0, VAL(e, nd->in[0]), VAL(e, nd->in[1]),
            VAL(e, nd->in[2]), e->pexpr ? e->pexpr[nd->param[0]] : op_pexpr(e->P, e->g, nd->param[0]), kc, vc,
            VAL(e, self));
}

/* The step's buffer of each value: x, y, or tI in the arena. */
static const char **step_values(const Graph *s, const MemPlan *mp)
{
    const char **val = emit_c_value_array(s);
    val[0] = "x";
    for (int i = 0; i < s->nnodes; i++) {
        if (s->nodes[i].dead)
            continue;
        val[i + 1] = mp->root[i] != i ? val[mp->root[i] + 1] : mp->y_root == i ? "y" : xasprintf("t%d", i);
    }
    return val;
}

void emit_c_step(const Graph *g, const char **pexpr, FILE *out)
{
    const char *name = g->name, *file = emit_c_relpath(g->file);
    Graph *s = step_graph(g);
    MemPlan mp;
    memplan_inference(s, &mp);
    int64_t T = g->input.d[0], off = 0, kw, vw;
    emit_c_scratch_fn(s, NULL, out, xasprintf("%s_step_arena_size", name), mp.per_sample, 0);
    const char **val = step_values(s, &mp);
    int attn = 0, arange = 0;   /* what reads ctx->cache, and ctx->pos */
    for (int i = 0; i < s->nnodes; i++) {
        attn |= !s->nodes[i].dead && (s->nodes[i].op == OP_MHA || s->nodes[i].op == OP_SDPA);
        arange |= !s->nodes[i].dead && s->nodes[i].op == OP_ARANGE;
    }
    fprintf(out, "void %s_step(const nnr_ctx *ctx, const float *x, float *y)\n{\n", name);
    fprintf(out, "    /* one sequence: the n new positions are the kernels' batch */\n"
                 "    const int n = ctx->n;\n");
    if (g->infer_size > 0)
        fprintf(out, "    const float *params = ctx->params;\n");
    if (mp.per_sample)
        fprintf(out, "    float *arena = ctx->arena;\n");
    if (attn)
        fprintf(out, "    float *cache = ctx->cache;\n");
    if (attn || arange)
        fprintf(out, "    int pos = ctx->pos;\n");
    EmitCtx e = {.out = out, .g = s, .val = val, .P = "params", .scratch = "scratch", .pexpr = pexpr};
    for (int i = 0; i < s->nnodes; i++) {
        const Node *nd = &s->nodes[i];
        char b[64];
        if (nd->dead)
            continue;
        if (mp.root[i] == i && mp.y_root != i)
            fprintf(out, "    float *t%d = arena%s; /* [n, %s */\n", i,
                    mp.offset[i] ? xasprintf(" + (size_t)n * %lld", (long long)mp.offset[i]) : "",
                    shape_str(&nd->shape, b, sizeof b) + 1);
        fprintf(out, "    /* %s:%d:%d: %s%s%s%s%s */\n", file, nd->span.line, nd->span.col, nd->label ? nd->label : "",
                nd->label ? " = " : "", op_info[nd->op].name, nd->fused_act >= 0 ? " + " : "",
                nd->fused_act >= 0 ? op_info[nd->fused_act].name : "");
        if (nd->op == OP_ARANGE) {
            fprintf(out, "    for (int i = 0; i < n; i++)\n        %s[i] = (float)(pos + i);\n", val[i + 1]);
        } else if (nd->op == OP_MHA || nd->op == OP_SDPA) {
            int64_t size = cache_of(g, &g->nodes[i], T, &kw, &vw);
            const char *kc = off ? xasprintf("cache + %lld", (long long)off) : "cache";
            const char *vc = xasprintf("cache + %lld", (long long)(off + T * kw));
            fprintf(out, "    /* its keys [%lld, %lld] and values [%lld, %lld] in the cache */\n", (long long)T,
                    (long long)kw, (long long)T, (long long)vw);
            emit_attn_step(&e, nd, kc, vc, kw, vw);
            off += size;
        } else {
            op_hooks[nd->op].emit(&e, nd);
        }
    }
    if (mp.y_root < 0)
        fprintf(out, "    memcpy(y, %s, (size_t)n * %lld * sizeof(float));\n", val[ir_output(s) + 1],
                (long long)shape_numel(ir_value_shape(s, ir_output(s))));
    fprintf(out, "}\n\n");
}
