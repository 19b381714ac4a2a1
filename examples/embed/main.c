/* main.c — an embedded digits classifier: the C that `nnc emit --with-loader`
 * writes for examples/digits.nnet, its weights read at run time from a
 * safetensors (or PyTorch .pth) file, and one prediction per CSV row of
 * standard input (64 pixel values 0..16, any further column ignored).
 *
 *   nnc emit examples/digits.nnet -o digits_c --with-loader
 *   cmake -S examples/embed -B embed-build -DNNC_EMITTED=$PWD/digits_c
 *   cmake --build embed-build
 *   embed-build/digits_embed digits.safetensors < examples/data/digits_test.csv
 *
 * Prints, per row, the predicted class and the ten outputs (logits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "digits_load.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s WEIGHTS.safetensors < rows.csv\n", argv[0]);
        return 2;
    }
    /* The state block is the state_dict; params is what forward reads
     * (folded, packed): prepare once after loading. */
    static float state[DIGITS_STATE_SIZE], params[DIGITS_PARAMS_SIZE];
    char err[512];
    if (digits_load(argv[1], state, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    digits_prepare(state, params);
    /* Scratch for a batch of one; size it for the largest batch you run. */
    float *arena = malloc(digits_arena_size(1) * sizeof(float));
    if (!arena)
        return 1;
    /* What the forward reads: the batch, the parameter block and the scratch. */
    const nnr_ctx ctx = {.n = 1, .params = params, .arena = arena};
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        float x[DIGITS_IN_SIZE], y[DIGITS_OUT_SIZE];
        char *p = line;
        int i = 0;
        for (; i < DIGITS_IN_SIZE; i++) {
            char *end;
            x[i] = strtof(p, &end);
            if (end == p)
                break;
            p = end + strspn(end, ", \t");
        }
        if (i < DIGITS_IN_SIZE) {
            fprintf(stderr, "a row needs %d numbers\n", DIGITS_IN_SIZE);
            free(arena);
            return 1;
        }
        digits_forward(&ctx, x, y);
        int best = 0;
        for (int j = 1; j < DIGITS_OUT_SIZE; j++)
            if (y[j] > y[best])
                best = j;
        printf("%d", best);
        for (int j = 0; j < DIGITS_OUT_SIZE; j++)
            printf(",%.9g", y[j]);
        printf("\n");
    }
    free(arena);
    return 0;
}
