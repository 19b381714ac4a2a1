/* emit_llvm.c — the LLVM backend: a model's inference entry points as an
 * LLVM module, through LLVM's C API (see emit_llvm.h for the contract).
 *
 * The module mirrors what emit_c.c writes for inference, function by
 * function: NAME_params (and NAME_state) as constant arrays, NAME_init
 * (seeded default initialisation, literals kept), NAME_prepare (copies and
 * the fold/pack recipes of Graph.folds, evaluated by the runtime's
 * nnr_fold_* / nnr_pack_* as in C), NAME_arena_size and NAME_forward over
 * the arena planned by memplan_inference. The forward's kernel calls are
 * not spelled here: each node's op hook describes its call (KCall) and
 * op_emit_call hands it to lower_call below, so the arguments are the C
 * backend's by construction. Every floating-point operation happens in the
 * runtime's kernels, compiled by the same C compiler as in a C build:
 * results are bit-identical. Only built when CMake finds LLVM (NNC_LLVM). */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassManagerBuilder.h>

#include "emit_llvm_int.h"
#include "../ops/ops.h"
#include "../passes/pass.h"
#include "nnr_prog.h"

int emit_llvm_available(void)
{
    return 1;
}

/* ------------------------------------------------------------ helpers */

LLVMValueRef llvmb_declare(LB *l, const char *name, LLVMTypeRef ret, LLVMTypeRef *ps, int np)
{
    LLVMTypeRef ty = LLVMFunctionType(ret, ps, (unsigned)np, 0);
    LLVMValueRef f = LLVMGetNamedFunction(l->m, name);
    if (!f)
        return LLVMAddFunction(l->m, name, ty);
    if (LLVMGlobalGetValueType(f) != ty)
        NNC_ICE("runtime function %s called with two different signatures", name);
    return f;
}

LLVMValueRef llvmb_call(LB *l, LLVMValueRef f, LLVMValueRef *args, int n)
{
    return LLVMBuildCall2(l->b, LLVMGlobalGetValueType(f), f, args, (unsigned)n, "");
}

LLVMValueRef llvmb_i32(LB *l, int64_t v) { return LLVMConstInt(l->i32, (unsigned long long)v, 1); }
LLVMValueRef llvmb_sz(LB *l, int64_t v) { return LLVMConstInt(l->sz, (unsigned long long)v, 0); }
LLVMValueRef llvmb_f32(LB *l, double v) { return LLVMConstReal(l->f32, (double)(float)v); }

/* Start an externally visible function; params get the C names. */
LLVMValueRef llvmb_define(LB *l, const char *name, LLVMTypeRef ret, LLVMTypeRef *ps,
                           const char *const *pnames, int np)
{
    LLVMValueRef f = LLVMAddFunction(l->m, name, LLVMFunctionType(ret, ps, (unsigned)np, 0));
    for (int i = 0; i < np; i++)
        LLVMSetValueName2(LLVMGetParam(f, (unsigned)i), pnames[i], strlen(pnames[i]));
    LLVMPositionBuilderAtEnd(l->b, LLVMAppendBasicBlockInContext(l->cx, f, "entry"));
    l->fn = f;
    return f;
}

/* base + off floats (no instruction for 0). */
LLVMValueRef llvmb_at(LB *l, LLVMValueRef base, int64_t off, const char *name)
{
    if (off == 0)
        return base;
    LLVMValueRef idx = LLVMConstInt(l->i64, (unsigned long long)off, 1);
    return LLVMBuildInBoundsGEP2(l->b, l->f32, base, &idx, 1, name);
}

/* An alloca at the top of the entry block (a fixed stack slot). */
static LLVMValueRef entry_alloca(LB *l, LLVMTypeRef ty, const char *name)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(l->fn);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(l->cx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(b, first);
    else
        LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef a = LLVMBuildAlloca(b, ty, name);
    LLVMDisposeBuilder(b);
    return a;
}

/* A private constant float array (name: external when `external`). */
static LLVMValueRef float_array(LB *l, const char *name, const float *v, int64_t n, int external)
{
    LLVMValueRef *el = xcalloc((size_t)n + 1, sizeof *el);
    for (int64_t i = 0; i < n; i++)
        el[i] = LLVMConstReal(l->f32, (double)v[i]);
    LLVMTypeRef ty = LLVMArrayType(l->f32, (unsigned)n);
    LLVMValueRef gv = LLVMAddGlobal(l->m, ty, name);
    LLVMSetInitializer(gv, LLVMConstArray(l->f32, el, (unsigned)n));
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetAlignment(gv, 64);
    if (!external) {
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    }
    free(el);
    return gv;
}

