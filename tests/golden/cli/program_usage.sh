# Command lines of a built program: wrong usage is exit 2 with a usage
# message; bad weights or data files are exit 1 with a diagnostic.
cat > "$WORK_CASE/tiny.nnet" <<'NNET'
model tiny {
    input [2]
    linear(2, 2)
}
train tiny {
    data      = csv("tiny.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.1)
    seed      = 1
}
NNET
printf '0,1,1\n1,0,0\n1,1,1\n0,0,0\n' > "$WORK_CASE/tiny.csv"
"$NNC" build "$WORK_CASE/tiny.nnet" -o "$WORK_CASE/tiny" || exit 1
P="$WORK_CASE/tiny"

run "$P"
run "$P" frobnicate
run "$P" infer --frobnicate
run "$P" train --epochs abc
run "$P" train --epochs
run "$P" train --lr fast
run "$P" train --batch -3
run "$P" eval --weights
run "$P" --help
run "$P" train --epochs 2 --save "$WORK_CASE/w.safetensors"
run "$P" eval --weights "$WORK_CASE/w.safetensors"
printf 'garbage' > "$WORK_CASE/bad.safetensors"
run "$P" infer --weights "$WORK_CASE/bad.safetensors"
run "$P" eval --weights "$WORK_CASE/missing.safetensors"
# st FILE HEADER NBYTES: a safetensors file (header shorter than 256 bytes), zero data
st() { printf "\\$(printf '%03o' ${#2})\0\0\0\0\0\0\0%s" "$2" >"$1"; head -c "$3" /dev/zero >>"$1"; }
st "$WORK_CASE/nobias.safetensors" '{"0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' 16
run "$P" infer --weights "$WORK_CASE/nobias.safetensors"
run "$P" train --data "$WORK_CASE/missing.csv"
printf '0,1,1\n1,x,0\n' > "$WORK_CASE/bad.csv"
run "$P" eval --data "$WORK_CASE/bad.csv"
printf '0,1,1\n1,0\n' > "$WORK_CASE/short.csv"
run "$P" train --data "$WORK_CASE/short.csv"
printf '0,1,7\n' > "$WORK_CASE/label.csv"
run "$P" eval --data "$WORK_CASE/label.csv"
