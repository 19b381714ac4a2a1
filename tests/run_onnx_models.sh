#!/usr/bin/env bash
# run_onnx_models.sh NNC NNC_CMP DATA_DIR WORK_DIR — `nnc import` of the
# models that tests/pytorch/make_onnx.py exported with torch.onnx.export
# (DATA_DIR/<case>/<case>.onnx), end to end:
#   - the imported DIR/<case>.nnet is the reviewed text <case>/expected.nnet;
#   - `nnc build DIR/<case>.nnet --weights DIR/<case>.safetensors`, then
#     `PROG infer < input.csv` agrees with PyTorch's expected.csv at
#     abs 1e-4 + rel 1e-4;
#   - refusals, exit 1 with a message and no output written: an operator and
#     an attribute nnc lacks (naming the node and the operator; an LSTM's
#     clip, a GRU's linear_before_reset = 0), a dynamic
#     dimension other than the batch, a truncated file and garbage (with the
#     byte offset), an empty file; losses reduced over the batch and an
#     argmax along it (libonnx-testdata's models, when installed).
# Exit 0 when every step passes, 1 otherwise, 2 for wrong usage.
set -u
if [ $# -ne 4 ]; then
    echo "usage: run_onnx_models.sh NNC NNC_CMP DATA_DIR WORK_DIR" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1") CMP=$(abspath "$2") DATA=$(abspath "$3") WORK=$(abspath "$4")
case "$WORK" in /|"$DATA"|"$DATA"/*) echo "refusing work dir $WORK" >&2; exit 2 ;; esac
export NNC_CACHE_DIR="${NNC_CACHE_DIR:-$WORK/nnc-cache}"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2
failed=0 steps=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
run() {
    local label=$1
    shift
    steps=$((steps + 1))
    "$@" >"$label.out" 2>"$label.err" && return 0
    fail "$label (exit $?): $*"
    sed 's/^/  | /' "$label.err" "$label.out" | tail -n 20
    return 1
}
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
    if [ -e "$WORK/refused" ]; then
        fail "$label: wrote $(ls -R "$WORK/refused" | tr '\n' ' ')"
        rm -rf "$WORK/refused"
    fi
}

for dir in "$DATA"/*/; do
    c=$(basename "$dir")
    [ -f "$dir/$c.onnx" ] || continue
    out="$WORK/$c"
    run "$c.import" "$NNC" import "$dir/$c.onnx" -o "$out" || continue
    steps=$((steps + 1))
    if ! diff -u "$dir/expected.nnet" "$out/$c.nnet" >"$c.diff"; then
        fail "$c: the imported $c.nnet differs from expected.nnet"
        head -n 40 "$c.diff" | sed 's/^/  | /'
    fi
    w=()
    [ -f "$out/$c.safetensors" ] && w=(--weights "$out/$c.safetensors")
    run "$c.build" "$NNC" build "$out/$c.nnet" -o "$out/prog" "${w[@]}" || continue
    run "$c.infer" sh -c "'$out/prog' infer < '$dir/input.csv' > '$out/got.csv'" || continue
    run "$c.cmp" "$CMP" csv "$dir/expected.csv" "$out/got.csv" --abs 1e-4 --rel 1e-4
done

bad="$DATA/bad"
refuse op "node 'nz1' \(NonZero\): operator NonZero is not supported" \
    "$NNC" import "$bad/unsupported_op.onnx" -o "$WORK/refused"
refuse attr "node 'sm' \(Softmax\): attribute 'foo' is not supported" \
    "$NNC" import "$bad/unsupported_attr.onnx" -o "$WORK/refused"
refuse dynamic "graph input 'x': dimension 1 is the symbol 'seq'" \
    "$NNC" import "$bad/dynamic.onnx" -o "$WORK/refused"
refuse lstm_clip "node 'rnn1' \(LSTM\): attribute 'clip' is not supported" \
    "$NNC" import "$bad/lstm_clip.onnx" -o "$WORK/refused"
refuse gru_lbr0 "node 'rnn1' \(GRU\): attribute 'linear_before_reset' = 0" \
    "$NNC" import "$bad/gru_lbr0.onnx" -o "$WORK/refused"
refuse batch_moved "graph output 'y' does not have the batch first" \
    "$NNC" import "$bad/batch_moved.onnx" -o "$WORK/refused"
head -c 300 "$DATA/mlp/mlp.onnx" >truncated.onnx
refuse truncated "truncated.onnx: error: at byte [0-9]+: not a valid ONNX model" \
    "$NNC" import truncated.onnx -o "$WORK/refused"
printf '\377\377\377\377garbage' >garbage.onnx
refuse garbage "garbage.onnx: error: at byte 0: not a valid ONNX model" \
    "$NNC" import garbage.onnx -o "$WORK/refused"
: >empty.onnx
refuse empty "empty.onnx: error: .*not an ONNX model" "$NNC" import empty.onnx -o "$WORK/refused"
refuse missing "nnc: error: .*nothing.onnx" "$NNC" import "$WORK/nothing.onnx" -o "$WORK/refused"

# Operators lowered at import whose ONNX form reaches over the batch (a
# loss reduced to one number, an index along dimension 0): refused, naming
# the node, from Debian's libonnx-testdata models when installed.
node=/usr/share/libonnx-testdata/data/node
if [ -d "$node" ]; then
    refuse sce_mean "node 0 \(SoftmaxCrossEntropyLoss\): reduction 'mean' reduces over the batch" \
        "$NNC" import "$node/test_sce_mean/model.onnx" -o "$WORK/refused"
    refuse nll_sum "node 0 \(NegativeLogLikelihoodLoss\): reduction 'sum' reduces over the batch" \
        "$NNC" import "$node/test_nllloss_NCd1d2_reduction_sum/model.onnx" -o "$WORK/refused"
    refuse argmax_batch "node 0 \(ArgMax\): axis 0 is the batch dimension" \
        "$NNC" import "$node/test_argmax_default_axis_example/model.onnx" -o "$WORK/refused"
    refuse gather_elements_batch "node 0 \(GatherElements\): axis 0 is the batch dimension" \
        "$NNC" import "$node/test_gather_elements_1/model.onnx" -o "$WORK/refused"
fi

echo "$((steps - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