/* &array[0] of a global array of type ty. */
static LLVMValueRef first_elem(LB *l, LLVMTypeRef ty, LLVMValueRef gv)
{
    LLVMValueRef z[2] = {LLVMConstInt(l->i64, 0, 0), LLVMConstInt(l->i64, 0, 0)};
    return LLVMConstInBoundsGEP2(ty, gv, z, 2);
}

/* for (i = 0; i < count; i++) p[i] = v; */
static void fill(LB *l, LLVMValueRef p, int64_t count, float v)
{
    if (count <= 0)
        return;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(l->b);
    LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(l->cx, l->fn, "fill");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(l->cx, l->fn, "filled");
    LLVMBuildBr(l->b, loop);
    LLVMPositionBuilderAtEnd(l->b, loop);
    LLVMValueRef i = LLVMBuildPhi(l->b, l->i64, "i");
    LLVMValueRef q = LLVMBuildInBoundsGEP2(l->b, l->f32, p, &i, 1, "");
    LLVMBuildStore(l->b, LLVMConstReal(l->f32, (double)v), q);
    LLVMValueRef next = LLVMBuildAdd(l->b, i, LLVMConstInt(l->i64, 1, 0), "");
    LLVMValueRef zero = LLVMConstInt(l->i64, 0, 0);
    LLVMAddIncoming(i, &zero, &pre, 1);
    LLVMAddIncoming(i, &next, &loop, 1);
    LLVMValueRef more = LLVMBuildICmp(l->b, LLVMIntSLT, next, LLVMConstInt(l->i64, (unsigned long long)count, 0), "");
    LLVMBuildCondBr(l->b, more, loop, done);
    LLVMPositionBuilderAtEnd(l->b, done);
}

/* The constant shape struct of node's kernel call (nnr_conv2d_shape,
 * nnr_pool2d_shape: int fields), one per node. */
static LLVMValueRef shape_const(LB *l, const Node *n, const KCall *c)
{
    int idx = l->shape ? (int)(n - l->g->nodes) : -1;
    if (idx >= 0 && l->shape[idx])
        return l->shape[idx];
    const char *tname = xasprintf("struct.%s", c->shape_type);
    LLVMTypeRef st = LLVMGetTypeByName2(l->cx, tname);
    LLVMTypeRef fields[KCALL_MAX_ARGS];
    for (int k = 0; k < c->nshape; k++)
        fields[k] = l->i32;
    if (!st) {
        st = LLVMStructCreateNamed(l->cx, tname);
        LLVMStructSetBody(st, fields, (unsigned)c->nshape, 0);
    } else if (LLVMCountStructElementTypes(st) != (unsigned)c->nshape) {
        NNC_ICE("%s with %d fields and with %u", c->shape_type, c->nshape, LLVMCountStructElementTypes(st));
    }
    LLVMValueRef vals[KCALL_MAX_ARGS];
    for (int k = 0; k < c->nshape; k++)
        vals[k] = llvmb_i32(l, c->shape[k]);
    LLVMValueRef gv = LLVMAddGlobal(l->m, st, xasprintf("%s.shape", c->fn));
    LLVMSetInitializer(gv, LLVMConstNamedStruct(st, vals, (unsigned)c->nshape));
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 4);
    if (idx >= 0)
        l->shape[idx] = gv;
    return gv;
}

/* ------------------------------------------------------- kernel calls */

/* Plan buffer b of the training step (TB_INPUT(0): x), or NULL for none. */
static LLVMValueRef tbuf(LB *l, int b)
{
    if (b == TB_INPUT(0))
        return l->x;
    if (b <= TB_INPUT(1))
        NNC_ICE("the LLVM training step of a model with several inputs");
    return b >= 0 ? l->buf[b] : LLVMConstNull(l->pf);
}

