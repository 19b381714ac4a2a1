/* prog_generate.c — `PROG generate` (LANGUAGE.md §10) for a model with one
 * int input [T] and one output [T, V]: autoregressive sampling, a byte per
 * token, written to standard output as it is made.
 *
 * The context starts as the prompt's bytes (a newline byte when the prompt
 * is empty). For each new token the model reads the window of the last T
 * tokens; while there are fewer than T the window is left-aligned and
 * padded with zeros, and the distribution is read at the last real
 * position, which is exact for a causal model (a position sees only those
 * before it). The logits are divided by the temperature (0: the argmax),
 * cut to the top k (0: all) and sampled from the seeded generator.
 *
 * A model with a step() (a causal model: the compiler emits it when every
 * layer is position by position or causal attention) keeps the keys and
 * values of the window's positions: while the window grows from position
 * 0, each token costs one position's forward. Once the window slides,
 * every position's token changes place (positions are counted in the
 * window, as in the recompute loop), so the whole window is computed
 * again, still by step(), from an emptied cache. NNR_NO_KV_CACHE=1 in the
 * environment makes it recompute with forward() (tests compare the two).
 * Every buffer lives in one block touched once before the loop (gen_alloc):
 * no page faults while generating. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1   /* madvise, MADV_HUGEPAGE */
#endif
#include "prog_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

typedef struct gen_opts {
    const char *prompt;
    long tokens;
    double temperature;
    long top_k;
    uint64_t seed;
} gen_opts;

/* The next token from logits l[0..v): temperature, top-k, then a draw. */
static int sample(const float *l, int v, const gen_opts *g, nnr_rng *rng, double *p)
{
    int best = 0;
    for (int j = 1; j < v; j++)
        if (l[j] > l[best]) best = j;
    if (g->temperature <= 0.0)
        return best;
    /* the k-th largest logit: everything below it is cut */
    double cut = -INFINITY;
    if (g->top_k > 0 && g->top_k < v) {
        for (int j = 0; j < v; j++) p[j] = l[j];
        for (long k = 0; k < g->top_k; k++) {   /* k passes of selection: v is small */
            int m = -1;
            for (int j = 0; j < v; j++)
                if (p[j] != -INFINITY && (m < 0 || p[j] > p[m])) m = j;
            cut = p[m];
            p[m] = -INFINITY;
        }
    }
    double sum = 0.0;
    for (int j = 0; j < v; j++) {
        p[j] = l[j] < cut ? 0.0 : exp(((double)l[j] - (double)l[best]) / g->temperature);
        sum += p[j];
    }
    double u = nnr_rng_uniform(rng) * sum, acc = 0.0;
    for (int j = 0; j < v; j++) {
        acc += p[j];
        if (u < acc && p[j] > 0.0)
            return j;
    }
    return best;
}

/* Every buffer of the loop in one block (gen_block): the parameters, the
 * window, the logits, the scratch, the key/value cache, the sampling
 * probabilities. */
typedef struct gen_bufs {
    float *block;
    float *state, *infer, *x, *y, *arena, *cache;
    double *p;
} gen_bufs;

#define GEN_HUGE ((size_t)2 << 20)  /* a transparent huge page */

/* Floats rounded up to a cache line's. */
static size_t gen_line(size_t floats)
{
    return (floats + 15) / 16 * 16;
}

/* One zeroed block for every buffer, touched here once: page faults are
 * expensive (under a virtualised MMU especially), and buffers allocated
 * one by one would fault page by page as generation first writes them
 * (the cache a page per eight positions and layer). The block is aligned
 * to 2 MiB and advised to use transparent huge pages where the system has
 * them (a fault per 2 MiB instead of per 4 KiB). Returns -1 when out of
 * memory. */
static int gen_alloc(const nnr_model *m, int64_t T, int64_t V, int cached, gen_bufs *b)
{
    size_t arena = m->arena_size ? m->arena_size(1) : 0;
    if (cached && m->step_arena_size((int)T) > arena)
        arena = m->step_arena_size((int)T);
    const size_t sz[7] = {gen_line(m->state_size), gen_line(m->infer_size), gen_line((size_t)T),
                          gen_line(prog_ysize(m)), gen_line(arena),
                          gen_line(cached ? m->step_cache_size : 0), gen_line(2 * (size_t)V)};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += sz[i];
    size_t bytes = (total * sizeof(float) + GEN_HUGE - 1) / GEN_HUGE * GEN_HUGE;
    void *blk = NULL;
    if (posix_memalign(&blk, GEN_HUGE, bytes))
        return -1;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(blk, bytes, MADV_HUGEPAGE);   /* advice only: works without */
#endif
    memset(blk, 0, bytes);
    float *f = b->block = blk, **dst[6] = {&b->state, &b->infer, &b->x, &b->y, &b->arena, &b->cache};
    for (int i = 0; i < 6; i++)
        *dst[i] = f, f += sz[i];
    b->p = (double *)(void *)f;
    return 0;
}

