#!/usr/bin/env bash
# run_override.sh NNC NNC_CMP TESTS_DIR WORK_DIR NAME
#
# One case of tests/overrides.txt: copies the fixture TARGET to WORK_DIR,
# edits its model.nnet as the case says, builds it, then
#   control:  `PROG train` must NOT give TARGET's expected.safetensors
#             (the edit matters), and
#   override: `PROG train OPTIONS` must (abs 2e-4 + rel 1e-3, the tensors
#             of exact.txt bit-identical), as run_fixture.sh compares.
# Exit 0 pass, 1 fail, 2 wrong usage.
set -u
if [ $# -ne 5 ]; then
    echo "usage: run_override.sh NNC NNC_CMP TESTS_DIR WORK_DIR NAME" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1"); CMP=$(abspath "$2"); TESTS=$(abspath "$3"); WORK=$(abspath "$4"); NAME=$5

line=$(grep -E "^$NAME[[:space:]]*\|" "$TESTS/overrides.txt" | head -n 1)
[ -n "$line" ] || { echo "run_override: no case '$NAME' in $TESTS/overrides.txt" >&2; exit 2; }
field() { printf '%s\n' "$line" | awk -F' \\| ' -v k="$1" '{ s = $k; sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); print s }'; }
TARGET=$(field 2); EDIT=$(field 3); OPTS=$(field 4)
CASE="$TESTS/fixtures/$TARGET"
[ -f "$CASE/expected.safetensors" ] || { echo "run_override: $CASE has no expected.safetensors" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
cp -R "$CASE" "$WORK/case"
cd "$WORK/case" || exit 2
case "$EDIT" in
    model=*) cp "$TESTS/fixtures/${EDIT#model=}/model.nnet" model.nnet ;;
    *) sed -i -e "$EDIT" model.nnet ;;
esac
if cmp -s model.nnet "$CASE/model.nnet"; then
    echo "FAIL [$NAME]: the edit '$EDIT' does not change model.nnet"
    exit 1
fi
eval "opts=($OPTS)"
exact=()
[ -f exact.txt ] && exact=(--exact "$(grep -v '^[[:space:]]*$' exact.txt | paste -sd, -)")
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 120)

fail() { echo "FAIL [$NAME] $1"; [ -f "$2" ] && tail -n 20 "$2" | sed 's/^/  | /'; exit 1; }
"${TIMEOUT[@]}" "$NNC" build model.nnet -o "$WORK/prog" >"$WORK/build.log" 2>&1 ||
    fail "build (in $WORK/case: nnc build model.nnet)" "$WORK/build.log"
# control: the edited file alone trains something else (or fails)
if "${TIMEOUT[@]}" "$WORK/prog" train --save "$WORK/control.safetensors" >"$WORK/control.log" 2>&1 &&
    "$CMP" st expected.safetensors "$WORK/control.safetensors" --abs 2e-4 --rel 1e-3 \
        "${exact[@]}" >"$WORK/control-cmp.log" 2>&1; then
    fail "control: without '$OPTS' the edited file already gives $TARGET's result" /dev/null
fi
"${TIMEOUT[@]}" "$WORK/prog" train --save "$WORK/got.safetensors" "${opts[@]}" >"$WORK/train.log" 2>&1 ||
    fail "train $OPTS" "$WORK/train.log"
"$CMP" st expected.safetensors "$WORK/got.safetensors" --abs 2e-4 --rel 1e-3 "${exact[@]}" \
    >"$WORK/cmp.log" 2>&1 || fail "compare (train $OPTS vs $TARGET/expected.safetensors)" "$WORK/cmp.log"
echo "PASS [$NAME]: $TARGET with $OPTS"
exit 0
