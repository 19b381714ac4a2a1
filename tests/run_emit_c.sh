#!/usr/bin/env bash
# run_emit_c.sh NNC WORK SRCDIR MODEL.nnet [WEIGHTS.safetensors]
#
# The C that `nnc emit --with-loader` writes for one model, as a person
# would read it (issue 10 item 7); the model's own files are NAME.[ch] and
# NAME_load.[ch] (the rest are the runtime's sources, copied):
#
#   compile    every model .c, and for every model .h a file that includes
#              only it, compile with `cc -std=c11 -pedantic -Wall -Wextra
#              -Wmissing-prototypes -Werror -c` (every public function is
#              declared before it is defined; no warning anywhere).
#   paths      nnc is given absolute paths (the model, -o, --weights) and
#              runs in WORK: no emitted file names SRCDIR or WORK, and the
#              model file is named relative to WORK.
#   twice      the same command run again writes byte-identical files.
#   llvm       with an nnc built with LLVM, `--backend=llvm`'s NAME.ll and
#              NAME.h: no absolute path, NAME.h compiles alone, and twice
#              gives the same files.
#   noise      no model file holds a (void) cast or arithmetic with a
#              literal 0 ("+ 0u", "* 0;", "* 0u)", "+ 0)"): the entry points read
#              what they use from nnr_ctx, and nothing else is there to
#              be cast away.
#
# With WEIGHTS the model is emitted with --weights (the state block is
# compiled in too). Runs in WORK (emptied first). Exit 0 when every check
# passes, 1 otherwise, 2 for wrong usage.
set -u

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "usage: run_emit_c.sh NNC WORK SRCDIR MODEL.nnet [WEIGHTS.safetensors]" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
WORK=$(abspath "$2")
SRCDIR=$(cd "$3" && pwd)
MODEL=$(abspath "$4")
WEIGHTS=${5:+$(abspath "$5")}
CC=${CC:-cc}
FLAGS=(-std=c11 -pedantic -Wall -Wextra -Wmissing-prototypes -Werror)

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

emit() {
    if [ -n "$WEIGHTS" ]; then
        "$NNC" emit "$MODEL" -o "$WORK/out" --with-loader --weights "$WEIGHTS"
    else
        "$NNC" emit "$MODEL" -o "$WORK/out" --with-loader
    fi
}

emit > emit.log 2>&1 || { cat emit.log; bad "nnc emit failed"; exit 1; }
cp -r out first
emit > emit2.log 2>&1 || { cat emit2.log; bad "the second nnc emit failed"; exit 1; }
diff -r first out > twice.diff || { head -20 twice.diff; bad "emitting twice gave different files"; }

h=$(grep -l '^#ifndef NNC_MODEL_' out/*.h | head -1)
[ -n "$h" ] || { bad "no model header among the emitted files"; exit 1; }
stem=$(basename "$h" .h)
c=out/$stem.c
[ -f "$c" ] || bad "no $stem.c beside $stem.h"

[ -f "out/${stem}_load.c" ] && [ -f "out/${stem}_load.h" ] || bad "no ${stem}_load.[ch] beside $stem.h"
mine=(out/"$stem".[ch] out/"$stem"_load.[ch])
for f in "${mine[@]}"; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    case $f in
    *.c) "$CC" "${FLAGS[@]}" -c "$f" -o "${b%.c}.o" 2> "$b.log" ||
             { head -30 "$b.log"; bad "$b does not compile cleanly"; } ;;
    *.h) printf '#include "%s"\n' "$b" > "only_$b.c"
         "$CC" "${FLAGS[@]}" -I out -c "only_$b.c" -o "only_$b.o" 2> "$b.log" ||
             { head -30 "$b.log"; bad "$b does not compile on its own"; } ;;
    esac
done

# an absolute path starts a word (a relative one may name the same folders)
esc() { printf '%s' "$1" | sed 's/[][\.*^$/]/\\&/g'; }
abs="(^|[^.A-Za-z0-9_/-])($(esc "$SRCDIR")|$(esc "$WORK"))"
for f in out/*; do
    if grep -q -E "$abs" "$f"; then
        grep -n -E "$abs" "$f" | head -3
        bad "$(basename "$f") names an absolute path"
    fi
done
rel=$(realpath --relative-to="$WORK" "$MODEL")
grep -q -F "from $rel" "$c" || bad "$stem.c does not name the model as $rel"

# noise, in every model file
for f in "${mine[@]}"; do
    [ -f "$f" ] || continue
    if grep -n -E '\(void\) *[A-Za-z_(]' "$f" | head -3 | grep .; then bad "a (void) cast in $(basename "$f")"; fi
    if grep -n -E '\+ 0u|\* 0u?[;)]|\+ 0\)' "$f" | head -3 | grep .; then bad "arithmetic with 0 in $(basename "$f")"; fi
done

# The LLVM backend's emit (skipped when nnc has no LLVM: exit status 2):
# NAME.ll and NAME.h name no absolute path, NAME.h compiles on its own with
# the flags above, and emitting twice gives the same files.
llvm_emit() { "$NNC" emit "$MODEL" -o "$WORK/ll" --backend=llvm ${WEIGHTS:+--weights "$WEIGHTS"}; }
llvm_emit > ll.log 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    cp -r ll ll_first
    llvm_emit > ll2.log 2>&1 || bad "the second nnc emit --backend=llvm failed"
    diff -r ll_first ll > ll.diff || { head -5 ll.diff; bad "emitting LLVM IR twice gave different files"; }
    for f in ll/"$stem".ll ll/"$stem".h; do
        [ -f "$f" ] || { bad "no $(basename "$f") from nnc emit --backend=llvm"; continue; }
        if grep -q -E "$abs" "$f"; then
            grep -n -E "$abs" "$f" | head -3
            bad "the LLVM backend's $(basename "$f") names an absolute path"
        fi
    done
    printf '#include "%s.h"\n' "$stem" > only_ll.c
    "$CC" "${FLAGS[@]}" -I ll -c only_ll.c -o only_ll.o 2> only_ll.log ||
        { head -30 only_ll.log; bad "the LLVM backend's $stem.h does not compile on its own"; }
elif [ $rc -ne 2 ]; then
    cat ll.log; bad "nnc emit --backend=llvm failed"
fi

[ $fail -eq 0 ] && echo "ok: $stem.[ch] and ${stem}_load.[ch] compile with ${FLAGS[*]}; no absolute path; deterministic"
exit $fail
