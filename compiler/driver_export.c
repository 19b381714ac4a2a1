/* driver_export.c — `nnc export FILE.nnet --torch -o model.py`: the model
 * as lowered (before the optimisation passes) printed as a PyTorch script
 * (export_torch.c), written atomically: an error leaves no file. */
#include <stdio.h>
#include <string.h>

#include "driver_int.h"
#include "export_torch.h"

static void write_text(void *ctx, FILE *out)
{
    fputs(ctx, out);
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
    Unit u;
    if (driver_load(o, &u))
        return 1;
    char *text = export_torch(u.g, o->input, o->output, &u.diag);
    if (!text)
        return 1;
    if (driver_write_atomic(o->output, write_text, text, &u.diag))
        return 1;
    return driver_finish(&u, 0);
}