static int gen_parse(const nnr_model *m, const prog_opts *o, gen_opts *g)
{
    char *end;
    g->prompt = o->val[OPT_PROMPT] ? o->val[OPT_PROMPT] : "";
    g->tokens = 256, g->temperature = 1.0, g->top_k = 0;
    g->seed = o->val[OPT_SEED] ? o->seed : m->cfg.seed;
    if (o->val[OPT_TOKENS] && ((g->tokens = strtol(o->val[OPT_TOKENS], &end, 10)) < 0 || *end))
        return prog_usage_error(m, "--tokens expects a non-negative integer, got '%s'", o->val[OPT_TOKENS]);
    if (o->val[OPT_TEMPERATURE] &&
        (!((g->temperature = strtod(o->val[OPT_TEMPERATURE], &end)) >= 0.0) || *end || isinf(g->temperature)))
        return prog_usage_error(m, "--temperature expects a non-negative number, got '%s'", o->val[OPT_TEMPERATURE]);
    if (o->val[OPT_TOPK] && ((g->top_k = strtol(o->val[OPT_TOPK], &end, 10)) < 0 || *end))
        return prog_usage_error(m, "--top-k expects a non-negative integer, got '%s'", o->val[OPT_TOPK]);
    return -1;
}

/* The model must read one int input [T] and give [T, V] first. */
static int gen_check(const nnr_model *m, int64_t *t, int64_t *v)
{
    if (m->ninputs != 1 || m->in_ndim != 1 || !m->inputs[0].is_int || m->out_ndim != 2 ||
        m->out_shape[0] != m->in_shape[0]) {
        fprintf(stderr, "error: generate needs a model with one int input [T] and an output [T, V]\n");
        return -1;
    }
    *t = m->in_shape[0], *v = m->out_shape[1];
    if (*v > 256) {
        fprintf(stderr, "error: generate writes a byte per token, but the output has %lld classes (more than 256)\n",
                (long long)*v);
        return -1;
    }
    return 0;
}

int prog_cmd_generate(const nnr_model *m, const prog_opts *o)
{
    gen_opts g;
    int64_t T, V;
    int rc = gen_parse(m, o, &g);
    if (rc >= 0)
        return rc;
    if (gen_check(m, &T, &V))
        return EXIT_INPUT;
    int64_t below = m->inputs[0].int_below > 0 ? m->inputs[0].int_below : V;
    size_t plen = strlen(g.prompt), cap = (plen ? plen : 1) + (size_t)g.tokens;
    int32_t *ctx = malloc(cap * sizeof *ctx);
    const char *nc = getenv("NNR_NO_KV_CACHE");
    int cached = m->step && !(nc && *nc && strcmp(nc, "0"));
    gen_bufs b = {0};
    rc = EXIT_INPUT;
    if (!ctx || gen_alloc(m, T, V, cached, &b)) {
        prog_oom();
        goto out;
    }
    float *x = b.x, *y = b.y;
    size_t n = 0;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)g.prompt[i];
        if (c >= below) {
            fprintf(stderr, "error: --prompt: byte %zu (%d) is not a token of the model (0..%lld)\n", i + 1, c,
                    (long long)below - 1);
            goto out;
        }
        ctx[n++] = c;
    }
    if (n == 0)
        ctx[n++] = '\n';
    if (prog_load_infer_state(m, o->val[OPT_WEIGHTS], b.state))
        goto out;
    prog_prepare(m, b.state, b.infer);
    nnr_rng rng;
    nnr_rng_seed(&rng, g.seed);
    size_t base = 0, done = 0;      /* the window's first token; its positions in the cache */
    for (long k = 0; k < g.tokens; k++) {
        size_t w = n < (size_t)T ? n : (size_t)T, first = n - w;
        const float *last;
        if (cached) {
            if (first != base)
                base = first, done = 0;     /* the window slid: every position moved */
            for (size_t i = done; i < w; i++)
                x[i - done] = (float)ctx[first + i];
            const nnr_ctx c = {.n = (int)(w - done), .params = b.infer, .arena = b.arena, .cache = b.cache,
                               .pos = (int)done};
            m->step(&c, x, y);
            last = y + (w - done - 1) * (size_t)V;
            done = w;
        } else {
            for (size_t i = 0; i < (size_t)T; i++)
                x[i] = i < w ? (float)ctx[first + i] : 0.0f;
            m->forward(&(nnr_ctx){.n = 1, .params = b.infer, .arena = b.arena}, x, y);
            last = y + (w - 1) * (size_t)V;
        }
        int tok = sample(last, (int)V, &g, &rng, b.p);
        if (tok >= below)
            tok = (int)below - 1;   /* a token the input cannot take: never with a byte vocabulary */
        ctx[n++] = tok;
        putchar(tok);
        fflush(stdout);
    }
    rc = ferror(stdout) ? EXIT_INPUT : EXIT_OK;
out:
    free(ctx), free(b.block);
    return rc;
}
