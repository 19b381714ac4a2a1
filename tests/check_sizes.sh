#!/usr/bin/env bash
# check_sizes.sh SRCDIR — issue 10 item 6's size limits on the sources of
# compiler/ and runtime/ (tests aside): no file over 900 lines, no function
# over 120. A function is measured from the line of its opening brace,
# which this code base writes alone in column 0 ("{"), to its closing brace
# in column 0 ("}"), both counted. Prints each offender as FILE:LINE and
# exits 1 when there is one, 0 otherwise, 2 for wrong usage.
#
# check_sizes.sh --self-test WORK — the checker against a tree made in WORK
# with a file of 901 lines, a function of 121 lines and one of 120: exactly
# the first two are reported.
set -u
if [ "${1:-}" = --self-test ] && [ $# -eq 2 ]; then
    w=$2
    rm -rf "$w" && mkdir -p "$w/compiler" "$w/runtime" || exit 2
    fn() { printf 'static int %s(void)\n{\n' "$1"; for ((i = 0; i < $2 - 3; i++)); do echo "    ;"; done; printf '    return 0;\n}\n'; }
    { fn ok 120; fn long 121; } > "$w/compiler/fns.c"
    for ((i = 0; i < 901; i++)); do echo "/* line */"; done > "$w/runtime/big.h"
    out=$(bash "$0" "$w")
    rc=$?
    echo "$out"
    [ $rc -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 2 ] &&
        echo "$out" | grep -q '^runtime/big.h: 901 lines' &&
        echo "$out" | grep -q '^compiler/fns.c:123: static int long(void): a function of 121 lines' ||
        { echo "FAIL: the checker missed an offender or reported a function within the limit"; exit 1; }
    echo "ok: the checker reports the file of 901 lines and the function of 121, not the one of 120"
    exit 0
fi
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: check_sizes.sh SRCDIR | --self-test WORK" >&2; exit 2; }
cd "$1" || exit 2
MAX_FILE=900 MAX_FN=120
fail=0
files=$(find compiler runtime -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
[ -n "$files" ] || { echo "FAIL: no sources under $1/compiler and $1/runtime"; exit 1; }
for f in $files; do
    n=$(wc -l < "$f")
    if [ "$n" -gt $MAX_FILE ]; then
        echo "$f: $n lines (at most $MAX_FILE)"
        fail=1
    fi
    awk -v f="$f" -v max=$MAX_FN '
        /^\{/ { start = FNR; name = prev }
        /^\}/ && start { len = FNR - start + 1
                         if (len > max) { printf "%s:%d: %s: a function of %d lines (at most %d)\n", f, start, name, len, max; bad = 1 }
                         start = 0 }
        /^[A-Za-z_]/ { prev = $0 }
        END { exit bad }' "$f" || fail=1
done
[ $fail -eq 0 ] && echo "ok: $(echo "$files" | wc -l) files of compiler/ and runtime/ within $MAX_FILE lines, functions within $MAX_FN"
exit $fail
