/* emit_llvm_stub.c — the LLVM backend's entry points in an nnc built
 * without LLVM (CMake's NNC_LLVM off or LLVM not found): main.c checks
 * emit_llvm_available() and rejects --backend=llvm with exit status 2, so
 * the others are never reached. */
#include "emit_llvm.h"

int emit_llvm_available(void)
{
    return 0;
}

void emit_llvm_ir(const Graph *g, const Graph *train, const EmitOpts *o, FILE *out)
{
    (void)g, (void)train, (void)o, (void)out;
    NNC_ICE("nnc was built without LLVM");
}

int emit_llvm_object(const Graph *g, const Graph *train, const EmitOpts *o, const char *cpu,
                     const char *path, char *err, size_t errlen)
{
    (void)g, (void)train, (void)o, (void)cpu, (void)path;
    snprintf(err, errlen, "nnc was built without LLVM");
    return -1;
}
