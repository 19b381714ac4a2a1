#!/usr/bin/env bash
# opt_checks.sh NNC TESTS_DIR CHECK — command-line checks of the pass
# pipeline that need the front end (registered by tests/opt.cmake):
#   chain3      `nnc ir` of three chained 4x4 linear layers: one linear node
#               at -O2, three at -O0; with ReLU between them three at both
#   roundtrip   for every fixture model at -O0 and -O2: `nnc ir` parses back
#               through `nnc opt --passes=` unchanged, and `nnc opt` of the
#               -O0 IR at -O2 gives the -O2 IR
#   train       for every example and training fixture with a train block:
#               `nnc ir --train` (the training graph) parses back through
#               `nnc opt --passes=` unchanged, and `nnc opt --passes=autodiff,
#               fuse-act` of the -O0 IR (the passes `nnc ir --train` runs)
#               gives the training graph of `nnc ir --train -O0` (models that
#               freeze nothing)
#   summary     `nnc summary` of the CNN fixture: a smaller arena after
#               planning than before, and the passes that changed the graph
#   cli         --passes / --disable-pass / --print-after misuse is an error
set -u
NNC=$1 T=$2 CHECK=$3
KINDS=${4:-}   # roundtrip: the fixture kinds to go through (default all)
fail=0
bad() { echo "FAIL: $*"; fail=1; }
count_linear() { "$NNC" ir "$1" "${@:2}" | grep -c '= linear '; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $CHECK in
chain3)
    F=$T/fixtures/infer
    [ "$(count_linear "$F/chain3_linear/model.nnet" -O2)" = 1 ] || bad "chain3_linear -O2: not one linear node"
    [ "$(count_linear "$F/chain3_linear/model.nnet")" = 1 ] || bad "chain3_linear default: not one linear node"
    [ "$(count_linear "$F/chain3_linear/model.nnet" -O0)" = 3 ] || bad "chain3_linear -O0: not three linear nodes"
    [ "$(count_linear "$F/chain3_relu/model.nnet" -O2)" = 3 ] || bad "chain3_relu -O2: not three linear nodes"
    [ "$(count_linear "$F/chain3_relu/model.nnet" -O0)" = 3 ] || bad "chain3_relu -O0: not three linear nodes"
    [ "$(count_linear "$F/chain3_linear/model.nnet" -O2 --disable-pass=fold-linear)" = 3 ] ||
        bad "--disable-pass=fold-linear still folds"
    "$NNC" ir "$F/chain3_linear/model.nnet" --print-after=fold-linear >/dev/null 2>"$tmp/log"
    grep -q 'fold-linear: 3 linear layers folded' "$tmp/log" || bad "--print-after=fold-linear gives no reason"
    ;;
roundtrip)
    # Each model's IR is printed once per level and reused (every nnc run
    # pays for loading the LLVM library).
    for m in $(for k in ${KINDS:-infer train eval}; do echo "$T/fixtures/$k"/*/model.nnet; done); do
        for O in -O0 -O2; do
            "$NNC" ir "$m" $O >"$tmp/a$O.nir" 2>/dev/null || continue 2  # models the front end refuses
            "$NNC" opt "$tmp/a$O.nir" --passes= --verify >"$tmp/b.nir" || { bad "$m $O: nnc opt refuses nnc ir's output"; continue; }
            cmp -s "$tmp/a$O.nir" "$tmp/b.nir" || bad "$m $O: print(parse(print(g))) != print(g)"
        done
        "$NNC" opt "$tmp/a-O0.nir" -O2 --verify >"$tmp/b.nir" && cmp -s "$tmp/b.nir" "$tmp/a-O2.nir" ||
            bad "$m: nnc opt -O2 of the -O0 IR differs from nnc ir -O2"
    done
    ;;
train)
    for m in "$T"/../examples/*.nnet "$T"/fixtures/train/*/model.nnet; do
        if ! "$NNC" ir --train "$m" >"$tmp/a.nir" 2>"$tmp/err"; then
            grep -q 'has no train block' "$tmp/err" || bad "$m: nnc ir --train fails: $(head -c 300 "$tmp/err")"
            continue
        fi
        grep -q '= backward %' "$tmp/a.nir" && grep -q '= update' "$tmp/a.nir" ||
            bad "$m: no backward or update node in the training graph"
        "$NNC" opt "$tmp/a.nir" --passes= --verify >"$tmp/b.nir" || { bad "$m: nnc opt refuses nnc ir --train's output"; continue; }
        cmp -s "$tmp/a.nir" "$tmp/b.nir" || bad "$m: training graph: print(parse(print(g))) != print(g)"
        grep -q ' frozen$' "$tmp/a.nir" && continue
        "$NNC" ir -O0 "$m" >"$tmp/c.nir" && "$NNC" ir --train -O0 "$m" >"$tmp/d.nir" &&
            "$NNC" opt "$tmp/c.nir" --passes=autodiff,fuse-act --verify >"$tmp/e.nir" || { bad "$m: --passes=autodiff fails"; continue; }
        cmp -s "$tmp/d.nir" "$tmp/e.nir" || bad "$m: --passes=autodiff,fuse-act differs from nnc ir --train -O0"
    done
    ;;
summary)
    "$NNC" summary "$T/fixtures/infer/mnist_cnn/model.nnet" >"$tmp/s" || bad "summary failed"
    read -r before after < <(sed -n 's/^arena per sample: \([0-9]*\) bytes before planning, \([0-9]*\) bytes after.*/\1 \2/p' "$tmp/s")
    [ -n "${before:-}" ] && [ "$after" -lt "$before" ] || bad "arena not smaller after planning: $(cat "$tmp/s")"
    grep -q '^passes that changed the graph: .*memplan' "$tmp/s" || bad "summary does not list the passes that changed the graph"
    ;;
