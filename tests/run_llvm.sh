#!/usr/bin/env bash
# run_llvm.sh NNC WORK MODEL.nnet [INPUT.csv [WEIGHTS.safetensors]]
#
# The LLVM backend (--backend=llvm) against the C backend, for one model:
#
#   emit     `nnc emit --backend=llvm` twice (two folders, the same command
#            line): the outputs are byte-identical; NAME.ll passes
#            llvm-as-14 and `opt-14 -verify`, and `clang-14 -c` compiles it
#            (each when the tool exists); the signature of every function
#            and array the .ll defines or declares is the one clang-14 reads
#            in nnr.h and NAME.h (the ABI the C side links against).
#   infer    the programs built by both backends print byte-identical
#            `infer` output for INPUT (default: rows made up here), with the
#            parameters of the default initialisation; with WEIGHTS, also
#            built with --weights, and run with `infer --weights`.
#   train    when the model has a train block whose data is in its folder
#            (the programs run in a copy of it): `train --epochs 1` saves
#            byte-identical weights (each backend's own training step, from
#            the one training graph). With NNC_LLVM_TRAIN_REQUIRED=1 the
#            train block must run and NAME.ll must define the step.
#
# Runs in WORK (emptied first). Exit 0 when every step passes, 1 otherwise,
# 2 for wrong usage.
set -u

if [ $# -lt 3 ] || [ $# -gt 5 ]; then
    echo "usage: run_llvm.sh NNC WORK MODEL.nnet [INPUT.csv [WEIGHTS.safetensors]]" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
WORK=$(abspath "$2")
MODEL=$(abspath "$3")
INPUT=${4:+$(abspath "$4")}
WEIGHTS=${5:+$(abspath "$5")}
[ -x "$NNC" ] || { echo "run_llvm: $NNC is not an executable" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "run_llvm: $MODEL not found" >&2; exit 2; }
case "$WORK" in /|"$(dirname "$MODEL")") echo "run_llvm: refusing work dir $WORK" >&2; exit 2 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK/a" "$WORK/b" || exit 2
cd "$WORK" || exit 2

failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
tool() { command -v "$1" >/dev/null 2>&1; }

# ---- emit: deterministic, valid IR, the ABI of the headers
(cd a && "$NNC" emit "$MODEL" -o out --backend=llvm) >emit.log 2>&1 || { fail "nnc emit --backend=llvm"; cat emit.log; exit 1; }
(cd b && "$NNC" emit "$MODEL" -o out --backend=llvm) >>emit.log 2>&1 || { fail "nnc emit --backend=llvm (2nd)"; cat emit.log; exit 1; }
if diff -r a/out b/out >emit.diff; then ok "emit is deterministic"; else fail "two emits differ"; head -n 20 emit.diff; fi
LL=$(ls a/out/*.ll)
NAME=$(basename "$LL" .ll)
[ -f "a/out/$NAME.h" ] || fail "emit wrote no $NAME.h beside $NAME.ll"
if tool llvm-as-14; then
    if llvm-as-14 "$LL" -o ll.bc 2>llvm-as.err; then ok "llvm-as-14"; else fail "llvm-as-14 rejects $NAME.ll"; head llvm-as.err; fi
fi
if tool opt-14; then
    if opt-14 -verify -S "$LL" -o /dev/null 2>opt.err; then ok "opt-14 -verify"; else fail "opt-14 -verify"; head opt.err; fi
fi
if tool clang-14; then
    if clang-14 -c -O2 "$LL" -o ll.o 2>clang.err; then ok "clang-14 -c"; else fail "clang-14 -c $NAME.ll"; head clang.err; fi
    # every global of the .ll, as clang-14 declares it from the C headers
    syms=$(grep -v '@llvm\.' "$LL" | grep -oE '^(declare|define) [^@]*@[A-Za-z0-9_]+|^@[A-Za-z0-9_]+ = (external )?constant' |
           grep -oE '@[A-Za-z0-9_]+' | sed 's/@//' | sort -u)
    {
        echo '#include <stdlib.h>'; echo '#include "nnr.h"'; echo "#include \"$NAME.h\""
        echo 'const void *nnc_refs[] = {'
        for s in $syms; do echo "    (const void *)$s,"; done
        echo '};'
    } >sig.c
    # "RET @NAME(TYPES)" and "@NAME = constant TYPE", without attributes or names
    norm() {
        sed -E -n -e 's/^(declare|define) (dso_local )?([^@]*)@([A-Za-z0-9_]+)\((.*)\).*$/\3@\4(\5)/p' \
                  -e 's/^@([A-Za-z0-9_]+) = (external )?(dso_local )?constant (\[[0-9]+ x float\]).*$/@\1 = \4/p' "$1" |
            sed -E 's/ (noundef|nonnull|nocapture|readonly|writeonly|noalias)//g; s/ %[A-Za-z0-9_.]+([,)])/\1/g' |
            grep -v '@llvm\.' | sort -u
    }
    if clang-14 -S -emit-llvm -O0 -w -I a/out sig.c -o sig.ll 2>sig.err; then
        norm sig.ll >sig.want
        norm "$LL" >sig.got
        if [ -s sig.got ] && diff sig.want sig.got >sig.diff; then
            ok "signatures agree with nnr.h and $NAME.h ($(wc -l <sig.got) symbols)"
        else
            fail "signatures of $NAME.ll differ from the C headers (want, got):"; head -n 20 sig.diff
        fi
    else
        fail "clang-14 cannot compile the signature check"; head sig.err
    fi
fi

# ---- infer: byte-identical output of the two backends' programs
build() { # OUT [options]
    local out=$1; shift
    if ! "$NNC" build "$MODEL" -o "$out" "$@" >"$out.build.log" 2>&1; then
        fail "nnc build -o $out $*"; tail -n 20 "$out.build.log"; return 1
    fi
}
if [ -z "$INPUT" ]; then   # eight made-up rows of the input size (tokens 0 and 1 for an int input)
    insize=$(sed -n -E 's/^#define [A-Z0-9_]+_IN_SIZE ([0-9]+).*/\1/p' "a/out/$NAME.h")
    isint=$(grep -cE '^[[:space:]]*input .*\][[:space:]]*int' "$MODEL")
    awk -v n="$insize" -v isint="$isint" 'BEGIN { for (r = 0; r < 8; r++) { for (i = 0; i < n; i++)
        if (isint) printf "%s%d", (i ? "," : ""), (r + i * i) % 2
        else printf "%s%.4f", (i ? "," : ""), sin(1.7 * r + 0.37 * i) * (1 + r % 3); print "" } }' >input.csv
    INPUT=$WORK/input.csv
