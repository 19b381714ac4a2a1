/* emit_c_load.c — `nnc emit --with-loader`: NAME_load.h and NAME_load.c,
 * which fill the caller's state block (NAME_STATE_SIZE floats, the
 * state_dict in order) from a safetensors or PyTorch .pth file, or from
 * such a file's bytes already in memory (mapped, or linked into the
 * program). Strict as `nnc build --weights`: every tensor present with its
 * shape, no other tensor (a tied tensor's second name optional, equal if
 * present); every length and offset checked against the size. They use
 * the runtime's readers and its loader (io/weights.c), written beside them. */
#include <stdio.h>

#include "emit_c.h"

void emit_c_load_header(const Graph *g, const EmitOpts *o, FILE *out)
{
    const char *n = g->name, *stem = o->stem ? o->stem : n;
    const char *N = emit_c_upper(n);
    emit_c_front_matter(g, o, out, xasprintf("%s_load.h", stem), "loading the weights of model");
    fprintf(out, "#ifndef NNC_LOAD_%s_H\n#define NNC_LOAD_%s_H\n\n#include <stddef.h>\n\n", N, N);
    fprintf(out,
            "/* Read the weights file path (safetensors, or PyTorch's torch.save of a\n"
            " * state_dict, told apart by content) into state[%s_STATE_SIZE]", N);
    if (g->infer_size > 0)
        fprintf(out, "; then\n * %s_prepare(state, params) gives the block %s_forward reads", n, n);
    fprintf(out,
            ".\n * Strict: every tensor of the model with its shape and no other. Returns\n"
            " * 0, or -1 with a one-line message in err (state untouched). */\n"
            "int %s_load(const char *path, float *state, char *err, size_t errlen);\n\n", n);
    fprintf(out,
            "/* The same from the n bytes of such a file already in memory (a mapped\n"
            " * file, or one linked into the program): blob is never written and may\n"
            " * be freed after the call. */\n"
            "int %s_state_from(const void *blob, size_t n, float *state, char *err, size_t errlen);\n\n",
            n);
    if (g->infer_size > 0)  /* else there is no NAME_prepare to call */
        fprintf(out,
                "/* %s_state_from, then %s_prepare(state, params): from a blob to the\n"
                " * block %s_forward reads (params[%s_PARAMS_SIZE]) in one call. */\n"
                "int %s_params_from(const void *blob, size_t n, float *state, float *params, char *err,\n"
                "                  size_t errlen);\n\n", n, n, n, N, n);
    fprintf(out, "#endif\n");
}

/* The strict check and copy, shared by both entry points: the runtime's
 * loader (nnr_load_state_from, io/weights.c), its first error into err. */
static void emit_check_copy(const Graph *g, FILE *out, int ntensors)
{
    fprintf(out,
            "typedef struct first_error {\n    char *err;\n    size_t errlen;\n    int said;\n} first_error;\n\n"
            "static void keep_first(void *ctx, const char *kind, const char *path, const char *msg)\n{\n"
            "    first_error *e = ctx;\n"
            "    if (!e->said && strcmp(kind, \"error\") == 0) {\n"
            "        snprintf(e->err, e->errlen, \"%%s: %%s\", path, msg);\n"
            "        e->said = 1;\n"
            "    }\n}\n\n"
            "static int check_copy(const nnr_st_file *f, const char *what, float *state, char *err,\n"
            "                      size_t errlen)\n{\n"
            "    first_error e = {err, errlen, 0};\n"
            "    return nnr_load_state_from(f, what, tensors, %d, %s, %d, 1, state, keep_first, &e);\n}\n\n",
            ntensors, g->nties ? "ties" : "NULL", g->nties);
}

void emit_c_load_source(const Graph *g, const EmitOpts *o, FILE *out)
{
    const char *n = g->name, *stem = o->stem ? o->stem : n;
    emit_c_front_matter(g, o, out, xasprintf("%s_load.c", stem), "loading the weights of model");
    fprintf(out, "#include <stdio.h>\n#include <string.h>\n\n#include \"nnr_prog.h\"\n#include \"pth.h\"\n"
                 "#include \"%s.h\"\n#include \"%s_load.h\"\n\n", stem, stem);
    fprintf(out, "/* The state_dict: names, shapes and offsets in the state block. */\n");
    int ntensors = emit_c_tensors(g, NULL, NULL, out);
    emit_check_copy(g, out, ntensors);
    fprintf(out,
            "int %s_load(const char *path, float *state, char *err, size_t errlen)\n{\n"
            "    nnr_st_file f;\n"
            "    if (nnr_weights_read(path, &f, err, errlen) != 0)\n"
            "        return -1;\n"
            "    int rc = check_copy(&f, path, state, err, errlen);\n"
            "    nnr_st_free(&f);\n"
            "    return rc;\n}\n\n", n);
    fprintf(out,
            "int %s_state_from(const void *blob, size_t n, float *state, char *err, size_t errlen)\n{\n"
            "    nnr_st_file f;\n"
            "    if (nnr_weights_parse((const unsigned char *)blob, n, \"%s weights\", &f, err, errlen) != 0)\n"
            "        return -1;\n"
            "    int rc = check_copy(&f, \"%s weights\", state, err, errlen);\n"
            "    nnr_st_free(&f);\n"
            "    return rc;\n}\n\n", n, n, n);
    if (g->infer_size == 0)
        return;
    fprintf(out,
            "int %s_params_from(const void *blob, size_t n, float *state, float *params, char *err,\n"
            "                  size_t errlen)\n{\n"
            "    if (%s_state_from(blob, n, state, err, errlen) != 0)\n"
            "        return -1;\n"
            "    %s_prepare(state, params);\n"
            "    return 0;\n}\n", n, n, n);
}
