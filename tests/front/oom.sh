#!/usr/bin/env bash
# oom.sh NNC WORK — running out of memory is a diagnostic, exit 1, never
# abort() (issue 17 item 5): `nnc check` of a file that needs ~550 MB under a
# `ulimit -v` of 150 MB more than nnc needs to start (its shared libraries,
# LLVM's included). Skipped (with a message) where nnc cannot run under a
# limit at all, as under AddressSanitizer.
set -u
nnc="$1"; work="$2"
mkdir -p "$work"
small="$(dirname "$0")/../../examples/chain.nnet"
base=""
for kb in 100000 200000 300000 400000 600000 800000 1200000 1600000; do
    if ( ulimit -v $kb && "$nnc" check "$small" ) > /dev/null 2>&1; then
        base=$kb; break
    fi
done
if [ -z "$base" ]; then
    echo "SKIP: nnc does not run under ulimit -v (a sanitizer build?)"
    exit 0
fi
limit_kb=$((base + 150000))
awk 'BEGIN { print "let a0 = 1"; for (i = 1; i < 600000; i++) printf "let a%d = a%d + 1\n", i, i - 1;
             print "model m {\n  input [4]\n  relu\n}" }' > "$work/big.nnet"
( ulimit -v $limit_kb; ulimit -c 0; exec "$nnc" check "$work/big.nnet" ) > "$work/out" 2> "$work/err"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(cat "$work/err")" != "nnc: error: out of memory" ] || [ -s "$work/out" ]; then
    echo "FAIL: exit $rc (want 1), stderr:"; head -c 400 "$work/err"; echo
    exit 1
fi
echo "out of memory reported, exit 1 (ulimit -v $limit_kb)"
