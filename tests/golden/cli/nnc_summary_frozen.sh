# nnc summary counts the parameters of frozen layers apart from the trainable
# ones: linear(2, 3) frozen is 2*3 + 3 = 9, linear(3, 1) trainable 3 + 1 = 4.
cat > "$WORK_CASE/fz.nnet" <<'NNET'
model m {
    input [2]
    linear(2, 3)
    relu
    linear(3, 1)
}
train m {
    data = csv("reg.csv", targets = 1)
    loss = mse
    optimizer = sgd(lr = 0.1)
    freeze = [0]
}
NNET
run "$NNC" summary "$WORK_CASE/fz.nnet"
"$NNC" summary "$WORK_CASE/fz.nnet" | grep "^total"
