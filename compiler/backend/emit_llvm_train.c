/* emit_llvm_train.c — the LLVM backend's training step: NAME_train_arena
 * and NAME_train_step, built from the same walk of the same training graph
 * as the C backend's (train_walk.c). The op hooks' kernel calls (KCall)
 * and the walk's own statements (the loss, parameter gradients zeroed,
 * kept and summed, the shares of a gradient summed) become the same
 * runtime calls with the same arguments, in the same order, over the same
 * arena offsets: every floating-point operation but a dropout gradient's
 * product happens in the runtime's kernels, and that product is one IEEE
 * multiply in both, so the two backends train bit-identically. */
#include <stdlib.h>
#include <string.h>

#include "emit_llvm_int.h"
#include "nnr_prog.h"

/* ---------------------------------------------------- walk callbacks */

static void no_decl(TrainWalk *w, int b, const Shape *shape) { (void)w, (void)b, (void)shape; }
static void no_comment(TrainWalk *w, const char *text) { (void)w, (void)text; }

static LLVMValueRef bytes(LB *l, LLVMValueRef floats)
{
    return LLVMBuildMul(l->b, floats, llvmb_sz(l, (int64_t)sizeof(float)), "");
}

/* acc: y[0..len) += x[0..len) by the runtime's nnr_acc_f32 */
static void acc_call(LB *l, LLVMValueRef len, LLVMValueRef x, LLVMValueRef y)
{
    LLVMTypeRef ps[] = {l->sz, l->pf, l->pf};
    LLVMValueRef args[] = {len, x, y};
    llvmb_call(l, llvmb_declare(l, "nnr_acc_f32", l->v, ps, 3), args, 3);
}

static LLVMValueRef gparam(LB *l, int p)
{
    return llvmb_at(l, l->G, op_poffset(l->tw->g, p), "");
}

static void l_zero_param(TrainWalk *w, int p)
{
    LB *l = w->ctx;
    LLVMBuildMemSet(l->b, gparam(l, p), LLVMConstInt(LLVMInt8TypeInContext(l->cx), 0, 0),
                    llvmb_sz(l, w->g->params[p].numel * (int64_t)sizeof(float)), 4);
}

static void l_keep_param(TrainWalk *w, int p, int b, int save)
{
    LB *l = w->ctx;
    int64_t numel = w->g->params[p].numel;
    if (save)
        LLVMBuildMemCpy(l->b, l->buf[b], 4, gparam(l, p), 4, llvmb_sz(l, numel * (int64_t)sizeof(float)));
    else
        acc_call(l, llvmb_sz(l, numel), l->buf[b], gparam(l, p));
}

static void l_acc(TrainWalk *w, int dy, int dx, int64_t per_sample)
{
    LB *l = w->ctx;
    acc_call(l, LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, per_sample), ""), l->buf[dx], l->buf[dy]);
}

/* The loss alloca of the step being built. */
static LLVMValueRef loss_slot(LB *l)
{
    return LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(l->fn));
}

/* loss = the runtime's loss of the output; for a sequence output [T, C],
 * first the per-position class losses (as emit_c_train.c's c_loss). */