/* A training argument: a gradient, saved buffer, parameter gradient, rng. */
static LLVMValueRef karg_train(LB *l, const KArg *a, LLVMTypeRef *ty)
{
    const TrainWalk *w = l->tw;
    *ty = l->pf;
    switch (a->kind) {
    case KA_DVAL: return tbuf(l, w->db[a->i + 1]);
    case KA_DIN: return tbuf(l, w->dinb[a->i]);
    case KA_GPARAM: return a->i < 0 ? LLVMConstNull(l->pf) : llvmb_at(l, l->G, op_poffset(w->g, (int)a->i), "");
    case KA_SAVED: return llvmb_at(l, tbuf(l, w->sb[a->i + 1]), a->j, "");
    case KA_SAVED_N: {
        LLVMValueRef off = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, a->j), "");
        return LLVMBuildInBoundsGEP2(l->b, l->f32, tbuf(l, w->sb[a->i + 1]), &off, 1, "");
    }
    case KA_RNG: *ty = l->prng; return l->rng;
    default: break;
    }
    NNC_ICE("kernel argument kind %d outside a training step", (int)a->kind);
}

/* One argument of a kernel call and the type of the kernel's parameter. */
static LLVMValueRef karg(LB *l, const Node *n, const KCall *c, const KArg *a, LLVMTypeRef *ty)
{
    if (a->kind >= KA_DVAL && l->tw)
        return karg_train(l, a, ty);
    switch (a->kind) {
    case KA_INT: *ty = l->i32; return llvmb_i32(l, a->i);
    case KA_SIZE: *ty = l->sz; return llvmb_sz(l, a->i);
    case KA_N: *ty = l->i32; return a->i == 1 ? l->n : LLVMBuildMul(l->b, l->n, llvmb_i32(l, a->i), "");
    case KA_NSIZE: *ty = l->sz; return LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, a->i), "");
    case KA_F32: *ty = l->f32; return llvmb_f32(l, a->f);
    case KA_ACT: *ty = l->i32; return llvmb_i32(l, op_act_value((int)a->i));
    case KA_ENUM: *ty = l->i32; return llvmb_i32(l, a->i);
    case KA_VAL: *ty = l->pf; return l->tw ? tbuf(l, l->tw->vb[a->i + 1]) : l->val[a->i + 1];
    case KA_PARAM:
        *ty = l->pf;
        return a->i < 0 ? LLVMConstNull(l->pf) : llvmb_at(l, l->P, op_poffset(l->tw ? l->tw->g : l->g, (int)a->i), "");
    case KA_SCRATCH: *ty = l->pf; return l->scratch;
    case KA_SHAPE: {
        LLVMValueRef gv = shape_const(l, n, c);
        *ty = LLVMTypeOf(gv);
        return gv;
    }
    default: break;
    }
    NNC_ICE("kernel argument kind %d", (int)a->kind);
}

LLVMValueRef llvmb_lower_args(LB *l, const Node *n, const KCall *c, LLVMValueRef *args)
{
    LLVMTypeRef ps[KCALL_MAX_ARGS];
    for (int k = 0; k < c->nargs; k++)
        args[k] = karg(l, n, c, &c->a[k], &ps[k]);
    return c->builtin == KB_CALL ? llvmb_declare(l, c->fn, l->v, ps, c->nargs) : NULL;
}

/* EmitCtx.sink of the forward: one kernel call per node, as in C. */
static void lower_call(void *ctx, const EmitCtx *e, const Node *n, const KCall *c)
{
    (void)e;
    LB *l = ctx;
    LLVMValueRef args[KCALL_MAX_ARGS];
    LLVMValueRef f = llvmb_lower_args(l, n, c, args);
    llvmb_call(l, f, args, c->nargs);
}

/* ------------------------------------------------------- entry points */

LLVMValueRef llvmb_scratch_max(LB *l, const Graph *g)
{
    LLVMValueRef scratch = llvmb_sz(l, 0), *cache = l->shape;
    if (g != l->g)
        l->shape = NULL;    /* the cache is by node of l->g */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = &g->nodes[i];
        if (nd->dead)
            continue;
        KCall c = {0};  /* kcall_keep: does the node's kernel call take scratch? */
        EmitCtx e = {.g = g, .P = "P", .scratch = "scratch", .sink = kcall_keep, .sink_ctx = &c};
        op_hooks[nd->op].emit(&e, nd);
        if (!c.scratch_fn)
            continue;
        LLVMValueRef shape = shape_const(l, nd, &c);
        LLVMTypeRef pt = LLVMTypeOf(shape);
        LLVMValueRef f = llvmb_declare(l, c.scratch_fn, l->sz, &pt, 1);
        LLVMValueRef s = llvmb_call(l, f, &shape, 1);
        LLVMValueRef gt = LLVMBuildICmp(l->b, LLVMIntUGT, s, scratch, "");
        scratch = LLVMBuildSelect(l->b, gt, s, scratch, "scratch");
    }
    l->shape = cache;
    return scratch;
}

