/* convert.c — `nnc convert IN -o OUT.safetensors`: any weights file nnc reads
 * (a PyTorch .pth state_dict or a safetensors file, told apart by content;
 * runtime/io/pth.c) written as safetensors through the runtime's atomic
 * writer; and the message for a weights or ONNX file handed to a command
 * that wants a .nnet model (LANGUAGE.md §11). */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pth.h"
#include "nnr.h"

/* "PATH: msg" from the runtime's readers, printed as "PATH: error: msg". */
static void report(const char *path, const char *err)
{
    size_t pl = strlen(path);
    const char *msg = err;
    if (strncmp(err, path, pl) == 0 && err[pl] == ':' && err[pl + 1] == ' ')
        msg = err + pl + 2;
    fflush(stdout);
    fprintf(stderr, "%s: error: %s\n", path, msg);
}

int convert_main(const DriverOpts *o)
{
    char err[640];
    nnr_st_file f;
    if (nnr_weights_read(o->input, &f, err, sizeof err) != 0) {
        report(o->input, err);
        return 1;
    }
    nnr_st_out *t = calloc(f.ntensors ? (size_t)f.ntensors : 1, sizeof *t);
    if (t == NULL) {
        nnr_st_free(&f);
        fprintf(stderr, "nnc: error: out of memory\n");
        return 1;
    }
    for (int i = 0; i < f.ntensors; i++) {
        const nnr_st_tensor *s = &f.tensors[i];
        t[i] = (nnr_st_out){s->name, s->ndim, s->shape, s->data, s->dtype_was_int};
    }
    int rc = nnr_st_write(o->output, t, f.ntensors, err, sizeof err);
    if (rc != 0) report(o->output, err);
    free(t);
    nnr_st_free(&f);
    return rc != 0;
}

int convert_refuse_foreign(const char *path, const char *text, size_t len, Diag *d)
{
    const char *p = path;
    switch (nnr_file_sniff((const unsigned char *)text, len)) {
    case NNR_FILE_SAFETENSORS:
        diag_error_file(d, p, "this is a safetensors weights file, not a .nnet model: give it "
                        "to `nnc build MODEL.nnet --weights %s`, or to a program's --weights "
                        "or --init", p);
        return 1;
    case NNR_FILE_ZIP:
        diag_error_file(d, p, "this is a zip archive (a PyTorch .pth file?), not a .nnet "
                        "model: a state_dict saved by torch.save is read by `nnc build "
                        "MODEL.nnet --weights %s` and by a program's --weights or --init, "
                        "and `nnc convert %s -o OUT.safetensors` converts it", p, p);
        return 1;
    case NNR_FILE_PTH_LEGACY:
        diag_error_file(d, p, "this is a PyTorch file in the legacy format (before PyTorch "
                        "1.6), not a .nnet model: save it again with a current PyTorch, then "
                        "give it to `nnc build MODEL.nnet --weights FILE` or `nnc convert FILE "
                        "-o OUT.safetensors`");
        return 1;
    case NNR_FILE_PICKLE:
        diag_error_file(d, p, "this is a Python pickle, not a .nnet model: nnc reads models "
                        "from .nnet files, and weights from .safetensors or .pth files");
        return 1;
    case NNR_FILE_ONNX:
        diag_error_file(d, p, "this is an ONNX model, not a .nnet model: `nnc import %s -o "
                        "DIR` reads it and writes DIR/NAME.nnet", p);
        return 1;
    case NNR_FILE_OTHER:
        break;
    }
    return 0;
}