static void l_loss(TrainWalk *w, const TStep *st)
{
    LB *l = w->ctx;
    const Shape *os = ir_value_shape(w->g, st->node);
    LLVMValueRef y = l->buf[w->vb[st->node + 1]], dy = st->dy >= 0 ? l->buf[st->dy] : LLVMConstNull(l->pf);
    LLVMValueRef labels = LLVMGetParam(l->fn, 2), targets = LLVMGetParam(l->fn, 3), kind = LLVMGetParam(l->fn, 4);
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(l->cx);
    LLVMBasicBlockRef done = NULL;
    if (os->ndim == 2) {
        LLVMBasicBlockRef soft = LLVMAppendBasicBlockInContext(l->cx, l->fn, "loss_soft");
        LLVMBasicBlockRef not_soft = LLVMAppendBasicBlockInContext(l->cx, l->fn, "loss_not_soft");
        LLVMBasicBlockRef seq = LLVMAppendBasicBlockInContext(l->cx, l->fn, "loss_seq");
        LLVMBasicBlockRef flat = LLVMAppendBasicBlockInContext(l->cx, l->fn, "loss_flat");
        done = LLVMAppendBasicBlockInContext(l->cx, l->fn, "loss_done");
        LLVMValueRef has_l = LLVMBuildIsNotNull(l->b, labels, "");
        LLVMValueRef has_t = LLVMBuildIsNotNull(l->b, targets, "");
        LLVMValueRef ce = LLVMBuildICmp(l->b, LLVMIntEQ, kind, llvmb_i32(l, NNR_LOSS_CROSS_ENTROPY), "");
        LLVMValueRef nll = LLVMBuildICmp(l->b, LLVMIntEQ, kind, llvmb_i32(l, NNR_LOSS_NLL), "");
        LLVMValueRef rows = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, os->d[0]), "");
        LLVMBuildCondBr(l->b, LLVMBuildAnd(l->b, LLVMBuildAnd(l->b, has_l, has_t, ""), ce, ""), soft, not_soft);
        LLVMPositionBuilderAtEnd(l->b, soft);
        LLVMTypeRef sps[] = {l->sz, l->i32, l->pf, l->pi32, l->pf, l->i32, l->pf};
        LLVMValueRef sargs[] = {rows, llvmb_i32(l, os->d[1]), y, labels, targets, llvmb_i32(l, NNR_IGNORE_INDEX), dy};
        LLVMBuildStore(l->b, llvmb_call(l, llvmb_declare(l, "nnr_seq_loss_soft_f32", dbl, sps, 7), sargs, 7),
                       loss_slot(l));
        LLVMBuildBr(l->b, done);
        LLVMPositionBuilderAtEnd(l->b, not_soft);
        LLVMBuildCondBr(l->b, LLVMBuildAnd(l->b, has_l, LLVMBuildOr(l->b, ce, nll, ""), ""), seq, flat);
        LLVMPositionBuilderAtEnd(l->b, seq);
        LLVMTypeRef qps[] = {l->i32, l->sz, l->i32, l->pf, l->pi32, l->i32, l->pf};
        LLVMValueRef qargs[] = {kind, rows, llvmb_i32(l, os->d[1]), y, labels, llvmb_i32(l, NNR_IGNORE_INDEX), dy};
        LLVMBuildStore(l->b, llvmb_call(l, llvmb_declare(l, "nnr_seq_loss_f32", dbl, qps, 7), qargs, 7),
                       loss_slot(l));
        LLVMBuildBr(l->b, done);
        LLVMPositionBuilderAtEnd(l->b, flat);
    }
    LLVMTypeRef ps[] = {l->i32, l->i32, l->i32, l->pf, l->pi32, l->pf, l->pf};
    LLVMValueRef args[] = {kind, l->n, llvmb_i32(l, shape_numel(os)), y, labels, targets, dy};
    LLVMBuildStore(l->b, llvmb_call(l, llvmb_declare(l, "nnr_loss_f32", dbl, ps, 7), args, 7), loss_slot(l));
    if (done) {
        LLVMBuildBr(l->b, done);
        LLVMPositionBuilderAtEnd(l->b, done);
    }
}

static const TrainWalkOps llvm_ops = {no_decl, no_comment, l_loss, l_zero_param, l_keep_param, l_acc};

/* ------------------------------------------------------- kernel calls */

/* for (i = 0; i < count; i++) d[i] = a[i] * b[i]; */
static void mul_loop(LB *l, LLVMValueRef d, LLVMValueRef a, LLVMValueRef b, LLVMValueRef count)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(l->b);
    LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(l->cx, l->fn, "mul");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(l->cx, l->fn, "mul_done");
    LLVMValueRef zero = llvmb_sz(l, 0);
    LLVMBuildCondBr(l->b, LLVMBuildICmp(l->b, LLVMIntUGT, count, zero, ""), loop, done);
    LLVMPositionBuilderAtEnd(l->b, loop);
    LLVMValueRef i = LLVMBuildPhi(l->b, l->sz, "i");
    LLVMValueRef x = LLVMBuildLoad2(l->b, l->f32, LLVMBuildInBoundsGEP2(l->b, l->f32, a, &i, 1, ""), "");
    LLVMValueRef y = LLVMBuildLoad2(l->b, l->f32, LLVMBuildInBoundsGEP2(l->b, l->f32, b, &i, 1, ""), "");
    LLVMBuildStore(l->b, LLVMBuildFMul(l->b, x, y, ""), LLVMBuildInBoundsGEP2(l->b, l->f32, d, &i, 1, ""));
    LLVMValueRef next = LLVMBuildAdd(l->b, i, llvmb_sz(l, 1), "");
    LLVMAddIncoming(i, &zero, &pre, 1);
    LLVMAddIncoming(i, &next, &loop, 1);
    LLVMBuildCondBr(l->b, LLVMBuildICmp(l->b, LLVMIntULT, next, count, ""), loop, done);
    LLVMPositionBuilderAtEnd(l->b, done);
}

/* EmitCtx.sink of the training step: a kernel call, or a KB_* statement. */
static void lower_train_call(void *ctx, const EmitCtx *e, const Node *n, const KCall *c)
{
    (void)e;
    LB *l = ctx;
    LLVMValueRef a[KCALL_MAX_ARGS];
    LLVMValueRef f = llvmb_lower_args(l, n, c, a);
    switch (c->builtin) {
    case KB_CALL:
        llvmb_call(l, f, a, c->nargs);
        break;
    case KB_ZERO:
        LLVMBuildMemSet(l->b, a[0], LLVMConstInt(LLVMInt8TypeInContext(l->cx), 0, 0), bytes(l, a[1]), 4);
        break;
    case KB_COPY:
        LLVMBuildMemCpy(l->b, a[0], 4, a[1], 4, bytes(l, a[2]));
        break;
    case KB_MUL:
        mul_loop(l, a[0], a[1], a[2], a[3]);
        break;
    case KB_INC: {
        LLVMValueRef v = LLVMBuildLoad2(l->b, l->f32, a[0], "");
        LLVMBuildStore(l->b, LLVMBuildFAdd(l->b, v, a[1], ""), a[0]);
        break;
    }
    }
}