/* size_t NAME_arena_size(int n): n * per_sample + the largest conv2d
 * scratch, asked of the runtime (nnr_conv2d_scratch) as C does. */
static void emit_arena_size(LB *l, int64_t per_sample)
{
    const char *pn[] = {"n"};
    llvmb_define(l, xasprintf("%s_arena_size", l->name), l->sz, &l->i32, pn, 1);
    LLVMValueRef n = LLVMGetParam(l->fn, 0);
    LLVMValueRef scratch = llvmb_scratch_max(l, l->g);
    LLVMValueRef total = LLVMBuildMul(l->b, LLVMBuildSExt(l->b, n, l->sz, ""), llvmb_sz(l, per_sample), "");
    LLVMBuildRet(l->b, LLVMBuildAdd(l->b, total, scratch, ""));
}

LLVMValueRef llvmb_ctx_field(LB *l, LLVMValueRef ctx, unsigned k, const char *name)
{
    LLVMTypeRef ty = LLVMStructGetTypeAtIndex(l->ctx_t, k);
    return LLVMBuildLoad2(l->b, ty, LLVMBuildStructGEP2(l->b, l->ctx_t, ctx, k, ""), name);
}

/* void NAME_forward(const nnr_ctx *ctx, const float *x, float *y):
 * emit_c.c's emit_forward, node by node. */
static void emit_forward(LB *l)
{
    const Graph *g = l->g;
    MemPlan mp;
    memplan_inference(g, &mp);
    emit_arena_size(l, mp.per_sample);

    LLVMTypeRef ps[] = {l->pctx, l->pf, l->pf};
    const char *pn[] = {"ctx", "x", "y"};
    llvmb_define(l, xasprintf("%s_forward", l->name), l->v, ps, pn, 3);
    LLVMValueRef ctx = LLVMGetParam(l->fn, 0);
    l->n = llvmb_ctx_field(l, ctx, NNR_CTX_N, "n");
    l->P = llvmb_ctx_field(l, ctx, NNR_CTX_PARAMS, "params");
    LLVMValueRef x = LLVMGetParam(l->fn, 1), y = LLVMGetParam(l->fn, 2);
    LLVMValueRef arena = llvmb_ctx_field(l, ctx, NNR_CTX_ARENA, "arena");
    l->nsz = LLVMBuildSExt(l->b, l->n, l->sz, "nsz");
    LLVMValueRef ps_off = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, mp.per_sample), "");
    l->scratch = LLVMBuildInBoundsGEP2(l->b, l->f32, arena, &ps_off, 1, "scratch");

    int nn = g->nnodes;
    l->val = xcalloc((size_t)nn + 1, sizeof *l->val);
    l->val[0] = x;
    EmitCtx e = {.g = g, .P = "P", .scratch = "scratch", .sink = lower_call, .sink_ctx = l};
    for (int i = 0; i < nn; i++) {
        const Node *nd = &g->nodes[i];
        if (nd->dead)
            continue;
        if (mp.root[i] != i) {
            l->val[i + 1] = l->val[mp.root[i] + 1];
        } else if (mp.y_root == i) {
            l->val[i + 1] = y;
        } else if (mp.offset[i] == 0) {
            l->val[i + 1] = arena;
        } else {
            LLVMValueRef off = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, mp.offset[i]), "");
            l->val[i + 1] = LLVMBuildInBoundsGEP2(l->b, l->f32, arena, &off, 1, xasprintf("t%d", i));
        }
        op_hooks[nd->op].emit(&e, nd);
    }
    if (mp.y_root < 0) {
        LLVMValueRef bytes = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, shape_numel(&g->input) * (int64_t)sizeof(float)), "");
        LLVMBuildMemCpy(l->b, y, 4, x, 4, bytes);
    }
    LLVMBuildRetVoid(l->b);
}

