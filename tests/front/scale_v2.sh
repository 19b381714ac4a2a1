#!/usr/bin/env bash
# scale_v2.sh NNC WORK — the version-2 front end is linear too (issue 17
# item 3; compiler/front/sema_fwd.c, sema_graph.c): `nnc check` of
#   fwd: a model of 50k declared layers and a forward block of 50k
#        assignments calling them (100k lines),
#   blk: a model of 10^4 instances of a block (each a declared layer with
#        its own forward), called one after the other, and a train block
#        freezing the last by its dotted name,
#   asg: a forward block of 100k assignments (a chain of relu calls),
# each within a generous 120 s (catches quadratic behaviour, not speed:
# a quadratic walk over 10^5 names is 10^10 steps; bench/front_scale.sh
# reports the times), and a duplicate layer name among 50k found once.
# Sized to finish within ctest's 300 s under the sanitizers on a loaded
# machine.
set -u
nnc="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
n=50000
limit=120
awk -v n="$n" 'BEGIN { print "model m {\n  input x [4]"; for (i = 0; i < n; i++) printf "  l%d = linear(4, 4)\n", i;
                       print "  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = l%d(h%d) + h%d\n", i + 1, i, i, i;
                       printf "    return h%d\n  }\n}\n", n }' > "$work/fwd.nnet"
awk -v n=10000 'BEGIN { print "block b(p) {\n  input x\n  fc = linear(p, p)\n  forward {\n    h = relu(fc(x))\n    return h + x\n  }\n}";
                        print "model m {\n  input x [4]"; for (i = 0; i < n; i++) printf "  b%d = b(4)\n", i;
                        print "  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = b%d(h%d)\n", i + 1, i, i;
                        printf "    return h%d\n  }\n}\ntrain m {\n  loss = mse\n  optimizer = sgd(lr = 0.1)\n  freeze = [\"b%d.fc\"]\n}\n", n, n - 1 }' \
    > "$work/blk.nnet"
awk -v n=$((2 * n)) 'BEGIN { print "model m {\n  input x [4]\n  forward {\n    h0 = x"; for (i = 0; i < n; i++) printf "    h%d = relu(h%d)\n", i + 1, i;
                             printf "    return h%d\n  }\n}\n", n }' > "$work/asg.nnet"
fail=0
for f in fwd blk asg; do
    start=$(date +%s%N)
    timeout "$limit" "$nnc" check "$work/$f.nnet"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$f: $(wc -l < "$work/$f.nnet") lines checked in $ms ms (exit $rc)"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: nnc check $f.nnet exited $rc (124: over the $limit s limit)"
        fail=1
    fi
done
# a layer declared twice among many is found, once
awk -v at=$((n / 2)) 'NR == at { print "  l7 = linear(4, 4)" } { print }' "$work/fwd.nnet" > "$work/dup.nnet"
timeout "$limit" "$nnc" check "$work/dup.nnet" 2> "$work/dup.err"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(grep -c "layer name 'l7' is used twice in model 'm'" "$work/dup.err")" -ne 1 ]; then
    echo "FAIL: duplicate layer: exit $rc, stderr:"; head -5 "$work/dup.err"; fail=1
fi
exit $fail
