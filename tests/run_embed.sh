#!/usr/bin/env bash
# run_embed.sh NNC SRC_DIR WORK — examples/embed: `nnc emit --with-loader`
# of the digits model, built with examples/embed/CMakeLists.txt, must print
# for each test row the outputs that the program of `nnc build` prints with
# the same weights file, bit for bit (the program's own `infer` is the
# oracle; both built -O3 without -march), and the
# predicted class must be the index of the largest output. A weights file
# with a wrong shape or one tensor missing is refused with a message; the
# emit without --weights warns that the parameters are the initialisation.
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work"
"$nnc" emit "$src/examples/digits.nnet" -o emitted --with-loader 2> emit.err
grep -q "warning: no --weights" emit.err || { echo "FAIL: no warning without --weights"; cat emit.err; exit 1; }
"$nnc" build "$src/examples/digits.nnet" -o prog --portable
# Weights that are not the emitted initialisation: the seed differs from the block's.
./prog train --epochs 1 --seed 99 --save w.safetensors > /dev/null
head -20 "$src/examples/data/digits_test.csv" | cut -d, -f1-64 > rows.csv
# One row per run: the example runs batches of one, and a batch's size can
# move the last digits (another GEMM path; docs/embedding.md), so the
# program answers the same batches and must agree bit for bit.
while IFS= read -r row; do
    printf '%s\n' "$row" | ./prog infer --weights w.safetensors
done < rows.csv > want.csv
cmake -S "$src/examples/embed" -B b -DNNC_EMITTED="$work/emitted" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build b > /dev/null
b/digits_embed w.safetensors < rows.csv > got.csv
cut -d, -f2- got.csv > got_outputs.csv
cmp got_outputs.csv want.csv || { echo "FAIL: the embedded outputs differ from the program's"; exit 1; }
awk -F, '{ best = 2; for (i = 3; i <= NF; i++) if ($i > $best) best = i; if ($1 != best - 2) {
    print "FAIL: row " NR " class " $1 " but the largest output is " best - 2; exit 1 } }' got.csv
[[ $(wc -l < got.csv) == 20 ]] || { echo "FAIL: 20 rows expected"; exit 1; }
# A file for another model: refused, one message, exit 1.
"$nnc" build "$src/examples/classifier.nnet" -o other --portable
./other train --epochs 0 --save other.safetensors > /dev/null
if b/digits_embed other.safetensors < rows.csv > /dev/null 2> bad.err; then
    echo "FAIL: a weights file of another model was accepted"; exit 1
fi
grep -q "tensor" bad.err || { echo "FAIL: no message naming a tensor"; cat bad.err; exit 1; }
# The blob entry point: the same file's bytes in memory give the same
# parameter block as digits_load + digits_prepare, bit for bit; a blob cut
# short is refused with a message.
cat > blob.c <<'EOC'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "digits.h"
#include "digits_load.h"
static float s1[DIGITS_STATE_SIZE], s2[DIGITS_STATE_SIZE], p1[DIGITS_PARAMS_SIZE], p2[DIGITS_PARAMS_SIZE];
int main(int argc, char **argv)
{
    char err[512];
    FILE *f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END)) return 2;
    long n = ftell(f);
    unsigned char *blob = malloc((size_t)n);
    rewind(f);
    if (fread(blob, 1, (size_t)n, f) != (size_t)n) return 2;
    fclose(f);
    if (digits_load(argv[1], s1, err, sizeof err)) { fprintf(stderr, "load: %s\n", err); return 1; }
    digits_prepare(s1, p1);
    if (digits_params_from(blob, (size_t)n, s2, p2, err, sizeof err)) { fprintf(stderr, "blob: %s\n", err); return 1; }
    if (memcmp(p1, p2, sizeof p1) || memcmp(s1, s2, sizeof s1)) { fprintf(stderr, "blocks differ\n"); return 1; }
    if (digits_params_from(blob, (size_t)n - 9, s2, p2, err, sizeof err) == 0) { fprintf(stderr, "short blob accepted\n"); return 1; }
    printf("%s\n", err);
    free(blob);
    return 0;
}
EOC
cc -std=c11 -O2 -I emitted -o blob blob.c emitted/*.c -lm
./blob w.safetensors > blob.out || { echo "FAIL: digits_params_from"; exit 1; }
[[ -s blob.out ]] || { echo "FAIL: no message for a blob cut short"; exit 1; }
echo "ok: examples/embed agrees with nnc build's program on 20 rows"