/* void NAME_init(float *S, uint64_t seed): emit_c_source's init. */
static void emit_init(LB *l, const EmitOpts *o)
{
    const Graph *g = l->g;
    LLVMTypeRef ps[] = {l->pf, l->i64};
    const char *pn[] = {"S", "seed"};
    llvmb_define(l, xasprintf("%s_init", l->name), l->v, ps, pn, 2);
    LLVMValueRef S = LLVMGetParam(l->fn, 0);
    LLVMTypeRef rng_t = LLVMGetTypeByName2(l->cx, "struct.nnr_rng");
    LLVMTypeRef prng = LLVMPointerType(rng_t, 0);
    LLVMValueRef rng = LLVMBuildAlloca(l->b, rng_t, "rng");
    LLVMSetAlignment(rng, 8);
    LLVMTypeRef seed_ps[] = {prng, l->i64};
    LLVMValueRef seed_args[] = {rng, LLVMGetParam(l->fn, 1)};
    llvmb_call(l, llvmb_declare(l, "nnr_rng_seed", l->v, seed_ps, 2), seed_args, 2);
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->fold)
            continue;
        LLVMValueRef dst = llvmb_at(l, S, p->offset, "");
        if (p->literal) {
            if (o->weights_given)
                NNC_ICE("literal parameter %s with --weights", p->name);
            LLVMValueRef lit = float_array(l, xasprintf("lit%d", i), p->data, p->numel, 0);
            LLVMBuildMemCpy(l->b, dst, 4, first_elem(l, LLVMGlobalGetValueType(lit), lit), 4,
                            llvmb_sz(l, p->numel * (int64_t)sizeof(float)));
        } else if (p->init == INIT_UNIFORM) {
            LLVMTypeRef ups[] = {prng, l->pf, l->sz, l->f32};
            LLVMValueRef args[] = {rng, dst, llvmb_sz(l, p->numel), llvmb_f32(l, p->bound)};
            llvmb_call(l, llvmb_declare(l, "nnr_init_uniform", l->v, ups, 4), args, 4);
        } else if (p->init == INIT_NORMAL) {
            LLVMTypeRef ups[] = {prng, l->pf, l->sz, l->f32, l->i64, l->sz};
            LLVMValueRef args[] = {rng, dst, llvmb_sz(l, p->numel), llvmb_f32(l, p->bound),
                                   LLVMConstInt(l->i64, (unsigned long long)p->pad_row, 0),
                                   llvmb_sz(l, p->numel / (p->shape[0] ? p->shape[0] : 1))};
            llvmb_call(l, llvmb_declare(l, "nnr_init_normal", l->v, ups, 6), args, 6);
        } else {
            fill(l, dst, p->numel, p->init == INIT_ONES ? 1.0f : 0.0f);
        }
    }
    LLVMBuildRetVoid(l->b);
}

/* A recipe's source: a derived param (params + ioffset) or the state. */
static LLVMValueRef src(LB *l, LLVMValueRef state, LLVMValueRef params, int p)
{
    if (p < 0)
        return LLVMConstNull(l->pf);
    const Param *q = &l->g->params[p];
    return q->fold ? llvmb_at(l, params, q->ioffset, "") : llvmb_at(l, state, q->offset, "");
}

/* An array of k float pointers on the stack, for nnr_fold_linear_f32. */
static LLVMValueRef ptr_array(LB *l, LLVMValueRef state, LLVMValueRef params, const int *idx, int k,
                              const char *name)
{
    LLVMTypeRef ty = LLVMArrayType(l->pf, (unsigned)k);
    LLVMValueRef a = entry_alloca(l, ty, name);
    for (int j = 0; j < k; j++) {
        LLVMValueRef z[2] = {LLVMConstInt(l->i64, 0, 0), LLVMConstInt(l->i64, (unsigned long long)j, 0)};
        LLVMBuildStore(l->b, src(l, state, params, idx[j]), LLVMBuildInBoundsGEP2(l->b, ty, a, z, 2, ""));
    }
    LLVMValueRef z[2] = {LLVMConstInt(l->i64, 0, 0), LLVMConstInt(l->i64, 0, 0)};
    return LLVMBuildInBoundsGEP2(l->b, ty, a, z, 2, "");
}

/* void NAME_prepare(const float *state, float *params): emit_c.c's
 * emit_prepare, recipe by recipe. */
