# Errors in the user's input are exit 1 (not 2), with a diagnostic.
run "$NNC" check does_not_exist.nnet
run "$NNC" build does_not_exist.nnet -o "$WORK_CASE/prog"
run "$NNC" ir ok.nnet --model nope
printf 'garbage' > "$WORK_CASE/bad.safetensors"
run "$NNC" build ok.nnet -o "$WORK_CASE/prog" --weights "$WORK_CASE/bad.safetensors"
# st FILE HEADER NBYTES: a safetensors file (header shorter than 256 bytes), zero data
st() { printf "\\$(printf '%03o' ${#2})\0\0\0\0\0\0\0%s" "$2" >"$1"; head -c "$3" /dev/zero >>"$1"; }
st "$WORK_CASE/shape.safetensors" '{"0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}' 20
run "$NNC" build ok.nnet -o "$WORK_CASE/prog" --weights "$WORK_CASE/shape.safetensors"
