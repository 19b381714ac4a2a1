#!/usr/bin/env bash
# seed_corpus.sh [OUTDIR] [SECONDS] — refreshes the kept corpus
# tests/fuzz/corpus/TARGET of every target: candidates are the corpus as it
# is, the tests' own inputs put in the target's input format (tests/bad,
# tests/data, tests/fixtures, examples: .nnet files; CSV files behind an
# options byte; IDX images behind their two length bytes, with and without
# labels; safetensors files) and, when SECONDS > 0 (default 0), what SECONDS
# of fuzzing from them found. libFuzzer's -merge=1 keeps the smallest set of
# them that covers the same code, each at most the target's -max_len, and
# that set replaces the corpus (files named by their SHA-1). Review the git
# diff and commit it. Targets are built by build.sh into OUTDIR (default
# /tmp/nnc-fuzz) when missing.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-/tmp/nnc-fuzz}
SECS=${2:-0}
[ -x "$OUT/fuzz_nnet" ] || "$HERE/build.sh" "$OUT" >/dev/null
CAND=$OUT/candidates
rm -rf "$CAND"
mkdir -p "$CAND"
small() { find "$@" -type f -size -4097c 2>/dev/null | sort; }   # at most max_len bytes

# .nnet: every model the tests and examples compile or reject.
mkdir -p "$CAND/nnet"
for f in $(small "$ROOT/tests/bad" "$ROOT/tests/fixtures" "$ROOT/tests/golden" "$ROOT/examples" -name '*.nnet'); do
    cp "$f" "$CAND/nnet/$(echo "${f#$ROOT/}" | tr / _)"
done
# CSV: each file behind the options bytes of its likely reading (a label in
# the last column, targets, no label; header or not).
mkdir -p "$CAND/csv"
i=0
for f in $(small "$ROOT/tests/bad" "$ROOT/tests/data" "$ROOT/tests/fixtures" -name '*.csv' -size -2040c); do
    for sel in 0 1 2 6 16; do
        { printf "\\$(printf %03o $sel)"; cat "$f"; } >"$CAND/csv/$i.$sel"
    done
    i=$((i + 1))
done
# IDX: images with no labels (length 0xFFFF), and images with their labels.
mkdir -p "$CAND/idx"
i=0
for img in $(small "$ROOT/tests" -name '*images-idx3-ubyte' -size -2040c); do
    { printf '\377\377'; cat "$img"; } >"$CAND/idx/$i.nolabels"
    lab=${img%images-idx3-ubyte}labels-idx1-ubyte
    if [ -f "$lab" ]; then
        n=$(wc -c <"$lab")
        { printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $((n >> 8)))"; cat "$lab" "$img"; } >"$CAND/idx/$i.labels"
    fi
    i=$((i + 1))
done
for lab in $(small "$ROOT/tests" -name '*labels-idx1-ubyte' -size -1000c); do
    n=$(wc -c <"$lab")
    { printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $((n >> 8)))"; cat "$lab"; } >"$CAND/idx/$i.onlylabels"
    i=$((i + 1))
done
# safetensors: as they are.
mkdir -p "$CAND/safetensors"
for f in $(small "$ROOT/tests" -name '*.safetensors'); do
    cp "$f" "$CAND/safetensors/$(echo "${f#$ROOT/}" | tr / _)"
done
# optspec: every --optimizer string of tests/overrides.txt and the fixtures.
mkdir -p "$CAND/optspec"
grep -rhoE "(sgd|adam|adamw)\([^)]*\)" "$ROOT/tests/overrides.txt" "$ROOT/tests/fixtures" 2>/dev/null |
    sort -u | head -n 200 | { i=0; while IFS= read -r l; do printf '%s' "$l" >"$CAND/optspec/$i"; i=$((i + 1)); done; }

for t in $(cd "$HERE" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | grep -v '^alloc$'); do
    case "$t" in nnet|safetensors|pth) maxlen=4096 ;; *) maxlen=2048 ;; esac
    mkdir -p "$CAND/$t" "$OUT/work/$t"
    if [ "$SECS" -gt 0 ]; then
        "$HERE/run_fuzz.sh" "$t" "$SECS" "$OUT" >/dev/null 2>&1 || echo "seed_corpus: $t: fuzzing found something (see $OUT/crashes/$t)"
    fi
    new=$OUT/merged/$t
    rm -rf "$new"
    mkdir -p "$new"
    seeds=()
    [ -d "$HERE/corpus/$t" ] && seeds+=("$HERE/corpus/$t")
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
        "$OUT/fuzz_$t" -merge=1 -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 \
        "$new" "${seeds[@]}" "$CAND/$t" "$OUT/work/$t" >"$OUT/merge_$t.log" 2>&1 ||
        { echo "seed_corpus: $t: merge failed, see $OUT/merge_$t.log"; exit 1; }
    before=$(ls "$HERE/corpus/$t" 2>/dev/null | wc -l)
    rm -rf "$HERE/corpus/$t"
    mkdir -p "$HERE/corpus/$t"
    cp "$new"/* "$HERE/corpus/$t/" 2>/dev/null || true
    echo "seed_corpus: $t: $before -> $(ls "$HERE/corpus/$t" | wc -l) inputs," \
         "$(cat "$HERE/corpus/$t"/* 2>/dev/null | wc -c) bytes"
done