static void emit_prepare(LB *l)
{
    const Graph *g = l->g;
    LLVMTypeRef ps[] = {l->pf, l->pf};
    const char *pn[] = {"state", "params"};
    llvmb_define(l, xasprintf("%s_prepare", l->name), l->v, ps, pn, 2);
    LLVMValueRef state = LLVMGetParam(l->fn, 0), params = LLVMGetParam(l->fn, 1);
    for (int i = 0; i < g->nparams; i++) {
        const Param *p = &g->params[i];
        if (p->ioffset < 0)
            continue;
        LLVMValueRef dst = llvmb_at(l, params, p->ioffset, "");
        if (!p->fold) {
            LLVMBuildMemCpy(l->b, dst, 4, llvmb_at(l, state, p->offset, ""), 4,
                            llvmb_sz(l, p->numel * (int64_t)sizeof(float)));
            continue;
        }
        const Fold *f = &g->folds[p->fold - 1];
        if (f->out_w != i)
            continue;
        LLVMValueRef bo = f->out_b >= 0 ? llvmb_at(l, params, g->params[f->out_b].ioffset, "") : LLVMConstNull(l->pf);
        if (f->kind == FOLD_PACK || f->kind == FOLD_PACK_BF16 || f->kind == FOLD_PACK_CONV ||
            f->kind == FOLD_PACK_CONV_PANEL) {
            LLVMTypeRef pps[] = {l->i32, l->i32, l->pf, l->pf};
            LLVMValueRef args[] = {llvmb_i32(l, f->cols), llvmb_i32(l, f->rows), src(l, state, params, f->w[0]), dst};
            llvmb_call(l, llvmb_declare(l, f->kind == FOLD_PACK ? "nnr_pack_linear_weight_f32"
                                         : f->kind == FOLD_PACK_CONV ? "nnr_pack_conv_weight_f32"
                                         : f->kind == FOLD_PACK_CONV_PANEL ? "nnr_pack_conv_panel_f32"
                                                                           : "nnr_pack_linear_weight_bf16",
                                        l->v, pps, 4), args, 4);
            continue;
        }
        if (f->kind == FOLD_BN) {
            LLVMTypeRef bps[] = {l->i32, l->i32, l->pf, l->pf, l->pf, l->pf, l->pf, l->pf, l->f32, l->pf, l->pf};
            LLVMValueRef args[] = {llvmb_i32(l, f->rows), llvmb_i32(l, f->cols), src(l, state, params, f->w[0]),
                                   src(l, state, params, f->b[0]), src(l, state, params, f->bn[0]),
                                   src(l, state, params, f->bn[1]), src(l, state, params, f->bn[2]),
                                   src(l, state, params, f->bn[3]), llvmb_f32(l, f->eps), dst, bo};
            llvmb_call(l, llvmb_declare(l, "nnr_fold_bn_f32", l->v, bps, 11), args, 11);
            continue;
        }
        /* FOLD_LINEAR: a chain of f->n layers folded into one */
        int64_t maxd = 1;
        for (int k = 0; k <= f->n; k++)
            if (f->dims[k] > maxd)
                maxd = f->dims[k];
        int on_stack = 2 * maxd <= 16384;   /* as emit_c.c: 128 KiB of doubles at most */
        LLVMValueRef dimv[NNC_MAX_FOLD_CHAIN + 1];
        for (int k = 0; k <= f->n; k++)
            dimv[k] = llvmb_i32(l, f->dims[k]);
        LLVMTypeRef dty = LLVMArrayType(l->i32, (unsigned)f->n + 1);
        LLVMValueRef dims = LLVMAddGlobal(l->m, dty, "dims");
        LLVMSetInitializer(dims, LLVMConstArray(l->i32, dimv, (unsigned)f->n + 1));
        LLVMSetGlobalConstant(dims, 1);
        LLVMSetLinkage(dims, LLVMPrivateLinkage);
        LLVMSetUnnamedAddress(dims, LLVMGlobalUnnamedAddr);
        LLVMValueRef w = ptr_array(l, state, params, f->w, f->n, "w");
        LLVMValueRef b = ptr_array(l, state, params, f->b, f->n, "b");
        LLVMValueRef scratch = LLVMConstNull(l->pf64);
        if (on_stack) {
            LLVMTypeRef sty = LLVMArrayType(l->f64, (unsigned)(2 * maxd));
            LLVMValueRef s = entry_alloca(l, sty, "fold_scratch");
            LLVMSetAlignment(s, 16);
            LLVMValueRef z[2] = {LLVMConstInt(l->i64, 0, 0), LLVMConstInt(l->i64, 0, 0)};
            scratch = LLVMBuildInBoundsGEP2(l->b, sty, s, z, 2, "");
        }
        LLVMTypeRef lps[] = {l->i32, l->pi32, l->ppf, l->ppf, l->pf, l->pf, l->pf64};
        LLVMValueRef args[] = {llvmb_i32(l, f->n), first_elem(l, dty, dims), w, b, dst, bo, scratch};
        LLVMValueRef r = llvmb_call(l, llvmb_declare(l, "nnr_fold_linear_f32", l->i32, lps, 7), args, 7);
        LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(l->cx, l->fn, "fold_failed");
        LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(l->cx, l->fn, "folded");
        LLVMBuildCondBr(l->b, LLVMBuildICmp(l->b, LLVMIntNE, r, llvmb_i32(l, 0), ""), fail, ok);
        LLVMPositionBuilderAtEnd(l->b, fail);
        LLVMValueRef ab = llvmb_declare(l, "abort", l->v, NULL, 0);  /* out of memory for the scratch */
        unsigned nr = LLVMGetEnumAttributeKindForName("noreturn", 8);
        LLVMAddAttributeAtIndex(ab, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(l->cx, nr, 0));
        llvmb_call(l, ab, NULL, 0);
        LLVMBuildUnreachable(l->b);
        LLVMPositionBuilderAtEnd(l->b, ok);
    }
    LLVMBuildRetVoid(l->b);
}

