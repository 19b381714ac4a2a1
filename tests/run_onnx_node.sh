#!/usr/bin/env bash
# run_onnx_node.sh NNC ONNX_TENSORS NODE_DIR WORK FLOOR_FILE — the ONNX
# conformance run: every node test of Debian's libonnx-testdata (NODE_DIR,
# one folder per test: model.onnx, test_data_set_*/input_*.pb, output_*.pb)
# goes through `nnc import` -> `nnc build` -> `PROG infer`, and each output
# is compared with the expected tensors at the ONNX backend tests' tolerance
# (rtol 1e-3, atol 1e-7). A test passes when every data set agrees. Tests
# that cannot fit nnc's model (no batch dimension, weights given as inputs,
# strings, sequences, random ops) count as failures. When the import fails,
# it is tried again with the last inputs folded into constants (`nnc import
# --const`: weights, shapes and axes given as inputs), the fewest that let it
# import; such a pass is counted apart. Prints `passed N of M`,
# the failures grouped by operator and stage, and fails when N is below the
# number in FLOOR_FILE (none: no floor). A crash (nnc, or a program it
# built, exiting with a status other than 0 and 1: a signal, a sanitizer
# report) fails the run whatever the count. NNC_ONNX_JOBS tests run at once
# (default 2); NNC_ONNX_ONLY=REGEX keeps the tests whose names match.
set -u
NNC=$1 TOOL=$2 NODE=$3 WORK=$4 FLOOR_FILE=$5
if [ ! -d "$NODE" ]; then
  echo "ONNX node tests skipped: $NODE is missing (Debian's libonnx-testdata)"
  exit 77
fi
export NNC TOOL WORK
export NNC_CACHE_DIR="${NNC_CACHE_DIR:-$WORK/nnc-cache}"
rm -rf "$WORK"
mkdir -p "$WORK/res"

one() {
  local d=$1 name out ops sets s st=pass
  name=$(basename "$d")
  out="$WORK/$name"
  ops=$("$TOOL" ops "$d/model.onnx" 2>/dev/null | sort -u | paste -sd+ -)
  [ -n "$ops" ] || ops="?"
  "$NNC" import "$d/model.onnx" -o "$out" 2>"$out.log"
  local rc=$? nrun consts=()
  # Inputs that nnc needs as constants (a shape, axes, weights, a scalar
  # without a batch): the fewest last inputs whose values the test gives are
  # folded into the model (`nnc import --const`), the others stay inputs.
  # Each data set then needs its own model, so only tests with one data set.
  local all=() nsets
  nsets=$(ls -d "$d"/test_data_set_* 2>/dev/null | wc -l)
  mapfile -t all < <(ls -v "$d"/test_data_set_0/input_*.pb 2>/dev/null)
  nrun=${#all[@]}
  if [ $rc -eq 1 ] && [ "$nsets" -eq 1 ] && [ ${#all[@]} -gt 1 ]; then
    local j k
    for ((j = ${#all[@]} - 1; j >= 1; j--)); do
      consts=()
      for ((k = j; k < ${#all[@]}; k++)); do consts+=(--const "${all[$k]}"); done
      "$NNC" import "$d/model.onnx" -o "$out" "${consts[@]}" 2>>"$out.log"
      rc=$?
      if [ $rc -eq 0 ]; then
        nrun=$j
        echo "folded inputs $j.. into constants" >>"$out.log"
      fi
      [ $rc -eq 1 ] || break
    done
  fi
  if [ $rc -ne 0 ]; then
    st=import
    [ $rc -eq 1 ] || st=crash
  else
    local w=()
    [ -f "$out/model.safetensors" ] && w=(--weights "$out/model.safetensors")
    "$NNC" build "$out/model.nnet" -o "$out/prog" "${w[@]}" 2>>"$out.log" >/dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
      st=build
      [ $rc -eq 1 ] || st=crash
    else
      for s in "$d"/test_data_set_*; do
        local ins outs
        ins=$(ls -v "$s"/input_*.pb 2>/dev/null | head -n "$nrun")
        outs=$(ls -v "$s"/output_*.pb 2>/dev/null)
        # shellcheck disable=SC2086
        if ! "$TOOL" rows $ins >"$out/in.csv" 2>>"$out.log"; then st=data; break; fi
        "$out/prog" infer <"$out/in.csv" >"$out/out.csv" 2>>"$out.log"
        rc=$?
        if [ $rc -ne 0 ]; then
          st=run
          [ $rc -eq 1 ] || st=crash
          break
        fi
        # shellcheck disable=SC2086
        if ! "$TOOL" compare "$out/out.csv" 1e-3 1e-7 $outs >>"$out.log" 2>&1; then st=values; break; fi
      done
    fi
  fi
  [ $nrun -lt ${#all[@]} ] && st="$st-folded"
  echo "$st $ops $name" >"$WORK/res/$name"
  [ "$st" = pass ] || [ "$st" = pass-folded ] && rm -rf "$out"
}
export -f one

ls -d "$NODE"/*/ | sed 's:/$::' | grep -E "${NNC_ONNX_ONLY:-.}" |
  xargs -P "${NNC_ONNX_JOBS:-2}" -I{} bash -c 'one "$@"' _ {}

total=$(ls "$WORK/res" | wc -l)
passed=$(cat "$WORK/res"/* | grep -c '^pass' || true)
folded=$(cat "$WORK/res"/* | grep -c '^pass-folded ' || true)
echo "failures by operator (stage: import, build, data, run, values):"
cat "$WORK/res"/* | grep -v '^pass' | awk '{print $2" "$1}' | sort | uniq -c |
  sort -k2 | awk '{printf "  %-40s %-7s %d\n", $2, $3, $1}'
echo "operators with passing tests:"
cat "$WORK/res"/* | grep '^pass' | awk '{print $2}' | sort | uniq -c |
  awk '{printf "  %-40s %d\n", $2, $1}'
echo "passed $passed of $total ($folded of them with inputs folded into constants)"
crashes=$(cat "$WORK/res"/* | grep '^crash ' || true)
if [ -n "$crashes" ]; then
  echo "FAIL: nnc or a program it built crashed (exit status other than 0 or 1; logs in $WORK):"
  echo "$crashes" | sed 's/^/  /'
  exit 1
fi
[ "$FLOOR_FILE" = none ] && exit 0
floor=$(tr -dc 0-9 <"$FLOOR_FILE")
if [ "$passed" -lt "${floor:-0}" ]; then
  echo "FAIL: $passed node tests pass, below the floor of $floor ($FLOOR_FILE)"
  exit 1
fi
exit 0