/* ------------------------------------------------------- entry points */

/* size_t NAME_train_arena(int n): n * per_sample + the model's largest
 * conv2d scratch + the fixed part, as emit_c_train.c's. */
static void emit_train_arena(LB *l, const Graph *model, const TrainPlan *tp)
{
    const char *pn[] = {"n"};
    llvmb_define(l, xasprintf("%s_train_arena", l->name), l->sz, &l->i32, pn, 1);
    LLVMValueRef n = LLVMBuildSExt(l->b, LLVMGetParam(l->fn, 0), l->sz, "");
    LLVMValueRef total = LLVMBuildAdd(l->b, LLVMBuildMul(l->b, n, llvmb_sz(l, tp->per_sample), ""),
                                      llvmb_scratch_max(l, model), "");
    LLVMBuildRet(l->b, LLVMBuildAdd(l->b, total, llvmb_sz(l, tp->fixed), ""));
}

/* double NAME_train_step(const nnr_ctx *ctx, const float *x,
 * const int32_t *labels, const float *targets, nnr_loss loss_kind) */
static void emit_train_step(LB *l, const Graph *tg, const TrainPlan *tp)
{
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(l->cx);
    LLVMTypeRef ps[] = {l->pctx, l->pf, l->pi32, l->pf, l->i32};
    const char *pn[] = {"ctx", "x", "labels", "targets", "loss_kind"};
    llvmb_define(l, xasprintf("%s_train_step", l->name), dbl, ps, pn, 5);
    LLVMValueRef slot = LLVMBuildAlloca(l->b, dbl, "loss");    /* the entry block's first */
    LLVMBuildStore(l->b, LLVMConstReal(dbl, 0), slot);
    LLVMValueRef ctx = LLVMGetParam(l->fn, 0);
    l->P = llvmb_ctx_field(l, ctx, NNR_CTX_STATE, "S");
    l->G = llvmb_ctx_field(l, ctx, NNR_CTX_GRAD, "G");
    l->n = llvmb_ctx_field(l, ctx, NNR_CTX_N, "n");
    l->x = LLVMGetParam(l->fn, 1);
    l->rng = llvmb_ctx_field(l, ctx, NNR_CTX_RNG, "rng");
    LLVMValueRef arena = llvmb_ctx_field(l, ctx, NNR_CTX_ARENA, "arena");
    l->nsz = LLVMBuildSExt(l->b, l->n, l->sz, "nsz");
    LLVMValueRef off = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, tp->per_sample), "");
    LLVMValueRef fixed = LLVMBuildInBoundsGEP2(l->b, l->f32, arena, &off, 1, "fixed");
    l->scratch = llvmb_at(l, fixed, tp->fixed, "scratch");
    l->buf = xcalloc((size_t)tp->nbufs + 1, sizeof *l->buf);
    for (int b = 0; b < tp->nbufs; b++) {
        const TBuf *t = &tp->bufs[b];
        if (t->per_sample) {
            LLVMValueRef o = LLVMBuildMul(l->b, l->nsz, llvmb_sz(l, t->off_ps), "");
            l->buf[b] = LLVMBuildInBoundsGEP2(l->b, l->f32, arena, &o, 1, train_buf_name(tp, b));
        } else {
            l->buf[b] = llvmb_at(l, fixed, t->off_fx, train_buf_name(tp, b));
        }
    }
    TrainWalk w;
    train_walk_init(&w, tg, tp, &llvm_ops, l);
    w.e.P = "S";
    w.e.G = "G";
    w.e.scratch = "scratch";
    w.e.rng = "rng";
    w.e.sink = lower_train_call;
    w.e.sink_ctx = l;
    l->tw = &w;
    train_walk(&w);
    LLVMBuildRet(l->b, LLVMBuildLoad2(l->b, dbl, slot, ""));
    l->tw = NULL;
    free(l->buf);
    l->buf = NULL;
}

void llvmb_train(LB *l, const Graph *model, const Graph *tg)
{
    if (model->ninputs > 1 || !tg)
        NNC_ICE("the LLVM training step of %s: %s", model->name, tg ? "several inputs" : "no training graph");
    TrainPlan tp;
    if (train_plan(tg, &tp))
        NNC_ICE("the training graph of %s: %s", tg->name, tp.error);
    LLVMValueRef *cache = l->shape;
    l->shape = NULL;     /* a shape struct per call: a node's backward may take another */
    emit_train_arena(l, model, &tp);
    emit_train_step(l, tg, &tp);
    l->shape = cache;
}
