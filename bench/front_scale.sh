#!/usr/bin/env bash
# front_scale.sh — how long `nnc check` takes on very long files: N `let`
# lines, and a model of N labelled layers (issue 17: the front end is
# linear); version 2: a model of N/10 declared layers and a forward block
# of N/10 assignments calling them, and a model of N/100 block instances
# called one after the other. Reported (wall, user and system seconds,
# peak memory), not asserted (tests/front/scale.sh and scale_v2.sh assert
# a generous limit).
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

m=$((n / 10)); k=$((n / 100))
# fwd: declared layers and a forward block calling each (sema_fwd.c, sema_graph.c)
awk -v n="$m" 'BEGIN { print "model m {\n  input x [4]"; for (i = 0; i < n; i++) printf "  l%d = linear(4, 4)\n", i;
                       print "  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = l%d(h%d) + h%d\n", i + 1, i, i, i;
                       printf "    return h%d\n  }\n}\n", n }' > "$work/fwd.nnet"
# blocks: instances of a block with its own layer and forward, a dotted freeze
awk -v n="$k" 'BEGIN { print "block b(p) {\n  input x\n  fc = linear(p, p)\n  forward {\n    h = relu(fc(x))\n    return h + x\n  }\n}";
                       print "model m {\n  input x [4]"; for (i = 0; i < n; i++) printf "  b%d = b(4)\n", i;
                       print "  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = b%d(h%d)\n", i + 1, i, i;
                       printf "    return h%d\n  }\n}\ntrain m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n  freeze = [\"b%d.fc\"]\n}\n", n, n - 1 }' \
    > "$work/blocks.nnet"

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for f in lets layers fwd blocks; do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$nnc" check "$work/$f.nnet"
    read -r wall user sys kib < "$work/time"
    printf '%-7s %8d lines: nnc check %6.2f s wall, %5.2f s user, %5.2f s sys, %5d MiB\n' "$f" \
        "$(wc -l < "$work/$f.nnet")" "$wall" "$user" "$sys" $((kib / 1024))
done
