#!/usr/bin/env bash
# run_mnist_example.sh NNC SRC_DIR WORK — examples/mnist_cnn.nnet's train
# block on small IDX files this test writes (no download): 40 training and
# 20 validation images whose class k is a bright 6x6 square at a place of
# its own; get-mnist.sh --from copies, size- and SHA-256-checks files (here
# it must refuse these, which are not MNIST's size, and files of MNIST's
# size that are not MNIST's bytes); three epochs must lower the
# training loss; `train` of a model without a train block says how to add one.
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work/data/mnist"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cp "$src/examples/mnist_cnn.nnet" .
# perl (perl-base is essential on Debian): a fixed LCG for the noise.
perl -e '
my $s = 5;
sub rnd { $s = ($s * 1103515245 + 12345) % 2147483648; return $s % 40 }
sub write_set {
    my ($prefix, $n) = @_;
    my ($imgs, $labels) = ("", "");
    for my $i (0 .. $n - 1) {
        my $k = $i % 10;
        my @px = map { rnd() } 1 .. 784;
        my ($r, $c) = (2 + int($k / 5) * 12, 1 + ($k % 5) * 5);
        for my $y ($r .. $r + 5) { $px[$y * 28 + $_] = 255 for $c .. $c + 5 }
        $imgs .= pack("C*", @px);
        $labels .= pack("C", $k);
    }
    open(my $f, ">", "data/mnist/$prefix-images-idx3-ubyte") or die; binmode $f;
    print $f pack("NNNN", 0x803, $n, 28, 28), $imgs; close $f;
    open($f, ">", "data/mnist/$prefix-labels-idx1-ubyte") or die; binmode $f;
    print $f pack("NN", 0x801, $n), $labels; close $f;
}
write_set("train", 40);
write_set("t10k", 20);
'
if bash "$src/scripts/get-mnist.sh" copied --from data/mnist > get.log 2>&1; then
    fail "get-mnist.sh accepted files of the wrong size"
fi
grep -q "bytes, expected 47040016" get.log || fail "get-mnist.sh: no size message"
mkdir -p sized
head -c 47040016 /dev/zero > sized/train-images-idx3-ubyte
if bash "$src/scripts/get-mnist.sh" copied2 --from sized > get2.log 2>&1; then
    fail "get-mnist.sh accepted zeros of MNIST's size"
fi
grep -q "train-images-idx3-ubyte: SHA-256 [0-9a-f]*, expected ba891046" get2.log ||
    fail "get-mnist.sh: no SHA-256 message: $(cat get2.log)"
[[ ! -e copied2/train-images-idx3-ubyte && ! -e copied2/train-images-idx3-ubyte.part ]] ||
    fail "get-mnist.sh kept a file that failed its check"
rm -rf sized copied2
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
