# bce takes probabilities: PyTorch refuses an input outside [0, 1]. A model
# that does not end in sigmoid, evaluated or validated with bce, is exit 1
# naming the sample and the value; training stops on the nan loss with a
# hint. The same model with bce_with_logits, or ending in sigmoid, is fine.
cat > "$WORK_CASE/logits.nnet" <<'NNET'
model logits {
    input [2]
    linear(2, 1, weight = [[3.0, -2.0]], bias = [0.5])
}
train logits {
    data      = csv("bin.csv", targets = 1)
    loss      = bce
    optimizer = sgd(lr = 0.1)
    shuffle   = false
}
NNET
sed -e 's/logits/probs/g' -e 's/bias = \[0.5\])/bias = [0.5])\n    sigmoid/' \
    "$WORK_CASE/logits.nnet" > "$WORK_CASE/probs.nnet"
printf '0,0,1\n1,0,1\n0,1,0\n1,1,1\n' > "$WORK_CASE/bin.csv"
"$NNC" build "$WORK_CASE/logits.nnet" -o "$WORK_CASE/logits" || exit 1
"$NNC" build "$WORK_CASE/probs.nnet" -o "$WORK_CASE/probs" || exit 1

run "$WORK_CASE/logits" eval
run "$WORK_CASE/logits" train --save "$WORK_CASE/w.safetensors"
run "$WORK_CASE/logits" eval --loss bce_with_logits
run "$WORK_CASE/probs" eval
run "$WORK_CASE/probs" train --validation "$WORK_CASE/bin.csv"
