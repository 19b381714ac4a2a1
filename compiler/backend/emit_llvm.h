/* emit_llvm.h — the LLVM backend (optional: CMake's NNC_LLVM): a model as
 * LLVM IR, built through LLVM's C API. It defines what the C backend's
 * NAME.c defines — NAME_params (and NAME_state with --weights), NAME_init,
 * NAME_prepare, NAME_arena_size, NAME_forward, and for a model with a
 * training step NAME_train_arena and NAME_train_step (emit_llvm_train.c,
 * from the same training graph and walk as the C backend's) — with the
 * same runtime kernel calls, the same arguments, arena offsets and
 * constants, so the two backends give bit-identical results and share
 * NAME.h. The kernel calls come from the op families' hooks (KCall,
 * compiler/ops/ops.h), as the C backend's do. Only generate's cached step
 * (NAME_step) is not generated here: an LLVM-built program takes it from
 * the C backend (emit_c_step_source).
 *
 * Built without LLVM, emit_llvm_stub.c provides these functions and
 * emit_llvm_available() returns 0. */
#ifndef NNC_EMIT_LLVM_H
#define NNC_EMIT_LLVM_H

#include <stdio.h>
#include "emit_c.h"

/* 1 when nnc was built with LLVM. */
int emit_llvm_available(void);
/* The module of g (the optimised inference graph) as textual LLVM IR
 * (verified; deterministic), for the host's target triple and data layout;
 * train: the model as written, whose training step it holds when o->train
 * gives one (NULL: none), as emit_c_source's. */
void emit_llvm_ir(const Graph *g, const Graph *train, const EmitOpts *o, FILE *out);
/* The module compiled at -O2 to an object file at path, for cpu (NULL or
 * "native": this machine, with its features; "generic": the target's
 * baseline; else an LLVM CPU name such as "x86-64-v3" or "skylake").
 * 0 on success; -1 with a message in err. */
int emit_llvm_object(const Graph *g, const Graph *train, const EmitOpts *o, const char *cpu,
                     const char *path, char *err, size_t errlen);

#endif
