#!/usr/bin/env bash
# demo.sh — the main job, end to end, with a built nnc: compile
# examples/digits.nnet, train it on the 8x8 digits, report the test accuracy
# and run `infer` on a few test samples, predictions next to the true labels.
# Everything is written under WORK (default: BUILD/demo when NNC is
# BUILD/compiler/nnc, else a temporary folder), never into the source tree.
#
#   usage: scripts/demo.sh NNC [WORK]
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: scripts/demo.sh NNC [WORK]" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
nnc="$(abspath "$1")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$nnc" ] || { echo "demo: $nnc is not an executable (build nnc first: scripts/build.sh)" >&2; exit 2; }
if [ $# -eq 2 ]; then
    work="$(abspath "$2")"
elif [ "$(basename "$(dirname "$nnc")")" = compiler ]; then
    work="$(dirname "$(dirname "$nnc")")/demo"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/nnc-demo.XXXXXX")"
fi
case "$work" in "$root"|"$root/examples"*|"$root/tests"*) echo "demo: refusing work dir $work" >&2; exit 2 ;; esac
mkdir -p "$work"
model="$root/examples/digits.nnet"
test_csv="$root/examples/data/digits_test.csv"
prog="$work/digits"
weights="$work/digits.safetensors"

echo "== nnc build examples/digits.nnet -o $prog"
"$nnc" build "$model" -o "$prog"

echo "== digits train (20 epochs of sgd on 1437 8x8 digits, validation on 360)"
start=$(date +%s.%N)
"$prog" train --save "$weights" --log "$work/digits_log.csv"
end=$(date +%s.%N)
echo "train time: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f s", b - a }')"

echo "== digits eval --data examples/data/digits_test.csv"
"$prog" eval --data "$test_csv" --weights "$weights" | tee "$work/eval.txt"
acc="$(sed -n 's/^accuracy=//p' "$work/eval.txt")"
echo "test accuracy: $(awk -v a="$acc" 'BEGIN { printf "%.2f%%", 100 * a }')"

n=10
echo "== digits infer on the first $n test samples"
head -n "$n" "$test_csv" | cut -d, -f1-64 | "$prog" infer --weights "$weights" >"$work/logits.csv"
head -n "$n" "$test_csv" | cut -d, -f65 | paste -d, "$work/logits.csv" - |
    awk -F, '{ best = 1
               for (i = 2; i <= 10; i++) if ($i > $best) best = i
               printf "sample %2d: predicted %d, true %d%s\n", NR, best - 1, $11,
                      (best - 1 == $11 ? "" : "   <- wrong") }'
