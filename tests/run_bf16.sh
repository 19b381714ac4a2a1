#!/usr/bin/env bash
# run_bf16.sh NNC SRC_DIR WORK — `--dtype bf16` (linear weights stored as
# bfloat16, fp32 arithmetic) on the digits example, trained here for a few
# epochs (fp32, seeded):
#
#   oracle    `infer` of the bf16 program equals `infer` of the f32 program
#             run on the same weights rounded to bf16 by an independent
#             rounding (tests/tools/round_bf16.py: frexp and Python's
#             ties-to-even round), to 1e-4·(1+|y|): both are fp32 math on the
#             same weights; only the order of the sums differs.
#   f32       against the f32 program on the unrounded weights: each weight
#             moves by at most 2^-9 of itself, so each of the 3 layers'
#             sums moves by at most 2^-9·Σ|w·x| (relu is 1-Lipschitz). Σ|w·x|
#             is not |y|: allowing it 8x the logits' scale gives
#             |Δy| <= 3·8·2^-9·(1+|y|) ≈ 0.047·(1+|y|) (the factor 8 is a
#             choice; the measured worst is 0.013·(1+|y|)). The predicted
#             class differs on at most 1% of the test rows, and `eval`
#             accuracy is within 0.5 point.
#             (The oracle check above fails for a program that does not round:
#             f32 and bf16 outputs differ by ~1e-2, 100x its tolerance.)
#   train     a bf16 program trains in fp32: its saved weights are
#             byte-identical to the f32 program's.
#   emit      `nnc emit` without --dtype is byte-identical to --dtype f32
#             but for the command line it records; --dtype bf16 packs with
#             nnr_pack_linear_weight_bf16 and calls nnr_linear_packed_bf16.
#   llvm      with an LLVM-enabled nnc, the LLVM backend's bf16 program prints
#             the C backend's bf16 `infer` output byte for byte.
#   bad       --dtype f16 is a usage error (exit 2).
set -uo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 2
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

cp "$src/examples/digits.nnet" . && cp -r "$src/examples/data" . || exit 2
"$nnc" build digits.nnet -o d32 >build.log 2>&1 || { cat build.log; exit 1; }
"$nnc" build digits.nnet --dtype bf16 -o d16 >>build.log 2>&1 || { cat build.log; exit 1; }
./d32 train --epochs 8 --save w.safetensors >train32.log 2>&1 || { cat train32.log; exit 1; }
./d16 train --epochs 8 --save w16.safetensors >train16.log 2>&1 || { cat train16.log; exit 1; }
cmp -s w.safetensors w16.safetensors && ok "train: bf16 build saves the f32 weights" ||
    fail "train: the bf16 build's saved weights differ from the f32 build's"
python3 "$src/tests/tools/round_bf16.py" w.safetensors wr.safetensors || exit 1
cut -d, -f1-64 data/digits_test.csv > x.csv
./d32 infer --weights w.safetensors < x.csv > y32 || exit 1
./d32 infer --weights wr.safetensors < x.csv > y32r || exit 1
./d16 infer --weights w.safetensors < x.csv > y16 || exit 1
[ "$(wc -l < y16)" = "$(wc -l < x.csv)" ] || fail "bf16 infer printed $(wc -l < y16) rows"

# compare A B TOL: every |a-b| <= TOL·(1+|a|); prints the worst ratio
compare() {
    paste -d, "$1" "$2" | awk -F, -v tol="$3" '
        { n = NF / 2
          for (i = 1; i <= n; i++) { a = $i; b = $(i + n); d = a - b; if (d < 0) d = -d
              m = (a < 0 ? -a : a); r = d / (1 + m); if (r > worst) worst = r
              if (!(d <= tol * (1 + m))) bad++ }
          ia = 1; ib = 1
          for (i = 2; i <= n; i++) { if ($i > $ia) ia = i; if ($(i + n) > $(ib + n)) ib = i }
          if (ia != ib) flips++; rows++ }
        END { printf "worst |a-b|/(1+|a|) %.3g, argmax differs on %d of %d rows\n", worst, flips, rows
              if (bad) { printf "%d values past the tolerance %g\n", bad, tol; exit 1 }
              if (flips * 100 > rows) exit 3 }'
}
if out=$(compare y32r y16 1e-4); then ok "oracle (f32 on bf16-rounded weights): $out"; else fail "oracle: $out"; fi
if out=$(compare y32 y16 0.047); then ok "f32 weights: $out"; else fail "f32 weights: $out"; fi
a32=$(./d32 eval --data data/digits_test.csv --weights w.safetensors | sed -n 's/^accuracy=//p')
a16=$(./d16 eval --data data/digits_test.csv --weights w.safetensors | sed -n 's/^accuracy=//p')
if awk -v a="$a32" -v b="$a16" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0.9 && d <= 0.005) }'; then
    ok "eval accuracy f32 $a32, bf16 $a16"
else
    fail "eval accuracy f32 $a32, bf16 $a16 (want > 0.9 and within 0.005)"
fi

"$nnc" emit digits.nnet -o e0 2>/dev/null && "$nnc" emit digits.nnet --dtype f32 -o e1 2>/dev/null &&
    "$nnc" emit digits.nnet --dtype bf16 -o e2 2>/dev/null || fail "nnc emit"
if diff -r -I '^ \* Command: ' e0 e1 >/dev/null; then ok "emit: default is --dtype f32"; else fail "emit: default differs from --dtype f32"; fi
grep -q 'nnr_linear_packed_bf16(' e2/digits.c && grep -q 'nnr_pack_linear_weight_bf16(' e2/digits.c &&
    ! grep -q 'nnr_linear_packed_f32(' e2/digits.c && ok "emit --dtype bf16 calls the bf16 kernels" ||
    fail "emit --dtype bf16 does not call the bf16 kernels only"
grep -q 'nnr_linear_packed_bf16(' e0/digits.c && fail "emit without --dtype calls a bf16 kernel"

if "$nnc" build digits.nnet --dtype bf16 --backend=llvm -o dl16 >llvm.log 2>&1; then
    ./dl16 infer --weights w.safetensors < x.csv > yl16 || fail "llvm bf16 infer"
    cmp -s yl16 y16 && ok "llvm backend: bf16 infer identical to the C backend's" ||
        fail "llvm backend: bf16 infer differs from the C backend's"
elif grep -q "built without LLVM" llvm.log; then
    ok "llvm: nnc built without LLVM (skipped)"
else
    cat llvm.log; fail "nnc build --dtype bf16 --backend=llvm"
fi

"$nnc" build digits.nnet --dtype f16 -o bad >bad.log 2>&1
rc=$?
[ $rc = 2 ] && grep -q "unknown dtype 'f16'" bad.log && ok "--dtype f16 refused" ||
    fail "--dtype f16: exit $rc, $(head -n 1 bad.log)"
[ -e bad ] && fail "--dtype f16 left a program"

[ $fails = 0 ] && echo "all passed" && exit 0
echo "$fails check(s) FAILED"; exit 1
