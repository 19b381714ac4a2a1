#!/usr/bin/env bash
# gemm_shapes.sh — the GEMMs of one training step of a workload, each timed
# alone as GFLOP/s and as a fraction of the core's FMA peak (bench/machine.c),
# sorted by the time they lose against the peak. See bench/README.md.
#
#   bench/gemm_shapes.sh NNC MODEL.nnet BATCH [SECONDS]
#   e.g. NNC_BENCH_CLOCK=cpu bench/gemm_shapes.sh build/compiler/nnc bench/nnet/w6_cnn.nnet 32
#
# Builds MODEL with NNC_EXTRA_CFLAGS=-DNNR_GEMM_TRACE (gemm.c then prints each
# product's shape on stderr), runs `PROG bench --train` for a moment, keeps
# the shapes of one step (the trace of the bench's calls, divided by their
# count), and times each shape with bench/gemm_shapes.c, built from
# runtime/kernels/*.c like a built program (-O3 -march=native).
set -euo pipefail
NNC=$(realpath "$1"); MODEL=$(realpath "$2"); BATCH=$3; SEC=${4:-0.3}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
W=${BENCH_WORK:-$HERE/.work}/gemm_shapes
mkdir -p "$W"
CC=${CC:-cc}
CFLAGS="-std=c11 -O3 -march=native -D_POSIX_C_SOURCE=200809L"
export NNC_CACHE_DIR=${NNC_CACHE_DIR:-$W/nnc-cache}

$CC $CFLAGS -o "$W/machine" "$HERE/machine.c" -lm
# shellcheck disable=SC2086
$CC $CFLAGS -I"$ROOT/runtime" -o "$W/gemm_shapes" "$HERE/gemm_shapes.c" \
    "$ROOT"/runtime/kernels/*.c -lm
NNC_EXTRA_CFLAGS=-DNNR_GEMM_TRACE "$NNC" build "$MODEL" -o "$W/prog"

# a bench run of at least 3 steps: the shapes repeat with the step, so the
# count of the rarest shape is the number of steps traced
"$W/prog" bench --train --batch "$BATCH" --seconds 0.05 2>"$W/trace.txt" >/dev/null
grep '^GEMM_TRACE ' "$W/trace.txt" | cut -d' ' -f2- | sort | uniq -c >"$W/counts.txt"
awk 'NR == 1 || $1 < min { min = $1 } { c[NR] = $0 } END {
    for (i = 1; i <= NR; i++) { split(c[i], f, " "); n = f[1] / min
        if (n != int(n)) { print "gemm_shapes: counts not a multiple of the steps'\''" > "/dev/stderr"; exit 1 }
        printf "%d", n; for (j = 2; j <= 8; j++) printf " %s", f[j]; printf "\n" } }' \
    "$W/counts.txt" >"$W/shapes.txt"

PEAK=$("$W/machine" 0.5 peak | awk '/^PEAK best/ { print $3 }')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), FMA peak $PEAK GFLOP/s per core"
echo "SHAPE count ta tb m n k acc packed us/call GFLOP/s of-peak ms/step ms-lost"
"$W/gemm_shapes" "$PEAK" "$SEC" <"$W/shapes.txt" >"$W/result.txt"
grep '^SHAPE ' "$W/result.txt" | sort -k14 -g -r
grep '^TOTAL ' "$W/result.txt"
