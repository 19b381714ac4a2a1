#!/usr/bin/env bash
# run_cnn_examples.sh — the CNN examples of examples/ (LANGUAGE.md §7–§9) as
# tests, each checked against the fact it illustrates:
#
#   resnet18         torchvision's resnet18 state_dict (random initialisation,
#                    made by tests/pytorch/resnet18_check.py with Debian's
#                    python3-torchvision; skipped, exit 77, without it) loads
#                    strictly with `nnc build --weights`, and two images give
#                    PyTorch's 1000 logits at abs 1e-4 + rel 1e-4
#   digits_resnet    a small ResNet trained on the 8x8 digits: >= 97% test accuracy
#   unet             the U-Net-shaped encoder-decoder trains: its loss falls to
#                    under a third, and it classifies >= 90% of the test digits
#   mobilenet_block  the depthwise-separable blocks train: >= 90% test accuracy
#
#   usage: run_cnn_examples.sh NNC NNC_CMP WORK EXAMPLE
# Everything is written under WORK. Exit 0 when the example behaves, 1 when
# it does not, 77 when it cannot be checked here, 2 for wrong usage.
set -u
if [ $# -ne 4 ]; then
    echo "usage: run_cnn_examples.sh NNC NNC_CMP WORK EXAMPLE" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC="$(abspath "$1")" CMP="$(abspath "$2")" WORK="$(abspath "$3")" EX="$4"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/examples"
[ -f "$SRC/$EX.nnet" ] || { echo "run_cnn_examples: no example $EX" >&2; exit 2; }
rm -rf "$WORK"; mkdir -p "$WORK" || exit 2

fail() { echo "FAIL: $*"; exit 1; }
ok()   { echo "ok: $*"; }
build() { # OUT [nnc options]
    local out="$1"; shift
    "$NNC" build "$SRC/$EX.nnet" -o "$WORK/$out" "$@" >"$WORK/$out.build.log" 2>&1 ||
        { tail -n 20 "$WORK/$out.build.log"; fail "nnc build $EX.nnet $*"; }
}
# train_eval MIN_ACC: train (the example's own train block), then the test
# accuracy of the saved weights must reach MIN_ACC; sets $first, $last (losses).
train_eval() {
    build "$EX"
    (cd "$SRC" && "$WORK/$EX" train --save "$WORK/$EX.safetensors") >"$WORK/train.log" 2>&1 ||
        { tail "$WORK/train.log"; fail "$EX train"; }
    grep '^epoch' "$WORK/train.log" | sed -n '1p;$p'
    first=$(sed -n 's/^epoch *1\/.*train_loss=\([0-9.e+-]*\).*/\1/p' "$WORK/train.log")
    last=$(grep '^epoch' "$WORK/train.log" | tail -n 1 | sed 's/.*train_loss=\([0-9.e+-]*\).*/\1/')
    "$WORK/$EX" eval --data "$SRC/data/digits_test.csv" --weights "$WORK/$EX.safetensors" \
        >"$WORK/eval.txt" 2>&1 || { cat "$WORK/eval.txt"; fail "$EX eval"; }
    local acc; acc="$(sed -n 's/^accuracy=//p' "$WORK/eval.txt")"
    if [ -n "$acc" ] && awk -v a="$acc" -v m="$1" 'BEGIN { exit !(a >= m) }'; then
        ok "$EX test accuracy $acc >= $1"
    else fail "$EX test accuracy '$acc' < $1"; fi
}

case "$EX" in
resnet18)
    /usr/bin/python3 "$ROOT/tests/pytorch/resnet18_check.py" "$WORK" >"$WORK/torch.log" 2>&1
    rc=$?
    [ $rc -eq 77 ] && { cat "$WORK/torch.log"; echo "skipped: no torchvision"; exit 77; }
    [ $rc -eq 0 ] || { cat "$WORK/torch.log"; fail "resnet18_check.py"; }
    cat "$WORK/torch.log"
    build resnet18 --weights "$WORK/resnet18.pth"
    ok "torchvision's state_dict loaded strictly"
    "$WORK/resnet18" infer <"$WORK/images.csv" >"$WORK/got.csv" 2>"$WORK/infer.err" ||
        { cat "$WORK/infer.err"; fail "resnet18 infer"; }
    "$CMP" csv "$WORK/expected.csv" "$WORK/got.csv" --abs 1e-4 --rel 1e-4 ||
        fail "resnet18 differs from PyTorch"
    ok "resnet18 agrees with PyTorch on two images (abs 1e-4 + rel 1e-4)" ;;
digits_resnet)
    train_eval 0.97 ;;
unet)
    train_eval 0.90
    if awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 3) }'; then
        ok "unet train loss $first -> $last"
    else fail "unet train loss $first -> $last did not fall to a third"; fi ;;
mobilenet_block)
    train_eval 0.90 ;;
*)
    echo "run_cnn_examples: no test for example $EX" >&2; exit 2 ;;
esac
exit 0
