#!/usr/bin/env bash
# literal_mem.sh NNC WORK — a tensor literal costs at most 16 bytes a number
# while compiling (issue 17 item 10: 230-300 bytes a number at first, a
# node per number; then 18 for `check`, 26 for `emit`: the source text,
# flex's copy of it, a double a number in the tree, the parameter's float
# copy, and for emit a state block and the inference block). The peak RSS
# of `nnc check` and of `nnc emit` of a 10^6-number weight literal, above
# a small model's, over 10^6, must stay at most 16 (the source text here
# is 5.5 bytes a number; the parsed floats are shared by the parameter).
# And a long literal (kept flat) gives the same weights as the same numbers
# kept a node each (a list with an expression in it).
set -u
nnc="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
fail=0
python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
random.seed(7)
pool = ['0.5', '-0.25', '1', '-2', '0.125', '3.75', '-1.5e-3', '7', '-0', '-0.0', '1e-30']
n = 1000
rows = [', '.join(random.choice(pool) for _ in range(n)) for _ in range(n)]
pool.append('9007199254740993')     # an integer a double cannot hold: nodes
open(w + '/big.nnet', 'w').write('model m {\n  input [%d]\n  linear(%d, %d, weight = [\n' % (n, n, n)
                                  + ',\n'.join('[' + r + ']' for r in rows) + '])\n}\n')
open(w + '/small.nnet', 'w').write('model m {\n  input [2]\n  linear(2, 2, weight = [[1, 2], [3, 4]])\n}\n')
k = 40
nums = [random.choice(pool) for _ in range(k)]
def model(items):
    return 'model m {\n  input [%d]\n  linear(%d, 1, weight = [[%s]])\n}\n' % (k, k, ', '.join(items))
open(w + '/flat.nnet', 'w').write(model(nums))
late = list(nums); late[30] = '(1 * %s)' % late[30]     # flat at 16, nodes again at 30
open(w + '/late.nnet', 'w').write(model(late))
early = list(nums); early[2] = '(1 * %s)' % early[2]    # never flat
open(w + '/early.nnet', 'w').write(model(early))
PY
peak() {    # CMD FILE [ARGS]: peak RSS in KiB of `nnc CMD FILE ARGS`
    python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stderr=subprocess.DEVNULL)
if r.returncode != 0: sys.exit(1)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$nnc" "$@"
}
for cmd in check emit; do
    small=$(peak $cmd "$work/small.nnet" -o "$work/small.out") &&
        big=$(peak $cmd "$work/big.nnet" -o "$work/big.out") || { echo "FAIL: nnc $cmd failed"; exit 1; }
    rm -rf "$work/small.out" "$work/big.out"
    per=$(( (big - small) * 1024 / 1000000 ))
    echo "nnc $cmd, 10^6-number literal: $big KiB peak, $small KiB for a small model: $per bytes a number"
    if [ -n "${ASAN_OPTIONS:-}" ]; then
        echo "(a sanitizer run: its allocator's memory is not the compiler's; the bound is not checked)"
    elif [ "$per" -gt 16 ]; then
        echo "FAIL: over 16 bytes a number"; fail=1
    fi
done
for f in flat late early; do
    "$nnc" emit "$work/$f.nnet" -o "$work/$f" || { echo "FAIL: emit $f"; fail=1; continue; }
    grep -v 'Command:' "$work/$f/m.c" | sed "s/$f\.nnet/X.nnet/" > "$work/$f.c"
done
cmp "$work/flat.c" "$work/late.c" && cmp "$work/flat.c" "$work/early.c" ||
    { echo "FAIL: a flat literal's weights differ from the same numbers as nodes"; fail=1; }
[ $fail -eq 0 ] && echo "literals are flat and give the same weights"
exit $fail
