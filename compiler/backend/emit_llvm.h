/* emit_llvm.h — the LLVM backend (optional: CMake's NNC_LLVM): the
 * inference entry points of a model as LLVM IR, built through LLVM's C
 * API. It defines what the C backend's NAME.c defines for inference —
 * NAME_params (and NAME_state with --weights), NAME_init, NAME_prepare,
 * NAME_arena_size, NAME_forward — with the same runtime kernel calls, the
 * same arguments, arena offsets and constants, so the two backends give
 * bit-identical results and share NAME.h. The forward's kernel calls come
 * from the op families' hooks (KCall, compiler/ops/ops.h), as the C
 * backend's do. The training step is not generated here: an LLVM-built
 * program takes it from the C backend (emit_c_train_source).
 *
 * Built without LLVM, emit_llvm_stub.c provides these functions and
 * emit_llvm_available() returns 0. */
#ifndef NNC_EMIT_LLVM_H
#define NNC_EMIT_LLVM_H

#include <stdio.h>
#include "emit_c.h"

/* 1 when nnc was built with LLVM. */
int emit_llvm_available(void);
/* The module as textual LLVM IR (verified; deterministic), for the host's
 * target triple and data layout. */
void emit_llvm_ir(const Graph *g, const EmitOpts *o, FILE *out);
/* The module compiled at -O2 to an object file at path, for cpu (NULL or
 * "native": this machine, with its features; "generic": the target's
 * baseline; else an LLVM CPU name such as "x86-64-v3" or "skylake").
 * 0 on success; -1 with a message in err. */
int emit_llvm_object(const Graph *g, const EmitOpts *o, const char *cpu, const char *path,
                     char *err, size_t errlen);

#endif
