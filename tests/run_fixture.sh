#!/usr/bin/env bash
# run_fixture.sh NNC NNC_CMP CASE_DIR WORK_DIR
#
# Runs one PyTorch-agreement fixture (tests/fixtures/<kind>/<case>, made by
# tests/pytorch/make_fixtures.py) end to end with the nnc executable NNC and
# the comparison tool NNC_CMP. The case folder is copied to WORK_DIR/case and
# everything runs there, so relative paths in model.nnet work and nothing is
# ever written into the source tree. WORK_DIR is emptied first.
#
#   infer  with weights.safetensors: build with --weights at -O2 and at -O0,
#          `PROG infer < input.csv`, compare with expected.csv; then build
#          without --weights and run `PROG infer --weights weights.safetensors`.
#          Without a weights file (literal weights in the model): build at -O2
#          (the default) and at -O0, infer, compare.
#          Tolerance |want - got| <= 1e-5 + 1e-5 |want|.
#   train  build, `PROG train --save got.safetensors`, compare every tensor
#          with expected.safetensors (abs 2e-4 + rel 1e-3); tensors listed in
#          exact.txt (a frozen layer) must be bit-identical; with losses.txt
#          (one loss per epoch), the --log file's train_loss column is
#          compared with it (abs 2e-4 + rel 1e-3).
#   eval   build, `PROG eval --weights weights.safetensors --data data.csv`,
#          compare its key=value output with expected_eval.txt (1e-5, 1e-5).
#
# Every step runs even when an earlier independent one failed; each failure is
# reported with the command and the tail of its output. Exit 0 when all steps
# pass, 1 otherwise, 2 for wrong usage.
set -u

if [ $# -ne 4 ]; then
    echo "usage: run_fixture.sh NNC NNC_CMP CASE_DIR WORK_DIR" >&2
    exit 2
fi

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
CMP=$(abspath "$2")
CASE=$(abspath "$3")
WORK=$(abspath "$4")
KIND=$(basename "$(dirname "$CASE")")
NAME="$KIND/$(basename "$CASE")"
STEP_TIMEOUT=${NNC_FIXTURE_TIMEOUT:-120}

for f in "$NNC" "$CMP"; do
    [ -x "$f" ] || { echo "run_fixture: $f is not an executable" >&2; exit 2; }
done
[ -f "$CASE/model.nnet" ] || { echo "run_fixture: $CASE/model.nnet not found" >&2; exit 2; }
case "$WORK" in
    /|"$CASE"|"$CASE"/*) echo "run_fixture: refusing work dir $WORK" >&2; exit 2 ;;
esac

rm -rf "$WORK"
mkdir -p "$WORK"
cp -R "$CASE" "$WORK/case"
cd "$WORK/case" || exit 2

steps=0
failed=0
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout "$STEP_TIMEOUT")

# step LABEL STDIN STDOUT CMD...: run CMD with those files (STDOUT "-" means
# WORK/LABEL.out); its standard error goes to WORK/LABEL.err. Returns CMD's status.
step() {
    local label=$1 in=$2 out=$3
    shift 3
    [ "$out" = - ] && out="$WORK/$label.out"
    steps=$((steps + 1))
    "${TIMEOUT[@]}" "$@" <"$in" >"$out" 2>"$WORK/$label.err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        echo "FAIL [$NAME] $label (exit $rc$([ $rc -eq 124 ] && echo ", timed out after ${STEP_TIMEOUT}s")):"
        echo "  in $WORK/case: $*$([ "$in" = /dev/null ] || echo " <$in") >$out"
        if [ "$out" = "$WORK/$label.out" ] && [ -s "$out" ]; then
            tail -n 15 "$out" | sed 's/^/  | /'
        fi
        tail -n 30 "$WORK/$label.err" | sed 's/^/  | /'
    fi
    return $rc
}

# infer_check LABEL PROG [ARGS...]: `PROG infer ARGS < input.csv`, then compare.
infer_check() {
    local label=$1 prog=$2
    shift 2
    step "$label" input.csv "$WORK/$label.csv" "$prog" infer "$@" &&
        step "$label-cmp" /dev/null - "$CMP" csv expected.csv "$WORK/$label.csv" --abs 1e-5 --rel 1e-5
}

case "$KIND" in
infer)
    if [ -f weights.safetensors ]; then
        for opt in -O2 -O0; do
            step "build$opt" /dev/null - "$NNC" build model.nnet --weights weights.safetensors "$opt" \
                -o "$WORK/prog$opt" &&
                infer_check "infer$opt" "$WORK/prog$opt"
        done
        step build-noweights /dev/null - "$NNC" build model.nnet -o "$WORK/prog-rt" &&
            infer_check infer-runtime-weights "$WORK/prog-rt" --weights weights.safetensors
    else
        for opt in -default -O0; do
            args=()
            [ "$opt" = -default ] || args=("$opt")
            step "build$opt" /dev/null - "$NNC" build model.nnet "${args[@]}" -o "$WORK/prog$opt" &&
                infer_check "infer$opt" "$WORK/prog$opt"
        done
    fi
    ;;
train)
    exact=()
    if [ -f exact.txt ]; then
        exact=(--exact "$(grep -v '^[[:space:]]*$' exact.txt | paste -sd, -)")
    fi
    log=()
    [ -f losses.txt ] && log=(--log "$WORK/log.csv")
    step build /dev/null - "$NNC" build model.nnet -o "$WORK/prog" &&
        step train /dev/null - "$WORK/prog" train --save "$WORK/got.safetensors" "${log[@]}" &&
        step compare /dev/null - "$CMP" st expected.safetensors "$WORK/got.safetensors" \
            --abs 2e-4 --rel 1e-3 "${exact[@]}"
    if [ -f losses.txt ] && [ -f "$WORK/log.csv" ]; then
        # the log's train_loss column (after its header), one loss per epoch
        awk -F, 'NR > 1 { print $2 }' "$WORK/log.csv" > "$WORK/losses.csv"
        step losses /dev/null - "$CMP" csv losses.txt "$WORK/losses.csv" --abs 2e-4 --rel 1e-3
    fi
    ;;
eval)
    step build /dev/null - "$NNC" build model.nnet -o "$WORK/prog" &&
        step eval /dev/null "$WORK/eval.txt" "$WORK/prog" eval --weights weights.safetensors \
            --data data.csv &&
        step compare /dev/null - "$CMP" kv expected_eval.txt "$WORK/eval.txt" --abs 1e-5 --rel 1e-5
    ;;
*)
    echo "run_fixture: unknown fixture kind '$KIND' (expected infer, train or eval)" >&2
    exit 2
    ;;
esac

if [ $failed -ne 0 ]; then
    echo "FAIL [$NAME]: $failed of $steps steps failed (work dir $WORK)"
    exit 1
fi
echo "PASS [$NAME]: $steps steps"
exit 0
