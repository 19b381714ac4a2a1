# adam's betas = [b1, b2] in the train block trains as beta1 = b1, beta2 =
# b2 (the same file, bit for bit; the defaults give another), and an init
# whose tensors do not fit the model is an error that says strict = false
# would keep the model's initialisation.
cat > "$WORK_CASE/net.nnet" <<'NNET'
model net {
    input [2]
    fc = linear(2, 3)
    relu
    linear(3, 2)
}
train net {
    data      = csv("net.csv", label = -1)
    loss      = cross_entropy
    optimizer = adam(lr = 0.1, betas = [0.8, 0.99])
    epochs    = 3
    seed      = 1
}
NNET
sed 's/linear(2, 3)/linear(2, 4)/; s/linear(3, 2)/linear(4, 2)/' "$WORK_CASE/net.nnet" > "$WORK_CASE/wide.nnet"
printf '0,1,1\n1,0,0\n1,1,1\n0,0,0\n' > "$WORK_CASE/net.csv"
"$NNC" build "$WORK_CASE/net.nnet" -o "$WORK_CASE/net" || exit 1
"$NNC" build "$WORK_CASE/wide.nnet" -o "$WORK_CASE/wide" || exit 1
P="$WORK_CASE/net"

run "$P" train --save "$WORK_CASE/betas.st"
run "$P" train --save "$WORK_CASE/b1b2.st" --optimizer 'adam(lr = 0.1, beta1 = 0.8, beta2 = 0.99)'
run "$P" train --save "$WORK_CASE/default.st" --optimizer 'adam(lr = 0.1)'
run cmp -s "$WORK_CASE/betas.st" "$WORK_CASE/b1b2.st"
run cmp -s "$WORK_CASE/betas.st" "$WORK_CASE/default.st"
run "$WORK_CASE/wide" train --init "$WORK_CASE/betas.st"
run "$WORK_CASE/wide" train --init "$WORK_CASE/betas.st" --strict false --epochs 1
