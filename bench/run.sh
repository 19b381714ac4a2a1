#!/usr/bin/env bash
# bench/run.sh [--quick] — nnc against PyTorch, ONNX Runtime, OpenBLAS and
# naive C on the same machine, in the same run. See bench/README.md.
#
# Builds nnc (Release) and everything else it needs under $BENCH_WORK
# (default bench/.work, never committed), runs ROUNDS interleaved rounds of
# every implementation, prints the table and writes bench/results/latest.md.
# A baseline that cannot be set up is skipped with a message, never a failure.
#
# Environment: BENCH_WORK (work folder), NNC_BUILD_DIR (reuse an nnc build
# instead of building one), ORT_VERSION (npm onnxruntime-node version,
# default 1.30.0), BENCH_ROUNDS / BENCH_SECONDS (override the run length),
# BENCH_CLOCK=cpu (time samples in process CPU time, for a shared machine).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
WORK=${BENCH_WORK:-$HERE/.work}
QUICK=0
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

# One thread everywhere.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 VECLIB_MAXIMUM_THREADS=1
export NNC_CACHE_DIR="$WORK/nnc-cache"
# wall (default) or cpu: the clock of every sample (PROG bench, the C drivers
# and torch_bench.py read NNC_BENCH_CLOCK); the run length is always wall time.
case ${BENCH_CLOCK:-wall} in
    wall|cpu) export NNC_BENCH_CLOCK=${BENCH_CLOCK:-wall} ;;
    *) echo "bench: BENCH_CLOCK is wall or cpu" >&2; exit 2 ;;
esac

if [ $QUICK = 1 ]; then
    ROUNDS=${BENCH_ROUNDS:-1}; SEC=${BENCH_SECONDS:-0.25}; W3_RUNS=3; MACH_SEC=0.1
    GEMM_SEC=0.3; NAIVE_GEMM_MAX=$((2 * 256 * 256 * 256))
else
    ROUNDS=${BENCH_ROUNDS:-5}; SEC=${BENCH_SECONDS:-1.0}; W3_RUNS=5; MACH_SEC=0.3
    GEMM_SEC=3; NAIVE_GEMM_MAX=$((2 * 512 * 512 * 512))
fi
EPOCHS=20
PY=/usr/bin/python3     # Debian's python3-torch lives only there
CC=${CC:-cc}
CFLAGS="-std=c11 -O3 -march=native -D_POSIX_C_SOURCE=200809L"

mkdir -p "$WORK"/{data,bin,logs}
D=$WORK/data B=$WORK/bin LOGS=$WORK/logs RAW=$WORK/raw.txt
: > "$RAW"
say() { printf '== %s\n' "$*" >&2; }
skip() { printf 'SKIP %s\n' "$*" >> "$RAW"; printf '   skipped: %s\n' "$*" >&2; }
raw() { printf '%s\n' "$*" >> "$RAW"; }
# last `median_us=` of a program's output
median_of() { sed -n 's/^median_us=\([0-9.]*\).*/\1/p' "$1" | tail -1; }
T0=$(date +%s)

# ------------------------------------------------------------------ nnc
if [ -n "${NNC_BUILD_DIR:-}" ]; then
    BUILD=$NNC_BUILD_DIR
else
    BUILD=$WORK/build
