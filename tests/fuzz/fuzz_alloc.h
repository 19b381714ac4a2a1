/* fuzz_alloc.h — per-input allocation tracking for the compiler fuzz target.
 *
 * The compiler frees little by design (a short-lived process: xmalloc'd
 * memory lives until exit). A fuzzer runs millions of inputs in one process,
 * so the harness provides the x* allocators itself (compiler/support/diag.c
 * is compiled with its own renamed away, see build.sh) and frees everything
 * they handed out after each input. */
#ifndef FUZZ_ALLOC_H
#define FUZZ_ALLOC_H
void fz_free(void *p);
void fz_free_all(void);
#endif
