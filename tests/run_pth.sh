#!/usr/bin/env bash
# run_pth.sh NNC NNC_CMP DATA_DIR WORK_DIR
#
# PyTorch .pth files end to end (tests/data/pth, made by
# tests/pytorch/make_pth.py with Debian's PyTorch):
#   - `nnc build net.nnet --weights net.pth`: `infer` agrees with PyTorch's
#     outputs (expected.csv, 1e-5 abs + 1e-5 rel);
#   - a program's `infer --weights X` prints the same bytes for net.pth,
#     shared_net.pth (views of one storage, a transposed weight), zip64.pth
#     and net.safetensors;
#   - `nnc convert net.pth -o W.safetensors` holds net.safetensors' tensors
#     exactly, and so does its output through `infer --weights`;
#   - `train --init net.pth` trains to the same bytes as --init net.safetensors;
#   - refusals: `nnc build`/`check` of a .pth, safetensors, legacy or ONNX
#     file names what it is and the command that reads it; --weights of a
#     pickle calling builtins.eval fails naming it and writes no program.
# Exit 0 when every step passes, 1 otherwise, 2 for wrong usage.
set -u
if [ $# -ne 4 ]; then
    echo "usage: run_pth.sh NNC NNC_CMP DATA_DIR WORK_DIR" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
CMP=$(abspath "$2")
DATA=$(abspath "$3")
WORK=$(abspath "$4")
case "$WORK" in /|"$DATA"|"$DATA"/*) echo "run_pth: refusing work dir $WORK" >&2; exit 2 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"
cp "$DATA"/* "$WORK"/
cd "$WORK" || exit 2

failed=0
steps=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# run LABEL CMD...: CMD with stdout to LABEL.out, stderr to LABEL.err; 0 wanted.
run() {
    local label=$1
    shift
    steps=$((steps + 1))
    "$@" >"$label.out" 2>"$label.err" && return 0
    fail "$label (exit $?): $*"
    sed 's/^/  | /' "$label.err" | tail -n 20
    return 1
}
# refuse LABEL REGEX CMD...: CMD must exit 1 with REGEX on stderr and no crash.
refuse() {
    local label=$1 re=$2
    shift 2
    steps=$((steps + 1))
    "$@" >"$label.out" 2>"$label.err"
    local rc=$?
    if [ $rc -ne 1 ] || ! grep -Eq -- "$re" "$label.err" || grep -q "Sanitizer\|internal error" "$label.err"; then
        fail "$label (exit $rc, wanted 1 and /$re/): $*"
        sed 's/^/  | /' "$label.err" | tail -n 20
    fi
}
same() {
    steps=$((steps + 1))
    cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

# Built with the .pth compiled in, at -O2 and -O0: PyTorch's numbers.
for opt in -O2 -O0; do
    run "build$opt" "$NNC" build net.nnet --weights net.pth "$opt" -o "prog$opt" &&
        run "infer$opt" sh -c "./prog$opt infer < input.csv > got$opt.csv" &&
        run "cmp$opt" "$CMP" csv expected.csv "got$opt.csv" --abs 1e-5 --rel 1e-5
done
run build-st "$NNC" build net.nnet --weights net.safetensors -o prog-st &&
    run infer-st sh -c "./prog-st infer < input.csv > got-st.csv" && same got-O2.csv got-st.csv

# Loaded at run time: every kind of file gives the same bytes.
if run build-rt "$NNC" build net.nnet -o prog-rt; then
    run rt-st sh -c "./prog-rt infer --weights net.safetensors < input.csv > rt-st.csv"
    run rt-cmp "$CMP" csv expected.csv rt-st.csv --abs 1e-5 --rel 1e-5
    for w in net.pth shared_net.pth zip64.pth; do
        run "rt-$w" sh -c "./prog-rt infer --weights $w < input.csv > rt-$w.csv" &&
            same rt-st.csv "rt-$w.csv"
    done
    # whatever the file is called
    cp shared_net.pth weights.bin
    run rt-bin sh -c "./prog-rt infer --weights weights.bin < input.csv > rt-bin.csv" &&
        same rt-st.csv rt-bin.csv
    refuse rt-eval "bad_eval.pth: error: pickle calls builtins.eval" \
        sh -c "./prog-rt infer --weights bad_eval.pth < input.csv"
    refuse rt-legacy "bad_legacy.pth: error: .*save it again with a current PyTorch" \
        sh -c "./prog-rt infer --weights bad_legacy.pth < input.csv"
fi

# nnc convert: exactly the state_dict's tensors.
run convert "$NNC" convert net.pth -o conv.safetensors &&
    run convert-cmp "$CMP" st net.safetensors conv.safetensors --abs 0 --rel 0 &&
    run rt-conv sh -c "./prog-rt infer --weights conv.safetensors < input.csv > rt-conv.csv" &&
    same rt-st.csv rt-conv.csv
run convert-views "$NNC" convert views.pth -o views-conv.safetensors &&
    run convert-views-cmp "$CMP" st views.safetensors views-conv.safetensors --abs 0 --rel 0
refuse convert-model "bad_model.pth: error: pickle calls torch.nn.modules.container.Sequential" \
    "$NNC" convert bad_model.pth -o model.safetensors
steps=$((steps + 1))
[ ! -e model.safetensors ] || fail "a refused convert wrote model.safetensors"

# train --init reads a .pth like a safetensors (the same bytes after training).
{ cat net.nnet; printf '\ntrain net {\n    data = csv("train.csv", label = -1)\n    loss = cross_entropy\n    optimizer = sgd(lr = 0.1)\n    epochs = 2\n    batch = 3\n    shuffle = false\n}\n'; } > net_train.nnet
awk -F, '{ printf "%s,%d\n", $0, NR % 4 }' input.csv > train.csv
if run build-train "$NNC" build net_train.nnet -o prog-train; then
    run train-st ./prog-train train --init net.safetensors --save trained-st.safetensors &&
        run train-pth ./prog-train train --init net.pth --save trained-pth.safetensors &&
        run train-cmp "$CMP" st trained-st.safetensors trained-pth.safetensors --abs 0 --rel 0
fi

# nnc build / check of a file that is not a .nnet model.
refuse build-pth "net.pth: error: this is a zip archive \(a PyTorch .pth file\?\), not a .nnet model.*nnc convert net.pth -o" \
    "$NNC" build net.pth -o nope
refuse check-st "net.safetensors: error: this is a safetensors weights file, not a .nnet model.*--weights net.safetensors" \
    "$NNC" check net.safetensors
refuse check-legacy "bad_legacy.pth: error: this is a PyTorch file in the legacy format" \
    "$NNC" check bad_legacy.pth
printf '\010\010\022\007pytorch\032\0041.13' > tiny.onnx
refuse check-onnx "tiny.onnx: error: this is an ONNX model, not a .nnet model: .nnc import tiny.onnx -o DIR" \
    "$NNC" check tiny.onnx
refuse build-eval "bad_eval.pth: error: pickle calls builtins.eval, which a state_dict does not hold" \
    "$NNC" build net.nnet --weights bad_eval.pth -o prog-eval
steps=$((steps + 2))
[ ! -e nope ] || fail "a refused build wrote its output"
[ ! -e prog-eval ] || fail "a refused --weights build wrote its program"

if [ $failed -ne 0 ]; then
    echo "FAIL [pth]: $failed of $steps steps failed (work dir $WORK)"
    exit 1
fi
echo "PASS [pth]: $steps steps"
exit 0
