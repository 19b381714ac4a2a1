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
echo "ok: examples/embed agrees with nnc build's program on 20 rows"
