#!/usr/bin/env bash
# scale_passes.sh NNC WORK — the passes are linear too, not only the front
# end: `nnc ir` (the -O2 passes and the memory plan) of a model of 30k
# block instances (each a linear, a relu and a residual add: fuse-act,
# prepack and memplan over 90k nodes), and `nnc ir --train` (autodiff,
# the training plan and its memory planner) of 10k block instances and of
# a chain of 30k linear + relu pairs; and `nnc emit` of the 10k blocks
# with their training step. Each within a generous 120 s: on the idle
# 2-core Zen 5 VM they take about 1, 1.6, 3.5 and 8 s; when each pass
# scanned the graph per candidate they took about 133 s, 23 s and 3
# minutes, and the emission ran out of memory (9 GB for 4k blocks), which
# caught the quadratic walks of ir_readers, ir_replace_uses, the pack
# lookup, the first-fit planner, the grad_input search, the gradient
# names made again for every backward step and the unique struct names. Sized to finish within ctest's 300 s under the
# sanitizers on a loaded machine.
set -u
nnc="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
limit=120
blocks() {  # blocks N [train]
    awk -v n="$1" -v train="${2:-}" 'BEGIN {
        print "block b(p) {\n  input x\n  fc = linear(p, p)\n  forward {\n    h = relu(fc(x))\n    return h + x\n  }\n}";
        print "model m {\n  input x [4]"; for (i = 0; i < n; i++) printf "  b%d = b(4)\n", i;
        print "  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = b%d(h%d)\n", i + 1, i, i;
        printf "    return h%d\n  }\n}\n", n;
        if (train) print "train m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n}" }'
}
blocks 30000 > "$work/blk.nnet"
blocks 10000 train > "$work/blk_train.nnet"
awk -v n=30000 'BEGIN { print "model m {\n  input [4]"; for (i = 0; i < n; i++) print "  linear(4, 4)\n  relu";
                        print "}\ntrain m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n}" }' > "$work/chain_train.nnet"
fail=0
run() {  # run NAME ARGS...
    local name="$1"; shift
    local start rc ms
    start=$(date +%s%N)
    timeout "$limit" "$nnc" ir "$@" > "$work/$name.ir"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$name: nnc ir $* in $ms ms (exit $rc), $(grep -c ' = ' "$work/$name.ir") IR lines"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: nnc ir $name exited $rc (124: over the $limit s limit)"
        fail=1
    fi
}
run blk "$work/blk.nnet"
run blk_train --train "$work/blk_train.nnet"
run chain_train --train "$work/chain_train.nnet"
start=$(date +%s%N)
timeout "$limit" "$nnc" emit "$work/blk_train.nnet" -o "$work/emit" 2> "$work/emit.err"
rc=$?
echo "blk_train: nnc emit in $(( ($(date +%s%N) - start) / 1000000 )) ms (exit $rc)"
if [ "$rc" -ne 0 ] || [ "$(grep -c '^double m_train_step(' "$work/emit/m.c")" -ne 1 ] ||
   [ "$(grep -c '/\* d linear' "$work/emit/m.c")" -ne 10000 ]; then
    echo "FAIL: nnc emit of blk_train: exit $rc (124: over the $limit s limit), or not 10000 linear backward steps"
    head -3 "$work/emit.err"; fail=1
fi
# the passes did their work: every relu fused into its linear (act=relu),
# every residual add kept, every weight packed once
if [ "$fail" -eq 0 ]; then
    fused=$(grep -c '= linear .* act=relu packed=panel' "$work/blk.ir")
    relus=$(grep -c '= relu ' "$work/blk.ir")
    adds=$(grep -c '= add ' "$work/blk.ir")
    packs=$(grep -c '^pack-linear ' "$work/blk.ir")
    echo "blk: $fused linear+relu, $relus relu, $adds add, $packs packs"
    if [ "$fused" -ne 30000 ] || [ "$relus" -ne 0 ] || [ "$adds" -ne 30000 ] || [ "$packs" -ne 30000 ]; then
        echo "FAIL: expected 30000 fused linears, no relu, 30000 adds, 30000 packs"; fail=1
    fi
fi
exit $fail
