#!/usr/bin/env bash
# run_mnist_example.sh NNC SRC_DIR WORK — examples/mnist_cnn.nnet's train
# block on small IDX files this test writes (no download): 40 training and
# 20 validation images whose class k is a bright 6x6 square at a place of
# its own; get-mnist.sh --from copies and size-checks files (here it must
# refuse these, which are not MNIST's size); three epochs must lower the
# training loss; `train` of a model without a train block says how to add one.
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work/data/mnist"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cp "$src/examples/mnist_cnn.nnet" .
python3 - <<'PY'
import random, struct
random.seed(5)
def write(prefix, n):
    imgs, labels = bytearray(), bytearray()
    for i in range(n):
        k = i % 10
        px = bytearray(random.randrange(0, 40) for _ in range(28 * 28))
        r, c = 2 + (k // 5) * 12, 1 + (k % 5) * 5
        for y in range(r, r + 6):
            for x in range(c, c + 6):
                px[y * 28 + x] = 255
        imgs += px
        labels.append(k)
    open(f"data/mnist/{prefix}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + imgs)
    open(f"data/mnist/{prefix}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + labels)
write("train", 40)
write("t10k", 20)
PY
if bash "$src/scripts/get-mnist.sh" copied --from data/mnist > get.log 2>&1; then
    fail "get-mnist.sh accepted files of the wrong size"
fi
grep -q "bytes, expected 47040016" get.log || fail "get-mnist.sh: no size message"
"$nnc" build mnist_cnn.nnet -o mnist --portable
./mnist train --epochs 3 --batch 8 > train.log
cat train.log
awk '/train_loss=/ { for (i = 1; i <= NF; i++) if ($i ~ /^train_loss=/) { split($i, a, "="); l[++n] = a[2] } }
     END { if (n != 3) { print "FAIL: 3 epochs expected, saw " n; exit 1 }
           if (!(l[3] < l[1])) { print "FAIL: the loss did not fall: " l[1] " -> " l[3]; exit 1 } }' train.log
[[ -s mnist_cnn.safetensors ]] || fail "save = \"mnist_cnn.safetensors\" wrote nothing"
# A model without a train block: the message says what to add.
"$nnc" build "$src/examples/chain.nnet" -o chain --portable
set +e
./chain train > /dev/null 2> hint.err
rc=$?
set -e
[[ $rc == 1 ]] || fail "train without a train block: exit 1 expected, got $rc"
grep -q "no train block" hint.err && grep -q "optimizer = " hint.err || { cat hint.err; fail "no hint"; }
echo "ok: mnist_cnn trains on IDX files"
