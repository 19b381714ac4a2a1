/* ort_bench.c — time an ONNX model with ONNX Runtime's CPU library, through
 * its C API, one intra-op thread.
 *
 *   ort_bench LIBONNXRUNTIME.so MODEL.onnx SHAPE OUT_ELEMS SECONDS X.bin [REF.bin]
 *
 * SHAPE is the input shape with the batch, e.g. 1,784 or 64,784 or 1,1,28,28;
 * X.bin holds at least that many floats (little-endian f32); the output
 * ("y", OUT_ELEMS floats) is written into a buffer bound once, like nnc's
 * preallocated arena. With REF.bin, prints the max |difference| to it.
 * Output: `ort_version=...`, `maxdiff=...`, `median_us=<per Run> batch=<N>`.
 *
 * The npm package onnxruntime-node ships libonnxruntime.so but no header, so
 * the few entry points used are declared here. OrtApi is a table of function
 * pointers that ONNX Runtime only ever appends to; the indices below are those
 * of onnxruntime_c_api.h (unchanged since ORT_API_VERSION 1). They are checked
 * at start-up: a CreateStatus/GetErrorMessage round trip, and the session's
 * input/output counts (both 1 for our models). The library is dlopen'ed. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtValue OrtValue;

typedef struct OrtApiBase {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

/* Indices into OrtApi (onnxruntime_c_api.h, struct OrtApi, in order). */
enum {
    ORT_CreateStatus = 0,
    ORT_GetErrorMessage = 2,
    ORT_CreateEnv = 3,
    ORT_CreateSession = 7,
    ORT_Run = 9,
    ORT_CreateSessionOptions = 10,
    ORT_SetSessionExecutionMode = 13,
    ORT_SetSessionGraphOptimizationLevel = 23,
    ORT_SetIntraOpNumThreads = 24,
    ORT_SetInterOpNumThreads = 25,
    ORT_SessionGetInputCount = 30,
    ORT_SessionGetOutputCount = 31,
    ORT_CreateTensorWithDataAsOrtValue = 49,
    ORT_CreateCpuMemoryInfo = 69,
    ORT_ReleaseEnv = 92,
    ORT_ReleaseStatus = 93,
    ORT_ReleaseMemoryInfo = 94,
    ORT_ReleaseSession = 95,
    ORT_ReleaseValue = 96,
    ORT_ReleaseSessionOptions = 100,
};

typedef OrtStatus *(*CreateStatus_fn)(int code, const char *msg);
typedef const char *(*GetErrorMessage_fn)(const OrtStatus *);
typedef OrtStatus *(*CreateEnv_fn)(int level, const char *logid, OrtEnv **out);
typedef OrtStatus *(*CreateSession_fn)(const OrtEnv *, const char *path,
                                       const OrtSessionOptions *, OrtSession **out);
typedef OrtStatus *(*Run_fn)(OrtSession *, const void *run_options, const char *const *in_names,
                             const OrtValue *const *in, size_t nin,
                             const char *const *out_names, size_t nout, OrtValue **out);
typedef OrtStatus *(*CreateSessionOptions_fn)(OrtSessionOptions **);
typedef OrtStatus *(*SetInt_fn)(OrtSessionOptions *, int);
typedef OrtStatus *(*SessionGetCount_fn)(const OrtSession *, size_t *);
typedef OrtStatus *(*CreateTensorWithData_fn)(const OrtMemoryInfo *, void *data, size_t bytes,
                                              const int64_t *shape, size_t ndim, int elem_type,
                                              OrtValue **out);
typedef OrtStatus *(*CreateCpuMemoryInfo_fn)(int alloc_type, int mem_type, OrtMemoryInfo **out);
typedef void (*Release_fn)(void *);

static void *const *api;
#define FN(idx, type) ((type)api[idx])

static void check(OrtStatus *st, const char *what)
{
    if (!st)
        return;
    fprintf(stderr, "ort_bench: %s: %s\n", what, FN(ORT_GetErrorMessage, GetErrorMessage_fn)(st));
    exit(1);
}

typedef struct run_ctx {
    OrtSession *sess;
    const OrtValue *in;
    OrtValue *out;
} run_ctx;

static const char *in_names[] = {"x"}, *out_names[] = {"y"};

