#!/usr/bin/env bash
# run_help.sh NNC SRC_DIR WORK — `--help` lists every command (issue 16,
# item 6): each command nnc's main dispatches (compiler/main.c) starts a
# line of `nnc --help`; each command a built program dispatches
# (runtime/prog.c) is named in `PROG --help`, in its usage error and in the
# language reference (docs/language.md, as `PROG CMD`); each option of the
# program's option table appears in `PROG --help`.
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$nnc" --help > nnc-help.txt
cmds=$(grep -o 'strcmp(cmd, "[a-z]*")' "$src/compiler/main.c" | sed 's/.*"\(.*\)")/\1/' | sort -u)
[ -n "$cmds" ] || fail "no command found in compiler/main.c"
for c in $cmds; do
    grep -q "^  $c " nnc-help.txt || fail "nnc --help does not list the command '$c'"
done

cat > tiny.nnet <<'EOF'
model tiny {
    input [2]
    linear(2, 2)
}
EOF
"$nnc" build tiny.nnet -o tiny --portable
./tiny --help > prog-help.txt
./tiny > /dev/null 2> prog-usage.txt && fail "a program without a command succeeded"
pcmds=$(sed -n '/^int nnr_main\|static int parse_args/,$p' "$src/runtime/prog.c" |
        grep -o 'strcmp(a, "[a-z]*")' | sed 's/.*"\(.*\)")/\1/' | sort -u)
[ -n "$pcmds" ] || fail "no program command found in runtime/prog.c"
for c in $pcmds; do
    grep -q "^  $c " prog-help.txt || fail "PROG --help does not list the command '$c'"
    grep -q "missing command (.*\b$c\b" prog-usage.txt ||
        fail "the missing-command error does not name '$c': $(head -1 prog-usage.txt)"
    grep -q "PROG $c" "$src/docs/language.md" || fail "docs/language.md has no 'PROG $c'"
done
opts=$(grep -o '\[OPT_[A-Z]*\] *= {"--[a-z-]*"' "$src/runtime/prog.c" | sed 's/.*"\(.*\)"/\1/')
[ -n "$opts" ] || fail "no option found in runtime/prog.c"
for o in $opts; do
    grep -q -- "$o\b" prog-help.txt || fail "PROG --help does not mention $o"
done
[ $fails = 0 ] || exit 1
echo "ok: nnc --help lists $(echo $cmds | wc -w) commands, PROG --help $(echo $pcmds | wc -w)" \
     "commands and $(echo $opts | wc -w) options"
