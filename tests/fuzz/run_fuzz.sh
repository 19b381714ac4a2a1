#!/usr/bin/env bash
# run_fuzz.sh TARGET SECONDS | TARGET --runs N | TARGET --regress   [BUILD_DIR]
#
# Runs one libFuzzer target (nnet, safetensors, csv, idx, optspec, any
# other tests/fuzz/fuzz_NAME.c such as pth; all: each in turn) on ONE core, for
# SECONDS seconds or N executions, starting from the seed corpus in
# tests/fuzz/corpus/TARGET (read only: new inputs go to a working corpus in
# BUILD_DIR/work/TARGET). Targets are built by build.sh into BUILD_DIR
# (default /tmp/nnc-fuzz) when missing. Crashes are written to
# BUILD_DIR/crashes/TARGET/; turn each into a regression test
# (tests/bad/ or tests/regress/). Exit status: 0 when no crash was found,
# 1 when one was, 2 for bad usage. --regress replays every input that once
# crashed (tests/fuzz/regress/TARGET/*) and fails if any still does.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: run_fuzz.sh nnet|safetensors|csv|idx|optspec|pth|all SECONDS | --runs N | --regress [BUILD_DIR]" >&2; exit 2; }
# The targets: one per tests/fuzz/fuzz_NAME.c (fuzz_alloc.c is a helper).
targets() {
    for f in "$HERE"/fuzz_*.c; do
        t=$(basename "$f" .c); t=${t#fuzz_}
        [ "$t" = alloc ] || echo "$t"
    done
}
[ $# -ge 2 ] || usage
T=$1; shift
if [ "$T" = all ]; then   # every target in turn, same arguments
    st=0
    for t in $(targets); do "$HERE/run_fuzz.sh" "$t" "$@" || st=1; done
    exit $st
fi
case "$T" in alloc|*/*|"") usage ;; esac
[ -f "$HERE/fuzz_$T.c" ] || usage
LIMIT=()
REGRESS=0
if [ "$1" = --regress ]; then
    REGRESS=1; shift
elif [ "$1" = --runs ]; then
    [ $# -ge 2 ] || usage
    case "$2" in ''|*[!0-9]*) usage ;; esac
    LIMIT=(-runs="$2"); shift 2
else
    case "$1" in ''|*[!0-9]*) usage ;; esac
    LIMIT=(-max_total_time="$1"); shift
fi
OUT=${1:-/tmp/nnc-fuzz}
[ -x "$OUT/fuzz_$T" ] || "$HERE/build.sh" "$OUT" >/dev/null || exit 2
if [ ! -x "$OUT/fuzz_$T" ]; then   # fuzz_onnx without protobuf-c (build.sh says so)
    echo "run_fuzz: fuzz_$T was not built (see tests/fuzz/build.sh): skipped"
    exit 0
fi
mkdir -p "$OUT/work/$T" "$OUT/crashes/$T"
# Keep per-input memory and time bounded; a slow or huge input is a finding too.
case "$T" in
    nnet|safetensors) MAXLEN=4096 ;;
    pth) MAXLEN=8192 ;;
    *) MAXLEN=2048 ;;
esac
DICT=()
[ -f "$HERE/$T.dict" ] && DICT=(-dict="$HERE/$T.dict")
SEEDS=()   # a target without a kept corpus yet starts from nothing
[ -d "$HERE/corpus/$T" ] && SEEDS=("$HERE/corpus/$T")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ $REGRESS = 1 ]; then
    files=("$HERE/regress/$T"/*)
    [ -e "${files[0]}" ] || { echo "run_fuzz: $T: no regression inputs"; exit 0; }
    "$OUT/fuzz_$T" "${files[@]}"
    rc=$?
    echo "run_fuzz: $T: ${#files[@]} regression input(s), exit $rc"
    [ $rc -eq 0 ] && exit 0 || exit 1
fi
"$OUT/fuzz_$T" "${LIMIT[@]}" -max_len=$MAXLEN -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -print_final_stats=1 "${DICT[@]}" \
    -artifact_prefix="$OUT/crashes/$T/" "$OUT/work/$T" "${SEEDS[@]}"
rc=$?
n=$(find "$OUT/crashes/$T" -type f | wc -l)
echo "run_fuzz: $T: exit $rc, $n crash/timeout/oom file(s) in $OUT/crashes/$T"
[ $rc -eq 0 ] && exit 0 || exit 1
