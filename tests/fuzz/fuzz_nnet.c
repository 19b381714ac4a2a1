/* fuzz_nnet.c — libFuzzer target for the .nnet front end and middle end:
 * parse → check and lower → pass pipeline (-O0 and -O2, with the IR
 * verifier) → memory plan → C emission (to /dev/null). Diagnostics are
 * expected; crashes, sanitizer reports and internal errors are bugs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "sema.h"
#include "passes/pass.h"
#include "passes/autodiff.h"
#include "backend/emit_c.h"
#include "fuzz_alloc.h"

extern int64_t nnc_max_floats;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!getenv("FUZZ_VERBOSE"))
        stderr = devnull; /* diagnostics; sanitizer reports use fd 2 directly */
    /* Keep single inputs fast: the size limit itself is what is tested. */
    nnc_max_floats = (int64_t)1 << 22;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    SrcFile src = {"fuzz.nnet", text, size};
    Diag d;
    diag_init(&d, &src);
    Ast ast;
    memset(&ast, 0, sizeof ast);
    Program prog;
    memset(&prog, 0, sizeof prog);
    if (nnc_parse(&src, &d, &ast) == 0 && sema_check(&ast, &src, "/nonexistent", &d, &prog) == 0 &&
        d.nerrors == 0) {
        for (int m = 0; m < prog.nmodels; m++) {
            for (int level = 0; level <= 2; level += 2) {
                Graph *g = ir_clone(prog.models[m]);
                PipelineOpts po;
                memset(&po, 0, sizeof po);
                po.opt_level = level;
                po.verify = 1;
                Diag pd = d;
                if (pipeline_run(g, &po, &pd) != 0)
                    continue;
                MemPlan mp;
                memplan_inference(g, &mp);
                if (level == 2) {
                    EmitOpts eo = {"nnc build fuzz.nnet", 0, 0};
                    const TrainCfg *t = &prog.trains[m];
                    eo.train = t;
                    /* the training graph, built once as the driver does */
                    if (ir_output(prog.models[m]) >= 0)
                        eo.train_graph = train_graph(prog.models[m], t->freeze, t->nfreeze, g->planned);
                    emit_c_header(g, &eo, devnull);
                    emit_c_source(g, prog.models[m], t, &eo, devnull);
                    emit_c_main(g, t, &eo, devnull);
                }
            }
        }
    }
    fz_free_all();
    return 0;
}
