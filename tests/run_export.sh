#!/usr/bin/env bash
# run_export.sh — `nnc export --torch` checked against the compiled program:
# the exported script, run by Debian's PyTorch, must print what `PROG infer
# --weights W` prints (abs 1e-4 + rel 1e-4, nnc_cmp csv).
#
#   usage: run_export.sh NNC NNC_CMP ROOT WORK CASE
#   CASE: example:NAME   examples/NAME.nnet; weights and rows made by the
#                        exported module with a seeded PyTorch (a .pth file,
#                        tests/tools/export_data.py)
#         model:NAME     tests/export/models/NAME.nnet (graph models, the
#                        layers of version 2), as an example
#         fixture:NAME   tests/fixtures/infer/NAME: its weights.safetensors
#                        (or the model's literals) and input.csv; the
#                        script must also agree with the fixture's
#                        expected.csv (PyTorch's own answer)
#         bad:NAME       tests/export/bad/NAME.nnet must be refused: exit 1,
#                        the diagnostic of NAME.err, and no file written
# Exit 0 pass, 1 fail, 2 wrong usage, 77 skipped (no PyTorch under
# /usr/bin/python3: Debian's python3-torch).
set -u
if [ $# -ne 5 ]; then
    echo "usage: run_export.sh NNC NNC_CMP ROOT WORK CASE" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC="$(abspath "$1")"; CMP="$(abspath "$2")"; ROOT="$(abspath "$3")"; WORK="$(abspath "$4")"
CASE="$5"
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK" || exit 2
cd "$WORK" || exit 2

fail() { echo "FAIL: $*"; exit 1; }
run() {     # run LOG CMD...: CMD's output in LOG, or fail showing it
    local log="$1"; shift
    if ! "$@" >"$log" 2>&1; then
        echo "FAIL: $* exited with an error:"; tail -n 30 "$log"; exit 1
    fi
}

kind="${CASE%%:*}"; name="${CASE#*:}"
case "$kind" in
bad)
    model="$ROOT/tests/export/bad/$name.nnet"
    [ -f "$model" ] || { echo "run_export: no $model" >&2; exit 2; }
    cp "$model" "$name.nnet"
    "$NNC" export "$name.nnet" --torch -o model.py >out.txt 2>err.txt; rc=$?
    [ $rc -eq 1 ] || { cat err.txt; fail "nnc export of $name.nnet exited $rc, want 1"; }
    [ ! -e model.py ] || fail "nnc export of $name.nnet failed but wrote model.py"
    [ -z "$(ls -A | grep -v -e '^err.txt$' -e '^out.txt$' -e "^$name.nnet\$")" ] ||
        fail "left files behind: $(ls -A)"
    if ! diff -u "$ROOT/tests/export/bad/$name.err" err.txt; then fail "diagnostic differs"; fi
    echo "ok: $name refused: $(head -n 1 err.txt)"
    exit 0 ;;
example)
    model="$ROOT/examples/$name.nnet" ;;
model)
    model="$ROOT/tests/export/models/$name.nnet" ;;
fixture)
    model="$ROOT/tests/fixtures/infer/$name/model.nnet" ;;
*)
    echo "run_export: unknown case $CASE" >&2; exit 2 ;;
esac
[ -f "$model" ] || { echo "run_export: no $model" >&2; exit 2; }
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "SKIP: no PyTorch under $PY (Debian's python3-torch); export not checked"
    exit 77
fi

run export.log "$NNC" export "$model" --torch -o model.py
grep -q "^class " model.py || fail "model.py has no class"
run build.log "$NNC" build "$model" -o prog
weights=()
if [ "$kind" != fixture ]; then
    run data.log "$PY" "$ROOT/tests/tools/export_data.py" model.py weights.pth rows.csv 16 7
    weights=(weights.pth)
else
    dir="$(dirname "$model")"
    cp "$dir/input.csv" rows.csv
    [ -f "$dir/weights.safetensors" ] && cp "$dir/weights.safetensors" . && weights=(weights.safetensors)
fi
if [ ${#weights[@]} -eq 0 ]; then
    run want.log ./prog infer <rows.csv
else
    run want.log ./prog infer --weights "${weights[0]}" <rows.csv
fi
mv want.log want.csv
run got.log "$PY" model.py "${weights[@]}" <rows.csv
mv got.log got.csv
[ -s want.csv ] || fail "the program printed nothing"
if ! "$CMP" csv want.csv got.csv --abs 1e-4 --rel 1e-4; then
    fail "python3 model.py ${weights[*]} differs from prog infer"
fi
echo "ok: $CASE: $(wc -l <got.csv) rows of $(head -n 1 got.csv | tr ',' '\n' | wc -l) values agree with prog infer"
if [ "$kind" = fixture ]; then
    if ! "$CMP" csv "$(dirname "$model")/expected.csv" got.csv --abs 1e-4 --rel 1e-4; then
        fail "python3 model.py differs from the fixture's expected.csv"
    fi
    echo "ok: $CASE: agrees with the fixture's expected.csv"
fi
exit 0