static void run_once(void *p)
{
    run_ctx *c = p;
    check(FN(ORT_Run, Run_fn)(c->sess, NULL, in_names, &c->in, 1, out_names, 1, &c->out), "Run");
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s LIB MODEL.onnx SHAPE OUT_ELEMS SECONDS X.bin [REF.bin]\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "ort_bench: %s\n", dlerror());
        return 1;
    }
    const OrtApiBase *(*get_base)(void);
    *(void **)&get_base = dlsym(lib, "OrtGetApiBase");
    if (!get_base) {
        fprintf(stderr, "ort_bench: no OrtGetApiBase in %s\n", argv[1]);
        return 1;
    }
    const OrtApiBase *base = get_base();
    printf("ort_version=%s\n", base->GetVersionString());
    api = base->GetApi(13);   /* the table of API version 13 is a prefix of every later one */
    if (!api) {
        fprintf(stderr, "ort_bench: GetApi(13) failed\n");
        return 1;
    }
    /* Check the table: a status made by CreateStatus reads back. */
    OrtStatus *probe = FN(ORT_CreateStatus, CreateStatus_fn)(1, "nnc-probe");
    if (!probe || strcmp(FN(ORT_GetErrorMessage, GetErrorMessage_fn)(probe), "nnc-probe")) {
        fprintf(stderr, "ort_bench: OrtApi layout check failed\n");
        return 1;
    }
    FN(ORT_ReleaseStatus, Release_fn)(probe);

    int64_t shape[8];
    size_t ndim = 0, in_elems = 1;
    for (char *s = argv[3]; *s && ndim < 8;) {
        shape[ndim] = strtoll(s, &s, 10);
        in_elems *= (size_t)shape[ndim++];
        if (*s == ',')
            s++;
    }
    size_t out_elems = (size_t)strtoull(argv[4], NULL, 10);
    double seconds = atof(argv[5]);
    size_t nx = 0;
    float *xfile = bench_read_f32(argv[6], &nx);
    if (!xfile || nx < in_elems) {
        fprintf(stderr, "ort_bench: %s: need %zu floats\n", argv[6], in_elems);
        return 1;
    }
    float *x = malloc(in_elems * sizeof *x), *y = calloc(out_elems, sizeof *y);
    memcpy(x, xfile, in_elems * sizeof *x);

    OrtEnv *env;
    check(FN(ORT_CreateEnv, CreateEnv_fn)(3 /* ERROR */, "bench", &env), "CreateEnv");
    OrtSessionOptions *so;
    check(FN(ORT_CreateSessionOptions, CreateSessionOptions_fn)(&so), "CreateSessionOptions");
    check(FN(ORT_SetIntraOpNumThreads, SetInt_fn)(so, 1), "SetIntraOpNumThreads");
    check(FN(ORT_SetInterOpNumThreads, SetInt_fn)(so, 1), "SetInterOpNumThreads");
    check(FN(ORT_SetSessionExecutionMode, SetInt_fn)(so, 0 /* SEQUENTIAL */), "SetSessionExecutionMode");
    check(FN(ORT_SetSessionGraphOptimizationLevel, SetInt_fn)(so, 99 /* ENABLE_ALL */),
          "SetSessionGraphOptimizationLevel");
    OrtSession *sess;
    check(FN(ORT_CreateSession, CreateSession_fn)(env, argv[2], so, &sess), "CreateSession");
    size_t nin = 0, nout = 0;
    check(FN(ORT_SessionGetInputCount, SessionGetCount_fn)(sess, &nin), "SessionGetInputCount");
    check(FN(ORT_SessionGetOutputCount, SessionGetCount_fn)(sess, &nout), "SessionGetOutputCount");
    if (nin != 1 || nout != 1) {
        fprintf(stderr, "ort_bench: OrtApi layout check failed (inputs %zu, outputs %zu)\n", nin, nout);
        return 1;
    }
    OrtMemoryInfo *mi;
    check(FN(ORT_CreateCpuMemoryInfo, CreateCpuMemoryInfo_fn)(0 /* device */, 0 /* default */, &mi),
          "CreateCpuMemoryInfo");
    OrtValue *in, *out;
    check(FN(ORT_CreateTensorWithDataAsOrtValue, CreateTensorWithData_fn)(
              mi, x, in_elems * sizeof *x, shape, ndim, 1 /* FLOAT */, &in),
          "CreateTensorWithDataAsOrtValue(x)");
    int64_t oshape[2] = {shape[0], (int64_t)out_elems / shape[0]};
    check(FN(ORT_CreateTensorWithDataAsOrtValue, CreateTensorWithData_fn)(
              mi, y, out_elems * sizeof *y, oshape, 2, 1, &out),
          "CreateTensorWithDataAsOrtValue(y)");
    run_ctx c = {sess, in, out};
    run_once(&c);
    if (argc > 7) {
        size_t nr = 0;
        float *ref = bench_read_f32(argv[7], &nr);
        double md = 0;
        for (size_t i = 0; ref && i < out_elems && i < nr; i++) {
            double d = y[i] > ref[i] ? y[i] - ref[i] : ref[i] - y[i];
            md = d > md ? d : md;
        }
        printf("maxdiff=%.3g\n", ref ? md : -1.0);
        free(ref);
    }
    double med = bench_median(run_once, &c, seconds, 5);
    printf("median_us=%.3f batch=%lld\n", med * 1e6, (long long)shape[0]);

    FN(ORT_ReleaseValue, Release_fn)(in);
    FN(ORT_ReleaseValue, Release_fn)(out);
    FN(ORT_ReleaseMemoryInfo, Release_fn)(mi);
    FN(ORT_ReleaseSession, Release_fn)(sess);
    FN(ORT_ReleaseSessionOptions, Release_fn)(so);
    FN(ORT_ReleaseEnv, Release_fn)(env);
    free(x);
    free(y);
    free(xfile);
    return 0;
}
