# A train block with data and a loss but no optimizer builds: the program
# evaluates the loss (eval needs no optimizer) and refuses to train, saying
# what is missing (exit 1).
cat > "$WORK_CASE/noopt.nnet" <<'NNET'
model noopt {
    input [2]
    linear(2, 1, weight = [[3.0, -2.0]], bias = [0.5])
}
train noopt {
    data = csv("reg.csv", targets = 1)
    loss = mse
}
NNET
printf '0,0,1\n1,0,2\n0,1,0\n1,1,1\n' > "$WORK_CASE/reg.csv"
"$NNC" build "$WORK_CASE/noopt.nnet" -o "$WORK_CASE/noopt" || exit 1

run "$WORK_CASE/noopt" eval
run "$WORK_CASE/noopt" train
# By hand: y = 3a - 2b + 0.5 gives errors -0.5, 1.5, -1.5, 0.5: mse 5/4.
echo "eval prints: $("$WORK_CASE/noopt" eval)"