fi
say "building nnc (Release) in $BUILD"
if ! { [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$LOGS/cmake.log" 2>&1; } \
   || ! make -C "$BUILD" -j2 nnc >"$LOGS/make.log" 2>&1; then
    echo "bench: building nnc failed; see $LOGS/cmake.log and $LOGS/make.log" >&2
    exit 1
fi
NNC=$BUILD/compiler/nnc

# ------------------------------------------------------------------ python / torch
HAVE_TORCH=0
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then
    HAVE_TORCH=1
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing python3-torch with apt-get"
    if apt-get install -y python3-torch >"$LOGS/apt-torch.log" 2>&1 && "$PY" -c 'import torch' 2>/dev/null; then
        HAVE_TORCH=1
    fi
fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "bench: $PY with numpy is needed to make the weights" >&2
    exit 1
fi
[ $HAVE_TORCH = 1 ] || skip "PyTorch eager / TorchScript / ONNX export: python3-torch not importable by $PY"

say "weights, inputs, reference outputs and ONNX models"
if ! "$PY" "$HERE/torch_bench.py" gen "$D" >"$LOGS/gen.log" 2>&1; then
    cat "$LOGS/gen.log" >&2
    echo "bench: making the weights failed" >&2
    exit 1
fi

# ------------------------------------------------------------------ nnc programs
say "compiling the workloads with nnc"
NNC_OK=1
"$NNC" build "$HERE/nnet/w1_mlp.nnet" --weights "$D/w1.safetensors" -o "$B/w1_mlp" >"$LOGS/nnc-w1.log" 2>&1 || NNC_OK=0
# W1/W2 with bf16 weights (--dtype bf16: half the weight bytes, fp32 math)
"$NNC" build "$HERE/nnet/w1_mlp.nnet" --weights "$D/w1.safetensors" --dtype bf16 -o "$B/w1_mlp_bf16" >"$LOGS/nnc-w1bf16.log" 2>&1 || NNC_OK=0
"$NNC" build "$HERE/nnet/w4_cnn.nnet" --weights "$D/w4.safetensors" -o "$B/w4_cnn" >"$LOGS/nnc-w4.log" 2>&1 || NNC_OK=0
"$NNC" build "$HERE/nnet/w3_digits.nnet" -o "$B/w3_digits" >"$LOGS/nnc-w3.log" 2>&1 || NNC_OK=0
"$NNC" build "$HERE/nnet/w6_cnn.nnet" --weights "$D/w6.safetensors" -o "$B/w6_cnn" >"$LOGS/nnc-w6.log" 2>&1 || NNC_OK=0
# W7's weights come from PyTorch's own init (torch_bench.py gen): without torch, no W7
HAVE_W7=0
if [ -f "$D/w7.safetensors" ]; then
    "$NNC" build "$HERE/nnet/w7_resnet.nnet" --weights "$D/w7.safetensors" -o "$B/w7_resnet" >"$LOGS/nnc-w7.log" 2>&1 || NNC_OK=0
    HAVE_W7=1
else
    skip "W7: no weights (python3-torch is needed to make them)"
fi
if [ $NNC_OK = 0 ]; then
    cat "$LOGS"/nnc-w*.log >&2
    echo "bench: nnc build of a workload failed" >&2
    exit 1
fi

# ------------------------------------------------------------------ the machine
# FMA peak, read bandwidth and CPU identity (bench/machine.c); the peak and
# the bandwidth are measured again every round and at the end, and the
# report takes the highest of each.
say "the machine: FMA peak, L1/L2/DRAM read bandwidth, CPU"
if ! $CC $CFLAGS -o "$B/machine" "$HERE/machine.c" >"$LOGS/cc-machine.log" 2>&1 \
   || ! "$B/machine" "$MACH_SEC" >"$LOGS/machine.txt" 2>&1; then
    cat "$LOGS/cc-machine.log" "$LOGS/machine.txt" >&2
    echo "bench: measuring the machine (bench/machine.c) failed" >&2
    exit 1
fi
grep -E '^(MACHINE|PEAK|BW) ' "$LOGS/machine.txt" >> "$RAW"
sed 's/^/   /' "$LOGS/machine.txt" >&2
# the bounds again (peak and bandwidth; the report keeps the highest of each):
# a VM's speed drifts within a run, and a bound measured in a slow moment
# alone would put a workload timed in a fast one "above its bound"
machine_peak() { "$B/machine" "$MACH_SEC" 2>/dev/null | grep -E '^(PEAK|BW) ' >> "$RAW"; }

# ------------------------------------------------------------------ naive C
say "naive C baseline"
HAVE_NAIVE=0
if $CC $CFLAGS -o "$B/naive" "$HERE/naive.c" -lm >"$LOGS/cc-naive.log" 2>&1; then
    HAVE_NAIVE=1
else
    skip "naive C: compiling bench/naive.c failed (see $LOGS/cc-naive.log)"
fi

# ------------------------------------------------------------------ ONNX Runtime
ORT_LIB=""
HAVE_ORT=0
if [ $HAVE_TORCH = 1 ]; then
    say "ONNX Runtime (npm onnxruntime-node, C API)"
    ORT_DIR=$WORK/ort
    find_ort() { find "$ORT_DIR/node_modules/onnxruntime-node/bin" -path '*linux/x64/*' -name 'libonnxruntime.so*' 2>/dev/null | sort | head -1; }
    ORT_LIB=$(find_ort)
    if [ -z "$ORT_LIB" ] && command -v npm >/dev/null; then
        mkdir -p "$ORT_DIR"
        ( cd "$ORT_DIR" && { [ -f package.json ] || echo '{"private":true}' > package.json; } &&
          timeout 600 npm install --ignore-scripts --no-audit --no-fund \
              "onnxruntime-node@${ORT_VERSION:-1.30.0}" >"$LOGS/npm.log" 2>&1 ||
          timeout 600 npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >>"$LOGS/npm.log" 2>&1 )
        ORT_LIB=$(find_ort)
    fi
    if [ -z "$ORT_LIB" ]; then
        skip "ONNX Runtime: no libonnxruntime.so (npm install onnxruntime-node failed or npm missing; see $LOGS/npm.log)"
    elif ! $CC -std=gnu11 -O2 -o "$B/ort_bench" "$HERE/ort_bench.c" -ldl >"$LOGS/cc-ort.log" 2>&1; then
        skip "ONNX Runtime: compiling bench/ort_bench.c failed (see $LOGS/cc-ort.log)"
    elif ! [ -f "$D/w1.onnx" ] || ! [ -f "$D/w4.onnx" ]; then
        skip "ONNX Runtime: the ONNX export failed (see $LOGS/gen.log)"
    elif ! "$B/ort_bench" "$ORT_LIB" "$D/w1.onnx" 1,784 10 0.01 "$D/x_w1.bin" >"$LOGS/ort-probe.log" 2>&1; then
        skip "ONNX Runtime: the C API driver failed: $(tail -1 "$LOGS/ort-probe.log")"
    else
        HAVE_ORT=1
    fi
else
    skip "ONNX Runtime: needs the ONNX models exported by PyTorch"
fi

# ------------------------------------------------------------------ OpenBLAS + GEMM driver
say "GEMM driver (nnr_gemm_f32 from runtime/kernels, OpenBLAS)"
cblas_ok() { echo '#include <cblas.h>
int main(void){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1);return c!=1.f;}' \
    | $CC -x c - -o "$B/cblas_probe" $CBLAS_INC -lopenblas >/dev/null 2>&1 && "$B/cblas_probe"; }
CBLAS_INC=""
for inc in /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas ""; do
    if [ -z "$inc" ] || [ -d "$inc" ]; then
        CBLAS_INC=${inc:+-I$inc}
        cblas_ok && break
    fi
done
if ! cblas_ok && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing libopenblas-dev with apt-get"
    apt-get install -y libopenblas-dev >"$LOGS/apt-openblas.log" 2>&1
    CBLAS_INC=-I/usr/include/x86_64-linux-gnu/openblas-pthread
    cblas_ok || CBLAS_INC=""
fi
GEMM_BLAS=""
if cblas_ok; then
    GEMM_BLAS="-DHAVE_CBLAS $CBLAS_INC -lopenblas"
    raw "INFO openblas $(dpkg-query -W -f '${Version}' libopenblas0 2>/dev/null || echo '?')"
else
    skip "OpenBLAS: no cblas.h / libopenblas (apt-get install libopenblas-dev)"
fi
HAVE_GEMM=1
# shellcheck disable=SC2086
$CC $CFLAGS -I"$ROOT/runtime" -o "$B/gemm_bench" "$HERE/gemm_bench.c" "$ROOT"/runtime/kernels/*.c \
    $GEMM_BLAS -lm >"$LOGS/cc-gemm.log" 2>&1 || { HAVE_GEMM=0; skip "W5: compiling bench/gemm_bench.c failed (see $LOGS/cc-gemm.log)"; }

# ------------------------------------------------------------------ correctness checks
say "correctness checks"
check_nnc() {  # name program input.csv ref.bin tol
    if "$2" infer < "$3" > "$LOGS/$1.out.csv" 2>"$LOGS/$1.err"; then
        raw "CHECK $1-nnc-infer $("$PY" "$HERE/torch_bench.py" cmp "$LOGS/$1.out.csv" "$4" "$5")"
    else
        raw "CHECK $1-nnc-infer failed: $(tail -1 "$LOGS/$1.err")"
    fi
}
if [ -f "$D/y_w1.bin" ]; then
    check_nnc w1 "$B/w1_mlp" "$D/x_w1.csv" "$D/y_w1.bin" 1e-5
    # bf16 weights: the softmax outputs of PyTorch's fp32 model within 1e-2
    check_nnc w1bf16 "$B/w1_mlp_bf16" "$D/x_w1.csv" "$D/y_w1.bin" 1e-2
    check_nnc w4 "$B/w4_cnn" "$D/x_w4.csv" "$D/y_w4.bin" 1e-4
    check_nnc w6 "$B/w6_cnn" "$D/x_w6.csv" "$D/y_w6.bin" 1e-4
    [ $HAVE_W7 = 1 ] && check_nnc w7 "$B/w7_resnet" "$D/x_w7.csv" "$D/y_w7.bin" 1e-4
    if [ $HAVE_ORT = 1 ]; then
        raw "CHECK w2-ort $("$B/ort_bench" "$ORT_LIB" "$D/w1.onnx" 64,784 640 0.01 "$D/x_w1.bin" "$D/y_w1.bin" | grep maxdiff)"
        raw "CHECK w4-ort $("$B/ort_bench" "$ORT_LIB" "$D/w4.onnx" 1,1,28,28 10 0.01 "$D/x_w4.bin" "$D/y_w4.bin" | grep maxdiff)"
        raw "CHECK w6-ort $("$B/ort_bench" "$ORT_LIB" "$D/w6.onnx" 32,1,28,28 864 0.01 "$D/x_w6.bin" "$D/y_w6.bin" | grep maxdiff)"
        [ $HAVE_W7 = 1 ] && raw "CHECK w7-ort $("$B/ort_bench" "$ORT_LIB" "$D/w7.onnx" 2,1,8,8 20 0.01 "$D/x_w7.bin" "$D/y_w7.bin" | grep maxdiff)"
    fi
    if [ $HAVE_NAIVE = 1 ]; then
        raw "CHECK w2-naive $("$B/naive" w1 "$D/w1.bin" "$D/x_w1.bin" 64 0.01 "$D/y_w1.bin" | grep maxdiff)"
        raw "CHECK w4-naive $("$B/naive" w4 "$D/w4.bin" "$D/x_w4.bin" 1 0.01 "$D/y_w4.bin" | grep maxdiff)"
    fi
fi

# ------------------------------------------------------------------ environment
raw "INFO date $(date -u '+%Y-%m-%d %H:%M UTC')"
raw "INFO commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (working tree has uncommitted changes)')"
raw "INFO cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(getconf _NPROCESSORS_ONLN) cores; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
raw "INFO mode $([ $QUICK = 1 ] && echo quick || echo full): $ROUNDS round(s), ${SEC}s per measurement, W5 ${GEMM_SEC}s per GEMM per implementation; 1 thread; samples timed in $([ "$NNC_BENCH_CLOCK" = cpu ] && echo 'process CPU time (BENCH_CLOCK=cpu)' || echo 'wall time')"
[ $HAVE_TORCH = 1 ] && raw "INFO pytorch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) ($PY)"
[ $HAVE_ORT = 1 ] && raw "INFO onnxruntime $(sed -n 's/^ort_version=//p' "$LOGS/ort-probe.log") via its C API (bench/ort_bench.c, $(basename "$(dirname "$(dirname "$(dirname "$ORT_LIB")")")"))"
raw "INFO compilers $($CC --version | head -1); nnc programs and naive C built with -O3 -march=native"

# ------------------------------------------------------------------ rounds
# Every round runs every implementation once, in turn, so that slow phases of
# a shared machine hit all of them alike; medians over rounds are reported.
# microseconds since the epoch in REPLY, without a fork
now_us() { local t=$EPOCHREALTIME; t=${t/[.,]/}; REPLY=$((10#$t)); }
# the median of the integer arguments (the lower middle one of an even count)
median_n() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
for r in $(seq 1 "$ROUNDS"); do
    say "round $r/$ROUNDS"
    machine_peak
    # nnc
    for spec in "W1 w1_mlp 1" "W2 w1_mlp 64" "W1bf16 w1_mlp_bf16 1" "W2bf16 w1_mlp_bf16 64" "W4 w4_cnn 1" "W6b1 w6_cnn 1" "W6b32 w6_cnn 32" \
                "W6t w6_cnn 32 --train" "W7b1 w7_resnet 1" "W7t w7_resnet 32 --train"; do
        set -- $spec
        [ -x "$B/$2" ] || continue
        if "$B/$2" bench --batch "$3" ${4:-} --seconds "$SEC" >"$LOGS/nnc-$1.txt" 2>&1; then
            raw "RESULT $1 nnc $(median_of "$LOGS/nnc-$1.txt")"
        else
            skip "nnc $1 bench failed (round $r)"
        fi
    done
    if "$B/w3_digits" bench --train --batch 32 --seconds "$SEC" >"$LOGS/nnc-W3s.txt" 2>&1; then
        raw "RESULT W3s nnc $(median_of "$LOGS/nnc-W3s.txt")"
    fi
    # W3: wall time of `train` (process start, CSV parsing, 20 epochs with
    # validation); the loop alone is estimated as that minus `train --epochs 0`.
    # Clocks are read by bash itself ($EPOCHREALTIME: no process of ours
    # inside the interval), W3_RUNS runs a round, their median reported.
    w3=() w3z=() w3ok=1
    for _ in $(seq 1 "$W3_RUNS"); do
        now_us; t0=$REPLY
        if ! "$B/w3_digits" train --init "$D/w3.safetensors" --epochs "$EPOCHS" >"$LOGS/nnc-W3.txt" 2>&1; then
            w3ok=0
            break
        fi
        now_us; t1=$REPLY
        "$B/w3_digits" train --init "$D/w3.safetensors" --epochs 0 >/dev/null 2>&1
        now_us; t2=$REPLY
        w3+=($((t1 - t0))) w3z+=($((t2 - t1)))
    done
    if [ $w3ok = 1 ]; then
        accv=$(grep -o 'val_acc=[0-9.]*' "$LOGS/nnc-W3.txt" | tail -1 | cut -d= -f2)
        m=$(median_n "${w3[@]}")
        mz=$(median_n "${w3z[@]}")
        raw "RESULT W3 nnc $(awk -v a="$m" 'BEGIN{printf "%.6f", a/1e6}') ${accv:-0}"
        raw "RESULT W3loop nnc $(awk -v a="$m" -v z="$mz" 'BEGIN{d=a-z; if (d<0) d=0; printf "%.6f", d/1e6}')"
    else
        skip "nnc W3 train failed (round $r): $(tail -1 "$LOGS/nnc-W3.txt")"
    fi
    # ONNX Runtime
    if [ $HAVE_ORT = 1 ]; then
        for spec in "W1 w1 1,784 10" "W2 w1 64,784 640" "W4 w4 1,1,28,28 10" \
                    "W6b1 w6 1,1,28,28 27" "W6b32 w6 32,1,28,28 864" "W7b1 w7 1,1,8,8 10"; do
            set -- $spec
            [ -f "$D/$2.onnx" ] || continue
            if "$B/ort_bench" "$ORT_LIB" "$D/$2.onnx" "$3" "$4" "$SEC" "$D/x_$2.bin" >"$LOGS/ort-$1.txt" 2>&1; then
                raw "RESULT $1 ort $(median_of "$LOGS/ort-$1.txt")"
            else
                skip "ONNX Runtime $1 failed (round $r): $(tail -1 "$LOGS/ort-$1.txt")"
            fi
        done
    fi
    # naive C
    if [ $HAVE_NAIVE = 1 ]; then
        for spec in "W1 w1 1" "W2 w1 64" "W4 w4 1"; do
            set -- $spec
            if "$B/naive" "$2" "$D/$2.bin" "$D/x_$2.bin" "$3" "$SEC" >"$LOGS/naive-$1.txt" 2>&1; then
                raw "RESULT $1 naive $(median_of "$LOGS/naive-$1.txt")"
            fi
        done
    fi
    # PyTorch eager + TorchScript (W1, W2, W4, W3 step), then the W3 training loop
    if [ $HAVE_TORCH = 1 ]; then
        if "$PY" "$HERE/torch_bench.py" all "$D" "$SEC" "$EPOCHS" >"$LOGS/torch.txt" 2>&1; then
            grep -E '^(RESULT|SKIP) ' "$LOGS/torch.txt" >> "$RAW"
        else
            skip "PyTorch round $r failed: $(tail -1 "$LOGS/torch.txt")"
        fi
    fi
done

# ------------------------------------------------------------------ W5
if [ $HAVE_GEMM = 1 ]; then
    say "W5 GEMM"
    "$B/gemm_bench" "$GEMM_SEC" "$ROUNDS" "$NAIVE_GEMM_MAX" >"$LOGS/gemm.txt" 2>&1 || skip "W5 gemm_bench failed"
    grep -E '^(GEMM|KERNEL|SKIP) ' "$LOGS/gemm.txt" >> "$RAW"
fi
machine_peak
raw "INFO end load average $(cut -d' ' -f1-3 /proc/loadavg); the run took $(( $(date +%s) - T0 )) s"

# ------------------------------------------------------------------ report
mkdir -p "$HERE/results"
"$PY" "$HERE/report.py" "$RAW" "$HERE/results/latest.md"
status=$?
echo
echo "(written to bench/results/latest.md; raw lines in $RAW, logs in $LOGS)"
exit $status
