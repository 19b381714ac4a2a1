/* sema.c — from the syntax tree to checked IR.
 *
 * One walk over the declarations in source order: `let` values are
 * evaluated (exact integer arithmetic), each model is lowered layer by
 * layer (argument binding against the op's schema, parameter creation with
 * PyTorch state_dict names, shape inference), each train block becomes a
 * TrainCfg with its defaults. Errors accumulate; a model whose shapes broke
 * keeps being checked for names and arguments, but not for shapes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"
#include "../ir/ir.h"

/* Upper bound on parameters + activations of one sample, in floats.
 * Larger models are rejected at compile time (issue: resource limits). */
int64_t nnc_max_floats = (int64_t)1 << 31;

/* NNC_MAX_FLOATS overrides nnc_max_floats (parameters, one sample's
 * shapes, and its arena); 0 when unset or valid. */
static int read_max_floats(Diag *d)
{
    const char *e = getenv("NNC_MAX_FLOATS");
    if (!e || !*e)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(e, &end, 10);
    if (errno || *end || v < 1) {
        diag_error_nopos(d, "NNC_MAX_FLOATS='%s' is not a positive integer (a number of floats)", e);
        return -1;
    }
    nnc_max_floats = v;
    return 0;
}

/* A block's declaration: its name, parameters and inputs (its layers are
 * checked where it is used, with its parameters' values). */
static void check_block(Sema *s, const Decl *b)
{
    if (op_lookup(b->name) >= 0 || !strcmp(b->name, "sequential"))
        diag_error(s->d, b->name_span, "block '%s' has the name of a layer", b->name);
    else if (strmap_put(&s->blocks, b->name, (void *)b))
        diag_error(s->d, b->name_span, "block '%s' is defined twice", b->name);
    StrMap seen = {0};
    for (const BlockParam *p = b->params; p; p = p->next)
        if (strmap_put(&seen, p->name, (void *)p))
            diag_error(s->d, p->span, "block '%s': parameter '%s' is named twice", b->name, p->name);
    strmap_free(&seen);
    for (const Input *in = b->inputs; in; in = in->next) {
        if (!b->has_forward)
            diag_error(s->d, in->span, "block '%s' has no forward: its layers are a sequence, which takes "
                       "no input statement", b->name);
        else if (!in->name)
            diag_error(s->d, in->span, "a block's input is named: input x");
        else if (in->has_shape)
            diag_error(s->d, in->shape_span, "a block's input takes its shape from the caller: "
                       "write 'input %s'", in->name);
        else if (in->is_int)
            diag_error(s->d, in->span, "a block's input is not declared int (its caller's value says)");
        else
            continue;
        break;
    }
    if (b->has_forward && !b->inputs)
        diag_error(s->d, b->forward_span, "block '%s' has a forward but no input: add 'input x'", b->name);
}

int sema_check(const Ast *ast, const SrcFile *src, const char *base_dir, Diag *d, Program *out)
{
    Sema s = {0};
    s.d = d;
    s.ast = ast;
    s.base_dir = base_dir;
    memset(out, 0, sizeof *out);
    s.prog = out;
    if (read_max_floats(d))
        return 1;
    int nm = 0, nblocks = 0;
    size_t nlets = 0;
    for (const Decl *x = ast->decls; x; x = x->next) {
        nm += x->kind == DECL_MODEL;
        nblocks += x->kind == DECL_BLOCK;
        nlets += x->kind == DECL_LET;
    }
    out->models = xcalloc((size_t)nm + 1, sizeof *out->models);
    out->trains = xcalloc((size_t)nm + 1, sizeof *out->trains);
    strmap_reserve(&s.lets, nlets);
    for (const Decl *x = ast->decls; x; x = x->next) {
        if (x->kind == DECL_LET)
            strmap_put(&s.lets, x->name, &sema_let_later);
        else if (x->kind == DECL_MODEL)
            strmap_put(&s.model_decls, x->name, (void *)x);
        else if (x->kind == DECL_BLOCK)
            check_block(&s, x);
    }
    StrMap seen = {0};      /* model names defined so far */

    for (const Decl *x = ast->decls; x; x = x->next) {
        switch (x->kind) {
        case DECL_LET: {
            void **slot = strmap_ref(&s.lets, x->name);
            if (*slot != &sema_let_later)
                diag_error(d, x->name_span, "'%s' is already defined", x->name);
            *slot = sema_eval(&s, x->value, 0);   /* adds no let: slot stays valid */
            break;
        }
        case DECL_MODEL:
            if (strmap_put(&seen, x->name, (void *)x))
                diag_error(d, x->name_span, "model '%s' is defined twice", x->name);
            out->models[out->nmodels++] = sema_lower_model(&s, x, src);
            break;
        case DECL_TRAIN:
        case DECL_BLOCK:
            break;
        }
    }
    for (int i = 0; i < out->nmodels; i++)
        if (out->models[i] && !strmap_get(&s.lowered, out->models[i]->name))
            strmap_put(&s.lowered, out->models[i]->name, (void *)(intptr_t)(i + 1));
    /* train blocks after all models, so a train block may come first */
    for (const Decl *x = ast->decls; x; x = x->next)
        if (x->kind == DECL_TRAIN)
            sema_check_train(&s, x, out);
    /* A file of blocks alone is a library: `check` accepts it, and the
     * driver refuses it where a model is needed. */
    if (out->nmodels == 0 && nblocks == 0 && d->nerrors == 0)
        diag_error_nopos(d, "%s: no model in this file", src->path);
    strmap_free(&seen);
    strmap_free(&s.lets);
    strmap_free(&s.model_decls);
    strmap_free(&s.lowered);
    strmap_free(&s.blocks);
    strmap_free(&s.warned);
    return d->nerrors ? -1 : 0;
}
