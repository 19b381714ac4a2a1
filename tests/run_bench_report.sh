#!/usr/bin/env bash
# run_bench_report.sh CC WORK — bench/'s bounds: bench/machine.c measures a
# peak and bandwidths and names the CPU; bench/report.py gives each figure as
# a fraction of its bound (hand-computed cases below) and fails, exit 1 with
# a BENCH BUG section, on a figure above its bound. Timings are not checked.
set -u
CC=$1 WORK=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$(command -v python3 || echo /usr/bin/python3)
mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- machine.c: every line there, values positive
if [ "$(uname -m)" = x86_64 ]; then
    # shellcheck disable=SC2086  # under tests/run_sanitize.sh: its sanitizers
    $CC -std=c11 -O2 -march=native ${NNC_EXTRA_CFLAGS:-} -o "$WORK/machine" "$ROOT/bench/machine.c" \
        || fail "machine.c does not compile"
    "$WORK/machine" 0.02 > "$WORK/machine.txt" || fail "machine exits $?"
    for k in "MACHINE vendor" "MACHINE family" "MACHINE model" "MACHINE name" "PEAK best" \
             "BW l1" "BW l2" "BW dram"; do
        grep -q "^$k " "$WORK/machine.txt" || fail "machine prints no '$k' line"
    done
    awk '$1 == "PEAK" || $1 == "BW" { if (!($3 > 0)) bad = 1 } END { exit bad }' \
        "$WORK/machine.txt" || fail "a peak or bandwidth is not positive"
    fam=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mod=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)
    if [ -n "$fam" ]; then
        grep -qx "MACHINE family $fam" "$WORK/machine.txt" || fail "family differs from /proc/cpuinfo ($fam)"
        grep -qx "MACHINE model $mod" "$WORK/machine.txt" || fail "model differs from /proc/cpuinfo ($mod)"
    fi
    "$WORK/machine" 0.02 peak > "$WORK/peak.txt" || fail "machine peak exits $?"
    grep -q '^BW' "$WORK/peak.txt" && fail "'machine S peak' measures bandwidth too"
    grep -q '^PEAK best' "$WORK/peak.txt" || fail "'machine S peak' prints no peak"
fi

# ---- report.py on a made-up machine: peak 100 GFLOP/s, L1 400, L2 100 GB/s
machine_lines='MACHINE vendor TestVendor
MACHINE family 1
MACHINE model 2
MACHINE name Test CPU
MACHINE caches L1d 48 KiB, L2 1024 KiB, L3 0 KiB
PEAK avx512 100.0
PEAK best 80.0
PEAK best 100.0
BW l1 400.0 16384
BW l2 100.0 524288
BW dram 10.0 268435456'
# W1 reads 437,544 B of weights (> L1): bound 4.37544 us at 100 GB/s (its
# 218,368 FLOPs take 2.18 us at 100 GFLOP/s); 8.75088 us is 50%.
# SGEMM 512^3 at 90 GFLOP/s against a 100 GFLOP/s peak: 90%.
printf '%s\nRESULT W1 nnc 8.75088\nGEMM 512 nnc 90.0\n' "$machine_lines" > "$WORK/ok.txt"
"$PY" "$ROOT/bench/report.py" "$WORK/ok.txt" "$WORK/ok.md" > "$WORK/ok.out" 2> "$WORK/ok.err" \
    || fail "report.py exits $? on figures below their bounds: $(cat "$WORK/ok.err")"
grep -q 'Test CPU; vendor TestVendor, family 1, model 2' "$WORK/ok.md" || fail "the report does not name the CPU"
grep -q 'peak, one core: \*\*100.0 GFLOP/s\*\*' "$WORK/ok.md" || fail "the report's peak is not the highest PEAK best"
grep -q '^| W1 MLP.* | 4.375 us (L2) | 50% |' "$WORK/ok.md" || fail "W1 is not 50% of its L2 bound"
grep -q '^| W5 SGEMM 512^3 | .* (compute) | 90% |' "$WORK/ok.md" || fail "SGEMM 512 is not 90% of peak"
grep -q 'BENCH BUG' "$WORK/ok.md" && fail "BENCH BUG below the bounds"

# A figure above its bound: SGEMM at 120 of 100 GFLOP/s, W1 faster than its
# weights can be read; both named, exit status 1.
printf '%s\nRESULT W1 nnc 4.0\nGEMM 512 nnc 120.0\n' "$machine_lines" > "$WORK/bug.txt"
"$PY" "$ROOT/bench/report.py" "$WORK/bug.txt" "$WORK/bug.md" > "$WORK/bug.out" 2> "$WORK/bug.err"
[ $? = 1 ] || fail "report.py does not exit 1 on figures above their bounds"
grep -q 'BENCH BUG' "$WORK/bug.err" || fail "no BENCH BUG on stderr"
grep -q '^- W5-512 nnc: .*120%' "$WORK/bug.md" || fail "the SGEMM above peak is not named"
grep -q '^- W1 nnc: 4.000 us .*(L2-bound)' "$WORK/bug.md" || fail "W1 above its L2 bound is not named"
echo "ok"
