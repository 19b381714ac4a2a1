# Weight tying (LANGUAGE.md §8) through every loader: PyTorch .pth files of a
# tied state_dict (one storage under both names), one with only the owner's
# name, one whose second name holds other values (refused, at build and at
# run time); the saved file has both names; --resume stays bit-exact.
D=../../data/tie
F=../../fixtures/infer/tie_lm_head
cp "$F/model.nnet" "$WORK_CASE/tied.nnet"
cat >> "$WORK_CASE/tied.nnet" <<'NNET'
train net {
    data      = text("tokens.txt", 6)
    loss      = cross_entropy
    optimizer = adam(lr = 0.01)
    epochs    = 2
    batch     = 2
    seed      = 3
}
NNET
printf '\1\2\3\4\5\6\7\10\11\12\0\1\2\3\4\5\6\7\10\11\12\0\3\5\7\11\1\4\6\10\12' > "$WORK_CASE/tokens.txt"
P="$WORK_CASE/tied"
run "$NNC" build "$WORK_CASE/tied.nnet" -o "$P" --weights "$D/tied.pth"
head -n 2 "$F/input.csv" > "$WORK_CASE/in.csv"
"$P" infer < "$WORK_CASE/in.csv" > "$WORK_CASE/a.csv"
"$P" infer --weights "$D/owner.pth" < "$WORK_CASE/in.csv" > "$WORK_CASE/b.csv"
cmp -s "$WORK_CASE/a.csv" "$WORK_CASE/b.csv" && echo "owner.pth and tied.pth give the same outputs"
run "$P" infer --weights "$D/differ.pth"
run "$NNC" build "$WORK_CASE/tied.nnet" -o "$P" --weights "$D/differ.pth"
run "$NNC" build "$WORK_CASE/tied.nnet" -o "$P"
run "$P" train --save "$WORK_CASE/full.safetensors"
"$P" train --epochs 1 --checkpoint "$WORK_CASE/ck.safetensors" > /dev/null
run "$P" train --resume "$WORK_CASE/ck.safetensors" --save "$WORK_CASE/resumed.safetensors"
cmp -s "$WORK_CASE/full.safetensors" "$WORK_CASE/resumed.safetensors" && echo "resumed run: the same file, bit for bit"
grep -ao '"[a-z_]*\.[a-z_]*"' "$WORK_CASE/full.safetensors" | tr '\n' ' '; echo
run "$P" infer --weights "$WORK_CASE/full.safetensors"
