# A file of blocks alone passes `nnc check`, but build needs a model: exit 1.
run "$NNC" check blocks_only.nnet
run "$NNC" build blocks_only.nnet -o "$WORK_CASE/prog"
