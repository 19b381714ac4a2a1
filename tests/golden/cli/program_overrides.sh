# Overrides of the train block's loss, optimizer, shuffle, strict and freeze
# in a built program: a bad value is exit 2 with a usage message (a freeze
# of every layer with parameters too); adam's betas = [b1, b2]; a loss
# that does not fit the data or the model, and a batch norm that would
# train on one value per channel, are exit 1 before training.
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
    optimizer = sgd(lr = 0.1)
    seed      = 1
    freeze    = ["fc"]
}
NNET
printf '0,1,1\n1,0,0\n1,1,1\n0,0,0\n' > "$WORK_CASE/net.csv"
"$NNC" build "$WORK_CASE/net.nnet" -o "$WORK_CASE/net" || exit 1
P="$WORK_CASE/net"

run "$P" train --loss hinge
run "$P" train --loss
run "$P" train --shuffle maybe
run "$P" train --strict 2
run "$P" train --optimizer 'sdg(lr = 0.1)'
run "$P" train --optimizer 'sgd()'
run "$P" train --optimizer 'sgd(lr = 0.1, beta1 = 0.9)'
run "$P" train --optimizer 'adam(lr = 0.1'
run "$P" train --optimizer 'adam(lr = 0.1) x'
run "$P" train --optimizer 'adam(lr = fast)'
run "$P" train --optimizer 'adam(lr = 0.1, lr = 0.2)'
run "$P" train --optimizer 'adam(lr = 0.1, 0.9)'
run "$P" train --optimizer 'adam(beta1 = 1.5)'
run "$P" train --optimizer 'sgd(lr = 0.1, momentum = -0.5)'
run "$P" train --optimizer 'adam(eps = -1)'
run "$P" train --optimizer 'adamw(weight_decay = -0.01)'
run "$P" train --optimizer 'sgd(lr = -1)'
run "$P" train --optimizer 'sgd(lr = 0.1, nesterov = true)'
run "$P" train --optimizer 'sgd(lr = 0.1, nesterov = 1)'
run "$P" train --freeze fc9
run "$P" train --freeze 5
run "$P" train --freeze 'fc,,2'
run "$P" infer --freeze fc
run "$P" bench --loss mse
run "$P" train --loss mse
run "$P" eval --loss bce
run "$P" train --epochs 2 --freeze '' --shuffle false --strict true --loss nll \
    --optimizer 'adamw(lr = 0.01)' --lr 0.02
# freezing every layer with parameters leaves nothing to train: an error
run "$P" train --freeze 'fc, 2' --shuffle 0 --strict 1 --optimizer adam
run "$P" train --freeze 2 --shuffle 0 --strict 1 --optimizer 'adam(betas = [0.8, 0.99])'
run "$P" train --optimizer 'adam(betas = [0.8])'
run "$P" train --optimizer 'adam(beta1 = 0.8, betas = (0.8, 0.99))'
run "$P" train --optimizer 'sgd(lr = 0.1, betas = [0.8, 0.99])'

# cross_entropy and nll need one vector of class scores per sample.
cat > "$WORK_CASE/grid.nnet" <<'NNET'
model grid {
    input [2, 2]
    relu
    softmax
}
train grid {
    data      = csv("grid.csv", targets = 4)
    loss      = mse
    optimizer = sgd(lr = 0.1)
}
NNET
printf '1,2,3,4,0,0,0,1\n' > "$WORK_CASE/grid.csv"
"$NNC" build "$WORK_CASE/grid.nnet" -o "$WORK_CASE/grid" || exit 1
run "$WORK_CASE/grid" train --loss cross_entropy
run "$WORK_CASE/grid" eval --loss nll
cat > "$WORK_CASE/soft.nnet" <<'NNET'
model soft {
    input [2]
    linear(2, 2)
    softmax
    dropout(0.0)
}
train soft {
    data      = csv("net.csv", label = -1)
    loss      = nll
    optimizer = sgd(lr = 0.1)
}
NNET
"$NNC" build "$WORK_CASE/soft.nnet" -o "$WORK_CASE/soft" 2>/dev/null || exit 1
run "$WORK_CASE/soft" train --loss cross_entropy

# batch norm on one value per channel: PyTorch refuses a batch of one row.
cat > "$WORK_CASE/bn.nnet" <<'NNET'
model bn {
    input [2]
    linear(2, 3)
    norm = batchnorm1d(3)
    linear(3, 2)
}
train bn {
    data      = csv("bn.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.1)
    batch     = 2
}
NNET
printf '0,1,1\n1,0,0\n1,1,1\n0,0,0\n1,2,1\n' > "$WORK_CASE/bn.csv"
"$NNC" build "$WORK_CASE/bn.nnet" -o "$WORK_CASE/bn" || exit 1
run "$WORK_CASE/bn" train
run "$WORK_CASE/bn" train --batch 1
run "$WORK_CASE/bn" train --batch 3
run "$WORK_CASE/bn" train --epochs 0
printf '0,1,1\n' > "$WORK_CASE/one.csv"
run "$WORK_CASE/bn" train --data "$WORK_CASE/one.csv"
cat > "$WORK_CASE/bnl.nnet" <<'NNET'
model bnl {
    input [3, 2]
    batchnorm1d(3)
    flatten
    linear(6, 2)
}
train bnl {
    data      = csv("bnl.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.1)
    batch     = 1
}
NNET
printf '0,1,1,0,2,1,1\n1,0,0,1,1,2,0\n' > "$WORK_CASE/bnl.csv"
"$NNC" build "$WORK_CASE/bnl.nnet" -o "$WORK_CASE/bnl" || exit 1
run "$WORK_CASE/bnl" train