/* ------------------------------------------------------------- module */

static void init_llvm(void)
{
    static int done;
    if (!done) {
        LLVMInitializeNativeTarget();
        LLVMInitializeNativeAsmPrinter();
        done = 1;
    }
}

/* The host's target machine for cpu (see emit_llvm.h); NULL with err set. */
static LLVMTargetMachineRef target_machine(const char *cpu, char *err, size_t errlen)
{
    init_llvm();
    char *triple = LLVMGetDefaultTargetTriple();
    char *msg = NULL;
    LLVMTargetRef t;
    LLVMTargetMachineRef tm = NULL;
    if (LLVMGetTargetFromTriple(triple, &t, &msg)) {
        snprintf(err, errlen, "LLVM has no target for %s: %s", triple, msg ? msg : "?");
    } else {
        int native = !cpu || !strcmp(cpu, "native");
        char *host = native ? LLVMGetHostCPUName() : NULL;
        char *feat = native ? LLVMGetHostCPUFeatures() : NULL;
        const char *name = native ? host : !strcmp(cpu, "generic") ? "" : cpu;
        tm = LLVMCreateTargetMachine(t, triple, name, feat ? feat : "", LLVMCodeGenLevelAggressive,
                                     LLVMRelocPIC, LLVMCodeModelDefault);
        if (!tm)
            snprintf(err, errlen, "LLVM cannot make a target machine for %s (cpu '%s')", triple, name);
        LLVMDisposeMessage(host);
        LLVMDisposeMessage(feat);
    }
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    return tm;
}

