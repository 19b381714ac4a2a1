#!/usr/bin/env bash
# emit_paths.sh NNC WORK — `nnc emit` writes into a temporary folder
# OUTPUT.tmp.XXXXXX (issue 17 item 8), but every message names the path
# the user gave (OUTPUT/FILE), never the temporary. A write is made to fail
# by a file size limit (ulimit -f, SIGXFSZ ignored: EFBIG), which needs no
# privilege: into a new folder, into an existing one given as "OUTPUT/",
# and for `emit --with-loader`. Also: a file that is in the way (a folder
# named as a file of the output) is named in OUTPUT, and nothing is left.
set -u
nnc="$1"; work="$2"
model="$(cd "$(dirname "$0")/../.." && pwd)/examples/chain.nnet"
rm -rf "$work"; mkdir -p "$work"
fail=0

# check NAME EXPECTED_FILE_IN_MESSAGE [nnc emit arguments...]: exit 1, the
# message names OUTPUT's file, no ".tmp." in it, no temporary left
check() {
    local name="$1" want="$2"; shift 2
    (cd "$work" && trap '' XFSZ && ulimit -f 4 && exec "$nnc" emit "$@") > "$work/$name.out" 2> "$work/$name.err"
    local rc=$?
    grep -v "warning: no --weights" "$work/$name.err" > "$work/$name.msg"
    if [ "$rc" -ne 1 ] || ! grep -qF "$want: cannot write the file: File too large" "$work/$name.msg" ||
       grep -q '\.tmp\.' "$work/$name.msg"; then
        echo "FAIL: $name: exit $rc, expected a message naming $want and no temporary; stderr:"
        cat "$work/$name.msg"; fail=1
    fi
    if ls -d "$work"/*.tmp.* > /dev/null 2>&1; then
        echo "FAIL: $name: a temporary folder was left:"; ls -d "$work"/*.tmp.*; fail=1
    fi
}

# the model's files are written first: chain.h is small, chain.c is not
check new "$work/new/chain.c" "$model" -o "$work/new"
[ -e "$work/new" ] && { echo "FAIL: new: the output folder exists after a failed emit"; fail=1; }
mkdir "$work/old"; echo keep > "$work/old/keep"
check old "$work/old/chain.c" "$model" -o "$work/old/"
[ "$(ls "$work/old")" = keep ] || { echo "FAIL: old: the existing folder changed:"; ls "$work/old"; fail=1; }
check rel "rel/chain.c" "$model" -o rel     # relative, run in WORK
check loader "$work/ld/chain.c" "$model" --with-loader -o "$work/ld"

# moving the files into an existing folder fails on a folder in the way
mkdir -p "$work/busy/chain.c"
"$nnc" emit "$model" -o "$work/busy" > /dev/null 2> "$work/busy.err"
rc=$?
if [ "$rc" -ne 1 ] || ! grep -qF "$work/busy/chain.c: cannot write the file" "$work/busy.err" ||
   grep -q '\.tmp\.' "$work/busy.err"; then
    echo "FAIL: busy: exit $rc, stderr:"; cat "$work/busy.err"; fail=1
fi
if ls -d "$work"/*.tmp.* > /dev/null 2>&1; then echo "FAIL: busy: a temporary folder was left"; fail=1; fi

[ $fail -eq 0 ] && echo "emit's messages name the output folder given, never its temporary"
exit $fail
