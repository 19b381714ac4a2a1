/* onnx_tensors.c — the ONNX conformance runner's helper (tests/run_onnx_node.sh),
 * over the importer's protobuf reader:
 *   onnx_tensors rows IN_0.pb IN_1.pb ...   the tensors as CSV rows for
 *       `PROG infer`: row i holds row i (along dimension 0, the batch) of
 *       each tensor in turn, each value printed with %.9g
 *   onnx_tensors compare OUT.csv RTOL ATOL EXP_0.pb ...   0 when every value
 *       of OUT.csv (a program's output rows) is within ATOL + RTOL * |expected|
 *       of the expected tensors laid out the same way (numpy.testing's
 *       assert_allclose, as the ONNX backend tests compare), else 1 with the
 *       first difference
 *   onnx_tensors ops MODEL.onnx   the model's operator types, one per line */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_model.h"
#include "nnr.h"

static OxTensor *load(int n, char **paths)
{
    OxTensor *t = calloc((size_t)n + 1, sizeof *t);
    for (int i = 0; i < n; i++) {
        char err[512];
        size_t len;
        unsigned char *b = nnr_read_file(paths[i], &len, err, sizeof err);
        if (!b || onnx_read_tensor(b, len, &t[i], err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", paths[i], err);
            exit(2);
        }
        free(b);
        if (t[i].ndim < 1 || t[i].dims[0] != t[0].dims[0]) {
            fprintf(stderr, "%s: no batch dimension shared with the other tensors\n", paths[i]);
            exit(2);
        }
    }
    return t;
}

static int rows(int n, char **paths)
{
    OxTensor *t = load(n, paths);
    for (int64_t r = 0; r < t[0].dims[0]; r++) {
        int first = 1;
        for (int i = 0; i < n; i++) {
            int64_t per = t[i].numel / t[i].dims[0];
            for (int64_t k = 0; k < per; k++) {
                printf("%s%.9g", first ? "" : ",", t[i].v[r * per + k]);
                first = 0;
            }
        }
        printf("\n");
    }
    return 0;
}

static int compare(const char *csv, double rtol, double atol, int n, char **paths)
{
    OxTensor *t = load(n, paths);
    FILE *f = fopen(csv, "r");
    if (!f) {
        perror(csv);
        return 2;
    }
    for (int64_t r = 0; r < t[0].dims[0]; r++) {
        for (int i = 0; i < n; i++) {
            int64_t per = t[i].numel / t[i].dims[0];
            for (int64_t k = 0; k < per; k++) {
                double got, want = t[i].v[r * per + k];
                if (fscanf(f, " %lf ,", &got) != 1) {
                    printf("row %lld: output %d value %lld missing\n", (long long)r + 1, i,
                           (long long)k);
                    return 1;
                }
                int ok = (isnan(want) && isnan(got)) || got == want ||
                         fabs(got - want) <= atol + rtol * fabs(want);
                if (!ok) {
                    printf("row %lld: output %d value %lld is %.9g, expected %.9g\n",
                           (long long)r + 1, i, (long long)k, got, want);
                    return 1;
                }
            }
        }
    }
    double extra;
    if (fscanf(f, " %lf", &extra) == 1) {
        printf("more output values than expected\n");
        return 1;
    }
    fclose(f);
    return 0;
}

static int ops(const char *path)
{
    char err[512];
    size_t len;
    OxModel m;
    unsigned char *b = nnr_read_file(path, &len, err, sizeof err);
    if (!b || onnx_read_model(b, len, &m, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 2;
    }
    for (int i = 0; i < m.nnodes; i++)
        printf("%s\n", m.nodes[i].op);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "rows"))
        return rows(argc - 2, argv + 2);
    if (argc >= 6 && !strcmp(argv[1], "compare"))
        return compare(argv[2], atof(argv[3]), atof(argv[4]), argc - 5, argv + 5);
    if (argc == 3 && !strcmp(argv[1], "ops"))
        return ops(argv[2]);
    fprintf(stderr, "usage: onnx_tensors rows IN.pb... | compare OUT.csv RTOL ATOL EXP.pb... "
            "| ops MODEL.onnx\n");
    return 2;
}