/* Build and verify the module of g for target machine tm. */
static void build_module(LB *l, const Graph *g, const Graph *train, const EmitOpts *o, LLVMTargetMachineRef tm)
{
    memset(l, 0, sizeof *l);
    l->g = g;
    l->name = g->name;
    l->cx = LLVMContextCreate();
    l->m = LLVMModuleCreateWithNameInContext(o->stem ? o->stem : g->name, l->cx);
    const char *file = emit_c_relpath(g->file);  /* no absolute path, as in the C */
    LLVMSetSourceFileName(l->m, file, strlen(file));
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(l->m, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(l->m, td);
    l->b = LLVMCreateBuilderInContext(l->cx);
    l->v = LLVMVoidTypeInContext(l->cx);
    l->i32 = LLVMInt32TypeInContext(l->cx);
    l->i64 = LLVMInt64TypeInContext(l->cx);
    l->sz = LLVMIntPtrTypeInContext(l->cx, td);     /* size_t */
    LLVMDisposeTargetData(td);
    l->f32 = LLVMFloatTypeInContext(l->cx);
    l->f64 = LLVMDoubleTypeInContext(l->cx);
    l->pf = LLVMPointerType(l->f32, 0);
    l->ppf = LLVMPointerType(l->pf, 0);
    l->pi32 = LLVMPointerType(l->i32, 0);
    l->pf64 = LLVMPointerType(l->f64, 0);
    LLVMTypeRef s4 = LLVMArrayType(l->i64, 4), rng_t = LLVMStructCreateNamed(l->cx, "struct.nnr_rng");
    LLVMStructSetBody(rng_t, &s4, 1, 0);
    l->prng = LLVMPointerType(rng_t, 0);
    /* nnr_ctx, field by field in nnr.h's order */
    LLVMTypeRef fields[] = {l->i32, l->pf, l->pf, l->pf, l->i32, l->pf, l->pf, l->prng};
    l->ctx_t = LLVMStructCreateNamed(l->cx, "struct.nnr_ctx");
    LLVMStructSetBody(l->ctx_t, fields, 8, 0);
    l->pctx = LLVMPointerType(l->ctx_t, 0);
    l->shape = xcalloc((size_t)g->nnodes + 1, sizeof *l->shape);

    /* the parameters compiled in, as emit_c_source computes them */
    float *state, *infer;     /* with --weights the state is emitted too */
    ir_compiled_blocks(g, o->weights_given, o->seed, &state, &infer);
    if (g->infer_size > 0)  /* as the C backend: no zero-length array */
        float_array(l, xasprintf("%s_params", g->name), infer, g->infer_size, 1);
    if (o->weights_given && g->state_size > 0)
        float_array(l, xasprintf("%s_state", g->name), state, g->state_size, 1);
    free(state);
    free(infer);

    if (emit_c_has_state(g))    /* as the C backend: no NAME_init, NAME_prepare */
        emit_init(l, o);        /* with nothing to do */
    if (g->infer_size > 0)
        emit_prepare(l);
    emit_forward(l);
    if (train && emit_c_trainable(train, o->train))
        llvmb_train(l, train, o->train_graph);
    free(l->val);
    free(l->shape);

    char *msg = NULL;
    if (LLVMVerifyModule(l->m, LLVMReturnStatusAction, &msg))
        NNC_ICE("the LLVM module of model '%s' does not verify: %s", g->name, msg ? msg : "?");
    LLVMDisposeMessage(msg);
}

static void dispose(LB *l)
{
    LLVMDisposeBuilder(l->b);
    LLVMDisposeModule(l->m);
    LLVMContextDispose(l->cx);
}

void emit_llvm_ir(const Graph *g, const Graph *train, const EmitOpts *o, FILE *out)
{
    char err[512];
    LLVMTargetMachineRef tm = target_machine("generic", err, sizeof err);
    if (!tm)
        NNC_ICE("%s", err);
    LB l;
    build_module(&l, g, train, o, tm);
    fprintf(out, "; %s.ll — the compiled model '%s' as LLVM IR (inference).\n", o->stem ? o->stem : g->name, g->name);
    fprintf(out, "; Generated by nnc %s from %s\n", NNR_VERSION, emit_c_relpath(g->file));
    if (o->cmdline) {
        fprintf(out, "; Command: ");
        for (const char *p = emit_c_rel_cmdline(o->cmdline); *p; p++)
            fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
        fprintf(out, "\n");
    }
    fprintf(out, "; Do not edit: regenerate with nnc.\n");
    char *text = LLVMPrintModuleToString(l.m);
    fputs(text, out);
    LLVMDisposeMessage(text);
    dispose(&l);
    LLVMDisposeTargetMachine(tm);
}

int emit_llvm_object(const Graph *g, const Graph *train, const EmitOpts *o, const char *cpu, const char *path,
                     char *err, size_t errlen)
{
    LLVMTargetMachineRef tm = target_machine(cpu, err, errlen);
    if (!tm)
        return -1;
    LB l;
    build_module(&l, g, train, o, tm);
    /* -O2: the module is mostly calls, so this is cheap */
    LLVMPassManagerRef pm = LLVMCreatePassManager();
    LLVMAddAnalysisPasses(tm, pm);
    LLVMPassManagerBuilderRef pmb = LLVMPassManagerBuilderCreate();
    LLVMPassManagerBuilderSetOptLevel(pmb, 2);
    LLVMPassManagerBuilderPopulateModulePassManager(pmb, pm);
    LLVMRunPassManager(pm, l.m);
    LLVMPassManagerBuilderDispose(pmb);
    LLVMDisposePassManager(pm);
    char *msg = NULL;
    int status = 0;
    if (LLVMTargetMachineEmitToFile(tm, l.m, (char *)path, LLVMObjectFile, &msg)) {
        snprintf(err, errlen, "%s: LLVM cannot write the object file: %s", path, msg ? msg : "?");
        status = -1;
    }
    LLVMDisposeMessage(msg);
    dispose(&l);
    LLVMDisposeTargetMachine(tm);
    return status;
}