fi
compare() { # LABEL PROG_C PROG_LLVM [infer options]
    local label=$1 pc=$2 pl=$3; shift 3
    if ! ./"$pc" infer "$@" <"$INPUT" >"$pc.out" 2>"$pc.err"; then fail "$label: C program"; head "$pc.err"; return; fi
    if ! ./"$pl" infer "$@" <"$INPUT" >"$pl.out" 2>"$pl.err"; then fail "$label: LLVM program"; head "$pl.err"; return; fi
    if [ -s "$pc.out" ] && cmp -s "$pc.out" "$pl.out"; then ok "$label: infer output identical ($(wc -l <"$pc.out") rows)"
    else fail "$label: infer outputs differ"; diff "$pc.out" "$pl.out" | head -n 6; fi
}
if build prog_c && build prog_llvm --backend=llvm; then
    compare "default parameters" prog_c prog_llvm
    [ -n "$WEIGHTS" ] && compare "infer --weights" prog_c prog_llvm --weights "$WEIGHTS"
    # a train block whose data ships (mnist_cnn's IDX files are fetched by
    # scripts/get-mnist.sh, so they are absent in a clone): the programs
    # train in a copy of the model's folder, where its data paths lead
    if grep -q '^train ' "$MODEL"; then
        mkdir -p run && cp -R "$(dirname "$MODEL")/." run/ || fail "copying the model's folder"
        if (cd run && ../prog_c train --epochs 0 >/dev/null 2>&1); then
            for p in prog_c prog_llvm; do
                (cd run && ../$p train --epochs 1 --save "../$p.safetensors") >"$p.train.out" 2>&1 ||
                    { fail "$p train"; tail -n 5 "$p.train.out"; }
            done
            if [ -s prog_c.safetensors ] && cmp -s prog_c.safetensors prog_llvm.safetensors; then
                ok "train --epochs 1: identical weights ($(wc -c <prog_c.safetensors) bytes)"
            else
                fail "train --epochs 1: the saved weights differ"
            fi
            if [ "${NNC_LLVM_TRAIN_REQUIRED:-0}" = 1 ] && ! grep -q 'define .*_train_step(' "$LL"; then
                fail "$NAME.ll defines no training step"
            fi
        elif [ "${NNC_LLVM_TRAIN_REQUIRED:-0}" = 1 ]; then
            fail "the model's train block cannot run here"; (cd run && ../prog_c train --epochs 0 2>&1 | tail -n 3)
        fi
    fi
fi
if [ -n "$WEIGHTS" ] && build wprog_c --weights "$WEIGHTS" && build wprog_llvm --weights "$WEIGHTS" --backend=llvm; then
    compare "--weights compiled in" wprog_c wprog_llvm
fi
if build o0prog_c -O0 && build o0prog_llvm -O0 --backend=llvm; then
    compare "-O0" o0prog_c o0prog_llvm
fi
exit $failed
