#!/usr/bin/env bash
# scale.sh NNC WORK — the front end is linear (issue 17 item 3): `nnc check`
# of 200k `let` lines, and of a model of 200k labelled layers with a train
# block freezing the last two (by label and by position), each within a generous 60 s. The quadratic
# front end took over 80 s for 100k lets alone; a linear one takes about a
# second (bench/front_scale.sh reports the time at 10^6 lines).
set -u
nnc="$1"; work="$2"
mkdir -p "$work"
n=200000
limit=60
awk -v n="$n" 'BEGIN { print "let a0 = 1"; for (i = 1; i < n; i++) printf "let a%d = a%d + 1\n", i, i - 1;
                       print "model m {\n  input [4]\n  relu\n}" }' > "$work/lets.nnet"
awk -v n="$n" 'BEGIN { print "model m {\n  input [4]"; for (i = 0; i < n; i++) printf "  l%d = relu\n", i;
                       print "  relu\n}"; printf "train m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n  freeze = [\"l%d\", \"%d\"]\n}\n", n - 1, n }' \
    > "$work/layers.nnet"
fail=0
for f in lets layers; do
    start=$(date +%s%N)
    timeout "$limit" "$nnc" check "$work/$f.nnet"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$f: $n lines checked in $ms ms (exit $rc)"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: nnc check $f.nnet exited $rc (124: over the $limit s limit)"
        fail=1
    fi
done
# a duplicate label among many is still found, once
{ cat "$work/layers.nnet" | head -n $((n / 2)); echo "  l7 = relu"; tail -n +$((n / 2 + 1)) "$work/layers.nnet"; } > "$work/dup.nnet"
timeout "$limit" "$nnc" check "$work/dup.nnet" 2> "$work/dup.err"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(grep -c "layer name 'l7' is used twice in model 'm'" "$work/dup.err")" -ne 1 ]; then
    echo "FAIL: duplicate label: exit $rc, stderr:"; head -5 "$work/dup.err"; fail=1
fi
exit $fail