cli)
    G=$T/golden/opt/fold_linear_chain3.nir
    "$NNC" opt "$G" --passes=fold-linear | grep -q 'fold-linear fold(0,1,2).weight' || bad "nnc opt --passes=fold-linear"
    "$NNC" opt "$G" --passes=no-such-pass >/dev/null 2>&1; [ $? = 1 ] || bad "unknown pass: not exit 1"
    "$NNC" opt "$G" --disable-pass=layout >/dev/null 2>&1; [ $? = 1 ] || bad "disabling a required pass: not exit 1"
    "$NNC" opt "$G" --print-after=all >/dev/null 2>"$tmp/log"
    [ "$(grep -c '^; IR after' "$tmp/log")" -ge 5 ] || bad "--print-after=all"
    "$NNC" opt "$G" --time-passes >/dev/null 2>"$tmp/log"
    grep -q '^pass fold-linear' "$tmp/log" || bad "--time-passes"
    printf 'model m\ninput [3]\n%%0 = relu %%in : [4]\noutput %%0\n' >"$tmp/bad.nir"
    "$NNC" opt "$tmp/bad.nir" >/dev/null 2>"$tmp/err"; [ $? = 1 ] || bad "bad IR: not exit 1"
    grep -q 'bad.nir:3:1: error' "$tmp/err" || bad "bad IR: no file:line:col diagnostic"
    # a training graph written by hand: a backward that reads another value's
    # gradient, and one that reads the graph input
    T0='model m\ninput [4]\nparam a.weight [4, 4]\nparam a.bias [4]\n%%0 = linear %%in in_features=4 out_features=4 bias=1 params=a.weight,a.bias : [4]\n%%1 = relu %%0 : [4]\n%%2 = loss %%1 : [4]\n%%3 = backward %%1, %%2 : []\n%%4 = grad_input %%3 slot=0 : [4]\n'
    printf "$T0"'%%5 = backward %%0, %%4 : []\n%%6 = update : []\noutput %%1\n' >"$tmp/t.nir"
    "$NNC" opt "$tmp/t.nir" --passes= --verify >"$tmp/out" || bad "a hand-written training graph is refused"
    printf "$T0"'%%5 = backward %%0, %%2 : []\n%%6 = update : []\noutput %%1\n' >"$tmp/t.nir"
    "$NNC" opt "$tmp/t.nir" --passes= >"$tmp/out" 2>"$tmp/err"; [ $? = 1 ] || bad "backward of another gradient: not exit 1"
    grep -q 'not a training step the autodiff pass makes' "$tmp/err" && [ ! -s "$tmp/out" ] ||
        bad "backward of another gradient: no diagnostic, or partial output"
    printf "$T0"'%%5 = backward %%in, %%4 : []\noutput %%1\n' >"$tmp/t.nir"
    "$NNC" opt "$tmp/t.nir" --passes= >/dev/null 2>"$tmp/err"; [ $? = 1 ] || bad "backward of the input: not exit 1"
    grep -q 't.nir:10:1: error: backward' "$tmp/err" || bad "backward of the input: no file:line:col diagnostic"
    ;;
*) echo "unknown check $CHECK" >&2; exit 2 ;;
esac
[ $fail = 0 ] && echo "PASS opt.$CHECK"
exit $fail
