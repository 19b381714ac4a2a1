#!/usr/bin/env bash
# front_scale.sh — how long `nnc check` takes on very long files: N `let`
# lines, and a model of N labelled layers (issue 17: the front end is
# linear). Reported, not asserted (tests/front/scale.sh asserts a generous
# limit at 200k lines).
#
#   bench/front_scale.sh [NNC] [N]      defaults: build/compiler/nnc, 1000000
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nnc="${1:-$root/build/compiler/nnc}"
n="${2:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# lets: each refers to the one before it (a lookup per line)
awk -v n="$n" 'BEGIN { print "let a0 = 1"; for (i = 1; i < n; i++) printf "let a%d = a%d + 1\n", i, i - 1;
                       print "model m {\n  input [4]\n  relu\n}" }' > "$work/lets.nnet"
# layers: each labelled (the duplicate-label check), a train block freezing the last
awk -v n="$n" 'BEGIN { print "model m {\n  input [4]"; for (i = 0; i < n; i++) printf "  l%d = relu\n", i;
                       print "}"; printf "train m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n  freeze = [\"l%d\"]\n}\n", n - 1 }' > "$work/layers.nnet"

for f in lets layers; do
    start=$(date +%s.%N)
    "$nnc" check "$work/$f.nnet"
    end=$(date +%s.%N)
    printf '%-7s %8d lines: nnc check %.2f s\n' "$f" "$(wc -l < "$work/$f.nnet")" "$(echo "$end - $start" | bc)"
done
