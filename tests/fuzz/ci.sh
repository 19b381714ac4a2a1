#!/usr/bin/env bash
# ci.sh [SECONDS] [OUTDIR] — the fuzzing CI runs (.ci/run): builds every
# libFuzzer target (build.sh, clang with -fsanitize=fuzzer,address,undefined),
# replays the inputs that once crashed (regress/), then fuzzes each target
# for SECONDS (default 20; FUZZ_SECONDS overrides) from its kept corpus in
# corpus/TARGET, one target at a time on one core. A crash, leak, timeout or
# out-of-memory fails the run; the inputs are printed (hexdump) so the CI log
# is enough to reproduce them, and kept in OUTDIR/crashes/TARGET.
# OUTDIR defaults to build-fuzz/ at the top of the tree. Exit 0 clean, 1 a
# finding, 2 the targets could not be built.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=${1:-${FUZZ_SECONDS:-20}}
OUT=${2:-$ROOT/build-fuzz}
case "$SECS" in ''|*[!0-9]*) echo "usage: ci.sh [SECONDS] [OUTDIR]" >&2; exit 2 ;; esac
start=$(date +%s)
rm -rf "$OUT/crashes" "$OUT/work"
"$HERE/build.sh" "$OUT" || { echo "fuzz ci: the targets did not build" >&2; exit 2; }
echo "fuzz ci: targets built in $(( $(date +%s) - start )) s"

targets=()
for f in "$HERE"/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    [ "$t" = alloc ] || targets+=("$t")
done
st=0
for t in "${targets[@]}"; do
    "$HERE/run_fuzz.sh" "$t" --regress "$OUT" || st=1
done
for t in "${targets[@]}"; do
    # libFuzzer's own log is long; its last lines (stats, a crash's report) are kept.
    "$HERE/run_fuzz.sh" "$t" "$SECS" "$OUT" >"$OUT/fuzz_$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz_$t.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/fuzz_$t.log" | tail -n 1)
    echo "fuzz ci: $t: ${SECS} s, ${execs:-?} executions, ${cov:-cov: ?}, exit $rc"
    if [ $rc -ne 0 ]; then
        st=1
        grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$OUT/fuzz_$t.log" | head -n 40
        for c in "$OUT/crashes/$t"/*; do
            [ -f "$c" ] || continue
            echo "fuzz ci: $t: input $c ($(wc -c <"$c") bytes):"
            od -A d -t x1z -v "$c" | head -n 64
        done
    fi
done
echo "fuzz ci: ${#targets[@]} targets (${targets[*]}) in $(( $(date +%s) - start )) s, $([ $st = 0 ] && echo clean || echo FAILED)"
exit $st
