#!/usr/bin/env bash
# run_bad.sh NNC CASE.expect WORK_DIR
#
# Runs one case of the bad-input corpus (tests/bad/cases, written by
# tests/bad/make_cases.py). CASE.expect holds `key: value` lines:
#   file:   the input file, next to the .expect
#   cmd:    check                 nnc check FILE
#           build                 nnc build FILE -o PROG
#           build-weights MODEL   nnc build bad/models/MODEL.nnet --weights FILE
#           infer-weights MODEL   PROG infer --weights FILE < bad/models/MODEL.in.csv
#           init MODEL            PROG train --init FILE --epochs 1
#           infer MODEL           PROG infer < FILE
#           eval MODEL            PROG eval --data FILE
#           train MODEL           PROG train --data FILE --epochs 1
#           eval-images MODEL     PROG eval --data FILE,MODEL-labels-idx1-ubyte
#           eval-labels MODEL     PROG eval --data MODEL-images-idx3-ubyte,FILE
#   status: the exit status wanted (1: bad input)
#   stderr: extended regex that standard error must match (optional)
#   stdout: extended regex that standard output must match (optional)
#   env:    VAR=VALUE for the command (optional)
# where PROG is `nnc build bad/models/MODEL.nnet` (built once per WORK_DIR/..).
# The regexes are matched against the whole stream (grep -Ez). A signal, a
# sanitizer report or an internal error fails the case whatever the status.
# Exit 0 when the case passes, 1 when it fails, 2 for wrong usage.
set -u
if [ $# -ne 3 ]; then
    echo "usage: run_bad.sh NNC CASE.expect WORK_DIR" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
EXP=$(abspath "$2")
WORK=$(abspath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
MODELS=$HERE/bad/models
CASES=$(dirname "$EXP")
NAME=$(basename "$EXP" .expect)
[ -x "$NNC" ] || { echo "run_bad: $NNC is not an executable" >&2; exit 2; }
[ -f "$EXP" ] || { echo "run_bad: $EXP not found" >&2; exit 2; }

file= cmd= status= re_err= re_out= envs=()
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        '#'*|'') ;;
        file:*) file=${line#file: } ;;
        cmd:*) cmd=${line#cmd: } ;;
        status:*) status=${line#status: } ;;
        stderr:*) re_err=${line#stderr: } ;;
        stdout:*) re_out=${line#stdout: } ;;
        env:*) envs+=("${line#env: }") ;;
        *) echo "run_bad: $EXP: bad line: $line" >&2; exit 2 ;;
    esac
done <"$EXP"
[ -n "$file" ] && [ -n "$cmd" ] && [ -n "$status" ] || { echo "run_bad: $EXP: needs file, cmd and status" >&2; exit 2; }
FILE=$CASES/$file
[ -f "$FILE" ] || { echo "run_bad: $FILE not found" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
cp "$FILE" "$WORK/$file"
cd "$WORK" || exit 2
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout "${NNC_BAD_TIMEOUT:-120}")

# prog MODEL: builds bad/models/MODEL.nnet once (atomically, so parallel
# cases can share it) into WORK/../_progs/MODEL, again when nnc (and so the
# runtime it embeds) or the model is newer; prints its path.
prog() {
    local dir=$WORK/../_progs p
    mkdir -p "$dir"
    p=$dir/$1
    if [ ! -x "$p" ] || [ "$NNC" -nt "$p" ] || [ "$MODELS/$1.nnet" -nt "$p" ]; then
        "${TIMEOUT[@]}" "$NNC" build "$MODELS/$1.nnet" -o "$p.$$" >"$WORK/build.log" 2>&1 &&
            mv -f "$p.$$" "$p" || { echo "FAIL [$NAME]: cannot build $1.nnet:"; sed 's/^/  | /' "$WORK/build.log"; exit 1; }
    fi
    printf '%s\n' "$p"
}

set -- $cmd
in=/dev/null
case "$1" in
    check) argv=("$NNC" check "$file") ;;
    build) argv=("$NNC" build "$file" -o prog) ;;
    build-weights) argv=("$NNC" build "$MODELS/$2.nnet" --weights "$file" -o prog) ;;
    infer-weights) P=$(prog "$2") || exit 1; argv=("$P" infer --weights "$file"); in=$MODELS/$2.in.csv ;;
    init) P=$(prog "$2") || exit 1; argv=("$P" train --init "$file" --epochs 1) ;;
    infer) P=$(prog "$2") || exit 1; argv=("$P" infer); in=$file ;;
    eval) P=$(prog "$2") || exit 1; argv=("$P" eval --data "$file") ;;
    train) P=$(prog "$2") || exit 1; argv=("$P" train --data "$file" --epochs 1) ;;
    eval-images) P=$(prog "$2") || exit 1; argv=("$P" eval --data "$file,$MODELS/$2-labels-idx1-ubyte") ;;
    eval-labels) P=$(prog "$2") || exit 1; argv=("$P" eval --data "$MODELS/$2-images-idx3-ubyte,$file") ;;
    *) echo "run_bad: $EXP: unknown cmd '$cmd'" >&2; exit 2 ;;
esac

env ${envs[@]+"${envs[@]}"} "${TIMEOUT[@]}" "${argv[@]}" <"$in" >out.txt 2>err.txt
rc=$?
why=()
[ "$rc" -ge 124 ] && why+=("killed by a signal or timed out (exit $rc)")
[ "$rc" = "$status" ] || why+=("exit status $rc, expected $status")
grep -aEq 'AddressSanitizer|LeakSanitizer|runtime error:|internal error' err.txt &&
    why+=("sanitizer report or internal error")
[ -z "$re_err" ] || grep -aEzq -- "$re_err" err.txt || why+=("standard error does not match /$re_err/")
[ -z "$re_out" ] || grep -aEzq -- "$re_out" out.txt || why+=("standard output does not match /$re_out/")
if [ "$status" = 1 ] && [ ! -s err.txt ]; then why+=("no diagnostic"); fi
if [ ${#why[@]} -eq 0 ]; then
    exit 0
fi
echo "FAIL [$NAME]: ${why[*]}"
echo "  in $WORK: ${argv[*]} <$in"
head -c 2000 err.txt | sed 's/^/  stderr| /'
head -c 600 out.txt | sed 's/^/  stdout| /'
exit 1
