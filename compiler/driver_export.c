/* driver_export.c — `nnc export FILE.nnet --torch -o model.py`: the model
 * as lowered (before the optimisation passes) printed as a PyTorch script
 * (export_torch.c), written atomically: an error leaves no file. A .nir
 * file (IR text) is exported as it stands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_int.h"
#include "export_torch.h"

static void write_text(void *ctx, FILE *out)
{
    fputs(ctx, out);
}

/* IR text (as `nnc ir -O0` prints it, or written by hand): the graph as
 * it stands; a node that an optimisation pass changed has no spelling. */
static int export_nir(const DriverOpts *o)
{
    SrcFile src;
    Diag diag;
    Graph *g = driver_read_nir(o->input, &src, &diag);
    if (!g)
        return 1;
    char *py = export_torch(g, o->input, o->output, &diag);
    if (!py)
        return 1;
    int bad = driver_write_atomic(o->output, write_text, py, &diag);
    free(py);
    return bad || diag.nerrors ? 1 : 0;
}

int driver_export(const DriverOpts *o)
{
    if (!o->torch) {
        fprintf(stderr, "nnc: export needs the format to write: --torch (a PyTorch module)\n");
        return 2;
    }
    if (o->weights) {
        fprintf(stderr, "nnc: export does not take --weights: give the weights to the exported "
                "script (python3 model.py WEIGHTS < rows.csv)\n");
        return 2;
    }
    if (driver_has_ext(o->input, ".nir"))
        return export_nir(o);
    Unit u;
    if (driver_load(o, &u))
        return 1;
    char *text = export_torch(u.g, o->input, o->output, &u.diag);
    if (!text)
        return 1;
    int bad = driver_write_atomic(o->output, write_text, text, &u.diag);
    free(text); /* open_memstream's buffer: not from xmalloc */
    if (bad)
        return 1;
    return driver_finish(&u, 0);
}
