# nnc summary names every input of a model with several (§7), in declaration
# order, with its shape and `int` when it holds integers.
cat > "$WORK_CASE/two.nnet" <<'NNET'
model m {
    input idx [3] int
    input x [2]
    e = embedding(5, 2)
    forward { return flatten(e(idx)), x * 2 }
}
NNET
run "$NNC" summary "$WORK_CASE/two.nnet"
(cd "$WORK_CASE" && "$NNC" summary two.nnet | head -1)
