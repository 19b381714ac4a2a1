#!/usr/bin/env bash
# run_emit_c.sh NNC WORK SRCDIR MODEL.nnet [WEIGHTS.safetensors]
#
# The C that `nnc emit` writes for one model, as a person would read it
# (issue 10 item 7):
#
#   compile    NAME.c, and a file that includes only NAME.h, compile with
#              `cc -std=c11 -pedantic -Wall -Wextra -Wmissing-prototypes
#              -Werror -c` (every public function is declared before it is
#              defined; no warning anywhere).
#   paths      nnc is given absolute paths (the model, -o, --weights) and
#              runs in WORK: no emitted file names SRCDIR or WORK, and the
#              model file is named relative to WORK.
#   twice      the same command run again writes byte-identical files.
#   noise      NAME.c has no "+ 0u", "* 0;" or "(void)x;" without a reason
#              written beside it.
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
        "$NNC" emit "$MODEL" -o "$WORK/out" --weights "$WEIGHTS"
    else
        "$NNC" emit "$MODEL" -o "$WORK/out"
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

"$CC" "${FLAGS[@]}" -c "$c" -o model.o 2> cc.log || { head -30 cc.log; bad "$stem.c does not compile cleanly"; }
printf '#include "%s.h"\n' "$stem" > only_header.c
"$CC" "${FLAGS[@]}" -I out -c only_header.c -o only_header.o 2> cch.log ||
    { head -30 cch.log; bad "$stem.h does not compile on its own"; }

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

# noise, in the inference part (the training step, emitted from the
# training graph, comes after its declarations): a (void) cast must say
# why on its line; no "+ 0u" or "n * 0;"
sed '/^\/\* Training, for the program/,$d' "$c" > inference.c
if grep -n -E '\+ 0u|\* 0[;)]|\+ 0\)' inference.c | head -3 | grep .; then bad "arithmetic with 0 in $stem.c"; fi
if grep -n -E '^\s*\(void\)[a-z_]+(, \(void\)[a-z_]+)*;\s*$' inference.c | head -3 | grep .; then
    bad "a (void) cast without a reason in $stem.c"
fi
# the arena size reads n and init reads seed for every model (their bodies
# are written generally), so neither is ever cast away
if grep -n -E '\(void\)(n|seed)\b' "$c" | head -3 | grep .; then
    bad "$stem.c casts away n or seed"
fi

[ $fail -eq 0 ] && echo "ok: $stem.c and $stem.h compile with ${FLAGS[*]}; no absolute path; deterministic"
exit $fail
