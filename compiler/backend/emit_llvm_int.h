/* emit_llvm_int.h — what the LLVM backend's files (emit_llvm.c: the module
 * and the inference entry points; emit_llvm_train.c: the training step)
 * share: the builder state and the helpers that spell constants, calls and
 * kernel arguments. Only built with LLVM. */
#ifndef NNC_EMIT_LLVM_INT_H
#define NNC_EMIT_LLVM_INT_H

#include <llvm-c/Core.h>

#include "emit_llvm.h"
#include "train_walk.h"

typedef struct LB {
    LLVMContextRef cx;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef v, i32, i64, sz, f32, f64, pf, ppf, pi32, pf64, prng;
    LLVMTypeRef ctx_t, pctx;    /* nnr_ctx (nnr.h), the entry points' blocks */
    const Graph *g;
    const char *name;
    /* the function being built */
    LLVMValueRef fn;
    /* NAME_forward / NAME_train_step: batch size (int and size_t), blocks, value buffers */
    LLVMValueRef n, nsz, P, scratch;
    LLVMValueRef *val;      /* [node+1] (the forward) */
    LLVMValueRef *shape;    /* [node]: its kernel's constant shape struct, once made (NULL: a
                             * struct per call, as in the training step) */
    /* the training step: the walk, each plan buffer, x, G and the generator */
    const TrainWalk *tw;
    LLVMValueRef *buf, x, G, rng;
} LB;

LLVMValueRef llvmb_declare(LB *l, const char *name, LLVMTypeRef ret, LLVMTypeRef *ps, int np);
LLVMValueRef llvmb_call(LB *l, LLVMValueRef f, LLVMValueRef *args, int n);
LLVMValueRef llvmb_i32(LB *l, int64_t v);
LLVMValueRef llvmb_sz(LB *l, int64_t v);
LLVMValueRef llvmb_f32(LB *l, double v);
/* Start an externally visible function; params get the C names. */
LLVMValueRef llvmb_define(LB *l, const char *name, LLVMTypeRef ret, LLVMTypeRef *ps,
                          const char *const *pnames, int np);
/* Field k of the nnr_ctx ctx points to (NNR_CTX_* below), loaded. */
enum { NNR_CTX_N, NNR_CTX_PARAMS, NNR_CTX_ARENA, NNR_CTX_CACHE, NNR_CTX_POS, NNR_CTX_STATE, NNR_CTX_GRAD,
       NNR_CTX_RNG };
LLVMValueRef llvmb_ctx_field(LB *l, LLVMValueRef ctx, unsigned k, const char *name);
/* base + off floats (no instruction for 0). */
LLVMValueRef llvmb_at(LB *l, LLVMValueRef base, int64_t off, const char *name);
/* The arguments of kernel call c of node n into args; the function, declared
 * (NULL for a KB_* statement). */
LLVMValueRef llvmb_lower_args(LB *l, const Node *n, const KCall *c, LLVMValueRef *args);
/* The largest per-sample scratch of graph g's forward kernels (0 when none). */
LLVMValueRef llvmb_scratch_max(LB *l, const Graph *g);
/* NAME_train_arena and NAME_train_step of model (the graph as written)
 * from its training graph tg (EmitOpts.train_graph; emit_llvm_train.c). */
void llvmb_train(LB *l, const Graph *model, const Graph *tg);

#endif
