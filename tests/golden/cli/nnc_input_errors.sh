# Errors in the user's input are exit 1 (not 2), with a diagnostic.
run "$NNC" check does_not_exist.nnet
run "$NNC" build does_not_exist.nnet -o "$WORK_CASE/prog"
run "$NNC" ir ok.nnet --model nope
printf 'garbage' > "$WORK_CASE/bad.safetensors"
run "$NNC" build ok.nnet -o "$WORK_CASE/prog" --weights "$WORK_CASE/bad.safetensors"
