# Wrong command lines of nnc: exit 2 and a usage message (LANGUAGE.md §6);
# --help and --version succeed. `run` is the helper of tests/run_golden.sh.
run "$NNC"
run "$NNC" frobnicate ok.nnet
run "$NNC" check --frobnicate ok.nnet
run "$NNC" check
run "$NNC" check ok.nnet other.nnet
run "$NNC" build ok.nnet
run "$NNC" emit ok.nnet
run "$NNC" build ok.nnet -o
run "$NNC" ir ok.nnet --model
run "$NNC" build ok.nnet -o prog --weights
run "$NNC" ir ok.nnet -O7
run "$NNC" check ok.nnet -O3
run "$NNC" build ok.nnet -o prog --backend=fortran
run "$NNC" --help
run "$NNC" --version
